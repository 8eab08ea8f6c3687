package store

import (
	"context"
	"fmt"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
)

// Tally is a count of rows by a value (a reason, an error code, a minute).
type Tally struct {
	Key string
	N   int64
}

// FailedEventReasons counts the failed events by reason, most first, at
// most limit reasons.
func (db *DB) FailedEventReasons(ctx context.Context, limit int) ([]Tally, error) {
	var out []Tally
	err := db.read.WithContext(ctx).Raw("SELECT COALESCE(error, '') AS key, COUNT(*) AS n FROM events WHERE status = 'failed' "+
		"GROUP BY error ORDER BY n DESC, key LIMIT ?", limit).Scan(&out).Error
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: failed events by reason: %w", err))
	}
	return out, nil
}

// FailedMessageCodes counts the failed messages by error code, most
// first, at most limit codes. Only a failed message has an error code, so
// the index by code alone answers it; the failures without a code are the
// failed messages' counter less these.
func (db *DB) FailedMessageCodes(ctx context.Context, limit int) ([]Tally, error) {
	var out []Tally
	err := db.read.WithContext(ctx).Raw("SELECT error_code AS key, COUNT(*) AS n FROM messages WHERE error_code IS NOT NULL "+
		"GROUP BY error_code ORDER BY n DESC, key LIMIT ?", limit).Scan(&out).Error
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: failed messages by code: %w", err))
	}
	return out, nil
}

// EventsPerMinute counts the events received in each minute since since
// (by receipt, UTC minutes as "2006-01-02T15:04"), oldest first; minutes
// without events are absent.
func (db *DB) EventsPerMinute(ctx context.Context, since time.Time) ([]Tally, error) {
	var out []Tally
	err := db.read.WithContext(ctx).Raw("SELECT substr(received_at, 1, 16) AS key, COUNT(*) AS n FROM events WHERE received_at >= ? "+
		"GROUP BY substr(received_at, 1, 16) ORDER BY key", models.FormatTime(since.UTC())).Scan(&out).Error
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: events per minute: %w", err))
	}
	return out, nil
}
