/* test_store.c — unit tests of src/store through store.h, on a SQLite file in a fresh temporary
 * directory per test: migrations, inserts and updates inside store_write, visibility, lists,
 * duplicate names, archiving, the audit trail and concurrent writers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "model/model.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/sqlbuild.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_walbuf.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
};

/* The store closed and its file opened by SQLite alone, for what the store's API cannot do. */
static sqlite3 *file_db(struct fx *f)
{
	sqlite3 *db = NULL;
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	return db;
}

static void remove_db_files(const struct fx *f)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct dm_err e;
	dm_err_clear(&e);
	log_set_level(LOG_WARN);
	snprintf(f->dir, sizeof f->dir, "/tmp/dealmap-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
	if (store_open(f->path, &f->s, &e) || store_migrate(f->s, &e)) {
		fprintf(stderr, "setup: %s\n", e.message);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	remove_db_files(f);
	free(f);
	return 0;
}

/* ---- writing through store_write ------------------------------------------------------------- */

struct ins {
	const struct kind *k;
	json_t *rec;
	int64_t actor;
	int64_t id;
	struct dm_err e;
	int fail_after;        /* return an error after a successful insert (rollback test) */
};

static int ins_cb(struct store *s, void *arg)
{
	struct ins *a = arg;
	int rc = store_insert(s, a->k, a->rec, a->actor, &a->id, &a->e);
	if (!rc && a->fail_after)
		return dm_fail(&a->e, DM_ECONFLICT, NULL, "changed my mind");
	return rc;
}

static json_t *checked(const struct kind *k, enum check_mode mode, const char *text)
{
	json_error_t je;
	struct dm_err e;
	json_t *body = json_loads(text, 0, &je), *out = NULL;
	if (!body)
		fail_msg("bad JSON in test: %s: %s", text, je.text);
	dm_err_clear(&e);
	if (model_check(k, body, mode, &out, &e))
		fail_msg("model_check refused %s: %s", text, e.message);
	json_decref(body);
	return out;
}

/* Insert a record given as JSON text (printf format) as actor; returns rc, id in *id. */
static int try_insert(struct store *s, const struct kind *k, int64_t actor, int64_t *id,
		      struct dm_err *e, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int try_insert(struct store *s, const struct kind *k, int64_t actor, int64_t *id,
		      struct dm_err *e, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	struct ins a = { k, checked(k, CHECK_CREATE, text), actor, 0, { 0 }, 0 };
	int rc = store_write(s, ins_cb, &a, NULL);
	json_decref(a.rec);
	if (e)
		*e = a.e;
	if (id)
		*id = rc ? 0 : a.id;
	return rc;
}

#define MK(s, k, ...) mk((s), (k), __VA_ARGS__)
static int64_t mk(struct store *s, const struct kind *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int64_t mk(struct store *s, const struct kind *k, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	struct dm_err e;
	int64_t id = 0;
	int rc = try_insert(s, k, 0, &id, &e, "%s", text);
	if (rc)
		fail_msg("insert %s %s: %s (%s: %s)", k->name, text, dm_code_name(rc), e.field, e.message);
	assert_true(id > 0);
	return id;
}

struct upd {
	const struct kind *k;
	int64_t id;
	json_t *changes;
	int64_t actor;
	int changed;
	int archive;          /* -1: update; 0/1: set_archived */
	struct dm_err e;
};

static int upd_cb(struct store *s, void *arg)
{
	struct upd *u = arg;
	if (u->archive >= 0)
		return store_set_archived(s, u->k, u->id, u->archive, u->actor, &u->e);
	return store_update(s, u->k, u->id, u->changes, u->actor, &u->changed, &u->e);
}

static int update(struct store *s, const struct kind *k, int64_t id, int64_t actor, int *changed,
		  struct dm_err *e, const char *text)
{
	struct upd u = { k, id, checked(k, CHECK_PATCH, text), actor, 0, -1, { 0 } };
	int rc = store_write(s, upd_cb, &u, NULL);
	json_decref(u.changes);
	if (changed)
		*changed = u.changed;
	if (e)
		*e = u.e;
	return rc;
}

static int set_archived(struct store *s, const struct kind *k, int64_t id, int archived,
			int64_t actor, struct dm_err *e)
{
	struct upd u = { k, id, NULL, actor, 0, archived, { 0 } };
	int rc = store_write(s, upd_cb, &u, NULL);
	if (e)
		*e = u.e;
	return rc;
}

static json_t *get(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		   int include_archived)
{
	json_t *rec = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	int rc = store_get(s, k, v, id, include_archived, &rec, &e);
	if (rc)
		fail_msg("store_get %s %lld: %s", k->name, (long long)id, e.message);
	return rec;
}

static int get_rc(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived)
{
	json_t *rec = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	int rc = store_get(s, k, v, id, include_archived, &rec, &e);
	if (rc)
		assert_null(rec);
	json_decref(rec);
	return rc;
}

static const char *str(json_t *rec, const char *field)
{
	return json_string_value(json_object_get(rec, field));
}

static int64_t num(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

/* List with a query; returns the items (caller decrefs). */
static json_t *list(struct store *s, struct store_query *q)
{
	json_t *items = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	if (!q->limit)
		q->limit = 1000;
	int rc = store_list(s, q, &items, &e);
	if (rc)
		fail_msg("store_list %s: %s", q->kind->plural, e.message);
	assert_true(json_is_array(items));
	return items;
}

/* The ids of a list, sorted ascending, as a comma-separated string for easy comparison. */
static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void ids_of(json_t *items, char *out, size_t n)
{
	size_t cnt = json_array_size(items), len = 0;
	int64_t *ids = calloc(cnt + 1, sizeof *ids);
	for (size_t i = 0; i < cnt; i++)
		ids[i] = num(json_array_get(items, i), "id");
	qsort(ids, cnt, sizeof *ids, cmp64);
	out[0] = '\0';
	for (size_t i = 0; i < cnt && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%lld", i ? "," : "", (long long)ids[i]);
	free(ids);
}

static void idstr(char *out, size_t n, const int64_t *ids, size_t cnt)
{
	int64_t *sorted = calloc(cnt + 1, sizeof *sorted);
	size_t len = 0;
	memcpy(sorted, ids, cnt * sizeof *ids);
	qsort(sorted, cnt, sizeof *sorted, cmp64);
	out[0] = '\0';
	for (size_t i = 0; i < cnt && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%lld", i ? "," : "", (long long)sorted[i]);
	free(sorted);
}

/* ---- a small company --------------------------------------------------------------------------
 * teams: north (manager m1) ⊃ north-east; south (manager m2); west (manager m3, who has no team)
 * users: admin; m1, r1 in north; r2 in north-east; m2, r3 in south; m3 (no team); r4 in west;
 *        a partner. */
struct world {
	int64_t t_north, t_ne, t_south, t_west;
	int64_t admin, m1, r1, r2, m2, r3, m3, r4, partner;
	int64_t a_r1, a_r1b, a_r2, a_m1, a_r3, a_m2, a_r4, a_pool;
	int64_t c_r1, c_r3;
	int64_t o_r1_on_r3;
	struct viewer v_admin, v_m1, v_r1, v_r2, v_m2, v_r3, v_m3, v_r4, v_partner;
};

static void build_world(struct store *s, struct world *w)
{
	w->t_north = MK(s, &kind_team, "{\"name\": \"华北\"}");
	w->t_ne = MK(s, &kind_team, "{\"name\": \"东北\", \"parent_id\": %lld}", (long long)w->t_north);
	w->t_south = MK(s, &kind_team, "{\"name\": \"华南\"}");
	w->t_west = MK(s, &kind_team, "{\"name\": \"西部\"}");
	w->admin = MK(s, &kind_user, "{\"username\": \"admin\", \"role\": \"admin\"}");
	w->m1 = MK(s, &kind_user, "{\"username\": \"m1\", \"role\": \"manager\", \"team_id\": %lld}",
		   (long long)w->t_north);
	w->r1 = MK(s, &kind_user, "{\"username\": \"r1\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)w->t_north);
	w->r2 = MK(s, &kind_user, "{\"username\": \"r2\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)w->t_ne);
	w->m2 = MK(s, &kind_user, "{\"username\": \"m2\", \"role\": \"manager\", \"team_id\": %lld}",
		   (long long)w->t_south);
	w->r3 = MK(s, &kind_user, "{\"username\": \"r3\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)w->t_south);
	w->m3 = MK(s, &kind_user, "{\"username\": \"m3\", \"role\": \"manager\"}");
	w->r4 = MK(s, &kind_user, "{\"username\": \"r4\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)w->t_west);
	w->partner = MK(s, &kind_user, "{\"username\": \"p1\", \"role\": \"partner\"}");
	char body[64];
	snprintf(body, sizeof body, "{\"manager_id\": %lld}", (long long)w->m1);
	assert_int_equal(update(s, &kind_team, w->t_north, w->admin, NULL, NULL, body), 0);
	snprintf(body, sizeof body, "{\"manager_id\": %lld}", (long long)w->m2);
	assert_int_equal(update(s, &kind_team, w->t_south, w->admin, NULL, NULL, body), 0);
	snprintf(body, sizeof body, "{\"manager_id\": %lld}", (long long)w->m3);
	assert_int_equal(update(s, &kind_team, w->t_west, w->admin, NULL, NULL, body), 0);

	w->a_r1 = MK(s, &kind_account, "{\"name\": \"北京科技有限公司\", \"owner_id\": %lld,"
		     " \"industry\": \"印刷\", \"importance\": \"A\"}", (long long)w->r1);
	w->a_r1b = MK(s, &kind_account, "{\"name\": \"ACME Ltd\", \"owner_id\": %lld,"
		      " \"industry\": \"包装\"}", (long long)w->r1);
	w->a_r2 = MK(s, &kind_account, "{\"name\": \"沈阳机床厂\", \"owner_id\": %lld,"
		     " \"industry\": \"印刷\"}", (long long)w->r2);
	w->a_m1 = MK(s, &kind_account, "{\"name\": \"Northwind Traders\", \"owner_id\": %lld,"
		     " \"importance\": \"A\"}", (long long)w->m1);
	w->a_r3 = MK(s, &kind_account, "{\"name\": \"广州包装\", \"owner_id\": %lld,"
		     " \"industry\": \"包装\"}", (long long)w->r3);
	w->a_m2 = MK(s, &kind_account, "{\"name\": \"Shenzhen Tech\", \"owner_id\": %lld}",
		     (long long)w->m2);
	w->a_r4 = MK(s, &kind_account, "{\"name\": \"成都印务\", \"owner_id\": %lld}",
		     (long long)w->r4);
	w->a_pool = MK(s, &kind_account, "{\"name\": \"公海客户\"}");
	w->c_r1 = MK(s, &kind_contact, "{\"account_id\": %lld, \"name\": \"王总\"}", (long long)w->a_r1);
	w->c_r3 = MK(s, &kind_contact, "{\"account_id\": %lld, \"name\": \"陈经理\"}",
		     (long long)w->a_r3);
	w->o_r1_on_r3 = MK(s, &kind_opportunity, "{\"account_id\": %lld, \"name\": \"二期\","
			   " \"owner_id\": %lld}", (long long)w->a_r3, (long long)w->r1);

	w->v_admin = (struct viewer){ w->admin, ROLE_ADMIN, 0 };
	w->v_m1 = (struct viewer){ w->m1, ROLE_MANAGER, w->t_north };
	w->v_r1 = (struct viewer){ w->r1, ROLE_REP, w->t_north };
	w->v_r2 = (struct viewer){ w->r2, ROLE_REP, w->t_ne };
	w->v_m2 = (struct viewer){ w->m2, ROLE_MANAGER, w->t_south };
	w->v_r3 = (struct viewer){ w->r3, ROLE_REP, w->t_south };
	w->v_m3 = (struct viewer){ w->m3, ROLE_MANAGER, 0 };
	w->v_r4 = (struct viewer){ w->r4, ROLE_REP, w->t_west };
	w->v_partner = (struct viewer){ w->partner, ROLE_PARTNER, 0 };
}

/* The accounts v lists must be exactly want[], and store_get must agree account by account. */
static void expect_accounts(struct store *s, const struct world *w, const struct viewer *v,
			    const int64_t *want, size_t nwant)
{
	const int64_t all[] = { w->a_r1, w->a_r1b, w->a_r2, w->a_m1, w->a_r3, w->a_m2, w->a_r4,
				w->a_pool };
	struct store_query q = { .kind = &kind_account, .viewer = v };
	json_t *items = list(s, &q);
	char got[256], exp[256];
	ids_of(items, got, sizeof got);
	idstr(exp, sizeof exp, want, nwant);
	if (strcmp(got, exp))
		fail_msg("viewer %lld (role %d) lists accounts [%s], expected [%s]",
			 (long long)v->user_id, v->role, got, exp);
	json_decref(items);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		int visible = 0;
		for (size_t j = 0; j < nwant; j++)
			visible |= all[i] == want[j];
		int rc = get_rc(s, &kind_account, v, all[i], 0);
		if (rc != (visible ? 0 : DM_ENOTFOUND))
			fail_msg("viewer %lld: store_get account %lld answered %s", (long long)v->user_id,
				 (long long)all[i], dm_code_name(rc));
	}
}

#define EXPECT_ACCOUNTS(s, w, v, ...)                                                          \
	do {                                                                                   \
		const int64_t want_[] = { __VA_ARGS__ };                                       \
		expect_accounts((s), (w), (v), want_, sizeof want_ / sizeof want_[0]);        \
	} while (0)

/* ---- tests ------------------------------------------------------------------------------------- */

static void migrate_sets_version(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int version = -1;
	dm_err_clear(&e);
	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(f->s, &version, &e), 0);
	assert_int_equal(version, store_schema_latest());
	assert_int_equal(store_migrate(f->s, &e), 0);   /* again: nothing to do */
	assert_int_equal(store_schema_version(f->s, &version, &e), 0);
	assert_int_equal(version, store_schema_latest());
	int64_t n = -1;
	assert_int_equal(store_count(f->s, &kind_user, &n, &e), 0);
	assert_int_equal(n, 0);
}

static void schema_newer_than_binary(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	char sql[64];
	sqlite3 *db = file_db(f);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	dm_err_clear(&e);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	int version = 0;
	assert_int_equal(store_schema_version(f->s, &version, &e), 0);
	assert_int_equal(version, store_schema_latest() + 1);
	assert_int_equal(store_migrate(f->s, &e), DM_ESCHEMA);
	assert_int_equal(e.code, DM_ESCHEMA);
	assert_true(strlen(e.message) > 0);
	/* and nothing was changed by the refusal */
	assert_int_equal(store_schema_version(f->s, &version, &e), 0);
	assert_int_equal(version, store_schema_latest() + 1);
}

static void open_refuses_unreachable_postgres_and_garbage(void **state)
{
	struct fx *f = *state;
	struct store *s = (struct store *)0x1;
	struct dm_err e;
	dm_err_clear(&e);
	/* nothing listens on port 1: said at once, as unavailable, with libpq's reason */
	assert_int_equal(store_open("postgres://127.0.0.1:1/dealmap", &s, &e), DM_EUNAVAILABLE);
	assert_null(s);
	assert_non_null(strstr(e.message, "cannot connect to PostgreSQL"));
	s = (struct store *)0x1;
	assert_int_equal(store_open("postgresql://127.0.0.1:1/dealmap", &s, &e), DM_EUNAVAILABLE);
	assert_null(s);
	/* a file that is not a database */
	char junk[160];
	snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
	FILE *fp = fopen(junk, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a sqlite database at all\n", fp);
	fclose(fp);
	dm_err_clear(&e);
	int rc = store_open(junk, &s, &e);
	if (rc == 0) {
		rc = store_migrate(s, &e);
		store_close(s);
	} else {
		assert_null(s);
	}
	assert_int_not_equal(rc, 0);
	unlink(junk);
}

static void insert_and_get(void **state)
{
	struct fx *f = *state;
	int64_t id = MK(f->s, &kind_account,
			"{\"name\": \"北京科技有限公司\", \"industry\": \"印刷\","
			" \"installed_base\": [{\"brand\": \"海德堡\", \"quantity\": 2, \"years\": 3.5}]}");
	json_t *r = get(f->s, &kind_account, NULL, id, 0);
	assert_int_equal(num(r, "id"), id);
	assert_string_equal(str(r, "name"), "北京科技有限公司");
	assert_string_equal(str(r, "industry"), "印刷");
	assert_string_equal(str(r, "importance"), "C");
	assert_string_equal(str(r, "lifecycle"), "acquire");
	assert_int_equal(num(r, "version"), 1);
	assert_true(json_is_null(json_object_get(r, "owner_id")));
	assert_true(json_is_null(json_object_get(r, "archived_at")));
	assert_int_equal(strlen(str(r, "created_at")), 24);
	assert_int_equal(str(r, "created_at")[23], 'Z');
	assert_string_equal(str(r, "created_at"), str(r, "updated_at"));
	assert_int_equal(num(r, "touches"), 0);
	assert_true(json_is_null(json_object_get(r, "last_touch_at")));
	json_t *ib = json_object_get(r, "installed_base");
	assert_true(json_is_array(ib));
	assert_string_equal(str(json_array_get(ib, 0), "brand"), "海德堡");
	assert_true(json_real_value(json_object_get(json_array_get(ib, 0), "years")) == 3.5);
	assert_null(json_object_get(r, "name_key"));   /* internal column, not rendered */
	json_decref(r);

	int64_t act = MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"visit\","
			 " \"occurred_at\": \"2026-11-25T09:30:00+08:00\"}", (long long)id);
	MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"phone\", \"effective\": false,"
	   " \"occurred_at\": \"2026-11-26T09:30:00Z\"}", (long long)id);
	r = get(f->s, &kind_activity, NULL, act, 0);
	assert_string_equal(str(r, "occurred_at"), "2026-11-25T01:30:00.000Z");
	assert_true(json_is_true(json_object_get(r, "effective")));
	assert_true(json_is_array(json_object_get(r, "contact_ids")));
	json_decref(r);
	/* derived fields: only effective activities count */
	r = get(f->s, &kind_account, NULL, id, 0);
	assert_int_equal(num(r, "touches"), 1);
	assert_string_equal(str(r, "last_touch_at"), "2026-11-25T01:30:00.000Z");
	json_decref(r);

	assert_int_equal(get_rc(f->s, &kind_account, NULL, id + 1000, 1), DM_ENOTFOUND);
	/* a dangling reference is refused by the database */
	struct dm_err e;
	assert_int_equal(try_insert(f->s, &kind_contact, 0, NULL, &e,
				    "{\"account_id\": 999, \"name\": \"x\"}"), DM_ENOTFOUND);
}

static void writes_only_inside_store_write(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int64_t id = 0;
	json_t *rec = checked(&kind_team, CHECK_CREATE, "{\"name\": \"t\"}");
	dm_err_clear(&e);
	assert_int_equal(store_insert(f->s, &kind_team, rec, 0, &id, &e), DM_EINTERNAL);
	json_decref(rec);
	int64_t n = -1;
	assert_int_equal(store_count(f->s, &kind_team, &n, &e), 0);
	assert_int_equal(n, 0);
}

static void failed_callback_rolls_back(void **state)
{
	struct fx *f = *state;
	struct ins a = { &kind_team, checked(&kind_team, CHECK_CREATE, "{\"name\": \"gone\"}"), 0, 0,
			 { 0 }, 1 };
	assert_int_equal(store_write(f->s, ins_cb, &a, NULL), DM_ECONFLICT);
	assert_true(a.id > 0);
	assert_int_equal(get_rc(f->s, &kind_team, NULL, a.id, 1), DM_ENOTFOUND);
	json_decref(a.rec);
	int64_t kept = MK(f->s, &kind_team, "{\"name\": \"kept\"}");
	json_t *r = get(f->s, &kind_team, NULL, kept, 0);
	assert_string_equal(str(r, "name"), "kept");
	json_decref(r);
	struct dm_err e;
	int64_t n = 0;
	assert_int_equal(store_count(f->s, &kind_team, &n, &e), 0);
	assert_int_equal(n, 1);
	/* no audit rows survive for the rolled-back record */
	json_t *items = NULL;
	assert_int_equal(store_audit_list(f->s, &kind_team, a.id, 0, 100, &items, &e), 0);
	if (a.id != kept)
		assert_int_equal(json_array_size(items), 0);
	json_decref(items);
}

static void visibility_of_accounts(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_admin, w.a_r1, w.a_r1b, w.a_r2, w.a_m1, w.a_r3, w.a_m2,
			w.a_r4, w.a_pool);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_r1, w.a_r1, w.a_r1b);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_r2, w.a_r2);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_r3, w.a_r3);
	/* own team, its sub-team, and the manager's own accounts */
	EXPECT_ACCOUNTS(f->s, &w, &w.v_m1, w.a_r1, w.a_r1b, w.a_r2, w.a_m1);
	/* another manager sees none of those */
	EXPECT_ACCOUNTS(f->s, &w, &w.v_m2, w.a_r3, w.a_m2);
	/* a manager with no team of their own, through the team they manage */
	EXPECT_ACCOUNTS(f->s, &w, &w.v_m3, w.a_r4);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_r4, w.a_r4);
	struct store_query q = { .kind = &kind_account, .viewer = &w.v_partner };
	json_t *items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	assert_int_equal(get_rc(f->s, &kind_account, &w.v_partner, w.a_r1, 0), DM_ENOTFOUND);
	/* a rep whose viewer names a team still sees only their own */
	struct viewer r1_in_ne = { w.r1, ROLE_REP, w.t_ne };
	EXPECT_ACCOUNTS(f->s, &w, &r1_in_ne, w.a_r1, w.a_r1b);
}

static void sub_team_depth(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	/* a grandchild team of north: m1 reaches it, its members' accounts appear */
	int64_t t_deep = MK(f->s, &kind_team, "{\"name\": \"哈尔滨\", \"parent_id\": %lld}",
			    (long long)w.t_ne);
	int64_t r5 = MK(f->s, &kind_user, "{\"username\": \"r5\", \"role\": \"rep\", \"team_id\": %lld}",
			(long long)t_deep);
	int64_t a_r5 = MK(f->s, &kind_account, "{\"name\": \"哈尔滨电机\", \"owner_id\": %lld}",
			  (long long)r5);
	assert_int_equal(get_rc(f->s, &kind_account, &w.v_m1, a_r5, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_account, &w.v_m2, a_r5, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_account, &w.v_r2, a_r5, 0), DM_ENOTFOUND);
	/* a manager of the sub-team does not see up the tree */
	int64_t m4 = MK(f->s, &kind_user, "{\"username\": \"m4\", \"role\": \"manager\", \"team_id\": %lld}",
			(long long)w.t_ne);
	struct viewer v_m4 = { m4, ROLE_MANAGER, w.t_ne };
	assert_int_equal(get_rc(f->s, &kind_account, &v_m4, a_r5, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_account, &v_m4, w.a_r2, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_account, &v_m4, w.a_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_account, &v_m4, w.a_m1, 0), DM_ENOTFOUND);
}

static void in_scope(void **state)
{
	struct fx *f = *state;
	struct world w;
	struct dm_err e;
	build_world(f->s, &w);
	struct { const struct viewer *v; int64_t user; int want; } cases[] = {
		{ &w.v_admin, w.r3, 1 }, { &w.v_m1, w.r1, 1 }, { &w.v_m1, w.r2, 1 },
		{ &w.v_m1, w.m1, 1 }, { &w.v_m1, w.r3, 0 }, { &w.v_m1, w.r4, 0 },
		{ &w.v_m2, w.r3, 1 }, { &w.v_m2, w.r1, 0 }, { &w.v_m3, w.r4, 1 },
		{ &w.v_m3, w.r1, 0 }, { &w.v_r1, w.r1, 1 }, { &w.v_r1, w.r2, 0 },
		{ &w.v_partner, w.partner, 0 }, { &w.v_admin, 99999, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int yes = -1;
		dm_err_clear(&e);
		assert_int_equal(store_in_scope(f->s, cases[i].v, cases[i].user, &yes, &e), 0);
		if (yes != cases[i].want)
			fail_msg("case %zu: viewer %lld, user %lld: in scope %d, expected %d", i,
				 (long long)cases[i].v->user_id, (long long)cases[i].user, yes,
				 cases[i].want);
	}
}

static void contacts_follow_their_account(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r1, w.c_r1, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_m1, w.c_r1, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_admin, w.c_r1, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r3, w.c_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_m2, w.c_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r1, w.c_r3, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_partner, w.c_r1, 0), DM_ENOTFOUND);
	struct store_query q = { .kind = &kind_contact, .viewer = &w.v_m2 };
	json_t *items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), w.c_r3);
	json_decref(items);
	/* opportunities: visible through the account or to their owner */
	assert_int_equal(get_rc(f->s, &kind_opportunity, &w.v_r1, w.o_r1_on_r3, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_opportunity, &w.v_r3, w.o_r1_on_r3, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_opportunity, &w.v_r2, w.o_r1_on_r3, 0), DM_ENOTFOUND);
	/* moving the account to r2 moves its contacts with it */
	char body[64];
	snprintf(body, sizeof body, "{\"owner_id\": %lld}", (long long)w.r2);
	assert_int_equal(update(f->s, &kind_account, w.a_r1, w.admin, NULL, NULL, body), 0);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r1, w.c_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r2, w.c_r1, 0), 0);
	/* an archived account hides its contacts from everyone but admins */
	assert_int_equal(set_archived(f->s, &kind_account, w.a_r1, 1, w.admin, NULL), 0);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_r2, w.c_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_m1, w.c_r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_contact, &w.v_admin, w.c_r1, 0), 0);
}

