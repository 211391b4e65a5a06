/* main.c — process set-up, then the command table. */
#include "cli/cli.h"
#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "base/banned.h"

static const struct command commands[] = {
	{ "serve", cmd_serve, "serve the web app and the JSON API" },
	{ "init", cmd_init, "create or migrate a database and its admin" },
	{ "user", cmd_user, "add, list users, change a password" },
	{ "demo", cmd_demo, "load a demo company into a new database" },
	{ "sweep", cmd_sweep, "reclaim neglected accounts to the public pool" },
	{ "import", cmd_import, "import records from a CSV file (all or nothing)" },
	{ "export", cmd_export, "export records to CSV or XLSX" },
	{ "backup", cmd_backup, "copy a live database consistently to a file" },
	{ "restore", cmd_restore, "put a checked backup back in place" },
	{ "generate", cmd_generate, "load the benchmark's large company (issue 9)" },
};

static void usage(FILE *out)
{
	fputs("usage: dealmap COMMAND [options]   (dealmap COMMAND --help for more)\n\n"
	      "dealmap, a CRM for big B2B orders. Commands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

/* Process-wide tuning, before any thread starts. Measured with wrk on GET /accounts/{id}:
 * glibc returned freed heap tops to the kernel (madvise) and faulted them back on the next
 * request, and SQLite's memory statistics take a global mutex on every allocation. */
static void tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
	/* No fastbins. A list of 50 accounts builds and frees thousands of small jansson blocks,
	 * and each row's object grows its hash table to 1 KB: glibc serves a request of that size
	 * (past tcache's seven blocks) only after malloc_consolidate has merged every free
	 * fastbin chunk, once per row, 7 % of the list's CPU (perf). Without fastbins a small
	 * free beyond tcache's seven coalesces at once and nothing waits to be consolidated:
	 * rep's list of 50 at full scale ≈ 8 % less CPU a request (BENCHMARKS.md, fix 32).
	 * A larger tcache (glibc.malloc.tcache_count, a tunable mallopt cannot set) measured no
	 * better. */
	mallopt(M_MXFAST, 0);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* Statement journals stay in memory. With the default (spill to a temporary file past 64
	 * KiB), once one statement of a transaction spilled, every later statement's journal went
	 * through that file: ten pwrite calls per imported account, 30 % of an import's time
	 * (strace: 1.04M writes for 100,000 rows). Other spill sizes are broken in SQLite 3.40:
	 * with 256 KiB to 4 MiB, migration 6's backfill UPDATE after a CREATE INDEX failed with
	 * "database or disk is full" on a 100k-account database (reproduced with a 20-line C program
	 * outside the tree: CREATE INDEX then a large UPDATE in one transaction).
	 * A statement's journal holds the pages it changes that existed before it: bounded by the
	 * data a statement rewrites, which for dealmap's statements is a migration's backfill at
	 * most. */
	sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}

int main(int argc, char **argv)
{
	tune();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "dealmap: unknown command %s\n\n", argv[1]);
	usage(stderr);
	return 2;
}
