package sync

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// objectSeeds are texts on both sides of every rule the scanner checks.
var objectSeeds = []string{
	`{}`, ` {"a":1} `, "\t{\n\"a\" : [ 1 , 2 ]\r}\n", `{"a":1,"a":2}`, `{"a":{"b":[true,false,null]}}`,
	`{"id":"evt_1","type":"message.sent","createdAt":"2030-01-01T00:00:00Z","data":{"body":"hé \u00e9 \"q\""}}`,
	`{"\u0069d":"x"}`, `{"a\"b":"c\\d"}`, `{"s":"\ud800"}`, `{"s":"\/\b\f\n\r\t"}`,
	`{"n":-0}`, `{"n":0.5e-3}`, `{"n":1E+9}`, `{"n":-12.25}`,
	``, ` `, `null`, `[]`, `"s"`, `1`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1}x`, `{"a":1}{}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":0x1}`,
	`{"a":tru}`, `{"a":nul}`, `{"a":True}`, `{"a":"x` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`,
	`{"a":"` + "\xff" + `"}`, `{"` + "\xc3" + `":1}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b"}}`, `{"a":"b",}`,
	`{1:2}`, `{'a':1}`, "{\"a\":1}\x00", "\xef\xbb\xbf{}",
}

// objectMembers answers as json.Unmarshal into a map of raw values does,
// and jsonString decodes its string values alike when the text is UTF-8
// (ParseEnvelope refuses any other).
func FuzzObjectMembers(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkObjectMembers(t, raw)
	})
}

func checkObjectMembers(t *testing.T, raw []byte) {
	t.Helper()
	var want map[string]json.RawMessage
	wantOK := json.Unmarshal(raw, &want) == nil && want != nil
	got, ok := objectMembers(raw)
	if ok != wantOK {
		t.Fatalf("objectMembers(%q) ok = %v, encoding/json says %v", raw, ok, wantOK)
	}
	if !ok || !utf8.Valid(raw) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("objectMembers(%q) = %q, want %q", raw, got, want)
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("objectMembers(%q)[%q] = %q, want %q", raw, k, got[k], v)
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			if gs, ok := jsonString(v); !ok || gs != s {
				t.Fatalf("jsonString(%q) = %q, %v; want %q", v, gs, ok, s)
			}
		} else if _, ok := jsonString(v); ok {
			t.Fatalf("jsonString(%q) accepted what is not a string", v)
		}
	}
}

func TestObjectMembersAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range objectSeeds {
		checkObjectMembers(t, []byte(s))
	}
	for _, body := range benchBodies(256) {
		checkObjectMembers(t, body)
	}
}

// TestObjectMembersDepth: encoding/json refuses nesting past 10,000 levels,
// and so must the scanner, at exactly the same depth.
func TestObjectMembersDepth(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		inner := depth - 1 // the object itself is the first level
		raw := `{"a":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`
		checkObjectMembers(t, []byte(raw))
		if _, ok := objectMembers([]byte(raw)); ok != (depth <= maxDepth) {
			t.Errorf("depth %d: ok = %v", depth, ok)
		}
	}
}

func BenchmarkObjectMembers(b *testing.B) {
	bodies := benchBodies(1024)
	for i := 0; b.Loop(); i++ {
		if _, ok := objectMembers(bodies[i%len(bodies)]); !ok {
			b.Fatal("a generated body was refused")
		}
	}
}
