/* import.c — CSV rows to records: map the header, type each cell by its field, resolve names to
 * ids, and hand each row to the rules (records.h) inside one write transaction. */
#include "import.h"
#include "../base/buf.h"
#include "../base/jsontext.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/banned.h"

/* ---- what may be imported, and the options -------------------------------------------------- */

static const struct kind *const importable[] = { &kind_account, &kind_contact, &kind_opportunity,
						  &kind_activity, &kind_lead, &kind_order,
						  &kind_user, NULL };

int import_kind(const char *plural, const struct viewer *v, const struct kind **out,
		struct dm_err *e)
{
	*out = NULL;
	for (int i = 0; importable[i]; i++) {
		if (strcmp(importable[i]->plural, plural))
			continue;
		if (importable[i] == &kind_user && v->role != ROLE_ADMIN)
			return dm_fail(e, DM_EFORBIDDEN, NULL, "only admins import users");
		if (v->role == ROLE_PARTNER && importable[i] != &kind_lead)
			return dm_fail(e, DM_EFORBIDDEN, NULL, "partners import leads only");
		*out = importable[i];
		return 0;
	}
	return dm_fail(e, DM_ENOTFOUND, NULL, "cannot import \"%.60s\": accounts, contacts, "
		       "opportunities, activities, leads, orders or users", plural);
}

/* A field a CSV column may set: writable on create. */
static int settable(const struct field *f)
{
	return f && !(f->flags & (FF_READONLY | FF_INTERNAL | FF_COMPUTED | FF_DERIVED));
}

/* Each "column=field" pair of a mapping, in turn: 1 and the two (NUL-terminated, in the given
 * buffers), 0 at the end, -1 when malformed. */
static int mapping_next(const char **m, char col[256], char field[64])
{
	const char *p = *m, *comma, *eq;
	if (!*p)
		return 0;
	comma = strchr(p, ',');
	if (!comma)
		comma = p + strlen(p);
	eq = memchr(p, '=', (size_t)(comma - p));
	if (!eq || eq == p || (size_t)(eq - p) >= 256 || (size_t)(comma - eq - 1) >= 64 ||
	    comma == eq + 1)
		return -1;
	memcpy(col, p, (size_t)(eq - p));
	col[eq - p] = '\0';
	memcpy(field, eq + 1, (size_t)(comma - eq - 1));
	field[comma - eq - 1] = '\0';
	*m = *comma ? comma + 1 : comma;
	return 1;
}

int import_mapping_check(const struct kind *k, const char *mapping, struct dm_err *e)
{
	char col[256], field[64];
	const char *m = mapping;
	int rc;
	while ((rc = mapping_next(&m, col, field)) == 1)
		if (!settable(model_field(k, field)))
			return dm_fail(e, DM_EPARAM, "mapping", "%s cannot take a column into \"%.60s\"",
				       k->plural, field);
	if (rc < 0)
		return dm_fail(e, DM_EPARAM, "mapping", "mapping must be column=field,column=field...");
	return 0;
}

int import_params(const struct kv *p, size_t n, const char *const *allow, struct import_opts *o,
		  struct dm_err *e)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = p[i].key, *v = p[i].value;
		if (!strcmp(k, "dry_run")) {
			if (strcmp(v, "1") && strcmp(v, "0") && strcmp(v, "true") && strcmp(v, "false"))
				return dm_fail(e, DM_EPARAM, k, "dry_run must be 1 or 0");
			o->dry_run = !strcmp(v, "1") || !strcmp(v, "true");
		} else if (!strcmp(k, "on_duplicate")) {
			if (!strcmp(v, "error"))
				o->on_duplicate = IMPORT_DUP_ERROR;
			else if (!strcmp(v, "skip"))
				o->on_duplicate = IMPORT_DUP_SKIP;
			else if (!strcmp(v, "update"))
				o->on_duplicate = IMPORT_DUP_UPDATE;
			else
				return dm_fail(e, DM_EPARAM, k, "on_duplicate must be skip, update or error");
		} else if (!strcmp(k, "encoding")) {
			if (csv_encoding_parse(v, &o->encoding))
				return dm_fail(e, DM_EPARAM, k, "encoding must be utf-8 or gb18030");
		} else if (!strcmp(k, "mapping")) {
			if (strlen(v) >= sizeof o->mapping)
				return dm_fail(e, DM_EPARAM, k, "mapping is too long");
			snprintf(o->mapping, sizeof o->mapping, "%s", v);
			if (o->kind && import_mapping_check(o->kind, v, e))
				return e->code;
		} else {
			int ok = 0;
			for (int a = 0; allow && allow[a]; a++)
				ok |= !strcmp(allow[a], k);
			if (!ok)
				return dm_fail(e, DM_EPARAM, k, "unknown parameter %.60s", k);
		}
	}
	return 0;
}

