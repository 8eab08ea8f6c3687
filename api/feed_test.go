package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	gosync "sync"
	"sync/atomic"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

type feedAnswer struct {
	Data []struct {
		Seq    int64           `json:"seq"`
		Type   string          `json:"type"`
		ID     string          `json:"id"`
		Action string          `json:"action"`
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	NextCursor string `json:"nextCursor"`
	HasMore    bool   `json:"hasMore"`
}

// TestChangeFeedUnderConcurrentWriters follows the change feed while three
// service instances (three connection pools on one database) commit events
// from many goroutines at once. At the end every row of the mirror has been
// seen at its latest change: the feed skipped nothing.
func TestChangeFeedUnderConcurrentWriters(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := storetest.DSN(t, driver)
			var instances []*testServer
			for i := range 3 {
				db, err := store.Open(ctx, driver, dsn, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if i == 0 {
					if _, err := db.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
				}
				instances = append(instances, newTestServer(t, db, Options{}))
			}

			const writers, perWriter = 6, 60
			var done atomic.Bool
			var wg gosync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					s := instances[w%len(instances)]
					for i := range perWriter {
						conv := rng.IntN(8)
						body := eventAt(fmt.Sprintf("e_%d_%03d", w, i), "message.sent", rng.IntN(50), map[string]any{
							"messageId": fmt.Sprintf("msg_%d", rng.IntN(40)), "conversationId": fmt.Sprintf("conv_%d", conv),
							"contactId": fmt.Sprintf("cnt_%d", conv%5), "body": fmt.Sprint(i),
						})
						if rec := s.deliver(t, body); rec.Code != 200 {
							t.Errorf("deliver: %d %s", rec.Code, rec.Body)
							return
						}
					}
				}()
			}
			go func() { wg.Wait(); done.Store(true) }()

			reader := instances[2]
			latest := map[string]int64{}
			cursor := ""
			for {
				finished := done.Load() // read before the page: a page read after the writers finished sees everything
				target := "/v1/changes?limit=7"
				if cursor != "" {
					target += "&cursor=" + cursor
				}
				rec := reader.do(t, http.MethodGet, target, nil, nil)
				if rec.Code != 200 {
					t.Fatalf("changes: %d %s", rec.Code, rec.Body)
				}
				var page feedAnswer
				if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
					t.Fatal(err)
				}
				for _, c := range page.Data {
					latest[c.Type+"/"+c.ID] = c.Seq
				}
				cursor = page.NextCursor
				if cursor == "" {
					t.Fatal("nextCursor must always be set")
				}
				if finished && !page.HasMore {
					break
				}
			}

			m, err := instances[0].db.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{}
			for _, c := range m.Contacts {
				want["contact/"+c.ID] = c.Seq
			}
			for _, c := range m.Conversations {
				want["conversation/"+c.ID] = c.Seq
			}
			for _, c := range m.Messages {
				want["message/"+c.ID] = c.Seq
			}
			if len(want) < 40 {
				t.Fatalf("only %d rows written", len(want))
			}
			for key, seq := range want {
				if latest[key] != seq {
					t.Errorf("%s: feed last showed position %d, row is at %d", key, latest[key], seq)
				}
			}
		})
	}
}

// TestFeedNowAndDeletes starts the change feed at "now", which lists
// nothing of the past, then sees a later change as an upsert and a row
// that left the mirror as a delete with a null object.
func TestFeedNowAndDeletes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		s.deliver(t, event("e_old", "contact.created", map[string]any{"contactId": "cnt_old"}))
		now := decode[feedAnswer](t, s.do(t, http.MethodGet, "/v1/changes?cursor=now", nil, nil))
		if len(now.Data) != 0 || now.HasMore || now.NextCursor == "" {
			t.Fatalf("cursor=now: %+v, want no items and a cursor", now)
		}
		s.deliver(t, event("e_new", "contact.created", map[string]any{"contactId": "cnt_new"}))
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			return tx.RecordDeletions(store.KindContact, []string{"cnt_gone"}, tx.Seq())
		})
		if err != nil {
			t.Fatal(err)
		}
		page := decode[feedAnswer](t, s.do(t, http.MethodGet, "/v1/changes?cursor="+now.NextCursor, nil, nil))
		var got []string
		for _, c := range page.Data {
			got = append(got, c.ID+" "+c.Action+" "+string(c.Object[:min(4, len(c.Object))]))
		}
		if want := []string{"cnt_new upsert {\"id", "cnt_gone delete null"}; !slices.Equal(got, want) {
			t.Errorf("after now: %q, want %q", got, want)
		}
	})
}
