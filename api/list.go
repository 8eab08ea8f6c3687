package api

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// listing is one list endpoint's access to the store: a page of rows, every
// row (an export), how rows become resources, and a row's sort key. A list
// under a contact or conversation has an owner too: it answers
// models.ErrNotFound when that row is missing. Its queries match nothing
// then, so the owner is looked up only when they come back empty.
//
// An expanded list (expand=contact) reads its rows' contacts with the page
// (store.Page.Contacts) and hands them to render; render reads them itself
// when it gets none (an export's pages).
type listing[R, T any] struct {
	page   func(context.Context, store.Page) ([]R, bool, error)
	export func(context.Context, func(context.Context, []R) error) error
	render func(ctx context.Context, rows []R, contacts map[string]*models.Contact) ([]T, error)
	key    func(*R) store.Key
	owner  func(context.Context) error
	expand bool
}

// ownerOf answers for an empty list: nil, or why the list does not exist.
func (l *listing[R, T]) ownerOf(ctx context.Context) error {
	if l.owner == nil {
		return nil
	}
	return l.owner(ctx)
}

// listPage is the answer of every list endpoint.
type listPage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
	HasMore    bool    `json:"hasMore"`
}

// ndjson is the media type of a whole-list export.
const ndjson = "application/x-ndjson"

// serveList answers a list request whose filters q has read: one page as
// JSON, or, when the client accepts only NDJSON, every matching row.
func serveList[R, T any](c echo.Context, q *query, l listing[R, T]) error {
	ctx := c.Request().Context()
	if wantsNDJSON(c.Request()) {
		for _, name := range []string{"limit", "cursor"} {
			if q.values.Has(name) {
				q.fail(badParam(name, "an export (Accept: %s) streams every matching row: leave out limit and cursor", ndjson))
			}
		}
		if err := q.Err(); err != nil {
			return err
		}
		return streamNDJSON(c, func(emit func([]T) error) error {
			found := false
			err := l.export(ctx, func(ctx context.Context, rows []R) error {
				found = true
				items, err := l.render(ctx, rows, nil)
				if err != nil {
					return err
				}
				return emit(items)
			})
			if err == nil && !found {
				return l.ownerOf(ctx)
			}
			return err
		})
	}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	if l.expand {
		p.Contacts = map[string]*models.Contact{}
	}
	rows, more, err := l.page(ctx, p)
	if err == nil && len(rows) == 0 {
		err = l.ownerOf(ctx)
	}
	if err != nil {
		return err
	}
	items, err := l.render(ctx, rows, p.Contacts)
	if err != nil {
		return err
	}
	out := listPage[T]{Data: items, HasMore: more}
	if more {
		s := q.nextCursor(l.key(&rows[len(rows)-1]))
		out.NextCursor = &s
	}
	return c.JSON(http.StatusOK, out)
}

// wantsNDJSON reports whether the request's Accept header names NDJSON
// and not JSON: a client that accepts both gets the usual page.
func wantsNDJSON(r *http.Request) bool {
	nd, js := false, false
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAccept), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case ndjson:
			nd = true
		case echo.MIMEApplicationJSON, "*/*", "application/*":
			js = true
		}
	}
	return nd && !js
}

// streamNDJSON writes what run emits, one JSON object a line, flushing
// after each batch, so memory holds one batch whatever the total. An error
// before the first line is an ordinary problem answer; after it, the
// status is already sent, so the response is cut off without its final
// chunk: the client sees a broken transfer, never a short list that looks
// complete.
func streamNDJSON[T any](c echo.Context, run func(emit func([]T) error) error) error {
	res := c.Response()
	enc := json.NewEncoder(res)
	err := run(func(items []T) error {
		if !res.Committed {
			res.Header().Set(echo.HeaderContentType, ndjson)
			res.WriteHeader(http.StatusOK)
		}
		for i := range items {
			if err := enc.Encode(&items[i]); err != nil {
				return err
			}
		}
		res.Flush()
		return nil
	})
	switch {
	case err == nil && !res.Committed:
		res.Header().Set(echo.HeaderContentType, ndjson)
		res.WriteHeader(http.StatusOK) // nothing matched: an empty body
		return nil
	case err != nil && res.Committed:
		panic(cutOff{err}) // recoverer logs it and aborts the response
	}
	return err
}

// cutOff is the panic that ends a stream which failed midway.
type cutOff struct{ err error }
