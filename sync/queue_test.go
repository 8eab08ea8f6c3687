package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // a second, raw connection that holds the write lock

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestQueueFullAnswersOverloaded holds SQLite's write lock from another
// connection so the writer stalls, fills the queue, and checks that the
// next delivery is refused at once, and that the queued ones commit once
// the lock is released.
func TestQueueFullAnswersOverloaded(t *testing.T) {
	db, dsn := openWithDSN(t, store.DriverSQLite)
	s := NewJournal(db, discard, JournalOptions{QueueSize: 4, MaxBatch: 1})
	defer s.Close()

	blocker, err := sql.Open("sqlite3", "file:"+dsn+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	results := make(chan error, 16)
	var wg gosync.WaitGroup
	deliver := func(i int) {
		defer wg.Done()
		_, err := s.Ingest(context.Background(), ev(fmt.Sprintf("evt_q%d", i), "message.sent", t1,
			obj{"messageId": fmt.Sprint("m", i), "conversationId": "c"}))
		results <- err
	}
	// One delivery occupies the writer (stalled on the lock), four fill the
	// queue.
	wg.Add(1)
	go deliver(0)
	time.Sleep(200 * time.Millisecond) // the idle writer takes it at once
	for i := 1; i < 5; i++ {
		wg.Add(1)
		go deliver(i)
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.queue) < cap(s.queue); {
		if time.Now().After(deadline) {
			t.Fatalf("the queue never filled: %d of %d", len(s.queue), cap(s.queue))
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err = s.Ingest(context.Background(), ev("evt_over", "message.sent", t1, obj{"messageId": "m", "conversationId": "c"}))
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("full queue: got %v, want ErrOverloaded", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("a full queue must answer at once, took %s", waited)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("queued delivery: %v", err)
		}
	}
	if n := MustStats(t, db).JournalRows(); n != 5 {
		t.Errorf("journal holds %d events, want the 5 queued", n)
	}
	// One delivery a batch; the refused one never reached the writer, and
	// the first waited on the lock inside its commit. A batch's time is
	// counted after its answers, so the writer stops first.
	s.Close()
	if st := s.CommitStats(); st.Batches != 5 || st.Deliveries != 5 || st.Busy < 200*time.Millisecond {
		t.Errorf("commit stats %+v, want 5 batches of one delivery, busy at least the 200 ms stall", st)
	}
}

// TestConcurrentDeliveriesFormOneMirror sends a stream from many goroutines
// while the projector runs as serve runs it, so the writer commits it in
// groups and the projector applies it in batches of whatever is pending,
// and compares with sequential delivery.
func TestConcurrentDeliveriesFormOneMirror(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		bodies := benchBodies(400)
		grouped := newTestService(db)
		defer grouped.Close()
		ctx, stop := context.WithCancel(context.Background())
		projected := make(chan struct{})
		go func() { defer close(projected); grouped.projector.Run(ctx) }()
		var wg gosync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(bodies); i += 16 {
					if _, err := grouped.Ingest(context.Background(), bodies[i]); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		for deadline := time.Now().Add(20 * time.Second); MustStats(t, db).Events[models.EventPending] > 0; {
			if time.Now().After(deadline) {
				t.Fatal("the projector did not catch up")
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		<-projected
		grouped.Close() // a batch's time is counted after its answers
		if st := grouped.CommitStats(); st.Deliveries != int64(len(bodies)) || st.Batches < 1 || st.Batches > st.Deliveries {
			t.Errorf("commit stats %+v, want %d deliveries in 1 to %d batches", st, len(bodies), len(bodies))
		}
		checkCounters(t, db)
		single := newTestService(storetest.Open(t, db.Driver()))
		defer single.Close()
		for _, b := range bodies {
			MustIngest(t, single, b)
		}
		if got, want := MustSnapshot(t, db), MustSnapshot(t, single.db); dump(got) != dump(want) {
			t.Errorf("grouped commits differ from one-by-one delivery")
		}
	})
}
