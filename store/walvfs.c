// A SQLite VFS that wraps the default one and gathers the writes to a WAL
// file into one buffer, written with a single pwrite when SQLite syncs,
// reads, or asks anything else of the file. See walvfs.go for why.
//
// The structures below are SQLite's stable VFS ABI (sqlite3.h, "OS
// Interface Object" and "OS Interface Open File Handle"), declared here
// because the amalgamation's header lives in another module.

#include <stdlib.h>
#include <string.h>

typedef long long sqlite3_int64;
typedef struct sqlite3_file sqlite3_file;
typedef struct sqlite3_io_methods sqlite3_io_methods;
typedef struct sqlite3_vfs sqlite3_vfs;

struct sqlite3_file {
	const sqlite3_io_methods *pMethods;
};

struct sqlite3_io_methods {
	int iVersion;
	int (*xClose)(sqlite3_file *);
	int (*xRead)(sqlite3_file *, void *, int iAmt, sqlite3_int64 iOfst);
	int (*xWrite)(sqlite3_file *, const void *, int iAmt, sqlite3_int64 iOfst);
	int (*xTruncate)(sqlite3_file *, sqlite3_int64 size);
	int (*xSync)(sqlite3_file *, int flags);
	int (*xFileSize)(sqlite3_file *, sqlite3_int64 *pSize);
	int (*xLock)(sqlite3_file *, int);
	int (*xUnlock)(sqlite3_file *, int);
	int (*xCheckReservedLock)(sqlite3_file *, int *pResOut);
	int (*xFileControl)(sqlite3_file *, int op, void *pArg);
	int (*xSectorSize)(sqlite3_file *);
	int (*xDeviceCharacteristics)(sqlite3_file *);
	int (*xShmMap)(sqlite3_file *, int iPg, int pgsz, int, void volatile **);
	int (*xShmLock)(sqlite3_file *, int offset, int n, int flags);
	void (*xShmBarrier)(sqlite3_file *);
	int (*xShmUnmap)(sqlite3_file *, int deleteFlag);
	int (*xFetch)(sqlite3_file *, sqlite3_int64 iOfst, int iAmt, void **pp);
	int (*xUnfetch)(sqlite3_file *, sqlite3_int64 iOfst, void *p);
};

struct sqlite3_vfs {
	int iVersion;
	int szOsFile;
	int mxPathname;
	sqlite3_vfs *pNext;
	const char *zName;
	void *pAppData;
	int (*xOpen)(sqlite3_vfs *, const char *zName, sqlite3_file *, int flags, int *pOutFlags);
	/* xDelete ... xNextSystemCall: copied from the wrapped VFS unchanged */
	void *rest[15];
};

extern sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName);
extern int sqlite3_vfs_register(sqlite3_vfs *, int makeDflt);

#define SQLITE_OK 0
#define SQLITE_NOMEM 7
#define SQLITE_OPEN_WAL 0x00080000

/* The unix VFS writes at most 128 KiB per call (seekAndWriteFd masks the
** length with 0x1ffff), so the buffer stays below that. */
#define WAL_BUFFER (64 << 10)

typedef struct walFile {
	sqlite3_file base;      /* pMethods = &walMethods */
	sqlite3_file *real;     /* the wrapped VFS's file, right after this struct */
	char *buf;              /* bytes not yet handed to real */
	int len;                /* how many */
	sqlite3_int64 start;    /* file offset of buf[0] */
} walFile;

static sqlite3_vfs walVfs;
static sqlite3_vfs *inner;

/* Totals over every WAL file, for tests: writes SQLite asked for, and
** writes that reached the wrapped file. */
static long long walWrites, walFlushes;

void buzzmirror_walvfs_stats(long long *writes, long long *flushes) {
	*writes = __atomic_load_n(&walWrites, __ATOMIC_RELAXED);
	*flushes = __atomic_load_n(&walFlushes, __ATOMIC_RELAXED);
}

static int walFlush(walFile *f) {
	if (f->len == 0) {
		return SQLITE_OK;
	}
	int rc = f->real->pMethods->xWrite(f->real, f->buf, f->len, f->start);
	f->len = 0;
	__atomic_add_fetch(&walFlushes, 1, __ATOMIC_RELAXED);
	return rc;
}

