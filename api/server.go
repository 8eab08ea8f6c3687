// Package api is buzzmirror's HTTP face: the BuzzBip webhook, the read-only
// REST API, health, metrics and the OpenAPI document. It is the only package
// that knows Echo.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
	"github.com/buzzmirror/buzzmirror/ui"
)

// Options configure the router.
type Options struct {
	WebhookPath     string
	MaxBodyBytes    int64
	BodyBudgetBytes int64 // 64 MiB when zero
	Tokens          []string
	CORSOrigins     []string // origins whose pages may call /v1; none when empty
	// MetricsElsewhere leaves /metrics out: NewAdmin serves it on a
	// listener of its own.
	MetricsElsewhere bool
}

// Deps are the services the router calls.
type Deps struct {
	DB       *store.DB
	Journal  *sync.Journal
	Verifier *sync.Verifier
	Log      *slog.Logger
	Metrics  *Metrics // made from DB and Journal when nil
}

// New returns the router with every route: the whole route table is here.
func New(d Deps, o Options) (*echo.Echo, error) {
	doc, err := openapiDocument(o.WebhookPath)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	metrics := d.Metrics
	if metrics == nil {
		metrics = NewMetrics(MetricsSource{DB: d.DB, Commits: d.Journal.CommitStats, QueueDepth: d.Journal.QueueDepth})
	}
	e.Use(requestID, recoverer(d.Log), accessLog(d.Log), metrics.middleware, compress)
	if len(o.CORSOrigins) > 0 {
		e.Use(cors(o.CORSOrigins))
	}

	if o.BodyBudgetBytes <= 0 {
		o.BodyBudgetBytes = 64 << 20
	}
	wh := &webhook{verifier: d.Verifier, ingester: d.Journal, maxBody: o.MaxBodyBytes, log: d.Log, metrics: metrics,
		refusals: ratelog.New(d.Log, 10*time.Second), bodies: newBodyBudget(o.BodyBudgetBytes)}
	e.POST(o.WebhookPath, wh.receive)

	// Auth is attached per route, not with Group.Use: a group middleware makes
	// Echo answer 404 instead of 405 for other methods on /v1 paths.
	auth := bearerAuth(o.Tokens)
	r := &reader{db: d.DB, duplicates: d.Journal.DuplicatesRejected}
	for path, h := range map[string]echo.HandlerFunc{
		"/v1/contacts":                   r.listContacts,
		"/v1/contacts/:id":               r.getContact,
		"/v1/contacts/:id/conversations": r.contactConversations,
		"/v1/contacts/:id/messages":      r.contactMessages,
		"/v1/conversations":              r.listConversations,
		"/v1/conversations/:id":          r.getConversation,
		"/v1/conversations/:id/messages": r.conversationMessages,
		"/v1/messages":                   r.listMessages,
		"/v1/messages/:id":               r.getMessage,
		"/v1/workflow-runs":              r.listWorkflowRuns,
		"/v1/events":                     r.listEvents,
		"/v1/events/:id":                 r.getEvent,
		"/v1/changes":                    r.changes,
		"/v1/stats":                      r.stats,
	} {
		e.GET(path, h, auth)
	}

	if err := ui.Register(e, d.DB, ui.Options{Tokens: o.Tokens, Log: d.Log}); err != nil {
		return nil, err
	}
	health(e, d.DB)
	if !o.MetricsElsewhere {
		e.GET("/metrics", metrics.handler())
	}
	e.GET("/openapi.json", serveOpenAPI(doc))
	return e, nil
}

// compress gzips answers of /v1, the inspector and the OpenAPI document for clients that
// accept it, at the fastest level: the answers are JSON, which shrinks
// tenfold even so, and the CPU is the read API's. Small answers go as they
// are.
var compress = middleware.GzipWithConfig(middleware.GzipConfig{
	Level:     1,
	MinLength: 1024,
	Skipper: func(c echo.Context) bool {
		p := c.Request().URL.Path
		return !strings.HasPrefix(p, "/v1/") && !strings.HasPrefix(p, "/ui/") && p != "/openapi.json"
	},
})

