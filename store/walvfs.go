package store

// #include <stdlib.h>
// int buzzmirror_register_walvfs(const char *name);
// void buzzmirror_walvfs_stats(long long *writes, long long *flushes);
import "C"

import (
	"fmt"
	"unsafe"
)

// walVFS names a SQLite VFS (walvfs.c) that is the default one except for
// WAL files: their writes gather in a buffer that reaches the file in one
// pwrite when SQLite syncs it (or reads, truncates, sizes or closes it).
//
// SQLite writes each WAL frame with two pwrite calls, header and page, so a
// batch that changes 400 pages makes 800 system calls before its fsync; on
// the slower benchmark machine a pwrite costs about 2 µs, and gathering them
// took the writer's path for a 64-event batch from 15.1 to 13.0 ms (see
// BENCHMARKS.md). Gathered, the batch is a few calls of 64 KiB.
//
// Durability is unchanged: nothing is acknowledged before the sync, and the
// sync writes the buffer first. Other connections never see unsynced
// frames, because SQLite publishes a commit's frames in the WAL index only
// after syncing them, which only holds with synchronous=FULL; so the writer
// alone uses this VFS, and only when its DSN asks for FULL (sqliteDSN).
const walVFS = "buzzmirror-wal"

// registerWALVFS registers walVFS with SQLite. Call it through setupSQLite.
func registerWALVFS() error {
	name := C.CString(walVFS) // SQLite keeps the pointer: never freed
	if rc := C.buzzmirror_register_walvfs(name); rc != 0 {
		C.free(unsafe.Pointer(name))
		return fmt.Errorf("store: register SQLite VFS %s: code %d", walVFS, rc)
	}
	return nil
}

// walVFSStats reports, over every WAL file since the process started, how
// many writes SQLite asked for and how many reached the file.
func walVFSStats() (writes, flushes int64) {
	var w, f C.longlong
	C.buzzmirror_walvfs_stats(&w, &f)
	return int64(w), int64(f)
}
