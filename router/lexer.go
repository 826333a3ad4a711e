package router

// tokKind is the coarse class of a lexical token. The lexer never allocates:
// every token's text is a substring of the input.
type tokKind uint8

const (
	tkEOF    tokKind = iota
	tkWord           // bare word: keyword or unquoted identifier
	tkQuoted         // `backquoted identifier`
	tkString         // 'single' or "double" quoted string (also x'..' tails, N'..')
	tkNumber         // 123, 1.5e3, 0x1F, .5
	tkVar            // @user_var, @'quoted', @`quoted`
	tkSysVar         // @@var, @@session.var, @@global.var
	tkAssign         // :=
	tkPunct          // any other single byte: ( ) , ; = . * ...
	tkParam          // ?
)

type token struct {
	kind  tokKind
	text  string
	start int // byte offset of the token in the input
	end   int
}

func (t token) is(c byte) bool { return t.kind == tkPunct && len(t.text) == 1 && t.text[0] == c }

// lexer is a hand-written MySQL/MariaDB tokenizer that is just precise enough
// for routing: it gets quoting, escaping and comments right (so keywords
// inside strings or comments are never seen) and treats the content of
// executable comments (/*! ... */, /*!50100 ... */, /*M! ... */) as SQL, as
// the server does.
type lexer struct {
	s      string
	pos    int
	inExec bool // inside an executable comment: its closing */ is skipped
	hint   Hint // strongest routing hint found in a comment so far
	// bsQuote records a backslash before a quote inside a string literal.
	// Under NO_BACKSLASH_ESCAPES such a literal ends earlier than we think,
	// so the classifier treats text that has one and also a ';' as unsure.
	bsQuote bool
	// lastEnd and lastKind describe the previous token, to tell the '@' of
	// an account name ('u'@'%', root@localhost) from a user variable.
	lastEnd  int
	lastKind tokKind
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip passes over whitespace and comments, noting routing hints.
func (l *lexer) skip() {
	s := l.s
	for l.pos < len(s) {
		c := s[l.pos]
		switch {
		case isSpace(c):
			l.pos++
		case c == '#':
			l.lineComment(l.pos + 1)
		case c == '-' && l.pos+1 < len(s) && s[l.pos+1] == '-' &&
			(l.pos+2 == len(s) || isSpace(s[l.pos+2]) || s[l.pos+2] < ' '):
			l.lineComment(l.pos + 2)
		case c == '/' && l.pos+1 < len(s) && s[l.pos+1] == '*':
			if l.execStart() {
				continue
			}
			body := l.pos + 2
			end := indexFrom(s, body, "*/")
			if end < 0 {
				// Unterminated comment: the server rejects the statement;
				// whatever we return, the remainder is not SQL.
				l.noteHint(s[body:])
				l.pos = len(s)
				return
			}
			l.noteHint(s[body:end])
			l.pos = end + 2
		case c == '*' && l.inExec && l.pos+1 < len(s) && s[l.pos+1] == '/':
			l.inExec = false
			l.pos += 2
		default:
			return
		}
	}
}

// execStart recognises /*!, /*!NNNNN, /*M!, /*M!NNNNNN and enters the comment
// as if its delimiters were whitespace.
func (l *lexer) execStart() bool {
	s := l.s
	p := l.pos + 2
	if p < len(s) && (s[p] == 'M' || s[p] == 'm') && p+1 < len(s) && s[p+1] == '!' {
		p++
	}
	if p >= len(s) || s[p] != '!' || l.inExec {
		return false
	}
	p++
	for p < len(s) && isDigit(s[p]) {
		p++
	}
	l.inExec = true
	l.pos = p
	return true
}

func (l *lexer) lineComment(body int) {
	end := body
	for end < len(l.s) && l.s[end] != '\n' {
		end++
	}
	l.noteHint(l.s[body:end])
	l.pos = end
}

func indexFrom(s string, from int, sub string) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i] == sub[0] && s[i+1] == sub[1] {
			return i
		}
	}
	return -1
}