/* ---- the header ---------------------------------------------------------------------------- */

struct alias {
	const struct kind *kind;   /* NULL = any kind with the field */
	const char *name, *field;
};

/* Header names (compared case-insensitively, spaces and dashes as underscores) → fields. */
static const struct alias aliases[] = {
	{ &kind_account, "account_name", "name" }, { &kind_account, "account", "name" },
	{ &kind_account, "company", "name" }, { &kind_account, "company_name", "name" },
	{ &kind_account, "customer", "name" }, { &kind_account, "customer_name", "name" },
	{ &kind_account, "客户名称", "name" }, { &kind_account, "客户", "name" },
	{ &kind_account, "公司名称", "name" }, { &kind_account, "公司", "name" },
	{ &kind_account, "名称", "name" },
	{ &kind_lead, "company_name", "company" }, { &kind_lead, "公司", "company" },
	{ &kind_lead, "公司名称", "company" }, { &kind_lead, "客户名称", "company" },
	{ &kind_lead, "contact", "contact_name" }, { &kind_lead, "联系人", "contact_name" },
	{ &kind_lead, "姓名", "contact_name" }, { &kind_lead, "name", "contact_name" },
	{ &kind_lead, "assignee", "assignee_id" }, { &kind_lead, "owner", "assignee_id" },
	{ &kind_lead, "负责人", "assignee_id" },
	{ &kind_contact, "contact_name", "name" }, { &kind_contact, "联系人", "name" },
	{ &kind_contact, "reports_to", "reports_to_id" },
	{ &kind_opportunity, "opportunity", "name" }, { &kind_opportunity, "opportunity_name", "name" },
	{ &kind_opportunity, "deal", "name" }, { &kind_opportunity, "商机", "name" },
	{ &kind_opportunity, "商机名称", "name" },
	{ &kind_user, "name", "display_name" }, { &kind_user, "姓名", "display_name" },
	{ &kind_user, "用户名", "username" }, { &kind_user, "login", "username" },
	{ &kind_user, "team", "team_id" },
	{ NULL, "account", "account_id" }, { NULL, "account_name", "account_id" },
	{ NULL, "company", "account_id" }, { NULL, "customer", "account_id" },
	{ NULL, "客户", "account_id" }, { NULL, "客户名称", "account_id" },
	{ NULL, "公司", "account_id" }, { NULL, "公司名称", "account_id" },
	{ NULL, "owner", "owner_id" }, { NULL, "负责人", "owner_id" }, { NULL, "业务员", "owner_id" },
	{ NULL, "所有人", "owner_id" }, { NULL, "opportunity", "opportunity_id" },
	{ NULL, "姓名", "name" }, { NULL, "名称", "name" }, { NULL, "行业", "industry" },
	{ NULL, "规模", "scale" }, { NULL, "性质", "nature" }, { NULL, "企业性质", "nature" },
	{ NULL, "地址", "address" }, { NULL, "网站", "website" }, { NULL, "网址", "website" },
	{ NULL, "web_site", "website" }, { NULL, "电话", "phone" }, { NULL, "手机", "phone" },
	{ NULL, "telephone", "phone" }, { NULL, "tel", "phone" }, { NULL, "mobile", "phone" },
	{ NULL, "phone_number", "phone" }, { NULL, "来源", "source" }, { NULL, "客户来源", "source" },
	{ NULL, "重要程度", "importance" }, { NULL, "重要性", "importance" },
	{ NULL, "生命周期", "lifecycle" }, { NULL, "first_deal", "first_deal_on" },
	{ NULL, "首次成交", "first_deal_on" }, { NULL, "备注", "notes" }, { NULL, "note", "notes" },
	{ NULL, "职位", "title" }, { NULL, "job_title", "title" }, { NULL, "部门", "department" },
	{ NULL, "dept", "department" }, { NULL, "职级", "rank" }, { NULL, "邮箱", "email" },
	{ NULL, "e_mail", "email" }, { NULL, "电子邮件", "email" }, { NULL, "微信", "wechat" },
	{ NULL, "派系", "faction" }, { NULL, "金额", "amount" }, { NULL, "币种", "currency" },
	{ NULL, "阶段", "stage" }, { NULL, "close_date", "expected_close_on" },
	{ NULL, "expected_close", "expected_close_on" }, { NULL, "预计成交日期", "expected_close_on" },
	{ NULL, "竞争对手", "competitors" }, { NULL, "输单原因", "lost_reason" },
	{ NULL, "方式", "channel" }, { NULL, "渠道", "channel" }, { NULL, "date", "occurred_at" },
	{ NULL, "time", "occurred_at" }, { NULL, "时间", "occurred_at" }, { NULL, "日期", "occurred_at" },
	{ NULL, "内容", "summary" }, { NULL, "摘要", "summary" }, { NULL, "有效", "effective" },
	{ NULL, "next_touch", "next_touch_on" }, { NULL, "下次跟进", "next_touch_on" },
	{ NULL, "状态", "status" }, { NULL, "产品", "product" }, { NULL, "数量", "quantity" },
	{ NULL, "qty", "quantity" }, { NULL, "order_date", "ordered_on" },
	{ NULL, "下单日期", "ordered_on" }, { NULL, "paid_date", "paid_on" },
	{ NULL, "付款日期", "paid_on" }, { NULL, "角色", "role" }, { NULL, "hire_date", "hired_on" },
	{ NULL, "入职日期", "hired_on" }, { NULL, "display_name", "display_name" },
};

