package wire

// Session tracking (CLIENT_SESSION_TRACK). Switchyard's backend connections
// always negotiate it so the OK packet after a write carries the write's
// GTID; a client that did not ask for it gets OK packets in the plain format.

// Session state change types.
const (
	TrackSystemVariables = 0x00
	TrackSchema          = 0x01
	TrackStateChange     = 0x02
	TrackGTIDs           = 0x03
)

// TrackedOK splits the tail of an OK packet sent with session tracking into
// the info string and the session state block (nil when absent).
func TrackedOK(ok OK) (info, state []byte, good bool) {
	rest := ok.Info
	if len(rest) == 0 {
		return nil, nil, true
	}
	n, k := lenenc(rest)
	if k == 0 || uint64(len(rest)-k) < n {
		return nil, nil, false
	}
	info = rest[k : k+int(n)]
	rest = rest[k+int(n):]
	if ok.Status&StatusSessionStateChanged == 0 || len(rest) == 0 {
		return info, nil, true
	}
	n, k = lenenc(rest)
	if k == 0 || uint64(len(rest)-k) < n {
		return info, nil, false
	}
	return info, rest[k : k+int(n)], true
}

// StateVariable returns the value of a tracked system variable in a session
// state block, and the tracked GTIDs (MySQL's session_track_gtids).
func StateVariable(state []byte, name string) (val string, ok bool) {
	for len(state) > 0 {
		typ := state[0]
		n, k := lenenc(state[1:])
		if k == 0 || uint64(len(state)-1-k) < n {
			return val, ok
		}
		data := state[1+k : 1+k+int(n)]
		state = state[1+k+int(n):]
		switch typ {
		case TrackSystemVariables:
			nl, k1 := lenenc(data)
			if k1 == 0 || uint64(len(data)-k1) < nl {
				continue
			}
			vname := data[k1 : k1+int(nl)]
			rest := data[k1+int(nl):]
			vl, k2 := lenenc(rest)
			if k2 == 0 || uint64(len(rest)-k2) < vl {
				continue
			}
			if string(vname) == name {
				val, ok = string(rest[k2:k2+int(vl)]), true
			}
		case TrackGTIDs:
			if name != "" || len(data) < 1 {
				continue
			}
			// encoding specification byte, then the GTID set string
			gl, k1 := lenenc(data[1:])
			if k1 == 0 || uint64(len(data)-1-k1) < gl {
				continue
			}
			val, ok = string(data[1+k1:1+k1+int(gl)]), true
		}
	}
	return val, ok
}

// StateSchema returns the new default database from a session state block
// (session_track_schema).
func StateSchema(state []byte) (string, bool) {
	var db string
	found := false
	for len(state) > 0 {
		typ := state[0]
		n, k := lenenc(state[1:])
		if k == 0 || uint64(len(state)-1-k) < n {
			return db, found
		}
		data := state[1+k : 1+k+int(n)]
		state = state[1+k+int(n):]
		if typ == TrackSchema {
			l, k1 := lenenc(data)
			if k1 > 0 && uint64(len(data)-k1) >= l {
				db, found = string(data[k1:k1+int(l)]), true
			}
		}
	}
	return db, found
}

// AppendPlainOK re-encodes an OK packet for a client without session
// tracking: the info string moves to the end unprefixed, the state block and
// the state-changed flag go.
func AppendPlainOK(b []byte, first byte, ok OK, info []byte) []byte {
	b = append(b, first)
	b = AppendLenEnc(b, ok.AffectedRows)
	b = AppendLenEnc(b, ok.LastInsertID)
	st := ok.Status &^ StatusSessionStateChanged
	b = append(b, byte(st), byte(st>>8), byte(ok.Warnings), byte(ok.Warnings>>8))
	return append(b, info...)
}
