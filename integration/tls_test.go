package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/proxy"
)

// testPKI is a throwaway CA and a server certificate for 127.0.0.1.
type testPKI struct {
	roots  *x509.CertPool
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchyard test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return testPKI{roots: roots, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// tlsClient opens a go-sql-driver pool with cfg.TLS set directly (no global
// registration), counting completed TLS handshakes the client verified.
func tlsClient(t *testing.T, dsn string, tc *tls.Config) (*sql.DB, *atomic.Int64) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	if tc != nil {
		tc = tc.Clone()
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			n.Add(1)
			return nil
		}
		cfg.TLS = tc
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { _ = db.Close() })
	return db, &n
}

func TestClientTLS(t *testing.T) {
	pki := newTestPKI(t)
	e := startEnv(t, envOptions{proxy: func(o *proxy.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
	}})
	ensureTestDB(t, e.c)
	ctx := t.Context()

	db, handshakes := tlsClient(t, e.dsn(""), &tls.Config{RootCAs: pki.roots, ServerName: "127.0.0.1"})
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer conn.Close()
	if handshakes.Load() != 1 {
		t.Fatalf("verified TLS handshakes = %d, want 1", handshakes.Load())
	}
	var user string
	var big int
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER(), COUNT(*) FROM seq_1_to_100000").Scan(&user, &big); err != nil {
		t.Fatal(err)
	}
	if big != 100000 || user != "app@%" {
		t.Fatalf("over TLS: user=%q count=%d", user, big)
	}
	// A large result over TLS, byte-exact.
	var sum string
	if err := conn.QueryRowContext(ctx, "SELECT MD5(GROUP_CONCAT(REPEAT('t', seq % 100) SEPARATOR '')) FROM seq_1_to_20000").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT REPEAT('t', seq % 100) FROM seq_1_to_20000")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 20000 {
		t.Fatalf("rows=%d err=%v", n, err)
	}

	// A client that does not trust the CA is refused by its own check.
	untrusted, _ := tlsClient(t, e.dsn(""), &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"})
	if err := untrusted.PingContext(ctx); err == nil {
		t.Fatal("client with an empty trust store connected")
	}
	// TLS is optional here: a plain client still works.
	plain := openDB(t, e.dsn(""))
	if err := plain.PingContext(ctx); err != nil {
		t.Fatalf("plain client to a TLS-optional proxy: %v", err)
	}
	// go-sql-driver's tls=true with the proxy's cert is unverifiable: refused.
	strict := openDB(t, e.dsn("tls=true"))
	if err := strict.PingContext(ctx); err == nil {
		t.Fatal("tls=true accepted a certificate from an unknown CA")
	}
}

// TestRequireTLS: a proxy with RequireTLS refuses a plain client with 3159,
// the way MariaDB with require_secure_transport does, and serves TLS clients.
func TestRequireTLS(t *testing.T) {
	pki := newTestPKI(t)
	e := startEnv(t, envOptions{proxy: func(o *proxy.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
		o.RequireTLS = true
	}})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	db, hs := tlsClient(t, e.dsn(""), &tls.Config{RootCAs: pki.roots, ServerName: "127.0.0.1"})
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("TLS client: %v", err)
	}
	if hs.Load() == 0 {
		t.Fatal("no TLS handshake verified")
	}
	if len(e.srv.Sessions()) != 1 {
		t.Fatalf("sessions = %d, want 1", len(e.srv.Sessions()))
	}

	plain := openDB(t, e.dsn(""))
	plain.SetMaxIdleConns(0)
	err := plain.PingContext(ctx)
	if mysqlErrNo(err) != 3159 {
		t.Errorf("plain client (ping): got %v, want error 3159", err)
	}
	err = plain.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	if mysqlErrNo(err) != 3159 {
		t.Errorf("plain client (query): got %v, want error 3159", err)
	}
	// The refused client left no session behind.
	waitFor(t, 10*time.Second, "refused sessions to go", func() bool { return e.sessionCount() == 1 })
	// And the TLS session is unaffected.
	if err := db.QueryRowContext(ctx, "SELECT 2").Scan(&one); err != nil || one != 2 {
		t.Fatalf("TLS client after refusals: %v", err)
	}
}

// TestCachingSha2 covers caching_sha2_password clients: full authentication
// (cleartext over TLS, RSA without), then the fast path, and a wrong password.
func TestCachingSha2(t *testing.T) {
	pki := newTestPKI(t)
	e := startEnv(t, envOptions{proxy: func(o *proxy.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
		for i := range o.Users {
			o.Users[i].Plugin = "caching_sha2_password"
		}
	}})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	e.createOtherUser(t)
	tc := &tls.Config{RootCAs: pki.roots, ServerName: "127.0.0.1"}
	check := func(name, want string, db *sql.DB) {
		t.Helper()
		db.SetMaxIdleConns(0) // every query logs in anew
		for i := 0; i < 3; i++ {
			var user string
			if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&user); err != nil {
				t.Fatalf("%s, login %d: %v", name, i, err)
			}
			if user != want {
				t.Fatalf("%s: user %q, want %q", name, user, want)
			}
		}
	}
	// Each user's first login is a full authentication (the proxy's cache
	// is empty), the next ones take the fast path. Without TLS, go-sql-driver
	// asks for the server's RSA public key itself (it has no
	// allowPublicKeyRetrieval switch) and sends the password encrypted.
	check("RSA", "app@%", openDB(t, e.dsn("")))
	otherDB, hs := tlsClient(t, "other:other-secret@tcp("+e.addr+")/test", tc)
	check("TLS", "other@%", otherDB)
	if hs.Load() < 3 {
		t.Fatalf("TLS handshakes = %d", hs.Load())
	}
	tlsDB, _ := tlsClient(t, e.dsn(""), tc)
	check("TLS, cached user", "app@%", tlsDB)

	for _, d := range []struct {
		name string
		db   *sql.DB
	}{
		{"wrong over TLS", func() *sql.DB {
			db, _ := tlsClient(t, "app:nope@tcp("+e.addr+")/test", tc)
			return db
		}()},
		{"wrong over RSA", openDB(t, "app:nope@tcp("+e.addr+")/test")},
	} {
		err := d.db.PingContext(ctx)
		if mysqlErrNo(err) != 1045 {
			t.Errorf("%s: got %v, want 1045", d.name, err)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tlsDB.PingContext(ctx2); err != nil {
		t.Fatalf("after failures: %v", err)
	}
}

// TestCachingSha2PasswordRotation: after a reload changes a user's password,
// the old password must stop working, including through the
// caching_sha2_password fast path.
func TestCachingSha2PasswordRotation(t *testing.T) {
	e := startEnv(t, envOptions{proxy: func(o *proxy.Options) {
		for i := range o.Users {
			o.Users[i].Plugin = "caching_sha2_password"
		}
	}})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	old := openDB(t, e.dsn(""))
	old.SetMaxIdleConns(0)
	for i := 0; i < 2; i++ { // full auth, then the fast path
		if err := old.PingContext(ctx); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	e.srv.SetUsers([]proxy.User{{Name: "app", Password: "rotated-secret", Plugin: "caching_sha2_password"}})
	if err := old.PingContext(ctx); mysqlErrNo(err) != 1045 {
		t.Errorf("old password after rotation: got %v, want 1045", err)
	}
	fresh := openDB(t, "app:rotated-secret@tcp("+e.addr+")/test")
	if err := fresh.PingContext(ctx); err != nil {
		t.Errorf("new password after rotation: %v", err)
	}
}
