/* test_io.c — unit tests of src/io: the CSV reader (encodings, separators, quoted newlines, line
 * numbers, reads split anywhere), formula neutralisation, imports through the rules (all or
 * nothing, aliases, names as references, dry runs, duplicates), and a backup taken while
 * writers commit. Each store test gets a fresh SQLite file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "domain/auth.h"
#include "domain/records.h"
#include "io/csv.h"
#include "io/export.h"
#include "io/import.h"
#include "store/store.h"

/* ---- the CSV reader ---------------------------------------------------------------------------- */

/* A reader giving at most `step` bytes per read, to split sequences and records anywhere. */
struct drip {
	const char *p;
	size_t len, off, step;
};

static long drip_read(void *arg, char *buf, size_t n)
{
	struct drip *d = arg;
	size_t k = d->len - d->off;
	if (k > d->step)
		k = d->step;
	if (k > n)
		k = n;
	memcpy(buf, d->p + d->off, k);
	d->off += k;
	return (long)k;
}

/* Read every record of text; returns them as "line:f1|f2|...;" in out. */
static int read_all(const char *text, size_t len, size_t step, enum csv_encoding enc, char *out,
		    size_t outlen, struct csv_reader **keep)
{
	struct drip d = { text, len, 0, step };
	struct csv_reader *r = csv_reader_new(drip_read, &d, enc);
	struct dm_err e;
	char **f;
	size_t n, used = 0;
	long line;
	int rc;
	dm_err_clear(&e);
	out[0] = '\0';
	while ((rc = csv_reader_next(r, &f, &n, &line, &e)) == 1) {
		used += (size_t)snprintf(out + used, outlen - used, "%ld:", line);
		for (size_t i = 0; i < n; i++)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "|" : "", f[i]);
		used += (size_t)snprintf(out + used, outlen - used, ";");
	}
	if (keep)
		*keep = r;
	else
		csv_reader_free(r);
	return rc;
}

static void csv_utf8_bom_comma(void **state)
{
	static const char text[] = "\xEF\xBB\xBFname,industry\r\nACME,印刷\r\n\r\nB Co,x\r\n";
	char out[512];
	struct csv_reader *r;
	assert_int_equal(read_all(text, sizeof text - 1, 4096, CSV_ENC_AUTO, out, sizeof out, &r), 0);
	assert_string_equal(out, "1:name|industry;2:ACME|印刷;4:B Co|x;");
	assert_int_equal(csv_reader_separator(r), ',');
	assert_int_equal(csv_reader_encoding(r), CSV_ENC_UTF8);
	csv_reader_free(r);
}

static void csv_separators(void **state)
{
	char out[512];
	struct csv_reader *r;
	assert_int_equal(read_all("a;b;c\n1;\"x;y\";3\n", 16, 4096, CSV_ENC_AUTO, out, sizeof out, &r), 0);
	assert_string_equal(out, "1:a|b|c;2:1|x;y|3;");
	assert_int_equal(csv_reader_separator(r), ';');
	csv_reader_free(r);
	assert_int_equal(read_all("a\tb\n1,5\t2\n", 10, 4096, CSV_ENC_AUTO, out, sizeof out, &r), 0);
	assert_string_equal(out, "1:a|b;2:1,5|2;");
	assert_int_equal(csv_reader_separator(r), '\t');
	csv_reader_free(r);
}

/* A record spanning lines starts where it starts; the next one is counted right. */
static void csv_quoted_newlines_keep_line_numbers(void **state)
{
	static const char text[] = "name,notes\n\"Multi\nline, \"\"quoted\"\"\",x\nnext,\"a\r\nb\"\nlast,y";
	char out[512];
	for (size_t step = 1; step <= 64; step *= 2) {
		assert_int_equal(read_all(text, sizeof text - 1, step, CSV_ENC_AUTO, out, sizeof out, NULL), 0);
		assert_string_equal(out, "1:name|notes;2:Multi\nline, \"quoted\"|x;4:next|a\r\nb;6:last|y;");
	}
}

static const char gb18030[] = "\xbf\xcd\xbb\xa7\xc3\xfb\xb3\xc6\x2c\xd0\xd0\xd2\xb5\x0a\xc9\xcf"
			      "\xba\xa3\xc9\xea\xb4\xef\x2c\xd3\xa1\xcb\xa2\x0a";

