package discovery

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// describeRRs renders records as "TYPE name" in order, for comparisons.
func describeRRs(rrs []dnsmessage.Resource) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = fmt.Sprintf("%v %s", rr.Header.Type, strings.ToLower(rr.Header.Name.String()))
	}
	slices.Sort(out)
	return out
}

func query(questions ...dnsmessage.Question) *dnsmessage.Message {
	return &dnsmessage.Message{Header: dnsmessage.Header{ID: 77}, Questions: questions}
}

func question(name string, typ dnsmessage.Type, class dnsmessage.Class) dnsmessage.Question {
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: class}
}

func neverSent(dnsmessage.Resource, time.Duration) bool { return false }

const (
	tHost = "camera-abcd.local."
	tInst = "camerad abcd._rtsp._tcp.local."
	tSvc  = "_rtsp._tcp.local."
	tEnum = "_services._dns-sd._udp.local."
)

// TestReplyToQuestions: each question a browser or resolver asks gets exactly
// the records it names, multicast; shared records are marked for the
// collision-avoiding delay; questions about others' names, or in another
// class, get nothing.
func TestReplyToQuestions(t *testing.T) {
	in := dnsmessage.ClassINET
	cases := []struct {
		q      dnsmessage.Question
		want   []string
		shared bool
	}{
		{question(tHost, dnsmessage.TypeA, in), []string{"TypeA " + tHost}, false},
		{question("CAMERA-ABCD.local.", dnsmessage.TypeAAAA, in), []string{"TypeAAAA " + tHost}, false},
		{question(tHost, dnsmessage.TypeALL, dnsmessage.ClassANY), []string{"TypeA " + tHost, "TypeAAAA " + tHost}, false},
		{question(tInst, dnsmessage.TypeSRV, in), []string{"TypeSRV " + tInst}, false},
		{question(tInst, dnsmessage.TypeTXT, in), []string{"TypeTXT " + tInst}, false},
		{question(tInst, dnsmessage.TypeALL, in), []string{"TypeSRV " + tInst, "TypeTXT " + tInst}, false},
		{question(tSvc, dnsmessage.TypePTR, in), []string{"TypePTR " + tSvc}, true},
		{question(tEnum, dnsmessage.TypePTR, in), []string{"TypePTR " + tEnum}, true},
		{question(tHost, dnsmessage.TypeTXT, in), nil, false},
		{question("other.local.", dnsmessage.TypeA, in), nil, false},
		{question(tHost, dnsmessage.TypeA, dnsmessage.ClassCHAOS), nil, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%v", c.q.Name, c.q.Type), func(t *testing.T) {
			rep, err := replyTo(testZone(), query(c.q), false, neverSent)
			if err != nil {
				t.Fatal(err)
			}
			if got := describeRRs(rep.multicast); !slices.Equal(got, c.want) {
				t.Errorf("multicast %v, want %v", got, c.want)
			}
			if rep.unicast != nil || rep.probe || rep.shared != c.shared {
				t.Errorf("unicast %v probe %v shared %v, want none, false, %v", rep.unicast, rep.probe, rep.shared, c.shared)
			}
		})
	}
}

// TestReplyToKnownAnswers: a record the querier lists with at least half its
// TTL left is not sent again; with less, it is (RFC 6762 §7.1).
func TestReplyToKnownAnswers(t *testing.T) {
	z := testZone()
	shared, err := z.sharedRecords(otherTTL)
	if err != nil {
		t.Fatal(err)
	}
	ptr := shared[0]
	q := query(question(tSvc, dnsmessage.TypePTR, dnsmessage.ClassINET))
	q.Answers = []dnsmessage.Resource{ptr}
	q.Answers[0].Header.TTL = otherTTL / 2
	if rep, _ := replyTo(z, q, false, neverSent); len(rep.multicast) != 0 {
		t.Errorf("answered a known answer: %v", describeRRs(rep.multicast))
	}
	q.Answers[0].Header.TTL = otherTTL/2 - 1
	if rep, _ := replyTo(z, q, false, neverSent); len(rep.multicast) != 1 {
		t.Errorf("a known answer past half its TTL was not refreshed: %v", describeRRs(rep.multicast))
	}
}

