/* test_records.c — unit tests of src/domain/records: the sales rules behind rec_create,
 * rec_update, rec_list, rec_archive and rec_restore, as each role meets them. Each test gets a
 * fresh SQLite file in a temporary directory and a small company built by the system viewer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/jsontext.h"
#include "base/timeutil.h"
#include "base/log.h"
#include "domain/auth.h"
#include "domain/followup.h"
#include "domain/records.h"
#include "domain/settings.h"
#include "domain/method.h"
#include "model/model.h"
#include "store/store.h"

#define STRONG_PW "Tq7#vLp9-xZ2!"

/* ---- the company ------------------------------------------------------------------------------
 * teams: north (manager m1) ⊃ north-east; south (manager m2)
 * users: admin; m1, r1 in north; r2 in north-east; m2, r3 in south; a partner; an inactive rep
 *        in north. Accounts: one each for r1, r2, r3, and one r1 account with contacts. */
struct fx {
	char dir[64];
	char path[128];
	struct store *s;
	int64_t t_north, t_ne, t_south;
	int64_t admin, m1, r1, r2, m2, r3, partner, gone;
	int64_t a_r1, a_r1b, a_r2, a_r3;
	struct viewer v_admin, v_m1, v_r1, v_r2, v_m2, v_r3, v_partner;
};

static int group_setup(void **state)
{
	struct dm_err e;
	dm_err_clear(&e);
	log_set_level(LOG_WARN);
	if (auth_init(&e)) {
		fprintf(stderr, "auth_init: %s\n", e.message);
		return -1;
	}
	return 0;
}

/* rec_create from JSON text (printf format); returns rc and the record in *out when wanted. */
static int create(struct fx *f, const struct kind *k, const struct viewer *v, json_t **out,
		  struct dm_err *e, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int create(struct fx *f, const struct kind *k, const struct viewer *v, json_t **out,
		  struct dm_err *e, const char *fmt, ...)
{
	char text[2048];
	json_error_t je;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	json_t *body = json_loads(text, 0, &je), *rec = NULL;
	if (!body)
		fail_msg("bad JSON in test: %s: %s", text, je.text);
	dm_err_clear(e);
	int rc = rec_create(f->s, k, v, body, &rec, e);
	json_decref(body);
	if (rc)
		assert_null(rec);
	else
		assert_non_null(rec);
	if (out)
		*out = rec;
	else
		json_decref(rec);
	return rc;
}

/* rec_update from JSON text. */
static int update(struct fx *f, const struct kind *k, const struct viewer *v, int64_t id,
		  int64_t if_match, json_t **out, struct dm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
static int update(struct fx *f, const struct kind *k, const struct viewer *v, int64_t id,
		  int64_t if_match, json_t **out, struct dm_err *e, const char *fmt, ...)
{
	char text[2048];
	json_error_t je;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	json_t *body = json_loads(text, 0, &je), *rec = NULL;
	if (!body)
		fail_msg("bad JSON in test: %s: %s", text, je.text);
	dm_err_clear(e);
	int rc = rec_update(f->s, k, v, id, body, if_match, &rec, e);
	json_decref(body);
	if (rc)
		assert_null(rec);
	if (out)
		*out = rec;
	else
		json_decref(rec);
	return rc;
}

static int64_t num(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

static const char *str(json_t *rec, const char *field)
{
	return json_string_value(json_object_get(rec, field));
}

/* Create and return the id, failing the test on refusal. */
#define MK(f, k, v, ...) mk(f, k, v, __FILE__, __LINE__, __VA_ARGS__)
static int64_t mk(struct fx *f, const struct kind *k, const struct viewer *v, const char *file,
		  int line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int64_t mk(struct fx *f, const struct kind *k, const struct viewer *v, const char *file,
		  int line, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	struct dm_err e;
	json_t *rec = NULL;
	int rc = create(f, k, v, &rec, &e, "%s", text);
	if (rc)
		fail_msg("%s:%d: create %s %s: %s (%s: %s)", file, line, k->name, text,
			 dm_code_name(rc), e.field, e.message);
	int64_t id = num(rec, "id");
	json_decref(rec);
	assert_true(id > 0);
	return id;
}

static void expect(int rc, const struct dm_err *e, enum dm_code code, const char *field,
		   const char *what)
{
	if (rc != (int)code)
		fail_msg("%s: got %s (%s: %s), expected %s", what, dm_code_name(rc), e->field,
			 e->message, dm_code_name(code));
	if (field && strcmp(e->field, field))
		fail_msg("%s: field \"%s\", expected \"%s\" (%s)", what, e->field, field, e->message);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct dm_err e;
	const struct viewer *sys = &viewer_system;
	dm_err_clear(&e);
	snprintf(f->dir, sizeof f->dir, "/tmp/dealmap-records-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
	if (store_open(f->path, &f->s, &e) || store_migrate(f->s, &e)) {
		fprintf(stderr, "setup: %s\n", e.message);
		return -1;
	}
	*state = f;
	/* users created by the system viewer need no password (and no argon2 time) */
	f->t_north = MK(f, &kind_team, sys, "{\"name\": \"华北\"}");
	f->t_ne = MK(f, &kind_team, sys, "{\"name\": \"东北\", \"parent_id\": %lld}",
		     (long long)f->t_north);
	f->t_south = MK(f, &kind_team, sys, "{\"name\": \"华南\"}");
	f->admin = MK(f, &kind_user, sys, "{\"username\": \"admin\", \"role\": \"admin\"}");
	f->m1 = MK(f, &kind_user, sys, "{\"username\": \"m1\", \"role\": \"manager\", \"team_id\": %lld}",
		   (long long)f->t_north);
	f->r1 = MK(f, &kind_user, sys, "{\"username\": \"r1\", \"display_name\": \"李一\","
		   " \"role\": \"rep\", \"team_id\": %lld}", (long long)f->t_north);
	f->r2 = MK(f, &kind_user, sys, "{\"username\": \"r2\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)f->t_ne);
	f->m2 = MK(f, &kind_user, sys, "{\"username\": \"m2\", \"role\": \"manager\", \"team_id\": %lld}",
		   (long long)f->t_south);
	f->r3 = MK(f, &kind_user, sys, "{\"username\": \"r3\", \"role\": \"rep\", \"team_id\": %lld}",
		   (long long)f->t_south);
	f->partner = MK(f, &kind_user, sys, "{\"username\": \"p1\", \"role\": \"partner\"}");
	f->gone = MK(f, &kind_user, sys, "{\"username\": \"gone\", \"role\": \"rep\", \"active\": false,"
		     " \"team_id\": %lld}", (long long)f->t_north);
	json_t *rec = NULL;
	if (update(f, &kind_team, sys, f->t_north, -1, &rec, &e, "{\"manager_id\": %lld}",
		   (long long)f->m1) ||
	    update(f, &kind_team, sys, f->t_south, -1, NULL, &e, "{\"manager_id\": %lld}",
		   (long long)f->m2)) {
		fprintf(stderr, "setup: %s\n", e.message);
		return -1;
	}
	json_decref(rec);
	f->v_admin = (struct viewer){ f->admin, ROLE_ADMIN, 0 };
	f->v_m1 = (struct viewer){ f->m1, ROLE_MANAGER, f->t_north };
	f->v_r1 = (struct viewer){ f->r1, ROLE_REP, f->t_north };
	f->v_r2 = (struct viewer){ f->r2, ROLE_REP, f->t_ne };
	f->v_m2 = (struct viewer){ f->m2, ROLE_MANAGER, f->t_south };
	f->v_r3 = (struct viewer){ f->r3, ROLE_REP, f->t_south };
	f->v_partner = (struct viewer){ f->partner, ROLE_PARTNER, 0 };
	f->a_r1 = MK(f, &kind_account, &f->v_r1, "{\"name\": \"北京科技有限公司\"}");
	f->a_r1b = MK(f, &kind_account, &f->v_r1, "{\"name\": \"天津印刷厂\"}");
	f->a_r2 = MK(f, &kind_account, &f->v_r2, "{\"name\": \"沈阳机床厂\"}");
	f->a_r3 = MK(f, &kind_account, &f->v_r3, "{\"name\": \"Globex Corporation\"}");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	store_close(f->s);
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int get_rc(struct fx *f, const struct kind *k, const struct viewer *v, int64_t id)
{
	json_t *rec = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	int rc = rec_get(f->s, k, v, id, &rec, &e);
	json_decref(rec);
	return rc;
}

static int64_t owner_of(struct fx *f, const struct kind *k, int64_t id)
{
	json_t *rec = NULL;
	struct dm_err e;
	assert_int_equal(rec_get(f->s, k, &viewer_system, id, &rec, &e), 0);
	int64_t o = json_is_null(json_object_get(rec, "owner_id")) ? 0 : num(rec, "owner_id");
	json_decref(rec);
	return o;
}

/* ---- owners ------------------------------------------------------------------------------------ */

static void rep_owns_what_they_create(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	assert_int_equal(create(f, &kind_account, &f->v_r1, &rec, &e, "{\"name\": \"上海新客户\"}"), 0);
	assert_int_equal(num(rec, "owner_id"), f->r1);
	assert_int_equal(num(rec, "version"), 1);
	int64_t id = num(rec, "id");
	json_decref(rec);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r1, id), 0);
	assert_int_equal(get_rc(f, &kind_account, &f->v_m1, id), 0);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r2, id), DM_ENOTFOUND);
	/* naming yourself is fine too */
	assert_int_equal(create(f, &kind_account, &f->v_r1, &rec, &e,
				"{\"name\": \"上海二号\", \"owner_id\": %lld}", (long long)f->r1), 0);
	assert_int_equal(num(rec, "owner_id"), f->r1);
	json_decref(rec);
	/* opportunities too */
	assert_int_equal(create(f, &kind_opportunity, &f->v_r1, &rec, &e,
				"{\"account_id\": %lld, \"name\": \"一期\"}", (long long)f->a_r1), 0);
	assert_int_equal(num(rec, "owner_id"), f->r1);
	assert_string_equal(str(rec, "stage"), "interest");
	json_decref(rec);
	/* the system viewer creates without an owner */
	assert_int_equal(create(f, &kind_account, &viewer_system, &rec, &e, "{\"name\": \"公海\"}"), 0);
	assert_true(json_is_null(json_object_get(rec, "owner_id")));
	json_decref(rec);
}

static void rep_cannot_give_away(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int rc = create(f, &kind_account, &f->v_r1, NULL, &e, "{\"name\": \"被拒客户\", \"owner_id\": %lld}",
			(long long)f->r2);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "rep creates an account for another rep");
	rc = create(f, &kind_account, &f->v_r1, NULL, &e, "{\"name\": \"被拒客户\", \"owner_id\": null}");
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "rep creates an unowned account");
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, NULL, &e, "{\"owner_id\": %lld}",
		    (long long)f->r2);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "rep hands an account to another rep");
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, NULL, &e, "{\"owner_id\": null}");
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "rep parks an account");
	assert_int_equal(owner_of(f, &kind_account, f->a_r1), f->r1);
	rc = create(f, &kind_opportunity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"name\": \"x\", \"owner_id\": %lld}", (long long)f->a_r1,
		    (long long)f->r2);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "rep creates an opportunity for another rep");
	/* re-stating the current owner is not a change */
	json_t *rec = NULL;
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, &rec, &e,
		    "{\"owner_id\": %lld, \"industry\": \"印刷\"}", (long long)f->r1);
	expect(rc, &e, DM_OK, NULL, "rep re-states own ownership");
	assert_int_equal(num(rec, "version"), 2);
	json_decref(rec);
	/* and nothing was created by the refusals */
	json_t *items = NULL;
	char *next = NULL;
	struct kv p[] = { { "name", "被拒" } };
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_admin, p, 1, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	free(next);
}

