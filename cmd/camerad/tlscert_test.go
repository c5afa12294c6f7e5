package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a fresh self-signed certificate for names and its key as PEM files
// and returns their paths and the certificate.
func writeKeyPair(t *testing.T, names ...string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	cert, err := selfSignedCert(names, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cam.crt"), filepath.Join(dir, "cam.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestRTSPSCertErrors: a certificate or key that cannot be used stops camerad at startup
// with an error naming the setting at fault.
func TestRTSPSCertErrors(t *testing.T) {
	certFile, keyFile, _ := writeKeyPair(t, "localhost")
	_, otherKey, _ := writeKeyPair(t, "localhost")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badDER := filepath.Join(dir, "bad.crt")
	if err := os.WriteFile(badDER, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name, cert, key, field string
	}{
		{"cert missing", missing, keyFile, "tls_cert"},
		{"key missing", certFile, missing, "tls_key"},
		{"cert not PEM", garbage, keyFile, "tls_cert"},
		{"cert PEM not DER", badDER, keyFile, "tls_cert"},
		{"key not PEM", certFile, garbage, "tls_key"},
		{"key is a certificate", certFile, certFile, "tls_key"},
		{"key of another cert", certFile, otherKey, "tls_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.RTSPSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", tc.cert, tc.key
			_, err := rtspsTLSConfig(cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatalf("accepted cert %s, key %s", tc.cert, tc.key)
			}
			if !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Errorf("error %q does not start with %s:", err, tc.field)
			}
			// And through run, as a user sees it: a usage error, before serving.
			code, _, stderr := runCapture("-mdns=false", "-onvif-listen=", "-listen", "127.0.0.1:0", "-rtsps-listen", "127.0.0.1:0",
				"-tls-cert", tc.cert, "-tls-key", tc.key)
			if code != exitUsage || !strings.Contains(stderr, tc.field) {
				t.Errorf("run: exit %d, want %d and %s named; stderr:\n%s", code, exitUsage, tc.field, stderr)
			}
		})
	}
}

// TestRTSPSCertLoads: a good pair is used as given; without one, a self-signed ECDSA P-256
// certificate for the camera's names is made and its fingerprint logged at info level.
func TestRTSPSCertLoads(t *testing.T) {
	certFile, keyFile, want := writeKeyPair(t, "garden-cam.local")
	cfg := DefaultConfig()
	cfg.RTSPSListen, cfg.TLSCert, cfg.TLSKey = ":8322", certFile, keyFile
	tc, err := rtspsTLSConfig(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificates) != 1 || !bytes.Equal(tc.Certificates[0].Certificate[0], want.Certificate[0]) {
		t.Errorf("the TLS config does not hold tls_cert's certificate")
	}

	cfg = DefaultConfig()
	cfg.RTSPSListen, cfg.Hostname, cfg.dir = ":8322", "garden-cam", t.TempDir()
	var logs bytes.Buffer
	tc, err = rtspsTLSConfig(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	leaf := tc.Certificates[0].Leaf
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("self-signed key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, n := range []string{"garden-cam.local", "localhost"} {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("self-signed certificate names %v, want %s among them", leaf.DNSNames, n)
		}
	}
	for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			t.Errorf("self-signed certificate addresses %v, want %s among them", leaf.IPAddresses, ip)
		}
	}
	if err := leaf.VerifyHostname("garden-cam.local"); err != nil {
		t.Error(err)
	}
	if fp := certFingerprint(leaf.Raw); !strings.Contains(logs.String(), "sha256="+fp) {
		t.Errorf("log does not give the fingerprint %s:\n%s", fp, logs.String())
	}
	if !strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("the fingerprint is not logged at info level:\n%s", logs.String())
	}

	cfg.RTSPSListen = ""
	if tc, err := rtspsTLSConfig(cfg, slog.New(slog.DiscardHandler)); tc != nil || err != nil {
		t.Errorf("RTSPS off: got %v, %v; want nil, nil", tc, err)
	}
}

// TestRTSPSSelfSignedKept: the self-signed certificate is made once and kept beside the
// config file, so that a player told to trust it still does after a restart. It is made
// anew when the camera's names change or the file is damaged, and one that cannot be kept
// is still served.
func TestRTSPSSelfSignedKept(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "camera.yml")
	if err := os.WriteFile(cfgFile, []byte("rtsps_listen: \":8322\"\nhostname: garden-cam\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, selfSignedFileName)
	start := func(cfg Config) (fingerprint, log string) {
		t.Helper()
		var logs bytes.Buffer
		tc, err := rtspsTLSConfig(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return certFingerprint(tc.Certificates[0].Leaf.Raw), logs.String()
	}

	first, log := start(cfg)
	if !strings.Contains(log, "certificate made") || !strings.Contains(log, "file="+kept) {
		t.Errorf("first start: log does not say the certificate was made and kept in %s:\n%s", kept, log)
	}
	if fi, err := os.Stat(kept); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("kept certificate: %v, mode %v; want a file only its owner can read", err, fi)
	}
	again, log := start(cfg)
	if again != first || !strings.Contains(log, "certificate loaded") {
		t.Errorf("restart: fingerprint %s, first %s; log:\n%s", again, first, log)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("config directory holds %d files, want camera.yml and %s (no temporary left)", len(entries), selfSignedFileName)
	}

	renamed := cfg
	renamed.Hostname = "porch-cam"
	other, log := start(renamed)
	if other == first || !strings.Contains(log, "not usable") {
		t.Errorf("new hostname: fingerprint %s (first %s); want a new certificate, and a log line saying why:\n%s", other, first, log)
	}
	if again, _ := start(renamed); again != other {
		t.Errorf("the certificate for the new name was not kept")
	}

	if err := os.WriteFile(kept, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fp, log := start(renamed); fp == other || !strings.Contains(log, "level=WARN") {
		t.Errorf("damaged file: fingerprint %s (before %s); want a new certificate and a warning:\n%s", fp, other, log)
	}

	// Nowhere to keep it (the "directory" is a file): served anyway, with a warning.
	blocked := cfg
	blocked.dir = cfgFile
	fp, log := start(blocked)
	if fp == "" || !strings.Contains(log, "cannot keep") {
		t.Errorf("unwritable place: want a certificate and a warning that it changes at every start:\n%s", log)
	}
}

func TestCertFingerprint(t *testing.T) {
	// sha256("abc"), as openssl prints fingerprints.
	const want = "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
	if got := certFingerprint([]byte("abc")); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
