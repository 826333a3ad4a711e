package wire

// WholeResult reports whether b starts with one whole result set of a
// query or execution, ending the answer: a column count packet, the column
// definitions (when they follow: always, unless metadata caching left them
// out), an EOF, rows, and an EOF without SERVER_MORE_RESULTS_EXISTS or a
// cursor. It returns the bytes that make it up (headers included), its
// rows, the final status, and whether definitions followed. Anything else
// (an OK, an ERR, LOCAL INFILE, an ERR among the rows, more results, a
// cursor, a frame of MaxPayload bytes, an answer not all in b) gives ok
// false. cacheMeta: the column count packet carries MariaDB's "metadata
// follows" byte (ColumnCount).
func WholeResult(b []byte, cacheMeta bool) (n int, rows uint64, status uint16, defsFollow bool, ok bool) {
	n, rows, status, defsFollow, ok, _ = WholeResultShort(b, cacheMeta)
	return
}

// WholeResultShort is WholeResult, and with ok false it says whether b
// ended before the answer showed what it is (short: more bytes may make it
// whole) rather than the answer being of another shape.
func WholeResultShort(b []byte, cacheMeta bool) (n int, rows uint64, status uint16, defsFollow bool, ok bool, short bool) {
	// frame returns the payload of the frame at off and the offset after
	// it, or ok false when it is not all in b (short) or is a continued one.
	frame := func(off int) (p []byte, next int, ok bool) {
		if len(b)-off < 4 {
			short = true
			return nil, 0, false
		}
		l := frameLen(b[off:])
		if l >= MaxPayload {
			return nil, 0, false
		}
		if len(b)-off-4 < l {
			short = true
			return nil, 0, false
		}
		return b[off+4 : off+4+l], off + 4 + l, true
	}
	p, off, ok := frame(0)
	if !ok || len(p) == 0 || p[0] == OKHeader || p[0] == InfileHeader {
		return 0, 0, 0, false, false, short
	}
	ncols, follows, _, ok := ColumnCount(p, cacheMeta)
	if !ok || ncols > 1<<16 {
		return 0, 0, 0, false, false, short
	}
	if follows {
		for range ncols {
			if _, off, ok = frame(off); !ok {
				return 0, 0, 0, false, false, short
			}
		}
	}
	if p, off, ok = frame(off); !ok || !eofPayload(p) || EOFStatus(p)&StatusCursorExists != 0 {
		return 0, 0, 0, false, false, short
	}
	for {
		if p, off, ok = frame(off); !ok || (len(p) > 0 && p[0] == ErrHeader) {
			return 0, 0, 0, false, false, short
		}
		if eofPayload(p) {
			break
		}
		rows++
	}
	if st := EOFStatus(p); st&StatusMoreResultsExists == 0 {
		return off, rows, st, follows, true, false
	}
	return 0, 0, 0, false, false, short
}
