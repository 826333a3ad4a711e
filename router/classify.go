// Package router holds Switchyard's pure routing decisions. This file is the
// statement classifier: given the SQL text of a COM_QUERY (or of a
// COM_STMT_PREPARE) it says what kind of statement it is, whether it must run
// on the master, and how it changes the session (pins, session variables to
// replay, transaction boundaries). It uses a hand-written lexer and never
// parses fully; whenever it is unsure it answers Master=true.
//
// # Routing hints
//
// A comment whose body starts with "switchyard:" or "sy:" followed by
// "master" (or "primary") or "replica" (or "slave") is a routing hint for the
// statement text it appears in. Case is ignored and leading blanks in the
// comment are allowed; the comment may be anywhere in the text:
//
//	/* switchyard:master */ SELECT balance FROM accounts WHERE id = 1
//	SELECT * FROM big_report /* sy:replica */
//	-- sy:replica
//	SELECT LAST_INSERT_ID()
//
// A master hint forces Master=true. A replica hint only relaxes the classifier's
// "session-state" reasons for sending a read to the master (LAST_INSERT_ID(),
// LASTVAL(), @@global reads, MASTER_GTID_WAIT, SHOW MASTER STATUS, ...): it
// never lets a write, a locking read, SELECT ... INTO, a pinning statement or a
// function with side effects leave the master. If both hints appear, master
// wins. Hints inside executable comments (/*! ... */) are SQL, not hints.
//
// # Known limits
//
//   - Stored functions called from a SELECT may write; unqualified calls to
//     functions other than the built-ins listed in keywords.go are taken as
//     reads. Use a master hint for such statements.
//   - Under NO_BACKSLASH_ESCAPES a literal like 'a\' ends earlier than the
//     lexer thinks; a text with such a literal and a ';' is sent to the master.
//   - CREATE and ALTER statements run to the end of the text (stored program
//     bodies contain semicolons), so "CREATE ...; INSERT ..." is one DDL
//     statement (still Master=true) and not Multi.
package router

import (
	"strconv"
	"strings"
)

// Kind is the kind of a statement.
type Kind uint8

const (
	KindOther           Kind = iota // unknown, admin or empty: always Master
	KindRead                        // SELECT, TABLE, VALUES, WITH ... SELECT
	KindShow                        // SHOW, DESCRIBE/DESC, EXPLAIN (not EXPLAIN ANALYZE), HELP, GET DIAGNOSTICS
	KindWrite                       // INSERT, REPLACE, UPDATE, DELETE, LOAD DATA/XML, WITH ... UPDATE/DELETE
	KindDDL                         // CREATE, ALTER, DROP, RENAME, TRUNCATE, GRANT, REVOKE, ANALYZE/OPTIMIZE/REPAIR/CHECK TABLE, FLUSH, SET PASSWORD
	KindTxBegin                     // BEGIN, START TRANSACTION [READ WRITE | WITH CONSISTENT SNAPSHOT]
	KindTxBeginReadOnly             // START TRANSACTION READ ONLY
	KindTxCommit                    // COMMIT [WORK] [AND [NO] CHAIN] (see Chain)
	KindTxRollback                  // ROLLBACK [WORK] [AND [NO] CHAIN]
	KindTxSavepoint                 // SAVEPOINT n, RELEASE SAVEPOINT n, ROLLBACK TO [SAVEPOINT] n (Name)
	KindSet                         // SET of variables, NAMES, CHARACTER SET, TRANSACTION, ROLE
	KindUse                         // USE db (Name)
	KindCall                        // CALL
	KindDo                          // DO
	KindPrepare                     // text PREPARE name FROM ... (Name)
	KindExecute                     // text EXECUTE name [USING ...] (Name), EXECUTE IMMEDIATE
	KindDeallocate                  // DEALLOCATE PREPARE name, DROP PREPARE name (Name)
	KindLockTables                  // LOCK TABLE(S)
	KindUnlockTables                // UNLOCK TABLE(S)
	KindXA                          // XA ...
	KindHandler                     // HANDLER ...
	KindKill                        // KILL [HARD|SOFT] [CONNECTION|QUERY] ... (KillID, KillQuery)
)

