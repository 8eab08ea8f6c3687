package store

// int buzzmirror_install_pcache(void);
// void buzzmirror_pcache_stats(long long *asked, long long *passed);
import "C"

// SQLite's default page cache (pcache1) remembers the greatest page number
// it has held since its last truncation, and a truncation that starts below
// that number scans the whole cache, hash table and pages. Every commit
// truncates the cache at the database's size, and when a B-tree balance
// reorders sibling pages it swaps their numbers through the one page
// number no page ever has (the lock byte's, 1,048,577 with 1 KiB pages). So
// after nearly every transaction that splits a page, the commit scans the
// whole cache for pages past that number, and finds none: the writer's 64 MiB
// cache holds 64k pages, scanned at every commit. A CPU profile of `bench
// ingest` had it at 4 % of the server after 10 s, growing with the cache.
//
// pcache.c wraps the default cache, keeps its own greatest page number that
// leaves out that swap, and answers a truncation past it without asking the
// default cache. It changes no page's content or lifetime: it only skips
// calls that would have dropped nothing.

// installPageCache puts the wrapping cache in front of SQLite's default
// one. It must run before SQLite first initialises (any connection or VFS
// call does); after that SQLite refuses, and the default cache stays, which
// is slower but the same.
func installPageCache() bool { return C.buzzmirror_install_pcache() == 0 }

// pageCacheStats reports, over every SQLite page cache since the process
// started, how many truncations SQLite asked for and how many reached the
// default cache.
func pageCacheStats() (asked, passed int64) {
	var a, p C.longlong
	C.buzzmirror_pcache_stats(&a, &p)
	return int64(a), int64(p)
}
