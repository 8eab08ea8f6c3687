package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

// Reader is what the read API needs of the store.
type Reader interface {
	Contacts(ctx context.Context, f store.ContactFilter, p store.Page) ([]models.Contact, bool, error)
	ExportContacts(ctx context.Context, f store.ContactFilter, fn func(context.Context, []models.Contact) error) error
	Contact(ctx context.Context, id string) (*models.Contact, error)
	ContactExists(ctx context.Context, id string) error
	ContactsByID(ctx context.Context, ids []string) (map[string]*models.Contact, error)
	Conversations(ctx context.Context, f store.ConversationFilter, p store.Page) ([]models.Conversation, bool, error)
	ExportConversations(ctx context.Context, f store.ConversationFilter, fn func(context.Context, []models.Conversation) error) error
	Conversation(ctx context.Context, id string) (*models.Conversation, error)
	ConversationExists(ctx context.Context, id string) error
	Messages(ctx context.Context, f store.MessageFilter, p store.Page) ([]models.Message, bool, error)
	ExportMessages(ctx context.Context, f store.MessageFilter, fn func(context.Context, []models.Message) error) error
	ConversationMessages(ctx context.Context, conversationID string, ids []string, p store.Page) ([]models.Message, bool, error)
	ExportConversationMessages(ctx context.Context, conversationID string, ids []string, fn func(context.Context, []models.Message) error) error
	Message(ctx context.Context, id string) (*models.Message, error)
	WorkflowRuns(ctx context.Context, f store.WorkflowRunFilter, p store.Page) ([]models.WorkflowRun, bool, error)
	ExportWorkflowRuns(ctx context.Context, f store.WorkflowRunFilter, fn func(context.Context, []models.WorkflowRun) error) error
	Events(ctx context.Context, f store.EventFilter, p store.Page) ([]models.Event, bool, error)
	ExportEvents(ctx context.Context, f store.EventFilter, fn func(context.Context, []models.Event) error) error
	Event(ctx context.Context, id string) (*models.Event, error)
	Changes(ctx context.Context, after store.FeedKey, kinds []string, limit int) ([]store.Change, bool, error)
	FeedEnd(ctx context.Context) (store.FeedKey, error)
	Stats(ctx context.Context) (*store.Stats, error)
}

type reader struct {
	db         Reader
	duplicates func() int64
}

var (
	conversationStatuses = []string{models.ConversationOpen, models.ConversationResolved}
	messageStatuses      = []string{models.MessageReceived, models.MessageSent, models.MessageFailed}
	directions           = []string{models.DirectionInbound, models.DirectionOutbound}
	eventStatuses        = func() []string {
		out := make([]string, len(models.EventStatuses))
		for i, s := range models.EventStatuses {
			out[i] = string(s)
		}
		return out
	}()
)

// pathID is the {id} path segment, unescaped: ids may hold any character.
func pathID(c echo.Context) (string, error) {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil || id == "" {
		return "", newError(http.StatusNotFound, "no such resource")
	}
	return id, nil
}

// The parameters every list takes besides its filters.
var listParams = []string{"ids", "limit", "cursor"}

func params(names ...string) []string { return append(names, listParams...) }

func (h *reader) listContacts(c echo.Context) error {
	q := newQuery(c, params("phone", "email", "tag", "q", "updatedSince")...)
	f := store.ContactFilter{
		IDs: q.ids(), Phone: sync.NormalizePhone(q.str("phone")), Email: q.str("email"), Tags: q.all("tag"),
		Q: q.str("q"), UpdatedSince: q.time("updatedSince"),
	}
	return serveList(c, q, listing[models.Contact, Contact]{
		page: func(ctx context.Context, p store.Page) ([]models.Contact, bool, error) {
			return h.db.Contacts(ctx, f, p)
		},
		export: func(ctx context.Context, fn func(context.Context, []models.Contact) error) error {
			return h.db.ExportContacts(ctx, f, fn)
		},
		render: func(_ context.Context, rows []models.Contact, _ map[string]*models.Contact) ([]Contact, error) {
			return mapRows(rows, toContact), nil
		},
		key: store.ContactKey,
	})
}

func (h *reader) getContact(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := newQuery(c).Err(); err != nil {
		return err
	}
	row, err := h.db.Contact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toContact(row))
}

func (h *reader) contactConversations(c echo.Context) error {
	q := newQuery(c, params("status", "awaitingReply", "expand")...)
	f := store.ConversationFilter{IDs: q.ids(), Status: q.oneOf("status", conversationStatuses...), AwaitingReply: q.boolean("awaitingReply")}
	expand := q.expandContact()
	if err := q.Err(); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f.ContactID, f.Owned = id, true
	return h.serveConversations(c, q, f, expand, func(ctx context.Context) error { return h.db.ContactExists(ctx, id) })
}

