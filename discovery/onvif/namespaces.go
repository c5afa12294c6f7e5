package onvif

// XML namespaces of the messages, and the prefixes answers bind them to (see writeEnvelope).
const (
	nsSOAP12     = "http://www.w3.org/2003/05/soap-envelope"
	nsSOAP11     = "http://schemas.xmlsoap.org/soap/envelope/"
	nsAddressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing" // WS-Discovery's (2005/04)
	nsDiscovery  = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsNetwork    = "http://www.onvif.org/ver10/network/wsdl" // dn:NetworkVideoTransmitter
	nsDevice     = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia      = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema     = "http://www.onvif.org/ver10/schema"
	nsError      = "http://www.onvif.org/ver10/error"
	nsSecurity   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsUtility    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)

// envelopePrefixes are declared on every answer's Envelope, so bodies can use the prefixes
// freely: s (SOAP, the request's version), a, d, dn, tds, trt, tt, ter.
var envelopePrefixes = [][2]string{
	{"a", nsAddressing},
	{"d", nsDiscovery},
	{"dn", nsNetwork},
	{"tds", nsDevice},
	{"trt", nsMedia},
	{"tt", nsSchema},
	{"ter", nsError},
}
