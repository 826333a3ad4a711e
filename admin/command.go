package admin

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is what an admin statement asks for.
type Kind int

const (
	KindQuery        Kind = iota // SELECT / WITH: run on the virtual tables
	KindShowTopology             // SHOW TOPOLOGY
	KindShowTables               // SHOW TABLES
	KindSwitchover               // SWITCHOVER [TO 'node']
	KindFailover                 // FAILOVER [TO 'node']
	KindSetNode                  // SET NODE 'node' OFFLINE | ONLINE | MAINTENANCE
	KindAcknowledge              // ACKNOWLEDGE FAILOVER
	KindReload                   // RELOAD CONFIG
	KindKill                     // KILL SESSION n
	KindDrill                    // DRILL 'scenario' [CONFIRM]
	KindSession                  // SET NAMES/autocommit/..., USE: accepted, no effect
	KindVariable                 // SELECT @@var (what client libraries ask on connect)
	KindEmpty                    // only whitespace / comments / ';'
)

// Command is a parsed admin statement.
type Command struct {
	Kind     Kind
	Node     string // SWITCHOVER/FAILOVER target, SET NODE node
	State    string // SET NODE: offline | online | maintenance
	ID       uint32 // KILL SESSION
	Scenario string // DRILL
	Confirm  bool   // DRILL ... CONFIRM
	SQL      string // KindQuery: the statement for the SQL engine; KindVariable: the variable
}

// ParseError is a statement the admin port does not understand.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

// Usage lists the admin commands, for errors.
const Usage = "admin commands: SELECT ... FROM nodes|sessions|events|query_digest|pools|config|metrics|problems|drill_progress, " +
	"SHOW TOPOLOGY, SHOW TABLES, SWITCHOVER [TO 'node'], FAILOVER [TO 'node'], " +
	"SET NODE 'node' OFFLINE|ONLINE|MAINTENANCE, ACKNOWLEDGE FAILOVER, RELOAD CONFIG, KILL SESSION n, DRILL 'scenario' [CONFIRM]"

