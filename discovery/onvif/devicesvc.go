package onvif

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// The device service (tds, ONVIF Core §8): who the camera is, its clock, its network and
// where its services are. Element order follows the ONVIF schemas: zeep (under Home
// Assistant's onvif-zeep-async) validates answers against them.

// onvifVersion is the ONVIF version the services claim: 2.6 (2015), whose device and
// media (ver10) operations are the ones answered here.
const (
	onvifMajor = 2
	onvifMinor = 60
)

func deviceOps() map[string]operation {
	return map[string]operation{
		"GetSystemDateAndTime":   getSystemDateAndTime,
		"GetDeviceInformation":   getDeviceInformation,
		"GetCapabilities":        getCapabilities,
		"GetServices":            getServices,
		"GetServiceCapabilities": getDeviceServiceCapabilities,
		"GetScopes":              getScopes,
		"GetHostname":            getHostname,
		"GetNetworkInterfaces":   getNetworkInterfaces,
		"GetDNS":                 getDNS,
		"GetNTP":                 getNTP,
		"GetNetworkDefaultGateway": func(*call) (string, *soapFault) {
			// The gateway is the board's business; an empty answer is valid and lets
			// clients that ask for it in one go with the interfaces (onvif-util) go on.
			return `<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway/></tds:GetNetworkDefaultGatewayResponse>`, nil
		},
		"GetNetworkProtocols":  getNetworkProtocols,
		"GetWsdlUrl":           getWsdlURL,
		"GetEndpointReference": getEndpointReference,
		"GetDiscoveryMode": func(*call) (string, *soapFault) {
			return `<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>Discoverable</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>`, nil
		},
	}
}

