package wire

import (
	"bufio"
	"bytes"
	"io"
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

// chunkReader returns its data in pieces of the given sizes, as a socket
// does, so the read buffer holds partial frames at arbitrary points.
type chunkReader struct {
	data   []byte
	chunks []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.chunks) > 0 {
		n = int(r.chunks[0])%97 + 1
		r.chunks = r.chunks[1:]
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// However the frames arrive, relaying them with any mix of NextFrame and
// ForwardFrame, ForwardFrames and ForwardRows passes the stream on byte for
// byte, and NextFrame reports each frame's length, sequence and payload.
func FuzzFrameForward(f *testing.F) {
	f.Add([]byte{5, 0, 1, 200, 3, 9}, []byte{1, 2, 3}, []byte{0, 1, 2})
	f.Add([]byte{0, 255, 255, 1}, []byte{90}, []byte{1, 1, 1, 1})
	f.Add([]byte{1, 2, 3, 0, 4}, []byte{}, []byte{0})          // whole frames buffered: NextFrame in place
	f.Add([]byte{7, 1, 2, 40, 3}, []byte{30, 5}, []byte{2, 0}) // rows, then frames split across reads
	f.Add([]byte{4, 255, 6, 255}, []byte{}, []byte{0, 1, 2})   // frames over the hold limit stream through
	f.Fuzz(func(t *testing.T, sizes, chunks, ops []byte) {
		var in []byte
		var want []Frame
		for i, sz := range sizes {
			n := int(sz) * 3 // up to 765 bytes: larger than the 256-byte buffer below
			if sz == 255 {
				n = peekLimit + 1000 // streamed through, never held
			}
			p := bytes.Repeat([]byte{byte(i)}, n)
			if n > 0 && i%5 == 0 {
				p[0] = EOFHeader // lets ForwardRows stop on its own
			}
			want = append(want, Frame{Len: n, Seq: byte(i)})
			in = append(in, rowFrame(byte(i), p...)...)
		}
		src := &Conn{br: bufio.NewReaderSize(&chunkReader{data: in, chunks: chunks}, 256)}
		var out bytes.Buffer
		dst := &Conn{bw: bufio.NewWriter(&out)}
		next := 0
		for i := 0; next < len(want); i++ {
			op := byte(0)
			if len(ops) > 0 {
				op = ops[i%len(ops)] % 3
			}
			if op != 0 {
				name, fwd := "ForwardRows", src.ForwardRows
				if op == 1 {
					name, fwd = "ForwardFrames", func(dst *Conn) (int, uint8, error) { return src.ForwardFrames(dst, 1+i%4) }
				}
				k, seq, err := fwd(dst)
				if err != nil {
					t.Fatal(err)
				}
				if k > 0 && seq != want[next+k-1].Seq {
					t.Fatalf("%s: seq %d, want %d", name, seq, want[next+k-1].Seq)
				}
				if next += k; k > 0 {
					continue
				}
			}
			fr, err := src.NextFrame()
			if err != nil {
				t.Fatalf("frame %d: %v", next, err)
			}
			w := want[next]
			held := w.Len <= peekLimit
			if fr.Len != w.Len || fr.Seq != w.Seq || (held && len(fr.Payload) != w.Len) || (!held && fr.Payload != nil) ||
				(held && w.Len > 0 && fr.Payload[len(fr.Payload)-1] != byte(next)) {
				t.Fatalf("frame %d: len %d seq %d payload %d bytes; want len %d seq %d", next, fr.Len, fr.Seq, len(fr.Payload), w.Len, w.Seq)
			}
			if err := src.ForwardFrame(fr, dst); err != nil {
				t.Fatal(err)
			}
			next++
		}
		_ = dst.bw.Flush()
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("relayed %d bytes differ from the %d sent", out.Len(), len(in))
		}
	})
}
