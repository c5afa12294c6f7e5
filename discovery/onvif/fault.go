package onvif

import "strings"

// soapFault is a SOAP fault as ONVIF uses it (Core §5.11): a SOAP code (Sender: the
// request is wrong; Receiver: the camera cannot do it) refined by ter: subcodes.
type soapFault struct {
	receiver bool
	subcodes []string // qualified with ter:, outermost first
	reason   string
	// status overrides the HTTP status that the SOAP version implies (413 for an oversized
	// request); 0 when it does not.
	status int
}

func senderFault(reason string, subcodes ...string) *soapFault {
	return &soapFault{subcodes: subcodes, reason: reason}
}

func receiverFault(reason string, subcodes ...string) *soapFault {
	return &soapFault{receiver: true, subcodes: subcodes, reason: reason}
}

// errActionNotSupported refuses what camerad does not do: every change of settings
// (camera.yml is the one place they change), snapshots, and operations it does not know.
func errActionNotSupported(what string) *soapFault {
	return receiverFault(what+" is not supported by this device", "ter:ActionNotSupported")
}

func errNotAuthorized() *soapFault {
	// The reason says "not authorized": Home Assistant's config flow looks for "auth" in a
	// fault's text to tell the user that the password is wrong rather than that the camera
	// failed.
	return senderFault("Sender not authorized", "ter:NotAuthorized")
}

func errNoProfile(token string) *soapFault {
	return senderFault("no profile with token "+quoteToken(token), "ter:InvalidArgVal", "ter:NoProfile")
}

func errNoConfig(token string) *soapFault {
	return senderFault("no configuration with token "+quoteToken(token), "ter:InvalidArgVal", "ter:NoConfig")
}

func errNoSource(token string) *soapFault {
	return senderFault("no video source with token "+quoteToken(token), "ter:InvalidArgVal", "ter:NoSource")
}

// quoteToken shortens a client's token for a fault's text: it is the client's own input,
// echoed, and need not be long.
func quoteToken(token string) string {
	if len(token) > 64 {
		token = token[:64] + "..."
	}
	return `"` + token + `"`
}

// httpStatus is the status a fault travels with. SOAP 1.2's HTTP binding (part 2, §7.5.1.2)
// gives 400 to Sender faults and 500 to Receiver faults. SOAP 1.1 (§6.2) sends every fault
// with 500, and 1.1 stacks (gSOAP, old .NET) only look for a fault in a 500 answer.
func (f *soapFault) httpStatus(soapNS string) int {
	switch {
	case f.status != 0:
		return f.status
	case soapNS == nsSOAP11 || f.receiver:
		return 500
	}
	return 400
}

// body is the fault as the Body's content, in SOAP version soapNS, with the prefixes that
// writeEnvelope declares.
func (f *soapFault) body(soapNS string) string {
	var b strings.Builder
	if soapNS == nsSOAP11 {
		// SOAP 1.1 has no subcodes: the code is Client or Server, and the ONVIF subcodes go
		// into detail, where a curious client can still find them.
		code := "s:Client"
		if f.receiver {
			code = "s:Server"
		}
		b.WriteString(`<s:Fault><faultcode>` + code + `</faultcode><faultstring>` + xmlText(f.reason) + `</faultstring>`)
		if len(f.subcodes) > 0 {
			b.WriteString(`<detail>`)
			for _, c := range f.subcodes {
				b.WriteString(`<ter:Subcode>` + xmlText(c) + `</ter:Subcode>`)
			}
			b.WriteString(`</detail>`)
		}
		b.WriteString(`</s:Fault>`)
		return b.String()
	}
	code := "s:Sender"
	if f.receiver {
		code = "s:Receiver"
	}
	b.WriteString(`<s:Fault><s:Code><s:Value>` + code + `</s:Value>`)
	for _, c := range f.subcodes {
		b.WriteString(`<s:Subcode><s:Value>` + xmlText(c) + `</s:Value>`)
	}
	for range f.subcodes {
		b.WriteString(`</s:Subcode>`)
	}
	b.WriteString(`</s:Code><s:Reason><s:Text xml:lang="en">` + xmlText(f.reason) + `</s:Text></s:Reason></s:Fault>`)
	return b.String()
}
