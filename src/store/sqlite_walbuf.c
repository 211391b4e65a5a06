/* sqlite_walbuf.c — the WAL's frames written in one call per commit instead of two per page.
 *
 * SQLite writes each WAL frame as two calls, its 24-byte header and then its page: a commit of
 * the ≈ 180 pages a batch of POST /activities dirties made ≈ 370 `pwrite` calls, a third of the
 * writer thread's time in the kernel (docs/BENCHMARKS.md, fix 41). This VFS is the platform's
 * default one with one change: a file opened as a WAL keeps the writes that continue each other
 * in a buffer and hands them to the real file as one write when anything else is asked of the
 * file (a sync, a read, its size, a truncation, a lock, a file control, its close), when a
 * write does not continue the buffered ones, or past WALBUF_MAX bytes. So the frames reach the
 * file before the commit's sync, which SQLite does (synchronous=FULL) before it publishes them
 * to readers in the wal-index; a reader on another connection reads only published frames, and
 * this connection's own reads (a page spilled from its cache) find the buffer written first.
 * An error of the deferred write is the error of the call that flushed it (the commit's sync,
 * which then fails as a failed write would have). Every other file, and every other call, goes
 * to the default VFS as it is. */
#include "sqlite_walbuf.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define WALBUF_MAX (4 << 20)   /* flushed past this many bytes (a commit of ≈ 1,000 pages) */

struct wb_file {
	sqlite3_file base;      /* pMethods = &wb_methods */
	sqlite3_file *real;     /* the default VFS's file, in the same allocation after this */
	unsigned char *buf;
	size_t len, cap;
	sqlite3_int64 off;      /* the file offset of buf[0] */
};

static sqlite3_vfs wb_vfs;
static sqlite3_vfs *wb_real;
static int wb_ok;
static pthread_once_t wb_once = PTHREAD_ONCE_INIT;
static _Atomic long wb_stat_writes;   /* writes handed to WAL files (sqlite_walbuf_writes) */

/* The default VFS writes at most 128 KiB - 1 bytes a call (unix: the length is masked with
 * 0x1ffff, so a longer write reports a short one: SQLITE_FULL). */
#define WALBUF_CHUNK 0x1f000

static int wb_write_through(struct wb_file *f, const unsigned char *data, size_t n,
			    sqlite3_int64 off)
{
	int rc = SQLITE_OK;
	while (n && rc == SQLITE_OK) {
		size_t k = n < WALBUF_CHUNK ? n : WALBUF_CHUNK;
		wb_stat_writes++;
		rc = f->real->pMethods->xWrite(f->real, data, (int)k, off);
		data += k;
		off += (sqlite3_int64)k;
		n -= k;
	}
	return rc;
}

static int wb_flush(struct wb_file *f)
{
	if (!f->len)
		return SQLITE_OK;
	size_t n = f->len;
	f->len = 0;
	return wb_write_through(f, f->buf, n, f->off);
}

static int wb_close(sqlite3_file *p)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int wb_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc;
	if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > WALBUF_MAX) &&
	    (rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	if ((size_t)n > WALBUF_MAX)
		return wb_write_through(f, data, (size_t)n, off);
	if (f->len + (size_t)n > f->cap) {
		size_t cap = f->cap ? f->cap : 64 * 1024;
		while (cap < f->len + (size_t)n)
			cap *= 2;
		unsigned char *b = realloc(f->buf, cap);
		if (!b) {   /* no memory for the buffer: write through */
			if ((rc = wb_flush(f)) != SQLITE_OK)
				return rc;
			return wb_write_through(f, data, (size_t)n, off);
		}
		f->buf = b;
		f->cap = cap;
	}
	if (!f->len)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)n);
	f->len += (size_t)n;
	return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *p, int flags)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_size(sqlite3_file *p, sqlite3_int64 *size)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *p, int level)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int wb_unlock(sqlite3_file *p, int level)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int wb_reserved(sqlite3_file *p, int *out)
{
	struct wb_file *f = (struct wb_file *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_control(sqlite3_file *p, int op, void *arg)
{
	struct wb_file *f = (struct wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector(sqlite3_file *p)
{
	struct wb_file *f = (struct wb_file *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int wb_device(sqlite3_file *p)
{
	struct wb_file *f = (struct wb_file *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: a WAL file is never asked for shared memory or memory maps (the database file is). */
static const sqlite3_io_methods wb_methods = {
	1, wb_close, wb_read, wb_write, wb_truncate, wb_sync, wb_size, wb_lock, wb_unlock,
	wb_reserved, wb_control, wb_sector, wb_device,
	NULL, NULL, NULL, NULL, NULL, NULL,
};

static size_t wb_head(void)
{
	return (sizeof(struct wb_file) + 15) & ~(size_t)15;
}

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags,
		   int *out_flags)
{
	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))   /* every other file is the default VFS's, in place */
		return wb_real->xOpen(wb_real, name, p, flags, out_flags);
	struct wb_file *f = (struct wb_file *)p;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)((char *)p + wb_head());
	int rc = wb_real->xOpen(wb_real, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		/* SQLite calls xClose only when pMethods is set; close what the real open left */
		if (f->real->pMethods)
			f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return rc;
	}
	f->base.pMethods = &wb_methods;
	return SQLITE_OK;
}

static void wb_init(void)
{
	wb_real = sqlite3_vfs_find(NULL);
	if (!wb_real)
		return;
	wb_vfs = *wb_real;   /* the default VFS's own calls use only its pAppData and mxPathname */
	wb_vfs.pNext = NULL;
	wb_vfs.zName = SQLITE_WALBUF_VFS;
	wb_vfs.szOsFile = (int)wb_head() + wb_real->szOsFile;
	wb_vfs.xOpen = wb_open;
	wb_ok = sqlite3_vfs_register(&wb_vfs, 0) == SQLITE_OK;
}

const char *sqlite_walbuf_vfs(void)
{
	pthread_once(&wb_once, wb_init);
	return wb_ok ? SQLITE_WALBUF_VFS : NULL;
}

long sqlite_walbuf_writes(void)
{
	return wb_stat_writes;
}
