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

// Change is one row of the feed, as it is now; exactly one pointer is set.
type Change struct {
	Key          FeedKey
	Contact      *models.Contact
	Conversation *models.Conversation
	Message      *models.Message
	WorkflowRun  *models.WorkflowRun
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
			q := tx.Omit(versionsColumn).Order("seq, id").Limit(limit + 1)
			switch {
			case kind > after.Kind:
				q = q.Where("seq >= ?", after.Seq)
			case kind == after.Kind:
				q = q.Where("(seq, id) > (?, ?)", after.Seq, after.ID)
			default:
				q = q.Where("seq > ?", after.Seq)
			}
			if err := feedRows(q, kind, &out); err != nil {
				return fmt.Errorf("store: changes of %s: %w", kind, err)
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

func feedRows(q *gorm.DB, kind string, out *[]Change) error {
	switch kind {
	case KindContact:
		var rows []models.Contact
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			*out = append(*out, Change{Key: FeedKey{rows[i].Seq, kind, rows[i].ID}, Contact: &rows[i]})
		}
	case KindConversation:
		var rows []models.Conversation
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			*out = append(*out, Change{Key: FeedKey{rows[i].Seq, kind, rows[i].ID}, Conversation: &rows[i]})
		}
	case KindMessage:
		var rows []models.Message
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			*out = append(*out, Change{Key: FeedKey{rows[i].Seq, kind, rows[i].ID}, Message: &rows[i]})
		}
	case KindWorkflowRun:
		var rows []models.WorkflowRun
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			*out = append(*out, Change{Key: FeedKey{rows[i].Seq, kind, rows[i].ID}, WorkflowRun: &rows[i]})
		}
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}
