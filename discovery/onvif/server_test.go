package onvif

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// soapTestStream is the stream the test servers describe.
var soapTestStream = StreamInfo{Width: 1920, Height: 1080, FPS: 30, Bitrate: 4_000_000, GOP: 60, Profile: "High"}

func soapTestConfig() Config {
	return Config{
		Device: Device{
			Name: "camera-abcd", Manufacturer: "camerad", Model: "Raspberry Pi 4 Model B",
			FirmwareVersion: "1.0", SerialNumber: "10000000abcdef", HardwareID: "bcm2711",
		},
		RTSPPort: 8554,
		RTSPPath: "/stream",
		Stream:   func() StreamInfo { return soapTestStream },
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// soapTestServe runs a Server made from cfg (after mutate) on a real listener at addr
// ("127.0.0.1:0", "[::1]:0") and returns it with its base URL.
func soapTestServe(t *testing.T, addr string, mutate func(*Config)) (*Server, string) {
	t.Helper()
	cfg := soapTestConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// soapEnvelope12 and soapEnvelope11 write requests the way clients do: their own prefixes.
func soapEnvelope12(header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">` +
		header + `<SOAP-ENV:Body>` + body + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

func soapEnvelope11(header, body string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` + header +
		`<soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// soapDigestHeader is a WS-Security header with a PasswordDigest, as libonvif and zeep send.
func soapDigestHeader(user, pass string, nonce []byte, created string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(pass))
	digest := base64.StdEncoding.EncodeToString(h.Sum(nil))
	return `<SOAP-ENV:Header><wsse:Security xmlns:wsse="` + nsSecurity + `" xmlns:wsu="` + nsUtility + `" SOAP-ENV:mustUnderstand="1">` +
		`<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username>` +
		`<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` + digest + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">` +
		base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken></wsse:Security></SOAP-ENV:Header>`
}

type soapAnswer struct {
	status int
	header http.Header
	raw    string
	env    *envelope // nil when the answer is not an envelope
}

func soapPost(t *testing.T, url, body string) soapAnswer {
	t.Helper()
	return soapPostWith(t, url, "", body)
}

// soapPostWith is soapPost with an Authorization header, unless authorization is "".
func soapPostWith(t *testing.T, url, authorization, body string) soapAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := soapAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	a.env, _ = parseEnvelope(raw)
	return a
}

// faultSubcodes lists a SOAP 1.2 fault's code and subcodes, outermost first.
func (a soapAnswer) faultCodes() []string {
	if a.env == nil || a.env.body.XMLName.Local != "Fault" {
		return nil
	}
	var out []string
	for n := a.env.body.child("Code"); n != nil; n = n.child("Subcode") {
		out = append(out, strings.TrimSpace(n.text("Value")))
	}
	return out
}

func (a soapAnswer) wantOK(t *testing.T, op string) *node {
	t.Helper()
	if a.status != 200 || a.env == nil || a.env.body.XMLName.Local != op+"Response" {
		t.Fatalf("%s: status %d, answer %s", op, a.status, a.raw)
	}
	return &a.env.body
}

func (a soapAnswer) wantFault(t *testing.T, status int, codes ...string) {
	t.Helper()
	got := a.faultCodes()
	if a.status != status || strings.Join(got, " ") != strings.Join(codes, " ") {
		t.Fatalf("got status %d fault %q, want %d %q; answer %s", a.status, got, status, codes, a.raw)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/soap+xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if a.env.body.child("Reason", "Text").attr("lang") != "en" {
		t.Errorf("Reason/Text without xml:lang=en: %s", a.raw)
	}
}

func TestDeviceInformationSOAP12And11(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)

	a := soapPost(t, base+DevicePath, soapEnvelope12("", `<tds:GetDeviceInformation/>`))
	b := a.wantOK(t, "GetDeviceInformation")
	if a.env.soapNS != nsSOAP12 || a.header.Get("Content-Type") != "application/soap+xml; charset=utf-8" {
		t.Errorf("SOAP 1.2 request answered as %s, %s", a.env.soapNS, a.header.Get("Content-Type"))
	}
	for name, want := range map[string]string{"Manufacturer": "camerad", "Model": "Raspberry Pi 4 Model B",
		"FirmwareVersion": "1.0", "SerialNumber": "10000000abcdef", "HardwareId": "bcm2711"} {
		if got := b.text(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if b.XMLName.Space != nsDevice || b.child("Model").XMLName.Space != nsDevice {
		t.Errorf("answer in namespace %q", b.XMLName.Space)
	}

	a = soapPost(t, base+DevicePath, soapEnvelope11("", `<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>`))
	b = a.wantOK(t, "GetDeviceInformation")
	if a.env.soapNS != nsSOAP11 || a.header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Errorf("SOAP 1.1 request answered as %s, %s", a.env.soapNS, a.header.Get("Content-Type"))
	}
	if b.text("SerialNumber") != "10000000abcdef" {
		t.Errorf("SOAP 1.1: %s", a.raw)
	}
	if a.header.Get("Content-Length") == "" {
		t.Error("no Content-Length: libonvif cannot read the answer")
	}
}

func TestStreamURIHostIsTheAddressDialed(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:0", "rtsp://127.0.0.1:8554/stream"},
		{"[::1]:0", "rtsp://[::1]:8554/stream"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			_, base := soapTestServe(t, tc.listen, nil)
			body := `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
				`<trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>`
			a := soapPost(t, base+MediaPath, soapEnvelope12("", body))
			b := a.wantOK(t, "GetStreamUri")
			if got := b.text("MediaUri", "Uri"); got != tc.want {
				t.Errorf("Uri = %q, want %q", got, tc.want)
			}
			for name, want := range map[string]string{"InvalidAfterConnect": "false", "InvalidAfterReboot": "false", "Timeout": "PT0S"} {
				if got := b.text("MediaUri", name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestMethodPathAndSize(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)

	resp, err := http.Get(base + DevicePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	a := soapPost(t, base+"/elsewhere", soapEnvelope12("", `<tds:GetDeviceInformation/>`))
	if a.status != 404 {
		t.Errorf("unknown path: %d", a.status)
	}
	// Any path ending in device_service is the device service.
	soapPost(t, base+"/onvif/device_service", soapEnvelope12("", `<tds:GetHostname/>`)).wantOK(t, "GetHostname")
	soapPost(t, base+"/device_service", soapEnvelope12("", `<tds:GetHostname/>`)).wantOK(t, "GetHostname")

	big := soapEnvelope12("", `<tds:GetDeviceInformation>`+strings.Repeat("x", maxEnvelope)+`</tds:GetDeviceInformation>`)
	a = soapPost(t, base+DevicePath, big)
	a.wantFault(t, 413, "s:Sender")

	a = soapPost(t, base+DevicePath, `<this is not xml`)
	a.wantFault(t, 400, "s:Sender")
	a = soapPost(t, base+DevicePath, `<Envelope><Body><GetHostname/></Body></Envelope>`) // no SOAP namespace
	a.wantFault(t, 400, "s:Sender")
	a = soapPost(t, base+DevicePath, soapEnvelope12("", ``)) // empty Body
	a.wantFault(t, 400, "s:Sender")
}

// TestPageTakesOtherPaths: with Config.Page, the paths that are no ONVIF service go to it
// (the camera's web page); the services stay where they are.
func TestPageTakesOtherPaths(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page for "+r.URL.Path) })
	_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) { c.Page = page })
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "page for /" {
		t.Errorf("GET /: %d %q", resp.StatusCode, body)
	}
	soapPost(t, base+DevicePath, soapEnvelope12("", `<tds:GetHostname/>`)).wantOK(t, "GetHostname")
	soapPost(t, base+MediaPath, soapEnvelope12("", `<trt:GetProfiles/>`)).wantOK(t, "GetProfiles")
}

func TestRefusedOperations(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)
	for _, op := range []string{
		`<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType></tds:SetSystemDateAndTime>`,
		`<tds:SystemReboot/>`,
		`<tds:SetScopes><tds:Scopes>onvif://www.onvif.org/name/x</tds:Scopes></tds:SetScopes>`,
		`<tds:CreateUsers/>`,
		`<trt:SetVideoEncoderConfiguration><trt:Configuration token="video_encoder_config"/></trt:SetVideoEncoderConfiguration>`,
		`<trt:CreateProfile><trt:Name>x</trt:Name></trt:CreateProfile>`,
		`<trt:DeleteProfile><trt:ProfileToken>main</trt:ProfileToken></trt:DeleteProfile>`,
		`<trt:AddVideoEncoderConfiguration/>`,
		`<trt:RemoveVideoEncoderConfiguration/>`,
		`<trt:GetSnapshotUri><trt:ProfileToken>main</trt:ProfileToken></trt:GetSnapshotUri>`,
		`<tds:NoSuchOperation/>`,
		`<GetProfiles xmlns="http://www.onvif.org/ver20/media/wsdl"/>`, // Media2: not served
		`<CreatePullPointSubscription xmlns="http://www.onvif.org/ver10/events/wsdl"/>`,
	} {
		a := soapPost(t, base+DevicePath, soapEnvelope12("", op))
		a.wantFault(t, 500, "s:Receiver", "ter:ActionNotSupported")
	}
	// SOAP 1.1: the fault in 1.1's form, with 500 as SOAP 1.1 has it.
	a := soapPost(t, base+DevicePath, soapEnvelope11("", `<SystemReboot xmlns="http://www.onvif.org/ver10/device/wsdl"/>`))
	if a.status != 500 || a.env == nil || a.env.body.text("faultcode") != "s:Server" ||
		!strings.Contains(a.env.body.text("detail", "Subcode"), "ActionNotSupported") || a.header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Errorf("SOAP 1.1 fault: %d %s", a.status, a.raw)
	}
	// A Sender fault too goes with 500 in SOAP 1.1, as s:Client.
	a = soapPost(t, base+MediaPath, soapEnvelope11("", `<GetProfile xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>x</ProfileToken></GetProfile>`))
	if a.status != 500 || a.env == nil || a.env.body.text("faultcode") != "s:Client" {
		t.Errorf("SOAP 1.1 Sender fault: %d %s", a.status, a.raw)
	}
}

func TestDispatchByNamespaceNotPath(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)
	// Media operations posted to the device service's address still work...
	a := soapPost(t, base+DevicePath, soapEnvelope12("", `<trt:GetProfiles/>`))
	a.wantOK(t, "GetProfiles")
	// ...and device ones to the media service's.
	soapPost(t, base+MediaPath, soapEnvelope12("", `<tds:GetDeviceInformation/>`)).wantOK(t, "GetDeviceInformation")
	// GetServiceCapabilities exists in both: the namespace picks the answer.
	b := soapPost(t, base+DevicePath, soapEnvelope12("", `<trt:GetServiceCapabilities/>`)).wantOK(t, "GetServiceCapabilities")
	if b.XMLName.Space != nsMedia || b.child("Capabilities").attr("SnapshotUri") != "false" {
		t.Errorf("media GetServiceCapabilities on the device path: %+v", b)
	}
	// No namespace at all: the path decides.
	soapPost(t, base+MediaPath, soapEnvelope12("", `<GetProfiles/>`)).wantOK(t, "GetProfiles")
}

func TestNewServerNamesTheField(t *testing.T) {
	for field, mutate := range map[string]func(*Config){
		"RTSPPort": func(c *Config) { c.RTSPPort = 0 },
		"RTSPPath": func(c *Config) { c.RTSPPath = "stream" },
		"Stream":   func(c *Config) { c.Stream = nil },
		"Password": func(c *Config) { c.Username = "admin" },
	} {
		cfg := soapTestConfig()
		mutate(&cfg)
		if _, err := NewServer(cfg); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v", field, err)
		}
	}
	if _, err := NewServer(soapTestConfig()); err != nil {
		t.Error(err)
	}
}

func TestServeReturnsNilWhenContextEnds(t *testing.T) {
	s, err := NewServer(soapTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	a := soapPost(t, "http://"+ln.Addr().String()+DevicePath, soapEnvelope12("", `<tds:GetHostname/>`))
	a.wantOK(t, "GetHostname")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still listening")
	}
}

// soapLogCounter counts log records by message.
type soapLogCounter struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *soapLogCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *soapLogCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *soapLogCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *soapLogCounter) WithGroup(string) slog.Handler      { return h }

