package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// run starts s's projector as serve runs it, until the test ends.
func run(t *testing.T, s *testService) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.projector.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// settled waits until nothing is pending.
func settled(t *testing.T, db *store.DB) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); MustStats(t, db).Events["pending"] > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending", MustStats(t, db).Events["pending"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRebuildWhileDeliveriesArrive rebuilds, with a cache small enough to
// evict, while eight senders deliver and the projector applies: every
// delivery is journaled, the rebuild succeeds, and once the projector
// caught up the mirror is the one in-order delivery makes.
func TestRebuildWhileDeliveriesArrive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestService(db)
		defer s.Close()
		s.projector.opts.Standby = 10 * time.Millisecond // take the lease back soon after the rebuild
		run(t, s)
		bodies := benchBodies(1200)
		for _, b := range bodies[:400] {
			if _, err := s.Ingest(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		settled(t, db)

		var wg gosync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 400 + w; i < len(bodies); i += 8 {
					if _, err := s.Ingest(context.Background(), bodies[i]); err != nil {
						t.Errorf("delivery during the rebuild: %v", err)
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		st, err := Rebuild(context.Background(), db, discard, RebuildOptions{Page: 50, CacheRows: 100})
		wg.Wait()
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		if st.Events < 400 {
			t.Errorf("the rebuild read %d events, want at least the 400 journaled before it", st.Events)
		}
		settled(t, db)

		want := newTestService(storetest.Open(t, db.Driver()))
		defer want.Close()
		for _, b := range bodies {
			MustIngest(t, want, b)
		}
		if got, wantMirror := MustSnapshot(t, db), MustSnapshot(t, want.db); dump(got) != dump(wantMirror) {
			t.Error("after a rebuild under deliveries the mirror differs from in-order delivery")
		}
		checkCounters(t, db)
	})
}

// TestRebuildFeedListsWhatChanged damages the live mirror (a row changed
// behind the projection's back, a row no event makes), then rebuilds: the
// change feed from before the rebuild lists the repaired row and the
// removed one, and nothing the rebuild left as it was.
func TestRebuildFeedListsWhatChanged(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, dsn := openWithDSN(t, driver)
			s := newTestService(db)
			defer s.Close()
			for _, b := range benchBodies(300) {
				MustIngest(t, s, b)
			}
			before := MustSnapshot(t, db)
			damaged, kept := before.Conversations[0].ID, before.Conversations[1].ID
			storetest.Exec(t, driver, dsn,
				fmt.Sprintf("UPDATE conversations SET message_count = 99 WHERE id = '%s'", damaged),
				`INSERT INTO contacts (id, created_at, updated_at, synced_at, seq) VALUES
				 ('cnt_nobody', '2026-06-01T10:00:00.000000000Z', '2026-06-01T10:00:00.000000000Z', '2026-06-01T10:00:00.000000000Z', 1)`)
			end, err := db.FeedEnd(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Rebuild(ctx, db, discard, RebuildOptions{Page: 40})
			if err != nil {
				t.Fatal(err)
			}
			if st.Removed != 1 {
				t.Errorf("rebuild removed %d rows, want the one no event makes", st.Removed)
			}
			changes, more, err := db.Changes(ctx, end, store.FeedKinds, 500)
			if err != nil || more {
				t.Fatalf("changes: %v (more %v)", err, more)
			}
			seen := map[string]store.Change{}
			for _, c := range changes {
				seen[c.Key.Kind+"/"+c.Key.ID] = c
			}
			if c, ok := seen["conversation/"+damaged]; !ok || c.Conversation == nil || c.Conversation.MessageCount == 99 {
				t.Errorf("the repaired conversation is not in the feed as repaired: %+v", c)
			}
			if c, ok := seen["contact/cnt_nobody"]; !ok || !c.Deleted() {
				t.Errorf("the removed contact is not in the feed as deleted: %+v", c)
			}
			if _, ok := seen["conversation/"+kept]; ok {
				t.Errorf("the feed lists %s, which the rebuild left as it was", kept)
			}
			if len(seen) != 2 {
				t.Errorf("the feed lists %d rows after the rebuild, want the 2 it changed", len(seen))
			}
			if after := MustSnapshot(t, db); dump(after) != dump(before) {
				t.Error("the rebuilt mirror differs from the one the projector made")
			}
			checkCounters(t, db)
		})
	}
}