static void directory_visibility(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	assert_int_equal(get_rc(f->s, &kind_user, &w.v_r1, w.r3, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_team, &w.v_r1, w.t_south, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_user, &w.v_partner, w.partner, 0), 0);
	assert_int_equal(get_rc(f->s, &kind_user, &w.v_partner, w.r1, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_team, &w.v_partner, w.t_north, 0), DM_ENOTFOUND);
}

static void list_pagination(void **state)
{
	struct fx *f = *state;
	int64_t ids[23];
	for (int i = 0; i < 23; i++)
		ids[i] = MK(f->s, &kind_account, "{\"name\": \"客户%02d\"}", i);
	struct viewer admin = { 1, ROLE_ADMIN, 0 };
	/* by id, 5 a page */
	int seen = 0;
	struct store_query q = { .kind = &kind_account, .viewer = &admin, .limit = 5 };
	for (int page = 0; page < 10; page++) {
		json_t *items = list(f->s, &q);
		size_t n = json_array_size(items);
		assert_true(n <= 5);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(num(json_array_get(items, i), "id"), ids[seen++]);
		if (n < 5) {
			json_decref(items);
			break;
		}
		json_decref(q.after_value);
		q.after_id = num(json_array_get(items, n - 1), "id");
		q.after_value = json_integer(q.after_id);
		json_decref(items);
	}
	json_decref(q.after_value);
	assert_int_equal(seen, 23);

	/* by name, descending */
	struct store_query d = { .kind = &kind_account, .viewer = &admin, .limit = 4, .desc = 1,
				 .sort = model_field(&kind_account, "name") };
	seen = 0;
	char prev[64] = "\xF4";
	for (;;) {
		json_t *items = list(f->s, &d);
		size_t n = json_array_size(items);
		for (size_t i = 0; i < n; i++) {
			const char *nm = str(json_array_get(items, i), "name");
			assert_true(strcmp(nm, prev) < 0);
			snprintf(prev, sizeof prev, "%s", nm);
			seen++;
		}
		if (n < 4) {
			json_decref(items);
			break;
		}
		json_decref(d.after_value);
		json_t *last = json_array_get(items, n - 1);
		d.after_value = json_incref(json_object_get(last, "name"));
		d.after_id = num(last, "id");
		json_decref(items);
	}
	json_decref(d.after_value);
	assert_int_equal(seen, 23);
	assert_string_equal(prev, "客户00");
}

static void list_filters(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	char got[256];
	struct store_query q = { .kind = &kind_account, .viewer = &w.v_admin, .nfilters = 1 };
	q.filters[0].field = model_field(&kind_account, "industry");
	q.filters[0].value = json_string("印刷");
	json_t *items = list(f->s, &q);
	ids_of(items, got, sizeof got);
	json_decref(items);
	char exp[256];
	int64_t want1[] = { w.a_r1, w.a_r2 };
	idstr(exp, sizeof exp, want1, 2);
	assert_string_equal(got, exp);
	/* with visibility */
	q.viewer = &w.v_r1;
	items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), w.a_r1);
	json_decref(items);
	json_decref(q.filters[0].value);

	/* two filters together */
	q.viewer = &w.v_admin;
	q.filters[0].field = model_field(&kind_account, "importance");
	q.filters[0].value = json_string("A");
	q.filters[1].field = model_field(&kind_account, "owner_id");
	q.filters[1].value = json_integer(w.m1);
	q.nfilters = 2;
	items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), w.a_m1);
	json_decref(items);
	json_decref(q.filters[0].value);
	json_decref(q.filters[1].value);

	/* null: the public pool */
	q.nfilters = 1;
	q.filters[0].field = model_field(&kind_account, "owner_id");
	q.filters[0].value = json_null();
	items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), w.a_pool);
	json_decref(items);

	/* boolean filter */
	MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"visit\","
	   " \"occurred_at\": \"2026-11-01T10:00:00Z\"}", (long long)w.a_r1);
	MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"sms\", \"effective\": false,"
	   " \"occurred_at\": \"2026-11-02T10:00:00Z\"}", (long long)w.a_r1);
	struct store_query qa = { .kind = &kind_activity, .viewer = &w.v_r1, .nfilters = 1 };
	qa.filters[0].field = model_field(&kind_activity, "effective");
	qa.filters[0].value = json_false();
	items = list(f->s, &qa);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(str(json_array_get(items, 0), "channel"), "sms");
	json_decref(items);
	/* updated_since in the future finds nothing, in the past everything visible */
	qa.nfilters = 0;
	qa.updated_since = "2999-01-01T00:00:00.000Z";
	items = list(f->s, &qa);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	qa.updated_since = "2000-01-01T00:00:00.000Z";
	items = list(f->s, &qa);
	assert_int_equal(json_array_size(items), 2);
	json_decref(items);
}

