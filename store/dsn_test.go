package store

import "testing"

func TestPostgresDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?default_query_exec_mode=exec&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?default_query_exec_mode=exec"},
		{"postgres://u@h/db?default_query_exec_mode=cache_statement", "postgres://u@h/db?default_query_exec_mode=cache_statement"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db default_query_exec_mode=exec"},
	} {
		if got := postgresDSN(tc.in); got != tc.want {
			t.Errorf("postgresDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
