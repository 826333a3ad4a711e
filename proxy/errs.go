package proxy

import (
	"errors"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	perrors "github.com/pingcap/errors"

	"github.com/switchyard/switchyard/wire"
)

// asMyError finds a go-mysql *MyError under pingcap's tracing wrappers.
func asMyError(err error, target **gmysql.MyError) bool {
	for e := err; e != nil; {
		if me, ok := e.(*gmysql.MyError); ok {
			*target = me
			return true
		}
		if c := perrors.Cause(e); c != e && c != nil {
			e = c
			continue
		}
		e = errors.Unwrap(e)
	}
	return false
}

// MySQL error codes the proxy itself sends.
const (
	erConCount          = 1040 // ER_CON_COUNT_ERROR
	erAccessDenied      = 1045
	erUnknownCom        = 1047
	erNoSuchThread      = 1094
	erKillDenied        = 1095
	erNetPacketTooLarge = 1153
	erNetReadError      = 1158
	erUnknownStmt       = 1243
	erMalformed         = 1835
	erSecureTransport   = 3159
	erLockWaitTimeout   = 1205
	erLockDeadlock      = 1213
	crServerLost        = 2013
	crConnHostError     = 2003
)

func errUnknownStmt(id uint32, op string) *wire.Error {
	return wire.NewError(erUnknownStmt, "HY000", "Unknown prepared statement handler (%d) given to %s", id, op)
}

// errLostBackend: the backend connection broke before the answer began.
func errLostBackend(node string, err error) *wire.Error {
	return wire.NewError(crServerLost, "HY000", "switchyard: lost connection to backend %s: %v", node, err)
}

// errLostDuringQuery: the backend connection broke while answering.
func errLostDuringQuery(node string, err error) *wire.Error {
	return wire.NewError(crServerLost, "HY000", "Lost connection to MySQL server during query (switchyard: backend %s: %v)", node, err)
}
