package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/camerad/camerad/board"
)

// rtspsTLSConfig is the TLS configuration of the RTSPS listener: the certificate and key
// from tls_cert and tls_key, or a self-signed one (see selfSigned). It is nil when RTSPS is
// off. Errors name the setting at fault, like the other configuration errors.
func rtspsTLSConfig(cfg Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.RTSPSListen == "" {
		return nil, nil
	}
	var (
		cert tls.Certificate
		err  error
	)
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cert, err = selfSigned(cfg, time.Now(), log); err != nil {
			return nil, err
		}
	} else {
		if cert, err = loadKeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
		log.Info("rtsps: certificate loaded", "file", cfg.TLSCert, "subject", cert.Leaf.Subject.String(),
			"sha256", certFingerprint(cert.Leaf.Raw), "not_after", cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
		if now := time.Now(); now.After(cert.Leaf.NotAfter) {
			// Not fatal: the camera's clock may be wrong before NTP, and pinned or unverified
			// clients do not care; verifying clients will say so themselves.
			log.Warn("rtsps: certificate has expired", "file", cfg.TLSCert, "not_after", cert.Leaf.NotAfter)
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// loadKeyPair reads a PEM certificate chain and its private key. Unlike
// tls.LoadX509KeyPair, each error says which of the two files (and settings) is wrong.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls_cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls_key: %w", err)
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("tls_cert: %s holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")", certFile)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls_cert: %s: %w", certFile, err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return tls.Certificate{}, fmt.Errorf("tls_key: %s holds no PEM private key (\"-----BEGIN … PRIVATE KEY-----\" first)", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The PEM framing of both is fine: the key does not parse or does not match.
		return tls.Certificate{}, fmt.Errorf("tls_key: %s does not fit tls_cert %s: %w", keyFile, certFile, err)
	}
	cert.Leaf = leaf
	return cert, nil
}

// selfSignedFileName is the file, beside the config file, that keeps the self-signed
// certificate and its key.
const selfSignedFileName = "rtsps-self-signed.pem"

// selfSigned returns the camera's self-signed certificate. It is made once and kept (see
// selfSignedPath), like a real camera's: a player that was told to trust it (VLC's "accept
// permanently", a pinned fingerprint) keeps trusting it after a restart. A kept certificate
// for other names (the hostname changed) or one that does not parse is replaced; one that
// cannot be kept is still used, and the log says it will change at the next start.
func selfSigned(cfg Config, now time.Time, log *slog.Logger) (tls.Certificate, error) {
	names := certNames(cfg)
	path, pathErr := selfSignedPath(cfg)
	if pathErr == nil {
		cert, err := loadSelfSigned(path, names)
		if err == nil {
			// Info, not debug: the fingerprint is what a user pins (or compares with what
			// the player shows) to know it is this camera, as no CA vouches for it.
			log.Info("rtsps: self-signed certificate loaded; set tls_cert and tls_key to use your own",
				"file", path, "sha256", certFingerprint(cert.Leaf.Raw), "names", strings.Join(names, ","))
			return cert, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("rtsps: kept self-signed certificate not usable; making a new one", "file", path, "err", err)
		}
	}
	cert, err := selfSignedCert(names, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("rtsps: self-signed certificate: %w", err)
	}
	if pathErr == nil {
		pathErr = saveSelfSigned(path, cert)
	}
	if pathErr != nil {
		log.Warn("rtsps: cannot keep the self-signed certificate: it changes at every start", "err", pathErr)
		path = ""
	}
	log.Info("rtsps: self-signed certificate made; set tls_cert and tls_key to use your own",
		"file", path, "sha256", certFingerprint(cert.Leaf.Raw), "names", strings.Join(names, ","))
	return cert, nil
}

// selfSignedPath is where the self-signed certificate is kept: beside the config file (on
// the image: the boot partition, beside camera.yml), else in the user's config directory
// ($XDG_CONFIG_HOME/camerad, ~/.config/camerad).
func selfSignedPath(cfg Config) (string, error) {
	if cfg.dir != "" {
		return filepath.Join(cfg.dir, selfSignedFileName), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "camerad", selfSignedFileName), nil
}

// loadSelfSigned reads a kept self-signed certificate and its key (one PEM file) and checks
// that it is for exactly names.
func loadSelfSigned(path string, names []string) (tls.Certificate, error) {
	pemData, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, err
		}
		cert.Leaf = leaf
	}
	have := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		have = append(have, ip.String())
	}
	want := make([]string, 0, len(names))
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			n = ip.String()
		}
		want = append(want, n)
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return tls.Certificate{}, fmt.Errorf("made for %s, not %s", strings.Join(have, ","), strings.Join(want, ","))
	}
	return cert, nil
}

// saveSelfSigned writes cert and its key to path (key readable by the owner only) with
// board.ReplaceFile, so that a power cut leaves the old file or the new one, never half a
// file; on the image's boot partition, what a PC finds after pulling the card.
func saveSelfSigned(path string, cert tls.Certificate) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return board.ReplaceFile(filepath.Dir(path), filepath.Base(path), data, 0o600)
}

// certNames are the names a self-signed certificate is made for: what a viewer on the LAN
// (the mDNS name) or on the camera itself types in the URL.
func certNames(cfg Config) []string {
	serial, _ := board.Serial()
	host := cameraHostname(cfg, serial)
	names := []string{host + ".local"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" && h != host+".local" {
		names = append(names, h)
	}
	return append(names, "localhost", "127.0.0.1", "::1")
}

// selfSignedCert makes an ECDSA P-256 certificate for names (DNS names or IP addresses).
// It is valid from a day before now until 9999-12-31 (RFC 5280 §4.1.2.5's "no well-defined
// expiration"): on the image the clock may still say 1970 when it is made, before NTP, and a
// certificate that expires years later by that clock would already be expired by the real one.
func selfSignedCert(names []string, now time.Time) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, errors.New("no names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"camerad"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// certFingerprint is the SHA-256 of a DER certificate as openssl x509 -fingerprint -sha256
// prints it ("AB:CD:…"), so that users can compare the two.
func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