/* The header name folded for comparison: trimmed, ASCII lower-cased, spaces and dashes as '_'. */
static void fold(const char *s, char out[256])
{
	size_t n = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s && n < 255; s++)
		out[n++] = *s == ' ' || *s == '-' ? '_' : (char)tolower((unsigned char)*s);
	while (n && out[n - 1] == '_')
		n--;
	out[n] = '\0';
}

/* The field a header names: the mapping first, then the field's own name, then the aliases.
 * NULL when the column is to be ignored. */
static const struct field *column_field(const struct kind *k, const char *mapping, const char *head)
{
	char want[256], col[256], field[64];
	const char *m = mapping;
	fold(head, want);
	while (mapping_next(&m, col, field) == 1) {
		char c[256];
		fold(col, c);
		if (!strcmp(c, want))
			return model_field(k, field);
	}
	const struct field *f = model_field(k, want);
	if (f)
		return settable(f) ? f : NULL;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if ((!aliases[i].kind || aliases[i].kind == k) && !strcmp(aliases[i].name, want) &&
		    (f = model_field(k, aliases[i].field)) && settable(f))
			return f;
	return NULL;
}

/* ---- one import in flight ------------------------------------------------------------------- */

struct imp {
	const struct import_opts *o;
	struct csv_reader *rd;
	const struct field **cols;
	char **names;
	size_t ncols;
	json_t *report, *errors, *ignored;
	int64_t rows, created, updated, skipped, nerrors;
	int fatal;
	struct dm_err *e;
	struct rec_batch batch;
	struct {
		char name[65];
		int64_t id;
	} users[16];                    /* usernames already resolved (reading thread) */
	int nusers;
	json_t *row_errors;             /* reading thread: the cell errors of the row being read */
};

static json_t *error_of(long line, const char *column, const char *field, const char *msg)
{
	return json_pack("{s:I,s:s?,s:s?,s:s}", "line", (json_int_t)line, "column", column,
			 "field", field, "message", msg);
}

/* An error of the writer's (a row the rules refused). */
static void add_error(struct imp *im, long line, const char *column, const char *field,
		      const char *msg)
{
	im->nerrors++;
	if (json_array_size(im->errors) < IMPORT_MAX_ERRORS)
		json_array_append_new(im->errors, error_of(line, column, field, msg));
}

/* An error of the reading thread's (a cell that cannot be a value): kept with its row, and
 * counted by the writer when it comes to the row (write_row), so errors stay in line order. */
static void cell_error(struct imp *im, long line, const char *column, const char *field,
		       const char *msg)
{
	json_array_append_new(im->row_errors, error_of(line, column, field, msg));
}

/* The header of the column mapped to field (the part before a '.' of "portrait.deep"). */
static const char *column_of(struct imp *im, const char *field)
{
	char base[64];
	size_t n = strcspn(field, ".");
	if (!*field || n >= sizeof base)
		return NULL;
	memcpy(base, field, n);
	base[n] = '\0';
	for (size_t i = 0; i < im->ncols; i++)
		if (im->cols[i] && !strcmp(im->cols[i]->name, base))
			return im->names[i];
	return NULL;
}

