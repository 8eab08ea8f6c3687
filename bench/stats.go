package bench

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Latencies collects request durations and answers of one or more workers.
type Latencies struct {
	durations []time.Duration
	answers   map[string]int
}

// NewLatencies returns an empty collector.
func NewLatencies() *Latencies { return &Latencies{answers: map[string]int{}} }

// Add records one request.
func (l *Latencies) Add(d time.Duration, answer string) {
	l.durations = append(l.durations, d)
	l.answers[answer]++
}

// Merge adds o's records to l.
func (l *Latencies) Merge(o *Latencies) {
	l.durations = append(l.durations, o.durations...)
	for k, v := range o.answers {
		l.answers[k] += v
	}
}

// Count is the number of requests recorded.
func (l *Latencies) Count() int { return len(l.durations) }

// Percentile returns the p-th percentile (0 < p <= 100).
func (l *Latencies) Percentile(p float64) time.Duration {
	if len(l.durations) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(l.durations, func(i, j int) bool { return l.durations[i] < l.durations[j] }) {
		slices.Sort(l.durations)
	}
	i := int(float64(len(l.durations))*p/100+0.5) - 1
	return l.durations[min(max(i, 0), len(l.durations)-1)]
}

// Report prints throughput, latency percentiles and answers.
func (l *Latencies) Report(w io.Writer, label string, elapsed time.Duration) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "%s: %d requests in %s = %.0f/s  p50 %s  p90 %s  p99 %s  max %s\n",
		label, l.Count(), elapsed.Round(time.Millisecond), float64(l.Count())/elapsed.Seconds(),
		ms(l.Percentile(50)), ms(l.Percentile(90)), ms(l.Percentile(99)), ms(l.Percentile(100)))
	keys := make([]string, 0, len(l.answers))
	for k := range l.answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, l.answers[k]))
	}
	fmt.Fprintf(w, "%s answers: %s\n", label, strings.Join(parts, " "))
}
