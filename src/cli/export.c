/* export.c — `dealmap export`: one kind of record to CSV or XLSX, with the list filters. */
#include "cli.h"
#include "../io/export.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define MAX_FILTERS 16

static const char usage[] =
	"usage: dealmap export [--db PATH] OBJECT [FILTER=VALUE...] [options]\n"
	"\n"
	"Write every OBJECT record (accounts, contacts, opportunities, activities, leads, orders,\n"
	"users, teams) as CSV (UTF-8 with a BOM) or XLSX. Filters are those of the list endpoints\n"
	"(owner_id=3, stage=commit, name=华信, updated_since=2026-01-01, sort=-amount...). Text\n"
	"cells starting with = + - @ tab or CR get a leading ' (no formula runs in Excel).\n"
	"  --db PATH              database file (default $DEALMAP_DB or dealmap.db)\n"
	"  --format csv|xlsx      default: from --out's extension, else csv\n"
	"  --out FILE             default: standard output (csv only)\n"
	"  --as USERNAME          export what this user sees (default: everything)\n";

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "format", required_argument, NULL, 'f' },
					      { "out", required_argument, NULL, 'o' },
					      { "as", required_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = cli_default_db(), *format = NULL, *out = NULL, *as = NULL;
	struct kv params[MAX_FILTERS];
	size_t np = 0;
	struct viewer v = viewer_system;
	enum export_format fmt = EXPORT_CSV;
	struct store *s = NULL;
	struct dm_err e;
	FILE *f = NULL;
	int c, rc = 1;
	dm_err_clear(&e);
	cli_reset_getopt();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'f': format = optarg; break;
		case 'o': out = optarg; break;
		case 'a': as = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(usage, "export: unknown or incomplete option %s",
						argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(usage, "export: name the OBJECT to export");
	const struct kind *k = model_kind_by_plural(argv[optind]);
	if (!k || (k->flags & KF_NESTED))
		return cli_usage_error(usage, "export: cannot export %s", argv[optind]);
	for (int i = optind + 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || np == MAX_FILTERS)
			return cli_usage_error(usage, "export: %s is not FILTER=VALUE", argv[i]);
		*eq = '\0';
		params[np].key = argv[i];
		params[np++].value = eq + 1;
	}
	if (!format && out && strlen(out) > 5 && !strcmp(out + strlen(out) - 5, ".xlsx"))
		format = "xlsx";
	if (format && export_format_parse(format, &fmt))
		return cli_usage_error(usage, "export: --format must be csv or xlsx");
	if (fmt == EXPORT_XLSX && !out)
		return cli_usage_error(usage, "export: an XLSX export needs --out FILE");
	if (cli_open(db, &s) || (as && cli_viewer_as(s, as, &v)))
		goto done;
	if (fmt == EXPORT_XLSX) {
		rc = export_xlsx(s, k, &v, params, np, out, &e);
	} else {
		f = out ? fopen(out, "wb") : stdout;
		rc = f ? export_csv(s, k, &v, params, np, f, &e) :
			 dm_fail(&e, DM_EPARAM, "out", "cannot create %s", out);
	}
	if (rc)
		fprintf(stderr, "dealmap: %s%s%s\n", e.message, e.field[0] ? " — " : "", e.field);
	rc = rc ? (rc == DM_EPARAM ? 2 : 1) : 0;
done:
	if (f && f != stdout && fclose(f) && !rc)
		rc = 1;
	store_close(s);
	return rc;
}