static void csv_gb18030_detected_and_chosen(void **state)
{
	char out[512];
	struct csv_reader *r;
	for (size_t step = 1; step <= 4096; step *= 8) {
		assert_int_equal(read_all(gb18030, sizeof gb18030 - 1, step == 1 ? 4096 : step,
					  CSV_ENC_AUTO, out, sizeof out, &r), 0);
		assert_string_equal(out, "1:客户名称|行业;2:上海申达|印刷;");
		assert_int_equal(csv_reader_encoding(r), CSV_ENC_GB18030);
		csv_reader_free(r);
	}
	assert_int_equal(read_all(gb18030, sizeof gb18030 - 1, 3, CSV_ENC_GB18030, out, sizeof out, NULL), 0);
	assert_string_equal(out, "1:客户名称|行业;2:上海申达|印刷;");
	/* UTF-8 split one byte at a time is still UTF-8 */
	assert_int_equal(read_all("名,x\n客户,y\n", 15, 1, CSV_ENC_UTF8, out, sizeof out, NULL), 0);
	assert_string_equal(out, "1:名|x;2:客户|y;");
}

static void neutralise(void **state)
{
	char b[64];
	assert_string_equal(export_neutralise("=1+1", b, sizeof b), "'=1+1");
	assert_string_equal(export_neutralise("+86 21", b, sizeof b), "'+86 21");
	assert_string_equal(export_neutralise("-3", b, sizeof b), "'-3");
	assert_string_equal(export_neutralise("@SUM(A1)", b, sizeof b), "'@SUM(A1)");
	assert_string_equal(export_neutralise("\tx", b, sizeof b), "'\tx");
	assert_string_equal(export_neutralise("\rx", b, sizeof b), "'\rx");
	assert_string_equal(export_neutralise("plain = fine", b, sizeof b), "plain = fine");
	assert_string_equal(export_neutralise("", b, sizeof b), "");
}

/* ---- imports through the rules --------------------------------------------------------------- */

struct fx {
	char dir[64], path[128];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct dm_err e;
	dm_err_clear(&e);
	snprintf(f->dir, sizeof f->dir, "/tmp/dm-io-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	if (store_open(f->path, &f->s, &e) || store_migrate(f->s, &e))
		fail_msg("store: %s", e.message);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];
	store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd)) {
	}
	free(f);
	return 0;
}

struct seen;
static void on_progress(void *arg, int64_t rows, uint64_t bytes);

/* Import csv as the system; the report (the import itself must not fail). With p, progress is
 * recorded there. */
static json_t *import_with(struct fx *f, const struct kind *k, const char *csv, int dry_run,
			   enum import_dup dup, struct seen *p)
{
	struct import_opts o;
	struct csv_mem m = { csv, strlen(csv), 0 };
	struct dm_err e;
	json_t *report = NULL;
	memset(&o, 0, sizeof o);
	dm_err_clear(&e);
	o.kind = k;
	o.viewer = viewer_system;
	o.dry_run = dry_run;
	o.on_duplicate = dup;
	o.progress = p ? on_progress : NULL;
	o.progress_arg = p;
	if (import_run(f->s, &o, csv_read_mem, &m, &report, &e))
		fail_msg("import failed: %s", e.message);
	return report;
}

static json_t *run_import(struct fx *f, const struct kind *k, const char *csv, int dry_run,
			  enum import_dup dup)
{
	return import_with(f, k, csv, dry_run, dup, NULL);
}

static int64_t count(struct fx *f, const struct kind *k)
{
	int64_t n = -1;
	struct dm_err e;
	assert_int_equal(store_count(f->s, k, &n, &e), 0);
	return n;
}