static int read_header(struct imp *im)
{
	char **f;
	size_t n;
	long line;
	int rc = csv_reader_next(im->rd, &f, &n, &line, im->e);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return dm_fail(im->e, DM_EINVAL, NULL, "the file is empty: a header row is needed");
	im->ncols = n;
	im->cols = xcalloc(n, sizeof *im->cols);
	im->names = xcalloc(n, sizeof *im->names);
	for (size_t i = 0; i < n; i++) {
		im->names[i] = xstrdup(f[i]);
		im->cols[i] = column_field(im->o->kind, im->o->mapping, f[i]);
		if (!im->cols[i]) {
			json_array_append_new(im->ignored, json_string(f[i]));
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (im->cols[j] == im->cols[i])
				return dm_fail(im->e, DM_EPARAM, im->cols[i]->name,
					       "columns \"%.60s\" and \"%.60s\" both map to %s",
					       im->names[j], f[i], im->cols[i]->name);
	}
	for (size_t i = 0; i < im->o->kind->nfields; i++) {
		const struct field *fd = &im->o->kind->fields[i];
		int have = 0;
		for (size_t j = 0; j < n; j++)
			have |= im->cols[j] == fd;
		if ((fd->flags & FF_REQUIRED) && !have)
			return dm_fail(im->e, DM_EPARAM, fd->name, "no column for the required field %s "
				       "(name a column %s, or map one with mapping=column=%s)", fd->name,
				       fd->name, fd->name);
	}
	return 0;
}

/* ---- cells to values ------------------------------------------------------------------------ */

struct label {
	const char *field, *label, *value;
};

/* Chinese labels of enum values, as people type them in spreadsheets. */
static const struct label labels[] = {
	{ "stage", "兴趣", "interest" }, { "stage", "酝酿", "brewing" }, { "stage", "设计", "design" },
	{ "stage", "比较", "compare" }, { "stage", "承诺", "commit" }, { "stage", "使用", "use" },
	{ "stage", "赢单", "won" }, { "stage", "输单", "lost" },
	{ "channel", "电话", "phone" }, { "channel", "微信", "wechat" }, { "channel", "短信", "sms" },
	{ "channel", "上门拜访", "visit" }, { "channel", "拜访", "visit" },
	{ "channel", "邀请来访", "invite" }, { "channel", "邮件", "email" },
	{ "channel", "会议", "meeting" }, { "channel", "报价", "quote" }, { "channel", "演示", "demo" },
	{ "channel", "其他", "other" },
	{ "lifecycle", "获取", "acquire" }, { "lifecycle", "提升", "grow" },
	{ "lifecycle", "成熟", "mature" }, { "lifecycle", "衰退", "decline" },
	{ "lifecycle", "脱离", "lost" },
};

static json_t *enum_value(const struct field *f, const char *s)
{
	for (int i = 0; f->values[i]; i++)
		if (!strcasecmp(f->values[i], s))
			return json_string(f->values[i]);
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		if (!strcmp(labels[i].field, f->name) && !strcmp(labels[i].label, s))
			return json_string(labels[i].value);
	return json_string(s);   /* model_check names the allowed values */
}

static json_t *int_value(const char *s)
{
	char digits[64];
	size_t n = 0;
	for (; *s && n < sizeof digits - 1; s++)
		if (*s != ',' && *s != ' ')
			digits[n++] = *s;
	digits[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(digits, &end, 10);
	if (!n || *end || errno)
		return json_string(s);   /* the wrong type: model_check says what it must be */
	return json_integer(v);
}

static json_t *bool_value(const char *s)
{
	static const char *const yes[] = { "true", "yes", "y", "1", "t", "是", "有效", NULL };
	static const char *const no[] = { "false", "no", "n", "0", "f", "否", "无效", NULL };
	for (int i = 0; yes[i]; i++)
		if (!strcasecmp(yes[i], s))
			return json_true();
	for (int i = 0; no[i]; i++)
		if (!strcasecmp(no[i], s))
			return json_false();
	return json_string(s);
}

/* YYYY-MM-DD, also written YYYY/M/D or YYYY.M.D. */
static json_t *date_value(const char *s)
{
	int y, m, d;
	char sep1, sep2, rest;
	if (sscanf(s, "%4d%c%2d%c%2d%c", &y, &sep1, &m, &sep2, &d, &rest) == 5 && sep1 == sep2 &&
	    (sep1 == '-' || sep1 == '/' || sep1 == '.')) {
		char out[32];
		snprintf(out, sizeof out, "%04d-%02d-%02d", y, m, d);
		return json_string(out);
	}
	return json_string(s);
}

/* RFC 3339, a date, or "YYYY-MM-DD HH:MM[:SS]" read as Beijing time (+08:00). */
static json_t *time_value(const char *s)
{
	int y, mo, d, h, mi, sec = 0;
	int64_t ms;
	if (!time_parse(s, &ms))
		return json_string(s);
	if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) >= 5 ||
	    sscanf(s, "%4d/%2d/%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) >= 5) {
		char out[48];
		snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, mo, d, h, mi, sec);
		return json_string(out);
	}
	return date_value(s);
}