static void manager_assigns_within_teams(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	/* to a member of the manager's team, and of its sub-team */
	assert_int_equal(create(f, &kind_account, &f->v_m1, &rec, &e,
				"{\"name\": \"M1 for r1\", \"owner_id\": %lld}", (long long)f->r1), 0);
	assert_int_equal(num(rec, "owner_id"), f->r1);
	json_decref(rec);
	int64_t id = MK(f, &kind_account, &f->v_m1, "{\"name\": \"M1 for r2\", \"owner_id\": %lld}",
			(long long)f->r2);
	assert_int_equal(owner_of(f, &kind_account, id), f->r2);
	/* a manager's own account defaults to the manager */
	int64_t own = MK(f, &kind_account, &f->v_m1, "{\"name\": \"M1 own\"}");
	assert_int_equal(owner_of(f, &kind_account, own), f->m1);
	/* not to another team's rep */
	int rc = create(f, &kind_account, &f->v_m1, NULL, &e, "{\"name\": \"被拒客户\", \"owner_id\": %lld}",
			(long long)f->r3);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "manager assigns to another team's rep");
	rc = create(f, &kind_account, &f->v_m1, NULL, &e, "{\"name\": \"被拒客户\", \"owner_id\": %lld}",
		    (long long)f->m2);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "manager assigns to another manager");
	rc = update(f, &kind_account, &f->v_m1, f->a_r1, -1, NULL, &e, "{\"owner_id\": %lld}",
		    (long long)f->r3);
	expect(rc, &e, DM_EFORBIDDEN, "owner_id", "manager moves an account out of the team");
	assert_int_equal(owner_of(f, &kind_account, f->a_r1), f->r1);
	/* reassigning inside the team, and parking in the pool, are fine */
	rc = update(f, &kind_account, &f->v_m1, f->a_r1, -1, NULL, &e, "{\"owner_id\": %lld}",
		    (long long)f->r2);
	expect(rc, &e, DM_OK, NULL, "manager reassigns within the team");
	assert_int_equal(owner_of(f, &kind_account, f->a_r1), f->r2);
	rc = update(f, &kind_account, &f->v_m1, f->a_r1, -1, NULL, &e, "{\"owner_id\": null}");
	expect(rc, &e, DM_OK, NULL, "manager parks an account");
	assert_int_equal(owner_of(f, &kind_account, f->a_r1), 0);
	/* the other manager cannot even see r1's accounts */
	rc = update(f, &kind_account, &f->v_m2, f->a_r1b, -1, NULL, &e, "{\"owner_id\": %lld}",
		    (long long)f->r3);
	expect(rc, &e, DM_ENOTFOUND, NULL, "manager changes another team's account");
	/* inactive or unknown owners */
	rc = create(f, &kind_account, &f->v_m1, NULL, &e, "{\"name\": \"被拒客户\", \"owner_id\": %lld}",
		    (long long)f->gone);
	expect(rc, &e, DM_EINVAL, "owner_id", "assign to an inactive user");
	rc = create(f, &kind_account, &f->v_admin, NULL, &e, "{\"name\": \"X\", \"owner_id\": 98765}");
	expect(rc, &e, DM_ENOTFOUND, "owner_id", "assign to no such user");
	/* admins assign to anyone */
	rc = update(f, &kind_account, &f->v_admin, f->a_r1b, -1, NULL, &e, "{\"owner_id\": %lld}",
		    (long long)f->r3);
	expect(rc, &e, DM_OK, NULL, "admin reassigns across teams");
	assert_int_equal(owner_of(f, &kind_account, f->a_r1b), f->r3);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r1, f->a_r1b), DM_ENOTFOUND);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r3, f->a_r1b), 0);
}

static void roles_that_may_not_write(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int rc = create(f, &kind_account, &f->v_partner, NULL, &e, "{\"name\": \"P\"}");
	expect(rc, &e, DM_EFORBIDDEN, NULL, "partner creates an account");
	rc = create(f, &kind_team, &f->v_m1, NULL, &e, "{\"name\": \"new team\"}");
	expect(rc, &e, DM_EFORBIDDEN, NULL, "manager creates a team");
	rc = create(f, &kind_user, &f->v_m1, NULL, &e,
		    "{\"username\": \"newbie\", \"role\": \"rep\", \"password\": \"" STRONG_PW "\"}");
	expect(rc, &e, DM_EFORBIDDEN, NULL, "manager creates a user");
	rc = update(f, &kind_user, &f->v_r1, f->r1, -1, NULL, &e, "{\"role\": \"admin\"}");
	expect(rc, &e, DM_EFORBIDDEN, "role", "rep promotes self");
	rc = update(f, &kind_user, &f->v_r1, f->r2, -1, NULL, &e, "{\"display_name\": \"x\"}");
	expect(rc, &e, DM_EFORBIDDEN, NULL, "rep renames a colleague");
	/* a record the caller cannot see is not found, whatever the body */
	rc = update(f, &kind_account, &f->v_r1, f->a_r3, -1, NULL, &e, "{\"bogus\": 1}");
	expect(rc, &e, DM_ENOTFOUND, NULL, "rep patches an invisible account");
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, NULL, &e, "{\"bogus\": 1}");
	expect(rc, &e, DM_EUNKNOWN, "bogus", "unknown field");
}

/* "Users may also edit their own display name and locale" (records.c, may_write). */
static void user_edits_own_display_name(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	int rc = update(f, &kind_user, &f->v_r1, f->r1, -1, &rec, &e,
			"{\"display_name\": \"李一一\", \"locale\": \"en\"}");
	expect(rc, &e, DM_OK, NULL, "rep edits own display name and locale");
	assert_string_equal(str(rec, "display_name"), "李一一");
	assert_string_equal(str(rec, "locale"), "en");
	json_decref(rec);
}

static void admin_cannot_demote_self(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int rc = update(f, &kind_user, &f->v_admin, f->admin, -1, NULL, &e, "{\"role\": \"rep\"}");
	expect(rc, &e, DM_ECONFLICT, NULL, "admin demotes self");
	rc = update(f, &kind_user, &f->v_admin, f->admin, -1, NULL, &e, "{\"active\": false}");
	expect(rc, &e, DM_ECONFLICT, NULL, "admin deactivates self");
	json_t *rec = NULL;
	rc = update(f, &kind_user, &f->v_admin, f->admin, -1, &rec, &e, "{\"display_name\": \"管理员\"}");
	expect(rc, &e, DM_OK, NULL, "admin renames self");
	json_decref(rec);
	rc = rec_archive(f->s, &kind_user, &f->v_admin, f->admin, &rec, &e);
	expect(rc, &e, DM_ECONFLICT, NULL, "admin archives self");
}

