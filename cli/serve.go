package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"golang.org/x/net/netutil"

	"github.com/buzzmirror/buzzmirror/api"
	"github.com/buzzmirror/buzzmirror/config"
	"github.com/buzzmirror/buzzmirror/internal/buildinfo"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Serve runs the service until ctx ends (SIGINT or SIGTERM), then shuts
// down gracefully.
func Serve(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "serve", "Receive BuzzBip webhooks and serve the read API. Applies pending migrations\nfirst unless --no-migrate is given.",
		"listen", "admin_listen", "max_connections", "shutdown_timeout", "database", "webhook", "api", "cors", "retention", "log")
	noMigrate := fs.Bool("no-migrate", false, "refuse to start on an outdated schema instead of migrating it")
	journalOnly := fs.Bool("journal-only", false, "benchmark baseline only: journal events and never apply them (run no projector; the database is then no mirror)")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	if err := cfg.RequireSecret(); err != nil {
		return err
	}
	log := newLogger(cfg, env.Stderr)
	if n := cfg.WeakSecrets(); n > 0 {
		log.Warn("a webhook secret is shorter than 16 bytes; BuzzBip's secrets are longer: check BUZZMIRROR_WEBHOOK_SECRET", "secrets", n)
	}
	tuneGC(env)
	verifier, err := sync.NewVerifier(cfg.Secrets())
	if err != nil {
		return err
	}

	policy := migrateSchema
	if *noMigrate {
		policy = requireSchema
	}
	db, applied, err := openStore(ctx, cfg, policy, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) > 0 {
		log.Info("applied migrations", "versions", applied)
	}

	var metrics *api.Metrics // set before the projector starts
	var journal *sync.Journal
	projector := sync.NewProjector(db, log, sync.ProjectorOptions{
		Observe: func(st sync.StepStats) { metrics.ProjectorStep(st) },
		Active:  func() bool { return journal.Active() },
		Load:    func() float64 { return journal.Load() },
	})
	journal = sync.NewJournal(db, log, sync.JournalOptions{Committed: projector.Wake, RetainBodies: cfg.Retention.MessageBodies})
	defer journal.Close() // after the server stopped: commits what was queued
	metrics = api.NewMetrics(api.MetricsSource{DB: db, Commits: journal.CommitStats, QueueDepth: journal.QueueDepth})
	router, err := api.New(api.Deps{
		DB: db, Journal: journal, Verifier: verifier, Log: log, Metrics: metrics,
	}, api.Options{WebhookPath: cfg.Webhook.Path, CORSOrigins: cfg.Origins(), MaxBodyBytes: cfg.Webhook.MaxBodyBytes, BodyBudgetBytes: cfg.Webhook.BodyBudgetBytes,
		Tokens: cfg.Tokens(), MetricsElsewhere: cfg.AdminListen != ""})
	if err != nil {
		return err
	}
	projecting, stopProjector := context.WithCancel(context.WithoutCancel(ctx))
	projected := make(chan struct{})
	if *journalOnly {
		log.Warn("journal-only mode: events are journaled and never applied; use it only as a benchmark baseline")
		close(projected)
	} else {
		go func() { defer close(projected); projector.Run(projecting) }()
		if cfg.Retention.MessageBodies > 0 {
			sweeper := sync.NewSweeper(db, log, cfg.Retention.MessageBodies)
			swept := make(chan struct{})
			go func() { defer close(swept); sweeper.Run(projecting, time.Minute, projector.Holding) }()
			defer func() { <-swept }()
		}
	}
	// Stopping gives the lease up, so that another instance takes over at once.
	defer func() { stopProjector(); <-projected }()
	warnIfOpen(cfg, log)

	servers := []*server{{name: "public", addr: cfg.Listen, handler: router}}
	if cfg.AdminListen != "" {
		servers = append(servers, &server{name: "admin", addr: cfg.AdminListen,
			handler: api.NewAdmin(api.Deps{DB: db, Log: log, Metrics: metrics})})
	}
	served := make(chan error, len(servers))
	for _, s := range servers {
		if err := s.listen(cfg.MaxConnections, log); err != nil {
			for _, started := range servers {
				started.close()
			}
			return fmt.Errorf("serve: %w", err)
		}
		go func() { served <- s.serve() }()
	}
	log.Info("buzzmirror listening", "addr", servers[0].ln.Addr().String(), "admin", cfg.AdminListen, "driver", cfg.Database.Driver,
		"webhook", cfg.Webhook.Path, "version", buildinfo.Read().Version)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("serve: shutdown: %w", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

// server is one listener of serve's.
type server struct {
	name, addr string
	handler    http.Handler
	ln         net.Listener
	srv        *http.Server
}

// listen opens the listener, accepting at most maxConns connections at
// once: more wait in the kernel's queue until one closes, so a flood of
// connections costs memory only up to that bound.
func (s *server) listen(maxConns int, log *slog.Logger) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", s.name, err)
	}
	s.ln = netutil.LimitListener(ln, maxConns)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second, // the webhook gives a body 10 s (api.bodyTimeout)
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return nil
}

func (s *server) serve() error { return s.srv.Serve(s.ln) }

func (s *server) close() {
	if s.ln != nil {
		s.ln.Close()
	}
}

// warnIfOpen warns when the read API is reachable beyond this machine
// without tokens.
func warnIfOpen(cfg config.Config, log *slog.Logger) {
	if len(cfg.Tokens()) > 0 {
		return
	}
	host, _, _ := net.SplitHostPort(cfg.Listen)
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	log.Warn("the read API is open: no API tokens are configured and the listen address is not loopback; set BUZZMIRROR_API_TOKENS",
		"listen", cfg.Listen)
}

// tuneGC trades memory the service has to spare for CPU it has not: at
// thousands of events a second the default GOGC=100 spends a fifth of the
// CPU collecting (bench ingest: 4391 events/s at 100, 4897 at 400). The
// memory limit keeps the heap, and RSS, bounded all the same. GOGC and
// GOMEMLIMIT in the environment take precedence.
func tuneGC(env Env) {
	if env.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if env.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
}