func getSystemDateAndTime(c *call) (string, *soapFault) {
	// UTC and no daylight saving: camerad keeps UTC (its clock is set by NTP) and has no
	// time zone of its own. TZ is POSIX, as ONVIF asks. DateTimeType NTP: with Manual, Home
	// Assistant would try to SetSystemDateAndTime, which is refused.
	t := c.s.now().UTC()
	return fmt.Sprintf(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>`+
		`<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>`+
		`<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>`+
		`<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
		`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime>`+
		`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
		t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day()), nil
}

func getDeviceInformation(c *call) (string, *soapFault) {
	d := c.s.cfg.Device
	return `<tds:GetDeviceInformationResponse>` +
		`<tds:Manufacturer>` + xmlText(d.Manufacturer) + `</tds:Manufacturer>` +
		`<tds:Model>` + xmlText(d.Model) + `</tds:Model>` +
		`<tds:FirmwareVersion>` + xmlText(d.FirmwareVersion) + `</tds:FirmwareVersion>` +
		`<tds:SerialNumber>` + xmlText(d.SerialNumber) + `</tds:SerialNumber>` +
		`<tds:HardwareId>` + xmlText(d.HardwareID) + `</tds:HardwareId>` +
		`</tds:GetDeviceInformationResponse>`, nil
}

// getCapabilities answers the ONVIF 1.x way of finding services, which most NVRs, Home
// Assistant and libonvif still use. Only Device and Media: a camera that names Events,
// Imaging or PTZ addresses gets called there.
func getCapabilities(c *call) (string, *soapFault) {
	cat := strings.TrimSpace(c.env.body.text("Category"))
	var b strings.Builder
	b.WriteString(`<tds:GetCapabilitiesResponse><tds:Capabilities>`)
	all := cat == "" || cat == "All"
	if all || cat == "Device" {
		b.WriteString(`<tt:Device><tt:XAddr>` + xmlText(c.xaddr(DevicePath)) + `</tt:XAddr>` +
			`<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>` +
			`<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>` +
			`<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>` +
			`<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>` +
			`<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>` +
			fmt.Sprintf(`<tt:SupportedVersions><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor></tt:SupportedVersions>`, onvifMajor, onvifMinor) +
			`</tt:System>` +
			`<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>` +
			`<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>` +
			`<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>` +
			`<tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>` +
			`</tt:Device>`)
	}
	if all || cat == "Media" {
		b.WriteString(`<tt:Media><tt:XAddr>` + xmlText(c.xaddr(MediaPath)) + `</tt:XAddr>` +
			`<tt:StreamingCapabilities><tt:RTPMulticast>` + strconv.FormatBool(c.s.cfg.Multicast) + `</tt:RTPMulticast>` +
			`<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities>` +
			`<tt:Extension><tt:ProfileCapabilities><tt:MaximumNumberOfProfiles>1</tt:MaximumNumberOfProfiles></tt:ProfileCapabilities></tt:Extension>` +
			`</tt:Media>`)
	}
	if !all && cat != "Device" && cat != "Media" {
		// ONVIF Core §8.1.2.5: a category the device does not have.
		return "", receiverFault("no "+truncate(cat, 32)+" capabilities", "ter:ActionNotSupported", "ter:NoSuchService")
	}
	b.WriteString(`</tds:Capabilities></tds:GetCapabilitiesResponse>`)
	return b.String(), nil
}

// deviceServiceCapabilities is tds:Capabilities, for GetServiceCapabilities and
// GetServices. Everything is read-only; auth is UsernameToken only.
func deviceServiceCapabilities(c *call) string {
	return `<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false" Dot11Configuration="false" HostnameFromDHCP="false" NTP="0"/>` +
		`<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" OnboardKeyGeneration="false" AccessPolicyConfig="false" DefaultAccessPolicy="false" Dot1X="false" RemoteUserHandling="false" X.509Token="false" SAMLToken="false" KerberosToken="false" UsernameToken="` +
		strconv.FormatBool(c.s.auth != nil) + `" HttpDigest="false" RELToken="false"/>` +
		`<tds:System DiscoveryResolve="false" DiscoveryBye="true" RemoteDiscovery="false" SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false" HttpFirmwareUpgrade="false" HttpSystemBackup="false" HttpSystemLogging="false" HttpSupportInformation="false"/>`
}

func getDeviceServiceCapabilities(c *call) (string, *soapFault) {
	return `<tds:GetServiceCapabilitiesResponse><tds:Capabilities>` + deviceServiceCapabilities(c) +
		`</tds:Capabilities></tds:GetServiceCapabilitiesResponse>`, nil
}

// getServices answers the ONVIF 2.x way of finding services.
func getServices(c *call) (string, *soapFault) {
	include := strings.TrimSpace(c.env.body.text("IncludeCapability"))
	withCaps := include == "true" || include == "1"
	version := fmt.Sprintf(`<tds:Version><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor></tds:Version>`, onvifMajor, onvifMinor)
	var b strings.Builder
	b.WriteString(`<tds:GetServicesResponse>`)
	b.WriteString(`<tds:Service><tds:Namespace>` + nsDevice + `</tds:Namespace><tds:XAddr>` + xmlText(c.xaddr(DevicePath)) + `</tds:XAddr>`)
	if withCaps {
		b.WriteString(`<tds:Capabilities><tds:Capabilities>` + deviceServiceCapabilities(c) + `</tds:Capabilities></tds:Capabilities>`)
	}
	b.WriteString(version + `</tds:Service>`)
	b.WriteString(`<tds:Service><tds:Namespace>` + nsMedia + `</tds:Namespace><tds:XAddr>` + xmlText(c.xaddr(MediaPath)) + `</tds:XAddr>`)
	if withCaps {
		b.WriteString(`<tds:Capabilities>` + mediaServiceCapabilities(c) + `</tds:Capabilities>`)
	}
	b.WriteString(version + `</tds:Service>`)
	b.WriteString(`</tds:GetServicesResponse>`)
	return b.String(), nil
}

func getScopes(c *call) (string, *soapFault) {
	var b strings.Builder
	b.WriteString(`<tds:GetScopesResponse>`)
	for _, sc := range c.s.cfg.Device.Scopes() {
		// Fixed: they come from camera.yml and the board, not from SetScopes.
		b.WriteString(`<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>` + xmlText(sc) + `</tt:ScopeItem></tds:Scopes>`)
	}
	b.WriteString(`</tds:GetScopesResponse>`)
	return b.String(), nil
}

func getHostname(c *call) (string, *soapFault) {
	name := ""
	if n := c.s.cfg.Device.Name; n != "" {
		name = `<tt:Name>` + xmlText(n) + `</tt:Name>`
	}
	return `<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>` + name +
		`</tds:HostnameInformation></tds:GetHostnameResponse>`, nil
}

// netInterface is what GetNetworkInterfaces tells of an interface.
type netInterface struct {
	name string
	mac  net.HardwareAddr
	up   bool
	mtu  int
	ipv4 []*net.IPNet
}

// systemInterfaces lists the machine's interfaces that have a hardware address: Home
// Assistant takes the MAC of an enabled one as the camera's unique id. Loopback and
// tunnels have none and are left out.
func systemInterfaces() ([]netInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []netInterface
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) == 0 {
			continue
		}
		ni := netInterface{name: ifc.Name, mac: ifc.HardwareAddr, up: ifc.Flags&net.FlagUp != 0, mtu: ifc.MTU}
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					ni.ipv4 = append(ni.ipv4, ipn)
				}
			}
		}
		out = append(out, ni)
	}
	return out, nil
}