// TestRebuildVacuumsOnPostgres rebuilds with a cache small enough that
// conversations are written many times over: the tables swapped in have
// the planner's statistics and were vacuumed, so readers do not wade
// through the rebuild's dead row versions until autovacuum comes by.
func TestRebuildVacuumsOnPostgres(t *testing.T) {
	ctx := context.Background()
	db, dsn := openWithDSN(t, store.DriverPostgres)
	s := newTestService(db)
	defer s.Close()
	for _, b := range benchBodies(600) {
		MustIngest(t, s, b)
	}
	if _, err := Rebuild(ctx, db, discard, RebuildOptions{Page: 20, CacheRows: 10}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Vacuum's counter, not the pages it marked all-visible: those depend
	// on the oldest snapshot in the whole database, which the tests running
	// beside this one hold back.
	for _, table := range []string{"contacts", "conversations", "messages"} {
		var vacuums, stats int
		err := raw.QueryRow(`SELECT t.vacuum_count,
			(SELECT count(*) FROM pg_stats s WHERE s.schemaname = t.schemaname AND s.tablename = t.relname)
			FROM pg_stat_user_tables t WHERE t.relid = to_regclass($1)`, table).Scan(&vacuums, &stats)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if vacuums == 0 {
			t.Errorf("%s was not vacuumed before it was swapped in", table)
		}
		if stats == 0 {
			t.Errorf("%s after the rebuild: no column statistics (not analyzed)", table)
		}
	}
}

// TestOneRebuildAtATime refuses a second rebuild while one holds the lease.
func TestOneRebuildAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, _, err := db.AcquireLease(ctx, "rebuild other:1", time.Minute, true); err != nil {
			t.Fatal(err)
		}
		_, err := Rebuild(ctx, db, discard, RebuildOptions{})
		if err == nil || errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a second rebuild: %v, want a refusal naming the first", err)
		}
	})
}

// TestProjectorTakesOver runs two projectors on one database: one holds
// the lease and applies; when it stops, the other takes over within the
// lease's time and applies what comes next.
func TestProjectorTakesOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestService(db)
		defer s.Close()
		opts := ProjectorOptions{LeaseTTL: 300 * time.Millisecond, Standby: 20 * time.Millisecond, Poll: 10 * time.Millisecond}
		first, second := opts, opts
		first.Holder, second.Holder = "first", "second"
		a, b := NewProjector(db, discard, first), NewProjector(db, discard, second)
		ctxA, stopA := context.WithCancel(context.Background())
		doneA := make(chan struct{})
		go func() { defer close(doneA); a.Run(ctxA) }()
		for !a.Holding() {
			time.Sleep(time.Millisecond)
		}
		ctxB, stopB := context.WithCancel(context.Background())
		defer stopB()
		go b.Run(ctxB)

		bodies := benchBodies(200)
		for _, body := range bodies[:100] {
			if _, err := s.Ingest(context.Background(), body); err != nil {
				t.Fatal(err)
			}
		}
		settled(t, db)
		if b.Holding() {
			t.Fatal("two projectors hold the lease")
		}
		stopA()
		<-doneA
		start := time.Now()
		for !b.Holding() {
			if time.Since(start) > 5*time.Second {
				t.Fatal("the standby projector did not take over")
			}
			time.Sleep(time.Millisecond)
		}
		for _, body := range bodies[100:] {
			if _, err := s.Ingest(context.Background(), body); err != nil {
				t.Fatal(err)
			}
		}
		settled(t, db)
		checkCounters(t, db)
	})
}

// TestKeepLease keeps a lease past its time with nothing else renewing
// it, as a rebuild's vacuum does: nobody takes it meanwhile, and when one
// preempts it (an erasure), lost says so.
func TestKeepLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ttl := time.Second
		epoch, _, err := db.AcquireLease(ctx, "long work", ttl, true)
		if err != nil {
			t.Fatal(err)
		}
		lost, stop := keepLease(ctx, db, epoch, ttl)
		defer stop()
		time.Sleep(3 * ttl)
		if _, ok, err := db.AcquireLease(ctx, "projector", ttl, false); err != nil || ok {
			t.Fatalf("a projector took the kept lease after three times its length: ok %v, err %v", ok, err)
		}
		select {
		case <-lost:
			t.Fatal("lost closed while nobody took the lease")
		default:
		}
		if _, ok, err := db.AcquireLease(ctx, "erase", ttl, true); err != nil || !ok {
			t.Fatalf("preempt: ok %v, err %v", ok, err)
		}
		select {
		case <-lost:
		case <-time.After(5 * ttl):
			t.Fatal("lost did not close after the lease was taken over")
		}
	})
}