static size_t count_name(struct store *s, const struct viewer *v, const char *search,
			 int64_t *first)
{
	char *key = text_name_key(search);
	struct store_query q = { .kind = &kind_account, .viewer = v, .name_sub = key };
	json_t *items = list(s, &q);
	size_t n = json_array_size(items);
	if (first)
		*first = n ? num(json_array_get(items, 0), "id") : 0;
	json_decref(items);
	free(key);
	return n;
}

static void name_search(void **state)
{
	struct fx *f = *state;
	struct world w;
	int64_t id;
	build_world(f->s, &w);
	assert_int_equal(count_name(f->s, &w.v_admin, "科技", &id), 1);
	assert_int_equal(id, w.a_r1);
	assert_int_equal(count_name(f->s, &w.v_admin, "北京科技有限公司", &id), 1);
	assert_int_equal(count_name(f->s, &w.v_admin, "有限", &id), 1);
	assert_int_equal(count_name(f->s, &w.v_admin, "包装", &id), 1);
	assert_int_equal(id, w.a_r3);
	assert_int_equal(count_name(f->s, &w.v_admin, "印", NULL), 1);   /* 成都印务 */
	assert_int_equal(count_name(f->s, &w.v_admin, "acme", &id), 1);
	assert_int_equal(id, w.a_r1b);
	assert_int_equal(count_name(f->s, &w.v_admin, "ACME", &id), 1);
	assert_int_equal(count_name(f->s, &w.v_admin, "ＡＣＭＥ", &id), 1);  /* full-width */
	assert_int_equal(count_name(f->s, &w.v_admin, "me l", &id), 1);
	assert_int_equal(count_name(f->s, &w.v_admin, "  Me   LTD ", &id), 1);
	assert_int_equal(count_name(f->s, &w.v_admin, "TECH", &id), 1);
	assert_int_equal(id, w.a_m2);
	assert_int_equal(count_name(f->s, &w.v_admin, "t", NULL), 3);   /* acme ltd, northwind traders, shenzhen tech */
	assert_int_equal(count_name(f->s, &w.v_admin, "上海", NULL), 0);
	assert_int_equal(count_name(f->s, &w.v_admin, "%", NULL), 0);   /* not a LIKE pattern */
	assert_int_equal(count_name(f->s, &w.v_admin, "_", NULL), 0);
	/* search never reaches past visibility */
	assert_int_equal(count_name(f->s, &w.v_r1, "沈阳", NULL), 0);
	assert_int_equal(count_name(f->s, &w.v_m1, "沈阳", NULL), 1);
	assert_int_equal(count_name(f->s, &w.v_r3, "acme", NULL), 0);
	/* a renamed account is found by its new name only */
	assert_int_equal(update(f->s, &kind_account, w.a_r1b, w.admin, NULL, NULL,
				"{\"name\": \"Globex 集团\"}"), 0);
	assert_int_equal(count_name(f->s, &w.v_admin, "acme", NULL), 0);
	assert_int_equal(count_name(f->s, &w.v_admin, "globex", &id), 1);
	assert_int_equal(id, w.a_r1b);
	assert_int_equal(count_name(f->s, &w.v_admin, "集团", &id), 1);
}

/* A bulk load of accounts: rows through store_import_insert between store_bulk_begin and
 * store_bulk_end, and the callback's verdict (0, or fail: an error after the end or before it). */
struct bulk {
	const char *names[3];
	int end, fail;
	struct dm_err e;
};

static int bulk_cb(struct store *s, void *arg)
{
	struct bulk *b = arg;
	int64_t id;
	int rc = store_bulk_begin(s, &kind_account, &b->e);
	for (int i = 0; !rc && i < 3 && b->names[i]; i++) {
		char text[128];
		snprintf(text, sizeof text, "{\"name\": \"%s\"}", b->names[i]);
		json_t *rec = checked(&kind_account, CHECK_CREATE, text);
		rc = store_import_insert(s, &kind_account, rec, 0, NULL, 0, &id, &b->e);
		json_decref(rec);
	}
	if (!rc && b->end)
		rc = store_bulk_end(s, &kind_account, &b->e);
	return rc ? rc : b->fail ? dm_fail(&b->e, DM_ECONFLICT, NULL, "rolled back") : 0;
}

/* Triggers on accounts in the database file, by name. */
static int triggers_named(const struct fx *f, const char *name)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type = "
					    "'trigger' AND name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* A bulk load takes the name index's insert trigger away while it runs (no statement journal
 * per row) and fills the index at its end; whether it commits or fails, the trigger is there
 * afterwards and accounts created one by one are indexed again. */
static void bulk_load_keeps_the_name_index(void **state)
{
	struct fx *f = *state;
	struct viewer admin = { 0, ROLE_ADMIN, 0 };
	struct bulk ok = { { "华南印刷", "华北包装", NULL }, 1, 0, { 0 } };
	struct bulk failed = { { "西南印刷", NULL, NULL }, 0, 1, { 0 } };
	struct bulk failed_late = { { "东北印刷", NULL, NULL }, 1, 1, { 0 } };
	struct bulk dup = { { "华中物流", "华中物流", NULL }, 1, 0, { 0 } };
	assert_int_equal(store_write(f->s, bulk_cb, &ok, NULL), 0);
	assert_int_equal(triggers_named(f, "accounts_name_fts_ai"), 1);
	assert_int_equal(count_name(f->s, &admin, "印刷", NULL), 1);
	assert_int_equal(count_name(f->s, &admin, "华", NULL), 2);
	assert_int_equal(store_write(f->s, bulk_cb, &failed, NULL), DM_ECONFLICT);
	assert_int_equal(store_write(f->s, bulk_cb, &failed_late, NULL), DM_ECONFLICT);
	assert_int_equal(store_write(f->s, bulk_cb, &dup, NULL), DM_EDUPLICATE);
	assert_int_equal(triggers_named(f, "accounts_name_fts_ai"), 1);
	assert_int_equal(count_name(f->s, &admin, "印刷", NULL), 1);
	/* one by one again: found through the trigger */
	int64_t one = MK(f->s, &kind_account, "{\"name\": \"西北印刷\"}");
	int64_t id = 0;
	assert_int_equal(count_name(f->s, &admin, "西北", &id), 1);
	assert_int_equal(id, one);
	assert_int_equal(count_name(f->s, &admin, "印刷", NULL), 2);
	/* a second load after all of that */
	struct bulk again = { { "东南物流", NULL, NULL }, 1, 0, { 0 } };
	assert_int_equal(store_write(f->s, bulk_cb, &again, NULL), 0);
	assert_int_equal(count_name(f->s, &admin, "物流", NULL), 1);
	assert_int_equal(triggers_named(f, "accounts_name_fts_ai"), 1);
}

/* ---- a bulk load keeps migration 17's segment sums as row-by-row inserts do ------------------- */

struct seg_load {
	struct world *w;
	int bulk;
	struct dm_err e;
};

static int seg_insert(struct store *s, struct seg_load *l, const char *name, int64_t owner,
		      int64_t *id)
{
	char text[160];
	if (owner)
		snprintf(text, sizeof text, "{\"name\": \"%s\", \"owner_id\": %lld}", name,
			 (long long)owner);
	else
		snprintf(text, sizeof text, "{\"name\": \"%s\"}", name);
	json_t *rec = checked(&kind_account, CHECK_CREATE, text);
	int rc = l->bulk ? store_import_insert(s, &kind_account, rec, 0, NULL, 0, id, &l->e) :
			   store_insert(s, &kind_account, rec, 0, id, &l->e);
	json_decref(rec);
	return rc;
}

static int seg_owner(struct store *s, struct seg_load *l, int64_t id, int64_t owner)
{
	char text[64];
	int changed;
	snprintf(text, sizeof text, "{\"owner_id\": %lld}", (long long)owner);
	json_t *changes = checked(&kind_account, CHECK_PATCH, text);
	int rc = store_update(s, &kind_account, id, changes, 0, &changed, &l->e);
	json_decref(changes);
	return rc;
}

/* New accounts of several owners (teams, none, no owner), changed during the load: an owner
 * moved on a new account and on an old one, a new one archived, more inserted after. */
static int seg_cb(struct store *s, void *arg)
{
	struct seg_load *l = arg;
	struct world *w = l->w;
	int64_t a1, a2, a3, a4, a5;
	int rc = l->bulk ? store_bulk_begin(s, &kind_account, &l->e) : 0;
	if (!rc)
		rc = seg_insert(s, l, "新一", w->r1, &a1);
	if (!rc)
		rc = seg_insert(s, l, "新二", w->m3, &a2);
	if (!rc)
		rc = seg_insert(s, l, "新三", 0, &a3);
	if (!rc)
		rc = seg_owner(s, l, a1, w->r3);
	if (!rc)
		rc = seg_insert(s, l, "新四", w->r1, &a4);
	if (!rc)
		rc = seg_owner(s, l, w->a_r2, w->r4);
	if (!rc)
		rc = store_set_archived(s, &kind_account, a2, 1, 0, &l->e);
	if (!rc)
		rc = seg_owner(s, l, a3, w->r2);
	if (!rc)
		rc = seg_insert(s, l, "新五", w->r2, &a5);
	/* and several of each owner after the last change, so that the sums' statement at the end
	 * counts more than one account per owner, team and company row */
	const int64_t more[] = { w->r2, w->r1, w->r2, w->m3, 0, w->r2, w->r1, w->m3, 0 };
	for (size_t i = 0; !rc && i < sizeof more / sizeof more[0]; i++) {
		char name[32];
		int64_t id;
		snprintf(name, sizeof name, "新后%zu", i);
		rc = seg_insert(s, l, name, more[i], &id);
	}
	if (!rc && l->bulk)
		rc = store_bulk_end(s, &kind_account, &l->e);
	return rc;
}

/* agg_segments' rows with anything in them, one per line. */
static char *segments_of(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct buf b = BUF_INIT(0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT owner_id, bucket, first_on, day, accounts, "
					    "revenue, touches FROM agg_segments WHERE accounts <> 0 "
					    "OR revenue <> 0 OR touches <> 0 ORDER BY 1, 2, 3, 4",
					    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(&b, "%lld %lld '%s' '%s' %lld %lld %lld\n", sqlite3_column_int64(st, 0),
			   sqlite3_column_int64(st, 1), sqlite3_column_text(st, 2),
			   sqlite3_column_text(st, 3), sqlite3_column_int64(st, 4),
			   sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf_detach(&b, NULL);
}

static void bulk_load_keeps_the_segment_sums(void **state)
{
	struct fx *f = *state, *g = NULL;
	struct world w, w2;
	assert_int_equal(setup((void **)&g), 0);   /* a second database: the same, row by row */
	build_world(f->s, &w);
	build_world(g->s, &w2);
	struct seg_load bulk = { &w, 1, { 0 } }, plain = { &w2, 0, { 0 } };
	assert_int_equal(store_write(f->s, seg_cb, &bulk, NULL), 0);
	assert_int_equal(store_write(g->s, seg_cb, &plain, NULL), 0);
	char *got = segments_of(f->path), *want = segments_of(g->path);
	assert_non_null(strstr(want, "'' '' 2 0 0"));   /* something to compare: r1's team */
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* and a failed load changes nothing, trigger included: one more row, one by one */
	struct bulk failed = { { "新六", NULL, NULL }, 1, 1, { 0 } };
	assert_int_equal(store_write(f->s, bulk_cb, &failed, NULL), DM_ECONFLICT);
	assert_int_equal(triggers_named(f, "accounts_segments_ai"), 1);
	int64_t id;
	assert_int_equal(try_insert(f->s, &kind_account, 0, &id, NULL,
				    "{\"name\": \"新七\", \"owner_id\": %lld}", (long long)w.r1), 0);
	assert_int_equal(try_insert(g->s, &kind_account, 0, &id, NULL,
				    "{\"name\": \"新七\", \"owner_id\": %lld}", (long long)w2.r1), 0);
	got = segments_of(f->path);
	want = segments_of(g->path);
	assert_string_equal(got, want);
	free(got);
	free(want);
	teardown((void **)&g);
}

/* ---- the owner history's rows: zero ids and absent texts are NULL, the rest as given --------- */

struct own_add {
	int64_t account, from, to, by, sweep;
	const char *reason, *note;
	struct dm_err e;
};

static int own_add_cb(struct store *s, void *arg)
{
	struct own_add *a = arg;
	return store_owner_add(s, a->account, a->from, a->to, a->reason, a->note, a->by, a->sweep,
			       &a->e);
}

/* The rows of account's history as text, one a line, each column as typeof:value. */
static char *owner_rows(const char *path, int64_t account)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct buf b = BUF_INIT(0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT typeof(from_id) || ':' || IFNULL(from_id, ''),"
					    " typeof(to_id) || ':' || IFNULL(to_id, ''), typeof(reason)"
					    " || ':' || reason, typeof(note) || ':' || IFNULL(note, ''),"
					    " typeof(by_id) || ':' || IFNULL(by_id, ''), typeof(sweep_id)"
					    " || ':' || IFNULL(sweep_id, ''), length(at) = 24 AND at"
					    " LIKE '____-__-__T__:__:__.___Z' FROM owner_history WHERE"
					    " account_id = ? ORDER BY id", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, account);
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(&b, "%s %s %s %s %s %s %d\n", sqlite3_column_text(st, 0),
			   sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
			   sqlite3_column_text(st, 3), sqlite3_column_text(st, 4),
			   sqlite3_column_text(st, 5), sqlite3_column_int(st, 6));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf_detach(&b, NULL);
}

static void owner_history_rows_as_written(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	int64_t acc = MK(f->s, &kind_account, "{\"name\": \"历史客户\"}");
	struct own_add adds[] = {
		{ acc, 0, w.r1, 0, 0, "assigned", "created", { 0 } },
		{ acc, w.r1, w.r2, w.m1, 0, "reassigned", NULL, { 0 } },
		{ acc, w.r2, 0, 0, 7, "reclaimed", "sweep", { 0 } },
	};
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++)
		assert_int_equal(store_write(f->s, own_add_cb, &adds[i], NULL), 0);
	char want[512];
	snprintf(want, sizeof want,
		 "null: integer:%lld text:assigned text:created null: null: 1\n"
		 "integer:%lld integer:%lld text:reassigned null: integer:%lld null: 1\n"
		 "integer:%lld null: text:reclaimed text:sweep null: integer:7 1\n",
		 (long long)w.r1, (long long)w.r1, (long long)w.r2, (long long)w.m1, (long long)w.r2);
	char *got = owner_rows(f->path, acc);
	assert_string_equal(got, want);
	free(got);
	/* an account that does not exist: refused, nothing written */
	struct own_add bad = { 987654, 0, w.r1, 0, 0, "assigned", NULL, { 0 } };
	assert_int_equal(store_write(f->s, own_add_cb, &bad, NULL), DM_ENOTFOUND);
	got = owner_rows(f->path, 987654);
	assert_string_equal(got, "");
	free(got);
}