static int64_t num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void bad_row_in_the_middle_writes_nothing(void **state)
{
	struct fx *f = *state;
	json_t *r = run_import(f, &kind_account, "客户名称,重要程度\nA1,A\n\"A\n2\",B\nA3,Z\nA4,C\n", 0,
			       IMPORT_DUP_ERROR);
	assert_false(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(num(r, "rows"), 4);
	assert_int_equal(num(r, "error_count"), 1);
	json_t *err = json_array_get(json_object_get(r, "errors"), 0);
	assert_int_equal(num(err, "line"), 5);
	assert_string_equal(json_string_value(json_object_get(err, "field")), "importance");
	assert_string_equal(json_string_value(json_object_get(err, "column")), "重要程度");
	assert_int_equal(count(f, &kind_account), 0);
	json_decref(r);
}

static void aliases_dry_run_and_real_run(void **state)
{
	struct fx *f = *state;
	const char *csv = "Account Name,Industry,Phone,Notes\nACME,印刷,'+86 21 1,\"=x\"\nBeta,b,,\n";
	json_t *r = run_import(f, &kind_account, csv, 1, IMPORT_DUP_ERROR);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(num(r, "created"), 2);
	assert_int_equal(count(f, &kind_account), 0);   /* a dry run writes nothing */
	json_decref(r);
	r = run_import(f, &kind_account, csv, 0, IMPORT_DUP_ERROR);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(count(f, &kind_account), 2);
	json_decref(r);
	int64_t id = 0;
	struct dm_err e;
	json_t *acc = NULL;
	assert_int_equal(store_find_name(f->s, &kind_account, "acme", &id, &e), 0);
	assert_int_equal(store_get(f->s, &kind_account, NULL, id, 0, &acc, &e), 0);
	assert_string_equal(json_string_value(json_object_get(acc, "phone")), "+86 21 1");
	assert_string_equal(json_string_value(json_object_get(acc, "industry")), "印刷");
	json_decref(acc);
}

static void duplicates_skip_update_error(void **state)
{
	struct fx *f = *state;
	json_decref(run_import(f, &kind_account, "name,industry\nACME,old\n", 0, IMPORT_DUP_ERROR));
	json_t *r = run_import(f, &kind_account, "name,industry\nacme,new\nOther,x\n", 0, IMPORT_DUP_ERROR);
	assert_false(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(count(f, &kind_account), 1);
	json_decref(r);
	r = run_import(f, &kind_account, "name,industry\nacme,new\nOther,x\n", 0, IMPORT_DUP_SKIP);
	assert_int_equal(num(r, "skipped"), 1);
	assert_int_equal(num(r, "created"), 1);
	json_decref(r);
	r = run_import(f, &kind_account, "name,industry\nACME,new\n", 0, IMPORT_DUP_UPDATE);
	assert_int_equal(num(r, "updated"), 1);
	json_decref(r);
	int64_t id;
	struct dm_err e;
	json_t *acc = NULL;
	assert_int_equal(store_find_name(f->s, &kind_account, "ACME", &id, &e), 0);
	assert_int_equal(store_get(f->s, &kind_account, NULL, id, 0, &acc, &e), 0);
	assert_string_equal(json_string_value(json_object_get(acc, "industry")), "new");
	json_decref(acc);
}

static void references_by_name(void **state)
{
	struct fx *f = *state;
	json_decref(run_import(f, &kind_account, "name\n上海申达\n", 0, IMPORT_DUP_ERROR));
	json_t *r = run_import(f, &kind_contact, "客户名称,姓名,职位\n上海申达,陈建国,总经理\n无此公司,x,y\n",
			       0, IMPORT_DUP_ERROR);
	assert_int_equal(num(r, "error_count"), 1);
	json_t *err = json_array_get(json_object_get(r, "errors"), 0);
	assert_int_equal(num(err, "line"), 3);
	assert_string_equal(json_string_value(json_object_get(err, "field")), "account_id");
	json_decref(r);
	r = run_import(f, &kind_contact, "客户名称,姓名,职位\n上海申达,陈建国,总经理\n", 0, IMPORT_DUP_ERROR);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(count(f, &kind_contact), 1);
	json_decref(r);
}

/* ---- long files: read on one thread, written on another ------------------------------------- */

struct seen {
	int64_t calls, last_rows;
	uint64_t last_bytes;
	int backwards;
};

static void on_progress(void *arg, int64_t rows, uint64_t bytes)
{
	struct seen *p = arg;
	p->backwards |= rows < p->last_rows || bytes < p->last_bytes;
	p->calls++;
	p->last_rows = rows;
	p->last_bytes = bytes;
}

/* n account rows "客户<i>,A" (line i + 2), with a bad importance on the rows in bad[] (-1 ends),
 * the name of row dup_of again on row dup, and tail appended. */
static char *many_rows(int n, const int *bad, int dup, int dup_of, const char *tail)
{
	struct buf b = BUF_INIT(0);
	buf_puts(&b, "客户名称,重要程度\n");
	for (int i = 0; i < n; i++) {
		int is_bad = 0;
		for (int j = 0; bad && bad[j] >= 0; j++)
			is_bad |= bad[j] == i;
		buf_printf(&b, "客户%05d,%s\n", i == dup ? dup_of : i, is_bad ? "Z" : "A");
	}
	buf_puts(&b, tail ? tail : "");
	return buf_detach(&b, NULL);
}

/* Errors found by either thread (a bad value: the reading thread; a name taken within the file:
 * the writer) across many blocks of rows, at their edges and past the queue's depth, come out
 * in line order with the right count, and nothing is written; then the same rows, clean, all go
 * in, with progress reported in order up to the last row. */
static void long_file_errors_in_line_order(void **state)
{
	struct fx *f = *state;
	static const int bad[] = { 0, 255, 256, 511, 1024, 2999, -1 };
	struct seen p = { 0 };
	char *csv = many_rows(3000, bad, 1500, 7, NULL);
	json_t *r = import_with(f, &kind_account, csv, 0, IMPORT_DUP_ERROR, &p);
	assert_int_equal(num(r, "rows"), 3000);
	assert_int_equal(num(r, "error_count"), 7);
	static const int lines[] = { 2, 257, 258, 513, 1026, 1502, 3001 };
	json_t *errors = json_object_get(r, "errors");
	assert_int_equal(json_array_size(errors), 7);
	for (int i = 0; i < 7; i++) {
		json_t *err = json_array_get(errors, (size_t)i);
		assert_int_equal(num(err, "line"), lines[i]);
		assert_string_equal(json_string_value(json_object_get(err, "field")),
				    lines[i] == 1502 ? "name" : "importance");
	}
	assert_int_equal(count(f, &kind_account), 0);
	json_decref(r);
	free(csv);
	/* skip: the name taken within the file is counted, everything else goes in */
	csv = many_rows(3000, NULL, 1500, 7, NULL);
	memset(&p, 0, sizeof p);
	r = import_with(f, &kind_account, csv, 0, IMPORT_DUP_SKIP, &p);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(num(r, "created"), 2999);
	assert_int_equal(num(r, "skipped"), 1);
	assert_int_equal(count(f, &kind_account), 2999);
	assert_int_equal(p.last_rows, 3000);
	assert_int_equal(p.last_bytes, strlen(csv));
	assert_true(p.calls >= 3);
	assert_false(p.backwards);
	json_decref(r);
	free(csv);
}

/* An input error far into the file (a record over CSV_RECORD_MAX): reported, nothing written. */
static void long_file_unreadable_late(void **state)
{
	struct fx *f = *state;
	struct seen p = { 0 };
	char *huge = malloc(CSV_RECORD_MAX + 16);
	memset(huge, 'x', CSV_RECORD_MAX + 8);
	memcpy(huge + CSV_RECORD_MAX + 8, ",A\n", 4);
	char *csv = many_rows(2000, NULL, -1, 0, huge);
	json_t *r = import_with(f, &kind_account, csv, 0, IMPORT_DUP_ERROR, &p);
	assert_false(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(num(r, "rows"), 2000);
	assert_int_equal(num(r, "error_count"), 1);
	json_t *err = json_array_get(json_object_get(r, "errors"), 0);
	assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "longer than"));
	assert_int_equal(count(f, &kind_account), 0);
	json_decref(r);
	free(csv);
	free(huge);
}

/* ---- a backup while writers commit ------------------------------------------------------------ */

struct writer {
	struct store *s;
	int stop, n;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	while (!__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST)) {
		char name[64];
		json_t *body, *rec = NULL;
		struct dm_err e;
		snprintf(name, sizeof name, "Busy %d", w->n);
		body = json_pack("{s:s}", "name", name);
		if (rec_create(w->s, &kind_account, &viewer_system, body, &rec, &e) == 0)
			w->n++;
		json_decref(body);
		json_decref(rec);
	}
	return NULL;
}

