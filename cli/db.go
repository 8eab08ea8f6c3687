package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/buzzmirror/buzzmirror/sync"
)

// Migrate applies pending migrations.
func Migrate(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "migrate", "Apply every pending migration, one transaction each, and exit. Safe to run\nfrom several instances at once.")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	db, applied, err := openStore(ctx, cfg, migrateSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) == 0 {
		fmt.Fprintln(env.Stdout, "schema is up to date")
		return nil
	}
	fmt.Fprintf(env.Stdout, "applied migrations %v\n", applied)
	return nil
}

// Rebuild recomputes the mirror from the journal.
func Rebuild(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "rebuild", "Delete the mirror's rows and recompute them from the stored events, in one\ntransaction: readers see the old mirror until the new one is complete.\nWebhook deliveries wait meanwhile.")
	cacheRows := fs.Int("cache-rows", 400_000, "contacts, conversations and workflow runs kept in memory between pages (about 1.6 KiB each); fewer use less memory and take longer")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	db, _, err := openStore(ctx, cfg, requireSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if *cacheRows < 1 {
		return fmt.Errorf("rebuild: --cache-rows must be at least 1")
	}
	syncer := sync.NewSyncer(db, newLogger(cfg, env.Stderr), sync.Options{RebuildCacheRows: *cacheRows})
	defer syncer.Close()
	st, err := syncer.Rebuild(ctx)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(env.Stdout, "rebuilt from %d events (%d applied, %d ignored, %d failed) in %s (%.0f events/s)\n",
		st.Events, st.Applied, st.Ignored, st.Failed, took.Round(time.Millisecond), float64(st.Events)/took.Seconds())
	return nil
}
