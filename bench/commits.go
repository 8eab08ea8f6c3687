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

// Commits is what a buzzmirror server's /metrics says of its journal's
// group commit and of the events waiting for its projector.
type Commits struct {
	Batches, Deliveries float64
	Busy                float64 // seconds
	Pending             float64 // events waiting for the projector
	OldestPending       float64 // seconds
}

// metricsURL is the /metrics of the server that serves webhookURL.
func metricsURL(webhookURL string) (string, error) {
	u, err := url.Parse(webhookURL)
	if err != nil {
		return "", err
	}
	u.Path, u.RawQuery = "/metrics", ""
	return u.String(), nil
}

// ScrapeCommits reads the journal's counters and the pending events from
// the /metrics of the server that serves webhookURL, giving it five
// seconds.
func ScrapeCommits(ctx context.Context, webhookURL string) (Commits, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := metricsURL(webhookURL)
	if err != nil {
		return Commits{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
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

// parseCommits picks the series out of Prometheus' text format.
func parseCommits(r io.Reader) (Commits, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Commits{}, fmt.Errorf("bench: read /metrics: %w", err)
	}
	var c Commits
	for name, dst := range map[string]*float64{
		"buzzmirror_commit_batches_total":       &c.Batches,
		"buzzmirror_commit_deliveries_total":    &c.Deliveries,
		"buzzmirror_commit_busy_seconds_total":  &c.Busy,
		"buzzmirror_pending_events":             &c.Pending,
		"buzzmirror_pending_oldest_age_seconds": &c.OldestPending,
	} {
		f := families[name]
		if f == nil || len(f.GetMetric()) != 1 {
			return Commits{}, fmt.Errorf("bench: /metrics has no series %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			*dst = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			*dst = m.GetGauge().GetValue()
		default:
			return Commits{}, fmt.Errorf("bench: %s is neither a counter nor a gauge", name)
		}
	}
	return c, nil
}

// Freshness samples the age of the oldest pending event while a run lasts.
type Freshness struct {
	ages []time.Duration
	last Commits
}

// WatchFreshness scrapes the server of webhookURL every interval until ctx
// ends, and returns what it saw.
func WatchFreshness(ctx context.Context, webhookURL string, interval time.Duration) <-chan *Freshness {
	out := make(chan *Freshness, 1)
	go func() {
		f := &Freshness{}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- f
				return
			case <-t.C:
				if c, err := ScrapeCommits(ctx, webhookURL); err == nil {
					f.ages = append(f.ages, time.Duration(c.OldestPending*float64(time.Second)))
					f.last = c
				}
			}
		}
	}()
	return out
}

// Report prints the percentiles of the oldest pending event's age.
func (f *Freshness) Report(w io.Writer) {
	if len(f.ages) == 0 {
		return
	}
	l := NewLatencies()
	for _, a := range f.ages {
		l.Add(a, "")
	}
	fmt.Fprintf(w, "freshness: oldest pending event, %d samples: p50 %.0fms  p99 %.0fms  max %.0fms; %.0f pending at the end\n",
		l.Count(), l.Percentile(50).Seconds()*1000, l.Percentile(99).Seconds()*1000, l.Percentile(100).Seconds()*1000, f.last.Pending)
}

// CatchUp waits until the server of webhookURL has no pending event and
// reports how long that took and how many there were.
func CatchUp(ctx context.Context, w io.Writer, webhookURL string) error {
	start := time.Now()
	first := -1.0
	for {
		c, err := ScrapeCommits(ctx, webhookURL)
		if err != nil {
			return err
		}
		if first < 0 {
			first = c.Pending
		}
		if c.Pending == 0 {
			took := time.Since(start)
			fmt.Fprintf(w, "catch-up: %.0f pending events applied in %s (%.0f events/s)\n",
				first, took.Round(10*time.Millisecond), first/max(took.Seconds(), 0.001))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
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
