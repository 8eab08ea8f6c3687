package models

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestVersionsRoundTrip(t *testing.T) {
	for name, vs := range map[string]Versions{
		"Empty":  {},
		"Shared": {"a": "2026-06-01T10:00:00.000000000Z e1", "b": "2026-06-01T10:00:00.000000000Z e1", "c": "2026-06-01T11:00:00.000000000Z e2"},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := vs.Value()
			if err != nil {
				t.Fatal(err)
			}
			var got Versions
			if err := got.Scan(v); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, vs) {
				t.Errorf("got %v, want %v", got, vs)
			}
			again, _ := got.Value()
			if again != v {
				t.Errorf("encoding is not stable: %s then %s", v, again)
			}
		})
	}
	var bad Versions
	if err := bad.Scan(`{"v":[],"f":{"a":3}}`); err == nil {
		t.Error("a field pointing past the versions must not scan")
	}
}

func TestClaim(t *testing.T) {
	vs := Versions{}
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"2026-06-01T10:00:00.000000000Z e2", true},
		{"2026-06-01T10:00:00.000000000Z e1", false}, // same time, smaller id
		{"2026-06-01T10:00:00.000000000Z e2", false}, // the same event again
		{"2026-06-01T10:00:00.000000001Z e0", true},  // a nanosecond later wins
	} {
		if got := vs.Claim("k", tc.v); got != tc.want {
			t.Errorf("Claim(%s) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestVersionsEncodeMatchesEncodingJSON checks the hand-written encoder
// against encoding/json's encoding of the stored form, for any field names
// and versions, escapes and non-ASCII included.
func TestVersionsEncodeMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := rapid.OneOf(rapid.StringMatching(`[a-zA-Z0-9 .:_-]{0,12}`), rapid.String())
		vs := Versions(rapid.MapOf(text, rapid.SampledFrom(rapid.SliceOfN(text, 1, 4).Draw(t, "versions"))).Draw(t, "vs"))

		st := storedVersions{Versions: []string{}, Fields: map[string]int{}}
		for _, v := range vs {
			if !slices.Contains(st.Versions, v) {
				st.Versions = append(st.Versions, v)
			}
		}
		slices.Sort(st.Versions)
		for k, v := range vs {
			st.Fields[k] = slices.Index(st.Versions, v)
		}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := vs.Encode(); got != string(want) {
			t.Fatalf("Encode() = %s, want %s", got, want)
		}
	})
}

// TestDecodeStoredRoundTrip checks that the fast decoder reads back
// whatever Encode writes with plain strings, as encoding/json would.
func TestDecodeStoredRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := rapid.StringMatching(`[a-zA-Z0-9 .:_-]{0,12}`)
		vs := Versions(rapid.MapOf(text, rapid.SampledFrom(rapid.SliceOfN(text, 1, 12).Draw(t, "versions"))).Draw(t, "vs"))
		enc := vs.Encode()
		got, ok := decodeStored([]byte(enc))
		if !ok {
			t.Fatalf("decodeStored(%s) refused it", enc)
		}
		var want storedVersions
		if err := json.Unmarshal([]byte(enc), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeStored(%s) = %+v, want %+v", enc, got, want)
		}
	})
}

// FuzzDecodeStored checks that the fast decoder, when it accepts an input,
// reads it as encoding/json does.
func FuzzDecodeStored(f *testing.F) {
	for _, seed := range []string{
		`{"v":[],"f":{}}`,
		`{"v":["2026-06-01T10:00:00.000000000Z e1","2026-06-01T11:00:00.000000000Z e2"],"f":{"a":0,"b":1}}`,
		`{"v":["x"],"f":{"a":0,"a":0}}`,
		`{"v":["\u00e9"],"f":{"k":00}}`,
		`{"v":["x"],"f":{"k":0}} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeStored(b)
		if !ok {
			return
		}
		var want storedVersions
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("decodeStored accepted %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeStored(%q) = %+v, encoding/json reads %+v", b, got, want)
		}
	})
}
