/* pg_schema.h — the PostgreSQL backend's migrations, in order (the same numbers as SQLite's). */
#ifndef DM_PG_SCHEMA_H
#define DM_PG_SCHEMA_H

extern const char *const pg_migrations[];
extern const int pg_migration_count;

#endif