/* ---- a large bulk load builds the accounts' secondary indexes at its end ------------------- */

struct idx_load {
	struct world *w;
	int bulk;              /* store_import_insert in a bulk bracket; else store_insert */
	int n;                 /* accounts to insert */
	const char *prefix;
	int fail;              /* fail after the end: rolled back */
	struct dm_err e;
};

/* n accounts of five owners (none among them); near the end, after any drop of the indexes,
 * one moved to another owner and one archived (the partial indexes leave it out). */
static int idx_cb(struct store *s, void *arg)
{
	struct idx_load *l = arg;
	struct seg_load sl = { l->w, l->bulk, { 0 } };
	const int64_t owners[] = { 0, l->w->r1, l->w->r2, l->w->r3, l->w->m3 };
	int64_t id;
	int rc = l->bulk ? store_bulk_begin(s, &kind_account, &sl.e) : 0;
	for (int i = 0; !rc && i < l->n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s%05d", l->prefix, i);
		rc = seg_insert(s, &sl, name, owners[i % 5], &id);
		if (!rc && i == l->n - 10)
			rc = seg_owner(s, &sl, id, l->w->r4);
		if (!rc && i == l->n - 5)
			rc = store_set_archived(s, &kind_account, id, 1, 0, &sl.e);
	}
	if (!rc && l->bulk)
		rc = store_bulk_end(s, &kind_account, &sl.e);
	if (!rc && l->fail)
		rc = dm_fail(&sl.e, DM_ECONFLICT, NULL, "rolled back");
	l->e = sl.e;
	return rc;
}

/* One line per row of sql's answer on the database at path (columns as text, ' '-separated). */
static char *rows_of(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct buf b = BUF_INIT(0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++)
			buf_printf(&b, "%s%s", i ? " " : "", sqlite3_column_text(st, i) ?
				   (const char *)sqlite3_column_text(st, i) : "NULL");
		buf_printf(&b, "\n");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf_detach(&b, NULL);
}

#define IDX_ROOTS "SELECT name, rootpage FROM sqlite_schema WHERE type = 'index' AND " \
	"tbl_name = 'accounts' ORDER BY name"
#define IDX_SCHEMA "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'accounts' " \
	"ORDER BY type, name"
#define IDX_ROWS "SELECT id, name_key, owner_id, archived_at IS NULL, won_opps, touch_count " \
	"FROM accounts ORDER BY id"
#define IDX_STATS "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = 'accounts' ORDER BY idx"

/* ANALYZE on the database at path, from a connection of its own (the statistics a server's
 * PRAGMA optimize leaves). */
static void analyze(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A bulk load that inserts more accounts than the table held (and more than a couple of
 * thousand) drops the accounts' non-unique indexes and creates them again at its end: new root
 * pages, the same schema, the entries of the same rows as inserted one by one (integrity
 * check: every row in every index, no more) and the statistics it had (sqlite_stat1, which DROP
 * INDEX deletes). A load that fails leaves them as they were; a small load into the larger
 * table keeps them. */
static void bulk_load_builds_the_indexes_at_its_end(void **state)
{
	struct fx *f = *state, *g = NULL;
	struct world w, w2;
	assert_int_equal(setup((void **)&g), 0);   /* a second database: the same, row by row */
	build_world(f->s, &w);
	build_world(g->s, &w2);
	analyze(f->path);
	analyze(g->path);
	char *roots0 = rows_of(f->path, IDX_ROOTS);
	/* the statistics as ANALYZE left them on this database (not the other one's: the due
	 * index's counts distinct creation instants, which differ between two builds) */
	char *stats0 = rows_of(f->path, IDX_STATS);
	struct idx_load bulk = { &w, 1, 2500, "批量", 0, { 0 } };
	struct idx_load plain = { &w2, 0, 2500, "批量", 0, { 0 } };
	assert_int_equal(store_write(f->s, idx_cb, &bulk, NULL), 0);
	assert_int_equal(store_write(g->s, idx_cb, &plain, NULL), 0);
	char *roots = rows_of(f->path, IDX_ROOTS);
	assert_string_not_equal(roots, roots0);   /* built anew */
	char *got = rows_of(f->path, IDX_SCHEMA), *want = rows_of(g->path, IDX_SCHEMA);
	assert_string_equal(got, want);
	free(got);
	free(want);
	got = rows_of(f->path, IDX_ROWS);
	want = rows_of(g->path, IDX_ROWS);
	assert_non_null(strstr(got, "批量02490"));
	assert_string_equal(got, want);
	free(got);
	free(want);
	got = rows_of(f->path, IDX_STATS);
	assert_non_null(strstr(stats0, "accounts_owner_due"));
	assert_string_equal(got, stats0);
	free(got);
	free(stats0);
	got = rows_of(f->path, "PRAGMA integrity_check");
	assert_string_equal(got, "ok\n");
	free(got);
	/* a load that fails after its indexes went away: all as before it */
	struct idx_load failed = { &w, 1, 3000, "回滚", 1, { 0 } };
	assert_int_equal(store_write(f->s, idx_cb, &failed, NULL), DM_ECONFLICT);
	got = rows_of(f->path, IDX_ROOTS);
	assert_string_equal(got, roots);
	free(got);
	got = rows_of(f->path, "SELECT count(*) FROM accounts WHERE name LIKE '回滚%'");
	assert_string_equal(got, "0\n");
	free(got);
	/* a small load into the larger table keeps them */
	struct idx_load small = { &w, 1, 100, "小批", 0, { 0 } };
	assert_int_equal(store_write(f->s, idx_cb, &small, NULL), 0);
	got = rows_of(f->path, IDX_ROOTS);
	assert_string_equal(got, roots);
	free(got);
	got = rows_of(f->path, "PRAGMA integrity_check");
	assert_string_equal(got, "ok\n");
	free(got);
	free(roots);
	free(roots0);
	teardown((void **)&g);
}

/* ---- a bulk load of activities leaves what their insert triggers leave -------------------- */

struct act_load {
	struct world *w;
	int bulk;     /* 1: in a bulk bracket; 2: the same, then fail (rolled back) */
	int before;   /* the activities before the load instead */
	struct dm_err e;
};

static int act_insert(struct store *s, struct act_load *l, int64_t account, int64_t user,
		      const char *at, int effective, const char *channel, const char *next)
{
	char text[320];
	int64_t id;
	snprintf(text, sizeof text, "{\"account_id\": %lld, \"channel\": \"%s\", \"occurred_at\": "
		 "\"%s\", \"effective\": %s, \"summary\": \"s\"%s%s%s}", (long long)account, channel, at,
		 effective ? "true" : "false", next ? ", \"next_touch_on\": \"" : "", next ? next : "",
		 next ? "\"" : "");
	json_t *rec = checked(&kind_activity, CHECK_CREATE, text);
	json_object_set_new(rec, "user_id", json_integer(user));
	int rc = l->bulk ? store_import_insert(s, &kind_activity, rec, user, NULL, 0, &id, &l->e) :
			   store_insert(s, &kind_activity, rec, user, &id, &l->e);
	json_decref(rec);
	return rc;
}

/* Before the load: a2's last touch on the 10th. The load: later ones in and out of order (the
 * last touch moves over days that end at zero), an earlier one (the first touch moves back),
 * one at the same instant as the last, one not effective, another user, a new account. */
static int act_cb(struct store *s, void *arg)
{
	struct act_load *l = arg;
	struct world *w = l->w;
	int rc = 0;
	if (l->before) {
		rc = act_insert(s, l, w->a_r2, w->r2, "2026-03-10T09:00:00.000Z", 1, "phone", NULL);
		return rc ? rc : act_insert(s, l, w->a_r2, w->r2, "2026-03-05T09:00:00.000Z", 1, "visit",
					    "2026-04-01");
	}
	if (l->bulk)
		rc = store_bulk_begin(s, &kind_activity, &l->e);
	static const struct {
		int who, eff;
		const char *at, *channel, *next;
	} rows[] = {
		{ 0, 1, "2026-03-12T09:00:00.000Z", "phone", "2026-05-01" },
		{ 0, 1, "2026-03-11T09:00:00.000Z", "wechat", NULL },
		{ 0, 1, "2026-03-15T20:00:00.000Z", "visit", NULL },   /* the 16th in UTC+8 */
		{ 0, 1, "2026-03-10T09:00:00.000Z", "phone", "2026-06-01" },
		{ 0, 1, "2026-03-01T09:00:00.000Z", "email", NULL },
		{ 0, 0, "2026-03-20T09:00:00.000Z", "phone", "2026-07-01" },
		{ 1, 1, "2026-03-18T09:00:00.000Z", "phone", NULL },
		{ 2, 1, "2026-02-01T09:00:00.000Z", "visit", NULL },
		{ 2, 1, "2026-02-03T09:00:00.000Z", "visit", NULL },
	};
	for (size_t i = 0; !rc && i < sizeof rows / sizeof rows[0]; i++)
		rc = act_insert(s, l, rows[i].who == 2 ? w->a_r3 : w->a_r2,
				rows[i].who == 0 ? w->r2 : rows[i].who == 1 ? w->m1 : w->r3, rows[i].at,
				rows[i].eff, rows[i].channel, rows[i].next);
	if (!rc && l->bulk)
		rc = store_bulk_end(s, &kind_activity, &l->e);
	return !rc && l->bulk == 2 ? DM_ECONFLICT : rc;
}

/* Everything the activities' insert triggers write, every row (zeros too), one per line. */
static char *touch_state_of(const char *path)
{
	static const char *const queries[] = {
		"SELECT 'day', user_id, day, n, eff FROM agg_touch_day ORDER BY 2, 3",
		"SELECT 'channel', user_id, day, channel, n FROM agg_touch_channel ORDER BY 2, 3, 4",
		"SELECT 'pair', user_id, account_id, first_at, last_at FROM touch_pairs ORDER BY 2, 3",
		"SELECT 'last', day, n FROM agg_touch_last ORDER BY 2",
		"SELECT 'seg', owner_id, bucket, first_on, day, accounts, revenue, touches FROM "
		"agg_segments ORDER BY 2, 3, 4, 5",
		"SELECT 'account', id, touch_count, touched_at, latest_next_touch, latest_contact_ids "
		"FROM accounts ORDER BY 2",
	};
	sqlite3 *db = NULL;
	struct buf b = BUF_INIT(0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, queries[q], -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(st); c++)
				buf_printf(&b, "%s|", sqlite3_column_type(st, c) == SQLITE_NULL ? "NULL" :
						      (const char *)sqlite3_column_text(st, c));
			buf_printf(&b, "\n");
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return buf_detach(&b, NULL);
}

static void bulk_load_of_activities_keeps_their_tables(void **state)
{
	struct fx *f = *state, *g = NULL;
	struct world w, w2;
	static const char *const triggers[] = { "activities_touch_ai", "activities_segments_ai",
						"activities_touch_agg_ai" };
	assert_int_equal(setup((void **)&g), 0);   /* a second database: the same, row by row */
	build_world(f->s, &w);
	build_world(g->s, &w2);
	struct act_load pre = { &w, 0, 1, { 0 } }, pre2 = { &w2, 0, 1, { 0 } };
	assert_int_equal(store_write(f->s, act_cb, &pre, NULL), 0);
	assert_int_equal(store_write(g->s, act_cb, &pre2, NULL), 0);
	struct act_load bulk = { &w, 1, 0, { 0 } }, plain = { &w2, 0, 0, { 0 } };
	assert_int_equal(store_write(f->s, act_cb, &bulk, NULL), 0);
	assert_int_equal(store_write(g->s, act_cb, &plain, NULL), 0);
	char *got = touch_state_of(f->path), *want = touch_state_of(g->path);
	assert_non_null(strstr(want, "last|2026-03-12|0|"));   /* something at zero to compare */
	assert_string_equal(got, want);
	free(got);
	free(want);
	for (size_t i = 0; i < sizeof triggers / sizeof triggers[0]; i++)
		assert_int_equal(triggers_named(f, triggers[i]), 1);
	/* a failed load changes nothing, triggers included; a second load after it */
	struct act_load failed = { &w, 2, 0, { 0 } };
	assert_int_equal(store_write(f->s, act_cb, &failed, NULL), DM_ECONFLICT);
	for (size_t i = 0; i < sizeof triggers / sizeof triggers[0]; i++)
		assert_int_equal(triggers_named(f, triggers[i]), 1);
	got = touch_state_of(f->path);
	want = touch_state_of(g->path);
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(store_write(f->s, act_cb, &bulk, NULL), 0);
	assert_int_equal(store_write(g->s, act_cb, &plain, NULL), 0);
	got = touch_state_of(f->path);
	want = touch_state_of(g->path);
	assert_string_equal(got, want);
	free(got);
	free(want);
	teardown((void **)&g);
}

static void duplicate_names(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int64_t id = -1;
	int64_t first = MK(f->s, &kind_account, "{\"name\": \"ACME Ltd\"}");
	int64_t other = MK(f->s, &kind_account, "{\"name\": \"Initech\"}");
	static const char *const same[] = { "acme ltd", "ＡＣＭＥ　Ｌｔｄ", "  ACME   LTD ",
					    "Acme\\tLtd", "ａｃｍｅ ｌｔｄ" };
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		dm_err_clear(&e);
		int rc = try_insert(f->s, &kind_account, 0, &id, &e, "{\"name\": \"%s\"}", same[i]);
		if (rc != DM_EDUPLICATE)
			fail_msg("\"%s\": %s, expected duplicate", same[i], dm_code_name(rc));
		assert_int_equal(e.existing_id, first);
		assert_string_equal(e.field, "name");
		assert_int_equal(id, 0);
	}
	int64_t n = 0;
	assert_int_equal(store_count(f->s, &kind_account, &n, &e), 0);
	assert_int_equal(n, 2);
	/* other names are fine, including ones that only contain the taken one */
	MK(f->s, &kind_account, "{\"name\": \"ACME Ltd 2\"}");
	/* renaming onto a taken name is a duplicate too */
	dm_err_clear(&e);
	assert_int_equal(update(f->s, &kind_account, other, 0, NULL, &e,
				"{\"name\": \"ａｃｍｅ  ltd\"}"), DM_EDUPLICATE);
	assert_int_equal(e.existing_id, first);
	json_t *r = get(f->s, &kind_account, NULL, other, 0);
	assert_string_equal(str(r, "name"), "Initech");
	assert_int_equal(num(r, "version"), 1);
	json_decref(r);
	/* contacts and teams have no unique names */
	MK(f->s, &kind_team, "{\"name\": \"Sales\"}");
	MK(f->s, &kind_team, "{\"name\": \"sales\"}");
}

