package ratelog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOnceAnIntervalWithACount(t *testing.T) {
	var out bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&out, nil)), 50*time.Millisecond)
	ctx := context.Background()
	for range 1000 {
		l.Log(ctx, slog.LevelError, "db", "commit failed", "err", "disk full")
	}
	l.Log(ctx, slog.LevelError, "other", "something else")
	if n := strings.Count(out.String(), "commit failed"); n != 1 {
		t.Fatalf("1,000 failures wrote %d lines, want 1:\n%s", n, &out)
	}
	time.Sleep(60 * time.Millisecond)
	l.Log(ctx, slog.LevelError, "db", "commit failed", "err", "disk full")
	if !strings.Contains(out.String(), "suppressed=999") {
		t.Errorf("the second line does not count the 999 left out:\n%s", &out)
	}
	if !strings.Contains(out.String(), "something else") {
		t.Error("another key was held back")
	}
	l.Recovered(ctx, "db", "commits succeed again")
	l.Recovered(ctx, "never", "nothing to say")
	if !strings.Contains(out.String(), "commits succeed again") || strings.Contains(out.String(), "nothing to say") {
		t.Errorf("recovery lines:\n%s", &out)
	}
}
