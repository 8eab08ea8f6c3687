package sync

import (
	"context"
	"slices"
	"testing"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// aheadService returns a service on a fresh database of driver whose
// projector takes batches of two, with bodies journaled.
func aheadService(t *testing.T, driver string, bodies ...[]byte) *testService {
	t.Helper()
	db, _ := openWithDSN(t, driver)
	s := newTestService(db)
	t.Cleanup(s.Close)
	s.projector.opts.Batch = 2
	hold(t, s)
	journal(t, s, bodies...)
	return s
}

// journal journals bodies without applying them.
func journal(t *testing.T, s *testService, bodies ...[]byte) {
	t.Helper()
	for _, body := range bodies {
		if _, err := s.Ingest(context.Background(), body); err != nil {
			t.Fatal(err)
		}
	}
}

// isNamed checks the name of a contact.
func isNamed(t *testing.T, s *testService, id, want string) {
	t.Helper()
	c, err := s.db.Contact(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name == nil || *c.Name != want {
		t.Fatalf("%s is named %v, want %s", id, c.Name, want)
	}
}

// contact is a contact event of type typ naming contactID.
func contact(id, typ, at, contactID, name string) []byte {
	return ev(id, typ, at, obj{"contactId": contactID, "name": name})
}

// planned lists the ids of the events the projector planned ahead.
func planned(p *Projector) []string {
	if p.next == nil {
		return nil
	}
	var ids []string
	for _, ev := range p.next.events {
		ids = append(ids, ev.ID)
	}
	return ids
}

// step runs one projector step and checks how many events it took.
func step(t *testing.T, s *testService, events int) {
	t.Helper()
	st, err := s.projector.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != events {
		t.Fatalf("step took %d events, want %d", st.Events, events)
	}
}

// TestPlanAhead checks the batch a step plans while it writes a full one:
// it leaves out the events of the batch being written and those that name
// a row that batch holds, and it is dropped, not written, when another
// writer changed the mirror before its turn.
func TestPlanAhead(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			t.Run("leaves out what the batch being written holds", func(t *testing.T) {
				// e0 and e1 go first; e2 names e0's contact.
				s := aheadService(t, driver,
					contact("e0", "contact.created", t1, "cnt_a", "A"),
					contact("e1", "contact.created", t1, "cnt_b", "B"),
					contact("e2", "contact.updated", t2, "cnt_a", "A2"),
					contact("e3", "contact.created", t1, "cnt_c", "C"),
					contact("e4", "contact.created", t1, "cnt_d", "D"))
				step(t, s, 2)
				// Its snapshot may or may not see e0 and e1 applied: e4 is
				// planned if it read that far.
				if got := planned(s.projector); !slices.Equal(got, []string{"e3"}) && !slices.Equal(got, []string{"e3", "e4"}) {
					t.Fatalf("planned ahead %v, want [e3] or [e3 e4]: e2 names cnt_a, which the batch being written held", got)
				}
				MustDrain(t, s)
				isNamed(t, s, "cnt_a", "A2")
				checkCounters(t, s.db)
				if st := MustStats(t, s.db); st.Contacts != 4 || st.Events[models.EventPending] != 0 || st.Events[models.EventApplied] != 5 {
					t.Fatalf("stats: %d contacts, %d pending, %d applied; want 4, 0, 5", st.Contacts, st.Events[models.EventPending], st.Events[models.EventApplied])
				}
			})
			t.Run("is dropped when another writer came in between", func(t *testing.T) {
				s := aheadService(t, driver, contact("e0", "contact.created", t1, "cnt_x", "X"))
				MustDrain(t, s)
				journal(t, s,
					contact("e1", "contact.created", t1, "cnt_a", "A"),
					contact("e2", "contact.created", t1, "cnt_b", "B"),
					contact("e3", "contact.updated", t2, "cnt_x", "X2"))
				step(t, s, 2)
				if got := planned(s.projector); !slices.Equal(got, []string{"e3"}) {
					t.Fatalf("planned ahead %v, want [e3]", got)
				}
				// Another writer applies e3 and a newer update (as a
				// projector that took the lease over would).
				journal(t, s, contact("e4", "contact.updated", t3, "cnt_x", "X3"))
				err := s.db.WriteLoose(context.Background(), func(tx *store.Tx) error {
					_, err := projectPending(context.Background(), tx, s.projector.epoch, 10, discard)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				step(t, s, 0) // written as planned, e3 would undo e4
				isNamed(t, s, "cnt_x", "X3")
				checkCounters(t, s.db)
				if st := MustStats(t, s.db); st.Contacts != 3 || st.Events[models.EventApplied] != 5 {
					t.Fatalf("stats: %d contacts, %d applied; want 3 and 5", st.Contacts, st.Events[models.EventApplied])
				}
			})
		})
	}
}
