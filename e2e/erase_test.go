package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestEraseWhileDelivering runs `erase contact ID --yes` against the built
// binary while a sender delivers, then retries every event: every delivery
// is answered 200, the person's rows are gone from the mirror, every event
// that named them is erased in the journal (retries too), and a rebuild
// agrees with the live mirror.
func TestEraseWhileDelivering(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			s := start(t, "BUZZMIRROR_DATABASE_DRIVER="+driver, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
			bodies := stream(3000)
			victim, naming := busiestContact(bodies)
			out, acked := s.whileDelivering(t, bodies[:1500], bodies[1500:], func() string {
				return s.run(t, "erase", "--yes", "contact", victim)
			})
			if !strings.Contains(out, "erased contact "+victim+": 1 contact") {
				t.Fatalf("erase: %s", out)
			}
			if len(acked) != countIDs(bodies[1500:]) {
				t.Errorf("%d of %d deliveries made during the erasure were answered 200", len(acked), countIDs(bodies[1500:]))
			}
			// BuzzBip retries everything, the erased events included.
			hook := "http://" + s.addr + "/webhooks/buzzbip"
			client := &http.Client{Timeout: 20 * time.Second}
			for _, b := range bodies {
				if code, err := post(client, hook, b); err != nil || code != 200 {
					t.Fatalf("retry: %d %v", code, err)
				}
			}
			s.settle(t)

			db := openStore(t, driver, dsn)
			ctx := context.Background()
			for _, id := range naming {
				if e, err := db.Event(ctx, id); err != nil || e.Status != models.EventErased || len(e.Payload) != 0 {
					t.Errorf("event %s named %s: %+v, %v", id, victim, e, err)
				}
			}
			m := mirror(t, db)
			if len(m.Contacts) == 0 {
				t.Fatal("the mirror is empty")
			}
			for _, c := range m.Contacts {
				if c.ID == victim {
					t.Errorf("contact %s is still in the mirror", victim)
				}
			}
			for _, c := range m.Conversations {
				if c.ContactID != nil && *c.ContactID == victim {
					t.Errorf("conversation %s of %s is still in the mirror", c.ID, victim)
				}
			}
			for _, msg := range m.Messages {
				if msg.ContactID != nil && *msg.ContactID == victim {
					t.Errorf("message %s of %s is still in the mirror", msg.ID, victim)
				}
			}
			s.run(t, "rebuild")
			if rebuilt := mirror(t, db); !reflect.DeepEqual(rebuilt, m) {
				t.Error("a rebuild after the erasure differs from the live mirror")
			}
		})
	}
}

// busiestContact is the contact most events name, and those events' ids.
func busiestContact(bodies [][]byte) (string, []string) {
	byContact := map[string][]string{}
	for _, b := range bodies {
		var env struct {
			ID   string
			Data struct{ ContactID string }
		}
		if json.Unmarshal(b, &env) == nil && env.Data.ContactID != "" {
			byContact[env.Data.ContactID] = append(byContact[env.Data.ContactID], env.ID)
		}
	}
	best := ""
	for c, ids := range byContact {
		if len(ids) > len(byContact[best]) || (len(ids) == len(byContact[best]) && c < best) {
			best = c
		}
	}
	return best, byContact[best]
}
