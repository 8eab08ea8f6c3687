package store

import "testing"

func TestPostgresDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?enable_seqscan=off&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?enable_seqscan=off"},
		{"postgres://u@h/db?enable_seqscan=on", "postgres://u@h/db?enable_seqscan=on"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db enable_seqscan=off"},
	} {
		if got := postgresDSN(tc.in); got != tc.want {
			t.Errorf("postgresDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
