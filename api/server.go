// Package api is buzzmirror's HTTP face: the BuzzBip webhook, the read-only
// REST API, health, metrics and the OpenAPI document. It is the only package
// that knows Echo.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Options configure the router.
type Options struct {
	WebhookPath  string
	MaxBodyBytes int64
	Tokens       []string
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
		metrics = NewMetrics(MetricsSource{DB: d.DB, Commits: d.Journal.CommitStats})
	}
	e.Use(recoverer(d.Log), accessLog(d.Log), metrics.middleware)

	wh := &webhook{verifier: d.Verifier, ingester: d.Journal, maxBody: o.MaxBodyBytes, log: d.Log, metrics: metrics}
	e.POST(o.WebhookPath, wh.receive)

	// Auth is attached per route, not with Group.Use: a group middleware makes
	// Echo answer 404 instead of 405 for other methods on /v1 paths.
	auth := bearerAuth(o.Tokens)
	r := &reader{db: d.DB, duplicates: d.Journal.DuplicatesRejected}
	for path, h := range map[string]echo.HandlerFunc{
		"/v1/contacts":                   r.listContacts,
		"/v1/contacts/:id":               r.getContact,
		"/v1/contacts/:id/conversations": r.contactConversations,
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

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", readyz(d.DB))
	e.GET("/metrics", metrics.handler())
	e.GET("/openapi.json", serveOpenAPI(doc))
	return e, nil
}

// readyz reports ready only while the database answers.
func readyz(db *store.DB) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
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

// accessLog logs each request by route template: raw URLs could carry phone
// numbers in query strings.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status = problemFor(err).Status
			}
			level := slog.LevelDebug // at thousands of events a second, success is for metrics
			if status >= 400 {
				level = slog.LevelInfo
			}
			log.Log(c.Request().Context(), level, "http", "method", c.Request().Method, "route", c.Path(),
				"status", status, "ms", float64(time.Since(start).Microseconds())/1000)
			return err
		}
	}
}

// recoverer turns a panic into a logged 500 instead of a dropped connection.
func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					log.Error("panic", "route", c.Path(), "panic", r)
					err = newError(http.StatusInternalServerError, "internal error; see the service log")
				}
			}()
			return next(c)
		}
	}
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
