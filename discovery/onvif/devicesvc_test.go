package onvif

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestDeviceService(t *testing.T) {
	s, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) {
		c.Now = func() time.Time { return time.Date(2026, 7, 8, 9, 10, 11, 0, time.FixedZone("CEST", 7200)) }
	})
	mac, _ := net.ParseMAC("dc:a6:32:01:02:03")
	s.interfaces = func() ([]netInterface, error) {
		return []netInterface{{name: "eth0", mac: mac, up: true, mtu: 1500,
			ipv4: []*net.IPNet{{IP: net.IPv4(192, 168, 1, 50), Mask: net.CIDRMask(24, 32)}}}}, nil
	}
	url := base + DevicePath
	port := base[strings.LastIndex(base, ":")+1:]

	b := soapPost(t, url, soapEnvelope12("", `<tds:GetSystemDateAndTime/>`)).wantOK(t, "GetSystemDateAndTime")
	for path, want := range map[string]string{
		"DaylightSavings": "false", "TimeZone/TZ": "UTC0", "DateTimeType": "NTP",
		"UTCDateTime/Time/Hour": "7", "UTCDateTime/Time/Minute": "10", "UTCDateTime/Date/Year": "2026", "UTCDateTime/Date/Day": "8",
	} {
		if got := b.child("SystemDateAndTime").text(strings.Split(path, "/")...); got != want {
			t.Errorf("SystemDateAndTime/%s = %q, want %q", path, got, want)
		}
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>`)).wantOK(t, "GetCapabilities")
	caps := b.child("Capabilities")
	if caps.text("Device", "XAddr") != base+DevicePath || caps.text("Media", "XAddr") != base+MediaPath {
		t.Errorf("XAddrs %q %q", caps.text("Device", "XAddr"), caps.text("Media", "XAddr"))
	}
	if caps.text("Media", "StreamingCapabilities", "RTP_RTSP_TCP") != "true" || caps.child("Events") != nil || caps.child("PTZ") != nil || caps.child("Imaging") != nil {
		t.Errorf("capabilities: %+v", caps)
	}
	b = soapPost(t, url, soapEnvelope12("", `<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>`)).wantOK(t, "GetCapabilities")
	if b.child("Capabilities", "Device") != nil || b.child("Capabilities", "Media") == nil {
		t.Errorf("Category Media: %+v", b)
	}
	soapPost(t, url, soapEnvelope12("", `<tds:GetCapabilities><tds:Category>PTZ</tds:Category></tds:GetCapabilities>`)).
		wantFault(t, 500, "s:Receiver", "ter:ActionNotSupported", "ter:NoSuchService")

	for _, include := range []bool{false, true} {
		arg := map[bool]string{false: "false", true: "true"}[include]
		b = soapPost(t, url, soapEnvelope12("", `<tds:GetServices><tds:IncludeCapability>`+arg+`</tds:IncludeCapability></tds:GetServices>`)).wantOK(t, "GetServices")
		var namespaces []string
		for _, svc := range b.Nodes {
			namespaces = append(namespaces, svc.text("Namespace"))
			if (svc.child("Capabilities") != nil) != include {
				t.Errorf("IncludeCapability %v: %s has Capabilities %v", include, svc.text("Namespace"), svc.child("Capabilities") != nil)
			}
		}
		if strings.Join(namespaces, " ") != nsDevice+" "+nsMedia || b.Nodes[1].text("XAddr") != base+MediaPath {
			t.Errorf("services %v", namespaces)
		}
		if include && b.Nodes[1].child("Capabilities", "Capabilities").attr("SnapshotUri") != "false" {
			t.Errorf("media capabilities in GetServices: %+v", b.Nodes[1])
		}
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetScopes/>`)).wantOK(t, "GetScopes")
	var items []string
	for _, sc := range b.Nodes {
		if sc.text("ScopeDef") != "Fixed" {
			t.Errorf("ScopeDef %q", sc.text("ScopeDef"))
		}
		items = append(items, sc.text("ScopeItem"))
	}
	if strings.Join(items, " ") != strings.Join(soapTestConfig().Device.Scopes(), " ") {
		t.Errorf("scopes %v", items)
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetHostname/>`)).wantOK(t, "GetHostname")
	if b.text("HostnameInformation", "Name") != "camera-abcd" {
		t.Errorf("hostname: %+v", b)
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetNetworkInterfaces/>`)).wantOK(t, "GetNetworkInterfaces")
	ni := b.child("NetworkInterfaces")
	if ni.attr("token") != "eth0" || ni.text("Enabled") != "true" || ni.text("Info", "HwAddress") != "dc:a6:32:01:02:03" ||
		ni.text("IPv4", "Config", "Manual", "Address") != "192.168.1.50" || ni.text("IPv4", "Config", "Manual", "PrefixLength") != "24" {
		t.Errorf("interfaces: %+v", ni)
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetNetworkProtocols/>`)).wantOK(t, "GetNetworkProtocols")
	got := map[string]string{}
	for _, p := range b.Nodes {
		got[p.text("Name")] = p.text("Port")
	}
	if got["HTTP"] != port || got["RTSP"] != "8554" {
		t.Errorf("protocols %v", got)
	}

	b = soapPost(t, url, soapEnvelope12("", `<tds:GetEndpointReference/>`)).wantOK(t, "GetEndpointReference")
	if b.text("GUID") != soapTestConfig().Device.EndpointReference() {
		t.Errorf("GUID %q", b.text("GUID"))
	}
	for _, op := range []string{"GetDNS", "GetNTP", "GetWsdlUrl", "GetNetworkDefaultGateway", "GetServiceCapabilities"} {
		soapPost(t, url, soapEnvelope12("", `<tds:`+op+`/>`)).wantOK(t, op)
	}
}

func TestSystemInterfacesSkipLoopback(t *testing.T) {
	ifs, err := systemInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ni := range ifs {
		if ni.name == "lo" || len(ni.mac) == 0 {
			t.Errorf("listed %q (mac %v)", ni.name, ni.mac)
		}
	}
}
