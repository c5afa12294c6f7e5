package onvif

import (
	"encoding/xml"
	"strings"
	"testing"
)

// probeXML builds a probe the way the clients do; header and body are inserted as given.
func probeXML(soapNS, envAttrs, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="` + soapNS + `" xmlns:a="` + nsAddressing + `"` + envAttrs + `>` +
		`<s:Header><a:Action>` + wsdActionProbe + `</a:Action><a:MessageID>urn:uuid:1111-probe</a:MessageID>` +
		`<a:To>` + wsdTo + `</a:To></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

func TestParseProbeTypes(t *testing.T) {
	tests := []struct {
		name  string
		xml   string
		match bool
	}{
		{"no types (any device)", probeXML(nsSOAP12, "", `<d:Probe xmlns:d="`+nsDiscovery+`"/>`), true},
		{"empty Types", probeXML(nsSOAP12, "", `<d:Probe xmlns:d="`+nsDiscovery+`"><d:Types></d:Types></d:Probe>`), true},
		// libonvif 1.4.4 declares its prefix on Types itself, and the Probe's own prefix too.
		{"libonvif: dp0 on Types", probeXML(nsSOAP12, "",
			`<p:Probe xmlns:p="`+nsDiscovery+`"><d:Types xmlns:d="`+nsDiscovery+`" xmlns:dp0="`+nsNetwork+`">dp0:NetworkVideoTransmitter</d:Types></p:Probe>`), true},
		{"libonvif: Device in a default-namespace Probe", probeXML(nsSOAP12, "",
			`<Probe xmlns="`+nsDiscovery+`"><d:Types xmlns:d="`+nsDiscovery+`" xmlns:dp0="`+nsDevice+`">dp0:Device</d:Types></Probe>`), true},
		// ONVIF Device Manager and most NVRs declare prefixes on the Envelope.
		{"prefixes on the Envelope", probeXML(nsSOAP12, ` xmlns:d="`+nsDiscovery+`" xmlns:tdn="`+nsNetwork+`"`,
			`<d:Probe><d:Types>tdn:NetworkVideoTransmitter</d:Types></d:Probe>`), true},
		{"both types, odd prefixes, on Body", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`" xmlns:x="`+nsDevice+`"><d:Types xmlns:y="`+nsNetwork+`"> x:Device
			 y:NetworkVideoTransmitter </d:Types></d:Probe>`), true},
		{"unprefixed type in the default namespace", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`"><d:Types xmlns="`+nsNetwork+`">NetworkVideoTransmitter</d:Types></d:Probe>`), true},
		{"right name, wrong namespace", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`"><d:Types xmlns:p="http://example.com/printers">p:NetworkVideoTransmitter</d:Types></d:Probe>`), false},
		{"undeclared prefix", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`"><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>`), false},
		{"one of ours and a printer", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`"><d:Types xmlns:dn="`+nsNetwork+`" xmlns:p="http://example.com/p">dn:NetworkVideoTransmitter p:Printer</d:Types></d:Probe>`), false},
		{"prefix declared on a sibling does not count", probeXML(nsSOAP12, "",
			`<d:Probe xmlns:d="`+nsDiscovery+`"><d:Scopes xmlns:dn="`+nsNetwork+`"/><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseWSD([]byte(tt.xml))
			if err != nil {
				t.Fatalf("parseWSD: %v", err)
			}
			if req.kind != wsdProbe || req.messageID != "urn:uuid:1111-probe" || req.soapNS != nsSOAP12 {
				t.Fatalf("got %+v", req)
			}
			if got := matchesTypes(req.types); got != tt.match {
				t.Errorf("matchesTypes(%v) = %v, want %v", req.types, got, tt.match)
			}
		})
	}
}

func TestParseProbeSOAP11AndScopes(t *testing.T) {
	x := probeXML(nsSOAP11, ` xmlns:d="`+nsDiscovery+`"`,
		`<d:Probe><d:Scopes MatchBy="`+matchByRFC3986+`"> onvif://www.onvif.org/Profile/Streaming
		onvif://www.onvif.org/type </d:Scopes></d:Probe>`)
	req, err := parseWSD([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if req.soapNS != nsSOAP11 {
		t.Errorf("soap %q, want 1.1", req.soapNS)
	}
	if len(req.scopes) != 2 || req.matchBy != matchByRFC3986 {
		t.Errorf("scopes %q matchBy %q", req.scopes, req.matchBy)
	}
	ours := Device{Name: "camera-abcd", Model: "Raspberry Pi 4"}.Scopes()
	if !matchesScopes(req.scopes, req.matchBy, ours) {
		t.Errorf("scopes %q do not match %q", req.scopes, ours)
	}
}

func TestMatchesScopes(t *testing.T) {
	ours := Device{Name: "camera-abcd", Model: "Raspberry Pi 4"}.Scopes()
	tests := []struct {
		asked   []string
		matchBy string
		want    bool
	}{
		{nil, "", true},
		{[]string{"onvif://www.onvif.org/Profile/Streaming"}, "", true}, // Home Assistant's
		{[]string{"onvif://www.onvif.org/Profile"}, "", true},
		{[]string{"onvif://www.onvif.org/Profile/"}, "", true},
		{[]string{"ONVIF://WWW.onvif.org/Profile/S"}, "", true},
		{[]string{"onvif://www.onvif.org"}, "", true},
		{[]string{"onvif://www.onvif.org/Prof"}, "", false}, // whole segments only
		{[]string{"onvif://www.onvif.org/profile/s"}, "", false},
		{[]string{"onvif://www.onvif.org/Profile/G"}, "", false},
		{[]string{"onvif://www.onvif.org/Profile/S", "onvif://www.onvif.org/Profile/G"}, "", false},
		{[]string{"onvif://www.onvif.org/hardware/Raspberry%20Pi%204"}, "", true},
		{[]string{"http://www.onvif.org/Profile/S"}, "", false},
		{[]string{"onvif://www.onvif.org/name/camera-abcd"}, matchByStrcmp0, true},
		{[]string{"onvif://www.onvif.org/name"}, matchByStrcmp0, false},
		{[]string{"onvif://www.onvif.org/name"}, "http://example.com/ldap", false},
	}
	for _, tt := range tests {
		if got := matchesScopes(tt.asked, tt.matchBy, ours); got != tt.want {
			t.Errorf("matchesScopes(%q, %q) = %v, want %v", tt.asked, tt.matchBy, got, tt.want)
		}
	}
}

func TestParseResolveAndOthers(t *testing.T) {
	dev := Device{SerialNumber: "10000000abcdef01"}
	x := strings.Replace(probeXML(nsSOAP12, ` xmlns:d="`+nsDiscovery+`"`,
		`<d:Resolve><a:EndpointReference><a:Address> `+dev.EndpointReference()+` </a:Address></a:EndpointReference></d:Resolve>`),
		wsdActionProbe, wsdActionResolve, 1)
	req, err := parseWSD([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if req.kind != wsdResolve || req.epr != dev.EndpointReference() {
		t.Errorf("got %+v", req)
	}

	for name, x := range map[string]string{
		"hello":         probeXML(nsSOAP12, "", `<d:Hello xmlns:d="`+nsDiscovery+`"/>`),
		"other service": probeXML(nsSOAP12, "", `<tds:GetHostname xmlns:tds="`+nsDevice+`"/>`),
	} {
		if _, err := parseWSD([]byte(x)); err == nil {
			t.Errorf("%s: parsed as a request", name)
		}
	}
	noID := strings.Replace(probeXML(nsSOAP12, "", `<d:Probe xmlns:d="`+nsDiscovery+`"/>`), "urn:uuid:1111-probe", "", 1)
	if _, err := parseWSD([]byte(noID)); err == nil {
		t.Error("a probe without MessageID parsed")
	}
}

// matchesXML is how a client reads our answer: namespaces resolved, as XPath would.
type matchesXML struct {
	XMLName xml.Name
	Header  struct {
		MessageID   string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing MessageID"`
		RelatesTo   string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing RelatesTo"`
		To          string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing To"`
		Action      string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Action"`
		AppSequence struct {
			InstanceID    string `xml:"InstanceId,attr"`
			MessageNumber string `xml:"MessageNumber,attr"`
		} `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery AppSequence"`
	} `xml:"Header"`
	Match struct {
		Address         string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing EndpointReference>Address"`
		Types           string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery Types"`
		Scopes          string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery Scopes"`
		XAddrs          string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery XAddrs"`
		MetadataVersion string `xml:"http://schemas.xmlsoap.org/ws/2005/04/discovery MetadataVersion"`
	} `xml:"Body>ProbeMatches>ProbeMatch"`
}

func TestBuildProbeMatches(t *testing.T) {
	dev := Device{Name: "camera-abcd", Model: "Raspberry Pi 4", SerialNumber: "10000000abcdef01"}
	for _, soapNS := range []string{nsSOAP12, nsSOAP11} {
		b := buildWSD(wsdMessage{
			soapNS: soapNS, action: wsdActionProbeMatches, messageID: newMessageID(), relatesTo: "uuid:6bbdae2d-<&>",
			instanceID: 1700000000, messageNumber: 7, epr: dev.EndpointReference(), scopes: dev.Scopes(),
			xaddrs: []string{"http://10.0.0.2:8080/onvif/device_service", "http://169.254.3.4:8080/onvif/device_service"},
		})
		var m matchesXML
		if err := xml.Unmarshal(b, &m); err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, b)
		}
		if m.XMLName.Space != soapNS {
			t.Errorf("answered in %q, want %q", m.XMLName.Space, soapNS)
		}
		h := m.Header
		if h.RelatesTo != "uuid:6bbdae2d-<&>" || h.To != wsaAnonymous || h.Action != wsdActionProbeMatches ||
			!strings.HasPrefix(h.MessageID, "urn:uuid:") || h.AppSequence.InstanceID != "1700000000" || h.AppSequence.MessageNumber != "7" {
			t.Errorf("header %+v", h)
		}
		if m.Match.Address != dev.EndpointReference() || m.Match.MetadataVersion != "1" ||
			m.Match.XAddrs != "http://10.0.0.2:8080/onvif/device_service http://169.254.3.4:8080/onvif/device_service" ||
			m.Match.Scopes != strings.Join(dev.Scopes(), " ") {
			t.Errorf("match %+v", m.Match)
		}
		// Our own Types must resolve to what we match, through the Envelope's prefixes.
		req, err := parseWSD([]byte(probeXML(soapNS, ` xmlns:d="`+nsDiscovery+`" xmlns:dn="`+nsNetwork+`" xmlns:tds="`+nsDevice+`"`,
			`<d:Probe><d:Types>`+m.Match.Types+`</d:Types></d:Probe>`)))
		if err != nil || !matchesTypes(req.types) || len(req.types) != 2 {
			t.Errorf("our Types %q do not resolve to ours: %v %v", m.Match.Types, req, err)
		}
	}
}

func TestMessageIDsDiffer(t *testing.T) {
	a, b := newMessageID(), newMessageID()
	if a == b || len(a) != len("urn:uuid:")+36 {
		t.Errorf("message IDs %q %q", a, b)
	}
}

func FuzzParseWSD(f *testing.F) {
	f.Add([]byte(probeXML(nsSOAP12, "", `<p:Probe xmlns:p="`+nsDiscovery+`"><d:Types xmlns:d="`+nsDiscovery+`" xmlns:dp0="`+nsNetwork+`">dp0:NetworkVideoTransmitter</d:Types></p:Probe>`)))
	f.Add([]byte(probeXML(nsSOAP11, "", `<d:Resolve xmlns:d="`+nsDiscovery+`"><a:EndpointReference><a:Address>x</a:Address></a:EndpointReference></d:Resolve>`)))
	f.Add([]byte("<s:Envelope"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseWSD(data)
		if err == nil {
			matchesTypes(req.types)
			matchesScopes(req.scopes, req.matchBy, Device{Name: "x"}.Scopes())
		}
	})
}
