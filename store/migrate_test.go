package store_test

import (
	"context"
	"errors"
	gosync "sync"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestConcurrentMigrate starts several migrators on one empty database at
// once, as several instances starting together would: each step is applied
// exactly once and all of them succeed.
func TestConcurrentMigrate(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := storetest.DSN(t, driver)
			const n = 4
			applied := make([][]int, n)
			errs := make([]error, n)
			var wg gosync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := store.Open(ctx, driver, dsn, store.Options{})
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					applied[i], errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			total := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("migrator %d: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			fresh, err := store.Open(ctx, driver, storetest.DSN(t, driver), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			steps, err := fresh.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if total != len(steps) {
				t.Fatalf("migrators applied %d steps in all, want each of the %d once: %v", total, len(steps), applied)
			}
			other, err := store.Open(ctx, driver, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.CheckSchema(ctx); err != nil {
				t.Fatalf("after concurrent migration: %v", err)
			}
			if again, err := other.Migrate(ctx); err != nil || len(again) != 0 {
				t.Fatalf("second migrate applied %v, %v", again, err)
			}
		})
	}
}

func TestCheckSchemaRefusesOutdated(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), driver, storetest.DSN(t, driver), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.CheckSchema(context.Background()); !errors.Is(err, store.ErrSchemaOutdated) {
				t.Fatalf("empty database: got %v, want ErrSchemaOutdated", err)
			}
		})
	}
}
