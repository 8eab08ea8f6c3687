package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/config"
)

func TestWarnIfOpen(t *testing.T) {
	for _, tc := range []struct {
		listen, tokens string
		warn           bool
	}{
		{"127.0.0.1:8080", "", false},
		{"localhost:8080", "", false},
		{"[::1]:8080", "", false},
		{"0.0.0.0:8080", "", true},
		{":8080", "", true},
		{"10.0.0.5:8080", "", true},
		{"0.0.0.0:8080", "tok", false},
	} {
		var buf bytes.Buffer
		cfg := config.Default()
		cfg.Listen, cfg.API.Tokens = tc.listen, tc.tokens
		warnIfOpen(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
		if got := strings.Contains(buf.String(), "level=WARN"); got != tc.warn {
			t.Errorf("listen %q tokens %q: warned %v, want %v", tc.listen, tc.tokens, got, tc.warn)
		}
	}
}
