package store

import (
	"context"
	"fmt"
	"sort"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Change-feed kinds, in the order that breaks ties between rows of one
// transaction (byte-wise, like ids).
const (
	KindContact      = "contact"
	KindConversation = "conversation"
	KindMessage      = "message"
	KindWorkflowRun  = "workflowRun"
)

// FeedKinds lists every kind, in order.
var FeedKinds = []string{KindContact, KindConversation, KindMessage, KindWorkflowRun}

// FeedKey is a position in the change feed: rows are ordered by the
// position of their latest change, then kind, then id.
type FeedKey struct {
	Seq  int64
	Kind string
	ID   string
}

func (k FeedKey) less(o FeedKey) bool {
	if k.Seq != o.Seq {
		return k.Seq < o.Seq
	}
	if k.Kind != o.Kind {
		return k.Kind < o.Kind
	}
	return k.ID < o.ID
}

// Change is one row of the feed, as it is now: exactly one pointer is set,
// or none for a row that left the mirror.
type Change struct {
	Key          FeedKey
	Contact      *models.Contact
	Conversation *models.Conversation
	Message      *models.Message
	WorkflowRun  *models.WorkflowRun
}

// Deleted reports whether the row left the mirror.
func (c Change) Deleted() bool {
	return c.Contact == nil && c.Conversation == nil && c.Message == nil && c.WorkflowRun == nil
}

// feedTables names the live table of each kind.
var feedTables = map[string]string{
	KindContact: "contacts", KindConversation: "conversations", KindMessage: "messages", KindWorkflowRun: "workflow_runs",
}

// Changes returns up to limit rows changed after position after, of the
// given kinds, oldest change first, and whether more follow. All tables are
// read in one snapshot: since writers take positions in commit order (see
// Tx), a row that commits after this snapshot gets a greater position than
// every row in it, so a reader that resumes from the last key never skips a
// change.
func (db *DB) Changes(ctx context.Context, after FeedKey, kinds []string, limit int) ([]Change, bool, error) {
	var out []Change
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		out = out[:0]
		for _, kind := range kinds {
			since := func(q *gorm.DB) *gorm.DB {
				switch {
				case kind > after.Kind:
					return q.Where("seq >= ?", after.Seq)
				case kind == after.Kind:
					return q.Where("(seq, id) > (?, ?)", after.Seq, after.ID)
				default:
					return q.Where("seq > ?", after.Seq)
				}
			}
			if err := feedRows(since(tx.Omit(versionsColumn).Order("seq, id").Limit(limit+1)), kind, limit+1, &out); err != nil {
				return fmt.Errorf("store: changes of %s: %w", kind, err)
			}
			if err := feedDeletions(since(tx.Table("deletions d")), kind, limit+1, &out); err != nil {
				return fmt.Errorf("store: deletions of %s: %w", kind, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.less(out[j].Key) })
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// feedDeletions appends q's deletions of one kind whose row has not come
// back since, at most capacity of them.
func feedDeletions(q *gorm.DB, kind string, capacity int, out *[]Change) error {
	var rows []struct {
		ID  string
		Seq int64
	}
	err := q.Select("d.id, d.seq").
		Where("d.kind = ? AND NOT EXISTS (SELECT 1 FROM "+feedTables[kind]+" t WHERE t.id = d.id)", kind).
		Order("seq, id").Limit(capacity).Scan(&rows).Error
	if err != nil {
		return err
	}
	for _, r := range rows {
		*out = append(*out, Change{Key: FeedKey{r.Seq, kind, r.ID}})
	}
	return nil
}

// FeedEnd is the position after every change committed so far: a reader
// that starts there sees only later changes.
func (db *DB) FeedEnd(ctx context.Context) (FeedKey, error) {
	var seq int64
	if err := db.read.WithContext(ctx).Raw("SELECT seq FROM feed_clock WHERE id = 1").Scan(&seq).Error; err != nil {
		return FeedKey{}, unavailable(fmt.Errorf("store: read feed position: %w", err))
	}
	// Kinds sort after "", so every change of a later transaction is after this.
	return FeedKey{Seq: seq + 1}, nil
}

// RecordDeletions notes that the rows ids of kind left the mirror at
// change-feed position seq.
func (tx *Tx) RecordDeletions(kind string, ids []string, seq int64) error {
	for _, id := range ids {
		err := tx.exec(tx.texts.rebind("INSERT INTO deletions (kind, id, seq) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq"),
			[]any{kind, id, seq})
		if err != nil {
			return fmt.Errorf("store: record deletion of %s %s: %w", kind, id, err)
		}
	}
	return nil
}

// feedRows appends q's rows of one kind to out, at most capacity of them.
func feedRows(q *gorm.DB, kind string, capacity int, out *[]Change) error {
	switch kind {
	case KindContact:
		return appendChanges(q, capacity, out, func(r *models.Contact) Change {
			return Change{Key: FeedKey{r.Seq, kind, r.ID}, Contact: r}
		})
	case KindConversation:
		return appendChanges(q, capacity, out, func(r *models.Conversation) Change {
			return Change{Key: FeedKey{r.Seq, kind, r.ID}, Conversation: r}
		})
	case KindMessage:
		return appendChanges(q, capacity, out, func(r *models.Message) Change {
			return Change{Key: FeedKey{r.Seq, kind, r.ID}, Message: r}
		})
	case KindWorkflowRun:
		return appendChanges(q, capacity, out, func(r *models.WorkflowRun) Change {
			return Change{Key: FeedKey{r.Seq, kind, r.ID}, WorkflowRun: r}
		})
	}
	return fmt.Errorf("unknown kind %q", kind)
}

func appendChanges[T any](q *gorm.DB, capacity int, out *[]Change, change func(*T) Change) error {
	rows, err := findAll[T](q.Model(new(T)), capacity)
	if err != nil {
		return err
	}
	for i := range rows {
		*out = append(*out, change(&rows[i]))
	}
	return nil
}
