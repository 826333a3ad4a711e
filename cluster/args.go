package cluster

import (
	"fmt"
	"strconv"
)

// serverArgs is the configuration shared by both backends; local adds paths and loopback
// binding in front of it. Later flags win, so ExtraServerArgs come last.
func serverArgs(flavor string, n *Node, o Options) []string {
	onOff := func(b bool) string {
		if b {
			return "ON"
		}
		return "OFF"
	}
	flushTrx, syncBinlog := "1", "1"
	if o.Unsafe {
		flushTrx, syncBinlog = "2", "0"
	}
	a := []string{
		"--skip-name-resolve",
		"--server-id=" + strconv.Itoa(n.ServerID),
		"--log-bin=mysql-bin",
		"--relay-log=relay-bin", // not hostname-derived, so a node keeps its relay log
		"--binlog-format=ROW",
		"--report-host=" + n.ReplHost,
		"--report-port=" + strconv.Itoa(n.ReplPort),
		"--read-only=" + onOff(n.ReadOnly),
		"--performance-schema=OFF",
		"--innodb-buffer-pool-size=32M",
		"--innodb-flush-log-at-trx-commit=" + flushTrx,
		"--sync-binlog=" + syncBinlog,
	}
	timeoutMS := strconv.FormatInt(o.SemiSyncTimeout.Milliseconds(), 10)
	if flavor == FlavorMySQL {
		a = append(a,
			"--gtid-mode=ON",
			"--enforce-gtid-consistency=ON",
			"--loose-log-replica-updates=ON",
			"--mysqlx=OFF", // its fixed port 33060 would collide between nodes
		)
		switch n.semiRole {
		case "master":
			a = append(a, "--plugin-load-add=semisync_source.so",
				"--loose-rpl-semi-sync-source-enabled=ON",
				"--loose-rpl-semi-sync-source-timeout="+timeoutMS)
		case "slave":
			a = append(a, "--plugin-load-add=semisync_replica.so",
				"--loose-rpl-semi-sync-replica-enabled=ON")
		}
	} else {
		a = append(a,
			"--log-slave-updates=ON",
			// Must match the template so InnoDB does not resize files on every start.
			"--innodb-log-file-size="+innodbLogFileSize,
			"--innodb-data-file-path="+innodbDataFilePath,
			"--innodb-autoextend-increment=8",
			// Many servers on one host can exhaust the kernel's AIO contexts.
			"--innodb-use-native-aio=0",
		)
		switch n.semiRole {
		case "master":
			a = append(a, "--rpl-semi-sync-master-enabled=ON",
				"--rpl-semi-sync-master-timeout="+timeoutMS)
		case "slave":
			a = append(a, "--rpl-semi-sync-slave-enabled=ON")
		}
	}
	return append(a, o.ExtraServerArgs...)
}

const (
	innodbLogFileSize  = "8M"
	innodbDataFilePath = "ibdata1:12M:autoextend"
)

// templateTag changes whenever the way templates are built changes, so old caches are not reused.
var templateTag = fmt.Sprintf("v1 log=%s data=%s", innodbLogFileSize, innodbDataFilePath)
