package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Commits is what a buzzmirror server's /metrics says of its group commit.
type Commits struct {
	Batches, Deliveries float64
	Busy                float64 // seconds
}

// ScrapeCommits reads the group-commit counters from the /metrics of the
// server that serves webhookURL, giving it five seconds.
func ScrapeCommits(ctx context.Context, webhookURL string) (Commits, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := url.Parse(webhookURL)
	if err != nil {
		return Commits{}, err
	}
	u.Path, u.RawQuery = "/metrics", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Commits{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Commits{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Commits{}, fmt.Errorf("bench: %s answered %s", u, resp.Status)
	}
	return parseCommits(resp.Body)
}

// parseCommits picks the three counters out of Prometheus' text format.
func parseCommits(r io.Reader) (Commits, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Commits{}, fmt.Errorf("bench: read /metrics: %w", err)
	}
	var c Commits
	for name, dst := range map[string]*float64{
		"buzzmirror_commit_batches_total":      &c.Batches,
		"buzzmirror_commit_deliveries_total":   &c.Deliveries,
		"buzzmirror_commit_busy_seconds_total": &c.Busy,
	} {
		f := families[name]
		if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter() == nil {
			return Commits{}, fmt.Errorf("bench: /metrics has no counter %s", name)
		}
		*dst = f.GetMetric()[0].GetCounter().GetValue()
	}
	return c, nil
}

// Report prints what the writer did between before and c, over elapsed.
func (c Commits) Report(w io.Writer, before Commits, elapsed time.Duration) {
	batches, deliveries, busy := c.Batches-before.Batches, c.Deliveries-before.Deliveries, c.Busy-before.Busy
	if batches <= 0 {
		return
	}
	fmt.Fprintf(w, "writer: %.0f batches, %.1f deliveries a batch, %.2f ms a batch, busy %.0f %% of the run\n",
		batches, deliveries/batches, busy/batches*1000, busy/elapsed.Seconds()*100)
}
