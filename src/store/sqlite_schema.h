/* sqlite_schema.h — the SQLite backend's migrations, in order. */
#ifndef DM_SQLITE_SCHEMA_H
#define DM_SQLITE_SCHEMA_H

extern const char *const sqlite_migrations[];
extern const int sqlite_migration_count;

/* Bulk loads of accounts (sqlite.c's sq_bulk): migration 17's account insert trigger
 * (accounts_segments_ai) for every account from id ?1 on at once, grouped — the same sums. */
extern const char sqlite_bulk_segments[];
/* Bulk loads of activities (sq_bulk): what the activities' insert triggers do, for every
 * activity from id ?1 on at once; NULL-terminated, to run in order. */
extern const char *const sqlite_bulk_activities[];

#endif
