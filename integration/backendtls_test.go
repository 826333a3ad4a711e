package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/proxy"
)

// startTLSBackendEnv starts a master with a certificate and the proxy
// connecting to it over verified TLS.
func startTLSBackendEnv(t *testing.T) *env {
	t.Helper()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.server.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(pki.server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, envOptions{
		cluster: cluster.Options{ExtraServerArgs: []string{"--ssl-cert=" + certFile, "--ssl-key=" + keyFile}},
		proxy: func(o *proxy.Options) {
			o.BackendTLS = &tls.Config{RootCAs: pki.roots, MinVersion: tls.VersionTLS12}
		},
	})
	ensureTestDB(t, e.c)
	return e
}

// TestBackendTLS: with backend_tls, the proxy's connections to the servers
// are encrypted and verified against the CA.
func TestBackendTLS(t *testing.T) {
	e := startTLSBackendEnv(t)
	db := openDB(t, e.dsn(""))
	var name, cipher string
	if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatal(err)
	}
	if cipher == "" {
		t.Fatal("backend connection is not encrypted (Ssl_cipher empty)")
	}
	t.Logf("backend leg cipher: %s", cipher)

	// A CA that did not sign the server's certificate: no backend connection.
	other := newTestPKI(t)
	e2 := startProxyFor(t, e.c, envOptions{proxy: func(o *proxy.Options) {
		o.BackendTLS = &tls.Config{RootCAs: other.roots, MinVersion: tls.VersionTLS12}
	}})
	db2 := openDB(t, e2.dsn(""))
	if err := db2.Ping(); err == nil {
		var one int
		if err := db2.QueryRow("SELECT 1").Scan(&one); err == nil {
			t.Fatal("backend with an untrusted certificate was used")
		}
	}
}
