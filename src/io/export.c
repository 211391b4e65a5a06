/* export.c — page through rec_list and write each record as a CSV line or a worksheet row. */
#include "export.h"
#include "../base/xmalloc.h"
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>
#include "../base/banned.h"

#define PAGE "500"

int export_format_parse(const char *s, enum export_format *out)
{
	if (!strcmp(s, "csv"))
		*out = EXPORT_CSV;
	else if (!strcmp(s, "xlsx"))
		*out = EXPORT_XLSX;
	else
		return -1;
	return 0;
}

int export_is_formula(const char *s)
{
	return s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

const char *export_neutralise(const char *s, char *out, size_t outlen)
{
	if (!export_is_formula(s))
		return s;
	snprintf(out, outlen, "'%s", s);
	return out;
}

/* A column of the export: fields clients see (not internal, not write-only). */
static int exported(const struct field *f)
{
	return !(f->flags & (FF_INTERNAL | FF_WRITEONLY));
}

/* The cell text of a value (caller frees); NULL for null/absent. */
static char *cell_text(json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!export_is_formula(s))
			return xstrdup(s);
		return xasprintf("'%s", s);
	}
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	if (json_is_real(v))
		return xasprintf("%.17g", json_real_value(v));
	return json_dumps(v, JSON_COMPACT);
}

/* Each row of the export, page by page, handed to fn. */
typedef int (*row_fn)(void *arg, const struct kind *k, json_t *rec);

static int each_record(struct store *s, const struct kind *k, const struct viewer *v,
		       const struct kv *params, size_t n, row_fn fn, void *arg, struct dm_err *e)
{
	struct kv *p = xcalloc(n + 2, sizeof *p);
	char *next = NULL;
	int rc = 0;
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(params[i].key, "limit") || !strcmp(params[i].key, "cursor")) {
			rc = dm_fail(e, DM_EPARAM, params[i].key, "an export takes every page: no %s",
				     params[i].key);
			goto out;
		}
		p[np++] = params[i];
	}
	p[np].key = "limit";
	p[np++].value = PAGE;
	for (;;) {
		json_t *items = NULL, *rec;
		size_t i;
		char *cursor = next;
		next = NULL;
		p[np].key = "cursor";
		p[np].value = cursor;
		rc = rec_list(s, k, v, p, cursor ? np + 1 : np, &items, &next, e);
		free(cursor);
		if (rc)
			goto out;
		json_array_foreach(items, i, rec) {
			if ((rc = fn(arg, k, rec)))
				break;
		}
		json_decref(items);
		if (rc || !next)
			goto out;
	}
out:
	free(next);
	free(p);
	return rc;
}

/* ---- CSV ------------------------------------------------------------------------------------- */

static void csv_cell(FILE *out, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n;\t") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static int csv_row(void *arg, const struct kind *k, json_t *rec)
{
	FILE *out = arg;
	int first = 1;
	for (size_t i = 0; i < k->nfields; i++) {
		if (!exported(&k->fields[i]))
			continue;
		if (!first)
			fputc(',', out);
		first = 0;
		char *t = cell_text(json_object_get(rec, k->fields[i].name));
		csv_cell(out, t);
		free(t);
	}
	fputs("\r\n", out);
	return ferror(out) ? DM_EINTERNAL : 0;
}

int export_csv(struct store *s, const struct kind *k, const struct viewer *v,
	       const struct kv *params, size_t n, FILE *out, struct dm_err *e)
{
	int first = 1;
	fputs("\xEF\xBB\xBF", out);
	for (size_t i = 0; i < k->nfields; i++) {
		if (!exported(&k->fields[i]))
			continue;
		fputs(first ? "" : ",", out);
		fputs(k->fields[i].name, out);
		first = 0;
	}
	fputs("\r\n", out);
	int rc = each_record(s, k, v, params, n, csv_row, out, e);
	if (rc == DM_EINTERNAL && !e->code)
		dm_fail(e, DM_EINTERNAL, NULL, "cannot write the export");
	return rc;
}

/* ---- XLSX ------------------------------------------------------------------------------------ */

struct sheet {
	lxw_worksheet *ws;
	lxw_row_t row;
};

static int xlsx_row(void *arg, const struct kind *k, json_t *rec)
{
	struct sheet *sh = arg;
	lxw_col_t col = 0;
	sh->row++;
	for (size_t i = 0; i < k->nfields; i++) {
		if (!exported(&k->fields[i]))
			continue;
		json_t *v = json_object_get(rec, k->fields[i].name);
		if (json_is_integer(v) && llabs(json_integer_value(v)) < (1LL << 53)) {
			worksheet_write_number(sh->ws, sh->row, col, (double)json_integer_value(v), NULL);
		} else {
			char *t = cell_text(v);
			if (t)
				worksheet_write_string(sh->ws, sh->row, col, t, NULL);
			free(t);
		}
		col++;
	}
	return 0;
}

int export_xlsx(struct store *s, const struct kind *k, const struct viewer *v,
		const struct kv *params, size_t n, const char *path, struct dm_err *e)
{
	lxw_workbook_options opt = { .constant_memory = LXW_TRUE, .tmpdir = NULL };
	lxw_workbook *wb = workbook_new_opt(path, &opt);
	struct sheet sh = { NULL, 0 };
	lxw_col_t col = 0;
	if (!wb)
		return dm_fail(e, DM_EINTERNAL, NULL, "cannot create the workbook %s", path);
	sh.ws = workbook_add_worksheet(wb, k->plural);
	for (size_t i = 0; i < k->nfields; i++)
		if (exported(&k->fields[i]))
			worksheet_write_string(sh.ws, 0, col++, k->fields[i].name, NULL);
	int rc = each_record(s, k, v, params, n, xlsx_row, &sh, e);
	lxw_error x = workbook_close(wb);
	if (!rc && x != LXW_NO_ERROR)
		rc = dm_fail(e, DM_EINTERNAL, NULL, "cannot write the workbook: %s", lxw_strerror(x));
	return rc;
}
