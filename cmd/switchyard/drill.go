package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/admin"
	"github.com/switchyard/switchyard/config"
)

// cmdDrill is `switchyard drill <scenario>`: it runs DRILL on a running
// Switchyard's admin port, printing the drill's progress and its report.
func cmdDrill(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", config.DefaultAdminListen, "admin port address")
	user := fs.String("user", config.DefaultAdminUser, "admin user")
	password := fs.String("password", "", "admin password (default: $SWITCHYARD_ADMIN_PASSWORD)")
	confirm := fs.Bool("confirm", false, "inject a real fault into a cluster not started by the sandbox")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: switchyard drill [flags] <scenario>\n\nscenarios: %s\n\nflags:\n", strings.Join(admin.Scenarios, ", "))
		fs.PrintDefaults()
	}
	// Flags may come after the scenario too.
	var scenario string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if scenario != "" {
			fs.Usage()
			return 2
		}
		scenario, rest = fs.Arg(0), fs.Args()[1:]
	}
	if scenario == "" {
		fs.Usage()
		return 2
	}
	if *password == "" {
		*password = os.Getenv("SWITCHYARD_ADMIN_PASSWORD")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := admin.DrillClient(ctx, *addr, *user, *password, scenario, *confirm, stdout); err != nil {
		fmt.Fprintf(stderr, "switchyard drill: %v\n", err)
		return 1
	}
	return 0
}
