package onvif

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// WS-Discovery 2005/04 (the version ONVIF Core §7 uses) URIs.
const (
	wsdActionProbe          = nsDiscovery + "/Probe"
	wsdActionProbeMatches   = nsDiscovery + "/ProbeMatches"
	wsdActionResolve        = nsDiscovery + "/Resolve"
	wsdActionResolveMatches = nsDiscovery + "/ResolveMatches"
	wsdActionHello          = nsDiscovery + "/Hello"
	wsdActionBye            = nsDiscovery + "/Bye"
	// wsdTo is the To of multicast messages (Hello, Bye).
	wsdTo = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	// wsaAnonymous is the To of answers, which go straight back to the sender.
	wsaAnonymous = nsAddressing + "/role/anonymous"

	matchByRFC3986 = nsDiscovery + "/rfc3986"
	matchByStrcmp0 = nsDiscovery + "/strcmp0"
)

// wsdTypes are the types the camera is: a Profile S NetworkVideoTransmitter, and an ONVIF
// device whose device service is at XAddrs. The prefixes are envelopePrefixes'.
var wsdTypes = []xml.Name{{Space: nsNetwork, Local: "NetworkVideoTransmitter"}, {Space: nsDevice, Local: "Device"}}

const wsdTypesText = "dn:NetworkVideoTransmitter tds:Device"

type wsdKind int

const (
	wsdProbe wsdKind = iota + 1
	wsdResolve
)

// wsdRequest is a Probe or Resolve as the responder needs it.
type wsdRequest struct {
	kind      wsdKind
	soapNS    string // the answer's SOAP version
	messageID string
	// types are the probe's Types with their prefixes resolved; an unresolvable prefix
	// gives a name with an empty Space, which matches nothing.
	types   []xml.Name
	scopes  []string
	matchBy string
	epr     string // Resolve: the endpoint asked for
}

// errNotDiscovery is a well-formed SOAP message that is not a request to us: another
// device's Hello, Bye or matches, or our own messages coming back over multicast loopback.
var errNotDiscovery = errors.New("not a WS-Discovery request")

// parseWSD reads a Probe or Resolve.
func parseWSD(data []byte) (*wsdRequest, error) {
	env, err := parseEnvelope(data)
	if err != nil {
		return nil, err
	}
	req := &wsdRequest{soapNS: env.soapNS, messageID: env.messageID}
	if env.body.XMLName.Space != nsDiscovery {
		return nil, fmt.Errorf("%w: {%s}%s", errNotDiscovery, env.body.XMLName.Space, env.body.XMLName.Local)
	}
	switch env.body.XMLName.Local {
	case "Probe":
		req.kind = wsdProbe
		types, err := probeTypes(data)
		if err != nil {
			return nil, err
		}
		req.types = types
		if sc := env.body.child("Scopes"); sc != nil {
			req.scopes = strings.Fields(sc.Text)
			req.matchBy = strings.TrimSpace(sc.attr("MatchBy"))
		}
	case "Resolve":
		req.kind = wsdResolve
		req.epr = strings.TrimSpace(env.body.text("EndpointReference", "Address"))
	default:
		return nil, fmt.Errorf("%w: %s", errNotDiscovery, env.body.XMLName.Local)
	}
	if req.messageID == "" {
		// The answer's RelatesTo must name the request, and clients match answers by it.
		return nil, fmt.Errorf("%s without a MessageID", env.body.XMLName.Local)
	}
	return req, nil
}

// probeTypes reads the QNames of the Probe's Types. Their prefixes are resolved against the
// namespaces declared on Types and every element around it: clients use any prefix
// (libonvif declares dp0 on Types itself; others declare theirs on the Envelope), which
// the generic node cannot resolve, since encoding/xml resolves element names but not text.
func probeTypes(data []byte) ([]xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var scopes []map[string]string // the xmlns declarations of each open element
	var path []string              // the open elements' local names
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read Types: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			decl := map[string]string{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					decl[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					decl[""] = a.Value
				}
			}
			scopes = append(scopes, decl)
			path = append(path, t.Name.Local)
			// Envelope, Body, Probe, Types: only the Probe's own Types count.
			if t.Name.Space == nsDiscovery && t.Name.Local == "Types" && len(path) == 4 && path[2] == "Probe" {
				var text string
				if err := d.DecodeElement(&text, &t); err != nil {
					return nil, fmt.Errorf("read Types: %w", err)
				}
				return resolveQNames(text, scopes), nil
			}
		case xml.EndElement:
			scopes = scopes[:len(scopes)-1]
			path = path[:len(path)-1]
		}
	}
}

// resolveQNames resolves a space-separated list of prefix:local names; an unprefixed name
// is in the default namespace (XML Schema's rule for xs:QName).
func resolveQNames(text string, scopes []map[string]string) []xml.Name {
	lookup := func(prefix string) string {
		for i := len(scopes) - 1; i >= 0; i-- {
			if ns, ok := scopes[i][prefix]; ok {
				return ns
			}
		}
		return ""
	}
	var out []xml.Name
	for _, q := range strings.Fields(text) {
		prefix, local, ok := strings.Cut(q, ":")
		if !ok {
			prefix, local = "", q
		}
		out = append(out, xml.Name{Space: lookup(prefix), Local: local})
	}
	return out
}

