package sync

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // raw connection that installs the trigger

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// refuseContact makes the database itself refuse to store the contact id,
// as it would a value it cannot take.
var refuseContact = map[string][]string{
	store.DriverSQLite: {`CREATE TRIGGER refuse BEFORE INSERT ON contacts WHEN NEW.id = 'cnt_poison'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`},
	store.DriverPostgres: {
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.id = 'cnt_poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse()`,
	},
}

// refusingDB opens a fresh database whose contacts table refuses the id
// cnt_poison.
func refusingDB(t *testing.T, driver string) *store.DB {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.DSN(t, driver)
	db, err := store.Open(ctx, driver, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rawDriver, rawDSN := "pgx", dsn
	if driver == store.DriverSQLite {
		rawDriver, rawDSN = "sqlite3", "file:"+dsn+"?_busy_timeout=10000"
	}
	raw, err := sql.Open(rawDriver, rawDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range refuseContact[driver] {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// eachRefusing runs fn as a parallel subtest per driver, with a Syncer on
// a database that refuses the contact cnt_poison.
func eachRefusing(t *testing.T, fn func(t *testing.T, db *store.DB, s *Syncer)) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			db := refusingDB(t, driver)
			s := newTestSyncer(db)
			defer s.Close()
			fn(t, db, s)
		})
	}
}

// poisoned is the index of the event, of eight, whose contact is refused.
const poisoned = 5

// contactEvent is the i-th of eight contact.created events, e0 to e7.
func contactEvent(i int) []byte {
	id := fmt.Sprint("cnt_", i)
	if i == poisoned {
		id = "cnt_poison"
	}
	return ev(fmt.Sprint("e", i), "contact.created", t1, obj{"contactId": id, "name": "N"})
}

// checkOnlyPoisonFailed checks the mirror holds the seven good contacts and
// the journal all eight events, the refused one as failed.
func checkOnlyPoisonFailed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if m := MustSnapshot(t, db); len(m.Contacts) != 7 {
		t.Errorf("mirror holds %d contacts, want the 7 good ones", len(m.Contacts))
	}
	bad, err := db.Event(ctx, fmt.Sprint("e", poisoned))
	if err != nil || bad.Status != models.EventFailed {
		t.Errorf("refused event: %+v, %v; want it journaled as failed", bad, err)
	}
	if n, _ := db.CountEvents(ctx); n != 8 {
		t.Errorf("journal holds %d events, want 8", n)
	}
}

// TestBadEventFailsAlone commits a batch in which the database refuses one
// event's row: that event is kept as failed, every other one is applied,
// and each gets its own answer.
func TestBadEventFailsAlone(t *testing.T) {
	eachRefusing(t, func(t *testing.T, db *store.DB, s *Syncer) {
		var batch []*request
		for i := range 8 {
			env, err := ParseEnvelope(contactEvent(i))
			if err != nil {
				t.Fatal(err)
			}
			ev, status, reason := classify(env)
			batch = append(batch, &request{env: env, ev: ev, status: status, reason: reason, ctx: context.Background(), done: make(chan reply, 1)})
		}
		s.commit(batch)
		for i, r := range batch {
			got := <-r.done
			want := Accepted
			if i == poisoned {
				want = Quarantined
			}
			if got.err != nil || got.res.Outcome != want {
				t.Errorf("event %d: %v, %v; want %s", i, got.res.Outcome, got.err, want)
			}
		}
		checkOnlyPoisonFailed(t, db)
	})
}

// TestRebuildKeepsRefusedEventFailed delivers the same events one by one
// (the refused one alone must be answered quarantined, not 503 at every
// resend), then rebuilds: the fast pass fails, the careful one keeps that
// event as failed and applies every other one.
func TestRebuildKeepsRefusedEventFailed(t *testing.T) {
	eachRefusing(t, func(t *testing.T, db *store.DB, s *Syncer) {
		s.opts.RebuildBatch = 3
		for i := range 8 {
			want := Accepted
			if i == poisoned {
				want = Quarantined
			}
			if got := MustIngest(t, s, contactEvent(i)); got != want {
				t.Errorf("event %d delivered alone: %s, want %s", i, got, want)
			}
		}
		before := dump(MustSnapshot(t, db))
		st, err := s.Rebuild(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st != (RebuildStats{Events: 8, Applied: 7, Failed: 1}) {
			t.Errorf("rebuild: %+v, want 8 events, 7 applied, 1 failed", st)
		}
		if after := dump(MustSnapshot(t, db)); after != before {
			t.Errorf("rebuild changed the mirror:\n%s\nwant\n%s", after, before)
		}
		checkOnlyPoisonFailed(t, db)
	})
}
