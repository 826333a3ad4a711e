package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/wire"
)

var timeNow = time.Now

// changeUser handles COM_CHANGE_USER: the client re-authenticates to us (we
// ask for mysql_native_password with a fresh scramble), then the session
// starts over as the new user, like a new connection.
func (s *Session) changeUser(ctx context.Context, pkt []byte) error {
	p := pkt[1:]
	i := bytes.IndexByte(p, 0)
	if i < 0 {
		return s.writeErr(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
	}
	user := string(p[:i])
	p = p[i+1:]
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return s.writeErr(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
	}
	p = p[1+int(p[0]):] // auth data for the old scramble: we ask again below
	db := ""
	if j := bytes.IndexByte(p, 0); j >= 0 {
		db = string(p[:j])
		p = p[j+1:]
	}
	coll := s.coll
	if len(p) >= 2 {
		coll = p[0]
	}
	// Auth switch to mysql_native_password with a new scramble.
	scramble := make([]byte, 20)
	_, _ = rand.Read(scramble)
	for k := range scramble {
		scramble[k] = scramble[k]&0x7f | 1 // printable-safe, no NUL
	}
	sw := append([]byte{0xfe}, "mysql_native_password\x00"...)
	sw = append(sw, scramble...)
	sw = append(sw, 0)
	s.cw.Seq = 1
	if err := s.cw.WritePacket(sw); err != nil {
		return err
	}
	if err := s.cw.Flush(); err != nil {
		return err
	}
	_ = s.cw.SetReadTimeout(s.srv.limits().HandshakeTimeout)
	resp, err := s.cw.ReadPacket(1024)
	_ = s.cw.SetReadTimeout(0)
	s.disarmIdle()
	if err != nil {
		return err
	}
	u, ok := (*s.srv.users.Load())[user]
	if !ok || !checkNative(u.Password, scramble, resp) {
		s.srv.stats.AuthFailures.Add(1)
		s.log.Warn("change user: authentication failed", "new_user", user)
		using := "YES"
		if len(resp) == 0 {
			using = "NO"
		}
		_ = s.cw.WriteError(wire.NewError(erAccessDenied, "28000", "Access denied for user '%s'@'%s' (using password: %s)", user, hostOf(s.remote), using))
		return errQuit
	}
	// Start over: the old backend goes back (reset), statements are gone.
	s.dropAll(false)
	clear(s.stmts)
	s.replay = s.replay[:0]
	s.pins = 0
	s.refreshPinned()
	clear(s.prepNames)
	s.txNode, s.txLost, s.lastNode = "", "", ""
	s.setReplicaNode("")
	s.syncTxOn()
	s.mu.Lock()
	s.user = user
	s.db = db
	s.mu.Unlock()
	s.coll = coll
	s.status = wire.StatusAutocommit
	s.log = s.srv.log.With("session", s.id, "user", user, "client", s.remote)
	if db != "" {
		// Check the database exists by connecting now.
		if _, _, err := s.pick(ctx, router.RouteMaster); err != nil {
			we := &wire.Error{}
			if !errors.As(err, &we) {
				we = wire.NewError(crConnHostError, "HY000", "switchyard: %v", err)
			}
			// The previous state is gone already: like a failed login, close.
			_ = s.cw.WriteError(we) // continues the sequence (3)
			return errQuit
		}
	}
	if err := s.cw.WritePacket(wire.AppendOK(nil, 0, 0, s.status, 0)); err != nil {
		return err
	}
	return s.cw.Flush()
}

// checkNative verifies a mysql_native_password answer:
// SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
func checkNative(password string, scramble, answer []byte) bool {
	if password == "" {
		return len(answer) == 0
	}
	if len(answer) != sha1.Size {
		return false
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	m := sha1.New()
	m.Write(scramble)
	m.Write(h2[:])
	x := m.Sum(nil)
	for i := range x {
		x[i] ^= h1[i]
	}
	return subtle.ConstantTimeCompare(x, answer) == 1
}

func hostOf(addr string) string {
	if i := bytes.LastIndexByte([]byte(addr), ':'); i > 0 {
		h := addr[:i]
		if len(h) > 1 && h[0] == '[' {
			h = h[1 : len(h)-1]
		}
		return h
	}
	return addr
}