// TestReplyToUnicastQuestion: a QU question is answered straight back, with
// the additional records, but only for records multicast within a quarter of
// their TTL; the rest are multicast so that every cache stays fresh (RFC 6762
// §5.4).
func TestReplyToUnicastQuestion(t *testing.T) {
	z := testZone()
	q := query(question(tSvc, dnsmessage.TypePTR, dnsmessage.ClassINET|classCacheFlush))
	var asked []time.Duration
	recent := func(_ dnsmessage.Resource, d time.Duration) bool { asked = append(asked, d); return true }
	rep, err := replyTo(z, q, false, recent)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.multicast) != 0 || rep.unicast == nil {
		t.Fatalf("recently multicast PTR: multicast %v unicast %v, want unicast only", describeRRs(rep.multicast), rep.unicast)
	}
	if want := []time.Duration{otherTTL * time.Second / 4}; !slices.Equal(asked, want) {
		t.Errorf("asked how recent within %v, want %v", asked, want)
	}
	m := roundTrip(t, rep.unicast)
	if m.Header.ID != 0 || len(m.Questions) != 0 || !m.Header.Response {
		t.Errorf("QU answer header %+v with %d questions, want a plain mDNS response", m.Header, len(m.Questions))
	}
	want := []string{"TypeA " + tHost, "TypeAAAA " + tHost, "TypeSRV " + tInst, "TypeTXT " + tInst}
	if got := describeRRs(m.Additionals); !slices.Equal(got, want) {
		t.Errorf("additionals %v, want %v", got, want)
	}
	rep, _ = replyTo(z, q, false, neverSent)
	if len(rep.multicast) != 1 || rep.unicast != nil {
		t.Errorf("PTR not multicast lately: multicast %v unicast %v, want multicast", describeRRs(rep.multicast), rep.unicast)
	}
}

// TestReplyToLegacy: a querier not on port 5353 gets a plain DNS answer: its
// id and question echoed, no cache-flush bits, TTLs of 10 s at most, and
// nothing multicast (RFC 6762 §6.7).
func TestReplyToLegacy(t *testing.T) {
	q := query(question(tHost, dnsmessage.TypeA, dnsmessage.ClassINET), question("other.local.", dnsmessage.TypeA, dnsmessage.ClassINET))
	rep, err := replyTo(testZone(), q, true, neverSent)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.multicast) != 0 || rep.unicast == nil {
		t.Fatalf("legacy: multicast %v unicast %v", describeRRs(rep.multicast), rep.unicast)
	}
	m := roundTrip(t, rep.unicast)
	if m.Header.ID != 77 || len(m.Questions) != 2 || !strings.EqualFold(m.Questions[0].Name.String(), tHost) {
		t.Errorf("legacy answer id %d questions %+v, want id 77 and the questions as given", m.Header.ID, m.Questions)
	}
	if len(m.Answers) != 1 || len(m.Additionals) != 1 {
		t.Errorf("legacy answer: answers %v additionals %v, want the A and the AAAA", describeRRs(m.Answers), describeRRs(m.Additionals))
	}
	for _, rr := range rrs(m) {
		if rr.Header.Class != dnsmessage.ClassINET || rr.Header.TTL > legacyTTL {
			t.Errorf("legacy record %v class %#x ttl %d", rr.Header.Type, rr.Header.Class, rr.Header.TTL)
		}
	}
}

// TestReplyToProbe: another host's probe for our name is answered by
// multicast, even with the QU bit, and marked as a probe so the answer may
// follow our last multicast sooner.
func TestReplyToProbe(t *testing.T) {
	z := testZone()
	q := query(question(tHost, dnsmessage.TypeALL, dnsmessage.ClassINET|classCacheFlush))
	q.Authorities = []dnsmessage.Resource{aRecord(tHost, "10.0.0.9", hostTTL)}
	rep, err := replyTo(z, q, false, func(dnsmessage.Resource, time.Duration) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if !rep.probe || rep.unicast != nil || len(rep.multicast) != 2 {
		t.Errorf("probe: probe %v unicast %v multicast %v, want a multicast A and AAAA", rep.probe, rep.unicast, describeRRs(rep.multicast))
	}
}

// TestAdditionals: the records a browser needs next come with an answer.
func TestAdditionals(t *testing.T) {
	z := testZone()
	for _, c := range []struct {
		q    dnsmessage.Question
		want []string
	}{
		{question(tSvc, dnsmessage.TypePTR, dnsmessage.ClassINET), []string{"TypeA " + tHost, "TypeAAAA " + tHost, "TypeSRV " + tInst, "TypeTXT " + tInst}},
		{question(tInst, dnsmessage.TypeSRV, dnsmessage.ClassINET), []string{"TypeA " + tHost, "TypeAAAA " + tHost}},
		{question(tHost, dnsmessage.TypeA, dnsmessage.ClassINET), []string{"TypeAAAA " + tHost}},
		{question(tInst, dnsmessage.TypeTXT, dnsmessage.ClassINET), nil},
		{question(tEnum, dnsmessage.TypePTR, dnsmessage.ClassINET), nil},
	} {
		answers, err := z.answers(c.q)
		if err != nil {
			t.Fatal(err)
		}
		extra, err := z.additionals(answers)
		if err != nil {
			t.Fatal(err)
		}
		if got := describeRRs(extra); !slices.Equal(got, c.want) {
			t.Errorf("%s %v: additionals %v, want %v", c.q.Name, c.q.Type, got, c.want)
		}
	}
}