static int walClose(sqlite3_file *p) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *p, void *out, int n, sqlite3_int64 off) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int walWrite(sqlite3_file *p, const void *data, int n, sqlite3_int64 off) {
	walFile *f = (walFile *)p;
	__atomic_add_fetch(&walWrites, 1, __ATOMIC_RELAXED);
	if (f->len > 0 && off == f->start + f->len && f->len + n <= WAL_BUFFER) {
		memcpy(f->buf + f->len, data, n);
		f->len += n;
		return SQLITE_OK;
	}
	int rc = walFlush(f);
	if (rc != SQLITE_OK) {
		return rc;
	}
	if (n >= WAL_BUFFER) {
		__atomic_add_fetch(&walFlushes, 1, __ATOMIC_RELAXED);
		return f->real->pMethods->xWrite(f->real, data, n, off);
	}
	memcpy(f->buf, data, n);
	f->len = n;
	f->start = off;
	return SQLITE_OK;
}

#define FLUSH_THEN(call)               \
	walFile *f = (walFile *)p;         \
	int rc = walFlush(f);              \
	if (rc != SQLITE_OK) return rc;    \
	return f->real->pMethods->call;

static int walTruncate(sqlite3_file *p, sqlite3_int64 size) { FLUSH_THEN(xTruncate(f->real, size)) }
static int walSync(sqlite3_file *p, int flags) { FLUSH_THEN(xSync(f->real, flags)) }
static int walFileSize(sqlite3_file *p, sqlite3_int64 *size) { FLUSH_THEN(xFileSize(f->real, size)) }
static int walFileControl(sqlite3_file *p, int op, void *arg) { FLUSH_THEN(xFileControl(f->real, op, arg)) }

#define PASS(call) walFile *f = (walFile *)p; return f->real->pMethods->call;

static int walLock(sqlite3_file *p, int l) { PASS(xLock(f->real, l)) }
static int walUnlock(sqlite3_file *p, int l) { PASS(xUnlock(f->real, l)) }
static int walCheckReservedLock(sqlite3_file *p, int *out) { PASS(xCheckReservedLock(f->real, out)) }
static int walSectorSize(sqlite3_file *p) { PASS(xSectorSize(f->real)) }
static int walDeviceCharacteristics(sqlite3_file *p) { PASS(xDeviceCharacteristics(f->real)) }

static const sqlite3_io_methods walMethods = {
	1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize,
	walLock, walUnlock, walCheckReservedLock, walFileControl, walSectorSize,
	walDeviceCharacteristics,
};

static int walOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *outFlags) {
	if (!(flags & SQLITE_OPEN_WAL)) {
		return inner->xOpen(inner, name, p, flags, outFlags);
	}
	walFile *f = (walFile *)p;
	memset(f, 0, sizeof(*f));
	f->buf = malloc(WAL_BUFFER);
	if (!f->buf) {
		return SQLITE_NOMEM;
	}
	f->real = (sqlite3_file *)(f + 1);
	int rc = inner->xOpen(inner, name, f->real, flags, outFlags);
	if (rc != SQLITE_OK) {
		/* SQLite closes a file whose xOpen failed only when pMethods is
		** set; ours stays empty, so close the wrapped one here. */
		if (f->real->pMethods) {
			f->real->pMethods->xClose(f->real);
		}
		free(f->buf);
		f->buf = 0;
		return rc;
	}
	f->base.pMethods = &walMethods;
	return SQLITE_OK;
}

/* buzzmirror_register_walvfs registers the VFS under name, once; the
** caller serialises calls. */
int buzzmirror_register_walvfs(const char *name) {
	if (sqlite3_vfs_find(name)) {
		return SQLITE_OK;
	}
	inner = sqlite3_vfs_find(0);
	if (!inner) {
		return 1;
	}
	memcpy(&walVfs, inner, sizeof(walVfs));
	walVfs.szOsFile = sizeof(walFile) + inner->szOsFile;
	walVfs.pNext = 0;
	walVfs.zName = name;
	walVfs.xOpen = walOpen;
	return sqlite3_vfs_register(&walVfs, 0);
}
