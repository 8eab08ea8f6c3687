package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/buzzmirror/buzzmirror/internal/buildinfo"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Metrics are the service's Prometheus series, on a registry of their own
// so that several servers (tests) never share counters.
type Metrics struct {
	registry       *prometheus.Registry
	webhookReqs    *prometheus.CounterVec
	events         *prometheus.CounterVec
	journalTime    prometheus.Histogram
	dbErrors       prometheus.Counter
	apiReqs        *prometheus.CounterVec
	apiTime        *prometheus.HistogramVec
	projectBatches prometheus.Histogram
	projectTime    prometheus.Histogram
	projectLag     prometheus.Histogram
	projectFailed  prometheus.Counter
}

// MetricsSource is what the metrics read from the rest of the service on
// each scrape; any field may be nil.
type MetricsSource struct {
	DB         *store.DB
	Commits    func() sync.CommitStats
	QueueDepth func() int // deliveries waiting for the journal writer
}

// webhookAnswers are the answers a delivery can get, each series present
// from the start so that a rate or an alert on it never sees "no data".
var webhookAnswers = []string{
	string(sync.Accepted), string(sync.Duplicate), string(sync.Ignored), string(sync.Quarantined),
	"400", "401", "413", "415", "500", "503",
}

// NewMetrics registers every series.
func NewMetrics(src MetricsSource) *Metrics {
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
		journalTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "buzzmirror_journal_duration_seconds",
			Help:    "Time from a verified body to its committed journal row (what the webhook's answer waits for).",
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
		apiTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "buzzmirror_api_request_duration_seconds",
			Help:    "Time to answer read API (/v1) requests, by route template.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
		projectBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "buzzmirror_projector_batch_events",
			Help:    "Pending events each projector transaction took.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		projectTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "buzzmirror_projector_batch_duration_seconds",
			Help:    "Time each projector transaction took, commit included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		projectLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "buzzmirror_projector_lag_seconds",
			Help:    "For each applied event, the time from its receipt to the commit that applied it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		projectFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "buzzmirror_projector_failed_events_total",
			Help: "Events the projector could not apply and kept as failed.",
		}),
	}
	for _, a := range webhookAnswers {
		m.webhookReqs.WithLabelValues(a)
	}
	bi := buildinfo.Read()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "buzzmirror_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.Go},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(m.webhookReqs, m.events, m.journalTime, m.dbErrors, m.apiReqs, m.apiTime,
		m.projectBatches, m.projectTime, m.projectLag, m.projectFailed, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.QueueDepth != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "buzzmirror_journal_queue_depth",
			Help: "Deliveries verified and waiting for the journal writer's next commit; near its bound, deliveries are answered 503.",
		}, func() float64 { return float64(src.QueueDepth()) }))
	}
	if src.Commits != nil {
		commits := src.Commits
		counter := func(name, help string, v func(sync.CommitStats) float64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(commits()) })
		}
		m.registry.MustRegister(
			counter("buzzmirror_commit_batches_total", "Batches the webhook's journal writer took, each committed in one transaction.",
				func(c sync.CommitStats) float64 { return float64(c.Batches) }),
			counter("buzzmirror_commit_deliveries_total", "Deliveries in those batches; divided by the batches, the mean batch.",
				func(c sync.CommitStats) float64 { return float64(c.Deliveries) }),
			counter("buzzmirror_commit_busy_seconds_total", "Time the journal writer spent committing; a rate near 1 means it is saturated.",
				func(c sync.CommitStats) float64 { return c.Busy.Seconds() }),
		)
	}
	if src.DB != nil {
		m.registry.MustRegister(newJournalCollector(src.DB))
	}
	return m
}

// journalCollector reports the journal from the counters every writer
// keeps, and the age of the oldest pending event from one index entry:
// a scrape never counts a table.
type journalCollector struct {
	db                                    *store.DB
	rows, events, pending, aged, received *prometheus.Desc
	mu                                    stdsync.Mutex
}

func newJournalCollector(db *store.DB) *journalCollector {
	return &journalCollector{
		db:      db,
		rows:    prometheus.NewDesc("buzzmirror_journal_rows", "Events in the journal.", nil, nil),
		events:  prometheus.NewDesc("buzzmirror_journal_events", "Events in the journal by status.", []string{"status"}, nil),
		pending: prometheus.NewDesc("buzzmirror_pending_events", "Journaled events waiting for the projector.", nil, nil),
		aged:    prometheus.NewDesc("buzzmirror_pending_oldest_age_seconds", "Age of the oldest event waiting for the projector (0 when none waits).", nil, nil),
		received: prometheus.NewDesc("buzzmirror_last_event_received_timestamp_seconds",
			"When the newest journaled event was received (Unix time; 0 before the first); alert when it stops moving.", nil, nil),
	}
}

func (c *journalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rows
	ch <- c.events
	ch <- c.pending
	ch <- c.aged
	ch <- c.received
}

func (c *journalCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock() // concurrent scrapes read once each, one after another
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.db.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rows, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(st.JournalRows()))
	for _, s := range models.EventStatuses {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(st.Events[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Events[models.EventPending]))
	last := 0.0
	if st.LastReceivedAt != nil {
		last = float64(st.LastReceivedAt.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.received, prometheus.GaugeValue, last)
	age := 0.0
	if oldest, err := c.db.OldestPending(ctx); err == nil && oldest != nil {
		age = max(0, c.db.Now().Sub(oldest.Time).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.aged, prometheus.GaugeValue, age)
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

func (m *Metrics) journaled(res sync.Result, took time.Duration) {
	typ := res.Type
	if !slices.Contains(models.EventTypes, typ) {
		typ = "other"
	}
	m.events.WithLabelValues(typ, string(res.Outcome)).Inc()
	if res.Outcome != sync.Duplicate {
		m.journalTime.Observe(took.Seconds())
	}
}

// ProjectorStep records one projector transaction; it is the projector's
// Observe hook.
func (m *Metrics) ProjectorStep(st sync.StepStats) {
	m.projectBatches.Observe(float64(st.Events))
	m.projectTime.Observe(st.Took.Seconds())
	for _, lag := range st.Lags {
		m.projectLag.Observe(lag.Seconds())
	}
	m.projectFailed.Add(float64(st.Failed))
}

// middleware counts every request by route template, never by raw URL, so
// ids and query values stay out of the series.
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
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
		if strings.HasPrefix(route, "/v1/") {
			m.apiTime.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
		return err
	}
}
