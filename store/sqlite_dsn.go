package store

import (
	"fmt"
	"net/url"
	"strings"
)

// sqliteRole is what a SQLite connection pool is for.
type sqliteRole int

const (
	sqliteWriter       sqliteRole = iota // the one connection that writes
	sqliteReader                         // the read API's pool
	sqliteCheckpointer                   // background WAL checkpoints
)

// sqliteDSN turns the configured file path into a go-sqlite3 URI for a
// pool of the given role. Every connection gets synchronous=FULL (an
// acknowledged event survives power loss), foreign keys, and a busy timeout
// for other processes (migrate, rebuild); the writer begins transactions
// IMMEDIATE so none fails on lock upgrade, readers are query-only. WAL mode
// and the page size are set by sqliteWriterPragmas. (go-sqlite3 takes the
// first of repeated parameters, so a path's own settings win over ours.)
func sqliteDSN(path string, role sqliteRole, writerCacheKiB int) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "FULL")
	// Page cache per connection, in KiB: the writer's holds the hot index
	// pages of every batch; readers share the OS cache, so eight of them
	// stay small and the server's RSS stays bounded.
	switch role {
	case sqliteWriter:
		if writerCacheKiB <= 0 {
			writerCacheKiB = 64 << 10
		}
		q.Set("_cache_size", fmt.Sprint(-writerCacheKiB))
		// The compiled bulk statements (bulk.go): about a hundred texts.
		q.Set("_stmt_cache_size", "160")
		q.Set("_txlock", "immediate")
	case sqliteReader:
		q.Set("_cache_size", "-8192")
		q.Set("_query_only", "1")
	case sqliteCheckpointer:
		q.Set("_cache_size", "-2048")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	return path + sep + q.Encode()
}
