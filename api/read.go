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
	Contact(ctx context.Context, id string) (*models.Contact, error)
	Conversations(ctx context.Context, f store.ConversationFilter, p store.Page) ([]models.Conversation, bool, error)
	Conversation(ctx context.Context, id string) (*models.Conversation, error)
	Messages(ctx context.Context, f store.MessageFilter, p store.Page) ([]models.Message, bool, error)
	ConversationMessages(ctx context.Context, conversationID string, p store.Page) ([]models.Message, bool, error)
	Message(ctx context.Context, id string) (*models.Message, error)
	WorkflowRuns(ctx context.Context, f store.WorkflowRunFilter, p store.Page) ([]models.WorkflowRun, bool, error)
	Events(ctx context.Context, f store.EventFilter, p store.Page) ([]models.Event, bool, error)
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

// respondList answers a page, mapping rows to resources and deriving the
// next cursor from the last row's sort key.
func respondList[R any, T any](c echo.Context, q *query, rows []R, more bool, conv func(*R) T, key func(*R) store.Key) error {
	out := listPage[T]{Data: make([]T, 0, len(rows))}
	for i := range rows {
		out.Data = append(out.Data, conv(&rows[i]))
	}
	if len(rows) > 0 {
		out.NextCursor = q.nextCursor(more, key(&rows[len(rows)-1]))
	}
	return c.JSON(http.StatusOK, out)
}

// The sort keys of the lists ordered by updatedAt.
func contactKey(c *models.Contact) store.Key {
	return store.Key{At: models.FormatTime(c.UpdatedAt.Time), ID: c.ID}
}

func conversationKey(c *models.Conversation) store.Key {
	return store.Key{At: models.FormatTime(c.UpdatedAt.Time), ID: c.ID}
}

func messageKey(m *models.Message) store.Key {
	return store.Key{At: models.FormatTime(m.UpdatedAt.Time), ID: m.ID}
}

func (h *reader) listContacts(c echo.Context) error {
	q := newQuery(c, "phone", "email", "tag", "q", "updatedSince", "limit", "cursor")
	f := store.ContactFilter{
		Phone: sync.NormalizePhone(q.str("phone")), Email: q.str("email"), Tags: q.all("tag"),
		Q: q.str("q"), UpdatedSince: q.time("updatedSince"),
	}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	rows, more, err := h.db.Contacts(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toContact, contactKey)
}

func (h *reader) getContact(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.db.Contact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toContact(row))
}

func (h *reader) contactConversations(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := newQuery(c, "status", "limit", "cursor")
	f := store.ConversationFilter{ContactID: id, Status: q.oneOf("status", conversationStatuses...)}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.db.Contact(ctx, id); err != nil {
		return err
	}
	rows, more, err := h.db.Conversations(ctx, f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toConversation, conversationKey)
}

func (h *reader) listConversations(c echo.Context) error {
	q := newQuery(c, "status", "contactId", "channel", "updatedSince", "limit", "cursor")
	f := store.ConversationFilter{
		Status: q.oneOf("status", conversationStatuses...), ContactID: q.str("contactId"),
		Channel: q.str("channel"), UpdatedSince: q.time("updatedSince"),
	}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	rows, more, err := h.db.Conversations(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toConversation, conversationKey)
}

func (h *reader) getConversation(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.db.Conversation(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toConversation(row))
}

func (h *reader) conversationMessages(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := newQuery(c, "limit", "cursor")
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.db.Conversation(ctx, id); err != nil {
		return err
	}
	rows, more, err := h.db.ConversationMessages(ctx, id, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toMessage, func(m *models.Message) store.Key {
		return store.Key{At: models.FormatTime(m.CreatedAt.Time), ID: m.ID}
	})
}

func (h *reader) listMessages(c echo.Context) error {
	q := newQuery(c, "status", "direction", "channel", "conversationId", "contactId", "since", "until", "limit", "cursor")
	f := store.MessageFilter{
		Status: q.oneOf("status", messageStatuses...), Direction: q.oneOf("direction", directions...),
		Channel: q.str("channel"), ConversationID: q.str("conversationId"), ContactID: q.str("contactId"),
		Since: q.time("since"), Until: q.time("until"),
	}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	rows, more, err := h.db.Messages(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toMessage, messageKey)
}

func (h *reader) getMessage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.db.Message(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMessage(row))
}

func (h *reader) listWorkflowRuns(c echo.Context) error {
	q := newQuery(c, "workflowId", "contactId", "limit", "cursor")
	f := store.WorkflowRunFilter{WorkflowID: q.str("workflowId"), ContactID: q.str("contactId")}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	rows, more, err := h.db.WorkflowRuns(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, toWorkflowRun, func(r *models.WorkflowRun) store.Key {
		return store.Key{At: models.FormatTime(r.TriggeredAt.Time), ID: r.ID}
	})
}

func (h *reader) listEvents(c echo.Context) error {
	q := newQuery(c, "type", "status", "since", "limit", "cursor")
	f := store.EventFilter{Type: q.str("type"), Status: q.oneOf("status", eventStatuses...), Since: q.time("since")}
	p := q.page()
	if err := q.Err(); err != nil {
		return err
	}
	rows, more, err := h.db.Events(c.Request().Context(), f, p)
	if err != nil {
		return err
	}
	return respondList(c, q, rows, more, func(e *models.Event) Event { return toEvent(e, false) },
		func(e *models.Event) store.Key {
			return store.Key{At: models.FormatTime(e.ReceivedAt.Time), ID: e.ID}
		})
}

func (h *reader) getEvent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := h.db.Event(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEvent(row, true))
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
