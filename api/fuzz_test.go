package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
	"github.com/buzzmirror/buzzmirror/sync"
)

// FuzzWebhook drives the real router on SQLite with arbitrary bodies, signed
// or not: every answer is one of the contract's, and 200s say one of the
// four outcomes.
func FuzzWebhook(f *testing.F) {
	for _, seed := range [][]byte{
		event("evt_1", "message.received", msgData),
		event("evt_2", "contact.updated", map[string]any{"contactId": "c", "tags": []any{"a", 1}}),
		event("evt_3", "unknown", nil),
		[]byte(`{"id":"evt_4","type":"message.sent","createdAt":"2026-13-01T00:00:00Z"}`),
		[]byte(`not json`), {},
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	s := newTestServer(f, storetest.Open(f, store.DriverSQLite), Options{MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		header := http.Header{SignatureHeader: {"sha256=" + sync.Sign("wrong", body)}}
		if signed {
			header.Set(SignatureHeader, sync.Sign(testSecret, body))
		}
		rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", body, header)
		switch rec.Code {
		case http.StatusOK:
			var answer map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Fatalf("200 with body %q", rec.Body)
			}
			switch answer["status"] {
			case "accepted", "duplicate", "ignored", "quarantined":
			default:
				t.Fatalf("200 with answer %q", answer["status"])
			}
			if !signed {
				t.Fatal("unsigned body answered 200")
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if !signed && rec.Code == http.StatusBadRequest {
				t.Fatal("unsigned body was parsed")
			}
			assertProblem(t, rec, rec.Code)
		case http.StatusUnauthorized:
			assertProblem(t, rec, rec.Code)
		default:
			t.Fatalf("answer %d outside the contract: %s", rec.Code, rec.Body)
		}
	})
}