/* JSON text; for lists of strings also "a; b". */
static json_t *json_value(const struct field *f, const char *s)
{
	json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (v)
		return v;
	if (f->schema && strstr(f->schema, "\"items\":{\"type\":\"string\"")) {
		json_t *list = json_array();
		char *copy = xstrdup(s), *save = NULL;
		for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
			while (*t == ' ')
				t++;
			size_t n = strlen(t);
			while (n && t[n - 1] == ' ')
				t[--n] = '\0';
			if (n)
				json_array_append_new(list, json_string(t));
		}
		free(copy);
		return list;
	}
	return json_string(s);
}

/* A reference: an id, or a name (accounts by name, users by username) the importer may see. */
static int ref_value(struct store *s, struct imp *im, const struct field *f, const char *cell,
		     json_t **out, char msg[300])
{
	int64_t id = 0;
	struct dm_err e;
	dm_err_clear(&e);
	if (cell[0] >= '0' && cell[0] <= '9') {
		json_t *v = int_value(cell);
		if (json_is_integer(v)) {
			*out = v;
			return 0;
		}
		json_decref(v);
	}
	if (!strcmp(f->ref, "account")) {
		json_t *rec = NULL;
		if (store_find_name(s, &kind_account, cell, &id, &e))
			return e.code;
		if (id && store_get(s, &kind_account, &im->o->viewer, id, 0, &rec, &e) == 0)
			json_decref(rec);
		else
			id = 0;
	} else if (!strcmp(f->ref, "user")) {
		struct store_cred c;
		for (int i = 0; i < im->nusers && !id; i++)
			if (!strcasecmp(im->users[i].name, cell))
				id = im->users[i].id;
		if (!id && store_cred_get(s, cell, &c, &e) == 0 && !c.archived) {
			id = c.user_id;
			if (im->nusers < 16 && strlen(cell) < sizeof im->users[0].name) {
				snprintf(im->users[im->nusers].name, sizeof im->users[0].name, "%s", cell);
				im->users[im->nusers++].id = id;
			}
		}
	} else {
		snprintf(msg, 300, "%s must be the id of a %s", f->name, f->ref);
		return 1;
	}
	if (!id) {
		snprintf(msg, 300, "no %s named \"%.100s\"", f->ref, cell);
		return 1;
	}
	*out = json_integer(id);
	return 0;
}

/* A text cell as exported: a leading ' that neutralised a formula is taken off again. */
static json_t *text_value(const char *s)
{
	if (s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]))
		s++;
	return json_string(s);
}

/* The value of one cell for field f; 1 with msg set when it cannot be one. */
static int cell_value(struct store *s, struct imp *im, const struct field *f, const char *cell,
		      json_t **out, char msg[300])
{
	switch (f->type) {
	case FT_TEXT: *out = text_value(cell); return 0;
	case FT_INT: *out = int_value(cell); return 0;
	case FT_BOOL: *out = bool_value(cell); return 0;
	case FT_DATE: *out = date_value(cell); return 0;
	case FT_TIME: *out = time_value(cell); return 0;
	case FT_ENUM: *out = enum_value(f, cell); return 0;
	case FT_JSON: *out = json_value(f, cell); return 0;
	case FT_REF: return ref_value(s, im, f, cell, out, msg);
	}
	snprintf(msg, 300, "unhandled field type");
	return 1;
}

