// The keyword table: a switch over lower-cased words compiles to a fast search and does not allocate.

package router

// kw is a keyword or function name the classifier cares about; 0 is any other word.
type kw uint16

const (
	kwNone kw = iota
	kwSelect
	kwTable
	kwValues
	kwWith
	kwInsert
	kwReplace
	kwUpdate
	kwDelete
	kwLoad
	kwCreate
	kwAlter
	kwDrop
	kwRename
	kwTruncate
	kwGrant
	kwRevoke
	kwAnalyze
	kwOptimize
	kwRepair
	kwCheck
	kwChecksum
	kwFlush
	kwExplain
	kwDescribe
	kwDesc
	kwShow
	kwHelp
	kwSet
	kwUse
	kwBegin
	kwStart
	kwCommit
	kwRollback
	kwSavepoint
	kwRelease
	kwLock
	kwUnlock
	kwHandler
	kwXa
	kwKill
	kwCall
	kwDo
	kwPrepare
	kwExecute
	kwDeallocate
	kwGet
	kwPurge
	kwReset
	kwChange
	kwStop
	kwInstall
	kwUninstall
	kwCache
	kwShutdown
	kwBinlog
	kwFor
	kwShare
	kwIn
	kwMode
	kwNext
	kwPrevious
	kwValue
	kwInto
	kwSqlCalcFoundRows
	kwOr
	kwTemporary
	kwTables
	kwWork
	kwAnd
	kwNo
	kwChain
	kwNot
	kwTransaction
	kwRead
	kwOnly
	kwWrite
	kwConsistent
	kwSnapshot
	kwTo
	kwGlobal
	kwSession
	kwLocal
	kwPersist
	kwPersistOnly
	kwNames
	kwCharacter
	kwCharset
	kwPassword
	kwRole
	kwDefault
	kwStatement
	kwAutocommit
	kwOn
	kwOff
	kwTrue
	kwFalse
	kwFrom
	kwQuery
	kwConnection
	kwHard
	kwSoft
	kwId
	kwUser
	kwOpen
	kwClose
	kwImmediate
	kwFormat
	kwData
	kwXml
	kwIndex
	kwStatus
	kwLogs
	kwSlave
	kwReplica
	kwReplicas
	kwMaster
	kwBinary
	kwEvents
	kwProcesslist
	kwFull
	kwWarnings
	kwErrors
	kwCount
	kwProfile
	kwProfiles
	kwHosts
	kwDiagnostics
	kwRecursive
	kwNoWriteToBinlog
	kwAs
	kwIsolation
	kwLevel
	kwGetLock
	kwReleaseLock
	kwReleaseAllLocks
	kwIsFreeLock
	kwIsUsedLock
	kwLastInsertId
	kwNextval
	kwSetval
	kwLastval
	kwFoundRows
	kwRowCount
	kwMasterPosWait
	kwMasterGtidWait
	kwSourcePosWait
	kwWaitForExecutedGtidSet
	kwWaitUntilSqlThreadAfterGtids
	kwEnd
	kwReturning
	kwAll
	kwSlaves
)