// cors lets pages on origins call /v1 from a browser, preflight included.
// The API is read-only and takes a bearer token, not cookies, so no
// credentials are allowed.
func cors(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper:       func(c echo.Context) bool { return !strings.HasPrefix(c.Request().URL.Path, "/v1/") },
		AllowOrigins:  origins,
		AllowMethods:  []string{http.MethodGet, http.MethodHead},
		AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderAccept, echo.HeaderXRequestID},
		ExposeHeaders: []string{echo.HeaderXRequestID},
		MaxAge:        3600,
	})
}

// NewAdmin returns the router of the admin listener: /metrics, and health.
func NewAdmin(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	e.Use(recoverer(d.Log))
	health(e, d.DB)
	e.GET("/metrics", d.Metrics.handler())
	return e
}

// health serves liveness and readiness, for GET and HEAD alike (uptime
// checkers use HEAD; Echo answers it with the headers alone).
func health(e *echo.Echo, db *store.DB) {
	live := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) }
	e.GET("/healthz", live)
	e.HEAD("/healthz", live)
	e.GET("/readyz", readyz(db))
	e.HEAD("/readyz", readyz(db))
}

// readyz reports ready only while the database can commit: a delivery
// now would be journaled (store.Ready).
func readyz(db *store.DB) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := db.Ready(ctx); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
}

// bearerAuth admits requests carrying one of tokens, compared in constant
// time. With no tokens configured it admits everything.
func bearerAuth(tokens []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if len(tokens) == 0 {
			return next
		}
		return func(c echo.Context) error {
			given, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
			match := 0
			for _, t := range tokens {
				match |= subtle.ConstantTimeCompare([]byte(given), []byte(t))
			}
			if !ok || match != 1 {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="buzzmirror"`)
				return newError(http.StatusUnauthorized, "a valid Authorization: Bearer token is required")
			}
			return next(c)
		}
	}
}

// Keys a handler sets on the request for the access log.
const (
	logEventID   = "log.event"
	logEventType = "log.type"
)

// accessLog logs each request by route template (raw URLs could carry
// phone numbers in query strings), with its request id, and for the
// webhook the event's id and type. Successes are logged at debug: at
// thousands of events a second they are for metrics. Failures are logged
// at info, but a failure repeating (a flood of bad requests, a database
// that is down) once every 10 s for each route and status, with a count.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	failures := ratelog.New(log, 10*time.Second)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status = problemFor(err).Status
			}
			args := []any{"method", c.Request().Method, "route", c.Path(), "status", status,
				"ms", float64(time.Since(start).Microseconds()) / 1000, "request", c.Response().Header().Get(echo.HeaderXRequestID)}
			if id, ok := c.Get(logEventID).(string); ok {
				args = append(args, "event", id, "type", c.Get(logEventType))
			}
			ctx := c.Request().Context()
			if status < 400 {
				log.Log(ctx, slog.LevelDebug, "http", args...)
			} else {
				failures.Log(ctx, slog.LevelInfo, c.Path()+" "+strconv.Itoa(status), "http", args...)
			}
			return err
		}
	}
}

// recoverer turns a panic into a logged 500 instead of a dropped
// connection; but a stream that failed after its status was sent is
// logged and dropped (http.ErrAbortHandler), the only honest end left.
func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if cut, ok := r.(cutOff); ok {
						log.Error("response cut off", "route", c.Path(), "err", cut.err)
						panic(http.ErrAbortHandler)
					}
					log.Error("panic", "route", c.Path(), "panic", r)
					err = newError(http.StatusInternalServerError, "internal error; see the service log")
				}
			}()
			return next(c)
		}
	}
}

// requestID gives every request an id, echoed in X-Request-Id and in its
// log line: the caller's own when it sent a plausible one (1 to 64
// printable ASCII characters), else a new one.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
