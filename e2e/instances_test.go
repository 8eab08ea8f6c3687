package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	gosync "sync"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestSeveralInstances starts two, then three, instances on one empty
// Postgres database at once (they migrate concurrently), sprays a stream
// across them with every fifth event delivered to two instances at the same
// moment, and follows the change feed of one of them meanwhile. The mirror
// equals a clean one-by-one delivery and the feed showed every row at its
// latest change.
func TestSeveralInstances(t *testing.T) {
	if len(storetest.Drivers(t)) < 2 {
		t.Skip("needs Postgres")
	}
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			severalInstances(t, n)
		})
	}
}

func severalInstances(t *testing.T, n int) {
	dsn := storetest.DSN(t, store.DriverPostgres)
	env := []string{"BUZZMIRROR_DATABASE_DRIVER=postgres", "BUZZMIRROR_DATABASE_DSN=" + dsn, "BUZZMIRROR_WEBHOOK_SECRET=" + faultSecret}
	instances := make([]*service, n)
	var wg gosync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() { defer wg.Done(); instances[i] = start(t, env...) }()
	}
	wg.Wait()

	bodies := stream(800)
	client := &http.Client{Timeout: 20 * time.Second}
	send := func(i int, b []byte) {
		if code, err := post(client, "http://"+instances[i%n].addr+"/webhooks/buzzbip", b); err != nil || code != 200 {
			t.Errorf("instance %d: %d %v", i%n, code, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var senders gosync.WaitGroup
		for w := range 12 {
			senders.Add(1)
			go func() {
				defer senders.Done()
				for i := w; i < len(bodies); i += 12 {
					if i%5 == 0 { // the same event at two instances at once
						var both gosync.WaitGroup
						both.Add(2)
						go func() { defer both.Done(); send(i, bodies[i]) }()
						go func() { defer both.Done(); send(i+1, bodies[i]) }()
						both.Wait()
						continue
					}
					send(i, bodies[i])
				}
			}()
		}
		senders.Wait()
	}()

	seen := map[string]int64{}
	cursor := ""
	for finished := false; ; {
		select {
		case <-done:
			// The senders are done; the feed is complete once nothing waits
			// for the projector (read before the page).
			n, err := pending(instances[0].addr)
			finished = err == nil && n == 0
		default:
		}
		target := "http://" + instances[0].addr + "/v1/changes?limit=50"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		resp, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data []struct {
				Seq  int64  `json:"seq"`
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"data"`
			NextCursor string `json:"nextCursor"`
			HasMore    bool   `json:"hasMore"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Data {
			seen[c.Type+"/"+c.ID] = c.Seq
		}
		cursor = page.NextCursor
		if finished && !page.HasMore {
			break
		}
	}

	db := openStore(t, store.DriverPostgres, dsn)
	m, err := db.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]int64{}
	for _, c := range m.Contacts {
		latest["contact/"+c.ID] = c.Seq
	}
	for _, c := range m.Conversations {
		latest["conversation/"+c.ID] = c.Seq
	}
	for _, c := range m.Messages {
		latest["message/"+c.ID] = c.Seq
	}
	for _, r := range m.WorkflowRuns {
		latest["workflowRun/"+r.ID] = r.Seq
	}
	for key, seq := range latest {
		if seen[key] != seq {
			t.Errorf("%s: the feed last showed position %d, the row is at %d", key, seen[key], seq)
		}
	}
	if got, want := mirror(t, db), cleanMirror(t, store.DriverPostgres, bodies); !reflect.DeepEqual(got, want) {
		t.Errorf("%d instances built another mirror than a clean delivery", n)
	}
	if st, _ := db.Stats(t.Context()); st.JournalRows() != int64(countIDs(bodies)) {
		t.Errorf("journal holds %d events, want %d", st.JournalRows(), countIDs(bodies))
	}
}
