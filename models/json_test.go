package models

import (
	"reflect"
	"testing"
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
