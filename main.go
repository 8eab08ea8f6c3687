// Command buzzmirror keeps a relational mirror of BuzzBip's contacts,
// conversations and messages from its signed webhooks, and serves it through
// a read-only REST API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/buzzmirror/buzzmirror/cli"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, cmd := range cli.Commands {
		if cmd.Name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := cmd.Run(ctx, cli.OSEnv(args[1:]))
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, cli.ErrUsage):
			return 2
		default:
			fmt.Fprintln(os.Stderr, "buzzmirror:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "buzzmirror: unknown command %q\n\n", args[0])
	usage()
	return 2
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: buzzmirror <command> [flags]\n\nCommands:")
	for _, cmd := range cli.Commands {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", cmd.Name, cmd.Summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'buzzmirror <command> --help' for a command's flags.")
}
