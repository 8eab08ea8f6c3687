package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseCommits(t *testing.T) {
	text := `# HELP buzzmirror_commit_batches_total Batches.
# TYPE buzzmirror_commit_batches_total counter
buzzmirror_commit_batches_total 1200
# TYPE buzzmirror_commit_busy_seconds_total counter
buzzmirror_commit_busy_seconds_total 5.88
# TYPE buzzmirror_commit_deliveries_total counter
buzzmirror_commit_deliveries_total 36000
# TYPE buzzmirror_events_total counter
buzzmirror_events_total{outcome="accepted",type="message.sent"} 14000
# TYPE buzzmirror_pending_events gauge
buzzmirror_pending_events 120
# TYPE buzzmirror_pending_oldest_age_seconds gauge
buzzmirror_pending_oldest_age_seconds 0.25
`
	c, err := parseCommits(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if c != (Commits{Batches: 1200, Deliveries: 36000, Busy: 5.88, Pending: 120, OldestPending: 0.25}) {
		t.Fatalf("parsed %+v", c)
	}
	var out bytes.Buffer
	c.Report(&out, Commits{Batches: 200, Deliveries: 6000, Busy: 0.88}, 10*time.Second)
	if want := "writer: 1000 batches, 30.0 deliveries a batch, 5.00 ms a batch, busy 50 % of the run\n"; out.String() != want {
		t.Errorf("report %q, want %q", out.String(), want)
	}
	if _, err := parseCommits(strings.NewReader("# TYPE buzzmirror_commit_batches_total counter\nbuzzmirror_commit_batches_total 3\n")); err == nil {
		t.Error("a /metrics without every series must be an error")
	}
	if _, err := parseCommits(strings.NewReader("buzzmirror_commit_batches_total x\n")); err == nil {
		t.Error("a counter that is no number must be an error")
	}
}
