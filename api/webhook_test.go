package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
	"github.com/buzzmirror/buzzmirror/sync"
)

var msgData = map[string]any{"messageId": "msg_1", "conversationId": "conv_1", "contactId": "cnt_1",
	"channel": "whatsapp", "body": "Hello", "from": "+21612345678"}

// TestWebhookAnswers walks CONTRACT's answer table row by row.
func TestWebhookAnswers(t *testing.T) {
	valid := event("evt_1", "message.received", msgData)
	sig := func(b []byte) http.Header { return http.Header{SignatureHeader: {sync.Sign(testSecret, b)}} }
	cases := []struct {
		name       string
		body       []byte
		header     http.Header
		wantStatus int
		wantAnswer string // the status field of a 200, or "" for a problem
		stored     bool
	}{
		{"Accepted", valid, sig(valid), 200, "accepted", true},
		{"Ignored", event("evt_2", "order.created", map[string]any{"x": 1}), nil, 200, "ignored", true},
		{"QuarantinedNoID", event("evt_3", "message.sent", map[string]any{"conversationId": "c"}), nil, 200, "quarantined", true},
		{"QuarantinedWrongType", event("evt_4", "contact.updated", map[string]any{"contactId": "c", "tags": "vip"}), nil, 200, "quarantined", true},
		{"QuarantinedDataNotObject", event("evt_5", "contact.updated", []int{1}), nil, 200, "quarantined", true},
		{"NoSignature", valid, http.Header{}, 401, "", false},
		{"WrongSignature", valid, http.Header{SignatureHeader: {sync.Sign("other", valid)}}, 401, "", false},
		{"NotJSON", []byte("hello"), nil, 400, "", false},
		{"NoID", []byte(`{"type":"message.received","createdAt":"2026-06-01T14:32:00Z","data":{}}`), nil, 400, "", false},
		{"NoType", []byte(`{"id":"evt_6","createdAt":"2026-06-01T14:32:00Z","data":{}}`), nil, 400, "", false},
		{"BadCreatedAt", []byte(`{"id":"evt_7","type":"message.received","createdAt":"yesterday","data":{}}`), nil, 400, "", false},
		{"NumericID", []byte(`{"id":7,"type":"message.received","createdAt":"2026-06-01T14:32:00Z","data":{}}`), nil, 400, "", false},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h := tc.header
				if h == nil {
					h = sig(tc.body)
				}
				rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", tc.body, h)
				if rec.Code != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
				}
				if tc.wantAnswer != "" {
					if got := decode[map[string]string](t, rec)["status"]; got != tc.wantAnswer {
						t.Errorf("answer %q, want %q", got, tc.wantAnswer)
					}
				} else {
					assertProblem(t, rec, tc.wantStatus)
				}
			})
		}
		if rec := s.deliver(t, valid); decode[map[string]string](t, rec)["status"] != "duplicate" {
			t.Errorf("redelivery: %s", rec.Body)
		}
		if st, err := db.Stats(context.Background()); err != nil || st.JournalRows() != 5 {
			n := int64(-1)
			if st != nil {
				n = st.JournalRows()
			}
			t.Errorf("journal holds %d events (err %v), want the 5 stored ones", n, err)
		}
	})
}

// assertProblem checks an error answer is an RFC 9457 document for status.
func assertProblem(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	p := decode[Problem](t, rec)
	if p.Status != status || p.Title == "" || p.Type == "" || p.Detail == "" {
		t.Errorf("problem %+v, want status %d with type, title and detail", p, status)
	}
}

func TestWebhookBodyLimitIsInclusive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		body := event("evt_limit", "message.received", msgData)
		for _, tc := range []struct {
			name  string
			limit int64
			want  int
		}{
			{"AtLimit", int64(len(body)), 200},
			{"OneByteOver", int64(len(body)) - 1, 413},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestServer(t, db, Options{MaxBodyBytes: tc.limit})
				rec := s.deliver(t, body)
				if rec.Code != tc.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
				}
			})
		}
	})
}