/* A second user with a taken username must point at the user holding that username. The store
 * looks the other record up by the name key of the kind's search field, which for users is
 * display_name, not username. */
static void duplicate_username_names_the_right_user(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int64_t zhang = MK(f->s, &kind_user, "{\"username\": \"zhang\", \"display_name\": \"张三\","
			   " \"role\": \"rep\"}");
	int64_t wang = MK(f->s, &kind_user, "{\"username\": \"wang\", \"display_name\": \"王五\","
			  " \"role\": \"rep\"}");
	assert_int_not_equal(zhang, wang);
	dm_err_clear(&e);
	assert_int_equal(try_insert(f->s, &kind_user, 0, NULL, &e,
				    "{\"username\": \"zhang\", \"display_name\": \"王五\","
				    " \"role\": \"rep\"}"), DM_EDUPLICATE);
	assert_string_equal(e.field, "username");
	if (e.existing_id != zhang)
		fail_msg("duplicate username \"zhang\": existing_id is %lld, expected %lld (zhang); "
			 "%lld is wang, who merely shares the display name",
			 (long long)e.existing_id, (long long)zhang, (long long)wang);
}

static void archived_rows_hidden(void **state)
{
	struct fx *f = *state;
	struct world w;
	struct dm_err e;
	build_world(f->s, &w);
	assert_int_equal(set_archived(f->s, &kind_account, w.a_r1b, 1, w.admin, &e), 0);
	assert_int_equal(get_rc(f->s, &kind_account, NULL, w.a_r1b, 0), DM_ENOTFOUND);
	assert_int_equal(get_rc(f->s, &kind_account, &w.v_r1, w.a_r1b, 0), DM_ENOTFOUND);
	json_t *r = get(f->s, &kind_account, NULL, w.a_r1b, 1);
	assert_true(json_is_string(json_object_get(r, "archived_at")));
	assert_int_equal(num(r, "version"), 2);
	json_decref(r);
	EXPECT_ACCOUNTS(f->s, &w, &w.v_r1, w.a_r1);
	struct store_query q = { .kind = &kind_account, .viewer = &w.v_admin, .archived = 1 };
	json_t *items = list(f->s, &q);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), w.a_r1b);
	json_decref(items);
	int64_t n = 0;
	assert_int_equal(store_count(f->s, &kind_account, &n, &e), 0);
	assert_int_equal(n, 7);
	/* the name is free again while archived ... */
	int64_t again = MK(f->s, &kind_account, "{\"name\": \"acme ltd\"}");
	/* ... so restoring the old one is a duplicate, naming the live holder */
	dm_err_clear(&e);
	assert_int_equal(set_archived(f->s, &kind_account, w.a_r1b, 0, w.admin, &e), DM_EDUPLICATE);
	assert_int_equal(e.existing_id, again);
	assert_int_equal(get_rc(f->s, &kind_account, NULL, w.a_r1b, 0), DM_ENOTFOUND);
	assert_int_equal(set_archived(f->s, &kind_account, again, 1, w.admin, &e), 0);
	assert_int_equal(set_archived(f->s, &kind_account, w.a_r1b, 0, w.admin, &e), 0);
	r = get(f->s, &kind_account, &w.v_r1, w.a_r1b, 0);
	assert_true(json_is_null(json_object_get(r, "archived_at")));
	assert_int_equal(num(r, "version"), 3);
	json_decref(r);
	/* archiving audit: action and field */
	json_t *audit = NULL;
	assert_int_equal(store_audit_list(f->s, &kind_account, w.a_r1b, 0, 100, &audit, &e), 0);
	size_t na = json_array_size(audit);
	assert_true(na >= 2);
	assert_string_equal(str(json_array_get(audit, na - 2), "action"), "archive");
	assert_string_equal(str(json_array_get(audit, na - 1), "action"), "restore");
	assert_string_equal(str(json_array_get(audit, na - 1), "field"), "archived_at");
	assert_true(json_is_null(json_object_get(json_array_get(audit, na - 1), "new")));
	json_decref(audit);
	assert_int_equal(set_archived(f->s, &kind_account, 424242, 1, w.admin, &e), DM_ENOTFOUND);
}

static json_t *audit_find(json_t *items, const char *action, const char *field)
{
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		if (!strcmp(str(it, "action"), action) && str(it, "field") &&
		    !strcmp(str(it, "field"), field))
			return it;
	}
	return NULL;
}

static void update_versions_and_audit(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int changed = -1;
	int64_t admin = MK(f->s, &kind_user, "{\"username\": \"boss\", \"role\": \"admin\"}");
	int64_t id = 0;
	assert_int_equal(try_insert(f->s, &kind_account, admin, &id, &e,
				    "{\"name\": \"ACME\", \"industry\": \"印刷\"}"), 0);
	json_t *audit = NULL;
	assert_int_equal(store_audit_list(f->s, &kind_account, id, 0, 100, &audit, &e), 0);
	/* a create is one row: no field, the record's fields that are set as new */
	assert_int_equal(json_array_size(audit), 1);
	json_t *a = json_array_get(audit, 0);
	assert_string_equal(str(a, "action"), "create");
	assert_true(json_is_null(json_object_get(a, "field")));
	assert_true(json_is_null(json_object_get(a, "old")));
	json_t *made = json_object_get(a, "new");
	assert_true(json_is_object(made));
	assert_string_equal(str(made, "name"), "ACME");
	assert_string_equal(str(made, "industry"), "印刷");
	assert_non_null(json_object_get(made, "importance"));
	assert_null(json_object_get(made, "owner_id"));   /* nulls are not audited */
	assert_int_equal(num(a, "actor_id"), admin);
	assert_string_equal(str(a, "actor"), "boss");
	size_t created_rows = json_array_size(audit);
	json_decref(audit);

	/* the same values again: no change, no version, no audit */
	assert_int_equal(update(f->s, &kind_account, id, admin, &changed, &e,
				"{\"name\": \"ACME\", \"industry\": \"印刷\", \"importance\": \"C\"}"), 0);
	assert_int_equal(changed, 0);
	json_t *r = get(f->s, &kind_account, NULL, id, 0);
	assert_int_equal(num(r, "version"), 1);
	json_decref(r);
	assert_int_equal(update(f->s, &kind_account, id, admin, &changed, &e, "{}"), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(store_audit_list(f->s, &kind_account, id, 0, 100, &audit, &e), 0);
	assert_int_equal(json_array_size(audit), created_rows);
	json_decref(audit);

	/* a real change: one version, one audit row per changed field only */
	assert_int_equal(update(f->s, &kind_account, id, admin, &changed, &e,
				"{\"name\": \"ACME 集团\", \"industry\": \"印刷\", \"importance\": \"A\"}"),
			 0);
	assert_int_equal(changed, 1);
	r = get(f->s, &kind_account, NULL, id, 0);
	assert_int_equal(num(r, "version"), 2);
	assert_string_equal(str(r, "name"), "ACME 集团");
	assert_string_equal(str(r, "importance"), "A");
	assert_true(strcmp(str(r, "updated_at"), str(r, "created_at")) >= 0);
	json_decref(r);
	assert_int_equal(store_audit_list(f->s, &kind_account, id, 0, 100, &audit, &e), 0);
	assert_int_equal(json_array_size(audit), created_rows + 2);
	a = audit_find(audit, "update", "name");
	assert_non_null(a);
	assert_string_equal(str(a, "old"), "ACME");
	assert_string_equal(str(a, "new"), "ACME 集团");
	assert_int_equal(num(a, "actor_id"), admin);
	a = audit_find(audit, "update", "importance");
	assert_non_null(a);
	assert_string_equal(str(a, "old"), "C");
	assert_string_equal(str(a, "new"), "A");
	assert_null(audit_find(audit, "update", "industry"));
	/* audit ids grow; `after` pages */
	int64_t last_id = num(json_array_get(audit, json_array_size(audit) - 1), "id");
	int64_t first_id = num(json_array_get(audit, 0), "id");
	assert_true(last_id > first_id);
	json_decref(audit);
	assert_int_equal(store_audit_list(f->s, &kind_account, id, first_id, 1, &audit, &e), 0);
	assert_int_equal(json_array_size(audit), 1);
	assert_int_equal(num(json_array_get(audit, 0), "id") > first_id, 1);
	json_decref(audit);
	assert_int_equal(store_audit_list(f->s, &kind_account, id, last_id, 100, &audit, &e), 0);
	assert_int_equal(json_array_size(audit), 0);
	json_decref(audit);

	/* clearing a field, and JSON-valued fields */
	assert_int_equal(update(f->s, &kind_account, id, 0, &changed, &e,
				"{\"industry\": null, \"installed_base\": [{\"brand\": \"小森\"}]}"), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(store_audit_list(f->s, &kind_account, id, 0, 100, &audit, &e), 0);
	a = audit_find(audit, "update", "industry");
	assert_non_null(a);
	assert_string_equal(str(a, "old"), "印刷");
	assert_true(json_is_null(json_object_get(a, "new")));
	assert_true(json_is_null(json_object_get(a, "actor_id")));
	a = audit_find(audit, "update", "installed_base");
	assert_non_null(a);
	assert_int_equal(json_array_size(json_object_get(a, "old")), 0);
	assert_string_equal(str(json_array_get(json_object_get(a, "new"), 0), "brand"), "小森");
	json_decref(audit);
	assert_int_equal(update(f->s, &kind_account, id, 0, &changed, &e,
				"{\"installed_base\": [{\"brand\": \"小森\"}]}"), 0);
	assert_int_equal(changed, 0);
	r = get(f->s, &kind_account, NULL, id, 0);
	assert_int_equal(num(r, "version"), 3);
	assert_true(json_is_null(json_object_get(r, "industry")));
	json_decref(r);

	/* the audit trail is per object: another account's rows do not show */
	int64_t id2 = MK(f->s, &kind_account, "{\"name\": \"Other\"}");
	assert_int_equal(store_audit_list(f->s, &kind_account, id2, 0, 100, &audit, &e), 0);
	size_t i;
	json_t *it;
	json_array_foreach(audit, i, it)
		assert_string_not_equal(str(it, "new") ? str(it, "new") : "", "ACME 集团");
	json_decref(audit);
	assert_int_equal(update(f->s, &kind_account, 777777, 0, &changed, &e, "{\"name\": \"x\"}"),
			 DM_ENOTFOUND);
}

/* ---- concurrency ------------------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 100

struct worker {
	struct store *s;
	int n;
	int64_t ids[PER_THREAD];
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		char text[96];
		struct dm_err e;
		json_t *rec = NULL, *body;
		snprintf(text, sizeof text, "并发客户 %d-%03d", wk->n, i);
		body = json_pack("{s:s}", "name", text);
		dm_err_clear(&e);
		if (model_check(&kind_account, body, CHECK_CREATE, &rec, &e)) {
			wk->failures++;
			json_decref(body);
			continue;
		}
		json_decref(body);
		struct ins a = { &kind_account, rec, 0, 0, { 0 }, 0 };
		if (store_write(wk->s, ins_cb, &a, NULL))
			wk->failures++;
		else
			wk->ids[i] = a.id;
		json_decref(rec);
	}
	return NULL;
}

static void concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct worker wk[THREADS];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		memset(&wk[t], 0, sizeof wk[t]);
		wk[t].s = f->s;
		wk[t].n = t;
		assert_int_equal(pthread_create(&th[t], NULL, worker_main, &wk[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	int64_t all[THREADS * PER_THREAD];
	int n = 0;
	for (int t = 0; t < THREADS; t++) {
		assert_int_equal(wk[t].failures, 0);
		for (int i = 0; i < PER_THREAD; i++) {
			assert_true(wk[t].ids[i] > 0);
			all[n++] = wk[t].ids[i];
		}
	}
	qsort(all, (size_t)n, sizeof all[0], cmp64);
	for (int i = 1; i < n; i++)
		assert_true(all[i] != all[i - 1]);
	struct dm_err e;
	int64_t count = 0;
	assert_int_equal(store_count(f->s, &kind_account, &count, &e), 0);
	assert_int_equal(count, THREADS * PER_THREAD);
	struct store_query q = { .kind = &kind_account, .viewer = NULL, .limit = 2000 };
	json_t *items = list(f->s, &q);
	assert_int_equal(json_array_size(items), THREADS * PER_THREAD);
	for (size_t i = 0; i < json_array_size(items); i++)
		assert_int_equal(num(json_array_get(items, i), "id"), all[i]);
	json_decref(items);
	/* and every row survives a reopen: it was committed */
	store_close(f->s);
	f->s = NULL;
	dm_err_clear(&e);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	assert_int_equal(store_count(f->s, &kind_account, &count, &e), 0);
	assert_int_equal(count, THREADS * PER_THREAD);
}

/* ---- checkpoints off the writer ------------------------------------------------------------- */

struct many {
	int from;
	const char *notes;
};

static int many_cb(struct store *s, void *arg)
{
	struct many *m = arg;
	for (int i = 0; i < 100; i++) {
		char name[64];
		struct dm_err e;
		json_t *body, *rec = NULL;
		int64_t id;
		snprintf(name, sizeof name, "检查点客户 %05d", m->from + i);
		body = json_pack("{s:s, s:s}", "name", name, "notes", m->notes);
		dm_err_clear(&e);
		int rc = model_check(&kind_account, body, CHECK_CREATE, &rec, &e);
		json_decref(body);
		if (!rc)
			rc = store_insert(s, &kind_account, rec, 0, &id, &e);
		json_decref(rec);
		if (rc)
			return rc;
	}
	return 0;
}

/* Checkpoints keep the WAL bounded, on the checkpoint thread or, when it falls behind, the
 * writer's: ≈ 40 MB of commits (40 of 100 accounts with 3.5 KB of notes, and their audit rows)
 * leave a WAL file of at most ≈ 4,000 pages and a commit, because the checkpointed WAL is reused
 * from its start. Without checkpoints it would hold every frame. */
static void checkpoints_keep_the_wal_bounded(void **state)
{
	struct fx *f = *state;
	char notes[3501], wal[160];
	/* the test's sizes: the defaults (32 MB, 128 MB) would take hundreds of MB to show */
	struct dm_err e;
	store_close(f->s);
	store_sqlite_checkpoint_pages(1000, 4000);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	memset(notes, 'n', sizeof notes - 1);
	notes[sizeof notes - 1] = '\0';
	for (int t = 0; t < 40; t++) {
		struct many m = { t * 100, notes };
		assert_int_equal(store_write(f->s, many_cb, &m, NULL), 0);
		usleep(5000);   /* a loaded machine still gives the checkpointer its turn */
	}
	int64_t count = 0;
	assert_int_equal(store_count(f->s, &kind_account, &count, &e), 0);
	assert_int_equal(count, 4000);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	FILE *fp = fopen(wal, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fclose(fp);
	assert_true(size > 0);
	assert_true(size < 25L * 1024 * 1024);
	/* and the database file holds the rows: a fresh connection reads them after a reopen */
	sqlite3 *db = file_db(f);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM accounts WHERE notes = ?", -1,
					    &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, notes, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4000);
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_sqlite_checkpoint_pages(0, 0);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
}

/* ---- a list's keys and the accounts' revisions (migration 29) ------------------------------- */

struct keyed {
	int64_t probed[32], probed_rev[32], read[32], read_rev[32], read_ncols[32];
	int nprobed, nread;
	int have_odd;      /* the probe has the rows at odd positions */
	int have_all;      /* ... at every position */
	int stop_at;       /* the probe answers 7 at this position (-1: never) */
};

static int keyed_probe(void *arg, int64_t id, int64_t rev)
{
	struct keyed *k = arg;
	int at = k->nprobed;
	k->probed[at] = id;
	k->probed_rev[at] = rev;
	k->nprobed++;
	if (at == k->stop_at)
		return 7;
	return k->have_all || (k->have_odd && at % 2) ? STORE_PROBE_HAVE : 0;
}

static int keyed_row(void *arg, const struct store_row *r)
{
	struct keyed *k = arg;
	k->read[k->nread] = r->v[0].i;   /* id: the first selected field */
	k->read_rev[k->nread] = r->rev;
	k->read_ncols[k->nread] = (int64_t)r->n;   /* the row's columns, not its keys */
	k->nread++;
	return 0;
}

/* Every account's revision, by a probe that has every row: no row is read. */
static void revisions(struct store *s, const struct viewer *v, int64_t owner, struct keyed *k)
{
	struct dm_err e;
	struct store_query q = { .kind = &kind_account, .viewer = v, .limit = 30,
				 .probe = keyed_probe };
	q.filters[0].field = model_field(&kind_account, "owner_id");
	q.filters[0].value = json_integer(owner);
	q.nfilters = 1;
	memset(k, 0, sizeof *k);
	k->have_all = 1;
	k->stop_at = -1;
	dm_err_clear(&e);
	assert_int_equal(store_list_rows(s, &q, keyed_row, k, &e), 0);
	json_decref(q.filters[0].value);
	assert_int_equal(k->nread, 0);
}

/* A list with a probe hands the probe every row's id and revision in the list's order, and fn
 * exactly the rows the probe lacks, with their columns and the same revision. */
static void keyed_list_reads_only_what_the_probe_lacks(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f->s, &w);
	int64_t ids[6];
	for (int i = 0; i < 6; i++)
		ids[i] = MK(f->s, &kind_account, "{\"name\": \"键%d\", \"owner_id\": %lld}", i,
			    (long long)w.r1);
	for (int i = 0; i < 6; i += 2)   /* some touched, so the last touch orders them */
		MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"visit\","
		   " \"occurred_at\": \"2026-0%d-01T08:00:00Z\"}", (long long)ids[i], i + 1);
	static const char *const sorts[] = { "last_touch_at", "name", "id" };
	for (size_t s = 0; s < 3; s++) {
		struct store_query q = { .kind = &kind_account, .viewer = &w.v_m1, .limit = 30,
					 .sort = model_field(&kind_account, sorts[s]), .desc = 1 };
		q.filters[0].field = model_field(&kind_account, "owner_id");
		q.filters[0].value = json_integer(w.r1);
		q.nfilters = 1;
		json_t *plain = list(f->s, &q);
		size_t n = json_array_size(plain);
		assert_int_equal(n, 8);   /* a_r1, a_r1b and the six */
		struct keyed k;
		memset(&k, 0, sizeof k);
		k.have_odd = 1;
		k.stop_at = -1;
		q.probe = keyed_probe;
		struct dm_err e;
		dm_err_clear(&e);
		assert_int_equal(store_list_rows(f->s, &q, keyed_row, &k, &e), 0);
		assert_int_equal(k.nprobed, (int)n);
		assert_int_equal(k.nread, (int)n / 2);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(k.probed[i], num(json_array_get(plain, i), "id"));
		for (int i = 0; i < k.nread; i++) {
			assert_int_equal(k.read[i], k.probed[2 * i]);
			assert_int_equal(k.read_rev[i], k.probed_rev[2 * i]);
			assert_true(k.read_ncols[i] > 10);
		}
		/* a probe's other answer stops the list, as fn's does */
		memset(&k, 0, sizeof k);
		k.stop_at = 3;
		assert_int_equal(store_list_rows(f->s, &q, keyed_row, &k, &e), 7);
		assert_int_equal(k.nprobed, 4);
		assert_int_equal(k.nread, 3);
		json_decref(q.filters[0].value);
		json_decref(plain);
	}
	/* the touched accounts have a revision, the others (never changed since inserted) 0 */
	struct keyed k;
	revisions(f->s, &w.v_r1, w.r1, &k);
	int known = 0;
	for (int i = 0; i < k.nprobed; i++)
		known += k.probed_rev[i] != 0;
	assert_int_equal(known, 3);
}

