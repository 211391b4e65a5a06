/* init.c — `dealmap init`: create or migrate a database and its admin. */
#include "cli.h"
#include <stdio.h>
#include <string.h>
#include "../base/banned.h"

static const char usage[] =
	"usage: dealmap init [--db PATH] [--admin-password PW]\n"
	"\n"
	"Create the database (or apply pending migrations) and the user admin.\n"
	"Without --admin-password a password is generated and printed once.\n"
	"  --db PATH              database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --admin-password PW    the admin's password (8+ characters, not a common one)\n";

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "admin-password", required_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *pw = NULL;
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'p': pw = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "init: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "init: unexpected argument %s", argv[optind]);
	struct store *s;
	if (cli_open(db, &s))
		return 1;
	int rc = cli_ensure_admin(s, pw);
	int version = 0;
	struct dm_err e;
	store_schema_version(s, &version, &e);
	if (!rc)
		printf("database %s ready (schema version %d)\n", cli_db_shown(db), version);
	store_close(s);
	return rc;
}
