package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

func event(id string) models.Event {
	now := models.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	return models.Event{ID: id, Type: "contact.created", Status: models.EventApplied,
		CreatedAt: now, ReceivedAt: now, Payload: []byte(`{}`)}
}

// TestWriteIsAllOrNothing fails a transaction on a write that waits for
// the commit (on Postgres it is only sent then): nothing of it may remain,
// not its journal row nor its change-feed position, and the next
// transaction sees the database as the one before left it.
func TestWriteIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var first int64
		err := db.Write(ctx, func(tx *store.Tx) error {
			first = tx.Seq()
			_, err := tx.InsertEvents([]models.Event{event("e1")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		err = db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.InsertEvents([]models.Event{event("e2")}); err != nil {
				return err
			}
			c := &models.Contact{ID: "cnt_1", Tags: models.JSON(`[]`), Fields: models.JSON(`{}`), Extra: models.JSON(`{}`), Seq: tx.Seq()}
			if err := tx.Live().PutContacts([]*models.Contact{c}, nil); err != nil {
				return err
			}
			// Tags may not be NULL.
			bad := &models.Contact{ID: "cnt_bad", Fields: models.JSON(`{}`), Extra: models.JSON(`{}`), Seq: tx.Seq()}
			return tx.Live().PutContacts([]*models.Contact{bad}, nil)
		})
		if err == nil || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("a refused write committed or was misreported: %v", err)
		}

		if st, err := db.CountStats(ctx); err != nil || st.Events[models.EventApplied] != 1 {
			t.Errorf("journal holds %v (%v), want only the first transaction's event", st.Events, err)
		}
		if _, err := db.Contact(ctx, "cnt_1"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the failed transaction's contact is visible: %v", err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			if got := tx.Seq(); got != first+1 {
				t.Errorf("feed position after a rolled-back transaction: %d, want %d", got, first+1)
			}
			_, err := tx.InsertEvents([]models.Event{event("e3")})
			return err
		})
		if err != nil {
			t.Fatalf("the connection is unusable after the rollback: %v", err)
		}
	})
}

// TestPostgresWritesNeverScan checks the plan a load keeps once Postgres
// stops planning it anew: made while the table is small, it used to scan
// the table (postgresDSN).
func TestPostgresWritesNeverScan(t *testing.T) {
	if !slices.Contains(storetest.Drivers(t), store.DriverPostgres) {
		t.Skip("no Postgres")
	}
	db := storetest.Open(t, store.DriverPostgres)
	var plan []string
	err := store.WriteGorm(db).Connection(func(g *gorm.DB) error {
		for _, sql := range []string{
			"CREATE TEMP TABLE small (id text PRIMARY KEY)",
			"INSERT INTO small SELECT 'id' || g FROM generate_series(1, 20) g",
			"ANALYZE small",
			"PREPARE load_small (text, text) AS SELECT id FROM small WHERE id IN ($1, $2)",
		} {
			if err := g.Exec(sql).Error; err != nil {
				return err
			}
		}
		for range 6 { // the sixth run uses the plan kept for all arguments
			if err := g.Exec("EXECUTE load_small ('a', 'b')").Error; err != nil {
				return err
			}
		}
		return g.Raw("EXPLAIN EXECUTE load_small ('a', 'b')").Scan(&plan).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan") || !strings.Contains(text, "small_pkey") {
		t.Errorf("the kept plan of a load does not use the primary key:\n%s", text)
	}
}

// TestAbsentRowsAreInsertedOnce writes a row the transaction looked for and
// did not find (a plain INSERT), then writes it again in the same
// transaction, which must update it, as must a write after a savepoint
// that undid the first, and one after the transaction forgot its rows.
func TestAbsentRowsAreInsertedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		contact := func(tx *store.Tx, id, name string) *models.Contact {
			return &models.Contact{ID: id, Name: &name, Tags: models.JSON(`[]`), Fields: models.JSON(`{}`), Extra: models.JSON(`{}`), Seq: tx.Seq()}
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			found, err := tx.Live().LoadLater(store.Keys{Contacts: []string{"cnt_a", "cnt_b"}})()
			if err != nil {
				return err
			}
			if len(found.Contacts) != 0 {
				t.Fatalf("an empty mirror answered %v", found.Contacts)
			}
			if err := tx.Live().PutContacts([]*models.Contact{contact(tx, "cnt_a", "first")}, nil); err != nil {
				return err
			}
			if err := tx.Live().PutContacts([]*models.Contact{contact(tx, "cnt_a", "second")}, nil); err != nil {
				return err
			}
			tx.Forget()
			if err := tx.Live().PutContacts([]*models.Contact{contact(tx, "cnt_a", "third")}, nil); err != nil {
				return err
			}
			undone := errors.New("undone")
			err = tx.Savepoint("put", func() error {
				if err := tx.Live().PutContacts([]*models.Contact{contact(tx, "cnt_b", "undone")}, nil); err != nil {
					return err
				}
				return undone
			})
			if !errors.Is(err, undone) {
				t.Fatalf("savepoint: %v", err)
			}
			return tx.Live().PutContacts([]*models.Contact{contact(tx, "cnt_b", "kept")}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{"cnt_a": "third", "cnt_b": "kept"} {
			c, err := db.Contact(ctx, id)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if c.Name == nil || *c.Name != want {
				t.Errorf("%s is named %v, want %q", id, c.Name, want)
			}
		}
	})
}