// noteHint looks for a routing hint at the start of a comment body:
// "switchyard:master", "sy:replica", ... (see the package documentation).
func (l *lexer) noteHint(body string) {
	i := 0
	for i < len(body) && isSpace(body[i]) {
		i++
	}
	body = body[i:]
	var rest string
	switch {
	case hasPrefixFold(body, "switchyard:"):
		rest = body[len("switchyard:"):]
	case hasPrefixFold(body, "sy:"):
		rest = body[len("sy:"):]
	default:
		return
	}
	j := 0
	for j < len(rest) && isWordByte(rest[j]) {
		j++
	}
	h := HintNone
	switch w := rest[:j]; {
	case eqFold(w, "master"), eqFold(w, "primary"):
		h = HintMaster
	case eqFold(w, "replica"), eqFold(w, "slave"):
		h = HintReplica
	default:
		return
	}
	// Conflicting hints: the master wins (it is always correct).
	if l.hint != HintMaster {
		l.hint = h
	}
}

// next returns the next token; at the end of input it returns tkEOF forever.
func (l *lexer) next() token {
	l.skip()
	s := l.s
	start := l.pos
	if start >= len(s) {
		return token{kind: tkEOF, start: len(s), end: len(s)}
	}
	c := s[start]
	kind := tkPunct
	p := start + 1
	switch {
	case c == '\'' || c == '"':
		p = l.quoted(start, c)
		kind = tkString
	case c == '`':
		p = l.quoted(start, c)
		kind = tkQuoted
	case isDigit(c) || c == '.' && p < len(s) && isDigit(s[p]):
		p = l.number(start)
		kind = tkNumber
	case isWordByte(c):
		for p < len(s) && isWordByte(s[p]) {
			p++
		}
		kind = tkWord
	case c == '@' && start == l.lastEnd && start > 0 &&
		(l.lastKind == tkWord || l.lastKind == tkString || l.lastKind == tkQuoted):
		// user@host: a plain '@' punctuation token.
	case c == '@':
		if p < len(s) && s[p] == '@' {
			p++
			for p < len(s) && (isWordByte(s[p]) || s[p] == '.') {
				p++
			}
			if p < len(s) && s[p] == '`' { // @@session.`var`
				p = l.quoted(p, '`')
			}
			kind = tkSysVar
		} else if p < len(s) && (s[p] == '\'' || s[p] == '"' || s[p] == '`') {
			p = l.quoted(p, s[p])
			kind = tkVar
		} else if p < len(s) && (isWordByte(s[p]) || s[p] == '.') {
			for p < len(s) && (isWordByte(s[p]) || s[p] == '.') {
				p++
			}
			kind = tkVar
		}
	case c == ':' && p < len(s) && s[p] == '=':
		p++
		kind = tkAssign
	case c == '?':
		kind = tkParam
	}
	l.pos = p
	l.lastEnd, l.lastKind = p, kind
	return token{kind: kind, text: s[start:p], start: start, end: p}
}

// quoted returns the offset just past the literal starting at start. A
// doubled quote is an escaped quote; a backslash escapes the next byte.
func (l *lexer) quoted(start int, q byte) int {
	s := l.s
	p := start + 1
	for p < len(s) {
		c := s[p]
		if c == '\\' && q != '`' {
			if p+1 < len(s) && (s[p+1] == '\'' || s[p+1] == '"') || p+1 == len(s) {
				l.bsQuote = true
			}
			p += 2
			continue
		}
		if c == q {
			if p+1 < len(s) && s[p+1] == q {
				p += 2
				continue
			}
			return p + 1
		}
		p++
	}
	return len(s)
}

func (l *lexer) number(start int) int {
	s := l.s
	p := start
	for p < len(s) {
		c := s[p]
		if isWordByte(c) || c == '.' {
			if (c == 'e' || c == 'E') && p+1 < len(s) && (s[p+1] == '+' || s[p+1] == '-') &&
				p > start && (isDigit(s[p-1]) || s[p-1] == '.') && !(p-start >= 2 && (s[start+1] == 'x' || s[start+1] == 'X')) {
				p += 2
				continue
			}
			p++
			continue
		}
		break
	}
	return p
}

// eqFold reports whether s equals the lower-case ASCII word w, ignoring case.
func eqFold(s, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, w string) bool {
	return len(s) >= len(w) && eqFold(s[:len(w)], w)
}

// lower writes the ASCII lower-case form of s into buf; it returns false if s
// does not fit (no keyword we look for is that long).
func lower(buf *[40]byte, s string) (int, bool) {
	if len(s) > len(buf) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return len(s), true
}