func getNetworkInterfaces(c *call) (string, *soapFault) {
	ifs, err := c.s.interfaces()
	if err != nil {
		c.s.log.Warn("onvif: GetNetworkInterfaces", "err", err)
		return "", receiverFault("cannot list network interfaces")
	}
	var b strings.Builder
	b.WriteString(`<tds:GetNetworkInterfacesResponse>`)
	for _, ni := range ifs {
		b.WriteString(`<tds:NetworkInterfaces token="` + xmlText(ni.name) + `">` +
			`<tt:Enabled>` + strconv.FormatBool(ni.up) + `</tt:Enabled>` +
			`<tt:Info><tt:Name>` + xmlText(ni.name) + `</tt:Name><tt:HwAddress>` + ni.mac.String() + `</tt:HwAddress>`)
		if ni.mtu > 0 {
			b.WriteString(`<tt:MTU>` + strconv.Itoa(ni.mtu) + `</tt:MTU>`)
		}
		b.WriteString(`</tt:Info>`)
		if len(ni.ipv4) > 0 {
			// Given as Manual with DHCP false: this package does not know how the board
			// got the address, and the distinction only matters to clients that change it,
			// which camerad refuses.
			b.WriteString(`<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>`)
			for _, ipn := range ni.ipv4 {
				ones, _ := ipn.Mask.Size()
				b.WriteString(`<tt:Manual><tt:Address>` + ipn.IP.To4().String() + `</tt:Address><tt:PrefixLength>` +
					strconv.Itoa(ones) + `</tt:PrefixLength></tt:Manual>`)
			}
			b.WriteString(`<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>`)
		}
		b.WriteString(`</tds:NetworkInterfaces>`)
	}
	b.WriteString(`</tds:GetNetworkInterfacesResponse>`)
	return b.String(), nil
}

// getDNS and getNTP say "nothing configured here": the board's network and clock setup own
// them, and clients that show a device's settings (onvif-util) need an answer, not a fault.
func getDNS(*call) (string, *soapFault) {
	return `<tds:GetDNSResponse><tds:DNSInformation><tt:FromDHCP>false</tt:FromDHCP></tds:DNSInformation></tds:GetDNSResponse>`, nil
}

func getNTP(*call) (string, *soapFault) {
	return `<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP></tds:NTPInformation></tds:GetNTPResponse>`, nil
}

func getNetworkProtocols(c *call) (string, *soapFault) {
	_, httpPort := c.localHostPort()
	return `<tds:GetNetworkProtocolsResponse>` +
		`<tds:NetworkProtocols><tt:Name>HTTP</tt:Name><tt:Enabled>true</tt:Enabled><tt:Port>` + strconv.Itoa(httpPort) + `</tt:Port></tds:NetworkProtocols>` +
		`<tds:NetworkProtocols><tt:Name>RTSP</tt:Name><tt:Enabled>true</tt:Enabled><tt:Port>` + strconv.Itoa(c.s.cfg.RTSPPort) + `</tt:Port></tds:NetworkProtocols>` +
		`</tds:GetNetworkProtocolsResponse>`, nil
}

func getWsdlURL(*call) (string, *soapFault) {
	return `<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/ver10/device/wsdl/devicemgmt.wsdl</tds:WsdlUrl></tds:GetWsdlUrlResponse>`, nil
}

func getEndpointReference(c *call) (string, *soapFault) {
	// The same address WS-Discovery announces, so clients can match the two.
	return `<tds:GetEndpointReferenceResponse><tds:GUID>` + xmlText(c.s.cfg.Device.EndpointReference()) +
		`</tds:GUID></tds:GetEndpointReferenceResponse>`, nil
}
