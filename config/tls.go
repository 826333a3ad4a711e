package config

import (
	"crypto/tls"
	"fmt"
)

// ClientTLS builds the server-side TLS config for client connections from the
// tls section, reading the files again (they may have been rotated since the
// config was loaded). It returns nil, nil when tls is not configured. When a
// CA is configured, a client certificate that is presented must verify
// against it, but clients without one are still accepted, as with MySQL's
// ssl-ca (accounts that need X509 are the server's business).
// Whether plain clients are refused is Config.TLS.Require, for the caller.
func (c *Config) ClientTLS() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	pair, err := loadKeyPair(c.TLS.Cert, c.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("config: tls: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}
	if c.TLS.CA != "" {
		pool, err := loadCAPool(c.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("config: tls.ca: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// BackendTLSConfig builds the client-side TLS config for backend connections.
// It returns nil, nil when backend_tls is absent or not enabled. With no
// server_name configured, ServerName is empty: the caller must Clone the
// config and set ServerName to the node's host before dialling (unless
// insecure_skip_verify is set), since one config serves every node.
func (c *Config) BackendTLSConfig() (*tls.Config, error) {
	b := c.BackendTLS
	if b == nil || !b.Enabled {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         b.ServerName,
		InsecureSkipVerify: b.InsecureSkipVerify, //nolint:gosec // operator's explicit choice
	}
	if b.CA != "" {
		pool, err := loadCAPool(b.CA)
		if err != nil {
			return nil, fmt.Errorf("config: backend_tls.ca: %w", err)
		}
		tc.RootCAs = pool
	}
	if b.Cert != "" || b.Key != "" {
		pair, err := loadKeyPair(b.Cert, b.Key)
		if err != nil {
			return nil, fmt.Errorf("config: backend_tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
