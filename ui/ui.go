// Package ui is the inspector: read-only HTML pages under /ui/ that show
// what BuzzBip sent and what the mirror made of it. Pages are rendered on
// the server with html/template from embedded files, work without
// JavaScript, and use the read API's indexed queries.
package ui

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// Options configure the inspector.
type Options struct {
	Tokens []string // the API's tokens; none leaves the pages open, as /v1
	Log    *slog.Logger
}

// inspector serves the pages.
type inspector struct {
	db     *store.DB
	tokens []string
	log    *slog.Logger
	pages  map[string]*template.Template

	// The overview's failure tallies group many rows (a quarter of 1M
	// messages failed in the benchmark's data set: a second a count, and
	// eight readers queued behind it), so they are counted at most once
	// every tallyEvery by each instance.
	tallyMu sync.Mutex
	tallied time.Time
	tallies tallies
}

type tallies struct{ reasons, codes []store.Tally }

const tallyEvery = 30 * time.Second

// Register adds the inspector's routes to e.
func Register(e *echo.Echo, db *store.DB, o Options) error {
	in := &inspector{db: db, tokens: o.Tokens, log: o.Log, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	for _, name := range names {
		if name == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return fmt.Errorf("ui: %s: %w", name, err)
		}
		in.pages[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = t
	}
	assets, _ := fs.Sub(assetFiles, "assets")
	static := http.StripPrefix("/ui/assets/", http.FileServer(http.FS(assets)))
	e.GET("/ui/assets/*", echo.WrapHandler(static), headers)
	e.GET("/ui/sign-in", in.signInForm, headers)
	e.POST("/ui/sign-in", in.signIn, headers)
	for path, h := range map[string]echo.HandlerFunc{
		"/ui/":                  in.overview,
		"/ui/find":              in.find,
		"/ui/events":            in.events,
		"/ui/events/:id":        in.event,
		"/ui/conversations":     in.conversations,
		"/ui/conversations/:id": in.conversation,
		"/ui/messages/:id":      in.message,
		"/ui/contacts":          in.contacts,
		"/ui/contacts/:id":      in.contact,
	} {
		e.GET(path, h, headers, in.auth)
	}
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	return nil
}

// headers are every page's: a strict Content-Security-Policy (the pages
// load their own stylesheet and nothing else, run no script, and may not
// be framed), and no caching of pages that show personal data.
func headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/ui/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// cookieName holds a signed-in reader's proof: a MAC of a fixed text under
// one of the tokens. It is worthless once that token is removed, and it
// never holds the token itself.
const cookieName = "buzzmirror_ui"

func proof(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("buzzmirror inspector v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid reports whether given is a configured token, in constant time.
func (in *inspector) valid(given string, transform func(string) string) bool {
	match := 0
	for _, t := range in.tokens {
		match |= subtle.ConstantTimeCompare([]byte(given), []byte(transform(t)))
	}
	return match == 1
}

// auth admits a reader with a valid bearer token or sign-in cookie when
// tokens are configured; a browser is sent to the sign-in form, anything
// else gets 401. Never the data.
func (in *inspector) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(in.tokens) == 0 {
			return next(c)
		}
		if bearer, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer "); ok && in.valid(bearer, func(t string) string { return t }) {
			return next(c)
		}
		if ck, err := c.Cookie(cookieName); err == nil && in.valid(ck.Value, proof) {
			return next(c)
		}
		if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
			return c.Redirect(http.StatusSeeOther, "/ui/sign-in?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="buzzmirror"`)
		return in.render(c, http.StatusUnauthorized, "error", "Sign in needed", map[string]any{
			"Message": "Sign in with an API token first.", "SignIn": true})
	}
}

func (in *inspector) signInForm(c echo.Context) error {
	return in.render(c, http.StatusOK, "signin", "Sign in", map[string]any{"Next": safeNext(c.QueryParam("next")), "Open": len(in.tokens) == 0})
}

func (in *inspector) signIn(c echo.Context) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 4<<10)
	token, next := c.FormValue("token"), safeNext(c.FormValue("next"))
	if len(in.tokens) > 0 && !in.valid(token, func(t string) string { return t }) {
		return in.render(c, http.StatusUnauthorized, "signin", "Sign in", map[string]any{"Next": next, "Wrong": true})
	}
	if len(in.tokens) > 0 {
		c.SetCookie(&http.Cookie{Name: cookieName, Value: proof(token), Path: "/ui/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https"})
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// safeNext is where to go after signing in: a page of the inspector, never
// another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/ui/"
	}
	return next
}

