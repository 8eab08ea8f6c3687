package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Migrate applies pending migrations.
func Migrate(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "migrate", "Apply every pending migration, one transaction each, and exit. Safe to run\nfrom several instances at once.", "database", "log")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	db, applied, err := openStore(ctx, cfg, migrateSchema, newLogger(cfg, env.Stderr))
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

// Rebuild recomputes the mirror from the journal while serve runs.
func Rebuild(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "rebuild", "Recompute the mirror from the stored events, beside the live one, and swap\n"+
		"the two in one short transaction: readers see the old mirror until then,\n"+
		"and deliveries are journaled and answered throughout. Runs while serve runs\n"+
		"(on any number of instances); the change feed then lists every row that\n"+
		"changed or went away.", "database", "log")
	cacheRows := fs.Int("cache-rows", 64_000, "contacts, conversations and workflow runs kept in memory between pages (about 1.5 KiB each, with the collector's share); fewer use less memory and take longer")
	cfg, err := parse(env, fs, cf)
	if err != nil {
		return err
	}
	if *cacheRows < 1 {
		return fmt.Errorf("rebuild: --cache-rows must be at least 1")
	}
	log := newLogger(cfg, env.Stderr)
	db, _, err := openStore(ctx, cfg, requireSchema, log, bulkWriter, func(o *store.Options) { o.WriterCacheKiB = 8 << 10 })
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	progress := newProgress(env, "rebuild")
	st, err := sync.Rebuild(ctx, db, log, sync.RebuildOptions{CacheRows: *cacheRows, Progress: progress.rebuild})
	progress.finish()
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(env.Stdout, "rebuilt from %d events (%d applied, %d ignored, %d failed, %d erased; %d rows removed) in %s (%.0f events/s)\n",
		st.Events, st.Applied, st.Ignored, st.Failed, st.Erased, st.Removed, took.Round(time.Millisecond), float64(st.Events)/took.Seconds())
	return nil
}

// Backup writes a consistent copy of a SQLite database while serve runs.
func Backup(ctx context.Context, env Env) error {
	fs, cf := newFlags(env, "backup", "buzzmirror backup FILE\n\nWrite a consistent copy of the SQLite database to FILE (a new file, created\n"+
		"readable by its owner alone) while serve goes on answering deliveries. To\n"+
		"restore, stop serve and point database.dsn at the copy (or move it into\n"+
		"place). On Postgres, use pg_dump instead.", "database", "log")
	args, err := parsePositional(fs, env.Args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		fmt.Fprintln(env.Stderr, "backup takes one argument, the file to write")
		fs.Usage()
		return ErrUsage
	}
	file := args[0]
	cfg, err := cf.Load(env.Getenv)
	if err != nil {
		return err
	}
	if cfg.Database.Driver != store.DriverSQLite {
		return store.ErrBackupPostgres
	}
	db, _, err := openStore(ctx, cfg, requireSchema, newLogger(cfg, env.Stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	progress := newProgress(env, "backup")
	err = db.Backup(ctx, file, progress.every(), func(p store.BackupProgress) {
		progress.print(fmt.Sprintf("backup: %s written (the database file is %s)", size(p.Written), size(p.Total)))
	})
	progress.finish()
	if err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backed up to %s: %s in %s\n", file, size(st.Size()), time.Since(start).Round(time.Millisecond))
	return nil
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