// TestSignatureEncodings accepts every encoding the contract lists, under
// either configured secret, several signatures in one header, and the
// header name in any case; and says why a header is refused.
func TestSignatureEncodings(t *testing.T) {
	body := event("evt_sig", "message.received", msgData)
	mac := func(secret string) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return m.Sum(nil)
	}
	sum := mac(testSecret)
	other := hex.EncodeToString(mac("rotated-away"))
	cases := map[string]string{
		"HexLower":          hex.EncodeToString(sum),
		"HexUpper":          strings.ToUpper(hex.EncodeToString(sum)),
		"HexPrefixed":       "sha256=" + hex.EncodeToString(sum),
		"Base64Std":         base64.StdEncoding.EncodeToString(sum),
		"Base64RawStd":      base64.RawStdEncoding.EncodeToString(sum),
		"Base64URL":         base64.URLEncoding.EncodeToString(sum),
		"Base64RawURL":      base64.RawURLEncoding.EncodeToString(sum),
		"Base64Prefixed":    "sha256=" + base64.StdEncoding.EncodeToString(sum),
		"OldSecret":         hex.EncodeToString(mac("whsec_old")),
		"UpperPrefix":       "SHA256=" + hex.EncodeToString(sum),
		"SurroundingBlanks": "  " + hex.EncodeToString(sum) + " ",
		"PrefixAlone":       "sha256= " + hex.EncodeToString(sum),
		"TwoByComma":        other + "," + hex.EncodeToString(sum),
		"TwoBySpace":        "sha256=" + other + " sha256=" + base64.StdEncoding.EncodeToString(sum),
		"TwoByBoth":         other + ",\t " + hex.EncodeToString(sum),
		"NotASignatureToo":  "v0=abc, " + hex.EncodeToString(sum),
		"Sixteen":           strings.Repeat(other+",", 15) + hex.EncodeToString(sum),
	}
	v, _ := sync.NewVerifier([]string{testSecret, "whsec_old"})
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			if err := v.Verify(body, header); err != nil {
				t.Errorf("rejected %q: %v", header, err)
			}
		})
	}
	for name, tc := range map[string]struct {
		header string
		want   error
	}{
		"Empty":        {"", sync.ErrSignatureMissing},
		"Blank":        {" , ", sync.ErrSignatureMissing},
		"Truncated":    {hex.EncodeToString(sum)[:63], sync.ErrSignatureMalformed},
		"DoublePrefix": {"sha256=sha256=" + hex.EncodeToString(sum), sync.ErrSignatureMalformed},
		"Seventeen":    {strings.Repeat(other+",", 16) + hex.EncodeToString(sum), sync.ErrSignatureMalformed},
		"OtherBody":    {sync.Sign(testSecret, []byte("x")), sync.ErrSignatureMismatch},
		"OtherSecret":  {sync.Sign("nope", body), sync.ErrSignatureMismatch},
		"TwoWrong":     {other + "," + sync.Sign("nope", body), sync.ErrSignatureMismatch},
	} {
		t.Run("Reject"+name, func(t *testing.T) {
			if err := v.Verify(body, tc.header); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%q) = %v, want %v", tc.header, err, tc.want)
			}
		})
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		for header, detail := range map[string]string{
			"": "missing", "zz": "malformed", sync.Sign("nope", body): "matches",
		} {
			rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", body, http.Header{SignatureHeader: {header}})
			assertProblem(t, rec, http.StatusUnauthorized)
			if p := decode[Problem](t, rec); !strings.Contains(p.Detail, detail) {
				t.Errorf("401 for %q says %q, want it to say %s", header, p.Detail, detail)
			}
		}
		header := http.Header{"x-buzzbip-signature": {cases["Base64Std"]}, "Content-Type": {"text/plain"}}
		if rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", body, header); rec.Code != 200 {
			t.Errorf("lower-case header name, text/plain: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestConcurrentDuplicates delivers one event from many goroutines at once:
// exactly one is accepted.
func TestConcurrentDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		body := event("evt_race", "message.received", msgData)
		const n = 32
		answers := make(chan string, n)
		var wg gosync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rec := s.deliver(t, body)
				if rec.Code != 200 {
					answers <- rec.Body.String()
					return
				}
				answers <- decode[map[string]string](t, rec)["status"]
			}()
		}
		close(start)
		wg.Wait()
		close(answers)
		counts := map[string]int{}
		for a := range answers {
			counts[a]++
		}
		if counts["accepted"] != 1 || counts["duplicate"] != n-1 {
			t.Errorf("answers %v, want 1 accepted and %d duplicate", counts, n-1)
		}
	})
}

// TestStorageUnavailable answers 503 so BuzzBip retries.
func TestStorageUnavailable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		db.Close()
		rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", event("evt_down", "message.received", msgData),
			http.Header{SignatureHeader: {sync.Sign(testSecret, event("evt_down", "message.received", msgData))}})
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
		}
		assertProblem(t, rec, 503)
		if rec := s.do(t, http.MethodGet, "/readyz", nil, nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("readyz %d, want 503", rec.Code)
		}
	})
}
