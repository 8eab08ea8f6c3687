package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	var c Commits
	found := 0
	for sc := bufio.NewScanner(r); sc.Scan(); {
		name, value, ok := strings.Cut(sc.Text(), " ")
		var dst *float64
		switch name {
		case "buzzmirror_commit_batches_total":
			dst = &c.Batches
		case "buzzmirror_commit_deliveries_total":
			dst = &c.Deliveries
		case "buzzmirror_commit_busy_seconds_total":
			dst = &c.Busy
		}
		if !ok || dst == nil {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return Commits{}, fmt.Errorf("bench: metric %s: %w", name, err)
		}
		*dst = v
		found++
	}
	if found != 3 {
		return Commits{}, fmt.Errorf("bench: /metrics holds %d of the 3 group-commit counters", found)
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
