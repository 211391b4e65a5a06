/* sqlite_bigram.h — the "dm_bigram" FTS5 tokenizer of the account name index (see the .c). */
#ifndef DM_SQLITE_BIGRAM_H
#define DM_SQLITE_BIGRAM_H
#include <sqlite3.h>

/* Register the tokenizer on db: every connection that writes accounts or searches names needs
 * it (the index's triggers and queries call it). SQLITE_OK or an SQLite error code. */
int sqlite_bigram_register(sqlite3 *db);

#endif