func (h *reader) listConversations(c echo.Context) error {
	q := newQuery(c, params("status", "awaitingReply", "contactId", "channel", "updatedSince", "expand")...)
	f := store.ConversationFilter{
		IDs: q.ids(), Status: q.oneOf("status", conversationStatuses...), AwaitingReply: q.boolean("awaitingReply"),
		ContactID: q.str("contactId"), Channel: q.str("channel"), UpdatedSince: q.time("updatedSince"),
	}
	return h.serveConversations(c, q, f, q.expandContact(), nil)
}

// serveConversations answers a conversation list; owner, when not nil, is
// the contact it lists under (see listing).
func (h *reader) serveConversations(c echo.Context, q *query, f store.ConversationFilter, expand bool, owner func(context.Context) error) error {
	return serveList(c, q, listing[models.Conversation, Conversation]{
		page: func(ctx context.Context, p store.Page) ([]models.Conversation, bool, error) {
			return h.db.Conversations(ctx, f, p)
		},
		export: func(ctx context.Context, fn func(context.Context, []models.Conversation) error) error {
			return h.db.ExportConversations(ctx, f, fn)
		},
		render: h.conversations(expand),
		expand: expand,
		key:    store.ConversationKey,
		owner:  owner,
	})
}

// conversations renders conversation rows, with their contacts when
// expand is set.
func (h *reader) conversations(expand bool) func(context.Context, []models.Conversation, map[string]*models.Contact) ([]Conversation, error) {
	return func(ctx context.Context, rows []models.Conversation, contacts map[string]*models.Contact) ([]Conversation, error) {
		out := mapRows(rows, toConversation)
		if !expand {
			return out, nil
		}
		return out, h.withContacts(ctx, contacts, len(out), func(i int) *string { return out[i].ContactID },
			func(i int, c **Contact) { out[i].Contact = c })
	}
}

func (h *reader) getConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := newQuery(c, "expand")
	expand := q.expandContact()
	if err := q.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	row, err := h.db.Conversation(ctx, id)
	if err != nil {
		return err
	}
	out, err := h.conversations(expand)(ctx, []models.Conversation{*row}, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out[0])
}

func (h *reader) conversationMessages(c echo.Context) error {
	q := newQuery(c, params("expand")...)
	ids, expand := q.ids(), q.expandContact()
	if err := q.Err(); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return serveList(c, q, listing[models.Message, Message]{
		page: func(ctx context.Context, p store.Page) ([]models.Message, bool, error) {
			return h.db.ConversationMessages(ctx, id, ids, p)
		},
		export: func(ctx context.Context, fn func(context.Context, []models.Message) error) error {
			return h.db.ExportConversationMessages(ctx, id, ids, fn)
		},
		render: h.messages(expand),
		expand: expand,
		key:    store.MessageCreatedKey,
		owner:  func(ctx context.Context) error { return h.db.ConversationExists(ctx, id) },
	})
}

// messageFilters are the filters of /v1/messages; a contact's messages
// take them all but contactId.
var messageFilters = []string{"status", "direction", "channel", "conversationId", "errorCode", "q", "since", "until", "expand"}

func (h *reader) messageFilter(q *query) store.MessageFilter {
	return store.MessageFilter{
		IDs: q.ids(), Status: q.oneOf("status", messageStatuses...), Direction: q.oneOf("direction", directions...),
		Channel: q.str("channel"), ConversationID: q.str("conversationId"), ContactID: q.str("contactId"),
		ErrorCode: q.str("errorCode"), Q: q.str("q"), Since: q.time("since"), Until: q.time("until"),
	}
}

func (h *reader) contactMessages(c echo.Context) error {
	q := newQuery(c, params(messageFilters...)...)
	f, expand := h.messageFilter(q), q.expandContact()
	if err := q.Err(); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f.ContactID, f.Owned = id, true
	return h.serveMessages(c, q, f, expand, func(ctx context.Context) error { return h.db.ContactExists(ctx, id) })
}

func (h *reader) listMessages(c echo.Context) error {
	q := newQuery(c, params(append(messageFilters, "contactId")...)...)
	return h.serveMessages(c, q, h.messageFilter(q), q.expandContact(), nil)
}

// serveMessages answers a message list; owner as in serveConversations.
func (h *reader) serveMessages(c echo.Context, q *query, f store.MessageFilter, expand bool, owner func(context.Context) error) error {
	return serveList(c, q, listing[models.Message, Message]{
		page: func(ctx context.Context, p store.Page) ([]models.Message, bool, error) {
			return h.db.Messages(ctx, f, p)
		},
		export: func(ctx context.Context, fn func(context.Context, []models.Message) error) error {
			return h.db.ExportMessages(ctx, f, fn)
		},
		render: h.messages(expand),
		expand: expand,
		key:    store.MessageKey,
		owner:  owner,
	})
}

// messages renders message rows, with their contacts when expand is set.
func (h *reader) messages(expand bool) func(context.Context, []models.Message, map[string]*models.Contact) ([]Message, error) {
	return func(ctx context.Context, rows []models.Message, contacts map[string]*models.Contact) ([]Message, error) {
		out := mapRows(rows, toMessage)
		if !expand {
			return out, nil
		}
		return out, h.withContacts(ctx, contacts, len(out), func(i int) *string { return out[i].ContactID },
			func(i int, c **Contact) { out[i].Contact = c })
	}
}