// render writes a page.
func (in *inspector) render(c echo.Context, status int, page, title string, data any) error {
	t := in.pages[page]
	var buf bytes.Buffer
	if err := t.Execute(&buf, map[string]any{"Title": title, "Page": page, "Data": data}); err != nil {
		return fmt.Errorf("ui: render %s: %w", page, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// fail renders a store failure or a missing row as a page.
func (in *inspector) fail(c echo.Context, err error) error {
	if errors.Is(err, models.ErrNotFound) {
		return in.render(c, http.StatusNotFound, "error", "Not found", map[string]any{"Message": "Nothing has this id."})
	}
	if in.log != nil {
		in.log.Error("ui: page failed", "route", c.Path(), "err", err)
	}
	return in.render(c, http.StatusServiceUnavailable, "error", "Unavailable", map[string]any{"Message": "The database did not answer; try again."})
}

// pageSize is how many rows a list page shows.
const pageSize = 50

// after reads a list's position from the query (at and id).
func after(c echo.Context) store.Page {
	p := store.Page{Limit: pageSize}
	if at, id := c.QueryParam("at"), c.QueryParam("after"); at != "" && id != "" {
		p.After = &store.Key{At: at, ID: id}
	}
	return p
}

// nextLink is the URL of the page after key, keeping the filters.
func nextLink(c echo.Context, more bool, key store.Key) string {
	if !more {
		return ""
	}
	q := c.Request().URL.Query()
	q.Set("at", key.At)
	q.Set("after", key.ID)
	return c.Request().URL.Path + "?" + q.Encode()
}

func (in *inspector) overview(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	st, err := in.db.Stats(ctx)
	if err != nil {
		return in.fail(c, err)
	}
	oldest, err := in.db.OldestPending(ctx)
	if err != nil {
		return in.fail(c, err)
	}
	t, err := in.failures(ctx)
	if err != nil {
		return in.fail(c, err)
	}
	codes := t.codes
	var coded int64
	for _, code := range codes {
		coded += code.N
	}
	if rest := st.Messages[models.MessageFailed] - coded; rest > 0 && len(codes) < 10 {
		codes = append(codes, store.Tally{Key: "", N: rest})
	}
	now := in.db.Now().UTC()
	perMinute, err := in.db.EventsPerMinute(ctx, now.Truncate(time.Minute).Add(-59*time.Minute))
	if err != nil {
		return in.fail(c, err)
	}
	var age time.Duration
	if oldest != nil {
		age = now.Sub(oldest.Time).Round(time.Millisecond)
	}
	events := map[string]int64{}
	for status, n := range st.Events {
		events[string(status)] = n
	}
	return in.render(c, http.StatusOK, "overview", "Overview", map[string]any{
		"Stats": st, "Events": events, "Pending": st.Events[models.EventPending], "OldestAge": age, "HasPending": oldest != nil,
		"Reasons": t.reasons, "Codes": codes, "Tallied": in.tallied, "Chart": newChart(perMinute, now), "Now": now,
	})
}

// failures are the tallies of failed events and messages, counted again
// once they are tallyEvery old.
func (in *inspector) failures(ctx context.Context) (tallies, error) {
	in.tallyMu.Lock()
	defer in.tallyMu.Unlock()
	if time.Since(in.tallied) < tallyEvery {
		return in.tallies, nil
	}
	reasons, err := in.db.FailedEventReasons(ctx, 10)
	if err != nil {
		return tallies{}, err
	}
	codes, err := in.db.FailedMessageCodes(ctx, 10)
	if err != nil {
		return tallies{}, err
	}
	in.tallies, in.tallied = tallies{reasons, codes}, time.Now()
	return in.tallies, nil
}

// find sends a reader to whatever has the id they typed: an event, a
// message, a conversation or a contact.
func (in *inspector) find(c echo.Context) error {
	id := strings.TrimSpace(c.QueryParam("id"))
	ctx := c.Request().Context()
	if id != "" {
		for _, try := range []struct {
			path string
			get  func() error
		}{
			{"/ui/events/", func() error { _, err := in.db.Event(ctx, id); return err }},
			{"/ui/messages/", func() error { _, err := in.db.Message(ctx, id); return err }},
			{"/ui/conversations/", func() error { _, err := in.db.Conversation(ctx, id); return err }},
			{"/ui/contacts/", func() error { _, err := in.db.Contact(ctx, id); return err }},
		} {
			err := try.get()
			if err == nil {
				return c.Redirect(http.StatusSeeOther, try.path+url.PathEscape(id))
			}
			if !errors.Is(err, models.ErrNotFound) {
				return in.fail(c, err)
			}
		}
	}
	return in.render(c, http.StatusNotFound, "error", "Not found", map[string]any{"Message": "No event, message, conversation or contact has the id " + fmt.Sprintf("%q", id) + "."})
}

func (in *inspector) events(c echo.Context) error {
	f := store.EventFilter{Type: c.QueryParam("type"), Status: c.QueryParam("status")}
	if s := c.QueryParam("since"); s != "" {
		t, err := time.Parse("2006-01-02T15:04", s)
		if err != nil {
			return in.render(c, http.StatusBadRequest, "error", "Bad filter", map[string]any{"Message": "since: want a date and time such as 2026-06-01T14:30."})
		}
		f.Since = &t
	}
	if f.Status != "" && !validStatus(f.Status) {
		return in.render(c, http.StatusBadRequest, "error", "Bad filter", map[string]any{"Message": "status: not one of the statuses."})
	}
	rows, more, err := in.db.Events(c.Request().Context(), f, after(c))
	if err != nil {
		return in.fail(c, err)
	}
	next := ""
	if len(rows) > 0 {
		next = nextLink(c, more, store.EventKey(&rows[len(rows)-1]))
	}
	return in.render(c, http.StatusOK, "events", "Events", map[string]any{
		"Rows": rows, "Next": next, "Type": f.Type, "Status": f.Status, "Since": c.QueryParam("since"),
		"Types": models.EventTypes, "Statuses": models.EventStatuses,
	})
}

func validStatus(s string) bool {
	for _, st := range models.EventStatuses {
		if string(st) == s {
			return true
		}
	}
	return false
}

// named is a row an event names, for links.
type named struct{ Kind, Path, ID string }

func (in *inspector) event(c echo.Context) error {
	id, _ := url.PathUnescape(c.Param("id"))
	e, err := in.db.Event(c.Request().Context(), id)
	if err != nil {
		return in.fail(c, err)
	}
	var pretty bytes.Buffer
	if len(e.Payload) > 0 {
		if json.Indent(&pretty, e.Payload, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(e.Payload)
		}
	}
	var links []named
	var env struct{ Data map[string]any }
	if json.Unmarshal(e.Payload, &env) == nil {
		for _, n := range []struct{ key, kind, path string }{
			{"messageId", "message", "/ui/messages/"}, {"conversationId", "conversation", "/ui/conversations/"},
			{"contactId", "contact", "/ui/contacts/"},
		} {
			if v, ok := env.Data[n.key].(string); ok && v != "" {
				links = append(links, named{n.kind, n.path + url.PathEscape(v), v})
			}
		}
	}
	return in.render(c, http.StatusOK, "event", "Event "+e.ID, map[string]any{"Event": e, "Payload": pretty.String(), "Links": links})
}

func (in *inspector) conversations(c echo.Context) error {
	f := store.ConversationFilter{Status: c.QueryParam("status")}
	if f.Status != "" && f.Status != models.ConversationOpen && f.Status != models.ConversationResolved {
		return in.render(c, http.StatusBadRequest, "error", "Bad filter", map[string]any{"Message": "status: open or resolved."})
	}
	if c.QueryParam("awaiting") == "yes" {
		yes := true
		f.AwaitingReply = &yes
	}
	rows, more, err := in.db.Conversations(c.Request().Context(), f, after(c))
	if err != nil {
		return in.fail(c, err)
	}
	next := ""
	if len(rows) > 0 {
		next = nextLink(c, more, store.ConversationKey(&rows[len(rows)-1]))
	}
	return in.render(c, http.StatusOK, "conversations", "Conversations", map[string]any{
		"Rows": rows, "Next": next, "Status": f.Status, "Awaiting": f.AwaitingReply != nil})
}

// mark is an entry of a conversation's timeline: a message, or the
// conversation opening or being resolved.
type mark struct {
	At      time.Time
	Message *models.Message
	Label   string
}

func (in *inspector) conversation(c echo.Context) error {
	id, _ := url.PathUnescape(c.Param("id"))
	ctx := c.Request().Context()
	conv, err := in.db.Conversation(ctx, id)
	if err != nil {
		return in.fail(c, err)
	}
	msgs, more, err := in.db.ConversationMessages(ctx, id, nil, store.Page{Limit: 200})
	if err != nil {
		return in.fail(c, err)
	}
	var timeline []mark
	for i := range msgs {
		timeline = append(timeline, mark{At: msgs[i].CreatedAt.Time, Message: &msgs[i]})
	}
	insert := func(at *models.Time, label string) {
		if at == nil {
			return
		}
		i := 0
		for i < len(timeline) && !timeline[i].At.After(at.Time) {
			i++
		}
		timeline = append(timeline[:i], append([]mark{{At: at.Time, Label: label}}, timeline[i:]...)...)
	}
	insert(conv.OpenedAt, "Opened")
	insert(conv.ResolvedAt, "Resolved")
	var contact *models.Contact
	if conv.ContactID != nil {
		if contact, err = in.db.Contact(ctx, *conv.ContactID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return in.fail(c, err)
		}
	}
	return in.render(c, http.StatusOK, "conversation", "Conversation "+conv.ID, map[string]any{
		"Conversation": conv, "Timeline": timeline, "More": more, "Contact": contact})
}

func (in *inspector) message(c echo.Context) error {
	id, _ := url.PathUnescape(c.Param("id"))
	m, err := in.db.Message(c.Request().Context(), id)
	if err != nil {
		return in.fail(c, err)
	}
	var failure struct{ Code, Message *string }
	if len(m.Error) > 0 {
		_ = json.Unmarshal(m.Error, &failure)
	}
	return in.render(c, http.StatusOK, "message", "Message "+m.ID, map[string]any{"Message": m, "Error": failure, "Failed": len(m.Error) > 0})
}

func (in *inspector) contacts(c echo.Context) error {
	f := store.ContactFilter{Q: strings.TrimSpace(c.QueryParam("q"))}
	rows, more, err := in.db.Contacts(c.Request().Context(), f, after(c))
	if err != nil {
		return in.fail(c, err)
	}
	next := ""
	if len(rows) > 0 {
		next = nextLink(c, more, store.ContactKey(&rows[len(rows)-1]))
	}
	return in.render(c, http.StatusOK, "contacts", "Contacts", map[string]any{"Rows": rows, "Next": next, "Q": f.Q})
}

func (in *inspector) contact(c echo.Context) error {
	id, _ := url.PathUnescape(c.Param("id"))
	ctx := c.Request().Context()
	ct, err := in.db.Contact(ctx, id)
	if err != nil {
		return in.fail(c, err)
	}
	convs, moreConvs, err := in.db.Conversations(ctx, store.ConversationFilter{ContactID: id}, store.Page{Limit: pageSize})
	if err != nil {
		return in.fail(c, err)
	}
	runs, moreRuns, err := in.db.WorkflowRuns(ctx, store.WorkflowRunFilter{ContactID: id}, store.Page{Limit: pageSize})
	if err != nil {
		return in.fail(c, err)
	}
	var tags []string
	_ = json.Unmarshal(ct.Tags, &tags)
	var fields map[string]any
	_ = json.Unmarshal(ct.Fields, &fields)
	return in.render(c, http.StatusOK, "contact", "Contact "+ct.ID, map[string]any{
		"Contact": ct, "Tags": tags, "Fields": fields, "Conversations": convs, "MoreConversations": moreConvs,
		"Runs": runs, "MoreRuns": moreRuns})
}