static int64_t rev_of(struct store *s, const struct world *w, int64_t id)
{
	struct keyed k;
	revisions(s, &w->v_r1, w->r1, &k);
	for (int i = 0; i < k.nprobed; i++)
		if (k.probed[i] == id)
			return k.probed_rev[i];
	fail_msg("account %lld not listed", (long long)id);
	return 0;
}

/* Every change of an account's row changes its revision, whoever makes it: the store's
 * update, archive and restore, a new activity (the writer's batch sums), a trigger of another
 * table, SQL by hand. */
static void account_revisions_change_with_every_write(void **state)
{
	struct fx *f = *state;
	struct world w;
	struct dm_err e;
	build_world(f->s, &w);
	int64_t a = w.a_r1, seen[8];
	int n = 0;
	seen[n++] = rev_of(f->s, &w, a);
	assert_int_equal(seen[0], 0);   /* inserted, never changed */
	assert_int_equal(update(f->s, &kind_account, a, w.r1, NULL, NULL, "{\"phone\": \"1\"}"), 0);
	seen[n++] = rev_of(f->s, &w, a);
	MK(f->s, &kind_activity, "{\"account_id\": %lld, \"channel\": \"visit\", \"occurred_at\":"
	   " \"2026-03-01T08:00:00Z\"}", (long long)a);
	seen[n++] = rev_of(f->s, &w, a);
	MK(f->s, &kind_opportunity, "{\"account_id\": %lld, \"name\": \"单\", \"owner_id\": %lld}",
	   (long long)a, (long long)w.r1);   /* the account's open count, by a trigger */
	seen[n++] = rev_of(f->s, &w, a);
	sqlite3 *db = file_db(f);
	char sql[128];
	snprintf(sql, sizeof sql, "UPDATE accounts SET notes = 'by hand' WHERE id = %lld",
		 (long long)a);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	/* even an UPDATE that sets a column to its own value */
	snprintf(sql, sizeof sql, "UPDATE accounts SET notes = notes WHERE id = %lld", (long long)a);
	sqlite3_close(db);
	dm_err_clear(&e);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	seen[n++] = rev_of(f->s, &w, a);
	db = file_db(f);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	seen[n++] = rev_of(f->s, &w, a);
	assert_int_equal(set_archived(f->s, &kind_account, a, 1, w.admin, NULL), 0);
	assert_int_equal(set_archived(f->s, &kind_account, a, 0, w.admin, NULL), 0);
	seen[n++] = rev_of(f->s, &w, a);
	for (int i = 1; i < n; i++)
		for (int j = 0; j < i; j++)
			if (seen[i] == seen[j])
				fail_msg("revision %d equals revision %d (%lld)", i, j,
					 (long long)seen[i]);
}

/* The set-wise statements of a bulk load of activities read the load's rows by id, each row's
 * account by id, and nothing whole: SQLite, guessing that a quarter of 10M activities follow
 * ?1, built a Bloom filter of a million accounts (a scan of the table, 0.3-0.6 s per load at
 * full scale, whatever the load's size) for the segment sums. */
static void bulk_activity_sums_scan_nothing_whole(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = file_db(f);
	/* the full scale's sizes, as ANALYZE would have found them */
	assert_int_equal(sqlite3_exec(db, "ANALYZE; DELETE FROM sqlite_stat1;"
				      "INSERT INTO sqlite_stat1 VALUES"
				      " ('accounts', 'accounts_owner_unwon', '874419 1749 87'),"
				      " ('accounts', 'accounts_owner_agenda', '1000000 2000 49 1 1 1 1'),"
				      " ('accounts', 'accounts_owner_touch_sort', '1000000 2000 1'),"
				      " ('accounts', 'accounts_owner', '1000000 2000 1'),"
				      " ('accounts', 'accounts_name_key', '1000000 1'),"
				      " ('activities', 'activities_opportunity_quotes', '10021223 11 3 3'),"
				      " ('activities', 'activities_account_at', '10021223 11 1 1 1 1 1'),"
				      " ('activities', 'activities_when', '10021223 2 1 1'),"
				      " ('activities', 'activities_user_at', '10021223 20043 1 1 1 1');"
				      "ANALYZE sqlite_schema;", NULL, NULL, NULL), SQLITE_OK);
	for (const char *const *sql = sqlite_bulk_activities; *sql; sql++) {
		char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", *sql);
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_int64(st, 1, 9999000);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(st, 3);
			if (strstr(detail, "BLOOM") || (strstr(detail, "SCAN ") &&
			    (strstr(detail, "SCAN a") || strstr(detail, "SCAN t") ||
			     strstr(detail, "SCAN accounts") || strstr(detail, "SCAN activities"))))
				fail_msg("statement %d: %s", (int)(sql - sqlite_bulk_activities), detail);
		}
		sqlite3_finalize(st);
		sqlite3_free(q);
	}
	sqlite3_close(db);
	struct dm_err e;
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
}

static int64_t count_of(sqlite3 *db, const char *sql);

/* The page numbers of the frames in the WAL file of path, as a comma-separated list ",3,17,". */
static char *wal_pages_of(const char *path)
{
	char wal[600];
	unsigned char h[32];
	struct buf b = BUF_INIT(0);
	snprintf(wal, sizeof wal, "%s-wal", path);
	FILE *fp = fopen(wal, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(h, 1, sizeof h, fp), sizeof h);
	unsigned long page = (unsigned long)h[8] << 24 | h[9] << 16 | h[10] << 8 | h[11];
	buf_printf(&b, ",");
	while (fread(h, 1, 24, fp) == 24) {
		buf_printf(&b, "%lu,", (unsigned long)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3]);
		assert_int_equal(fseek(fp, (long)page, SEEK_CUR), 0);
	}
	fclose(fp);
	return buf_detach(&b, NULL);
}

/* A batch's flush (sqlite_bulk_activities) as the writer runs it: the activities inserted
 * with the triggers quiet, then the set-wise statements from the first one's id. */
