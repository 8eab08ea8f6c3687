// A page cache that wraps SQLite's default one (pcache1) and answers
// truncations that would drop nothing without asking it. See pcache.go for
// why.
//
// The structures are SQLite's stable page cache ABI (sqlite3.h, "Application
// Defined Page Cache"), declared here because the amalgamation's header
// lives in another module.

#include <stdlib.h>

typedef struct sqlite3_pcache sqlite3_pcache;
typedef struct sqlite3_pcache_page sqlite3_pcache_page;

typedef struct sqlite3_pcache_methods2 {
	int iVersion;
	void *pArg;
	int (*xInit)(void *);
	void (*xShutdown)(void *);
	sqlite3_pcache *(*xCreate)(int szPage, int szExtra, int bPurgeable);
	void (*xCachesize)(sqlite3_pcache *, int nCachesize);
	int (*xPagecount)(sqlite3_pcache *);
	sqlite3_pcache_page *(*xFetch)(sqlite3_pcache *, unsigned key, int createFlag);
	void (*xUnpin)(sqlite3_pcache *, sqlite3_pcache_page *, int discard);
	void (*xRekey)(sqlite3_pcache *, sqlite3_pcache_page *, unsigned oldKey, unsigned newKey);
	void (*xTruncate)(sqlite3_pcache *, unsigned iLimit);
	void (*xDestroy)(sqlite3_pcache *);
	void (*xShrink)(sqlite3_pcache *);
} sqlite3_pcache_methods2;

extern int sqlite3_config(int, ...);

#define SQLITE_CONFIG_PCACHE2 18
#define SQLITE_CONFIG_GETPCACHE2 19
#define PENDING_BYTE 0x40000000

/* One cache, as SQLite sees it. SQLite calls a cache only under its
** connection's mutex, so the fields need no lock of their own. */
typedef struct trimCache {
	sqlite3_pcache *inner;
	unsigned maxKey;     /* no page with a greater key is cached, but see parked */
	unsigned pendingKey; /* the page number that holds no page: PENDING_BYTE's */
	int parked;          /* pages rekeyed to pendingKey and not yet away from it */
} trimCache;

static sqlite3_pcache_methods2 inner;

/* Totals over every cache, for tests: truncations asked for, and how many
** reached the default cache. */
static long long truncates, innerTruncates;

static sqlite3_pcache *trimCreate(int szPage, int szExtra, int bPurgeable) {
	trimCache *c = calloc(1, sizeof(*c));
	if (!c) {
		return 0;
	}
	c->inner = inner.xCreate(szPage, szExtra, bPurgeable);
	if (!c->inner) {
		free(c);
		return 0;
	}
	c->pendingKey = PENDING_BYTE / szPage + 1;
	return (sqlite3_pcache *)c;
}

#define INNER(p) (((trimCache *)(p))->inner)

static void trimCachesize(sqlite3_pcache *p, int n) { inner.xCachesize(INNER(p), n); }
static int trimPagecount(sqlite3_pcache *p) { return inner.xPagecount(INNER(p)); }
static void trimUnpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) { inner.xUnpin(INNER(p), pg, discard); }
static void trimShrink(sqlite3_pcache *p) { inner.xShrink(INNER(p)); }

static sqlite3_pcache_page *trimFetch(sqlite3_pcache *p, unsigned key, int create) {
	trimCache *c = (trimCache *)p;
	sqlite3_pcache_page *pg = inner.xFetch(c->inner, key, create);
	if (pg && key > c->maxKey) {
		c->maxKey = key;
	}
	return pg;
}

/* The B-tree's balance_nonroot swaps two pages' numbers through
** pendingKey, which no page ever has. Counting those pages instead of
** raising maxKey is the whole point of this cache. */
static void trimRekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned oldKey, unsigned newKey) {
	trimCache *c = (trimCache *)p;
	inner.xRekey(c->inner, pg, oldKey, newKey);
	if (oldKey == c->pendingKey) {
		c->parked--;
	}
	if (newKey == c->pendingKey) {
		c->parked++;
	} else if (newKey > c->maxKey) {
		c->maxKey = newKey;
	}
}

static void trimTruncate(sqlite3_pcache *p, unsigned limit) {
	trimCache *c = (trimCache *)p;
	__atomic_add_fetch(&truncates, 1, __ATOMIC_RELAXED);
	if (limit > c->maxKey && !(c->parked > 0 && limit <= c->pendingKey)) {
		return; /* nothing cached at or past limit */
	}
	__atomic_add_fetch(&innerTruncates, 1, __ATOMIC_RELAXED);
	inner.xTruncate(c->inner, limit);
	if (limit <= c->maxKey) {
		c->maxKey = limit > 0 ? limit - 1 : 0;
	}
	if (limit <= c->pendingKey) {
		c->parked = 0;
	}
}

static void trimDestroy(sqlite3_pcache *p) {
	inner.xDestroy(INNER(p));
	free(p);
}

static int trimInit(void *arg) { return inner.xInit ? inner.xInit(inner.pArg) : 0; }
static void trimShutdown(void *arg) {
	if (inner.xShutdown) {
		inner.xShutdown(inner.pArg);
	}
}

static sqlite3_pcache_methods2 trimMethods = {
	1, 0, trimInit, trimShutdown, trimCreate, trimCachesize, trimPagecount,
	trimFetch, trimUnpin, trimRekey, trimTruncate, trimDestroy, trimShrink,
};

/* buzzmirror_install_pcache puts the cache in front of the default one. It
** must run before SQLite initialises; afterwards sqlite3_config refuses
** with SQLITE_MISUSE, which it returns. */
int buzzmirror_install_pcache(void) {
	int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner);
	if (rc != 0) {
		return rc;
	}
	return sqlite3_config(SQLITE_CONFIG_PCACHE2, &trimMethods);
}

void buzzmirror_pcache_stats(long long *asked, long long *passed) {
	*asked = __atomic_load_n(&truncates, __ATOMIC_RELAXED);
	*passed = __atomic_load_n(&innerTruncates, __ATOMIC_RELAXED);
}