static void users_and_passwords(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	int rc = create(f, &kind_user, &f->v_admin, NULL, &e,
			"{\"username\": \"zhao\", \"role\": \"rep\"}");
	expect(rc, &e, DM_EREQUIRED, "password", "user without a password");
	rc = create(f, &kind_user, &f->v_admin, NULL, &e,
		    "{\"username\": \"zhao\", \"role\": \"rep\", \"password\": \"password\"}");
	expect(rc, &e, DM_EINVAL, "password", "a common password");
	rc = create(f, &kind_user, &f->v_admin, NULL, &e,
		    "{\"username\": \"zhao\", \"role\": \"rep\", \"password\": \"short\"}");
	expect(rc, &e, DM_EINVAL, "password", "a short password");
	rc = create(f, &kind_user, &f->v_admin, NULL, &e,
		    "{\"username\": \"Zhao Wei\", \"role\": \"rep\", \"password\": \"" STRONG_PW "\"}");
	expect(rc, &e, DM_EINVAL, "username", "a username with a space");
	rc = create(f, &kind_user, &f->v_admin, &rec, &e,
		    "{\"username\": \"Zhao.Wei\", \"role\": \"rep\", \"team_id\": %lld,"
		    " \"password\": \"" STRONG_PW "\"}", (long long)f->t_south);
	expect(rc, &e, DM_OK, NULL, "a good user");
	assert_string_equal(str(rec, "username"), "zhao.wei");   /* stored lower-case */
	assert_null(json_object_get(rec, "password"));
	int64_t id = num(rec, "id");
	json_decref(rec);
	struct store_cred cred;
	assert_int_equal(store_cred_get(f->s, "ZHAO.WEI", &cred, &e), 0);
	assert_int_equal(cred.user_id, id);
	assert_int_equal(strncmp(cred.password_hash, "$argon2id$", 10), 0);
	assert_true(auth_password_verify(cred.password_hash, STRONG_PW));
	assert_false(auth_password_verify(cred.password_hash, "Tq7#vLp9-xZ2?"));
	rc = create(f, &kind_user, &viewer_system, NULL, &e, "{\"username\": \"ZHAO.wei\", \"role\": \"rep\"}");
	expect(rc, &e, DM_EDUPLICATE, "username", "a taken username in another case");
	rc = create(f, &kind_user, &f->v_admin, NULL, &e,
		    "{\"username\": \"qian\", \"role\": \"rep\", \"team_id\": 4242,"
		    " \"password\": \"" STRONG_PW "\"}");
	expect(rc, &e, DM_ENOTFOUND, "team_id", "a user in no such team");
}

static void team_tree_has_no_loops(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int64_t deep = MK(f, &kind_team, &f->v_admin, "{\"name\": \"哈尔滨\", \"parent_id\": %lld}",
			  (long long)f->t_ne);
	int rc = update(f, &kind_team, &f->v_admin, f->t_north, -1, NULL, &e, "{\"parent_id\": %lld}",
			(long long)deep);
	expect(rc, &e, DM_EINVAL, "parent_id", "team under its own grandchild");
	rc = update(f, &kind_team, &f->v_admin, f->t_north, -1, NULL, &e, "{\"parent_id\": %lld}",
		    (long long)f->t_north);
	expect(rc, &e, DM_EINVAL, "parent_id", "team under itself");
	rc = update(f, &kind_team, &f->v_admin, f->t_south, -1, NULL, &e, "{\"parent_id\": %lld}",
		    (long long)deep);
	expect(rc, &e, DM_OK, NULL, "team moved under another branch");
}

/* ---- contacts and activities ------------------------------------------------------------------- */

static void contact_reports_to_rules(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	int64_t boss = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"王总\"}",
			  (long long)f->a_r1);
	int64_t mid = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"张经理\","
			 " \"reports_to_id\": %lld}", (long long)f->a_r1, (long long)boss);
	int64_t low = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"小刘\","
			 " \"reports_to_id\": %lld}", (long long)f->a_r1, (long long)mid);
	int64_t other = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"赵总\"}",
			   (long long)f->a_r1b);
	/* to a contact of another account: on create and on update */
	int rc = create(f, &kind_contact, &f->v_r1, NULL, &e,
			"{\"account_id\": %lld, \"name\": \"x\", \"reports_to_id\": %lld}",
			(long long)f->a_r1b, (long long)boss);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "reports to another account's contact");
	rc = update(f, &kind_contact, &f->v_r1, other, -1, NULL, &e, "{\"reports_to_id\": %lld}",
		    (long long)mid);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "re-point to another account's contact");
	rc = create(f, &kind_contact, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"name\": \"x\", \"reports_to_id\": 99999}",
		    (long long)f->a_r1);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "reports to no such contact");
	/* loops: direct, and through the chain */
	rc = update(f, &kind_contact, &f->v_r1, boss, -1, NULL, &e, "{\"reports_to_id\": %lld}",
		    (long long)boss);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "reports to self");
	rc = update(f, &kind_contact, &f->v_r1, boss, -1, NULL, &e, "{\"reports_to_id\": %lld}",
		    (long long)low);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "boss reports to the bottom of the chain");
	rc = update(f, &kind_contact, &f->v_r1, mid, -1, NULL, &e, "{\"reports_to_id\": %lld}",
		    (long long)low);
	expect(rc, &e, DM_EINVAL, "reports_to_id", "two-contact loop");
	/* a legal re-org, and clearing */
	rc = update(f, &kind_contact, &f->v_r1, low, -1, NULL, &e, "{\"reports_to_id\": %lld}",
		    (long long)boss);
	expect(rc, &e, DM_OK, NULL, "skip a level");
	rc = update(f, &kind_contact, &f->v_r1, mid, -1, NULL, &e, "{\"reports_to_id\": null}");
	expect(rc, &e, DM_OK, NULL, "clear reports_to_id");
	/* the account of a contact is fixed */
	rc = update(f, &kind_contact, &f->v_r1, mid, -1, NULL, &e, "{\"account_id\": %lld}",
		    (long long)f->a_r1b);
	expect(rc, &e, DM_EREADONLY, "account_id", "move a contact to another account");
	/* and must be visible on create */
	rc = create(f, &kind_contact, &f->v_r1, NULL, &e, "{\"account_id\": %lld, \"name\": \"x\"}",
		    (long long)f->a_r3);
	expect(rc, &e, DM_ENOTFOUND, "account_id", "contact on an invisible account");
}

static void activity_rules(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	int64_t c1 = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"王总\"}",
			(long long)f->a_r1);
	int64_t c_other = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"赵总\"}",
			     (long long)f->a_r1b);
	int64_t c_r3 = MK(f, &kind_contact, &f->v_r3, "{\"account_id\": %lld, \"name\": \"Smith\"}",
			  (long long)f->a_r3);
	int64_t o1 = MK(f, &kind_opportunity, &f->v_r1, "{\"account_id\": %lld, \"name\": \"一期\"}",
			(long long)f->a_r1);
	int64_t o_other = MK(f, &kind_opportunity, &f->v_r1, "{\"account_id\": %lld, \"name\": \"二期\"}",
			     (long long)f->a_r1b);
	int rc = create(f, &kind_activity, &f->v_r1, &rec, &e,
			"{\"account_id\": %lld, \"channel\": \"visit\", \"contact_ids\": [%lld],"
			" \"opportunity_id\": %lld}", (long long)f->a_r1, (long long)c1, (long long)o1);
	expect(rc, &e, DM_OK, NULL, "a good activity");
	assert_int_equal(num(rec, "user_id"), f->r1);
	assert_int_equal(strlen(str(rec, "occurred_at")), 24);   /* defaulted to now */
	assert_true(json_is_true(json_object_get(rec, "effective")));
	int64_t act = num(rec, "id");
	json_decref(rec);
	rc = create(f, &kind_activity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"channel\": \"visit\", \"contact_ids\": [%lld, %lld]}",
		    (long long)f->a_r1, (long long)c1, (long long)c_other);
	expect(rc, &e, DM_EINVAL, "contact_ids", "a contact of another account");
	rc = create(f, &kind_activity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"channel\": \"visit\", \"contact_ids\": [%lld]}",
		    (long long)f->a_r1, (long long)c_r3);
	expect(rc, &e, DM_EINVAL, "contact_ids", "a contact of an invisible account");
	rc = create(f, &kind_activity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"channel\": \"visit\", \"contact_ids\": [99999]}",
		    (long long)f->a_r1);
	expect(rc, &e, DM_EINVAL, "contact_ids", "no such contact");
	rc = update(f, &kind_activity, &f->v_r1, act, -1, NULL, &e, "{\"contact_ids\": [%lld]}",
		    (long long)c_other);
	expect(rc, &e, DM_EINVAL, "contact_ids", "re-point to another account's contact");
	rc = create(f, &kind_activity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"channel\": \"visit\", \"opportunity_id\": %lld}",
		    (long long)f->a_r1, (long long)o_other);
	expect(rc, &e, DM_EINVAL, "opportunity_id", "an opportunity of another account");
	rc = create(f, &kind_activity, &f->v_r1, NULL, &e,
		    "{\"account_id\": %lld, \"channel\": \"visit\"}", (long long)f->a_r3);
	expect(rc, &e, DM_ENOTFOUND, "account_id", "an activity on an invisible account");
	/* occurred_at given with an offset is stored in UTC */
	rc = create(f, &kind_activity, &f->v_r1, &rec, &e,
		    "{\"account_id\": %lld, \"channel\": \"phone\","
		    " \"occurred_at\": \"2026-11-25T09:30:00+08:00\"}", (long long)f->a_r1);
	expect(rc, &e, DM_OK, NULL, "activity with a time");
	assert_string_equal(str(rec, "occurred_at"), "2026-11-25T01:30:00.000Z");
	json_decref(rec);
	/* touches count effective activities */
	MK(f, &kind_activity, &f->v_r1, "{\"account_id\": %lld, \"channel\": \"sms\","
	   " \"effective\": false}", (long long)f->a_r1);
	assert_int_equal(rec_get(f->s, &kind_account, &f->v_r1, f->a_r1, &rec, &e), 0);
	assert_int_equal(num(rec, "touches"), 2);
	json_decref(rec);
}

