//go:build pprof

package cli

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
	"os"
)

// Built with -tags pprof, the binary serves Go's profiler on
// $BUZZMIRROR_PPROF_LISTEN (default 127.0.0.1:6060), for finding where
// benchmark time goes. Release builds do not contain it.
func init() {
	addr := os.Getenv("BUZZMIRROR_PPROF_LISTEN")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