// matchesTypes: every type asked for must be one of ours (WS-Discovery §5.3); none asked
// for matches any device.
func matchesTypes(asked []xml.Name) bool {
	for _, a := range asked {
		found := false
		for _, t := range wsdTypes {
			if a == t {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matchesScopes: every scope asked for must match one of ours by matchBy (WS-Discovery
// §5.3). An unknown rule matches nothing: the client asked a question we cannot answer.
func matchesScopes(asked []string, matchBy string, ours []string) bool {
	var match func(s, t string) bool
	switch matchBy {
	case "", matchByRFC3986:
		match = scopePrefix
	case matchByStrcmp0:
		match = func(s, t string) bool { return s == t }
	default:
		return false
	}
	for _, s := range asked {
		found := false
		for _, t := range ours {
			if match(s, t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// scopePrefix is the RFC 3986 rule of WS-Discovery §5.1: scheme and authority equal (case
// aside), and s's path segments a leading part of t's, compared whole, so that
// onvif://www.onvif.org/Profile matches onvif://www.onvif.org/Profile/S but not
// onvif://www.onvif.org/Profiles.
func scopePrefix(s, t string) bool {
	su, err := url.Parse(s)
	if err != nil {
		return false
	}
	tu, err := url.Parse(t)
	if err != nil {
		return false
	}
	if !strings.EqualFold(su.Scheme, tu.Scheme) || !strings.EqualFold(su.Host, tu.Host) || su.User.String() != tu.User.String() {
		return false
	}
	if (su.RawQuery != "" && su.RawQuery != tu.RawQuery) || (su.Fragment != "" && su.Fragment != tu.Fragment) {
		return false
	}
	ss := segments(su.EscapedPath())
	ts := segments(tu.EscapedPath())
	if len(ss) > len(ts) {
		return false
	}
	for i := range ss {
		if ss[i] != ts[i] {
			return false
		}
	}
	return true
}

// segments splits a path into its segments; a trailing slash adds none.
func segments(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// newMessageID is a random urn:uuid (RFC 4122 version 4): every message needs its own.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// wsdMessage is what an outgoing message needs besides the device.
type wsdMessage struct {
	soapNS        string
	action        string
	messageID     string
	relatesTo     string // answers only
	instanceID    int64
	messageNumber uint64
	epr           string
	scopes        []string
	xaddrs        []string
}

// buildWSD writes a ProbeMatches, ResolveMatches, Hello or Bye.
func buildWSD(m wsdMessage) []byte {
	var h strings.Builder
	h.WriteString(`<a:MessageID>` + xmlText(m.messageID) + `</a:MessageID>`)
	if m.relatesTo != "" {
		h.WriteString(`<a:RelatesTo>` + xmlText(m.relatesTo) + `</a:RelatesTo>`)
		h.WriteString(`<a:To>` + wsaAnonymous + `</a:To>`)
	} else {
		h.WriteString(`<a:To>` + wsdTo + `</a:To>`)
	}
	h.WriteString(`<a:Action>` + m.action + `</a:Action>`)
	h.WriteString(`<d:AppSequence InstanceId="` + strconv.FormatInt(m.instanceID, 10) +
		`" MessageNumber="` + strconv.FormatUint(m.messageNumber, 10) + `"/>`)

	epr := `<a:EndpointReference><a:Address>` + xmlText(m.epr) + `</a:Address></a:EndpointReference>`
	// Python's WSDiscovery (Home Assistant) reads Types, Scopes, XAddrs and
	// MetadataVersion of every match and fails on a missing MetadataVersion.
	full := epr + `<d:Types>` + wsdTypesText + `</d:Types>` +
		`<d:Scopes>` + xmlText(strings.Join(m.scopes, " ")) + `</d:Scopes>` +
		`<d:XAddrs>` + xmlText(strings.Join(m.xaddrs, " ")) + `</d:XAddrs>` +
		`<d:MetadataVersion>1</d:MetadataVersion>`
	var body string
	switch m.action {
	case wsdActionProbeMatches:
		body = `<d:ProbeMatches><d:ProbeMatch>` + full + `</d:ProbeMatch></d:ProbeMatches>`
	case wsdActionResolveMatches:
		body = `<d:ResolveMatches><d:ResolveMatch>` + full + `</d:ResolveMatch></d:ResolveMatches>`
	case wsdActionHello:
		body = `<d:Hello>` + full + `</d:Hello>`
	case wsdActionBye:
		body = `<d:Bye>` + epr + `</d:Bye>`
	}
	var b bytes.Buffer
	_ = writeEnvelope(&b, m.soapNS, h.String(), body) // a bytes.Buffer does not fail
	return b.Bytes()
}