func (h *reader) getMessage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := newQuery(c, "expand")
	expand := q.expandContact()
	if err := q.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	row, err := h.db.Message(ctx, id)
	if err != nil {
		return err
	}
	out, err := h.messages(expand)(ctx, []models.Message{*row}, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out[0])
}

// withContacts hands each of n items its contact: an object, or null when
// the item names none or names one the mirror does not hold. found holds
// them when the page read them; otherwise they are read in one query.
func (h *reader) withContacts(ctx context.Context, found map[string]*models.Contact, n int, contactOf func(int) *string, set func(int, **Contact)) error {
	if found == nil {
		ids := make([]string, 0, n)
		for i := range n {
			if id := contactOf(i); id != nil {
				ids = append(ids, *id)
			}
		}
		slices.Sort(ids)
		var err error
		if found, err = h.db.ContactsByID(ctx, slices.Compact(ids)); err != nil {
			return err
		}
	}
	for i := range n {
		var c *Contact
		if id := contactOf(i); id != nil && found[*id] != nil {
			v := toContact(found[*id])
			c = &v
		}
		set(i, &c)
	}
	return nil
}

func (h *reader) listWorkflowRuns(c echo.Context) error {
	q := newQuery(c, params("workflowId", "contactId")...)
	f := store.WorkflowRunFilter{IDs: q.ids(), WorkflowID: q.str("workflowId"), ContactID: q.str("contactId")}
	return serveList(c, q, listing[models.WorkflowRun, WorkflowRun]{
		page: func(ctx context.Context, p store.Page) ([]models.WorkflowRun, bool, error) {
			return h.db.WorkflowRuns(ctx, f, p)
		},
		export: func(ctx context.Context, fn func(context.Context, []models.WorkflowRun) error) error {
			return h.db.ExportWorkflowRuns(ctx, f, fn)
		},
		render: func(_ context.Context, rows []models.WorkflowRun, _ map[string]*models.Contact) ([]WorkflowRun, error) {
			return mapRows(rows, toWorkflowRun), nil
		},
		key: store.WorkflowRunKey,
	})
}

func (h *reader) listEvents(c echo.Context) error {
	q := newQuery(c, params("type", "status", "since")...)
	f := store.EventFilter{IDs: q.ids(), Type: q.str("type"), Status: q.oneOf("status", eventStatuses...), Since: q.time("since")}
	return serveList(c, q, listing[models.Event, Event]{
		page: func(ctx context.Context, p store.Page) ([]models.Event, bool, error) { return h.db.Events(ctx, f, p) },
		export: func(ctx context.Context, fn func(context.Context, []models.Event) error) error {
			return h.db.ExportEvents(ctx, f, fn)
		},
		render: func(_ context.Context, rows []models.Event, _ map[string]*models.Contact) ([]Event, error) {
			return mapRows(rows, func(e *models.Event) Event { return toEvent(e, false) }), nil
		},
		key: store.EventKey,
	})
}

func (h *reader) getEvent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := newQuery(c).Err(); err != nil {
		return err
	}
	row, err := h.db.Event(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEvent(row, true))
}

// mapRows maps rows to resources.
func mapRows[R, T any](rows []R, conv func(*R) T) []T {
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = conv(&rows[i])
	}
	return out
}

func (h *reader) changes(c echo.Context) error {
	q := newQuery(c, "cursor", "limit", "types")
	kinds := store.FeedKinds
	if v := q.str("types"); v != "" {
		kinds = nil
		for _, k := range strings.Split(v, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(store.FeedKinds, k) {
				q.fail(badParam("types", "%q is not one of %s", clip(k), strings.Join(store.FeedKinds, ", ")))
				break
			}
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	limit := q.limit()
	var after store.FeedKey
	now := q.values.Get("cursor") == "now"
	if !now {
		if cur := q.cursor(); cur != nil {
			after = store.FeedKey{Seq: cur.Seq, Kind: cur.Kind, ID: cur.ID}
		}
	}
	if err := q.Err(); err != nil {
		return err
	}
	var rows []store.Change
	var more bool
	var err error
	if now {
		// The current end of the feed: no items, and a cursor from which
		// only later changes follow.
		after, err = h.db.FeedEnd(c.Request().Context())
	} else {
		rows, more, err = h.db.Changes(c.Request().Context(), after, kinds, limit)
	}
	if err != nil {
		return err
	}
	out := feedPage{Data: make([]Change, 0, len(rows)), HasMore: more}
	for _, r := range rows {
		out.Data = append(out.Data, toChange(r))
	}
	if len(rows) > 0 {
		after = rows[len(rows)-1].Key
	}
	out.NextCursor = encodeCursor(cursorBody{Query: q.fingerprint(), Seq: after.Seq, Kind: after.Kind, ID: after.ID})
	return c.JSON(http.StatusOK, out)
}

func (h *reader) stats(c echo.Context) error {
	if err := newQuery(c).Err(); err != nil {
		return err
	}
	st, err := h.db.Stats(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toStats(st, h.duplicates()))
}
