package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestListQueriesUseIndexes seeds Postgres with 100,000 contacts, 100,000
// conversations and 300,000 messages, then asks the planner how it would run
// every list query: none may scan a whole table. (The q filters, substring
// searches, use pg_trgm's indexes.)
func TestListQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 500,000 rows")
	}
	drivers := storetest.Drivers(t)
	if len(drivers) < 2 {
		t.Skip("needs Postgres")
	}
	ctx := context.Background()
	db := storetest.Open(t, store.DriverPostgres)
	g := store.ReadGorm(db)
	ts := "'2026-06-01T10:00:00.' || lpad(i::text, 9, '0') || 'Z'"
	for _, seed := range []string{
		`INSERT INTO contacts (id, phone, phone_norm, email, email_norm, search, created_at, updated_at, synced_at, seq)
		 SELECT 'cnt_' || i, '+216 ' || i, '+216' || i, 'c' || i || '@x.tn', 'c' || i || '@x.tn', '+216' || i || E'\n' || 'c' || i || '@x.tn',
		        ` + ts + `, ` + ts + `, ` + ts + `, i
		 FROM generate_series(1, 100000) i`,
		`INSERT INTO contact_tags (contact_id, tag) SELECT 'cnt_' || i, 'tag_' || (i % 50) FROM generate_series(1, 100000) i`,
		`INSERT INTO conversations (id, contact_id, channel, status, created_at, updated_at, synced_at, seq)
		 SELECT 'conv_' || i, 'cnt_' || i, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'whatsapp' END,
		        CASE WHEN i % 2 = 0 THEN 'open' ELSE 'resolved' END, ` + ts + `, ` + ts + `, ` + ts + `, i
		 FROM generate_series(1, 100000) i`,
		`UPDATE conversations SET awaiting_reply = true WHERE status = 'open' AND seq % 4 = 0`,
		`INSERT INTO messages (id, conversation_id, contact_id, channel, direction, status, error_code, search, created_at, updated_at, synced_at, seq)
		 SELECT 'msg_' || i, 'conv_' || (i % 100000), 'cnt_' || (i % 100000), 'whatsapp', 'outbound',
		        CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'sent' END, CASE WHEN i % 10 = 0 THEN 'E' || (i % 7) END,
		        'your order ' || i || ' has shipped', ` + ts + `, ` + ts + `, ` + ts + `, i
		 FROM generate_series(1, 300000) i`,
		`INSERT INTO workflow_runs (id, workflow_id, contact_id, triggered_at, synced_at, seq)
		 SELECT 'run_' || i, 'wf_' || (i % 20), 'cnt_' || i, ` + ts + `, ` + ts + `, i FROM generate_series(1, 100000) i`,
		`INSERT INTO events (id, type, status, created_at, received_at, payload)
		 SELECT 'evt_' || i, 'message.sent', CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'applied' END, ` + ts + `, ` + ts + `, '{}'
		 FROM generate_series(1, 100000) i`,
		`INSERT INTO deletions (kind, id, seq)
		 SELECT (ARRAY['contact', 'conversation', 'message', 'workflowRun'])[1 + i % 4], 'gone_' || i, i FROM generate_series(1, 20000) i`,
		`ANALYZE`,
	} {
		if err := g.Exec(seed).Error; err != nil {
			t.Fatalf("seed: %v", err)
		}
	}

	captured := captureSQL(t, g)
	since := time.Date(2026, 6, 1, 10, 0, 0, 50000, time.UTC)
	until := since.Add(time.Microsecond)
	page := store.Page{Limit: 50}
	after := store.Page{Limit: 50, After: &store.Key{At: "2026-06-01T10:00:00.000050000Z", ID: "x"}}
	queries := map[string]func() error{
		"contacts":              func() error { _, _, err := db.Contacts(ctx, store.ContactFilter{}, page); return err },
		"contacts after cursor": func() error { _, _, err := db.Contacts(ctx, store.ContactFilter{}, after); return err },
		"contacts by phone":     func() error { _, _, err := db.Contacts(ctx, store.ContactFilter{Phone: "+2167"}, page); return err },
		"contacts by email":     func() error { _, _, err := db.Contacts(ctx, store.ContactFilter{Email: "c7@x.tn"}, page); return err },
		"contacts by tag": func() error {
			_, _, err := db.Contacts(ctx, store.ContactFilter{Tags: []string{"tag_7"}}, page)
			return err
		},
		"contacts by q": func() error {
			_, _, err := db.Contacts(ctx, store.ContactFilter{Q: "c4242@"}, page)
			return err
		},
		"contacts updated since": func() error {
			_, _, err := db.Contacts(ctx, store.ContactFilter{UpdatedSince: &since}, page)
			return err
		},
		"conversations": func() error { _, _, err := db.Conversations(ctx, store.ConversationFilter{}, page); return err },
		"conversations by status": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{Status: "open"}, page)
			return err
		},
		"conversations by contact": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{ContactID: "cnt_7"}, page)
			return err
		},
		"conversations by channel": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{Channel: "sms"}, page)
			return err
		},
		"conversations awaiting reply": func() error {
			yes := true
			_, _, err := db.Conversations(ctx, store.ConversationFilter{AwaitingReply: &yes}, page)
			return err
		},
		"conversations by ids": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{IDs: []string{"conv_7", "conv_8"}}, page)
			return err
		},
		"contacts of a page": func() error { _, err := db.ContactsByID(ctx, []string{"cnt_7", "cnt_9"}); return err },
		"conversations with their contacts": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{Status: "open"}, store.Page{Limit: 50, Contacts: map[string]*models.Contact{}})
			return err
		},
		"a contact's messages with their contacts": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{ContactID: "cnt_7", Owned: true}, store.Page{Limit: 50, Contacts: map[string]*models.Contact{}})
			return err
		},
		"conversations of a contact": func() error {
			_, _, err := db.Conversations(ctx, store.ConversationFilter{ContactID: "cnt_7", Owned: true}, page)
			return err
		},
		"conversation messages": func() error {
			_, _, err := db.ConversationMessages(ctx, "conv_7", nil, page)
			return err
		},
		"messages by error code": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{ErrorCode: "E3"}, page)
			return err
		},
		"messages by body": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{Q: "order 12345 "}, page)
			return err
		},
		"messages of a contact by status": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{ContactID: "cnt_7", Status: "failed"}, page)
			return err
		},
		"messages":           func() error { _, _, err := db.Messages(ctx, store.MessageFilter{}, page); return err },
		"messages by status": func() error { _, _, err := db.Messages(ctx, store.MessageFilter{Status: "failed"}, page); return err },
		"messages by conversation": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{ConversationID: "conv_7"}, page)
			return err
		},
		"messages by contact": func() error { _, _, err := db.Messages(ctx, store.MessageFilter{ContactID: "cnt_7"}, page); return err },
		"messages since until": func() error {
			_, _, err := db.Messages(ctx, store.MessageFilter{Since: &since, Until: &until}, page)
			return err
		},
		"workflow runs": func() error { _, _, err := db.WorkflowRuns(ctx, store.WorkflowRunFilter{}, page); return err },
		"workflow runs by workflow": func() error {
			_, _, err := db.WorkflowRuns(ctx, store.WorkflowRunFilter{WorkflowID: "wf_3"}, page)
			return err
		},
		"events":           func() error { _, _, err := db.Events(ctx, store.EventFilter{}, page); return err },
		"events by status": func() error { _, _, err := db.Events(ctx, store.EventFilter{Status: "failed"}, page); return err },
		"oldest pending":   func() error { _, err := db.OldestPending(ctx); return err },
		"contact by id":    func() error { _, err := db.Contact(ctx, "cnt_7"); return err },
		"changes":          func() error { _, _, err := db.Changes(ctx, store.FeedKey{Seq: 99990}, store.FeedKinds, 50); return err },
	}
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range queries {
		*captured = sqlCapture{}
		if err := run(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(captured.sqls) == 0 {
			t.Errorf("%s ran no query", name)
		}
		for i, q := range captured.sqls {
			rows, err := sqlDB.QueryContext(ctx, "EXPLAIN "+q, captured.vars[i]...)
			if err != nil {
				t.Fatalf("%s: explain: %v", name, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				_ = rows.Scan(&line)
				plan = append(plan, line)
			}
			rows.Close()
			if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan") {
				t.Errorf("%s scans a table:\n%s\n%s", name, q, text)
			}
		}
	}
}

// sqlCapture holds every query a pool ran, as the store sent it.
type sqlCapture struct {
	sqls []string
	vars [][]any
}

// captureSQL records the queries g runs from now on.
func captureSQL(t *testing.T, g *gorm.DB) *sqlCapture {
	t.Helper()
	c := &sqlCapture{}
	capture := func(tx *gorm.DB) {
		c.sqls = append(c.sqls, tx.Statement.SQL.String())
		c.vars = append(c.vars, tx.Statement.Vars)
	}
	if err := g.Callback().Query().After("gorm:query").Register("test:capture", capture); err != nil {
		t.Fatal(err)
	}
	if err := g.Callback().Row().After("gorm:row").Register("test:capture", capture); err != nil {
		t.Fatal(err)
	}
	return c
}
