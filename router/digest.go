package router

// Normalize returns the statement's shape for grouping (the query_digest
// table): literals (strings, numbers, hex and bit literals) become ?, comments
// go (the content of executable comments stays, it is SQL), whitespace
// collapses to single spaces, bare words are lower-cased (quoted identifiers
// keep their case), and a parenthesised list made only of ? and commas becomes
// (...), repeated rows of such lists collapsing into one, so that IN lists and
// multi-row VALUES of any length share a digest.
func Normalize(sql string) string {
	buf := make([]byte, 0, len(sql))
	l := lexer{s: sql}
	var prev token
	tokOut := 0 // offset in buf of the previous token's text
	// listStart is the offset in buf of a '(' whose content so far is only
	// ? and commas; -1 when there is none.
	listStart := -1
	for {
		t := l.next()
		if t.kind == tkEOF {
			break
		}
		text := t.text
		literal := t.kind == tkString || t.kind == tkNumber
		switch {
		case literal && t.kind == tkString && prev.kind == tkWord && prev.end == t.start && isLiteralPrefix(prev.text):
			// x'0F', b'01', N'x', _utf8mb4'x': the prefix is part of the literal.
			buf = append(buf[:tokOut], '?')
			prev = token{kind: tkParam, end: t.end}
			continue
		case literal:
			text = "?"
		}
		if len(buf) > 0 && needSpace(prev, t, buf[tokOut:]) {
			buf = append(buf, ' ')
		}
		tokOut = len(buf)
		switch {
		case t.is('('):
			listStart = len(buf)
			buf = append(buf, '(')
		case t.is(')') && listStart >= 0 && listStart+1 < len(buf):
			// Only ? and commas since the '(': fold to (...); drop a row
			// that repeats the previous one.
			buf = buf[:listStart]
			tokOut = len(buf)
			if trimmed := trimRepeat(buf); trimmed >= 0 {
				buf = buf[:trimmed]
				tokOut = len(buf) - len("(...)")
			} else {
				buf = append(buf, "(...)"...)
			}
			listStart = -1
		default:
			if listStart >= 0 && !(text == "?" || t.is(',')) {
				listStart = -1
			}
			if t.kind == tkWord {
				buf = appendLower(buf, text)
			} else {
				buf = append(buf, text...)
			}
		}
		prev = t
		if literal {
			prev.kind = tkParam
		}
	}
	return string(buf)
}

// trimRepeat returns the length of buf without a trailing "(...)," (plus
// blanks) when buf ends with one, else -1.
func trimRepeat(buf []byte) int {
	n := len(buf)
	for n > 0 && buf[n-1] == ' ' {
		n--
	}
	if n == 0 || buf[n-1] != ',' {
		return -1
	}
	n--
	if n >= 5 && string(buf[n-5:n]) == "(...)" {
		return n
	}
	return -1
}

func isLiteralPrefix(w string) bool {
	return eqFold(w, "x") || eqFold(w, "b") || eqFold(w, "n") || len(w) > 1 && w[0] == '_'
}

func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// needSpace decides whether a space separates two tokens in normalized text;
// prevOut is the previous token as written.
func needSpace(prev, t token, prevOut []byte) bool {
	if prev.kind == tkEOF {
		return false
	}
	if prev.is('(') || prev.is('.') || prev.is('@') {
		return false
	}
	if t.is(')') || t.is(',') || t.is('.') || t.is(';') || t.is('@') {
		return false
	}
	if t.is('(') && (prev.kind == tkWord && !clauseWord(prevOut) || prev.kind == tkQuoted) {
		return false // function call or table(columns)
	}
	return true
}

// Digest is a 64-bit FNV-1a hash of Normalize(sql): statements with the same
// shape get the same digest.
func Digest(sql string) uint64 {
	n := Normalize(sql)
	h := uint64(14695981039346656037)
	for i := 0; i < len(n); i++ {
		h ^= uint64(n[i])
		h *= 1099511628211
	}
	return h
}

// clauseWord reports whether a lower-cased word is a keyword that a
// parenthesis follows as an operand, not as a call.
func clauseWord(w []byte) bool {
	switch string(w) {
	case "in", "values", "value", "select", "as", "and", "or", "not", "on", "from", "where", "exists",
		"using", "join", "union", "all", "any", "some", "when", "then", "else", "is", "like", "between",
		"into", "set", "by", "returning", "with", "over", "xor", "row", "key", "table":
		return true
	}
	return false
}
