package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Problem is an RFC 9457 problem document, the body of every error answer.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Parameter names the query parameter a 400 is about.
	Parameter string `json:"parameter,omitempty"`
}

// Error is an error a handler answers with on purpose.
type Error struct {
	Status    int
	Detail    string
	Parameter string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Detail) }

func newError(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// badParam is a 400 about one query parameter.
func badParam(name, format string, args ...any) *Error {
	e := newError(http.StatusBadRequest, "%s: %s", name, fmt.Sprintf(format, args...))
	e.Parameter = name
	return e
}

// errorHandler maps every error to a problem document: the only place where
// errors become HTTP statuses. Internal details are logged, never sent.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	// A database that is down fails every request: one line a minute for
	// each route and status says so, with how many were left out.
	failures := ratelog.New(log, time.Minute)
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := problemFor(err)
		if p.Status >= 500 {
			failures.Log(c.Request().Context(), slog.LevelError, c.Path()+" "+strconv.Itoa(p.Status), "request failed",
				"method", c.Request().Method, "route", c.Path(), "status", p.Status, "err", err)
		}
		if p.Status == http.StatusMethodNotAllowed {
			// Echo computed the allowed methods for this path; keep them.
			if allow := c.Response().Header().Get(echo.HeaderAllow); allow == "" {
				c.Response().Header().Set(echo.HeaderAllow, http.MethodGet)
			}
		}
		writeProblem(c, p)
	}
}

func problemFor(err error) Problem {
	var own *Error
	var httpErr *echo.HTTPError
	p := Problem{Type: "about:blank", Status: http.StatusInternalServerError, Detail: "internal error; see the service log"}
	switch {
	case errors.As(err, &own):
		p.Status, p.Detail, p.Parameter = own.Status, own.Detail, own.Parameter
	case errors.Is(err, models.ErrNotFound):
		p.Status, p.Detail = http.StatusNotFound, "no such resource"
	case errors.Is(err, sync.ErrOverloaded):
		p.Status, p.Detail = http.StatusServiceUnavailable, "too many events are waiting to be committed; try again"
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Detail = http.StatusServiceUnavailable, "the database is unavailable; try again"
	case errors.As(err, &httpErr):
		p.Status = httpErr.Code
		p.Detail = http.StatusText(httpErr.Code)
		if msg, ok := httpErr.Message.(string); ok && httpErr.Code < 500 {
			p.Detail = msg
		}
	}
	p.Title = http.StatusText(p.Status)
	return p
}

func writeProblem(c echo.Context, p Problem) {
	if p.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", "5")
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = encodeJSON(c.Response(), p)
}