static void backup_under_concurrent_writes(void **state)
{
	struct fx *f = *state;
	struct writer w = { f->s, 0, 0 };
	pthread_t t[2];
	char out[160];
	struct dm_err e;
	int version = 0;
	dm_err_clear(&e);
	pthread_create(&t[0], NULL, write_loop, &w);
	while (__atomic_load_n(&w.n, __ATOMIC_SEQ_CST) < 20)
		usleep(1000);
	snprintf(out, sizeof out, "%s/backup.db", f->dir);
	assert_int_equal(store_backup(f->s, out, &e), 0);
	__atomic_store_n(&w.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t[0], NULL);
	assert_int_equal(store_file_check(out, &version, &e), 0);
	assert_int_equal(version, store_schema_latest());
	assert_int_not_equal(store_backup(f->s, out, &e), 0);   /* never overwrites */
	struct store *b = NULL;
	int64_t n = 0;
	assert_int_equal(store_open(out, &b, &e), 0);
	assert_int_equal(store_count(b, &kind_account, &n, &e), 0);
	assert_true(n >= 20 && n <= w.n);
	store_close(b);
	/* a file that is not a database is refused */
	snprintf(out, sizeof out, "%s/junk.db", f->dir);
	FILE *j = fopen(out, "w");
	fputs("not a database at all, not even close\n", j);
	fclose(j);
	assert_int_not_equal(store_file_check(out, &version, &e), 0);
}

static int group_setup(void **state)
{
	struct dm_err e;
	log_set_level(LOG_WARN);
	return auth_init(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_utf8_bom_comma),
		cmocka_unit_test(csv_separators),
		cmocka_unit_test(csv_quoted_newlines_keep_line_numbers),
		cmocka_unit_test(csv_gb18030_detected_and_chosen),
		cmocka_unit_test(neutralise),
		cmocka_unit_test_setup_teardown(bad_row_in_the_middle_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(aliases_dry_run_and_real_run, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicates_skip_update_error, setup, teardown),
		cmocka_unit_test_setup_teardown(references_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(long_file_errors_in_line_order, setup, teardown),
		cmocka_unit_test_setup_teardown(long_file_unreadable_late, setup, teardown),
		cmocka_unit_test_setup_teardown(backup_under_concurrent_writes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
