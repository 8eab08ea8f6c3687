package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// seedContacts writes n contacts straight into the mirror.
func seedContacts(b *testing.B, db *store.DB, n int) {
	b.Helper()
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		rows := make([]*models.Contact, n)
		for i := range rows {
			at := models.NewTime(base.Add(time.Duration(i) * time.Second))
			rows[i] = &models.Contact{ID: fmt.Sprintf("cnt_%d", i), Tags: models.JSON(`["vip"]`), Fields: models.JSON("{}"),
				Extra: models.JSON("{}"), Versions: models.Versions{}, CreatedAt: at, UpdatedAt: at, SyncedAt: at, Seq: int64(i)}
		}
		return tx.Live().PutContacts(rows, nil)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHotQueries times the read API's most frequent queries against
// 20,000 contacts on each driver.
func BenchmarkHotQueries(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		db := storetest.Open(b, driver)
		seedContacts(b, db, 20_000)
		ctx := context.Background()
		b.Run(driver+"/ListContacts", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := db.Contacts(ctx, store.ContactFilter{}, store.Page{Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(driver+"/GetContact", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := db.Contact(ctx, fmt.Sprintf("cnt_%d", i%20_000)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(driver+"/Changes", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, _, err := db.Changes(ctx, store.FeedKey{Seq: int64(i % 19_000)}, store.FeedKinds, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(driver+"/InsertEvents64", func(b *testing.B) {
			n := 0
			for b.Loop() {
				rows := make([]models.Event, 64)
				for i := range rows {
					n++
					rows[i] = models.Event{ID: fmt.Sprintf("evt_%d", n), Type: "message.sent", Status: models.EventApplied,
						CreatedAt: models.NewTime(time.Now()), ReceivedAt: models.NewTime(time.Now()), Payload: []byte(`{}`)}
				}
				err := db.Write(ctx, func(tx *store.Tx) error { _, err := tx.InsertEvents(rows); return err })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