func (h *soapLogCounter) messages(msg string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []string{
		soapEnvelope12("", `<tds:GetDeviceInformation/>`),
		soapEnvelope12("", `<trt:GetStreamUri><trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>`),
		soapEnvelope12("", `<trt:GetVideoEncoderConfigurationOptions><trt:ProfileToken>x</trt:ProfileToken></trt:GetVideoEncoderConfigurationOptions>`),
		soapEnvelope12(soapDigestHeader("admin", "secret", []byte("0123456789abcdef"), "2026-01-02T03:04:05Z"), `<trt:GetProfiles/>`),
		soapEnvelope12(soapDigestHeader("admin", "secret", []byte("x"), "garbage"), `<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>`),
		soapEnvelope11("", `<GetServices xmlns="http://www.onvif.org/ver10/device/wsdl"><IncludeCapability>true</IncludeCapability></GetServices>`),
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Security><UsernameToken><Password Type="#PasswordDigest">a</Password><Nonce>%%%</Nonce></UsernameToken></Security></s:Header><s:Body><x:Y xmlns:x="urn:x"/></s:Body></s:Envelope>`,
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`,
		`<`, ``, `<?xml version="1.0"?><a/>`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, body string, auth bool) {
		cfg := soapTestConfig()
		cfg.Stream = func() StreamInfo { return StreamInfo{Width: -1, Profile: body} }
		if auth {
			cfg.Username, cfg.Password = "admin", "secret"
		}
		s, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.interfaces = func() ([]netInterface, error) { return nil, errors.New("none") }
		for _, path := range []string{DevicePath, MediaPath} {
			r := httptest.NewRequest("POST", path, strings.NewReader(body))
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 200 && w.Code != 400 && w.Code != 401 && w.Code != 500 && w.Code != 413 {
				t.Fatalf("status %d", w.Code)
			}
			if (w.Code == 401) != (w.Header().Get("WWW-Authenticate") != "") {
				t.Fatalf("status %d with challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			// Every answer is a well-formed envelope.
			if _, err := parseEnvelope(w.Body.Bytes()); err != nil {
				t.Fatalf("answer is not an envelope (%v): %s", err, w.Body.String())
			}
		}
		_, _ = parseEnvelope([]byte(body))
	})
}

// soapPostRaw sends a request without net/http's client, for the checks of raw framing.
func soapPostRaw(t *testing.T, hostport, path, body string) string {
	t.Helper()
	conn, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// As libonvif writes it (its Content-Type ends in a stray ';').
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nUser-Agent: Generic\r\nConnection: Close\r\nAccept-Encoding: gzip, deflate\r\n"+
		"Content-Type: application/soap+xml; charset=utf-8;\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", path, hostport, len(body), body)
	var out bytes.Buffer
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(&out, conn)
	return out.String()
}

func TestLargeAnswerHasContentLengthNotChunked(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)
	// GetServices with capabilities is larger than net/http's 2 KB chunking
	// threshold: without an explicit Content-Length it would go out chunked.
	raw := soapPostRaw(t, strings.TrimPrefix(base, "http://"), DevicePath,
		soapEnvelope12("", `<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>`))
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok || !strings.Contains(head, "\r\nContent-Length: ") || strings.Contains(head, "chunked") {
		t.Fatalf("framing:\n%s", head)
	}
	if len(body) < 2048 {
		t.Fatalf("answer of %d bytes: not a test of chunking", len(body))
	}
}