// keyword maps a bare word to its kw code, ignoring case, without allocating.
func keyword(s string) kw {
	if len(s) < 2 || len(s) > 33 {
		return kwNone
	}
	var buf [40]byte
	n, _ := lower(&buf, s)
	switch string(buf[:n]) {
	case "select":
		return kwSelect
	case "table":
		return kwTable
	case "values":
		return kwValues
	case "with":
		return kwWith
	case "insert":
		return kwInsert
	case "replace":
		return kwReplace
	case "update":
		return kwUpdate
	case "delete":
		return kwDelete
	case "load":
		return kwLoad
	case "create":
		return kwCreate
	case "alter":
		return kwAlter
	case "drop":
		return kwDrop
	case "rename":
		return kwRename
	case "truncate":
		return kwTruncate
	case "grant":
		return kwGrant
	case "revoke":
		return kwRevoke
	case "analyze":
		return kwAnalyze
	case "optimize":
		return kwOptimize
	case "repair":
		return kwRepair
	case "check":
		return kwCheck
	case "checksum":
		return kwChecksum
	case "flush":
		return kwFlush
	case "explain":
		return kwExplain
	case "describe":
		return kwDescribe
	case "desc":
		return kwDesc
	case "show":
		return kwShow
	case "help":
		return kwHelp
	case "set":
		return kwSet
	case "use":
		return kwUse
	case "begin":
		return kwBegin
	case "start":
		return kwStart
	case "commit":
		return kwCommit
	case "rollback":
		return kwRollback
	case "savepoint":
		return kwSavepoint
	case "release":
		return kwRelease
	case "lock":
		return kwLock
	case "unlock":
		return kwUnlock
	case "handler":
		return kwHandler
	case "xa":
		return kwXa
	case "kill":
		return kwKill
	case "call":
		return kwCall
	case "do":
		return kwDo
	case "prepare":
		return kwPrepare
	case "execute":
		return kwExecute
	case "deallocate":
		return kwDeallocate
	case "get":
		return kwGet
	case "purge":
		return kwPurge
	case "reset":
		return kwReset
	case "change":
		return kwChange
	case "stop":
		return kwStop
	case "install":
		return kwInstall
	case "uninstall":
		return kwUninstall
	case "cache":
		return kwCache
	case "shutdown":
		return kwShutdown
	case "binlog":
		return kwBinlog
	case "for":
		return kwFor
	case "share":
		return kwShare
	case "in":
		return kwIn
	case "mode":
		return kwMode
	case "next":
		return kwNext
	case "previous":
		return kwPrevious
	case "value":
		return kwValue
	case "into":
		return kwInto
	case "sql_calc_found_rows":
		return kwSqlCalcFoundRows
	case "or":
		return kwOr
	case "temporary":
		return kwTemporary
	case "tables":
		return kwTables
	case "work":
		return kwWork
	case "and":
		return kwAnd
	case "no":
		return kwNo
	case "chain":
		return kwChain
	case "not":
		return kwNot
	case "transaction":
		return kwTransaction
	case "read":
		return kwRead
	case "only":
		return kwOnly
	case "write":
		return kwWrite
	case "consistent":
		return kwConsistent
	case "snapshot":
		return kwSnapshot
	case "to":
		return kwTo
	case "global":
		return kwGlobal
	case "session":
		return kwSession
	case "local":
		return kwLocal
	case "persist":
		return kwPersist
	case "persist_only":
		return kwPersistOnly
	case "names":
		return kwNames
	case "character":
		return kwCharacter
	case "charset":
		return kwCharset
	case "password":
		return kwPassword
	case "role":
		return kwRole
	case "default":
		return kwDefault
	case "statement":
		return kwStatement
	case "autocommit":
		return kwAutocommit
	case "on":
		return kwOn
	case "off":
		return kwOff
	case "true":
		return kwTrue
	case "false":
		return kwFalse
	case "from":
		return kwFrom
	case "query":
		return kwQuery
	case "connection":
		return kwConnection
	case "hard":
		return kwHard
	case "soft":
		return kwSoft
	case "id":
		return kwId
	case "user":
		return kwUser
	case "open":
		return kwOpen
	case "close":
		return kwClose
	case "immediate":
		return kwImmediate
	case "format":
		return kwFormat
	case "data":
		return kwData
	case "xml":
		return kwXml
	case "index":
		return kwIndex
	case "status":
		return kwStatus
	case "logs":
		return kwLogs
	case "slave":
		return kwSlave
	case "replica":
		return kwReplica
	case "replicas":
		return kwReplicas
	case "master":
		return kwMaster
	case "binary":
		return kwBinary
	case "events":
		return kwEvents
	case "processlist":
		return kwProcesslist
	case "full":
		return kwFull
	case "warnings":
		return kwWarnings
	case "errors":
		return kwErrors
	case "count":
		return kwCount
	case "profile":
		return kwProfile
	case "profiles":
		return kwProfiles
	case "hosts":
		return kwHosts
	case "diagnostics":
		return kwDiagnostics
	case "recursive":
		return kwRecursive
	case "no_write_to_binlog":
		return kwNoWriteToBinlog
	case "as":
		return kwAs
	case "isolation":
		return kwIsolation
	case "level":
		return kwLevel
	case "get_lock":
		return kwGetLock
	case "release_lock":
		return kwReleaseLock
	case "release_all_locks":
		return kwReleaseAllLocks
	case "is_free_lock":
		return kwIsFreeLock
	case "is_used_lock":
		return kwIsUsedLock
	case "last_insert_id":
		return kwLastInsertId
	case "nextval":
		return kwNextval
	case "setval":
		return kwSetval
	case "lastval":
		return kwLastval
	case "found_rows":
		return kwFoundRows
	case "row_count":
		return kwRowCount
	case "master_pos_wait":
		return kwMasterPosWait
	case "master_gtid_wait":
		return kwMasterGtidWait
	case "source_pos_wait":
		return kwSourcePosWait
	case "wait_for_executed_gtid_set":
		return kwWaitForExecutedGtidSet
	case "wait_until_sql_thread_after_gtids":
		return kwWaitUntilSqlThreadAfterGtids
	case "end":
		return kwEnd
	case "returning":
		return kwReturning
	case "all":
		return kwAll
	case "slaves":
		return kwSlaves
	}
	return kwNone
}
