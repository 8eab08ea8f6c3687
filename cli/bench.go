package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/buzzmirror/buzzmirror/bench"
)

const benchUsage = `usage: buzzmirror bench ingest|read|seed [flags]

The load tool. Each mode takes --help.
  ingest  sign and deliver events to a running service's webhook; report answers/s and latency
  read    drive a running service's read API; report requests/s and latency by query
  seed    write a large journal of unapplied events into the configured database`

// Bench runs the load tool: bench ingest, bench read or bench seed.
func Bench(ctx context.Context, env Env) error {
	if len(env.Args) == 0 {
		fmt.Fprintln(env.Stderr, benchUsage)
		return ErrUsage
	}
	switch env.Args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(env.Stderr, benchUsage)
		return flag.ErrHelp
	}
	mode, env := env.Args[0], Env{Args: env.Args[1:], Stdout: env.Stdout, Stderr: env.Stderr, Getenv: env.Getenv}
	tuneGC(env) // the load tool shares the machine: it should take as little CPU as it can
	switch mode {
	case "ingest":
		return benchIngest(ctx, env)
	case "read":
		return benchRead(ctx, env)
	case "seed":
		return benchSeed(ctx, env)
	}
	fmt.Fprintf(env.Stderr, "unknown bench mode %q: want ingest, read or seed\n", mode)
	return ErrUsage
}

func benchFlags(env Env, name, usage string) *flag.FlagSet {
	return plainFlags(env, "bench "+name, usage)
}

func parseBench(fs *flag.FlagSet, args []string) error { return parseArgs(fs, args) }

// reportRSS prints the peak RSS sampled from pid, when one was given.
func reportRSS(env Env, peak <-chan int64, cancel context.CancelFunc) {
	if peak == nil {
		return
	}
	cancel()
	fmt.Fprintf(env.Stdout, "server peak RSS: %.0f MB\n", float64(<-peak)/(1<<20))
}

func watchRSS(ctx context.Context, pid int) (<-chan int64, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if pid == 0 {
		return nil, cancel
	}
	return bench.PeakRSS(ctx, pid), cancel
}

func benchIngest(ctx context.Context, env Env) error {
	fs := benchFlags(env, "ingest", "Drive a webhook URL with a realistic signed event stream (all eight types, a\nshare of duplicates and of out-of-order createdAt) from N keep-alive\nconnections, and print events/s, latency percentiles and answers (and, from a\nbuzzmirror server's /metrics, how its writer batched them).")
	o := bench.IngestOptions{RunID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "_"}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080/webhooks/buzzbip", "webhook URL")
	fs.StringVar(&o.Secret, "secret", env.Getenv("BUZZMIRROR_WEBHOOK_SECRET"), "signing secret (default $BUZZMIRROR_WEBHOOK_SECRET)")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent keep-alive connections")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "how long to run")
	fs.IntVar(&o.Count, "count", 0, "stop after this many requests (0: run for --duration)")
	fs.IntVar(&o.Stream.Contacts, "contacts", 100_000, "distinct contacts in the stream")
	fs.IntVar(&o.Stream.Conversations, "conversations", 200_000, "distinct conversations in the stream")
	fs.Float64Var(&o.Stream.Duplicates, "duplicates", 0.05, "share of deliveries repeating an earlier event")
	fs.Float64Var(&o.Stream.Disorder, "disorder", 0.10, "share of events dated up to a minute in the past")
	fs.Float64Var(&o.Rate, "rate", 0, "deliveries a second in all, each connection on its own schedule (0: as fast as the server answers)")
	catchUp := fs.Bool("catch-up", false, "after the run, wait until the server's projector has applied every pending event, and say how long that took")
	pid := fs.Int("server-pid", 0, "sample this process's peak RSS while running")
	if err := parseBench(fs, env.Args); err != nil {
		return err
	}
	if o.Secret == "" {
		return errors.New("bench: --secret (or BUZZMIRROR_WEBHOOK_SECRET) is required")
	}
	peak, cancel := watchRSS(ctx, *pid)
	defer cancel()
	// A buzzmirror server's /metrics tells how its journal batched the run
	// and how far its projector lagged; another server's lacks the series,
	// and those lines are left out.
	before, commitsErr := bench.ScrapeCommits(ctx, o.URL)
	watching, stopWatching := context.WithCancel(ctx)
	var fresh <-chan *bench.Freshness
	if commitsErr == nil {
		fresh = bench.WatchFreshness(watching, o.URL, 100*time.Millisecond)
	}
	l, elapsed, err := bench.Ingest(ctx, o)
	stopWatching()
	l.Report(env.Stdout, "ingest", elapsed)
	if commitsErr == nil {
		if after, err := bench.ScrapeCommits(ctx, o.URL); err == nil {
			after.Report(env.Stdout, before, elapsed)
		}
		(<-fresh).Report(env.Stdout)
		if *catchUp && err == nil {
			if err := bench.CatchUp(ctx, env.Stdout, o.URL); err != nil {
				return err
			}
		}
	}
	reportRSS(env, peak, cancel)
	return err
}

func benchRead(ctx context.Context, env Env) error {
	fs := benchFlags(env, "read", "Drive the read API of a mirror made by `bench seed` + `rebuild` with a mix of\nlist and get requests, and print latency percentiles per endpoint.")
	var o bench.ReadOptions
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the service")
	fs.StringVar(&o.Token, "token", "", "API bearer token, when tokens are configured")
	fs.IntVar(&o.Connections, "connections", 16, "concurrent keep-alive connections")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run")
	fs.IntVar(&o.Contacts, "contacts", 100_000, "contacts seeded")
	fs.IntVar(&o.Conversations, "conversations", 200_000, "conversations seeded")
	fs.IntVar(&o.Messages, "messages", 1_000_000, "messages seeded")
	fs.BoolVar(&o.Inspector, "inspector", false, "drive the inspector's pages (/ui/) instead of the API")
	pid := fs.Int("server-pid", 0, "sample this process's peak RSS while running")
	if err := parseBench(fs, env.Args); err != nil {
		return err
	}
	peak, cancel := watchRSS(ctx, *pid)
	defer cancel()
	byName, all, elapsed, err := bench.Read(ctx, o)
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		byName[name].Report(env.Stdout, name, elapsed)
	}
	all.Report(env.Stdout, "all reads", elapsed)
	reportRSS(env, peak, cancel)
	return err
}

func benchSeed(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "bench seed", "Write the events of a mirror of the given size into the journal of the\nconfigured database, unapplied. Run `buzzmirror rebuild` next to compute the\nmirror (which measures replay speed), then `bench read`; or with --pending\nstart `serve`, whose projector applies them (which measures catch-up).", "database", "log")
	var o bench.SeedOptions
	fs.IntVar(&o.Contacts, "contacts", 100_000, "contacts")
	fs.IntVar(&o.Conversations, "conversations", 200_000, "conversations")
	fs.IntVar(&o.Messages, "messages", 1_000_000, "messages")
	fs.BoolVar(&o.Pending, "pending", false, "journal the events as pending, for serve's projector to apply, instead of for rebuild")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	db, _, err := openStore(ctx, cfg, migrateSchema, newLogger(cfg, env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	n, err := bench.Seed(ctx, db, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "journaled %d events in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
