/* sqlite_schema.h — the SQLite backend's migrations, in order. */
#ifndef DM_SQLITE_SCHEMA_H
#define DM_SQLITE_SCHEMA_H

extern const char *const sqlite_migrations[];
extern const int sqlite_migration_count;

#endif
