package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/buzzmirror/buzzmirror/models"
)

// TestInstantWritesAsTime checks that an answer's times read exactly as
// time.Time writes them, and read back to the same instant.
func TestInstantWritesAsTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"), 0).UTC()
		switch rapid.IntRange(0, 3).Draw(t, "precision") {
		case 1:
			at = at.Add(time.Duration(rapid.IntRange(0, 999).Draw(t, "ms")) * time.Millisecond)
		case 2:
			at = at.Add(time.Duration(rapid.IntRange(0, 999_999).Draw(t, "µs")) * time.Microsecond)
		case 3:
			at = at.Add(time.Duration(rapid.IntRange(0, 999_999_999).Draw(t, "ns")))
		}
		want, err := json.Marshal(at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(newInstant(models.NewTime(at)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("instant %v writes %s, time.Time %s", at, got, want)
		}
		var back instant
		if err := json.Unmarshal(got, &back); err != nil || !back.t.Equal(at) {
			t.Fatalf("%s reads back as %v (%v), want %v", got, back.t, err, at)
		}
	})
	// Nullable times are null when absent.
	got, err := json.Marshal(struct{ At *instant }{optInstant(nil)})
	if err != nil || string(got) != `{"At":null}` {
		t.Errorf("absent time = %s (%v), want null", got, err)
	}
}

// BenchmarkEncodeMessages encodes a default page of messages as the list
// endpoints answer it (Echo's c.JSON: an encoding/json Encoder).
func BenchmarkEncodeMessages(b *testing.B) {
	at := models.NewTime(time.Date(2026, 12, 2, 15, 0, 6, 512367912, time.UTC))
	s := func(v string) *string { return &v }
	page := listPage[Message]{NextCursor: s("eyJhIjoiMjAyNi0xMi0wMlQxNTowMDowNi41MTIzNjc5MTJaIiwiaSI6Im1zZ18xIn0")}
	for i := range defaultLimit {
		m := models.Message{
			ID: fmt.Sprintf("msg_%d", i), ConversationID: "conv_1", ContactID: s("cnt_1"), Channel: s("whatsapp"),
			Direction: models.DirectionOutbound, Status: models.MessageFailed, Body: s("Flash sale: 30% off everything until midnight!"),
			To: s("+21650000001"), Error: models.JSON(`{"code":131026,"message":"Message undeliverable"}`),
			CreatedAt: at, UpdatedAt: at, SyncedAt: at,
		}
		page.Data = append(page.Data, toMessage(&m))
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := json.NewEncoder(&buf).Encode(page); err != nil {
			b.Fatal(err)
		}
	}
}
