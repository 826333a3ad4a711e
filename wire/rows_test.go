package wire

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

func rowFrame(seq byte, payload ...byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// ForwardRows passes on whole row frames already buffered and stops before
// the end of the rows, a partial frame, and anything else it must not judge.
func TestForwardRows(t *testing.T) {
	row1 := rowFrame(3, 1, 'a')
	row2 := rowFrame(4, 2, 'b', 'c')
	eof := rowFrame(5, EOFHeader, 0, 0, 2, 0)
	errp := rowFrame(5, ErrHeader, 0x28, 0x04, '#')
	bigFE := rowFrame(5, append([]byte{EOFHeader}, make([]byte, 9)...)...) // a row: 0xFE and 10 bytes
	cases := []struct {
		name  string
		in    []byte
		rows  int
		seq   uint8
		wrote []byte
	}{
		{"rows then EOF", concat(row1, row2, eof), 2, 4, concat(row1, row2)},
		{"rows then ERR", concat(row1, errp), 1, 3, row1},
		{"EOF first", concat(eof, row1), 0, 0, nil},
		{"partial frame", concat(row1, row2[:4]), 1, 3, row1},
		{"header only", row1[:3], 0, 0, nil},
		{"0xFE row of 10 bytes is a row", concat(bigFE, eof), 1, 5, bigFE},
		{"empty frame stops", concat(row1, rowFrame(4, []byte{}...)), 1, 3, row1},
	}
	for _, c := range cases {
		src := &Conn{br: bufio.NewReaderSize(bytes.NewReader(c.in), 4096)}
		_, _ = src.br.Peek(len(c.in)) // buffer what the "socket" has
		var out bytes.Buffer
		dst := &Conn{bw: bufio.NewWriter(&out)}
		rows, seq, err := src.ForwardRows(dst)
		_ = dst.bw.Flush()
		if err != nil || rows != c.rows || (rows > 0 && seq != c.seq) || !bytes.Equal(out.Bytes(), c.wrote) {
			t.Errorf("%s: rows %d seq %d err %v wrote %x; want %d %d %x", c.name, rows, seq, err, out.Bytes(), c.rows, c.seq, c.wrote)
		}
		if rest := src.br.Buffered(); rest != len(c.in)-len(c.wrote) {
			t.Errorf("%s: %d bytes left buffered, want %d", c.name, rest, len(c.in)-len(c.wrote))
		}
	}
	// A destination write failure is the client's (DstError).
	a, b := net.Pipe()
	b.Close()
	long := rowFrame(3, bytes.Repeat([]byte{'x'}, 64)...)
	src := &Conn{br: bufio.NewReaderSize(bytes.NewReader(concat(long, eof)), 4096)}
	_, _ = src.br.Peek(len(long) + len(eof))
	dst := &Conn{bw: bufio.NewWriterSize(a, 16)}
	if _, _, err := src.ForwardRows(dst); err == nil {
		t.Error("write to a closed client did not fail")
	} else if _, ok := err.(*DstError); !ok {
		t.Errorf("error %T, want *DstError", err)
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