/* Whitespace only? (a cell of spaces is empty) */
static int empty_cell(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* The row as a body for the rules; NULL after reporting its bad cells. */
static json_t *row_body(struct store *s, struct imp *im, char **f, size_t n, long line)
{
	json_t *body = json_object();
	int bad = 0;
	for (size_t i = 0; i < im->ncols && i < n; i++) {
		const struct field *fd = im->cols[i];
		char msg[300];
		json_t *v = NULL;
		if (!fd || empty_cell(f[i]))
			continue;
		if (!text_utf8_valid(f[i], strlen(f[i]))) {
			cell_error(im, line, im->names[i], fd->name, "the cell is not valid text in the "
				  "file's encoding (choose encoding=utf-8 or gb18030)");
			bad = 1;
			continue;
		}
		int rc = cell_value(s, im, fd, f[i], &v, msg);
		if (rc < 0) {
			json_decref(body);
			im->fatal = rc;
			return NULL;
		}
		if (rc) {
			cell_error(im, line, im->names[i], fd->name, msg);
			bad = 1;
			continue;
		}
		json_object_set_new(body, fd->name, v);
	}
	if (bad) {
		json_decref(body);
		return NULL;
	}
	return body;
}

static int fatal_code(int rc)
{
	return rc == DM_EUNAVAILABLE || rc == DM_EINTERNAL;
}

/* An account whose name is taken: skip it, update it, or refuse the row. */
static int duplicate_row(struct store *s, struct imp *im, json_t *body, int64_t id, long line)
{
	struct dm_err e;
	json_t *rec = NULL;
	dm_err_clear(&e);
	int visible = store_get(s, &kind_account, &im->o->viewer, id, 0, &rec, &e) == 0;
	json_decref(rec);
	if (im->o->on_duplicate == IMPORT_DUP_SKIP) {
		im->skipped++;
		return 0;
	}
	if (im->o->on_duplicate == IMPORT_DUP_ERROR || !visible) {
		add_error(im, line, column_of(im, "name"), "name", visible ?
			  "an account with this name exists (on_duplicate=skip or update)" :
			  "an account with this name exists and belongs to someone else");
		return 0;
	}
	int rc = rec_update(s, &kind_account, &im->o->viewer, id, body, -1, &rec, &e);
	json_decref(rec);
	if (!rc)
		im->updated++;
	else if (fatal_code(rc))
		return rc;
	else
		add_error(im, line, column_of(im, e.field), e.field[0] ? e.field : NULL, e.message);
	return 0;
}

/* ---- two threads: reading and checking rows, writing them ------------------------------------
 * The writer thread runs the import's store_write callback; everything about a row that reads
 * nothing in the transaction — reading and decoding the CSV, typing its cells, resolving names
 * (committed records: an import never names what it creates), the field-table checks of
 * rec_create_check — runs on a reading thread started by the callback, a block of rows ahead.
 * At most PIPE_BLOCKS blocks are in flight, so memory stays flat however long the file. Rows,
 * their errors and the report come out exactly as if one thread had done everything in turn. */

#define PIPE_ROWS 256
#define PIPE_BLOCKS 4

struct row {
	long line;
	json_t *body;         /* the row's values; NULL when a cell was refused */
	json_t *changes;      /* body checked by rec_create_check; NULL when refused */
	json_t *errors;       /* the cells refused ([{line, column, field, message}]), or NULL */
	int rc;               /* rec_create_check's answer */
	struct dm_err e;
	char *audit;          /* changes' JSON text for the audit row (jsontext), or NULL */
	size_t audit_len;
	json_t **vals;        /* changes' values when audit was made, in order */
	size_t nvals;
};

struct block {
	struct row rows[PIPE_ROWS];
	size_t n;
	uint64_t bytes;       /* input consumed when the block was full */
	int end;              /* the last block: rc says why (0: the end of the input) */
	int rc;
	struct dm_err e;
	struct block *next;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct block *head, *tail;   /* blocks ready for the writer, oldest first */
	struct block *spent;         /* blocks the writer is done with, for the reader to free */
	int nblocks, stop;
	pthread_t thread;
	struct store *s;
	struct imp *im;
};

static void row_release(struct row *r)
{
	json_decref(r->body);
	json_decref(r->changes);
	json_decref(r->errors);
	free(r->audit);
	free(r->vals);
}

/* The audit row's text made here, off the writer: the writer uses it if the rules leave changes
 * as it is (rec_batch says how it checks). */
static void audit_text(struct row *r)
{
	struct buf b = BUF_INIT(0);
	const char *key;
	json_t *v;
	if (jsontext_append(&b, r->changes)) {
		buf_release(&b);
		return;
	}
	r->audit = buf_detach(&b, &r->audit_len);
	r->vals = xcalloc(json_object_size(r->changes) + 1, sizeof *r->vals);
	json_object_foreach(r->changes, key, v)
		r->vals[r->nvals++] = v;
}

static void block_free(struct block *b)
{
	for (size_t i = 0; b && i < b->n; i++)
		row_release(&b->rows[i]);
	free(b);
}

/* One record to a row: its values (cell errors kept with it), then the field-table checks. */
static int read_row(struct pipe *p, struct row *r, char **f, size_t n, long line)
{
	struct imp *im = p->im;
	memset(r, 0, sizeof *r);
	r->line = line;
	im->row_errors = json_array();
	r->body = row_body(p->s, im, f, n, line);
	if (json_array_size(im->row_errors))
		r->errors = im->row_errors;
	else
		json_decref(im->row_errors);
	im->row_errors = NULL;
	if (!r->body)
		return im->fatal;
	dm_err_clear(&r->e);
	r->rc = rec_create_check(im->o->kind, &im->o->viewer, r->body, &r->changes, &r->e);
	if (!r->rc)
		audit_text(r);
	return 0;
}

/* Hand a block to the writer; wait while PIPE_BLOCKS are waiting. 0, or -1 when told to stop. */
static int pipe_put(struct pipe *p, struct block *b)
{
	pthread_mutex_lock(&p->mu);
	while (p->nblocks >= PIPE_BLOCKS && !p->stop)
		pthread_cond_wait(&p->cond, &p->mu);
	int stop = p->stop;
	if (!stop) {
		if (p->tail)
			p->tail->next = b;
		else
			p->head = b;
		p->tail = b;
		p->nblocks++;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
	if (stop)
		block_free(b);
	return stop ? -1 : 0;
}

/* Free a list of blocks (linked by next). */
static void blocks_free(struct block *b)
{
	while (b) {
		struct block *next = b->next;
		block_free(b);
		b = next;
	}
}

/* The writer is done with block b: the reading thread frees it (its rows were allocated there,
 * and freeing them was 3 % of the writer's time). */
static void pipe_done(struct pipe *p, struct block *b)
{
	pthread_mutex_lock(&p->mu);
	b->next = p->spent;
	p->spent = b;
	pthread_mutex_unlock(&p->mu);
}

static void *reader_main(void *arg)
{
	struct pipe *p = arg;
	struct imp *im = p->im;
	prctl(PR_SET_NAME, "dm-import-read");   /* not the writer's name it was started from */
	for (;;) {
		pthread_mutex_lock(&p->mu);
		struct block *spent = p->spent;
		p->spent = NULL;
		pthread_mutex_unlock(&p->mu);
		blocks_free(spent);
		struct block *b = xcalloc(1, sizeof *b);
		char **f;
		size_t n;
		long line;
		int rc = 1;
		dm_err_clear(&b->e);
		while (b->n < PIPE_ROWS) {
			if ((rc = csv_reader_next(im->rd, &f, &n, &line, &b->e)) != 1)
				break;   /* 0 at the end, or the input's error in b->e */
			if ((rc = read_row(p, &b->rows[b->n++], f, n, line)))
				break;   /* the store failed: as the import's own failure */
			rc = 1;
		}
		b->bytes = csv_reader_bytes(im->rd);
		if (rc != 1) {
			b->end = 1;
			b->rc = rc;
		}
		int end = b->end;
		if (pipe_put(p, b) || end)
			return NULL;
	}
}

/* The next block from the reading thread; it stops only after handing over an end block, so
 * the writer, which stops asking after that one, never waits in vain. */
static struct block *pipe_get(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	while (!p->head)
		pthread_cond_wait(&p->cond, &p->mu);
	struct block *b = p->head;
	p->head = b->next;
	if (!p->head)
		p->tail = NULL;
	p->nblocks--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void pipe_start(struct pipe *p, struct store *s, struct imp *im)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->s = s;
	p->im = im;
	if (pthread_create(&p->thread, NULL, reader_main, p))
		abort();   /* no thread to be had: as out of memory */
}

/* Stop the reading thread (wherever it is) and free what it left. */
static void pipe_stop(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	blocks_free(p->head);
	blocks_free(p->spent);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
}

/* ---- the writer's half ------------------------------------------------------------------------ */

static int write_row(struct store *s, struct imp *im, struct row *r)
{
	struct dm_err e = r->e;
	int64_t id = 0;
	int rc = r->rc;
	size_t i;
	json_t *err;
	json_array_foreach(r->errors, i, err) {
		im->nerrors++;
		if (json_array_size(im->errors) < IMPORT_MAX_ERRORS)
			json_array_append(im->errors, err);
	}
	if (!r->body)
		return 0;
	/* The unique name index finds a duplicate account: no lookup before each insert. */
	if (!rc) {
		im->batch.audit = r->audit;
		im->batch.audit_len = r->audit_len;
		im->batch.audit_vals = r->vals;
		im->batch.audit_nvals = r->nvals;
		rc = rec_create_checked_tx(s, im->o->kind, &im->o->viewer, r->changes, &im->batch,
					   &id, &e);
		im->batch.audit = NULL;
	}
	if (rc == DM_EDUPLICATE && im->o->kind == &kind_account && e.existing_id) {
		rc = duplicate_row(s, im, r->body, e.existing_id, r->line);
	} else if (!rc) {
		im->created++;
	} else if (!fatal_code(rc)) {
		add_error(im, r->line, column_of(im, e.field), e.field[0] ? e.field : NULL, e.message);
		rc = 0;
	}
	if (fatal_code(rc))
		*im->e = e;
	return rc;
}

static void progress(struct imp *im, uint64_t bytes)
{
	if (im->o->progress)
		im->o->progress(im->o->progress_arg, im->rows, bytes);
}

/* Write the rows the reading thread hands over until its end block: 0 at the end of the input,
 * or the reason it stopped (with im->e set). */
static int write_rows(struct store *s, struct imp *im, struct pipe *p)
{
	for (;;) {
		struct block *b = pipe_get(p);
		int rc = 0;
		for (size_t i = 0; i < b->n && !rc; i++) {
			im->rows++;
			rc = write_row(s, im, &b->rows[i]);
			if (im->rows % IMPORT_PROGRESS_EVERY == 0)
				progress(im, b->bytes);
		}
		if (!rc && b->end && b->rc)
			*im->e = b->e;
		int done = rc || b->end;
		if (!rc && b->end) {
			rc = b->rc;
			progress(im, b->bytes);
		}
		pipe_done(p, b);
		if (done)
			return rc;
	}
}

/* The write callback: every row in one transaction, rolled back unless all went in. */
static int import_tx(struct store *s, void *arg)
{
	struct imp *im = arg;
	struct pipe p;
	int rc;
	if ((rc = read_header(im)) || (rc = store_bulk_begin(s, im->o->kind, im->e))) {
		im->fatal = rc;
		return rc;
	}
	pipe_start(&p, s, im);
	rc = write_rows(s, im, &p);
	pipe_stop(&p);
	if (!rc && !im->nerrors && !im->o->dry_run && (rc = store_bulk_end(s, im->o->kind, im->e))) {
		im->fatal = rc;
		return rc;
	}
	if (rc == DM_EINVAL) {
		/* the input itself is unreadable from here on (encoding, an endless record) */
		add_error(im, 0, NULL, NULL, im->e->message);
	} else if (rc) {
		im->fatal = rc;
		return rc;
	}
	return im->nerrors || im->o->dry_run ? DM_ECONFLICT : 0;   /* roll back */
}

static json_t *report(struct imp *im)
{
	static const char *const encs[] = { "auto", "utf-8", "gb18030" };
	char sep[2] = { csv_reader_separator(im->rd), '\0' };
	json_t *r = json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:O,s:I,s:O,s:s,s:s}",
			      "ok", im->nerrors == 0, "dry_run", im->o->dry_run,
			      "rows", (json_int_t)im->rows, "created", (json_int_t)im->created,
			      "updated", (json_int_t)im->updated, "skipped", (json_int_t)im->skipped,
			      "errors", im->errors, "error_count", (json_int_t)im->nerrors,
			      "ignored_columns", im->ignored,
			      "encoding", encs[csv_reader_encoding(im->rd)], "separator", sep);
	if (im->nerrors || im->o->dry_run) {
		/* nothing was written: say what would have been */
		json_object_set_new(r, "written", json_false());
	} else {
		json_object_set_new(r, "written", json_true());
	}
	return r;
}

int import_run(struct store *s, const struct import_opts *o, csv_read_fn read, void *arg,
	       json_t **out, struct dm_err *e)
{
	struct imp im;
	memset(&im, 0, sizeof im);
	im.o = o;
	im.e = e;
	im.errors = json_array();
	im.ignored = json_array();
	im.rd = csv_reader_new(read, arg, o->encoding);
	*out = NULL;
	int rc = store_write(s, import_tx, &im, e);
	if (im.fatal || (rc && rc != DM_ECONFLICT)) {
		rc = im.fatal ? im.fatal : rc;
		if (!e->code)
			dm_fail(e, rc, NULL, "the import failed; nothing was written");
	} else {
		*out = report(&im);
		rc = 0;
	}
	for (size_t i = 0; i < im.ncols; i++)
		free(im.names[i]);
	free(im.names);
	free(im.cols);
	json_decref(im.errors);
	json_decref(im.ignored);
	csv_reader_free(im.rd);
	return rc;
}