static void flush_batch(sqlite3 *db, const char *inserts)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_exec(db, "BEGIN; INSERT INTO activity_defer (first_id) SELECT"
				      " max(id) + 1 FROM activities", NULL, NULL, NULL), SQLITE_OK);
	int64_t from = count_of(db, "SELECT first_id FROM activity_defer");
	assert_int_equal(sqlite3_exec(db, inserts, NULL, NULL, NULL), SQLITE_OK);
	for (const char *const *sql = sqlite_bulk_activities; *sql; sql++) {
		assert_int_equal(sqlite3_prepare_v2(db, *sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_int64(st, 1, from);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	assert_int_equal(sqlite3_exec(db, "DELETE FROM activity_defer; COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
}

/* The flush moves a touch pair's first touch only where the batch has an earlier one: the
 * index by first touch (touch_pairs_first) is left unwritten by activities later than their
 * pairs' first touches, as POST's nearly all are (an upsert that names first_at in its SET
 * deletes and inserts the pair's index entry again, a page of the company's index dirtied
 * per activity at full scale), and an earlier activity still moves it. */
static void flush_leaves_the_first_touch_index_alone(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = file_db(f);
	/* 3,000 accounts touched by user 7 an hour apart, each pair through the triggers: the
	 * index by first touch spans dozens of pages */
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0;"
				      "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i"
				      "  WHERE n < 3000) INSERT INTO activities (created_at, updated_at,"
				      "  account_id, channel, occurred_at, user_id) SELECT"
				      "  '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', n,"
				      "  'phone', strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', '+' || n ||"
				      "  ' hours'), 7 FROM i;"
				      "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count_of(db, "SELECT count(*) FROM touch_pairs"), 6000);
	/* a batch of 20 later activities on accounts spread over the index */
	flush_batch(db, "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE"
		    "  n < 19) INSERT INTO activities (created_at, updated_at, account_id, channel,"
		    "  occurred_at, user_id) SELECT '2026-06-01T00:00:00.000Z',"
		    "  '2026-06-01T00:00:00.000Z', 1 + n * 150, 'visit',"
		    "  '2026-06-01T08:00:00.000Z', 7 FROM i");
	assert_int_equal(count_of(db, "SELECT count(*) FROM touch_pairs WHERE last_at ="
				      " '2026-06-01T08:00:00.000Z' AND first_at < '2026-01-01'"), 40);
	char *wal = wal_pages_of(f->path);
	sqlite3_stmt *st = NULL;
	int index_pages = 0;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT pageno FROM dbstat WHERE name ="
					    " 'touch_pairs_first'", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char page[32];
		snprintf(page, sizeof page, ",%d,", sqlite3_column_int(st, 0));
		index_pages++;
		if (strstr(wal, page))
			fail_msg("page %d of touch_pairs_first written by the flush (WAL pages %s)",
				 sqlite3_column_int(st, 0), wal);
	}
	sqlite3_finalize(st);
	assert_true(index_pages >= 20);
	assert_non_null(strchr(wal + 1, ','));   /* the batch itself is in the WAL */
	free(wal);
	/* an earlier activity moves both of its pairs' first touch, in the index too */
	flush_batch(db, "INSERT INTO activities (created_at, updated_at, account_id, channel,"
		    "  occurred_at, user_id) VALUES ('2026-06-02T00:00:00.000Z',"
		    "  '2026-06-02T00:00:00.000Z', 151, 'email', '2024-05-01T00:00:00.000Z', 7)");
	assert_int_equal(count_of(db, "SELECT count(*) FROM touch_pairs WHERE account_id = 151 AND"
				      " first_at = '2024-05-01T00:00:00.000Z' AND last_at ="
				      " '2026-06-01T08:00:00.000Z'"), 2);
	assert_int_equal(count_of(db, "SELECT account_id FROM touch_pairs INDEXED BY"
				      " touch_pairs_first WHERE user_id = -1 ORDER BY first_at LIMIT 1"),
			 151);
	assert_int_equal(count_of(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
				      "integrity_check <> 'ok'"), 0);
	sqlite3_close(db);
	struct dm_err e;
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
}

/* The plan of one statement on db, its lines joined by " | " into out. */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t size)
{
	char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	size_t n = 0;
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW && n + 1 < size)
		n += (size_t)snprintf(out + n, size - n, "%s | ",
				      (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_free(q);
}

/* Migration 28: the planned accounts' quiet (a rep's agenda) is a range of its own index, read
 * from the index alone and in (since, id) order, counted and walked alike; it was a filter of
 * every plan of the owner's in accounts_owner_due, in no order. */
static void agenda_quiet_plans_a_range(void **state)
{
	struct fx *f = *state;
	struct viewer v = { .user_id = 4, .role = ROLE_REP, .team_id = 2 };
	struct agenda_range r = { AGENDA_QUIET_PLANNED, NULL, "2026-08-28T16:00:00.000Z" };
	char plan[1024];
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (int count = 0; count < 2; count++) {
		struct qb q;
		qb_init(&q, SQL_SQLITE);
		sql_agenda_range(&q, &v, 4, &r, count);
		plan_of(db, q.sql.data, plan, sizeof plan);
		if (!strstr(plan, "SEARCH t USING COVERING INDEX accounts_owner_quiet_plan "
				  "(owner_id=? AND <expr><?)") || strstr(plan, "TEMP B-TREE"))
			fail_msg("%s: %s", count ? "count" : "walk", plan);
		if (!count && !strstr(q.sql.data, " ORDER BY " QUIET_PLANNED_SINCE("t.") ", t.id"))
			fail_msg("the walk is not in (since, id) order: %s", q.sql.data);
		qb_release(&q);
	}
	sqlite3_close(db);
}

/* Migration 26: a new activity takes one index entry under its account, not two (each on a
 * random page the commit writes), and one under its user, not two; the one by account serves
 * what both did: an account's latest live activity in index order (no sort), its touch count
 * and last touch, a pair's first and last touch, the owner's last touch (the sweep), read from
 * the index alone; the one by user the accounts a user touched in a period; at the full
 * scale's sizes. */
static void activities_one_index_by_account(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = file_db(f);
	/* one index led by each column */
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT i.name, count(*) FROM"
					    " pragma_index_list('activities') l JOIN"
					    " pragma_index_info(l.name) i ON i.seqno = 0 GROUP BY 1",
					    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_int(st, 1) != 1)
			fail_msg("%d indexes of the activities begin with %s",
				 sqlite3_column_int(st, 1), (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(db, "ANALYZE; DELETE FROM sqlite_stat1;"
				      "INSERT INTO sqlite_stat1 VALUES"
				      " ('activities', 'activities_opportunity_quotes', '10021223 11 3 3'),"
				      " ('activities', 'activities_account_at', '10021223 11 1 1 1 1 1'),"
				      " ('activities', 'activities_when', '10021223 2 1 1'),"
				      " ('activities', 'activities_user_at', '10021223 20043 1 1 1 1');"
				      "ANALYZE sqlite_schema;", NULL, NULL, NULL), SQLITE_OK);
	static const struct {
		const char *sql, *want;
	} q[] = {
		{ "SELECT la.next_touch_on, la.contact_ids FROM activities la WHERE la.account_id = 7"
		  " AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1",
		  "SEARCH la USING INDEX activities_account_at (account_id=?) | " },
		{ "SELECT count(*) FROM activities da WHERE da.account_id = 7 AND da.effective = 1"
		  " AND da.archived_at IS NULL",
		  "SEARCH da USING COVERING INDEX activities_account_at (account_id=?) | " },
		{ "SELECT max(da.occurred_at) FROM activities da WHERE da.account_id = 7 AND"
		  " da.effective = 1 AND da.archived_at IS NULL",
		  "SEARCH da USING COVERING INDEX activities_account_at (account_id=?) | " },
		{ "SELECT min(x.occurred_at), max(x.occurred_at) FROM activities x WHERE x.account_id"
		  " = 7 AND x.effective = 1 AND x.archived_at IS NULL GROUP BY x.account_id",
		  "SEARCH x USING COVERING INDEX activities_account_at (account_id=?) | " },
		{ "SELECT x.account_id FROM activities x WHERE x.effective = 1 AND x.archived_at IS"
		  " NULL AND x.user_id = 3 AND x.occurred_at >= '2026-01-01' AND x.occurred_at <"
		  " '2026-02-01'",
		  "SEARCH x USING COVERING INDEX activities_user_at (user_id=? AND occurred_at>? AND"
		  " occurred_at<?) | " },
		{ "SELECT max(x.occurred_at) FROM activities x WHERE x.account_id = 7 AND x.user_id ="
		  " 3 AND x.effective = 1 AND x.archived_at IS NULL",
		  "SEARCH x USING COVERING INDEX activities_account_at (account_id=?) | " },
	};
	char plan[1024];
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		plan_of(db, q[i].sql, plan, sizeof plan);
		if (strcmp(plan, q[i].want))
			fail_msg("%s:\n  plan %s\n  want %s", q[i].sql, plan, q[i].want);
	}
	sqlite3_close(db);
	struct dm_err e;
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
}

/* ---- POST /activities' batches: their activities' sums deferred to the batch's end ---------- */

struct defer_job {
	struct world *w;
	int n, i;      /* thread, job */
	int64_t id;    /* the first activity it inserted */
};

/* Job i of thread n: one activity; or one, a read (the pending sums go in first), another; the
 * same and then a failure (rolled back to the job's savepoint, or whole when alone). Each waits
 * a little inside the writer, so that the other threads' jobs queue up into its batch. */
static int defer_cb(struct store *s, void *arg)
{
	struct defer_job *j = arg;
	struct world *w = j->w;
	struct act_load l = { w, 0, 0, { 0 } };
	const int64_t accounts[] = { w->a_r1, w->a_r1b, w->a_r2, w->a_m1, w->a_r3, w->a_m2, w->a_r4 };
	const int64_t users[] = { w->r1, w->r1, w->r2, w->m1, w->r3, w->m2, w->r4 };
	static const char *const channels[] = { "phone", "visit", "wechat" };
	int k = (j->n * 3 + j->i) % 7, kind = j->i % 6, rc;
	char at[40];
	json_t *acc = NULL;
	snprintf(at, sizeof at, "2026-03-%02dT%02d:00:00.000Z", 1 + (j->n * 13 + j->i * 7) % 28,
		 (j->n + j->i * 5) % 24);
	usleep(300);
	rc = act_insert(s, &l, accounts[k], users[k], at, j->i % 5 != 0, channels[j->i % 3],
			j->i % 4 == 0 ? "2026-05-01" : NULL);
	if (rc || kind < 3)
		return rc;
	if ((rc = store_get(s, &kind_account, NULL, accounts[k], 0, &acc, &l.e)))
		return rc;
	json_decref(acc);
	at[9] = '5';   /* the same day and hour in 2025: an earlier first touch */
	if (kind != 5 && (rc = act_insert(s, &l, accounts[(k + 1) % 7], users[(k + 1) % 7], at, 1,
					  "email", NULL)))
		return rc;
	return kind >= 4 ? DM_ECONFLICT : 0;
}

struct defer_thread {
	struct store *s;
	struct world *w;
	int n, ok, failed;
};

static void *defer_main(void *arg)
{
	struct defer_thread *t = arg;
	for (int i = 0; i < 24; i++) {
		struct defer_job j = { t->w, t->n, i, 0 };
		if (store_write(t->s, defer_cb, &j, NULL))
			t->failed++;
		else
			t->ok++;
	}
	return NULL;
}

/* g: f's activities again, in f's order (ids and ties alike), each through the triggers */
struct replay {
	const char *from;
	struct dm_err e;
};

static int replay_cb(struct store *s, void *arg)
{
	struct replay *r = arg;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	assert_int_equal(sqlite3_open_v2(r->from, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT account_id, user_id, channel, occurred_at,"
					    " effective, next_touch_on FROM activities ORDER BY id",
					    -1, &st, NULL), SQLITE_OK);
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id;
		char text[320];
		const char *next = (const char *)sqlite3_column_text(st, 5);
		snprintf(text, sizeof text, "{\"account_id\": %lld, \"channel\": \"%s\", "
			 "\"occurred_at\": \"%s\", \"effective\": %s, \"summary\": \"s\"%s%s%s}",
			 (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 2),
			 sqlite3_column_text(st, 3), sqlite3_column_int(st, 4) ? "true" : "false",
			 next ? ", \"next_touch_on\": \"" : "", next ? next : "", next ? "\"" : "");
		json_t *rec = checked(&kind_activity, CHECK_CREATE, text);
		json_object_set_new(rec, "user_id", json_integer(sqlite3_column_int64(st, 1)));
		rc = store_import_insert(s, &kind_activity, rec, sqlite3_column_int64(st, 1), NULL, 0,
					 &id, &r->e);
		json_decref(rec);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static void deferred_activity_sums_equal_the_triggers(void **state)
{
	struct fx *f = *state, *g = NULL;
	struct world w, w2;
	struct defer_thread t[6];
	pthread_t th[6];
	int ok = 0, failed = 0;
	assert_int_equal(setup((void **)&g), 0);
	build_world(f->s, &w);
	build_world(g->s, &w2);
	for (int i = 0; i < 6; i++) {
		t[i] = (struct defer_thread){ f->s, &w, i, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, defer_main, &t[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		ok += t[i].ok;
		failed += t[i].failed;
	}
	assert_int_equal(ok + failed, 6 * 24);
	assert_int_equal(failed, 6 * 8);
	struct replay r = { f->path, { 0 } };
	assert_int_equal(store_write(g->s, replay_cb, &r, NULL), 0);
	/* every job's activities, none of the failed ones' */
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM activities),"
					    " (SELECT count(*) FROM activity_defer)", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 6 * (12 + 4 * 2));
	assert_int_equal(sqlite3_column_int(st, 1), 0);   /* nothing left pending */
	sqlite3_finalize(st);
	sqlite3_close(db);
	char *got = touch_state_of(f->path), *want = touch_state_of(g->path);
	assert_non_null(strstr(want, "seg|"));
	assert_string_equal(got, want);
	free(got);
	free(want);
	teardown((void **)&g);
}

/* ---- the funnel's sums (store_funnel: fixed statements, summed in C) -------------------------- */

static uint64_t fx_rand(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static json_t *row_of(json_t *rows, const char *key, const char *value)
{
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r) {
		const char *v = json_string_value(json_object_get(r, key));
		if (v && !strcmp(v, value))
			return r;
	}
	return NULL;
}

static int64_t int_in(json_t *r, const char *k)
{
	return json_integer_value(json_object_get(r, k));
}

/* what the four named queries answer, read as the funnel reads them */
static void funnel_by_named_queries(struct store *s, const struct an_params *p,
				    struct funnel_sums *out)
{
	static const char *const names[] = { "funnel_open", "funnel_closed", "funnel_reach",
					     "stage_days" };
	json_t *rows[4], *r;
	struct dm_err e;
	size_t i;
	memset(out, 0, sizeof *out);
	for (int q = 0; q < 4; q++)
		assert_int_equal(store_analytics(s, names[q], p, &rows[q], &e), 0);
	for (int k = 0; k < FUNNEL_STAGES; k++) {
		r = row_of(rows[0], "stage", model_stages[k]);
		out->open[k].count = int_in(r, "count");
		out->open[k].amount = int_in(r, "amount");
		out->open[k].weighted = int_in(r, "weighted_amount");
		r = row_of(rows[3], "stage", model_stages[k]);
		out->stays[k].stays = int_in(r, "stays");
		out->stays[k].has_avg = json_is_real(json_object_get(r, "avg_days"));
		out->stays[k].avg_days = json_real_value(json_object_get(r, "avg_days"));
	}
	struct funnel_closed *c[2] = { &out->won, &out->lost };
	for (int w = 0; w < 2; w++) {
		r = row_of(rows[1], "stage", w ? "lost" : "won");
		c[w]->count = int_in(r, "count");
		c[w]->amount = int_in(r, "amount");
		c[w]->has_cycle = json_is_real(json_object_get(r, "avg_cycle_days"));
		c[w]->avg_cycle_days = json_real_value(json_object_get(r, "avg_cycle_days"));
	}
	json_array_foreach(rows[2], i, r) {
		int64_t rank = int_in(r, "rank");
		if (rank >= 0)
			out->reach[rank < 7 ? rank : 7] += int_in(r, "n");
	}
	for (int q = 0; q < 4; q++)
		json_decref(rows[q]);
}

static void funnel_sums_equal(const struct funnel_sums *a, const struct funnel_sums *b,
			      const char *label)
{
	int same = 1;
	for (int k = 0; k < FUNNEL_STAGES; k++)
		same &= a->open[k].count == b->open[k].count && a->open[k].amount ==
			b->open[k].amount && a->open[k].weighted == b->open[k].weighted &&
			a->stays[k].stays == b->stays[k].stays && a->stays[k].has_avg ==
			b->stays[k].has_avg && a->stays[k].avg_days == b->stays[k].avg_days;
	const struct funnel_closed *ca[2] = { &a->won, &a->lost }, *cb[2] = { &b->won, &b->lost };
	for (int w = 0; w < 2; w++)
		same &= ca[w]->count == cb[w]->count && ca[w]->amount == cb[w]->amount &&
			ca[w]->has_cycle == cb[w]->has_cycle &&
			ca[w]->avg_cycle_days == cb[w]->avg_cycle_days;
	for (int r = 0; r < 8; r++)
		same &= a->reach[r] == b->reach[r];
	if (!same)
		fail_msg("%s: store_funnel differs from the named queries", label);
}

/* store_funnel's SQLite path (statements of fixed text, one per range of the period's cover,
 * the signed rows summed in C) answers what the four named queries answer, for random rows of
 * the funnel's tables: keys of the company, a team and users; stages the funnel does not show;
 * ranks above 7; cents buckets weighted by rates (none, all, a stage given twice); counts that
 * cancel out (HAVING sum(n) <> 0 leaves such a stage out, amounts and all); days from two years
 * ago to after today (the cover's ranges less the free buckets after today); periods of a day,
 * across months and years, whole years, and this year so far. */
static void funnel_sums_equal_the_named_queries(void **state)
{
	static const char *const stages[] = { "interest", "brewing", "design", "compare", "commit",
					       "use", "won", "lost", "other" };
	static const int64_t keys[] = { -1, -3, 5, 7 };
	struct fx *f = *state;
	sqlite3 *db = NULL;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char today_s[DATE_STR_LEN], d[DATE_STR_LEN], sql[512];
	int64_t today;
	date_today_offset(480, today_s);
	assert_int_equal(date_to_days(today_s, &today), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	for (size_t ki = 0; ki < sizeof keys / sizeof keys[0]; ki++) {
		long long key = (long long)keys[ki];
		for (int i = 0; i < 40; i++) {
			static const int cents[] = { 0, 1, 37, 49, 50, 99 };
			int64_t n = (int64_t)(fx_rand(&x) % 9) - 3;
			int c = cents[fx_rand(&x) % 6];
			snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO agg_open (owner_id, stage, cents, "
				 "n, amount) VALUES (%lld, '%s', %d, %lld, %lld)", key,
				 stages[fx_rand(&x) % 9], c, (long long)n,
				 (long long)(n * (int64_t)(fx_rand(&x) % 100000) * 100 + n * c));
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		}
		/* a stage whose counts cancel out, its amounts not */
		snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO agg_open (owner_id, stage, cents, n, "
			 "amount) VALUES (%lld, 'design', 3, 2, 70003), (%lld, 'design', 4, -2, -10)",
			 key, key);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		for (int i = 0; i < 400; i++) {
			int64_t day = today - 800 + (int64_t)(fx_rand(&x) % 900);
			int64_t n = (int64_t)(fx_rand(&x) % 5) + (i % 7 == 0 ? -4 : 1);
			date_from_days(day, d);
			snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO agg_closed (owner_id, day, stage, "
				 "n, amount, cycle_ms) VALUES (%lld, '%s', '%s', %lld, %lld, %lld)", key,
				 d, stages[6 + fx_rand(&x) % 3], (long long)n,
				 (long long)(fx_rand(&x) % 10000000), (long long)(fx_rand(&x) % 900000000000));
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO agg_reach (owner_id, day, rank, n) "
				 "VALUES (%lld, '%s', %d, %lld)", key, d, (int)(fx_rand(&x) % 10),
				 (long long)n);
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO agg_stays (owner_id, day, stage, n, "
				 "stay_ms) VALUES (%lld, '%s', '%s', %lld, %lld)", key, d,
				 stages[i % 3 ? fx_rand(&x) % 6 : fx_rand(&x) % 9], (long long)n,
				 (long long)(fx_rand(&x) % 90000000000));
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			/* and the same counts taken away the next day: periods holding both days see
			 * them cancel out */
			if (i % 5 == 0) {
				date_from_days(day + 1, d);
				snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO agg_closed (owner_id, day, "
					 "stage, n, amount, cycle_ms) VALUES (%lld, '%s', 'lost', %lld, 5, "
					 "7); INSERT OR IGNORE INTO agg_stays (owner_id, day, stage, n, "
					 "stay_ms) VALUES (%lld, '%s', 'brewing', %lld, 11)", key, d,
					 (long long)-n, key, d, (long long)-n);
				assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			}
		}
	}
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct an_rate all[] = { { "interest", 5 }, { "brewing", 10 }, { "design", 20 },
				 { "compare", 30 }, { "commit", 50 }, { "use", 80 }, { "won", 100 },
				 { "lost", 0 } };
	struct an_rate twice[] = { { "design", 33 }, { "use", 7 }, { "design", 90 } };
	struct { struct an_rate *r; size_t n; } rates[] = { { all, 8 }, { NULL, 0 }, { twice, 3 } };
	int64_t periods[80][2];
	int np = 0;
	int y;
	unsigned m, dd;
	civil_from_days(today, &y, &m, &dd);
	periods[np][0] = days_from_civil(y, 1, 1), periods[np++][1] = today;   /* the default */
	periods[np][0] = days_from_civil(y, 1, 1), periods[np++][1] = days_from_civil(y, 12, 31);
	periods[np][0] = days_from_civil(y - 1, 1, 1), periods[np++][1] = days_from_civil(y - 1, 12, 31);
	periods[np][0] = days_from_civil(y - 1, m, 1), periods[np++][1] = today + 40;
	periods[np][0] = today, periods[np++][1] = today;
	periods[np][0] = today - 700, periods[np++][1] = today + 90;
	while (np < 80) {
		int64_t from = today - 850 + (int64_t)(fx_rand(&x) % 960);
		int64_t len = np % 3 ? (int64_t)(fx_rand(&x) % 500) : (int64_t)(fx_rand(&x) % 40);
		periods[np][0] = from, periods[np++][1] = from + len;
	}
	for (int i = 0; i < np; i++) {
		for (size_t ki = 0; ki < sizeof keys / sizeof keys[0]; ki++) {
			struct an_params p;
			struct funnel_sums got, want;
			struct dm_err e;
			char label[160];
			memset(&p, 0, sizeof p);
			if (keys[ki] == -1) {
				p.scope = SCOPE_COMPANY;
			} else if (keys[ki] < 0) {
				p.scope = SCOPE_TEAM;
				p.team_id = -1 - keys[ki];
			} else {
				p.scope = SCOPE_ME;
				p.user_id = keys[ki];
			}
			date_from_days(periods[i][0], p.from_day);
			date_from_days(periods[i][1], p.to_day);
			p.rates = rates[(size_t)i % 3].r;
			p.nrates = rates[(size_t)i % 3].n;
			snprintf(label, sizeof label, "key %lld, %s..%s, rates %d", (long long)keys[ki],
				 p.from_day, p.to_day, i % 3);
			assert_int_equal(store_funnel(f->s, &p, &got, &e), 0);
			funnel_by_named_queries(f->s, &p, &want);
			funnel_sums_equal(&got, &want, label);
		}
	}
}

/* ---- the sign-in generation from the writer's last commit (sqlite.c, gen_known) ------------- */

struct sess_put {
	const char *hash;
	int64_t user;
	struct dm_err e;
};

static int sess_put_cb(struct store *s, void *arg)
{
	struct sess_put *p = arg;
	return store_session_put(s, p->hash, p->user, "csrf", time_now_ms(), &p->e);
}

static void other_connection(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* After a commit of the store's writer, a session is served without reading the generation
 * (nothing was committed since); a change by another connection (another process, as the
 * command line writes) is seen at the next look-up all the same, and the writer's next commit
 * serves them without a read again. */
static void session_generation_from_the_last_commit(void **state)
{
	struct fx *f = *state;
	struct store_session ss;
	struct dm_err e;
	char h1[65], h2[65], sql[256];
	memset(h1, 'a', 64);
	memset(h2, 'b', 64);
	h1[64] = h2[64] = 0;
	int64_t u = MK(f->s, &kind_user, "{\"username\": \"gen1\", \"role\": \"admin\"}");
	struct sess_put p = { h1, u, { 0 } };
	assert_int_equal(store_write(f->s, sess_put_cb, &p, NULL), 0);
	assert_int_equal(store_session_get(f->s, h1, &ss, &e), 0);
	p.hash = h2;
	assert_int_equal(store_write(f->s, sess_put_cb, &p, NULL), 0);
	long before = store_sqlite_gen_reads();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_session_get(f->s, h1, &ss, &e), 0);
		assert_int_equal(ss.user_id, u);
		assert_int_equal(ss.viewer.role, ROLE_ADMIN);
		assert_int_equal(store_session_get(f->s, h2, &ss, &e), 0);
	}
	assert_int_equal(store_sqlite_gen_reads() - before, 0);

	snprintf(sql, sizeof sql, "DELETE FROM sessions WHERE token_hash = '%s'", h1);
	other_connection(f->path, sql);   /* signed out by another process */
	assert_int_equal(store_session_get(f->s, h1, &ss, &e), DM_ENOTFOUND);
	assert_true(store_sqlite_gen_reads() > before);
	snprintf(sql, sizeof sql, "UPDATE users SET role = 'partner' WHERE id = %lld", (long long)u);
	other_connection(f->path, sql);
	assert_int_equal(store_session_get(f->s, h2, &ss, &e), 0);
	assert_int_equal(ss.viewer.role, ROLE_PARTNER);

	p.hash = h1;   /* the writer's next commit */
	assert_int_equal(store_write(f->s, sess_put_cb, &p, NULL), 0);
	before = store_sqlite_gen_reads();
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_session_get(f->s, h1, &ss, &e), 0);
		assert_int_equal(ss.viewer.role, ROLE_PARTNER);
		assert_int_equal(store_session_get(f->s, h2, &ss, &e), 0);
		assert_int_equal(ss.viewer.role, ROLE_PARTNER);
	}
	assert_int_equal(store_sqlite_gen_reads() - before, 0);
	snprintf(sql, sizeof sql, "UPDATE users SET active = 0 WHERE id = %lld", (long long)u);
	other_connection(f->path, sql);
	assert_int_equal(store_session_get(f->s, h1, &ss, &e), 0);
	assert_int_equal(ss.active, 0);
}

