/* sqlite_walbuf.h — a VFS that writes a commit's WAL frames in one call (sqlite_walbuf.c). */
#ifndef DM_SQLITE_WALBUF_H
#define DM_SQLITE_WALBUF_H
#include <sqlite3.h>

#define SQLITE_WALBUF_VFS "dm-walbuf"

/* The VFS's name for sqlite3_open_v2, registered on the first call; NULL if it could not be
 * (then the default VFS serves, as before). */
const char *sqlite_walbuf_vfs(void);
/* Writes handed to WAL files by this VFS so far, in this process (for tests). */
long sqlite_walbuf_writes(void);

#endif
