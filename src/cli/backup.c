/* backup.c — `dealmap backup` and `dealmap restore`: a consistent copy of a live database, and
 * putting a checked copy back. */
#include "cli.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../base/banned.h"

static const char backup_usage[] =
	"usage: dealmap backup [--db PATH] OUT\n"
	"\n"
	"Write a consistent copy of the database to the new file OUT, while `dealmap serve` keeps\n"
	"running on it (SQLite's online backup: one read snapshot; writers are not blocked).\n"
	"  --db PATH    database file (default $DEALMAP_DB or dealmap.db)\n";

static const char restore_usage[] =
	"usage: dealmap restore [--db PATH] IN\n"
	"\n"
	"Replace the database with the backup IN, after checking it: it must pass PRAGMA\n"
	"integrity_check and have a schema version this dealmap knows (it is migrated after).\n"
	"Stop `dealmap serve` on the database first.\n"
	"  --db PATH    database file (default $DEALMAP_DB or dealmap.db)\n";

/* --db PATH and one file argument. 0 and *file, -1 after --help, or a usage error (2). */
static int db_and_file(int argc, char **argv, const char *usage, const char *cmd,
		       const char **db, const char **file)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': *db = optarg; break;
		case 'h': fputs(usage, stdout); return -1;
		default: return cli_usage_error(usage, "%s: unknown or incomplete option %s", cmd,
						argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(usage, "%s: give one file", cmd);
	*file = argv[optind];
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	const char *db = cli_default_db(), *out = NULL;
	struct store *s = NULL;
	struct dm_err e;
	int rc = db_and_file(argc, argv, backup_usage, "backup", &db, &out);
	if (rc)
		return rc < 0 ? 0 : rc;
	dm_err_clear(&e);
	if (!store_url_is_pg(db) && access(db, F_OK)) {
		fprintf(stderr, "dealmap: no database %s\n", db);
		return 1;
	}
	if (cli_open(db, &s))
		return 1;
	rc = store_backup(s, out, &e);
	store_close(s);
	if (rc) {
		fprintf(stderr, "dealmap: %s\n", e.message);
		return 1;
	}
	printf("backup of %s written to %s\n", cli_db_shown(db), out);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	const char *db = cli_default_db(), *in = NULL;
	struct store *s = NULL;
	struct dm_err e;
	int version = 0;
	int rc = db_and_file(argc, argv, restore_usage, "restore", &db, &in);
	if (rc)
		return rc < 0 ? 0 : rc;
	dm_err_clear(&e);
	if ((!store_url_is_pg(db) && store_file_check(in, &version, &e)) ||
	    store_file_restore(db, in, &e)) {
		fprintf(stderr, "dealmap: %s\n", e.message);
		return 1;
	}
	if (cli_open(db, &s))
		return 1;
	store_close(s);
	printf("%s restored from %s (schema version %d, checked)\n", cli_db_shown(db), in, version);
	return 0;
}