/* ---- the WAL's frames in few writes (sqlite_walbuf.c) ---------------------------------------- */

struct many_accounts {
	int n;
	struct dm_err e;
};

static int many_accounts_cb(struct store *s, void *arg)
{
	struct many_accounts *m = arg;
	for (int i = 0; i < m->n; i++) {
		char text[256];
		int64_t id;
		snprintf(text, sizeof text, "{\"name\": \"Walbuf %04d %s\"}", i,
			 "a name long enough to fill pages of the table and its indexes");
		json_t *rec = checked(&kind_account, CHECK_CREATE, text);
		int rc = store_insert(s, &kind_account, rec, 0, &id, &m->e);
		json_decref(rec);
		if (rc)
			return rc;
	}
	return 0;
}

static int64_t count_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A commit of many pages hands its frames to the WAL file in a few writes (two a page before:
 * each frame's header, then its page), and they are there for another process's connection
 * (the default VFS) once store_write returns, and after the store is opened again. */
static void wal_frames_in_few_writes(void **state)
{
	struct fx *f = *state;
	struct many_accounts m = { 300, { 0 } };
	assert_non_null(sqlite_walbuf_vfs());
	long before = sqlite_walbuf_writes();
	assert_int_equal(store_write(f->s, many_accounts_cb, &m, NULL), 0);
	long writes = sqlite_walbuf_writes() - before;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(count_of(db, "SELECT count(*) FROM accounts WHERE name LIKE 'Walbuf %'"),
			 300);
	sqlite3_close(db);
	/* 300 accounts, their indexes and audit rows: dozens of pages, two writes each before */
	if (writes > 4)
		fail_msg("%ld writes to the WAL for one commit", writes);
	store_close(f->s);
	f->s = NULL;
	struct dm_err e;
	assert_int_equal(store_open(f->path, &f->s, &e), 0);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(count_of(db, "SELECT count(*) FROM accounts WHERE name LIKE 'Walbuf %'"),
			 300);
	assert_int_equal(count_of(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
				      "integrity_check <> 'ok'"), 0);
	sqlite3_close(db);
}

/* A transaction larger than its connection's page cache spills pages into the WAL before its
 * commit and reads them back from there: the buffered frames are written before any read. */
static void wal_buffer_read_back_inside_a_transaction(void **state)
{
	struct fx *f = *state;
	char path[160];
	sqlite3 *db = NULL, *other = NULL;
	snprintf(path, sizeof path, "%s/spill.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 sqlite_walbuf_vfs()), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				      "PRAGMA cache_size=10; CREATE TABLE t (k INTEGER PRIMARY KEY,"
				      " v TEXT); CREATE INDEX t_v ON t(v); BEGIN;"
				      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
				      " WHERE i < 3000) INSERT INTO t SELECT i, printf('%08d', i * 7919 %"
				      " 3001) || printf('%300s', '') FROM n;", NULL, NULL, NULL), SQLITE_OK);
	long spilled = sqlite_walbuf_writes();
	assert_int_equal(count_of(db, "SELECT count(*) FROM t"), 3000);
	assert_int_equal(count_of(db, "SELECT sum(k) FROM t INDEXED BY t_v WHERE v > ''"),
			 3000 * 3001 / 2);
	assert_int_equal(sqlite3_exec(db, "UPDATE t SET v = v || 'x' WHERE k % 3 = 0; COMMIT;", NULL,
				      NULL, NULL), SQLITE_OK);
	assert_true(sqlite_walbuf_writes() > spilled);
	assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(count_of(other, "SELECT count(*) FROM t WHERE v LIKE '%x'"), 1000);
	assert_int_equal(count_of(other, "SELECT count(*) FROM pragma_integrity_check WHERE "
					 "integrity_check <> 'ok'"), 0);
	sqlite3_close(other);
	sqlite3_close(db);
	snprintf(path, sizeof path, "%s/spill.db", f->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/spill.db-wal", f->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/spill.db-shm", f->dir);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(migrate_sets_version, setup, teardown),
		cmocka_unit_test_setup_teardown(wal_frames_in_few_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(wal_buffer_read_back_inside_a_transaction, setup,
						teardown),
		cmocka_unit_test_setup_teardown(deferred_activity_sums_equal_the_triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_activity_sums_scan_nothing_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(flush_leaves_the_first_touch_index_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(activities_one_index_by_account, setup, teardown),
		cmocka_unit_test_setup_teardown(agenda_quiet_plans_a_range, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_newer_than_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(open_refuses_unreachable_postgres_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(insert_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(writes_only_inside_store_write, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_callback_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(visibility_of_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(sub_team_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(in_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(contacts_follow_their_account, setup, teardown),
		cmocka_unit_test_setup_teardown(directory_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(list_pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(name_search, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_load_keeps_the_name_index, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_load_keeps_the_segment_sums, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_load_builds_the_indexes_at_its_end, setup, teardown),
		cmocka_unit_test_setup_teardown(owner_history_rows_as_written, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_load_of_activities_keeps_their_tables, setup,
						teardown),
		cmocka_unit_test_setup_teardown(duplicate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_username_names_the_right_user, setup, teardown),
		cmocka_unit_test_setup_teardown(archived_rows_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(update_versions_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(checkpoints_keep_the_wal_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(session_generation_from_the_last_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(funnel_sums_equal_the_named_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(keyed_list_reads_only_what_the_probe_lacks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(account_revisions_change_with_every_write, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
