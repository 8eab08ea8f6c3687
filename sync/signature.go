// Package sync turns verified BuzzBip webhooks into the relational mirror:
// signature checks, event decoding, the journal and the projection of
// events onto rows. It knows nothing of HTTP.
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

// MaxSignatures is how many values one header may carry.
const MaxSignatures = 16

// Why a signature header was refused.
var (
	ErrSignatureMissing   = errors.New("the signature header is missing")
	ErrSignatureMalformed = errors.New("the signature header is malformed")
	ErrSignatureMismatch  = errors.New("no signature in the header matches the body")
)

// Verify checks that header carries a valid signature of body under a
// configured secret, and says why not otherwise. The header holds one or
// more signatures (a sender rotating its own secret signs with each),
// separated by commas and/or whitespace; each is hex (either case) or
// base64 (standard or URL-safe, padded or not), with or without a
// "sha256=" prefix. Every signature is compared with every secret, in
// constant time, so timing reveals neither the digest nor which matched.
// Values that are no signature are passed over; a header without any is
// malformed.
func (v *Verifier) Verify(body []byte, header string) error {
	values := strings.FieldsFunc(header, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	switch {
	case len(values) == 0:
		return ErrSignatureMissing
	case len(values) > MaxSignatures:
		return ErrSignatureMalformed
	}
	var given [][]byte
	for _, s := range values {
		if len(s) >= 7 && strings.EqualFold(s[:7], "sha256=") {
			s = s[7:]
		}
		if s == "" {
			continue // "sha256= <digest>": the prefix stood alone
		}
		if d, ok := decodeSignature(s); ok {
			given = append(given, d) // a value that is no signature is passed over
		}
	}
	if len(given) == 0 {
		return ErrSignatureMalformed
	}
	match := 0
	for _, secret := range v.secrets {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		want := m.Sum(nil)
		for _, g := range given {
			match |= subtle.ConstantTimeCompare(want, g)
		}
	}
	if match != 1 {
		return ErrSignatureMismatch
	}
	return nil
}

// decodeSignature turns one signature into the 32 digest bytes it encodes.
func decodeSignature(s string) ([]byte, bool) {
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
