package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Metrics are the service's Prometheus series, on a registry of their own
// so that several servers (tests) never share counters.
type Metrics struct {
	registry    *prometheus.Registry
	webhookReqs *prometheus.CounterVec
	events      *prometheus.CounterVec
	applyTime   prometheus.Histogram
	dbErrors    prometheus.Counter
	apiReqs     *prometheus.CounterVec
}

// JournalCounter counts journaled events for the journal gauge.
type JournalCounter interface {
	CountEvents(ctx context.Context) (int64, error)
}

// NewMetrics registers every series; journal and commits may be nil.
func NewMetrics(journal JournalCounter, commits func() sync.CommitStats) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		webhookReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzzmirror_webhook_requests_total",
			Help: "Webhook deliveries by answer (accepted, duplicate, ignored, quarantined, or the error status).",
		}, []string{"answer"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzzmirror_events_total",
			Help: "Verified events by type (unknown types as \"other\") and outcome.",
		}, []string{"type", "outcome"}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "buzzmirror_apply_duration_seconds",
			Help:    "Time from a verified body to its committed journal row and mirror change.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "buzzmirror_database_errors_total",
			Help: "Requests that failed because the database was unavailable.",
		}),
		apiReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "buzzmirror_api_requests_total",
			Help: "HTTP requests by route template and status.",
		}, []string{"route", "status"}),
	}
	m.registry.MustRegister(m.webhookReqs, m.events, m.applyTime, m.dbErrors, m.apiReqs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if commits != nil {
		counter := func(name, help string, v func(sync.CommitStats) float64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(commits()) })
		}
		m.registry.MustRegister(
			counter("buzzmirror_commit_batches_total", "Batches the webhook's single writer took, each committed in one transaction.",
				func(c sync.CommitStats) float64 { return float64(c.Batches) }),
			counter("buzzmirror_commit_deliveries_total", "Deliveries in those batches; divided by the batches, the mean batch.",
				func(c sync.CommitStats) float64 { return float64(c.Deliveries) }),
			counter("buzzmirror_commit_busy_seconds_total", "Time the writer spent committing; a rate near 1 means it is saturated.",
				func(c sync.CommitStats) float64 { return c.Busy.Seconds() }),
		)
	}
	if journal != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "buzzmirror_journal_rows",
			Help: "Events in the journal.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := journal.CountEvents(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

func (m *Metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
}

func (m *Metrics) webhook(res sync.Result, err error) {
	answer := string(res.Outcome)
	if err != nil {
		answer = strconv.Itoa(problemFor(err).Status)
	}
	m.webhookReqs.WithLabelValues(answer).Inc()
}

func (m *Metrics) applied(res sync.Result, took time.Duration) {
	typ := res.Type
	if !slices.Contains(models.EventTypes, typ) {
		typ = "other"
	}
	m.events.WithLabelValues(typ, string(res.Outcome)).Inc()
	if res.Outcome != sync.Duplicate {
		m.applyTime.Observe(took.Seconds())
	}
}

// middleware counts every request by route template, never by raw URL, so
// ids and query values stay out of the series.
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = problemFor(err).Status
		}
		if status == http.StatusServiceUnavailable && errors.Is(err, store.ErrUnavailable) {
			m.dbErrors.Inc()
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.apiReqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
		return err
	}
}
