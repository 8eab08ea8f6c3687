package store

import "testing"

func TestPostgresDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?plan_cache_mode=force_custom_plan&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?plan_cache_mode=force_custom_plan"},
		{"postgres://u@h/db?plan_cache_mode=auto", "postgres://u@h/db?plan_cache_mode=auto"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db plan_cache_mode=force_custom_plan"},
	} {
		if got := postgresDSN(tc.in); got != tc.want {
			t.Errorf("postgresDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