/* ---- versions, archive, restore ---------------------------------------------------------------- */

static void if_match(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	int rc = update(f, &kind_account, &f->v_r1, f->a_r1, 1, &rec, &e, "{\"industry\": \"印刷\"}");
	expect(rc, &e, DM_OK, NULL, "If-Match current");
	assert_int_equal(num(rec, "version"), 2);
	json_decref(rec);
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, 1, NULL, &e, "{\"industry\": \"包装\"}");
	expect(rc, &e, DM_ESTALE, NULL, "If-Match stale");
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, 3, NULL, &e, "{\"industry\": \"包装\"}");
	expect(rc, &e, DM_ESTALE, NULL, "If-Match from the future");
	assert_int_equal(rec_get(f->s, &kind_account, &f->v_r1, f->a_r1, &rec, &e), 0);
	assert_string_equal(str(rec, "industry"), "印刷");
	assert_int_equal(num(rec, "version"), 2);
	json_decref(rec);
	/* no change: the version stays */
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, 2, &rec, &e, "{\"industry\": \"印刷\"}");
	expect(rc, &e, DM_OK, NULL, "no-op update");
	assert_int_equal(num(rec, "version"), 2);
	json_decref(rec);
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, &rec, &e, "{\"industry\": \"包装\"}");
	expect(rc, &e, DM_OK, NULL, "no precondition");
	assert_int_equal(num(rec, "version"), 3);
	json_decref(rec);
}

static void archive_and_restore(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *rec = NULL;
	int64_t c1 = MK(f, &kind_contact, &f->v_r1, "{\"account_id\": %lld, \"name\": \"王总\"}",
			(long long)f->a_r1);
	/* others cannot archive what they cannot see */
	int rc = rec_archive(f->s, &kind_account, &f->v_r3, f->a_r1, &rec, &e);
	expect(rc, &e, DM_ENOTFOUND, NULL, "r3 archives r1's account");
	rc = rec_archive(f->s, &kind_account, &f->v_partner, f->a_r1, &rec, &e);
	expect(rc, &e, DM_ENOTFOUND, NULL, "a partner archives");
	rc = rec_archive(f->s, &kind_account, &f->v_r1, f->a_r1, &rec, &e);
	expect(rc, &e, DM_OK, NULL, "owner archives");
	assert_true(json_is_string(json_object_get(rec, "archived_at")));
	json_decref(rec);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r1, f->a_r1), DM_ENOTFOUND);
	assert_int_equal(get_rc(f, &kind_account, &f->v_m1, f->a_r1), DM_ENOTFOUND);
	assert_int_equal(get_rc(f, &kind_contact, &f->v_r1, c1), DM_ENOTFOUND);
	assert_int_equal(get_rc(f, &kind_account, &f->v_admin, f->a_r1), 0);
	rc = update(f, &kind_account, &f->v_r1, f->a_r1, -1, NULL, &e, "{\"industry\": \"x\"}");
	expect(rc, &e, DM_ENOTFOUND, NULL, "update an archived account");
	/* archived rows are not listed, except to admins who ask */
	json_t *items = NULL;
	char *next = NULL;
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_r1, NULL, 0, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	struct kv arch[] = { { "archived", "true" } };
	rc = rec_list(f->s, &kind_account, &f->v_r1, arch, 1, &items, &next, &e);
	expect(rc, &e, DM_EFORBIDDEN, "archived", "a rep lists archived records");
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_admin, arch, 1, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), f->a_r1);
	json_decref(items);
	/* restore: refused to everyone but admins */
	rec = NULL;
	rc = rec_restore(f->s, &kind_account, &f->v_r1, f->a_r1, &rec, &e);
	assert_true(rc == DM_ENOTFOUND || rc == DM_EFORBIDDEN);
	assert_null(rec);
	rc = rec_restore(f->s, &kind_account, &f->v_m1, f->a_r1, &rec, &e);
	assert_true(rc == DM_ENOTFOUND || rc == DM_EFORBIDDEN);
	rc = rec_restore(f->s, &kind_account, &f->v_r1, f->a_r1b, &rec, &e);
	expect(rc, &e, DM_EFORBIDDEN, NULL, "a rep restores a live account");
	assert_int_equal(get_rc(f, &kind_account, &f->v_r1, f->a_r1), DM_ENOTFOUND);
	rc = rec_restore(f->s, &kind_account, &f->v_admin, f->a_r1, &rec, &e);
	expect(rc, &e, DM_OK, NULL, "admin restores");
	assert_true(json_is_null(json_object_get(rec, "archived_at")));
	json_decref(rec);
	assert_int_equal(get_rc(f, &kind_account, &f->v_r1, f->a_r1), 0);
	assert_int_equal(get_rc(f, &kind_contact, &f->v_r1, c1), 0);
	/* the trail shows archive and restore, by whom */
	struct kv ap[] = { { "object", "account" }, { "id", "" } };
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)f->a_r1);
	ap[1].value = idbuf;
	assert_int_equal(rec_audit(f->s, &f->v_admin, ap, 2, &items, &next, &e), 0);
	size_t n = json_array_size(items);
	assert_true(n >= 2);
	assert_string_equal(str(json_array_get(items, n - 2), "action"), "archive");
	assert_int_equal(num(json_array_get(items, n - 2), "actor_id"), f->r1);
	assert_string_equal(str(json_array_get(items, n - 1), "action"), "restore");
	assert_int_equal(num(json_array_get(items, n - 1), "actor_id"), f->admin);
	json_decref(items);
	free(next);
	rc = rec_audit(f->s, &f->v_r1, ap, 2, &items, &next, &e);
	expect(rc, &e, DM_EFORBIDDEN, NULL, "a rep reads the audit trail");
	rc = rec_audit(f->s, &f->v_m2, ap, 2, &items, &next, &e);
	expect(rc, &e, DM_ENOTFOUND, NULL, "another team's manager reads the trail");
}

