package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxEnvelope bounds a request. ONVIF requests and WS-Discovery probes are a few KB; a UDP
// datagram cannot be longer than 64 KB anyway.
const maxEnvelope = 64 << 10

// envelope is a SOAP request as the services need it.
type envelope struct {
	soapNS string // nsSOAP12 or nsSOAP11: the answer uses the same version

	// WS-Addressing headers (WS-Discovery uses them; ONVIF clients over HTTP may).
	messageID string
	action    string
	to        string

	// token is the WS-Security UsernameToken, nil when the request has none.
	token *usernameToken

	// body is the Body's first element: the operation (GetProfiles, Probe, ...) with its
	// arguments.
	body node
}

// usernameToken is WS-Security's UsernameToken (ONVIF Core §5.12.2).
type usernameToken struct {
	username     string
	password     string // the digest, or the password itself for PasswordText
	passwordType string // the Type attribute; ends in #PasswordDigest or #PasswordText
	nonce        string // base64, as sent
	created      string // xsd:dateTime, as sent
}

var errNotSOAP = errors.New("not a SOAP envelope")

// parseEnvelope reads a SOAP 1.2 or 1.1 envelope. Elements are matched by local name, except
// the Envelope itself, whose namespace gives the SOAP version.
func parseEnvelope(data []byte) (*envelope, error) {
	if len(data) > maxEnvelope {
		return nil, fmt.Errorf("envelope of %d bytes: the limit is %d", len(data), maxEnvelope)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	root, err := nextStart(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotSOAP, err)
	}
	if root.Name.Local != "Envelope" || (root.Name.Space != nsSOAP12 && root.Name.Space != nsSOAP11) {
		return nil, fmt.Errorf("%w: the root element is {%s}%s", errNotSOAP, root.Name.Space, root.Name.Local)
	}
	env := &envelope{soapNS: root.Name.Space}
	sawBody := false
	for {
		start, err := nextStart(d)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read envelope: %w", err)
		}
		switch start.Name.Local {
		case "Header":
			var h node
			if err := d.DecodeElement(&h, &start); err != nil {
				return nil, fmt.Errorf("read SOAP header: %w", err)
			}
			env.readHeader(&h)
		case "Body":
			sawBody = true
			op, err := nextStart(d)
			if err == io.EOF { // <Body/> or <Body></Body>
				return nil, fmt.Errorf("%w: the Body is empty", errNotSOAP)
			}
			if err != nil {
				return nil, fmt.Errorf("read SOAP body: %w", err)
			}
			if err := d.DecodeElement(&env.body, &op); err != nil {
				return nil, fmt.Errorf("read %s: %w", op.Name.Local, err)
			}
			return env, nil
		default:
			if err := d.Skip(); err != nil {
				return nil, fmt.Errorf("read envelope: %w", err)
			}
		}
	}
	if !sawBody {
		return nil, fmt.Errorf("%w: no Body", errNotSOAP)
	}
	return env, nil
}

// nextStart returns the next start element at this level, or io.EOF at the end of the
// enclosing element or document.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, io.EOF
		}
	}
}

func (env *envelope) readHeader(h *node) {
	env.messageID = strings.TrimSpace(h.text("MessageID"))
	env.action = strings.TrimSpace(h.text("Action"))
	env.to = strings.TrimSpace(h.text("To"))
	ut := h.child("Security", "UsernameToken")
	if ut == nil {
		return
	}
	pw := ut.child("Password")
	env.token = &usernameToken{
		username:     strings.TrimSpace(ut.text("Username")),
		password:     strings.TrimSpace(ut.text("Password")),
		passwordType: pw.attr("Type"),
		nonce:        strings.TrimSpace(ut.text("Nonce")),
		created:      strings.TrimSpace(ut.text("Created")),
	}
}

// writeEnvelope writes an answer in SOAP version soapNS. header and body are XML fragments
// built with the prefixes of envelopePrefixes (and s: for SOAP); text in them must already
// be escaped (xmlText).
func writeEnvelope(w io.Writer, soapNS, header, body string) error {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<s:Envelope xmlns:s="` + soapNS + `"`)
	for _, p := range envelopePrefixes {
		b.WriteString(` xmlns:` + p[0] + `="` + p[1] + `"`)
	}
	b.WriteString(`>`)
	if header != "" {
		b.WriteString(`<s:Header>` + header + `</s:Header>`)
	}
	b.WriteString(`<s:Body>` + body + `</s:Body></s:Envelope>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// xmlText escapes s for use as element text or an attribute value.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