// Parse reads one admin statement. SELECT (and WITH) statements are passed
// through for the SQL engine; the commands are recognised here, keywords
// case-insensitive, node names quoted ('db1', "db1", `db1`) or bare.
func Parse(q string) (Command, error) {
	toks, err := tokenize(q)
	if err != nil {
		return Command{}, err
	}
	if len(toks) == 0 {
		return Command{Kind: KindEmpty}, nil
	}
	p := &parser{toks: toks}
	first := toks[0]
	if first.quoted {
		return Command{}, syntaxErr(first.text)
	}
	switch strings.ToUpper(first.text) {
	case "SELECT", "WITH", "VALUES":
		if v, ok := variableQuery(toks); ok {
			return Command{Kind: KindVariable, SQL: v}, nil
		}
		return Command{Kind: KindQuery, SQL: strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")}, nil
	case "SHOW":
		p.next()
		switch {
		case p.keyword("TOPOLOGY"):
			return p.end(Command{Kind: KindShowTopology})
		case p.keyword("FULL"):
			if !p.keyword("TABLES") {
				return Command{}, p.expected("TABLES")
			}
			return p.end(Command{Kind: KindShowTables})
		case p.keyword("TABLES"):
			return p.end(Command{Kind: KindShowTables})
		case p.keyword("DATABASES"):
			return Command{Kind: KindQuery, SQL: "SELECT 'switchyard' AS `Database`"}, nil
		}
		return Command{}, p.expected("TOPOLOGY or TABLES")
	case "SWITCHOVER", "FAILOVER":
		kind := KindSwitchover
		if strings.EqualFold(first.text, "FAILOVER") {
			kind = KindFailover
		}
		p.next()
		c := Command{Kind: kind}
		if p.keyword("TO") {
			n, err := p.name("node name")
			if err != nil {
				return Command{}, err
			}
			c.Node = n
		}
		return p.end(c)
	case "SET":
		p.next()
		if !p.keyword("NODE") {
			return Command{Kind: KindSession}, nil // SET NAMES, SET autocommit=1, ...
		}
		n, err := p.name("node name")
		if err != nil {
			return Command{}, err
		}
		c := Command{Kind: KindSetNode, Node: n}
		switch {
		case p.keyword("OFFLINE"):
			c.State = "offline"
		case p.keyword("ONLINE"):
			c.State = "online"
		case p.keyword("MAINTENANCE"):
			c.State = "maintenance"
		default:
			return Command{}, p.expected("OFFLINE, ONLINE or MAINTENANCE")
		}
		return p.end(c)
	case "ACKNOWLEDGE":
		p.next()
		if !p.keyword("FAILOVER") {
			return Command{}, p.expected("FAILOVER")
		}
		return p.end(Command{Kind: KindAcknowledge})
	case "RELOAD":
		p.next()
		if !p.keyword("CONFIG") {
			return Command{}, p.expected("CONFIG")
		}
		return p.end(Command{Kind: KindReload})
	case "KILL":
		p.next()
		// KILL n alone is accepted as well: it is what a DBA types.
		_ = p.keyword("SESSION") || p.keyword("CONNECTION")
		t, ok := p.peek()
		if !ok || t.quoted {
			return Command{}, p.expected("a session id")
		}
		id, err := strconv.ParseUint(t.text, 10, 32)
		if err != nil || id == 0 {
			return Command{}, &ParseError{Msg: fmt.Sprintf("KILL SESSION: %q is not a session id (a positive number from the sessions table)", t.text)}
		}
		p.next()
		return p.end(Command{Kind: KindKill, ID: uint32(id)})
	case "DRILL":
		p.next()
		s, err := p.name("scenario")
		if err != nil {
			return Command{}, err
		}
		c := Command{Kind: KindDrill, Scenario: strings.ToLower(s)}
		if p.keyword("CONFIRM") {
			c.Confirm = true
		}
		return p.end(c)
	case "USE", "BEGIN", "COMMIT", "ROLLBACK":
		return Command{Kind: KindSession}, nil
	}
	return Command{}, syntaxErr(first.text)
}

func syntaxErr(word string) error {
	return &ParseError{Msg: fmt.Sprintf("unknown admin statement %q; %s", word, Usage)}
}

// variableQuery recognises SELECT @@var [LIMIT n] (the mariadb client asks
// for @@version_comment on connect): SQLite has no @@ variables.
func variableQuery(toks []token) (string, bool) {
	if len(toks) < 2 || !strings.EqualFold(toks[0].text, "SELECT") || toks[1].quoted || !strings.HasPrefix(toks[1].text, "@@") {
		return "", false
	}
	if len(toks) != 2 && !(len(toks) == 4 && strings.EqualFold(toks[2].text, "LIMIT")) {
		return "", false
	}
	v := strings.ToLower(strings.TrimPrefix(toks[1].text, "@@"))
	v = strings.TrimPrefix(v, "session.")
	v = strings.TrimPrefix(v, "global.")
	return v, true
}

type token struct {
	text   string
	quoted bool
}

// tokenize splits into words and quoted strings; comments and a trailing
// ';' are dropped. Punctuation other than ';' sticks to words (only
// SELECTs, passed through whole, contain any).
func tokenize(q string) ([]token, error) {
	var out []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';':
			i++
		case c == '#' || (c == '-' && i+1 < len(q) && q[i+1] == '-'):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, &ParseError{Msg: "unterminated comment"}
			}
			i += end + 4
		case c == '\'' || c == '"' || c == '`':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(q) {
				if q[j] == '\\' && c != '`' && j+1 < len(q) {
					b.WriteByte(q[j+1])
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(q[j])
				j++
			}
			if !closed {
				return nil, &ParseError{Msg: fmt.Sprintf("unterminated quoted string starting at offset %d", i)}
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\r\n;'\"`", rune(q[j])) {
				j++
			}
			out = append(out, token{text: q[i:j]})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) next() { p.pos++ }

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

// keyword consumes an unquoted word equal to kw, ignoring case.
func (p *parser) keyword(kw string) bool {
	t, ok := p.peek()
	if !ok || t.quoted || !strings.EqualFold(t.text, kw) {
		return false
	}
	p.pos++
	return true
}

// name consumes a node or scenario name: quoted, or a bare identifier.
func (p *parser) name(what string) (string, error) {
	t, ok := p.peek()
	if !ok {
		return "", p.expected(what)
	}
	if !t.quoted && !validName(t.text) {
		return "", p.expected(what)
	}
	if t.text == "" {
		return "", &ParseError{Msg: "empty " + what}
	}
	p.pos++
	return t.text, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (p *parser) end(c Command) (Command, error) {
	if t, ok := p.peek(); ok {
		return Command{}, &ParseError{Msg: fmt.Sprintf("unexpected %q at the end of the statement; %s", t.text, Usage)}
	}
	return c, nil
}

func (p *parser) expected(what string) error {
	at := "the end of the statement"
	if t, ok := p.peek(); ok {
		at = fmt.Sprintf("%q", t.text)
	}
	return &ParseError{Msg: fmt.Sprintf("expected %s at %s", what, at)}
}