static void duplicate_names(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	/* a_r3 "Globex Corporation" belongs to r3 in the south */
	int rc = create(f, &kind_account, &f->v_r1, NULL, &e, "{\"name\": \"GLOBEX  corporation\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "r1 takes r3's name");
	assert_int_equal(e.existing_id, 0);   /* r1 may not learn which record */
	rc = create(f, &kind_account, &f->v_m1, NULL, &e, "{\"name\": \"ＧＬＯＢＥＸ　Corporation\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "m1 takes r3's name");
	assert_int_equal(e.existing_id, 0);
	rc = create(f, &kind_account, &f->v_m2, NULL, &e, "{\"name\": \"globex corporation\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "m2 takes r3's name");
	assert_int_equal(e.existing_id, f->a_r3);   /* visible to r3's manager */
	rc = create(f, &kind_account, &f->v_admin, NULL, &e, "{\"name\": \"Globex Corporation\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "admin takes r3's name");
	assert_int_equal(e.existing_id, f->a_r3);
	rc = create(f, &kind_account, &f->v_r1, NULL, &e, "{\"name\": \"北京科技有限公司\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "r1 repeats own name");
	assert_int_equal(e.existing_id, f->a_r1);
	rc = update(f, &kind_account, &f->v_r1, f->a_r1b, -1, NULL, &e,
		    "{\"name\": \"globex corporation\"}");
	expect(rc, &e, DM_EDUPLICATE, "name", "r1 renames onto r3's name");
	assert_int_equal(e.existing_id, 0);
}

/* ---- lists -------------------------------------------------------------------------------------- */

static int list_rc(struct fx *f, const struct kind *k, const struct viewer *v, const char *key,
		   const char *value, struct dm_err *e)
{
	struct kv p[] = { { key, value } };
	json_t *items = NULL;
	char *next = NULL;
	dm_err_clear(e);
	int rc = rec_list(f->s, k, v, p, 1, &items, &next, e);
	if (rc) {
		assert_null(items);
		assert_null(next);
	}
	json_decref(items);
	free(next);
	return rc;
}

static void list_bad_parameters(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	static const struct { const char *key, *value, *field; } bad[] = {
		{ "limit", "0", "limit" }, { "limit", "501", "limit" }, { "limit", "-5", "limit" },
		{ "limit", "abc", "limit" }, { "limit", "", "limit" }, { "limit", "10x", "limit" },
		{ "limit", " 10", "limit" }, { "limit", "99999999999999999999", "limit" },
		{ "sort", "bogus", "sort" }, { "sort", "-bogus", "sort" }, { "sort", "notes", "sort" },
		{ "sort", "", "sort" }, { "sort", "-", "sort" }, { "sort", "--name", "sort" },
		{ "cursor", "garbage!", "cursor" }, { "cursor", "", "cursor" },
		{ "cursor", "WzEsMiwzXQ", "cursor" },    /* base64 of [1,2,3] */
		{ "archived", "yes", "archived" }, { "updated_since", "yesterday", "updated_since" },
		{ "importance", "Z", "importance" }, { "owner_id", "abc", "owner_id" },
		{ "owner_id", "0", "owner_id" }, { "notes", "x", "notes" },
		{ "no_such", "1", "no_such" }, { "first_deal_on", "2026-02-30", "first_deal_on" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = list_rc(f, &kind_account, &f->v_admin, bad[i].key, bad[i].value, &e);
		char what[128];
		snprintf(what, sizeof what, "?%s=%s", bad[i].key, bad[i].value);
		expect(rc, &e, DM_EPARAM, bad[i].field, what);
	}
	/* good ones, for contrast */
	assert_int_equal(list_rc(f, &kind_account, &f->v_admin, "limit", "1", &e), 0);
	assert_int_equal(list_rc(f, &kind_account, &f->v_admin, "limit", "500", &e), 0);
	assert_int_equal(list_rc(f, &kind_account, &f->v_admin, "sort", "-name", &e), 0);
	assert_int_equal(list_rc(f, &kind_account, &f->v_admin, "owner_id", "null", &e), 0);
	assert_int_equal(list_rc(f, &kind_account, &f->v_admin, "importance", "VVIP", &e), 0);
	/* a parameter given twice, and one that is not UTF-8 */
	struct kv twice[] = { { "limit", "5" }, { "limit", "6" } };
	json_t *items = NULL;
	char *next = NULL;
	int rc = rec_list(f->s, &kind_account, &f->v_admin, twice, 2, &items, &next, &e);
	expect(rc, &e, DM_EPARAM, "limit", "limit given twice");
	rc = list_rc(f, &kind_account, &f->v_admin, "name", "\xC0\xAF", &e);
	expect(rc, &e, DM_EPARAM, NULL, "name not UTF-8");
	/* a cursor of one sort is refused by another */
	for (int i = 0; i < 3; i++)
		MK(f, &kind_account, &f->v_admin, "{\"name\": \"cursor test %d\"}", i);
	struct kv p[] = { { "limit", "2" }, { "sort", "name" } };
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_admin, p, 2, &items, &next, &e), 0);
	assert_non_null(next);
	json_decref(items);
	struct kv q[] = { { "sort", "-name" }, { "cursor", next } };
	rc = rec_list(f->s, &kind_account, &f->v_admin, q, 2, &items, &next, &e);
	expect(rc, &e, DM_EPARAM, "cursor", "cursor of sort=name used with sort=-name");
	struct kv r[] = { { "cursor", q[1].value } };
	rc = rec_list(f->s, &kind_account, &f->v_admin, r, 1, &items, &next, &e);
	expect(rc, &e, DM_EPARAM, "cursor", "cursor of sort=name used with the default sort");
	struct kv ok[] = { { "sort", "name" }, { "cursor", q[1].value } };
	char *cur = (char *)q[1].value;
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_admin, ok, 2, &items, &next, &e), 0);
	json_decref(items);
	free(next);
	free(cur);
}

/* Walk every page of a list with the given extra parameters; returns the ids in order. */
static size_t walk(struct fx *f, const struct viewer *v, const char *sort, int limit,
		   int64_t *ids, size_t max, size_t *pages)
{
	char lim[16];
	char *cursor = NULL;
	size_t n = 0;
	snprintf(lim, sizeof lim, "%d", limit);
	*pages = 0;
	for (;;) {
		struct kv p[3];
		size_t np = 0;
		struct dm_err e;
		json_t *items = NULL;
		char *next = NULL;
		p[np++] = (struct kv){ "limit", lim };
		if (sort)
			p[np++] = (struct kv){ "sort", sort };
		if (cursor)
			p[np++] = (struct kv){ "cursor", cursor };
		dm_err_clear(&e);
		int rc = rec_list(f->s, &kind_account, v, p, np, &items, &next, &e);
		if (rc)
			fail_msg("rec_list sort=%s page %zu: %s (%s)", sort ? sort : "(id)", *pages,
				 dm_code_name(rc), e.message);
		(*pages)++;
		assert_true(json_array_size(items) <= (size_t)limit);
		if (next)
			assert_int_equal(json_array_size(items), limit);
		for (size_t i = 0; i < json_array_size(items) && n < max; i++)
			ids[n++] = num(json_array_get(items, i), "id");
		json_decref(items);
		free(cursor);
		cursor = next;
		if (!cursor || *pages > 100)
			break;
	}
	free(cursor);
	return n;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Every id of want[] appears exactly once in got[]. */
static void exactly_once(const int64_t *got, size_t ngot, const int64_t *want, size_t nwant,
			 const char *what)
{
	int64_t *a = malloc((ngot + 1) * sizeof *a), *b = malloc((nwant + 1) * sizeof *b);
	memcpy(a, got, ngot * sizeof *a);
	memcpy(b, want, nwant * sizeof *b);
	qsort(a, ngot, sizeof *a, cmp64);
	qsort(b, nwant, sizeof *b, cmp64);
	if (ngot != nwant)
		fail_msg("%s: %zu records listed, expected %zu", what, ngot, nwant);
	for (size_t i = 0; i < ngot; i++)
		if (a[i] != b[i])
			fail_msg("%s: record %lld listed where %lld was expected (duplicate or missing)",
				 what, (long long)a[i], (long long)b[i]);
	free(a);
	free(b);
}

static void cursor_pagination(void **state)
{
	struct fx *f = *state;
	enum { N = 120 };
	int64_t mine[N + 2], got[N + 10];
	size_t pages, n;
	/* r1 already owns two accounts; add 118, with industries that tie and are often null */
	mine[0] = f->a_r1;
	mine[1] = f->a_r1b;
	for (int i = 2; i < N; i++) {
		/* names in an order unlike the ids, mixing Chinese and Latin */
		int k = (i * 37) % N;
		if (i % 3 == 0)
			mine[i] = MK(f, &kind_account, &f->v_r1, "{\"name\": \"客户 %03d\"}", k);
		else if (i % 3 == 1)
			mine[i] = MK(f, &kind_account, &f->v_r1, "{\"name\": \"Client %03d\","
				     " \"industry\": \"%s\"}", k, i % 2 ? "印刷" : "包装");
		else
			mine[i] = MK(f, &kind_account, &f->v_r1, "{\"name\": \"client %03d x\","
				     " \"industry\": \"印刷\"}", k);
	}
	/* records r1 may not see must not leak into the pages */
	for (int i = 0; i < 5; i++)
		MK(f, &kind_account, &f->v_r3, "{\"name\": \"Client %03d south\"}", i);

	n = walk(f, &f->v_r1, NULL, 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=id");
	assert_int_equal(pages, 3);
	for (size_t i = 1; i < n; i++)
		assert_true(got[i] > got[i - 1]);

	n = walk(f, &f->v_r1, "-name", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=-name");
	assert_int_equal(pages, 3);

	n = walk(f, &f->v_r1, "name", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=name");

	n = walk(f, &f->v_r1, "-id", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=-id");
	for (size_t i = 1; i < n; i++)
		assert_true(got[i] < got[i - 1]);

	/* sort keys with ties and nulls */
	n = walk(f, &f->v_r1, "industry", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=industry");
	n = walk(f, &f->v_r1, "-industry", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=-industry");
	n = walk(f, &f->v_r1, "created_at", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=created_at");
	n = walk(f, &f->v_r1, "-touches", 50, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=-touches");

	/* page sizes that divide the total exactly end without an empty page */
	n = walk(f, &f->v_r1, NULL, 60, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "limit=60");
	assert_int_equal(pages, 2);
	n = walk(f, &f->v_r1, "-name", 7, got, N + 10, &pages);
	exactly_once(got, n, mine, N, "sort=-name limit=7");
	assert_int_equal(pages, 18);

	/* and the -name order really is descending */
	n = walk(f, &f->v_r1, "-name", 500, got, N + 10, &pages);
	assert_int_equal(pages, 1);
	json_t *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = NULL;
		struct dm_err e;
		assert_int_equal(rec_get(f->s, &kind_account, &f->v_r1, got[i], &rec, &e), 0);
		if (prev)
			assert_true(strcmp(str(prev, "name"), str(rec, "name")) > 0);
		json_decref(prev);
		prev = rec;
	}
	json_decref(prev);
}

static void list_filters_and_search(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	json_t *items = NULL;
	char *next = NULL;
	MK(f, &kind_account, &f->v_r1, "{\"name\": \"ACME Ltd\", \"importance\": \"A\"}");
	struct kv p1[] = { { "name", "ａｃｍｅ" } };
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_r1, p1, 1, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(str(json_array_get(items, 0), "name"), "ACME Ltd");
	json_decref(items);
	struct kv p2[] = { { "name", "科技" } };
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_r1, p2, 1, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(num(json_array_get(items, 0), "id"), f->a_r1);
	json_decref(items);
	struct kv p3[] = { { "name", "globex" } };   /* r3's: invisible to r1 */
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_r1, p3, 1, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	struct kv p4[] = { { "importance", "A" }, { "owner_id", "" } };
	char own[24];
	snprintf(own, sizeof own, "%lld", (long long)f->r1);
	p4[1].value = own;
	assert_int_equal(rec_list(f->s, &kind_account, &f->v_m1, p4, 2, &items, &next, &e), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	assert_null(next);
}

/* ---- the list as text (rec_list_text) against the list as objects (rec_list) ------------------- */

static void sql_exec(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* Both paths for one list: the same status, the same bytes as jsontext writes rec_list's items,
 * the same cursor; then the next page by that cursor. Returns the pages seen. */
static int same_list(struct fx *f, const struct viewer *v, const struct kv *params, size_t n,
		     const char *what)
{
	struct kv p[12];
	char *cursor = NULL;
	int pages = 0;
	assert_true(n < 11);
	memcpy(p, params, n * sizeof *p);
	for (;;) {
		struct dm_err e1, e2;
		json_t *items = NULL;
		char *next1 = NULL, *next2 = NULL;
		struct buf tree = BUF_INIT(0), text = BUF_INIT(0);
		int done = 0;
		size_t np = n;
		if (cursor) {
			p[np].key = "cursor";
			p[np++].value = cursor;
		}
		dm_err_clear(&e1);
		dm_err_clear(&e2);
		int rc1 = rec_list(f->s, &kind_account, v, p, np, &items, &next1, &e1);
		int rc2 = rec_list_text(f->s, &kind_account, v, p, np, 0, &text, &next2, &done, &e2);
		assert_true(done);
		if (rc1 != rc2 || strcmp(e1.message, e2.message))
			fail_msg("%s page %d: rec_list %s (%s), rec_list_text %s (%s)", what, pages,
				 dm_code_name(rc1), e1.message, dm_code_name(rc2), e2.message);
		if (!rc1) {
			assert_int_equal(jsontext_append(&tree, items), 0);
			if (strcmp(tree.data, text.data ? text.data : ""))
				fail_msg("%s page %d:\ntree %s\ntext %s", what, pages, tree.data,
					 text.data ? text.data : "(none)");
			if ((next1 == NULL) != (next2 == NULL) || (next1 && strcmp(next1, next2)))
				fail_msg("%s page %d: next %s against %s", what, pages,
					 next1 ? next1 : "null", next2 ? next2 : "null");
		}
		json_decref(items);
		buf_release(&tree);
		buf_release(&text);
		free(next2);
		free(cursor);
		cursor = next1;
		pages++;
		if (rc1 || !cursor)
			break;
		if (pages > 40)
			fail_msg("%s: more than 40 pages (sort %s, limit %s)", what,
				 n > 1 ? p[1].value : "id", p[0].value);
	}
	free(cursor);
	return pages;
}

/* Both paths for one record: the same status and message, the same bytes as jsontext writes
 * rec_get's record, and its version (the ETag). Returns 1 when the record was found. */
static int same_get(struct fx *f, const struct viewer *v, int64_t id)
{
	struct dm_err e1, e2;
	json_t *rec = NULL;
	struct buf tree = BUF_INIT(0), text = BUF_INIT(0);
	int64_t version = -1;
	int done = 0;
	dm_err_clear(&e1);
	dm_err_clear(&e2);
	int rc1 = rec_get(f->s, &kind_account, v, id, &rec, &e1);
	int rc2 = rec_get_text(f->s, &kind_account, v, id, &text, &version, &done, &e2);
	assert_true(done);
	if (rc1 != rc2 || strcmp(e1.message, e2.message))
		fail_msg("account %lld: rec_get %s (%s), rec_get_text %s (%s)", (long long)id,
			 dm_code_name(rc1), e1.message, dm_code_name(rc2), e2.message);
	if (!rc1) {
		assert_int_equal(jsontext_append(&tree, rec), 0);
		if (strcmp(tree.data, text.data ? text.data : ""))
			fail_msg("account %lld:\ntree %s\ntext %s", (long long)id, tree.data,
				 text.data ? text.data : "(none)");
		assert_int_equal(version, json_integer_value(json_object_get(rec, "version")));
		assert_true(version > 0);
	} else {
		assert_true(!text.data || !*text.data);
	}
	json_decref(rec);
	buf_release(&tree);
	buf_release(&text);
	return !rc1;
}

/* The lists' rows (followup_account_list_layout) hold the fields the text writes or derives its
 * fields from, and nothing else: not the internal fields that only the rules' own scans read
 * (_latest_contact_ids, _won_opps); store_list_rows with the layout's only hands over rows of
 * exactly its columns, each value the same as the whole row's (store_list). */
static int lean_row(void *arg, const struct store_row *r)
{
	const struct account_text *at = followup_account_list_layout();
	json_t **items = arg, *rec = json_array_get(items[0], json_array_size(items[1]));
	assert_int_equal(r->n, at->ncols);
	assert_non_null(rec);
	for (size_t c = 0; c < r->n; c++) {
		json_t *v = json_object_get(rec, at->field[c]->name);
		assert_non_null(v);
		if (r->v[c].null)
			assert_true(json_is_null(v));
		else if (json_is_integer(v) || json_is_boolean(v))
			assert_int_equal(r->v[c].i, json_is_integer(v) ? json_integer_value(v) :
					 json_is_true(v));
		else if (json_is_string(v))
			assert_string_equal(r->v[c].s, json_string_value(v));
	}
	json_array_append_new(items[1], json_integer(1));
	return 0;
}

static void list_rows_read_what_the_text_writes(void **state)
{
	struct fx *f = *state;
	struct dm_err e;
	static const char *const facts[] = { "_latest_next_touch", "_first_order_on", "_open_opps",
					     "_order_count", "_orders" };
	const struct account_text *at = followup_account_list_layout();
	const struct account_text *full = followup_account_layout();
	size_t n = 0, internal = 0;
	for (size_t i = 0; i < kind_account.nfields; i++) {
		const struct field *fd = &kind_account.fields[i];
		int fact = 0;
		for (size_t j = 0; j < sizeof facts / sizeof facts[0]; j++)
			fact |= !strcmp(fd->name, facts[j]);
		int want = model_is_selected(fd) && (!(fd->flags & FF_INTERNAL) || fact);
		internal += model_is_selected(fd) && (fd->flags & FF_INTERNAL) && !fact;
		assert_int_equal(model_query_selects(fd, at->only), want);
		if (want) {
			assert_true(n < at->ncols);
			assert_ptr_equal(at->field[n], fd);
			n++;
		}
	}
	assert_int_equal(at->ncols, n);
	assert_int_equal(internal, 2);
	assert_int_equal(full->ncols, n + internal);
	for (int i = 0; i < AT_NFACTS; i++)   /* every fact the rules derive from is read */
		assert_true(at->col[i] >= 0 && (size_t)at->col[i] < at->ncols);
	/* the names found as strings too, not only by address */
	const char *copies[STORE_ROW_MAX + 1] = { 0 };
	for (size_t c = 0; c < n; c++)
		copies[c] = strdup(at->only[c]);
	for (size_t i = 0; i < kind_account.nfields; i++)
		assert_int_equal(model_query_selects(&kind_account.fields[i], copies),
				 model_query_selects(&kind_account.fields[i], at->only));
	for (size_t c = 0; c < n; c++)
		free((char *)copies[c]);
	/* the store's rows of that only, against its whole rows */
	struct store_query q = { .kind = &kind_account, .viewer = &f->v_admin, .limit = 100 };
	json_t *items[2] = { NULL, json_array() };
	dm_err_clear(&e);
	assert_int_equal(store_list(f->s, &q, &items[0], &e), 0);
	assert_true(json_array_size(items[0]) >= 4);
	q.only = at->only;
	assert_int_equal(store_list_rows(f->s, &q, lean_row, items, &e), 0);
	assert_int_equal(json_array_size(items[1]), json_array_size(items[0]));
	json_decref(items[0]);
	json_decref(items[1]);
}

static void list_text_matches_tree(void **state)
{
	struct fx *f = *state;
	char today[DATE_STR_LEN], d[8][DATE_STR_LEN];
	int64_t t;
	date_today(today);
	date_to_days(today, &t);
	static const int ago[8] = { 2000, 1500, 1000, 700, 400, 200, 30, 5 };
	for (int i = 0; i < 8; i++)
		date_from_days(t - ago[i], d[i]);
	/* names and fields of every kind of text: Chinese, quotes, backslashes, tabs and newlines,
	 * a character of four bytes, empty strings, nulls */
	static const char *const names[] = {
		"上海鑫源机械有限公司", "He said \\\"hi\\\"", "back\\\\slash 公司", "tab\\there",
		"new\\nline", "emoji 😀 集团", "鑫源 second", "", "Z", "a/b <c> & d",
	};
	int64_t ids[32];
	size_t na = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!*names[i])
			continue;
		ids[na++] = MK(f, &kind_account, &f->v_r1,
			       "{\"name\": \"%s\", \"industry\": %s, \"importance\": \"%s\", "
			       "\"lifecycle\": \"%s\", \"notes\": %s, \"installed_base\": %s}",
			       names[i], i % 3 ? "\"制造业\"" : "null", (const char *[]){ "A", "B", "C", "VVIP" }[i % 4],
			       (const char *[]){ "acquire", "grow", "mature", "lost" }[i % 4],
			       i % 2 ? "\"第一行\\n第二行\\t\\\"引号\\\" \\\\ end\"" : "null",
			       i % 3 == 0 ? "[]" : i % 3 == 1 ?
			       "[{\"brand\": \"华为\", \"product\": \"S5700\", \"quantity\": 3, \"years\": 2.5}]" :
			       "[{\"brand\": \"x\\\"y\", \"years\": 0.1}, {\"brand\": \"b\"}]");
	}
	/* orders: none (prospect), one (beginner), two long ago (habitual), three and more of a
	 * product long ago (an overdue repurchase: decline and a warning) and lately (not overdue),
	 * products with quotes and backslashes (SQLite escapes them in the orders' JSON) */
	for (int i = 0; i < 1; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"泵\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[1], d[7]);
	for (int i = 0; i < 2; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"阀门\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[2], d[i]);
	for (int i = 0; i < 4; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"轴承\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[3], d[i]);
	for (int i = 0; i < 3; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"say \\\"x\\\" \\\\ y\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[4], d[i + 1]);
	for (int i = 0; i < 3; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"gear\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[4], d[i + 5]);
	for (int i = 0; i < 5; i++)
		MK(f, &kind_order, &viewer_system, "{\"account_id\": %lld, \"product\": \"%s\", "
		   "\"ordered_on\": \"%s\"}", (long long)ids[5], i % 2 ? "钢" : "铁", d[i + 3]);
	/* touches: an old one (sleeping), a planned next touch, recent ones */
	MK(f, &kind_activity, &f->v_r1, "{\"account_id\": %lld, \"channel\": \"visit\", "
	   "\"occurred_at\": \"%sT08:00:00Z\"}", (long long)ids[0], d[4]);
	MK(f, &kind_activity, &f->v_r1, "{\"account_id\": %lld, \"channel\": \"phone\", "
	   "\"next_touch_on\": \"%s\"}", (long long)ids[1], d[7]);
	MK(f, &kind_activity, &f->v_r1, "{\"account_id\": %lld, \"channel\": \"wechat\"}",
	   (long long)ids[6]);
	MK(f, &kind_opportunity, &f->v_r1, "{\"account_id\": %lld, \"name\": \"大单\"}",
	   (long long)ids[6]);
	/* stored text no API would write: control characters, DEL, an integer in a text column,
	 * JSON with spaces, escapes, duplicate keys and big numbers, JSON that is no JSON, text
	 * that is not UTF-8 (the record then lacks the field) */
	char sql[1024];
	snprintf(sql, sizeof sql,
		 "UPDATE accounts SET address = 'ctl' || char(1) || char(31) || char(127) || 'x', "
		 "phone = 12345, scale = '' WHERE id = %lld;"
		 "UPDATE accounts SET installed_base = '[ {\"brand\" : \"\\u4e2d\", \"brand\": 2, "
		 "\"n\": 12345678901234567890} ]', source = '来源' WHERE id = %lld;"
		 "UPDATE accounts SET installed_base = '[1, 2' WHERE id = %lld;"
		 "UPDATE accounts SET installed_base = '[[1,[2]],\"s\",007]' WHERE id = %lld;"
		 "UPDATE accounts SET website = CAST(x'e4b8' AS TEXT), nature = CAST(x'61006200' AS TEXT) "
		 "WHERE id = %lld;",
		 (long long)ids[0], (long long)ids[1], (long long)ids[2], (long long)ids[3],
		 (long long)ids[7]);
	sql_exec(f, sql);
	/* an archived one, and accounts of another rep */
	json_t *rec = NULL;
	struct dm_err e;
	assert_int_equal(rec_archive(f->s, &kind_account, &f->v_r1, ids[8], &rec, &e), 0);
	json_decref(rec);
	MK(f, &kind_account, &f->v_r2, "{\"name\": \"鑫源 of r2\", \"importance\": \"A\"}");

	char own[24];
	snprintf(own, sizeof own, "%lld", (long long)f->r1);
	const struct viewer *viewers[] = { &f->v_r1, &f->v_m1, &f->v_admin, &f->v_r3 };
	static const char *const sorts[] = { NULL, "id", "-id", "name", "-name", "last_touch_at",
					     "-last_touch_at", "lifecycle", "-lifecycle",
					     "importance", "touches", "-created_at", "industry",
					     "first_deal_on", "assigned_at", "owner_id" };
	static const char *const limits[] = { "1", "3", "50" };
	int pages = 0;
	for (size_t vi = 0; vi < sizeof viewers / sizeof viewers[0]; vi++) {
		for (size_t si = 0; si < sizeof sorts / sizeof sorts[0]; si++) {
			for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
				struct kv p[3] = { { "limit", limits[li] } };
				size_t n = 1;
				if (sorts[si]) {
					p[n].key = "sort";
					p[n++].value = sorts[si];
				}
				pages += same_list(f, viewers[vi], p, n, "sorted");
				p[n].key = "owner_id";
				p[n++].value = own;
				pages += same_list(f, viewers[vi], p, n, "owner_id");
			}
		}
		static const struct kv other[][2] = {
			{ { "name", "鑫源" }, { "limit", "1" } },
			{ { "name", "\"hi\"" }, { "sort", "-last_touch_at" } },
			{ { "lifecycle", "decline" }, { "limit", "2" } },
			{ { "importance", "A" }, { "sort", "name" } },
			{ { "archived", "true" }, { "limit", "1" } },
			{ { "updated_since", "2020-01-01T00:00:00Z" }, { "limit", "4" } },
			{ { "industry", "null" }, { "limit", "2" } },
			{ { "sort", "bogus" }, { "limit", "2" } },
			{ { "limit", "0" }, { "name", "x" } },
			{ { "cursor", "not-a-cursor" }, { "limit", "2" } },
		};
		for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
			pages += same_list(f, viewers[vi], other[i], 2, other[i][0].key);
	}
	assert_true(pages > 300);

	/* GET by id as text (rec_get_text) against the record as an object: every account, one
	 * archived (the admin's only), one of another rep, one that does not exist */
	int found[4] = { 0 };
	for (size_t vi = 0; vi < sizeof viewers / sizeof viewers[0]; vi++) {
		for (size_t i = 0; i < na; i++)
			found[vi] += same_get(f, viewers[vi], ids[i]);
		found[vi] += same_get(f, viewers[vi], ids[na - 1] + 1);   /* r2's */
		assert_false(same_get(f, viewers[vi], 999999));
	}
	assert_int_equal(found[0], (int)na - 1);   /* r1: its own live accounts */
	assert_int_equal(found[2], (int)na + 1);   /* admin: all, the archived one too */

	/* what the list holds: an overdue repurchase (decline and its warning), every segment, a
	 * record without its field that is not UTF-8 */
	struct buf text = BUF_INIT(0);
	char *next = NULL;
	int done = 0;
	struct kv all[] = { { "limit", "50" } };
	assert_int_equal(rec_list_text(f->s, &kind_account, &f->v_admin, all, 1, 0, &text, &next,
				       &done, &e), 0);
	assert_non_null(strstr(text.data, "\"lifecycle\":\"decline\""));
	assert_non_null(strstr(text.data, "\"code\":\"repurchase_overdue\""));
	assert_non_null(strstr(text.data, "\"overdue\":false"));
	assert_non_null(strstr(text.data, "\"product\":\"say \\\"x\\\" \\\\ y\""));
	assert_non_null(strstr(text.data, "\"segment\":\"habitual\""));
	assert_non_null(strstr(text.data, "\"segment\":\"beginner\""));
	assert_non_null(strstr(text.data, "\"segment\":\"prospect\""));
	assert_non_null(strstr(text.data, "\"sleeping\":true"));
	assert_non_null(strstr(text.data, "\"address\":\"ctl\\u0001\\u001F\x7fx\""));
	assert_non_null(strstr(text.data, "\"phone\":\"12345\""));
	assert_non_null(strstr(text.data, "\"nature\":\"a\""));
	assert_null(strstr(text.data, "\"website\":\"\xe4"));
	buf_release(&text);
	free(next);
	/* other kinds: not written as text */
	assert_int_equal(rec_list_text(f->s, &kind_contact, &f->v_admin, all, 1, 0, &text, &next,
				       &done, &e), 0);
	assert_false(done);
	assert_null(text.data);
}

/* ---- the accounts' texts, remembered (followup.c's memo) ------------------------------------ */

/* A list of r1's accounts as text, and whether it equals the list as objects (same_list). */
static char *own_list_text(struct fx *f)
{
	char own[24];
	struct kv p[2] = { { "limit", "50" }, { "owner_id", own } };
	struct buf text = BUF_INIT(0);
	struct dm_err e;
	char *next = NULL;
	int done = 0;
	snprintf(own, sizeof own, "%lld", (long long)f->r1);
	same_list(f, &f->v_r1, p, 2, "own");
	assert_int_equal(rec_list_text(f->s, &kind_account, &f->v_r1, p, 2, 0, &text, &next, &done,
				       &e), 0);
	assert_true(done);
	assert_null(next);
	size_t len;
	return buf_detach(&text, &len);
}

struct day_texts {
	struct store *s;
	int64_t today;
	char *text[2];
	long hits[2];
};

/* One row's text on two days, each written twice (the second time from the memo). */
static int day_row(void *arg, const struct store_row *r)
{
	struct day_texts *d = arg;
	for (int i = 0; i < 2; i++) {
		struct present_ctx pc;
		struct dm_err e;
		present_ctx_init(&pc);
		pc.today_day = d->today + i * 1000;
		struct buf b[2] = { BUF_INIT(0), BUF_INIT(0) };
		long before = followup_memo_hits();
		for (int j = 0; j < 2; j++)
			assert_int_equal(followup_account_text(d->s, &pc, followup_account_list_layout(), r,
							       &b[j], NULL, NULL, &e), 0);
		d->hits[i] = followup_memo_hits() - before;
		assert_string_equal(b[0].data, b[1].data);
		size_t len;
		d->text[i] = buf_detach(&b[0], &len);
		buf_release(&b[1]);
		present_ctx_release(&pc);
	}
	return 1;
}

/* The memo gives a text only for inputs equal to those it was written from: the row's values,
 * the day, the rules. Each change below is made where no write of the rules' could tell the
 * memo (SQL by hand, the settings, the calendar), and the list must still equal the one built
 * as objects, which has no memo. */
static void account_texts_remembered_for_equal_inputs_only(void **state)
{
	struct fx *f = *state;
	char today[DATE_STR_LEN], ago[DATE_STR_LEN];
	int64_t t;
	date_today(today);
	date_to_days(today, &t);
	date_from_days(t - 100, ago);
	int64_t a = MK(f, &kind_account, &f->v_r1, "{\"name\": \"记忆测试公司\", \"importance\": \"A\"}");
	MK(f, &kind_activity, &f->v_r1, "{\"account_id\": %lld, \"channel\": \"visit\", "
	   "\"occurred_at\": \"%sT08:00:00Z\"}", (long long)a, ago);
	followup_memo_clear();

	/* written once, then remembered: r1 has three live accounts */
	long h0 = followup_memo_hits();
	char *first = own_list_text(f);
	long h1 = followup_memo_hits();
	assert_int_equal(h1 - h0, 3);   /* same_list's text was the first, own_list_text's the second */
	char *again = own_list_text(f);
	assert_string_equal(again, first);
	assert_int_equal(followup_memo_hits() - h1, 6);
	assert_non_null(strstr(first, "\"sleeping\":true"));   /* 100 days quiet, 90 by default */
	free(again);

	/* a column changed behind the rules' back: that account's text is written again */
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE accounts SET phone = '010-12345678' WHERE id = %lld",
		 (long long)a);
	sql_exec(f, sql);
	h1 = followup_memo_hits();
	char *changed = own_list_text(f);
	assert_non_null(strstr(changed, "\"phone\":\"010-12345678\""));
	assert_int_equal(followup_memo_hits() - h1, 2 * 3 - 1);   /* the other two remembered */
	free(changed);

	/* the rules changed: every text is written again, and the quiet account no longer sleeps */
	json_t *body = json_pack("{s:i}", "sleeping_after_days", 365), *out = NULL;
	struct dm_err e;
	assert_int_equal(settings_patch(f->s, &f->v_admin, body, &out, &e), 0);
	json_decref(body);
	json_decref(out);
	h1 = followup_memo_hits();
	char *ruled = own_list_text(f);
	assert_null(strstr(ruled, "\"sleeping\":true"));
	assert_int_equal(followup_memo_hits() - h1, 3);
	free(ruled);
	free(first);

	/* another day: another text (a thousand days on, the account sleeps again) */
	struct day_texts d = { f->s, t, { NULL, NULL }, { 0, 0 } };
	struct store_query q = { .kind = &kind_account, .viewer = &f->v_r1, .limit = 1,
				 .only = followup_account_list_layout()->only };
	q.filters[0].field = model_field(&kind_account, "id");
	q.filters[0].value = json_integer(a);
	q.nfilters = 1;
	dm_err_clear(&e);
	assert_true(store_list_rows(f->s, &q, day_row, &d, &e) >= 0);
	json_decref(q.filters[0].value);
	assert_non_null(d.text[0]);
	assert_non_null(d.text[1]);
	assert_int_equal(d.hits[0], 2);   /* today's as the list just wrote it */
	assert_int_equal(d.hits[1], 1);   /* written, then remembered */
	assert_string_not_equal(d.text[0], d.text[1]);
	assert_non_null(strstr(d.text[0], "\"sleeping\":false"));
	assert_non_null(strstr(d.text[1], "\"sleeping\":true"));
	free(d.text[0]);
	free(d.text[1]);

	/* an account whose text is long (notes of 3,000 characters, 9 KB) is written each time:
	 * the memo's entries are bounded */
	int64_t lng = MK(f, &kind_account, &f->v_r1, "{\"name\": \"长备注公司\"}");
	snprintf(sql, sizeof sql, "UPDATE accounts SET notes = replace(hex(zeroblob(3000)), '00', "
		 "'记') WHERE id = %lld", (long long)lng);
	sql_exec(f, sql);
	char notes[9 * 1024 + 1];
	for (int i = 0; i < 3000; i++)
		memcpy(notes + 3 * i, "记", 3);
	notes[9000] = '\0';
	char *once = own_list_text(f);
	h1 = followup_memo_hits();
	char *twice = own_list_text(f);
	assert_string_equal(once, twice);
	assert_non_null(strstr(twice, notes));
	assert_int_equal(followup_memo_hits() - h1, 2 * 3);   /* the three others', twice */
	free(once);
	free(twice);
}

/* Accounts whose ids fall in one set of the memo are kept together (followup.c: sets of four
 * ways by the top bits of the id times 2^64/φ; fix 58 kept one entry per 14-bit hash, and
 * the texts of any two accounts sharing one replaced each other at every list). Four ids that
 * share their 14 top bits share a set in either. */
static void memo_keeps_the_accounts_of_one_set(void **state)
{
	struct fx *f = *state;
	int64_t a = MK(f, &kind_account, &f->v_r1, "{\"name\": \"同组测试公司\"}");
	uint64_t home = (uint64_t)a * 0x9E3779B97F4A7C15ULL >> 50;
	int64_t ids[3];
	int n = 0;
	for (int64_t id = 100000; n < 3; id++)
		if ((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 50 == home)
			ids[n++] = id;
	for (int i = 0; i < 3; i++) {   /* three more accounts, moved to those ids by SQL by hand */
		int64_t b = MK(f, &kind_account, &f->v_r1, "{\"name\": \"同组测试公司%d\"}", i);
		char sql[128];
		snprintf(sql, sizeof sql, "UPDATE accounts SET id = %lld WHERE id = %lld",
			 (long long)ids[i], (long long)b);
		sql_exec(f, sql);
	}
	followup_memo_clear();
	char *first = own_list_text(f);
	int listed = 0;
	for (const char *p = first; (p = strstr(p, "{\"id\":")); p++)
		listed++;
	assert_int_equal(listed, 6);   /* r1's two, a and the three moved */
	long h = followup_memo_hits();
	char *again = own_list_text(f);
	assert_string_equal(again, first);
	assert_int_equal(followup_memo_hits() - h, 2 * listed);   /* every text remembered */
	free(first);
	free(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rep_owns_what_they_create, setup, teardown),
		cmocka_unit_test_setup_teardown(rep_cannot_give_away, setup, teardown),
		cmocka_unit_test_setup_teardown(manager_assigns_within_teams, setup, teardown),
		cmocka_unit_test_setup_teardown(roles_that_may_not_write, setup, teardown),
		cmocka_unit_test_setup_teardown(user_edits_own_display_name, setup, teardown),
		cmocka_unit_test_setup_teardown(admin_cannot_demote_self, setup, teardown),
		cmocka_unit_test_setup_teardown(users_and_passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(team_tree_has_no_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(contact_reports_to_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(activity_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(if_match, setup, teardown),
		cmocka_unit_test_setup_teardown(archive_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(list_bad_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(cursor_pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(list_filters_and_search, setup, teardown),
		cmocka_unit_test_setup_teardown(list_text_matches_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(list_rows_read_what_the_text_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(account_texts_remembered_for_equal_inputs_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(memo_keeps_the_accounts_of_one_set, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
