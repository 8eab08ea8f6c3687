package sync

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// FuzzVerify: no panic, the signature of the body is always accepted, and a
// header is accepted exactly when it decodes to the body's HMAC.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"evt_1"}`)
	sum := hmacOf("secret", body)
	for _, h := range []string{
		hex.EncodeToString(sum), "sha256=" + base64.StdEncoding.EncodeToString(sum),
		base64.RawURLEncoding.EncodeToString(sum), "", "sha256=", "zz", strings.Repeat("=", 44),
		"zz," + hex.EncodeToString(sum), "sha256= " + hex.EncodeToString(sum), strings.Repeat("a,", 16) + hex.EncodeToString(sum),
	} {
		f.Add(body, h)
	}
	v, _ := NewVerifier([]string{"secret"})
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if err := v.Verify(body, Sign("secret", body)); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		// The header is accepted exactly when one of its values (at most
		// 16) decodes to the body's HMAC.
		values := strings.FieldsFunc(header, func(r rune) bool { return strings.ContainsRune(", \t\n\r", r) })
		want := len(values) > 0 && len(values) <= MaxSignatures
		match, wellFormed := false, 0
		for _, s := range values {
			if len(s) >= 7 && strings.EqualFold(s[:7], "sha256=") {
				s = s[7:]
			}
			if s == "" {
				continue
			}
			decoded, ok := decodeSignature(s)
			if !ok {
				continue
			}
			wellFormed++
			match = match || hmac.Equal(decoded, hmacOf("secret", body))
		}
		want = want && wellFormed > 0 && match
		if got := v.Verify(body, header); (got == nil) != want {
			t.Fatalf("Verify(%q) = %v, want accepted %v", header, got, want)
		}
	})
}

func hmacOf(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// FuzzDecode: every body ends as exactly one of the contract's outcomes
// (bad envelope, ignored, quarantined, applied) without panicking, and an
// applied event carries exactly one decoded data part.
func FuzzDecode(f *testing.F) {
	for _, seed := range [][]byte{
		ev("e1", "message.received", t1, obj{"messageId": "m", "conversationId": "c", "from": "+1"}),
		ev("e2", "message.failed", t1, obj{"messageId": "m", "conversationId": "c", "error": obj{"code": 1.5e3}}),
		ev("e3", "contact.updated", t1, obj{"contactId": "c", "tags": []any{"a", nil}, "fields": nil, "x": obj{}}),
		ev("e4", "workflow.triggered", t1, obj{"workflowId": "w", "runId": ""}),
		ev("e5", "conversation.resolved", t1, []int{}),
		ev("e6", "what.ever", t1, nil),
		[]byte(`{"id":"e7","type":"contact.created","createdAt":"2026-06-01T14:32:00+01:00","data":{"contactId":"c","name":"\u0000"}}`),
		[]byte(`{"id":"e8","type":"message.sent","createdAt":"0001-01-01T00:00:00Z"}`),
		[]byte(`[]`), []byte(`null`), []byte("\xff"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := ParseEnvelope(raw)
		if err != nil {
			if !errors.Is(err, ErrBadEnvelope) {
				t.Fatalf("envelope error outside the contract: %v", err)
			}
			return
		}
		if !bytes.Equal(env.Raw, raw) || env.ID == "" || env.Type == "" {
			t.Fatalf("envelope lost its id, type or raw bytes: %+v", env)
		}
		if v := env.Version(); !strings.HasSuffix(v, " "+env.ID) || len(v) != len(timeLayoutExample)+1+len(env.ID) {
			t.Fatalf("malformed version %q", v)
		}
		ev, err := Decode(env, testClock)
		var dataErr *DataError
		switch {
		case errors.Is(err, ErrUnknownType), errors.As(err, &dataErr):
		case err != nil:
			t.Fatalf("decode error outside the contract: %v", err)
		default:
			parts := 0
			for _, set := range []bool{ev.Message != nil, ev.Conversation != nil, ev.Contact != nil, ev.Workflow != nil} {
				if set {
					parts++
				}
			}
			if parts != 1 {
				t.Fatalf("decoded %d data parts", parts)
			}
		}
	})
}

const timeLayoutExample = "2006-01-02T15:04:05.000000000Z"
