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
	"runtime/debug"

	"github.com/buzzmirror/buzzmirror/config"
	"github.com/buzzmirror/buzzmirror/store"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3";
// otherwise the module version or VCS revision is shown.
var Version = ""

// Env is what a command may touch of the outside world.
type Env struct {
	Args   []string // after the subcommand name
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
	{"bench", "load tool: drive the webhook or read API, or seed a large journal", Bench},
	{"version", "print the version", PrintVersion},
}

// ErrUsage marks bad arguments; the help was already printed.
var ErrUsage = errors.New("usage")

// newFlags returns a flag set that prints its usage to env.Stderr and carries
// the configuration flags.
func newFlags(env Env, name, usage string) (*flag.FlagSet, *config.Flags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: buzzmirror %s [flags]\n\n%s\n\nFlags (each also settable as BUZZMIRROR_* or in the --config file):\n", name, usage)
		fs.PrintDefaults()
	}
	return fs, config.BindFlags(fs)
}

// parse parses flags and loads the configuration.
func parse(env Env, fs *flag.FlagSet, cf *config.Flags) (config.Config, error) {
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.Config{}, flag.ErrHelp
		}
		return config.Config{}, ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return config.Config{}, ErrUsage
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

// PrintVersion prints the version.
func PrintVersion(_ context.Context, env Env) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if err := fs.Parse(env.Args); err != nil {
		return ErrUsage
	}
	fmt.Fprintln(env.Stdout, "buzzmirror", versionString())
	return nil
}

func versionString() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// OSEnv is the environment of the running process.
func OSEnv(args []string) Env {
	return Env{Args: args, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}
