/* sweep.c — `dealmap sweep`: reclaim neglected accounts to the public pool (SPEC §6). */
#include "cli.h"
#include "../domain/pool.h"
#include "../domain/records.h"
#include <stdio.h>
#include <string.h>
#include "../base/banned.h"

static const char usage[] =
	"usage: dealmap sweep [--db PATH] [--as-of YYYY-MM-DD]\n"
	"\n"
	"Move to the public pool every account (not of a never-park level) whose owner has made\n"
	"no effective follow-up for reclaim_after_days, or that has had no won opportunity for\n"
	"reclaim_no_deal_days since it was assigned. Running it twice moves nothing the second\n"
	"time. `dealmap serve` runs it once a day by itself.\n"
	"  --db PATH          database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --as-of DATE       sweep as of this date (default today, Asia/Shanghai)\n";

int cmd_sweep(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "as-of", required_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *as_of = NULL;
	int c;
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'a': as_of = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "sweep: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(usage, "sweep: unexpected argument %s", argv[optind]);
	struct store *s;
	struct dm_err e;
	json_t *out = NULL;
	dm_err_clear(&e);
	if (cli_open(db, &s))
		return 1;
	int rc = pool_sweep(s, &viewer_system, as_of, &out, &e);
	store_close(s);
	if (rc) {
		fprintf(stderr, "dealmap: %s%s%s\n", e.message, e.field[0] ? " — " : "", e.field);
		return rc == DM_EINVAL ? 2 : 1;
	}
	size_t i;
	json_t *m;
	printf("sweep %lld as of %s: %zu account(s) moved to the pool\n",
	       (long long)json_integer_value(json_object_get(out, "sweep_id")),
	       json_string_value(json_object_get(out, "as_of")),
	       json_array_size(json_object_get(out, "moved")));
	json_array_foreach(json_object_get(out, "moved"), i, m)
		printf("  account %lld from user %lld: %s\n",
		       (long long)json_integer_value(json_object_get(m, "account_id")),
		       (long long)json_integer_value(json_object_get(m, "from")),
		       json_string_value(json_object_get(m, "why")));
	json_decref(out);
	return 0;
}
