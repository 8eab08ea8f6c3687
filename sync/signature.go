// Package sync turns verified BuzzBip webhooks into the relational mirror:
// signature checks, event decoding and the projection of events onto rows.
// It knows nothing of HTTP.
package sync

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Verifier checks X-BuzzBip-Signature against one or more signing secrets.
type Verifier struct {
	secrets [][]byte
}

// NewVerifier accepts any of secrets; an empty list is refused, since the
// service must never accept unsigned events.
func NewVerifier(secrets []string) (*Verifier, error) {
	v := &Verifier{}
	for _, s := range secrets {
		if s != "" {
			v.secrets = append(v.secrets, []byte(s))
		}
	}
	if len(v.secrets) == 0 {
		return nil, errors.New("sync: no webhook secret configured")
	}
	return v, nil
}

// Sign returns the hex HMAC-SHA256 of body under secret, the form `send`
// and the tests use.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header carries a valid signature of body under any
// configured secret. The header may be hex (either case) or base64 (standard
// or URL-safe, padded or not), with or without a "sha256=" prefix. Every
// secret is tried and compared in constant time, so timing reveals neither
// the digest nor which secret matched.
func (v *Verifier) Verify(body []byte, header string) bool {
	given, ok := decodeSignature(header)
	if !ok {
		return false
	}
	match := 0
	for _, secret := range v.secrets {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		match |= subtle.ConstantTimeCompare(m.Sum(nil), given)
	}
	return match == 1
}

// decodeSignature turns the header into the 32 digest bytes it encodes.
func decodeSignature(header string) ([]byte, bool) {
	s := strings.TrimSpace(header)
	if len(s) >= 7 && strings.EqualFold(s[:7], "sha256=") {
		s = strings.TrimSpace(s[7:])
	}
	switch len(s) {
	case 2 * sha256.Size: // hex
		b, err := hex.DecodeString(s)
		return b, err == nil
	case 43, 44: // base64 of 32 bytes, unpadded or padded
		s = strings.TrimRight(s, "=")
		if len(s) != 43 {
			return nil, false
		}
		enc := base64.RawStdEncoding
		if strings.ContainsAny(s, "-_") {
			enc = base64.RawURLEncoding
		}
		b, err := enc.Strict().DecodeString(s)
		return b, err == nil && len(b) == sha256.Size
	}
	return nil, false
}
