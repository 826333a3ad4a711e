package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "proxy")
	ca, otherKey := writeCert(t, dir, "ca")
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Relative names resolve against the config file's directory.
	y := base + `tls:
  cert: proxy.pem
  key: proxy-key.pem
  ca: ca.pem
  require: true
backend_tls:
  enabled: true
  ca: ca.pem
  cert: proxy.pem
  key: proxy-key.pem
  server_name: db.internal
`
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Cert != cert || c.TLS.Key != key || c.TLS.CA != ca || !c.TLS.Require {
		t.Fatalf("%+v", c.TLS)
	}
	st, err := c.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Certificates) != 1 || st.ClientCAs == nil || st.ClientAuth != tls.VerifyClientCertIfGiven || st.MinVersion != tls.VersionTLS12 {
		t.Fatalf("client TLS %+v", st)
	}
	bt, err := c.BackendTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if bt.RootCAs == nil || len(bt.Certificates) != 1 || bt.ServerName != "db.internal" || bt.InsecureSkipVerify {
		t.Fatalf("backend TLS %+v", bt)
	}

	// Not configured: nil, nil.
	plain, err := parseTest(t, base+"backend_tls:\n  enabled: false\n")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := plain.ClientTLS(); st != nil || err != nil {
		t.Fatalf("ClientTLS without tls = %v, %v", st, err)
	}
	if bt, err := plain.BackendTLSConfig(); bt != nil || err != nil {
		t.Fatalf("BackendTLSConfig when disabled = %v, %v", bt, err)
	}

	bad := []struct {
		name, yaml, want string
	}{
		{"mismatched pair", "tls:\n  cert: " + cert + "\n  key: " + otherKey + "\n",
			"cfg.yaml:13: tls.cert: certificate " + cert + " and key " + otherKey + " do not load as a pair"},
		{"junk CA", "tls:\n  cert: " + cert + "\n  key: " + key + "\n  ca: " + junk + "\n",
			"cfg.yaml:15: tls.ca: CA file " + junk + " holds no PEM certificate"},
		{"junk backend CA", "backend_tls:\n  enabled: true\n  ca: " + junk + "\n",
			"cfg.yaml:14: backend_tls.ca: CA file " + junk + " holds no PEM certificate"},
		{"empty cert path", "tls:\n  cert: \"\"\n  key: " + key + "\n",
			"cfg.yaml:13: tls.cert: must be a file path, got an empty string"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(t, base+tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
		})
	}

	// Files removed after loading: the builders report it rather than panic.
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClientTLS(); err == nil || !strings.Contains(err.Error(), "tls.ca") {
		t.Fatalf("ClientTLS with CA gone: %v", err)
	}
	if _, err := c.BackendTLSConfig(); err == nil || !strings.Contains(err.Error(), "backend_tls.ca") {
		t.Fatalf("BackendTLSConfig with CA gone: %v", err)
	}
}
