// Command switchyard is the MySQL read/write-splitting proxy with automatic
// failover. Subcommands: run, sandbox, version.
package main

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/go-sql-driver/mysql"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `usage: switchyard <command> [flags]

commands:
  run      --config FILE   run the proxy in the foreground
  sandbox  [flags]         start a local MariaDB cluster with the proxy in front
  drill    [flags] SCENARIO run a failover drill through the admin port
  version                  print the version

"switchyard <command> -h" lists a command's flags.
`

func main() {
	// go-sql-driver (used by the monitor) prints connection noise such as
	// "closing bad idle connection" on its own logger; the monitor reports
	// node state itself, so keep that out of the operator's terminal.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "sandbox":
		return cmdSandbox(args[1:], stdout, stderr)
	case "drill":
		return cmdDrill(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "switchyard %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