var kindNames = [...]string{"Other", "Read", "Show", "Write", "DDL", "TxBegin", "TxBeginReadOnly",
	"TxCommit", "TxRollback", "TxSavepoint", "Set", "Use", "Call", "Do", "Prepare", "Execute",
	"Deallocate", "LockTables", "UnlockTables", "XA", "Handler", "Kill"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsTx reports whether k is a transaction-control kind.
func (k Kind) IsTx() bool { return k >= KindTxBegin && k <= KindTxSavepoint }

// PinReason is a set of reasons why a session must stay on the master.
type PinReason uint16

const (
	PinTempTable  PinReason = 1 << iota // CREATE TEMPORARY TABLE (DROP TEMPORARY TABLE does not unpin: others may remain)
	PinUserVar                          // SET @v, @v := ..., SELECT ... INTO @v
	PinGetLock                          // GET_LOCK(); only RELEASE_ALL_LOCKS() unpins
	PinLockTables                       // LOCK TABLES, FLUSH TABLES ... WITH READ LOCK; UNLOCK TABLES unpins
	PinPrepare                          // text PREPARE; DEALLOCATE unpins one name (track Name)
	PinFoundRows                        // SQL_CALC_FOUND_ROWS: the next FOUND_ROWS() needs this backend
	PinHandler                          // HANDLER t OPEN; HANDLER t CLOSE unpins one handler
	PinXA                               // XA START/BEGIN; XA COMMIT/ROLLBACK unpins
	PinState                            // session state changed in a way that cannot be replayed
)

// Hint is a routing hint taken from a comment.
type Hint uint8

const (
	HintNone Hint = iota
	HintMaster
	HintReplica
)

// Toggle is an optional boolean.
type Toggle uint8

const (
	ToggleNone Toggle = iota // not set by this statement (or set to something unknown: see PinState)
	ToggleOff
	ToggleOn
)

// Class is the classifier's verdict for one COM_QUERY text.
type Class struct {
	Kind Kind
	// Master: the statement must run on the master (writes, locking reads,
	// side effects, master-only state, anything unsure). For transaction
	// control other than a read-write BEGIN it is false: those go to the
	// backend of the transaction.
	Master bool
	// Pin: the session must stay on the master from now on, for these
	// reasons. Unpin: this statement releases (some of) these reasons; a
	// proxy applies Unpin before Pin.
	Pin, Unpin PinReason
	// ReadsUserVar: the text reads a user variable (@v); a session that has
	// set user variables must then run it where it set them.
	ReadsUserVar bool
	// Locking: SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE.
	Locking bool
	// Sticky: the statement reports on the previous statement (SHOW WARNINGS,
	// SHOW ERRORS, FOUND_ROWS(), ROW_COUNT(), @@warning_count, GET
	// DIAGNOSTICS, SHOW PROFILE): run it on the backend that ran that one.
	Sticky bool
	Hint   Hint
	// Multi: the text holds several statements; the fields combine them
	// (Master and the flags are or-ed, Kind is the strongest part, Autocommit
	// the last one set). Session changes inside a Multi text are not replayable
	// (PinState) and any non-read part makes the whole text Master.
	Multi bool
	// Autocommit: SET autocommit = 0/1/ON/OFF/TRUE/FALSE in session scope.
	Autocommit Toggle
	// NextTx: SET TRANSACTION without a scope; it applies to the next
	// transaction only, so run it on the backend that will run that one.
	NextTx bool
	// Chain: COMMIT/ROLLBACK AND CHAIN; a new transaction starts at once.
	Chain bool
	// Replay: for KindSet in session scope, the statement text (without
	// comments around it or the trailing ';') to replay on every backend the
	// session uses. Empty when the SET is not replayable.
	Replay string
	// Name: database for USE; statement name for PREPARE/EXECUTE/DEALLOCATE;
	// savepoint name for KindTxSavepoint. Unquoted.
	Name string
	// KillID, KillQuery: for KILL [CONNECTION|QUERY] n (KillID 0 when the
	// form is not a plain numeric id, such as KILL QUERY ID n or KILL USER u).
	KillID    uint64
	KillQuery bool
}

// features collects what a statement's tokens reveal wherever they appear.
type features struct {
	hard, soft   bool // must run on master; should run on master unless hinted
	pin, unpin   PinReason
	readsVar     bool
	locking      bool
	sticky       bool
	into         bool
	executesNone bool // EXPLAIN: nothing in it runs
}

// scanner feeds one statement's tokens to the handlers and collects features.
type scanner struct {
	lex              lexer
	done             bool // statement end (';' or end of text) reached
	toEOF            bool // ';' does not end this statement
	depth            int
	n                int // tokens in this statement
	start, end       int // byte span of this statement's tokens
	cur, last, last2 kw  // keyword codes of the current and two previous tokens
	prev             token
	pendingVar       bool // a @var whose role (read or := target) the next token decides
	inInto           bool
	assignTarget     bool // the next token is a SET assignment target
	f                features
}

func (sc *scanner) reset() {
	lex := sc.lex
	*sc = scanner{lex: lex}
}

// next returns the statement's next token, or tkEOF at its end.
func (sc *scanner) next() token {
	if sc.done {
		return token{kind: tkEOF}
	}
	t := sc.lex.next()
	if t.kind == tkEOF || (!sc.toEOF && t.kind == tkPunct && t.text == ";") {
		sc.done = true
		if sc.pendingVar {
			sc.pendingVar = false
			sc.f.readsVar = true
		}
		sc.cur = kwNone
		return token{kind: tkEOF}
	}
	if sc.n == 0 {
		sc.start = t.start
	}
	sc.end = t.end
	sc.n++
	sc.observe(t)
	return t
}

func (sc *scanner) observe(t token) {
	if sc.pendingVar {
		sc.pendingVar = false
		if t.kind == tkAssign {
			sc.f.pin |= PinUserVar
			sc.f.hard = true
		} else {
			sc.f.readsVar = true
		}
	}
	k := kwNone
	into := false
	switch t.kind {
	case tkWord:
		k = keyword(t.text)
		switch k {
		case kwUpdate:
			if sc.cur == kwFor {
				sc.f.locking = true
			}
		case kwShare:
			if sc.cur == kwFor || sc.cur == kwIn && sc.last == kwLock {
				sc.f.locking = true
			}
		case kwFor:
			if sc.cur == kwValue && sc.last == kwNext {
				sc.f.hard = true // NEXT VALUE FOR seq
			} else if sc.cur == kwValue && sc.last == kwPrevious {
				sc.f.soft = true // PREVIOUS VALUE FOR seq
			}
		case kwInto:
			into = true
			sc.f.into = true
		case kwSqlCalcFoundRows:
			sc.f.pin |= PinFoundRows
			sc.f.hard = true
		}
	case tkVar:
		into = sc.inInto
		if sc.inInto || sc.assignTarget {
			sc.f.pin |= PinUserVar
			sc.f.hard = true
		} else {
			sc.pendingVar = true
		}
	case tkSysVar:
		sc.sysVar(t.text)
	case tkPunct:
		switch t.text[0] {
		case '(':
			if sc.prev.kind == tkWord && sc.cur != kwNone {
				sc.function(sc.cur)
			}
			sc.depth++
		case ')':
			sc.depth--
		case ',':
			into = sc.inInto
		}
	}
	sc.inInto = into
	sc.assignTarget = false
	sc.last2, sc.last, sc.cur = sc.last, sc.cur, k
	sc.prev = t
}

// function notes calls of built-in functions with side effects or with a
// meaning tied to one backend's session or state.
func (sc *scanner) function(k kw) {
	switch k {
	case kwGetLock:
		sc.f.pin |= PinGetLock
		sc.f.hard = true
	case kwReleaseAllLocks:
		sc.f.unpin |= PinGetLock
		sc.f.hard = true
	case kwReleaseLock, kwIsFreeLock, kwIsUsedLock, kwNextval, kwSetval:
		sc.f.hard = true
	case kwLastInsertId, kwLastval, kwMasterPosWait, kwMasterGtidWait, kwSourcePosWait,
		kwWaitForExecutedGtidSet, kwWaitUntilSqlThreadAfterGtids:
		sc.f.soft = true
	case kwFoundRows, kwRowCount:
		sc.f.sticky = true
	}
}

// sysVar notes reads of system variables whose value is the master's own
// (global scope, identity, GTID position) or the previous statement's.
func (sc *scanner) sysVar(text string) {
	name := text[2:]
	switch {
	case hasPrefixFold(name, "global."):
		sc.f.soft = true
		return
	case hasPrefixFold(name, "session."):
		name = name[len("session."):]
	case hasPrefixFold(name, "local."):
		name = name[len("local."):]
	}
	switch {
	case eqFold(name, "warning_count"), eqFold(name, "error_count"):
		sc.f.sticky = true
	case eqFold(name, "last_insert_id"), eqFold(name, "identity"), eqFold(name, "last_gtid"),
		eqFold(name, "read_only"), eqFold(name, "super_read_only"), eqFold(name, "innodb_read_only"),
		hasPrefixFold(name, "gtid_"):
		// @@read_only is how drivers find the writable node: answer it
		// from the master. @@server_id / @@hostname are not: they tell
		// which server answered, which is the point of asking.
		sc.f.soft = true
	}
}

// word returns the next token and its keyword code.
func (sc *scanner) word() (token, kw) {
	t := sc.next()
	return t, sc.cur
}

func (sc *scanner) drain() {
	for !sc.done {
		sc.next()
	}
}

// part is the verdict for one statement of the text.
type part struct {
	c     Class
	hard  bool // master whatever the hint
	soft  bool // master unless a replica hint
	empty bool
}

// Classify classifies one COM_QUERY (or COM_STMT_PREPARE) text.
func Classify(sql string) Class {
	var sc scanner
	sc.lex.s = sql
	var out part
	parts := 0
	allReads := true
	sessionChange := false
	for {
		sc.reset()
		p := sc.statement(sql)
		atEnd := sc.lex.pos >= len(sql) && sc.done
		if !p.empty {
			parts++
			if p.c.Kind != KindRead && p.c.Kind != KindShow {
				allReads = false
			}
			switch p.c.Kind {
			case KindSet, KindUse, KindPrepare, KindDeallocate:
				sessionChange = true
			}
			if parts == 1 {
				out = p
			} else {
				out = merge(out, p)
			}
		}
		if atEnd {
			break
		}
	}
	if parts == 0 {
		out = part{hard: true}
	}
	c := &out.c
	if parts > 1 {
		c.Multi = true
		c.Replay = ""
		c.Name = ""
		c.KillID = 0
		if !allReads {
			out.hard = true
		}
		if sessionChange {
			c.Pin |= PinState
		}
	}
	if sc.lex.bsQuote && strings.IndexByte(sql, ';') >= 0 {
		out.hard = true
	}
	c.Hint = sc.lex.hint
	c.Master = out.hard || out.soft && c.Hint != HintReplica || c.Hint == HintMaster
	return *c
}

// rank orders kinds for a Multi text: the strongest part names it.
func rank(k Kind) int {
	switch k {
	case KindRead, KindShow:
		return 1
	case KindSet, KindUse:
		return 2
	case KindTxBegin, KindTxBeginReadOnly, KindTxCommit, KindTxRollback, KindTxSavepoint:
		return 3
	case KindWrite:
		return 4
	case KindDDL:
		return 5
	}
	return 6
}

func merge(a, b part) part {
	out := a
	if rank(b.c.Kind) > rank(a.c.Kind) {
		out.c.Kind = b.c.Kind
	}
	out.hard = a.hard || b.hard
	out.soft = a.soft || b.soft
	out.c.Pin |= b.c.Pin
	out.c.Unpin |= b.c.Unpin
	out.c.ReadsUserVar = a.c.ReadsUserVar || b.c.ReadsUserVar
	out.c.Locking = a.c.Locking || b.c.Locking
	out.c.Sticky = a.c.Sticky || b.c.Sticky
	out.c.NextTx = a.c.NextTx || b.c.NextTx
	out.c.Chain = a.c.Chain || b.c.Chain
	out.c.KillQuery = a.c.KillQuery || b.c.KillQuery
	if b.c.Autocommit != ToggleNone {
		out.c.Autocommit = b.c.Autocommit
	}
	return out
}

// statement classifies the next statement of the text.
func (sc *scanner) statement(sql string) part {
	t := sc.next()
	for t.is('(') {
		t = sc.next()
	}
	if t.kind == tkEOF {
		return part{empty: true}
	}
	p := sc.dispatch(t, sql)
	sc.drain()
	f := &sc.f
	if f.executesNone {
		*f = features{}
	}
	c := &p.c
	c.Pin |= f.pin
	c.Unpin |= f.unpin
	c.ReadsUserVar = c.ReadsUserVar || f.readsVar
	c.Locking = f.locking
	c.Sticky = c.Sticky || f.sticky
	if f.hard || f.pin != 0 || f.unpin != 0 || f.locking {
		p.hard = true
	}
	if c.Kind == KindRead && f.into {
		p.hard = true
	}
	if f.soft {
		p.soft = true
	}
	return p
}

// dispatch classifies a statement whose first word is t.
func (sc *scanner) dispatch(t token, sql string) part {
	var p part
	if t.kind != tkWord {
		p.hard = true
		return p
	}
	switch sc.cur {
	case kwSelect, kwTable, kwValues:
		p.c.Kind = KindRead
	case kwWith:
		p.c.Kind = sc.with()
		p.hard = p.c.Kind != KindRead
	case kwInsert, kwReplace, kwUpdate, kwDelete:
		p.c.Kind = KindWrite
		p.hard = true
	case kwLoad:
		p.hard = true
		switch _, k := sc.word(); k {
		case kwData, kwXml:
			p.c.Kind = KindWrite
		case kwIndex:
			p.c.Kind = KindDDL
		}
	case kwCreate:
		sc.toEOF = true
		p.c.Kind = KindDDL
		p.hard = true
		_, k := sc.word()
		if k == kwOr {
			sc.word()
			_, k = sc.word()
		}
		if k == kwTemporary {
			p.c.Pin |= PinTempTable
		}
	case kwAlter:
		sc.toEOF = true
		p.c.Kind = KindDDL
		p.hard = true
	case kwDrop:
		p.hard = true
		p.c.Kind = KindDDL
		if _, k := sc.word(); k == kwPrepare {
			p.c.Kind = KindDeallocate
			p.c.Name = sc.name()
			p.c.Unpin |= PinPrepare
		}
	case kwRename, kwTruncate, kwGrant, kwRevoke, kwOptimize, kwRepair, kwCheck, kwChecksum:
		p.c.Kind = KindDDL
		p.hard = true
	case kwFlush:
		p.c.Kind = KindDDL
		p.hard = true
		for {
			t, k := sc.word()
			if t.kind == tkEOF {
				break
			}
			if k == kwLock && sc.last == kwRead {
				p.c.Pin |= PinLockTables
			}
		}
	case kwAnalyze:
		t, k := sc.word()
		switch k {
		case kwTable, kwTables, kwNoWriteToBinlog, kwLocal:
			p.c.Kind = KindDDL
			p.hard = true
		default:
			// MariaDB ANALYZE [FORMAT=...] stmt runs the statement.
			return sc.inner(t, sql, true)
		}
	case kwExplain, kwDescribe, kwDesc:
		t, k := sc.word()
		if k == kwAnalyze { // MySQL EXPLAIN ANALYZE runs the statement
			t, _ = sc.word()
			return sc.inner(t, sql, true)
		}
		p.c.Kind = KindShow
		sc.f.executesNone = true
	case kwShow:
		p.c.Kind = KindShow
		sc.show(&p)
	case kwHelp:
		p.c.Kind = KindShow
	case kwSet:
		return sc.set(sql)
	case kwUse:
		p.c.Kind = KindUse
		p.c.Name = sc.name()
		if p.c.Name == "" {
			p.c.Kind = KindOther
			p.hard = true
		}
	case kwBegin:
		switch t, k := sc.word(); {
		case t.kind == tkEOF, k == kwWork:
			p.c.Kind = KindTxBegin
			p.hard = true
		default: // BEGIN NOT ATOMIC ... END, a compound statement
			sc.toEOF = true
			p.hard = true
		}
	case kwStart:
		p.hard = true
		if _, k := sc.word(); k == kwTransaction {
			p.c.Kind = KindTxBegin
			for {
				t, k := sc.word()
				if t.kind == tkEOF {
					break
				}
				if k == kwOnly && sc.last == kwRead {
					p.c.Kind = KindTxBeginReadOnly
					p.hard = false
				}
			}
		}
	case kwCommit:
		p.c.Kind = KindTxCommit
		sc.endTx(&p)
	case kwRollback:
		p.c.Kind = KindTxRollback
		sc.endTx(&p)
	case kwSavepoint:
		p.c.Kind = KindTxSavepoint
		p.c.Name = sc.name()
	case kwRelease:
		if _, k := sc.word(); k == kwSavepoint {
			p.c.Kind = KindTxSavepoint
			p.c.Name = sc.name()
		} else {
			p.hard = true
		}
	case kwLock:
		p.hard = true
		if _, k := sc.word(); k == kwTables || k == kwTable {
			p.c.Kind = KindLockTables
			p.c.Pin |= PinLockTables
		}
	case kwUnlock:
		p.hard = true
		if _, k := sc.word(); k == kwTables || k == kwTable {
			p.c.Kind = KindUnlockTables
			p.c.Unpin |= PinLockTables
		}
	case kwHandler:
		p.c.Kind = KindHandler
		p.hard = true
		for i := 0; i < 6; i++ {
			t, k := sc.word()
			if t.kind == tkEOF {
				break
			}
			if k == kwOpen {
				p.c.Pin |= PinHandler
				break
			}
			if k == kwClose {
				p.c.Unpin |= PinHandler
				break
			}
		}
	case kwXa:
		p.c.Kind = KindXA
		p.hard = true
		switch _, k := sc.word(); k {
		case kwStart, kwBegin:
			p.c.Pin |= PinXA
		case kwCommit, kwRollback:
			p.c.Unpin |= PinXA
		}
	case kwKill:
		p.c.Kind = KindKill
		p.hard = true
		p.c.KillID, p.c.KillQuery = sc.kill()
	case kwCall:
		p.c.Kind = KindCall
		p.hard = true
	case kwDo:
		p.c.Kind = KindDo
		p.hard = true
	case kwPrepare:
		p.c.Kind = KindPrepare
		p.hard = true
		p.c.Pin |= PinPrepare
		p.c.Name = sc.name()
	case kwExecute:
		p.c.Kind = KindExecute
		p.hard = true
		t, k := sc.word()
		if k != kwImmediate {
			p.c.Name = unquoteName(t)
		}
	case kwDeallocate:
		p.c.Kind = KindDeallocate
		p.hard = true
		p.c.Unpin |= PinPrepare
		if _, k := sc.word(); k == kwPrepare {
			p.c.Name = sc.name()
		}
	case kwGet:
		// GET [CURRENT | STACKED] DIAGNOSTICS reports on the previous statement.
		p.hard = true
		for i := 0; i < 2; i++ {
			if _, k := sc.word(); k == kwDiagnostics {
				p.c.Kind = KindShow
				p.c.Sticky = true
				p.hard = false
				sc.diagnostics()
				break
			}
		}
	default:
		p.hard = true
	}
	return p
}

// diagnostics reads the items of GET DIAGNOSTICS, whose @targets are assigned.
func (sc *scanner) diagnostics() {
	sc.assignTarget = true
	for {
		t := sc.next()
		if t.kind == tkEOF {
			return
		}
		// Items follow DIAGNOSTICS, CONDITION n, and commas.
		if t.is(',') || t.kind == tkNumber {
			sc.assignTarget = true
		}
	}
}

// inner classifies the statement that follows EXPLAIN ANALYZE or ANALYZE: it
// is executed, so it counts as itself.
func (sc *scanner) inner(t token, sql string, skipFormat bool) part {
	if skipFormat && sc.cur == kwFormat {
		sc.next() // =
		sc.next() // JSON | TREE | TRADITIONAL
		t = sc.next()
	}
	for t.is('(') {
		t = sc.next()
	}
	if t.kind == tkEOF {
		return part{hard: true}
	}
	return sc.dispatch(t, sql)
}

// with skips the common table expressions and classifies the statement that
// uses them.
func (sc *scanner) with() Kind {
	base := sc.depth
	closed := false // the previous depth-0 token was ')'
	for {
		t, k := sc.word()
		if t.kind == tkEOF {
			return KindOther
		}
		if t.is('(') && sc.depth == base+1 && closed {
			return KindRead // WITH c AS (...) (SELECT ...)
		}
		closed = t.is(')') && sc.depth == base
		if sc.depth != base {
			continue
		}
		switch k {
		case kwSelect, kwTable, kwValues:
			return KindRead
		case kwUpdate, kwDelete, kwInsert, kwReplace:
			return KindWrite
		}
	}
}

func (sc *scanner) show(p *part) {
	for i := 0; i < 3; i++ {
		t, k := sc.word()
		if t.kind == tkEOF {
			return
		}
		switch k {
		case kwMaster, kwSlave, kwReplica, kwReplicas, kwBinary, kwBinlog, kwProcesslist:
			p.soft = true
			return
		case kwWarnings, kwErrors, kwProfile, kwProfiles:
			p.c.Sticky = true
			return
		case kwCount: // SHOW COUNT(*) WARNINGS|ERRORS
			p.c.Sticky = true
			return
		case kwFull, kwAll, kwGlobal, kwSession:
			continue
		}
		if eqFold(t.text, "slaves") { // SHOW ALL SLAVES STATUS
			p.soft = true
		}
		return
	}
}

// endTx reads the tail of COMMIT/ROLLBACK.
func (sc *scanner) endTx(p *part) {
	for {
		t, k := sc.word()
		if t.kind == tkEOF {
			return
		}
		switch k {
		case kwChain:
			if sc.last != kwNo {
				p.c.Chain = true
			}
		case kwRelease:
			if sc.last != kwNo {
				// The server closes the connection afterwards: not a plain
				// transaction end the proxy can track.
				p.c.Kind = KindOther
				p.hard = true
			}
		case kwTo:
			if p.c.Kind == KindTxRollback {
				p.c.Kind = KindTxSavepoint
				t, k := sc.word()
				if k == kwSavepoint {
					t, _ = sc.word()
				}
				p.c.Name = unquoteName(t)
			}
		}
	}
}

// kill parses KILL [HARD|SOFT] [CONNECTION|QUERY] n.
func (sc *scanner) kill() (uint64, bool) {
	t, k := sc.word()
	if k == kwHard || k == kwSoft {
		t, k = sc.word()
	}
	query := false
	switch k {
	case kwQuery:
		query = true
		t, _ = sc.word()
	case kwConnection:
		t, _ = sc.word()
	}
	if t.kind != tkNumber {
		return 0, query
	}
	id, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil {
		return 0, query
	}
	if end := sc.next(); end.kind != tkEOF {
		return 0, query
	}
	return id, query
}

// name reads an identifier (USE db, PREPARE s, SAVEPOINT s) and unquotes it.
func (sc *scanner) name() string {
	return unquoteName(sc.next())
}

func unquoteName(t token) string {
	switch t.kind {
	case tkWord, tkNumber:
		return t.text
	case tkQuoted, tkString:
		if len(t.text) < 2 || t.text[len(t.text)-1] != t.text[0] {
			return ""
		}
		body := t.text[1 : len(t.text)-1]
		q := t.text[:1]
		if strings.Contains(body, q+q) {
			body = strings.ReplaceAll(body, q+q, q)
		}
		return body
	}
	return ""
}

// set classifies a SET statement.
func (sc *scanner) set(sql string) part {
	var p part
	p.c.Kind = KindSet
	var session, global, user, unknown, explicitScope bool
	scopeGlobal := false
	first := true
	for {
		sc.assignTarget = true
		t, k := sc.word()
		if t.kind == tkEOF {
			break
		}
		if first {
			first = false
			switch k {
			case kwStatement: // MariaDB SET STATEMENT v=x[, ...] FOR stmt
				for {
					t, k = sc.word()
					if t.kind == tkEOF {
						p.hard = true
						return p
					}
					if k == kwFor && sc.depth == 0 {
						sc.cur = kwNone // FOR UPDATE t ... is not a locking clause
						return sc.inner(sc.next(), sql, false)
					}
				}
			case kwPassword:
				p.c.Kind = KindDDL
				p.hard = true
				return p
			case kwDefault: // SET DEFAULT ROLE
				p.c.Kind = KindDDL
				p.hard = true
				return p
			case kwRole: // SET ROLE: session state, replayable
				sc.drain()
				session = true
				continue
			}
		}
		// Scope words carry over to the following assignments.
		switch k {
		case kwGlobal, kwPersist, kwPersistOnly:
			scopeGlobal, explicitScope = true, true
			t, k = sc.word()
		case kwSession, kwLocal:
			scopeGlobal, explicitScope = false, true
			t, k = sc.word()
		}
		isAutocommit := false
		switch {
		case t.kind == tkVar:
			user = true
		case t.kind == tkSysVar:
			name := t.text[2:]
			g := scopeGlobal
			switch {
			case hasPrefixFold(name, "global."):
				name, g = name[7:], true
			case hasPrefixFold(name, "session."):
				name, g = name[8:], false
			case hasPrefixFold(name, "local."):
				name, g = name[6:], false
			}
			if g {
				global = true
			} else {
				session = true
				isAutocommit = eqFold(name, "autocommit")
			}
		case k == kwTransaction:
			// SET [scope] TRANSACTION ISOLATION LEVEL ..., READ ONLY: the
			// characteristics contain commas, so this runs to the end.
			switch {
			case !explicitScope:
				p.c.NextTx = true
				p.hard = true
			case scopeGlobal:
				global = true
			default:
				session = true
			}
			sc.drain()
			continue
		case k == kwNames || k == kwCharset:
			session = true
			sc.skipValue()
			continue
		case k == kwCharacter: // CHARACTER SET cs
			session = true
			sc.skipValue()
			continue
		case t.kind == tkWord || t.kind == tkQuoted:
			if scopeGlobal {
				global = true
			} else {
				session = true
				isAutocommit = k == kwAutocommit
			}
			for { // structured names: SET default.key_buffer_size = ...
				if t2 := sc.peekDot(); !t2 {
					break
				}
			}
		default:
			unknown = true
			sc.skipValue()
			continue
		}
		op := sc.next()
		if !op.is('=') && op.kind != tkAssign {
			unknown = true
			if !op.is(',') {
				sc.skipValue()
			}
			continue
		}
		v, ok := sc.value()
		if isAutocommit {
			if v == ToggleNone || !ok {
				unknown = true
			} else {
				p.c.Autocommit = v
			}
		}
	}
	f := &sc.f
	switch {
	case global || user || unknown || f.hard || f.pin != 0 || f.readsVar:
		p.hard = true
		if session {
			p.c.Pin |= PinState
		}
	case session && !p.c.NextTx:
		p.c.Replay = sql[sc.start:sc.end]
	}
	if session && unknown {
		p.c.Pin |= PinState
	}
	return p
}

// peekDot consumes ".name" after a variable name; it reports whether it did.
// The lexer has no lookahead, so it works on the raw text.
func (sc *scanner) peekDot() bool {
	l := &sc.lex
	if l.pos < len(l.s) && l.s[l.pos] == '.' {
		sc.next()
		sc.next()
		return true
	}
	return false
}

// skipValue consumes tokens up to the next ',' at this depth.
func (sc *scanner) skipValue() {
	base := sc.depth
	for {
		t := sc.next()
		if t.kind == tkEOF || t.is(',') && sc.depth == base {
			return
		}
	}
}

// value consumes an assigned value and, when it is a single boolean-like
// token, returns it as a Toggle.
func (sc *scanner) value() (Toggle, bool) {
	base := sc.depth
	v := ToggleNone
	n := 0
	for {
		t, k := sc.word()
		if t.kind == tkEOF || t.is(',') && sc.depth == base {
			return v, n == 1
		}
		n++
		if n > 1 {
			v = ToggleNone
			continue
		}
		switch t.kind {
		case tkNumber:
			v = toggleOf(t.text)
		case tkWord:
			switch k {
			case kwOn, kwTrue:
				v = ToggleOn
			case kwOff, kwFalse:
				v = ToggleOff
			}
		case tkString:
			if len(t.text) >= 2 {
				v = toggleOf(t.text[1 : len(t.text)-1])
			}
		}
	}
}

func toggleOf(s string) Toggle {
	switch {
	case s == "1", eqFold(s, "on"), eqFold(s, "true"):
		return ToggleOn
	case s == "0", eqFold(s, "off"), eqFold(s, "false"):
		return ToggleOff
	}
	return ToggleNone
}

// ParseKill recognises KILL [HARD|SOFT] [CONNECTION|QUERY] n, the form the
// proxy intercepts (its connection ids are virtual).
func ParseKill(sql string) (id uint64, query bool, ok bool) {
	c := Classify(sql)
	if c.Kind != KindKill || c.Multi || c.KillID == 0 {
		return 0, false, false
	}
	return c.KillID, c.KillQuery, true
}
