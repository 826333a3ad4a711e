package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Commands (first byte of a client command packet).
const (
	ComQuit             = 0x01
	ComInitDB           = 0x02
	ComQuery            = 0x03
	ComFieldList        = 0x04
	ComStatistics       = 0x09
	ComProcessKill      = 0x0c
	ComPing             = 0x0e
	ComChangeUser       = 0x11
	ComStmtPrepare      = 0x16
	ComStmtExecute      = 0x17
	ComStmtSendLongData = 0x18
	ComStmtClose        = 0x19
	ComStmtReset        = 0x1a
	ComSetOption        = 0x1b
	ComStmtFetch        = 0x1c
	ComResetConnection  = 0x1f
)

// Response packet markers.
const (
	OKHeader     = 0x00
	EOFHeader    = 0xfe
	ErrHeader    = 0xff
	InfileHeader = 0xfb
)

// Server status flags.
const (
	StatusInTrans             = 0x0001
	StatusAutocommit          = 0x0002
	StatusMoreResultsExists   = 0x0008
	StatusCursorExists        = 0x0040
	StatusLastRowSent         = 0x0080
	StatusInTransReadOnly     = 0x2000
	StatusSessionStateChanged = 0x4000
)

// Capability flags the relay cares about.
const (
	ClientFoundRows       = 0x00000002
	ClientConnectWithDB   = 0x00000008
	ClientLocalFiles      = 0x00000080
	ClientIgnoreSpace     = 0x00000100
	ClientProtocol41      = 0x00000200
	ClientSSL             = 0x00000800
	ClientTransactions    = 0x00002000
	ClientMultiStatements = 0x00010000
	ClientMultiResults    = 0x00020000
	ClientPSMultiResults  = 0x00040000
	ClientPluginAuth      = 0x00080000
	ClientConnectAttrs    = 0x00100000
	ClientSessionTrack    = 0x00800000
	ClientDeprecateEOF    = 0x01000000
	ClientQueryAttributes = 0x08000000
)

// IsEOF reports whether a response frame is an EOF packet (0xfe with a short
// payload; a longer one is a row starting with a 0xfe length prefix).
func IsEOF(f Frame) bool { return f.First == EOFHeader && f.Len < 9 }

// eofPayload is IsEOF for a frame's payload.
func eofPayload(p []byte) bool { return len(p) > 0 && p[0] == EOFHeader && len(p) < 9 }

// EOFStatus returns the status flags of an EOF packet payload.
func EOFStatus(p []byte) uint16 {
	if len(p) < 5 {
		return 0
	}
	return binary.LittleEndian.Uint16(p[3:5])
}

// OK is the decoded part of an OK packet the proxy uses.
type OK struct {
	AffectedRows uint64
	LastInsertID uint64
	Status       uint16
	Warnings     uint16
	Info         []byte // info (and session state, when tracked) as sent
}

var errShort = errors.New("short packet")

// ParseOK decodes an OK packet payload (first byte 0x00 or 0xfe).
func ParseOK(p []byte) (OK, error) {
	var ok OK
	if len(p) < 1 {
		return ok, errShort
	}
	pos := 1
	v, n := lenenc(p[pos:])
	if n == 0 {
		return ok, errShort
	}
	ok.AffectedRows = v
	pos += n
	v, n = lenenc(p[pos:])
	if n == 0 {
		return ok, errShort
	}
	ok.LastInsertID = v
	pos += n
	if len(p) < pos+4 {
		return ok, errShort
	}
	ok.Status = binary.LittleEndian.Uint16(p[pos:])
	ok.Warnings = binary.LittleEndian.Uint16(p[pos+2:])
	ok.Info = p[pos+4:]
	return ok, nil
}

// OKStatus returns the status flags of an OK packet, 0 when malformed.
func OKStatus(p []byte) uint16 {
	ok, err := ParseOK(p)
	if err != nil {
		return 0
	}
	return ok.Status
}

func lenenc(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case 0xfd:
		if len(b) < 4 {
			return 0, 0
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case 0xfe:
		if len(b) < 9 {
			return 0, 0
		}
		return binary.LittleEndian.Uint64(b[1:]), 9
	case 0xfb, 0xff:
		return 0, 1
	default:
		return uint64(b[0]), 1
	}
}

// LenEnc decodes a length-encoded integer, returning the value and the
// number of bytes used (0 when b is too short).
func LenEnc(b []byte) (uint64, int) { return lenenc(b) }

// AppendLenEnc appends n as a length-encoded integer.
func AppendLenEnc(b []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	default:
		return append(b, 0xfe, byte(n), byte(n>>8), byte(n>>16), byte(n>>24),
			byte(n>>32), byte(n>>40), byte(n>>48), byte(n>>56))
	}
}

// Error is a MySQL error as carried by an ERR packet.
type Error struct {
	Code    uint16
	State   string // five characters
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.State, e.Message) }

// NewError builds an Error.
func NewError(code uint16, state, format string, args ...any) *Error {
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

// ParseErr decodes an ERR packet payload (protocol 4.1).
func ParseErr(p []byte) *Error {
	e := &Error{State: "HY000"}
	if len(p) < 3 {
		e.Message = "malformed error packet"
		return e
	}
	e.Code = binary.LittleEndian.Uint16(p[1:3])
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.State = string(rest[1:6])
		rest = rest[6:]
	}
	e.Message = string(rest)
	return e
}

// AppendErr encodes e as an ERR packet payload.
func AppendErr(b []byte, e *Error) []byte {
	state := e.State
	if len(state) != 5 {
		state = "HY000"
	}
	b = append(b, ErrHeader, byte(e.Code), byte(e.Code>>8), '#')
	b = append(b, state...)
	return append(b, e.Message...)
}

// AppendOK encodes an OK packet payload.
func AppendOK(b []byte, affected, insertID uint64, status, warnings uint16) []byte {
	b = append(b, OKHeader)
	b = AppendLenEnc(b, affected)
	b = AppendLenEnc(b, insertID)
	return append(b, byte(status), byte(status>>8), byte(warnings), byte(warnings>>8))
}

// AppendEOF encodes an EOF packet payload.
func AppendEOF(b []byte, warnings, status uint16) []byte {
	return append(b, EOFHeader, byte(warnings), byte(warnings>>8), byte(status), byte(status>>8))
}

// WriteError writes an ERR packet with the connection's next sequence
// number and flushes.
func (c *Conn) WriteError(e *Error) error {
	if err := c.WritePacket(AppendErr(nil, e)); err != nil {
		return err
	}
	return c.Flush()
}
