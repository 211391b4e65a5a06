/* import.c — `dealmap import`: load a CSV file into one kind of record, all or nothing. */
#include "cli.h"
#include "../base/timeutil.h"
#include "../io/import.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../base/banned.h"

static const char usage[] =
	"usage: dealmap import [--db PATH] OBJECT FILE.csv [options]\n"
	"\n"
	"Import FILE.csv (\"-\" = standard input) into OBJECT: accounts, contacts, opportunities,\n"
	"activities, leads, orders or users. The first row names the columns: field names, or\n"
	"common English and Chinese headers (Account Name, 客户名称, company...). References may\n"
	"be names: account = the account's name, owner = a username. Every row passes the same\n"
	"rules as the API, in one transaction: one bad row and nothing is written. The report\n"
	"(JSON) lists each bad row by its line in the file. Exit status 0 when everything went\n"
	"in, 1 when rows were refused or the import failed, 2 on a usage error.\n"
	"  --db PATH                      database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --dry-run                      check everything, write nothing\n"
	"  --on-duplicate skip|update|error   an account whose name exists (default error)\n"
	"  --encoding utf-8|gb18030       the file's encoding (default: detected)\n"
	"  --mapping COL=FIELD,...        map columns to fields explicitly\n"
	"  --as USERNAME                  import as this user (default: the system, an admin)\n"
	"  --progress / --no-progress     progress bar on standard error (default: when a tty)\n";

struct bar {
	uint64_t size;
	int on;
};

static void show_progress(void *arg, int64_t rows, uint64_t bytes)
{
	struct bar *b = arg;
	if (!b->on)
		return;
	int pct = b->size ? (int)(bytes * 100 / b->size) : 0;
	char bar[31];
	for (int i = 0; i < 30; i++)
		bar[i] = i < pct * 30 / 100 ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\rimport: [%s] %3d%% %lld rows", bar, pct > 100 ? 100 : pct,
		(long long)rows);
	fflush(stderr);
}

static int parse_args(int argc, char **argv, const char **db, struct import_opts *o,
		      const char **as, int *bar)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "dry-run", no_argument, NULL, 'n' },
					      { "on-duplicate", required_argument, NULL, 'u' },
					      { "encoding", required_argument, NULL, 'e' },
					      { "mapping", required_argument, NULL, 'm' },
					      { "as", required_argument, NULL, 'a' },
					      { "progress", no_argument, NULL, 'p' },
					      { "no-progress", no_argument, NULL, 'q' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct dm_err e;
	struct kv kv[1];
	int c;
	dm_err_clear(&e);
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		kv[0].value = optarg;
		switch (c) {
		case 'd': *db = optarg; continue;
		case 'n': o->dry_run = 1; continue;
		case 'a': *as = optarg; continue;
		case 'p': *bar = 1; continue;
		case 'q': *bar = 0; continue;
		case 'u': kv[0].key = "on_duplicate"; break;
		case 'e': kv[0].key = "encoding"; break;
		case 'm': kv[0].key = "mapping"; break;
		case 'h': fputs(usage, stdout); return -1;
		default: return cli_usage_error(usage, "import: unknown or incomplete option %s",
						argv[optind - 1]);
		}
		if (import_params(kv, 1, NULL, o, &e))
			return cli_usage_error(usage, "import: %s", e.message);
	}
	if (argc - optind != 2)
		return cli_usage_error(usage, "import: give OBJECT and FILE.csv");
	return 0;
}

static void summary(json_t *r, int64_t ms)
{
	int64_t rows = json_integer_value(json_object_get(r, "rows"));
	fprintf(stderr, "import: %lld rows in %lld ms (%lld rows/s): %lld created, %lld updated, "
		"%lld skipped, %lld errors%s\n", (long long)rows, (long long)ms,
		(long long)(ms ? rows * 1000 / ms : rows),
		(long long)json_integer_value(json_object_get(r, "created")),
		(long long)json_integer_value(json_object_get(r, "updated")),
		(long long)json_integer_value(json_object_get(r, "skipped")),
		(long long)json_integer_value(json_object_get(r, "error_count")),
		json_is_true(json_object_get(r, "written")) ? "" : " — nothing written");
}

int cmd_import(int argc, char **argv)
{
	struct import_opts o;
	const char *db = cli_default_db(), *as = NULL;
	struct bar bar = { 0, isatty(2) };
	struct store *s = NULL;
	struct dm_err e;
	json_t *report = NULL;
	FILE *in = NULL;
	int rc;
	memset(&o, 0, sizeof o);
	dm_err_clear(&e);
	o.viewer = viewer_system;
	if ((rc = parse_args(argc, argv, &db, &o, &as, &bar.on)))
		return rc < 0 ? 0 : rc;
	const char *object = argv[optind], *path = argv[optind + 1];
	in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!in) {
		fprintf(stderr, "dealmap: cannot open %s\n", path);
		return 1;
	}
	struct stat st;
	if (!fstat(fileno(in), &st) && S_ISREG(st.st_mode))
		bar.size = (uint64_t)st.st_size;
	rc = 1;
	if (cli_open(db, &s) || (as && cli_viewer_as(s, as, &o.viewer)))
		goto out;
	if (import_kind(object, &o.viewer, &o.kind, &e) ||
	    (o.mapping[0] && import_mapping_check(o.kind, o.mapping, &e))) {
		rc = cli_usage_error(usage, "import: %s", e.message);
		goto out;
	}
	o.progress = show_progress;
	o.progress_arg = &bar;
	int64_t t0 = time_now_ms();
	if (import_run(s, &o, csv_read_file, in, &report, &e)) {
		if (bar.on)
			fputc('\n', stderr);
		fprintf(stderr, "dealmap: %s%s%s\n", e.message, e.field[0] ? " — " : "", e.field);
		goto out;
	}
	if (bar.on)
		fputc('\n', stderr);
	json_dumpf(report, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	summary(report, time_now_ms() - t0);
	rc = json_is_true(json_object_get(report, "ok")) ? 0 : 1;
out:
	json_decref(report);
	store_close(s);
	if (in && in != stdin)
		fclose(in);
	return rc;
}
