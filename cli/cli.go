// Package cli implements buzzmirror's subcommands. main.go only picks one.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/buzzmirror/buzzmirror/config"
	"github.com/buzzmirror/buzzmirror/internal/buildinfo"
	"github.com/buzzmirror/buzzmirror/store"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Args   []string // after the subcommand name
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env Env) error
}

// Commands lists the subcommands in the order help shows them.
var Commands = []Command{
	{"serve", "receive webhooks and serve the read API", Serve},
	{"migrate", "apply pending database migrations and exit", Migrate},
	{"rebuild", "recompute the mirror from the stored events", Rebuild},
	{"send", "sign and POST an event to a URL, for trying an installation", Send},
	{"erase", "forget a person: erase contact ID", Erase},
	{"backup", "write a consistent copy of a SQLite database while serve runs", Backup},
	{"bench", "load tool: drive the webhook or read API, or seed a large journal", Bench},
	{"version", "print the version", PrintVersion},
}

// ErrUsage marks bad arguments; the help was already printed.
var ErrUsage = errors.New("usage")

// newFlags returns a flag set that prints its usage to env.Stderr and carries
// the configuration flags of sections (see config.BindFlags).
func newFlags(env Env, name, usage string, sections ...string) (*flag.FlagSet, *config.Flags) {
	fs := plainFlags(env, name, usage)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: buzzmirror %s [flags]\n\n%s\n\nFlags (the configuration ones also settable as BUZZMIRROR_* or in the --config file):\n", name, usage)
		fs.PrintDefaults()
	}
	return fs, config.BindFlags(fs, sections...)
}

// plainFlags is a flag set without configuration flags.
func plainFlags(env Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: buzzmirror %s [flags]\n\n%s\n", name, usage)
		if hasFlags(fs) {
			fmt.Fprintln(env.Stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parsePositional parses flags placed before, between or after a
// command's arguments (erase contact ID --yes), and returns the arguments.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp
			}
			return nil, ErrUsage
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseArgs parses a command's flags: --help is flag.ErrHelp (exit 0), a
// bad flag ErrUsage, both after the usage was printed.
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ErrUsage
	}
	return nil
}

// parse parses flags and loads the configuration.
func parse(env Env, fs *flag.FlagSet, cf *config.Flags) (config.Config, error) {
	if err := parseArgs(fs, env.Args); err != nil {
		return config.Config{}, err
	}
	return cf.Load(env.Getenv)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.LogLevel() // Validate already checked it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// schemaPolicy says what openStore does about pending migrations.
type schemaPolicy int

const (
	migrateSchema schemaPolicy = iota // apply them
	requireSchema                     // refuse to go on
)

// openStore connects to the configured database and migrates it, or checks
// that nothing is pending. It returns the migrations it applied.
func openStore(ctx context.Context, cfg config.Config, policy schemaPolicy, log *slog.Logger, tune ...func(*store.Options)) (*store.DB, []int, error) {
	opts := store.Options{MaxOpenConns: cfg.Database.MaxOpenConns, Log: log}
	for _, t := range tune {
		t(&opts)
	}
	db, err := store.Open(ctx, cfg.Database.Driver, cfg.Database.DSN, opts)
	if err != nil {
		return nil, nil, err
	}
	var applied []int
	if policy == migrateSchema {
		applied, err = db.Migrate(ctx)
	} else {
		err = db.CheckSchema(ctx)
	}
	if err != nil {
		db.Close()
		return nil, applied, err
	}
	return db, applied, nil
}

// bulkWriter tunes the store of a command that writes in many
// transactions beside a running serve (rebuild, erase): on SQLite it
// pauses a little between them, so that the service's writer, and the
// deliveries it commits, get the write lock in between.
func bulkWriter(o *store.Options) { o.Yield = 3 * time.Millisecond }

// PrintVersion prints the version, the commit and the build time.
func PrintVersion(_ context.Context, env Env) error {
	fs := plainFlags(env, "version", "Print the module version, the commit and the build time of this binary.")
	if err := parseArgs(fs, env.Args); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "buzzmirror", buildinfo.Read())
	return nil
}

// OSEnv is the environment of the running process.
func OSEnv(args []string) Env {
	return Env{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}
