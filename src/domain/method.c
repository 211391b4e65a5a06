/* method.c — the sales method: what a rep sees about where a deal stands, who decides, how each
 * buyer stands toward us, and what they are doing wrong for the customer's phase. */
#include "method.h"
#include "settings.h"
#include "followup.h"
#include "../base/jsontext.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define NEGLECT_DAYS 30
#define PAGE 500

void present_ctx_init(struct present_ctx *pc)
{
	memset(pc, 0, sizeof *pc);
	pc->now_ms = time_now_ms();
	date_today_offset(AGENDA_TZ_MINUTES, pc->today);
	date_to_days(pc->today, &pc->today_day);
}

void present_ctx_release(struct present_ctx *pc)
{
	json_decref(pc->stages);
	pc->stages = NULL;
}

/* The caller's access to an account, and whether it is VVIP, cached for runs of records. */
static int account_facts(struct store *s, const struct viewer *v, struct present_ctx *pc,
			 int64_t account, struct dm_err *e)
{
	json_t *acc = NULL;
	if (pc->account_id == account && account)
		return 0;
	int rc = store_account_access(s, v, account, &pc->access, e);
	if (rc)
		return rc;
	rc = store_get(s, &kind_account, NULL, account, 1, &acc, e);
	if (rc == DM_ENOTFOUND)
		rc = 0;
	pc->vvip = acc && !strcmp(json_string_value(json_object_get(acc, "importance")) ?: "", "VVIP");
	json_decref(acc);
	pc->account_id = rc ? 0 : account;
	return rc;
}

static int64_t int_of(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

static const char *str_of(json_t *rec, const char *field)
{
	return json_string_value(json_object_get(rec, field));
}

/* ---- the assessment (SPEC §3.3) ------------------------------------------------------------------ */

/* Mean of the named scores (inverted ones count 6 - x), two decimals; NULL if any is missing. */
static json_t *mean(json_t *a, const char *const *keys, const char *const *inverted)
{
	double sum = 0;
	int n = 0;
	for (int i = 0; keys[i]; i++, n++) {
		json_t *x = json_object_get(a, keys[i]);
		if (!json_is_integer(x))
			return json_null();
		sum += (double)json_integer_value(x);
	}
	for (int i = 0; inverted[i]; i++, n++) {
		json_t *x = json_object_get(a, inverted[i]);
		if (!json_is_integer(x))
			return json_null();
		sum += 6.0 - (double)json_integer_value(x);
	}
	return json_real(round(sum / n * 100.0) / 100.0);
}

void method_assess(json_t *a, json_t **worth, json_t **winnable, const char **advice)
{
	static const char *const worth_keys[] = { "deal_size", "regional_influence", NULL };
	static const char *const worth_inv[] = { "cost_to_win", "opportunity_cost", NULL };
	static const char *const can_keys[] = { "competitive_strength", "unique_value",
						"relationship", NULL };
	static const char *const none[] = { NULL };
	*worth = json_is_object(a) ? mean(a, worth_keys, worth_inv) : json_null();
	*winnable = json_is_object(a) ? mean(a, can_keys, none) : json_null();
	*advice = NULL;
	if (!json_is_real(*worth) || !json_is_real(*winnable))
		return;
	double w = json_real_value(*worth), c = json_real_value(*winnable);
	if (w >= 3.5 && c >= 3.5)
		*advice = "pursue";
	else if (w >= 3.5)
		*advice = "share";
	else if (w < 2.5 && c < 2.5)
		*advice = "drop";
	else
		*advice = "qualify";
}

/* ---- portraits (SPEC §5) ---------------------------------------------------------------------- */

static int block_known(json_t *portrait, const char *block)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(portrait, block), k, v) {
		if (json_is_string(v) && json_string_length(v))
			return 1;
	}
	return 0;
}

const char *method_relationship_level(json_t *p)
{
	if (!block_known(p, "basic") || !block_known(p, "background"))
		return "none";
	if (!block_known(p, "needs") || !block_known(p, "relations"))
		return "doctor";
	if (!block_known(p, "deep"))
		return "teacher";
	if (!block_known(p, "extended"))
		return "friend";
	return "brother";
}

int method_attitude_score(const char *attitude)
{
	static const int score[] = { 2, 1, 0, -1, -2 };
	int i = attitude ? model_enum_index(model_attitudes, attitude) : -1;
	return i < 0 ? 0 : score[i];
}

/* ---- presenting records ------------------------------------------------------------------------- */

static const char *const warning_codes[] = { "quote_before_needs", "no_decision_maker", "no_coach",
					     "opponent_late", "neglect_after_signature",
					     "overdue_close", NULL };
static const char *const warning_messages[] = {
	"A quote or demo was given before the need is confirmed (报价/演示过早).",
	"No stakeholder has the decision_maker role.",
	"No coach on this deal: a big order without a coach is dangerous.",
	"An opponent is still active this late in the deal.",
	"No effective follow-up for 30 days after the signature.",
	"The expected close date has passed.",
};

/* What an opportunity's warnings read: from its record (opportunity_warnings) or from the
 * store's row as C values (the warnings' list on SQLite). stage is never NULL. */
struct warn_facts {
	const char *stage, *close, *last_touch;
	int64_t quotes, decision_makers, coaches, opponents;
};

/* The warnings of f in a stage of phase: bit i for warning_codes[i], in that order. */
static unsigned warning_bits(const struct warn_facts *f, const char *phase,
			     const struct present_ctx *pc)
{
	unsigned w = 0;
	int open = strcmp(phase, "closed") != 0;
	int evaluating = open && strcmp(phase, "confirm_needs") != 0;
	if (!strcmp(phase, "confirm_needs") && f->quotes > 0)
		w |= 1u << 0;
	if (evaluating && f->decision_makers == 0)
		w |= 1u << 1;
	if (evaluating && f->coaches == 0)
		w |= 1u << 2;
	if ((!strcmp(f->stage, "commit") || !strcmp(f->stage, "use")) && f->opponents > 0)
		w |= 1u << 3;
	if (!strcmp(f->stage, "use")) {
		int64_t last;
		if (!f->last_touch || time_parse(f->last_touch, &last) ||
		    pc->now_ms - last > NEGLECT_DAYS * 86400000LL)
			w |= 1u << 4;
	}
	if (open && f->close && strcmp(f->close, pc->today) < 0)
		w |= 1u << 5;
	return w;
}

static json_t *opportunity_warnings(json_t *rec, const char *phase, struct present_ctx *pc)
{
	struct warn_facts f = { str_of(rec, "stage"), str_of(rec, "expected_close_on"),
				str_of(rec, "_account_last_touch"), int_of(rec, "_quotes"),
				int_of(rec, "_decision_makers"), int_of(rec, "_coaches"),
				int_of(rec, "_opponents") };
	json_t *w = json_array();
	unsigned bits = warning_bits(&f, phase, pc);
	for (int i = 0; warning_codes[i]; i++)
		if (bits & 1u << i)
			json_array_append_new(w, json_pack("{s:s,s:s}", "code", warning_codes[i],
							   "message", warning_messages[i]));
	return w;
}

/* rec's warnings (only), set on rec as present_opportunity sets them. */
static int opportunity_warnings_of(struct store *s, struct present_ctx *pc, json_t *rec,
				   struct dm_err *e)
{
	if (!pc->stages && settings_stages(s, &pc->stages, e))
		return e->code;
	json_t *st = settings_stage(pc->stages, str_of(rec, "stage"));
	json_object_set_new(rec, "warnings", opportunity_warnings(rec, str_of(st, "phase"), pc));
	return 0;
}

static int present_opportunity(struct store *s, struct present_ctx *pc, json_t *rec,
			       struct dm_err *e)
{
	if (!pc->stages && settings_stages(s, &pc->stages, e))
		return e->code;
	json_t *st = settings_stage(pc->stages, str_of(rec, "stage"));
	int64_t rate = int_of(st, "win_rate"), amount = int_of(rec, "amount");
	const char *phase = str_of(st, "phase");
	json_object_set_new(rec, "win_rate", json_integer(rate));
	/* amount x rate / 100, rounded half up, without overflow for amounts up to 2^53 */
	json_object_set_new(rec, "weighted_amount",
			    json_integer(amount / 100 * rate + (amount % 100 * rate + 50) / 100));
	json_object_set_new(rec, "phase", json_string(phase));
	json_t *worth, *winnable;
	const char *advice;
	method_assess(json_object_get(rec, "assessment"), &worth, &winnable, &advice);
	json_object_set_new(rec, "worth", worth);
	json_object_set_new(rec, "winnable", winnable);
	json_object_set_new(rec, "recommendation", advice ? json_string(advice) : json_null());
	json_object_set_new(rec, "warnings", opportunity_warnings(rec, phase, pc));
	return 0;
}

/* Need to know: for everyone else the sensitive blocks are absent, not emptied. */
static void strip_sensitive(json_t *portrait)
{
	if (json_is_object(portrait)) {
		json_object_del(portrait, "deep");
		json_object_del(portrait, "extended");
	}
}

static int present_contact(struct store *s, const struct viewer *v, struct present_ctx *pc,
			   json_t *rec, struct dm_err *e)
{
	json_t *p = json_object_get(rec, "portrait");
	if (account_facts(s, v, pc, int_of(rec, "account_id"), e))
		return e->code;
	if (pc->vvip && !pc->access.sensitive)
		strip_sensitive(p);
	/* computed from what the caller sees, so the level does not hint at hidden blocks */
	json_object_set_new(rec, "relationship_level", json_string(method_relationship_level(p)));
	return 0;
}

int method_present_audit(struct store *s, const struct viewer *v, const struct kind *k,
			 json_t *rec, json_t *items, struct dm_err *e)
{
	struct present_ctx pc;
	size_t i;
	json_t *it;
	if (k != &kind_contact)
		return 0;
	present_ctx_init(&pc);
	int rc = account_facts(s, v, &pc, int_of(rec, "account_id"), e);
	present_ctx_release(&pc);
	if (rc || !pc.vvip || pc.access.sensitive)
		return rc;
	json_array_foreach(items, i, it) {
		const char *field = json_string_value(json_object_get(it, "field"));
		if (field && !strcmp(field, "portrait")) {
			strip_sensitive(json_object_get(it, "old"));
			strip_sensitive(json_object_get(it, "new"));
		} else if (!field) {   /* a create or an import: the record as it was made */
			strip_sensitive(json_object_get(json_object_get(it, "new"), "portrait"));
		}
	}
	return 0;
}

int method_present(struct store *s, const struct viewer *v, struct present_ctx *pc,
		   const struct kind *k, json_t *rec, struct dm_err *e)
{
	int rc = 0;
	if (k == &kind_opportunity)
		rc = present_opportunity(s, pc, rec, e);
	else if (k == &kind_contact)
		rc = present_contact(s, v, pc, rec, e);
	else if (k == &kind_account)
		rc = followup_present_account(s, pc, rec, e);
	for (size_t i = 0; i < k->nfields; i++)
		if (k->fields[i].flags & FF_INTERNAL)
			json_object_del(rec, k->fields[i].name);
	return rc;
}

/* ---- rules inside write transactions ---------------------------------------------------------- */

int method_require_write(struct store *s, const struct viewer *v, int64_t account,
			 struct dm_err *e)
{
	struct account_access a;
	if (v->role == ROLE_ADMIN)
		return 0;   /* admins (and the command line) write everything, archived included */
	int rc = store_account_access(s, v, account, &a, e);
	if (rc)
		return rc;
	if (!a.read)
		return dm_fail(e, DM_ENOTFOUND, "account_id", "account %lld not found", (long long)account);
	if (!a.write)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "you have read access to this account only");
	return 0;
}

int method_check_opportunity(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			     struct dm_err *e)
{
	const char *to = str_of(next, "stage"), *from = cur ? str_of(cur, "stage") : NULL;
	const char *reason = str_of(next, "lost_reason");
	int rc;
	if (cur && int_of(cur, "owner_id") != v->user_id && v->role != ROLE_ADMIN) {
		/* Owners within reach may always work their deals; others need write access. */
		int yes = 0;
		if ((rc = store_in_scope(s, v, int_of(cur, "owner_id"), &yes, e)))
			return rc;
		if (!yes && (rc = method_require_write(s, v, int_of(cur, "account_id"), e)))
			return rc;
	} else if (!cur && (rc = method_require_write(s, v, int_of(next, "account_id"), e))) {
		return rc;
	}
	if (from && !strcmp(from, to))
		return 0;
	if (!strcmp(to, "lost") && (!reason || !*reason))
		return dm_fail(e, DM_EINVAL, "lost_reason", "moving to lost needs a lost_reason");
	if (from && (!strcmp(from, "won") || !strcmp(from, "lost")) && v->role != ROLE_ADMIN &&
	    v->role != ROLE_MANAGER)
		return dm_fail(e, DM_EFORBIDDEN, "stage",
			       "only a manager can reopen a %s opportunity", from);
	return 0;
}

int method_after_opportunity(struct store *s, const struct viewer *v, int64_t id, json_t *cur,
			     json_t *next, struct dm_err *e)
{
	const char *to = str_of(next, "stage"), *from = cur ? str_of(cur, "stage") : NULL;
	if (from && !strcmp(from, to))
		return 0;
	return store_stage_add(s, id, from, to, v->user_id, NULL, e);
}

int method_check_contact_portrait(struct store *s, const struct viewer *v, json_t *cur,
				  json_t *changes, json_t *next, struct dm_err *e)
{
	struct present_ctx pc;
	json_t *p = json_object_get(changes, "portrait");
	int rc;
	if (!p)
		return 0;
	present_ctx_init(&pc);
	rc = account_facts(s, v, &pc, int_of(next, "account_id"), e);
	present_ctx_release(&pc);
	if (rc || !pc.vvip || pc.access.sensitive || v->role == ROLE_ADMIN)
		return rc;
	static const char *const sensitive[] = { "deep", "extended" };
	for (int i = 0; i < 2; i++) {
		char field[32];
		snprintf(field, sizeof field, "portrait.%s", sensitive[i]);
		if (json_object_get(p, sensitive[i]))
			return dm_fail(e, DM_EFORBIDDEN, field, "%s of a VVIP account is need-to-know",
				       field);
		/* Keep what the caller could not see: a PATCH of the other blocks must not wipe it. */
		json_t *kept = cur ? json_object_get(json_object_get(cur, "portrait"), sensitive[i]) : NULL;
		if (kept)
			json_object_set(p, sensitive[i], kept);
	}
	return 0;
}

int method_check_stakeholder(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			     struct dm_err *e)
{
	json_t *opp = NULL, *contact = NULL;
	int rc = store_get(s, &kind_opportunity, v, int_of(next, "opportunity_id"), 0, &opp, e);
	if (rc == DM_ENOTFOUND)
		return dm_fail(e, DM_ENOTFOUND, NULL, "opportunity %lld not found",
			       (long long)int_of(next, "opportunity_id"));
	if (rc)
		return rc;
	int64_t account = int_of(opp, "account_id");
	json_decref(opp);
	if ((rc = method_require_write(s, v, account, e)))
		return rc;
	if (cur)
		return 0;
	rc = store_get(s, &kind_contact, NULL, int_of(next, "contact_id"), 0, &contact, e);
	int same = !rc && int_of(contact, "account_id") == account;
	json_decref(contact);
	if (rc && rc != DM_ENOTFOUND)
		return rc;
	if (!same)
		return dm_fail(e, DM_EINVAL, "contact_id",
			       "contact_id must be a contact of the opportunity's account");
	return 0;
}

int method_check_importance(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			    struct dm_err *e)
{
	struct account_access a;
	const char *was = cur ? json_string_value(json_object_get(cur, "importance")) : NULL;
	const char *now = json_string_value(json_object_get(next, "importance"));
	if (!was || strcmp(was, "VVIP") || !strcmp(now, "VVIP") || v->role == ROLE_ADMIN)
		return 0;
	/* Lowering a VVIP would unveil its sensitive blocks: only those who see them may. */
	int rc = store_account_access(s, v, int_of(cur, "id"), &a, e);
	if (!rc && !a.sensitive)
		rc = dm_fail(e, DM_EFORBIDDEN, "importance",
			     "only those with need to know may lower a VVIP account");
	return rc;
}

/* ---- endpoints ------------------------------------------------------------------------------------ */

int method_history(struct store *s, const struct viewer *v, int64_t opportunity, json_t **items,
		   struct dm_err *e)
{
	int rc = rec_visible(s, &kind_opportunity, v, opportunity, e);
	return rc ? rc : store_stage_list(s, opportunity, items, e);
}

/* Every live record of kind k visible to v whose field equals id, in id order. */
static int list_all(struct store *s, const struct kind *k, const struct viewer *v,
		    const char *field, int64_t id, json_t **out, struct dm_err *e)
{
	struct store_query q;
	json_t *all = json_array(), *page = NULL;
	int rc;
	memset(&q, 0, sizeof q);
	q.kind = k;
	q.viewer = v;
	q.limit = PAGE;
	q.filters[0].field = model_field(k, field);
	q.filters[0].value = json_integer(id);
	q.nfilters = 1;
	do {
		if ((rc = store_list(s, &q, &page, e)))
			break;
		json_array_extend(all, page);
		q.after_id = json_array_size(page) ? int_of(json_array_get(page, json_array_size(page) - 1), "id") : 0;
		json_decref(q.after_value);
		q.after_value = json_integer(q.after_id);
		size_t got = json_array_size(page);
		json_decref(page);
		if (got < PAGE)
			break;
	} while (1);
	json_decref(q.after_value);
	json_decref(q.filters[0].value);
	if (rc) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return 0;
}

static const char *warmer(const char *attitude)
{
	int i = model_enum_index(model_attitudes, attitude);
	return i > 0 ? model_attitudes[i - 1] : NULL;
}

static int by_influence(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t ix = int_of(x, "influence"), iy = int_of(y, "influence");
	if (ix != iy)
		return ix > iy ? -1 : 1;
	return int_of(x, "stakeholder_id") < int_of(y, "stakeholder_id") ? -1 : 1;
}

/* Coverage, the decision makers' attitude, opponents and next moves from the stakeholders. */
static void map_summary(json_t *map, json_t *stakeholders, json_t *contacts_by_id)
{
	json_t *coverage = json_object(), *opponents = json_array();
	double dm_sum = 0;
	int dm_n = 0;
	size_t i, n = 0;
	json_t *sh;
	for (int r = 0; model_cute_roles[r]; r++)
		json_object_set_new(coverage, model_cute_roles[r], json_false());
	json_t **moves = xcalloc(json_array_size(stakeholders) + 1, sizeof *moves);
	json_array_foreach(stakeholders, i, sh) {
		const char *role = str_of(sh, "role"), *att = str_of(sh, "attitude");
		if (role)
			json_object_set_new(coverage, role, json_true());
		if (role && !strcmp(role, "decision_maker")) {
			dm_sum += method_attitude_score(att);
			dm_n++;
		}
		if (!strcmp(att, "opponent")) {
			json_array_append_new(opponents, json_integer(int_of(sh, "id")));
		} else if (strcmp(att, "coach")) {
			char key[24];
			snprintf(key, sizeof key, "%lld", (long long)int_of(sh, "contact_id"));
			json_t *c = json_object_get(contacts_by_id, key);
			moves[n++] = json_pack("{s:I,s:I,s:o,s:s,s:s,s:I}", "stakeholder_id",
					       (json_int_t)int_of(sh, "id"), "contact_id",
					       (json_int_t)int_of(sh, "contact_id"), "name",
					       c ? json_incref(json_object_get(c, "name")) : json_null(),
					       "from", att, "to", warmer(att), "influence",
					       (json_int_t)int_of(sh, "influence"));
		}
	}
	qsort(moves, n, sizeof *moves, by_influence);
	json_t *next = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(next, moves[i]);
	free(moves);
	json_object_set_new(map, "coverage", coverage);
	json_object_set_new(map, "decision_maker_attitude",
			    dm_n ? json_real(round(dm_sum / dm_n * 100.0) / 100.0) : json_null());
	json_object_set_new(map, "opponents", opponents);
	json_object_set_new(map, "next_moves", next);
}

/* The org chart: contacts as a forest by reports_to_id, each with its stakeholder part. */
static json_t *org_tree(json_t *contacts, json_t *by_contact)
{
	json_t *nodes = json_object(), *roots = json_array();
	size_t i;
	json_t *c;
	char key[24];
	json_array_foreach(contacts, i, c) {
		snprintf(key, sizeof key, "%lld", (long long)int_of(c, "id"));
		json_t *node = json_pack("{s:I,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "contact_id",
					 (json_int_t)int_of(c, "id"), "name", json_object_get(c, "name"),
					 "title", json_object_get(c, "title"), "department",
					 json_object_get(c, "department"), "rank", json_object_get(c, "rank"),
					 "faction", json_object_get(c, "faction"), "reports_to_id",
					 json_object_get(c, "reports_to_id"), "relationship_level",
					 json_object_get(c, "relationship_level"), "stakeholder",
					 json_object_get(by_contact, key) ?: json_null());
		json_object_set_new(node, "children", json_array());
		json_object_set_new(nodes, key, node);
	}
	json_array_foreach(contacts, i, c) {
		snprintf(key, sizeof key, "%lld", (long long)int_of(c, "id"));
		json_t *node = json_object_get(nodes, key);
		json_t *up = json_object_get(c, "reports_to_id");
		json_t *parent = NULL;
		if (json_is_integer(up)) {
			snprintf(key, sizeof key, "%lld", (long long)json_integer_value(up));
			parent = json_object_get(nodes, key);
		}
		json_array_append(parent ? json_object_get(parent, "children") : roots, node);
	}
	json_decref(nodes);
	return roots;
}

int method_map(struct store *s, const struct viewer *v, int64_t opportunity, json_t **out,
	       struct dm_err *e)
{
	json_t *opp = NULL, *contacts = NULL, *stakeholders = NULL, *links = NULL;
	struct present_ctx pc;
	int rc;
	*out = NULL;
	present_ctx_init(&pc);
	if ((rc = rec_get(s, &kind_opportunity, v, opportunity, &opp, e)) ||
	    (rc = list_all(s, &kind_contact, v, "account_id", int_of(opp, "account_id"), &contacts, e)) ||
	    (rc = list_all(s, &kind_stakeholder, v, "opportunity_id", opportunity, &stakeholders, e)) ||
	    (rc = store_link_list(s, opportunity, &links, e)))
		goto out;
	json_t *by_contact = json_object(), *contacts_by_id = json_object();
	size_t i;
	json_t *x;
	char key[24];
	json_array_foreach(contacts, i, x) {
		if ((rc = method_present(s, v, &pc, &kind_contact, x, e)))
			break;
		snprintf(key, sizeof key, "%lld", (long long)int_of(x, "id"));
		json_object_set(contacts_by_id, key, x);
	}
	json_array_foreach(stakeholders, i, x) {
		snprintf(key, sizeof key, "%lld", (long long)int_of(x, "contact_id"));
		json_object_set(by_contact, key, x);
	}
	if (!rc) {
		*out = json_pack("{s:I,s:I,s:o,s:O}", "opportunity_id", (json_int_t)opportunity,
				 "account_id", (json_int_t)int_of(opp, "account_id"), "org",
				 org_tree(contacts, by_contact), "links", links);
		map_summary(*out, stakeholders, contacts_by_id);
	}
	json_decref(by_contact);
	json_decref(contacts_by_id);
out:
	present_ctx_release(&pc);
	json_decref(opp);
	json_decref(contacts);
	json_decref(stakeholders);
	json_decref(links);
	return rc;
}

struct link_tx {
	const struct viewer *v;
	int64_t opportunity, from, to;
	const char *kind;
	int64_t id;
	struct dm_err *e;
};

static int link_tx_run(struct store *s, void *arg)
{
	struct link_tx *l = arg;
	int64_t ids[2] = { l->from, l->to };
	const char *fields[2] = { NULL, "to" };
	for (int i = 0; i < 2; i++) {
		json_t *sh = NULL;
		int rc = store_get(s, &kind_stakeholder, l->v, ids[i], 0, &sh, l->e);
		int mine = !rc && int_of(sh, "opportunity_id") == l->opportunity;
		json_decref(sh);
		if (rc && rc != DM_ENOTFOUND)
			return rc;
		if (!mine)
			return dm_fail(l->e, i ? DM_EINVAL : DM_ENOTFOUND, fields[i],
				       "stakeholder %lld is not on this opportunity", (long long)ids[i]);
	}
	json_t *opp = NULL;
	int rc = store_get(s, &kind_opportunity, l->v, l->opportunity, 0, &opp, l->e);
	if (!rc)
		rc = method_require_write(s, l->v, int_of(opp, "account_id"), l->e);
	json_decref(opp);
	return rc ? rc : store_link_add(s, l->opportunity, l->from, l->to, l->kind, &l->id, l->e);
}

int method_link_add(struct store *s, const struct viewer *v, int64_t opportunity,
		    int64_t stakeholder, json_t *body, json_t **out, struct dm_err *e)
{
	const char *k;
	json_t *val;
	*out = NULL;
	json_object_foreach(body, k, val) {
		if (strcmp(k, "to") && strcmp(k, "kind"))
			return dm_fail(e, DM_EUNKNOWN, k, "a link has no field %.60s", k);
	}
	json_t *to = json_object_get(body, "to");
	const char *kind = str_of(body, "kind");
	if (!to)
		return dm_fail(e, DM_EREQUIRED, "to", "to is required");
	if (!json_is_integer(to) || json_integer_value(to) < 1)
		return dm_fail(e, DM_EINVAL, "to", "to must be a stakeholder id");
	if (!json_object_get(body, "kind"))
		return dm_fail(e, DM_EREQUIRED, "kind", "kind is required");
	if (!kind || (strcmp(kind, "ally") && strcmp(kind, "rival")))
		return dm_fail(e, DM_EINVAL, "kind", "kind must be ally or rival");
	if (json_integer_value(to) == stakeholder)
		return dm_fail(e, DM_EINVAL, "to", "a stakeholder cannot be linked to itself");
	struct link_tx l = { v, opportunity, stakeholder, json_integer_value(to), kind, 0, e };
	int rc = store_write(s, link_tx_run, &l, e);
	if (!rc)
		*out = json_pack("{s:I,s:I,s:I,s:s}", "id", (json_int_t)l.id, "from",
				 (json_int_t)l.from, "to", (json_int_t)l.to, "kind", kind);
	return rc;
}

/* A whole number in [min, max] from a query parameter, or -1. */
static long long param_number(const char *s, long long min, long long max)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	return *s && !*end && v >= min && v <= max ? v : -1;
}

/* The opportunities one request of GET /warnings examines at most (the candidates the store's
 * pre-filter leaves): a code few opportunities have made a manager's or an admin's request page
 * through hundreds of thousands of them for minutes. Past it the page ends with the matches so
 * far and a next that resumes the scan where it stopped. The agenda (no next) reads its rep's
 * opportunities to the end, as it did. */
#define WARN_SCAN_MAX 2000

/* The warnings' list read as C values (store_list_rows): the row's column of each field
 * method_warnings selects, found once. */
enum { WR_ID, WR_NAME, WR_ACCOUNT, WR_OWNER, WR_STAGE, WR_CLOSE, WR_QUOTES, WR_DMS, WR_COACHES,
       WR_OPPONENTS, WR_LAST_TOUCH, WR_N };
#define WARN_ROW_STOP 1     /* enough warnings: the rest of the page is not needed */
#define WARN_ROW_FAILED 2   /* e is set */
struct warn_rows {
	struct present_ctx *pc;
	const char *code;
	json_t *out;
	size_t limit;           /* the page's warnings */
	int want_next;          /* a caller with next: the first warning past the page is its start */
	int full;               /* the page is complete: next_id/next_k is where the next starts */
	int64_t skip_id, skip_k;   /* the cursor: opportunity skip_id's first skip_k were before */
	int64_t cur_id, cur_k;     /* the warnings of opportunity cur_id seen so far */
	int64_t next_id, next_k;
	size_t got;
	int64_t last_id;
	int col[WR_N];
	struct buf *text;       /* the agenda's: the rows' warnings written here, not as objects */
	size_t ntext;           /* how many */
	struct dm_err *e;
};

/* the page's warnings so far */
static size_t warn_count(const struct warn_rows *wr)
{
	return wr->text ? wr->ntext : json_array_size(wr->out);
}

/* Whether the page takes opportunity id's next warning (of the code asked for): not when the
 * pages before held it, nor past the page, whose first warning is where the next page starts
 * (its opportunity and its rank among that opportunity's warnings). */
static int warn_take(struct warn_rows *wr, int64_t id)
{
	if (id != wr->cur_id) {
		wr->cur_id = id;
		wr->cur_k = 0;
	}
	int64_t k = wr->cur_k++;
	if (id == wr->skip_id && k < wr->skip_k)
		return 0;
	if (wr->full)
		return 0;
	if (warn_count(wr) >= wr->limit) {
		wr->full = 1;
		wr->next_id = id;
		wr->next_k = k;
		return 0;
	}
	return 1;
}

/* Whether the page needs no further opportunity. */
static int warn_done(const struct warn_rows *wr)
{
	return wr->full || (!wr->want_next && warn_count(wr) >= wr->limit);
}

/* 1 when every field of only (in WR_ order) is a column of the row; 0: read the records. */
static int warn_rows_init(struct warn_rows *wr, const char *const *only)
{
	size_t col = 0;
	for (int i = 0; i < WR_N; i++)
		wr->col[i] = -1;
	for (size_t i = 0; i < kind_opportunity.nfields; i++) {
		const struct field *f = &kind_opportunity.fields[i];
		if (!model_query_selects(f, only))
			continue;
		for (int j = 0; j < WR_N; j++)
			if (!strcmp(f->name, only[j]))
				wr->col[j] = (int)col;
		col++;
	}
	for (int i = 0; i < WR_N; i++)
		if (wr->col[i] < 0 || wr->col[i] >= STORE_ROW_MAX)
			return 0;
	return 1;
}

/* text of a column as json_string would take it (NULL-terminated, valid UTF-8), else NULL */
static const char *warn_text(const struct store_value *v)
{
	return v->null || !v->s || !text_utf8_valid(v->s, strlen(v->s)) ? NULL : v->s;
}

static json_t *warn_ref(const struct store_value *v)
{
	return v->null ? json_null() : json_integer(v->i);
}

static void warn_text_ref(struct buf *b, const struct store_value *v)
{
	if (v->null)
		buf_put(b, "null", 4);
	else
		jsontext_int(b, v->i);
}

/* The k-th warning of the page as text: what jsontext_append writes of the object below. The
 * code's and message's texts are the program's (no character to escape, as jsontext_string
 * checks anyway). */
static void warn_text_item(struct buf *b, size_t k, int64_t id, const char *name,
			   const struct store_value *account, const struct store_value *owner,
			   const char *stage, int code)
{
	buf_put(b, k ? ",{\"opportunity_id\":" : "{\"opportunity_id\":", k ? 19 : 18);
	jsontext_int(b, id);
	buf_puts(b, ",\"opportunity_name\":");
	if (name)
		jsontext_string(b, name, strlen(name));
	else
		buf_put(b, "null", 4);
	buf_puts(b, ",\"account_id\":");
	warn_text_ref(b, account);
	buf_puts(b, ",\"owner_id\":");
	warn_text_ref(b, owner);
	buf_puts(b, ",\"stage\":");
	jsontext_string(b, stage, strlen(stage));
	buf_puts(b, ",\"code\":");
	jsontext_string(b, warning_codes[code], strlen(warning_codes[code]));
	buf_puts(b, ",\"message\":");
	jsontext_string(b, warning_messages[code], strlen(warning_messages[code]));
	buf_put(b, "}", 1);
}

/* One opportunity of the page: its warnings appended as the record path appends them (a text
 * the record would lack, being no UTF-8, reads as that path reads a missing field). */
static int warn_row(void *arg, const struct store_row *r)
{
	struct warn_rows *wr = arg;
	const struct store_value *v = r->v;
	const int *c = wr->col;
	if (warn_done(wr))
		return WARN_ROW_STOP;
	wr->got++;
	wr->last_id = v[c[WR_ID]].i;
	const char *stage = warn_text(&v[c[WR_STAGE]]), *phase = stage ? settings_phase(stage) : NULL;
	/* NULL name: a null the record path states; text that is no UTF-8: a field that record
	 * lacks, and json_pack of its item fails there, so no item */
	const char *name = warn_text(&v[c[WR_NAME]]);
	int name_null = v[c[WR_NAME]].null || !v[c[WR_NAME]].s;
	if (!phase)   /* NOT NULL, and a stage's name */
		return dm_fail(wr->e, DM_EINTERNAL, "stage", "an opportunity without a stage"),
		       WARN_ROW_FAILED;
	struct warn_facts f = { stage, warn_text(&v[c[WR_CLOSE]]), warn_text(&v[c[WR_LAST_TOUCH]]),
				v[c[WR_QUOTES]].i, v[c[WR_DMS]].i, v[c[WR_COACHES]].i,
				v[c[WR_OPPONENTS]].i };
	unsigned bits = warning_bits(&f, phase, wr->pc);
	for (int i = 0; warning_codes[i]; i++) {
		if (!(bits & 1u << i) || (wr->code && strcmp(wr->code, warning_codes[i])))
			continue;
		if (!name && !name_null)
			continue;
		if (!warn_take(wr, wr->last_id))
			continue;
		if (wr->text) {
			warn_text_item(wr->text, wr->ntext++, wr->last_id, name, &v[c[WR_ACCOUNT]],
				       &v[c[WR_OWNER]], stage, i);
			continue;
		}
		json_array_append_new(wr->out, json_pack("{s:I,s:o,s:o,s:o,s:s,s:s,s:s}",
			"opportunity_id", (json_int_t)wr->last_id, "opportunity_name",
			name ? json_string(name) : json_null(),
			"account_id", warn_ref(&v[c[WR_ACCOUNT]]), "owner_id",
			warn_ref(&v[c[WR_OWNER]]), "stage", stage, "code", warning_codes[i],
			"message", warning_messages[i]));
	}
	return 0;
}

/* The stages in which an opportunity may have a warning of mask: warning_bits itself asked of
 * each stage with the facts that raise every warning a stage allows (a quote, no decision
 * maker or coach, an opponent, never touched, a close date long past), so the store's
 * pre-filter is a superset of what the rules decide and never decides itself. */
static json_t *warn_stages(unsigned mask, const struct present_ctx *pc)
{
	json_t *keys = json_array();
	const char *key;
	for (size_t i = 0; (key = settings_stage_key(i)); i++) {
		struct warn_facts f = { key, "0000-01-01", NULL, 1, 0, 0, 1 };
		if (warning_bits(&f, settings_phase(key), pc) & mask)
			json_array_append_new(keys, json_string(key));
	}
	return keys;
}

/* The facts of warn_facts a subquery computes, in the order of method_warnings_text's gates */
enum { FACT_QUOTES, FACT_DMS, FACT_COACHES, FACT_OPPONENTS, FACT_LAST_TOUCH, NFACTS };
#define GATE_STAGES_MAX 16

static void fact_set(struct warn_facts *f, int fact, int raise, const char *recent)
{
	switch (fact) {
	case FACT_QUOTES: f->quotes = raise; break;
	case FACT_DMS: f->decision_makers = !raise; break;
	case FACT_COACHES: f->coaches = !raise; break;
	case FACT_OPPONENTS: f->opponents = raise; break;
	default: f->last_touch = raise ? NULL : recent; break;
	}
}

/* The stages whose warnings read fact (NULL-terminated into out): warning_bits itself asked of
 * each stage whether the fact changes them, from facts that raise every warning and from
 * facts that raise none (each warning reads one fact), so the store computes the fact in
 * those stages alone and warning_bits never reads what it did not compute. */
static void fact_stages(int fact, const struct present_ctx *pc, const char **out)
{
	char recent[TIME_STR_LEN];
	const char *key;
	size_t n = 0;
	time_format(pc->now_ms, recent);
	for (size_t i = 0; (key = settings_stage_key(i)) && n + 1 < GATE_STAGES_MAX; i++) {
		const char *phase = settings_phase(key);
		int reads = 0;
		for (int base = 0; base < 2 && !reads; base++) {
			struct warn_facts a = { key, base ? "0000-01-01" : NULL, NULL, 0, 0, 0, 0 };
			for (int k = 0; k < NFACTS; k++)
				fact_set(&a, k, base, recent);
			struct warn_facts b = a;
			fact_set(&b, fact, !base, recent);
			reads = warning_bits(&a, phase, pc) != warning_bits(&b, phase, pc);
		}
		if (reads)
			out[n++] = key;
	}
	out[n] = NULL;
}

/* fact_stages of each fact, asked once: the stages and their phases are the program's */
static const char *fact_stage_lists[NFACTS][GATE_STAGES_MAX];
static pthread_once_t fact_stages_once = PTHREAD_ONCE_INIT;

static void fact_stages_init(void)
{
	struct present_ctx pc;
	present_ctx_init(&pc);
	for (int i = 0; i < NFACTS; i++)
		fact_stages(i, &pc, fact_stage_lists[i]);
	present_ctx_release(&pc);
}

/* The cursor "ID.K": the scan resumes at opportunity ID, whose first K warnings were on the
 * pages before. */
static int warn_cursor(const char *s, int64_t *id, int64_t *k)
{
	char *end;
	errno = 0;
	long long a = strtoll(s, &end, 10);
	if (end == s || *end != '.' || errno || a < 1 || !isdigit((unsigned char)s[0]))
		return -1;
	const char *p = end + 1;
	long long b = strtoll(p, &end, 10);
	if (end == p || *end || errno || b < 0 || b > 64 || !isdigit((unsigned char)p[0]))
		return -1;
	*id = a;
	*k = b;
	return 0;
}

int method_warnings(struct store *s, const struct viewer *v, const struct kv *params, size_t n,
		    json_t **items, char **next, struct dm_err *e)
{
	return method_warnings_text(s, v, params, n, items, NULL, next, e);
}

int method_warnings_text(struct store *s, const struct viewer *v, const struct kv *params,
			 size_t n, json_t **items, struct buf *text, char **next, struct dm_err *e)
{
	const char *code = NULL;
	struct store_query q;
	struct present_ctx pc;
	long long limit = LIST_MAX_LIMIT;
	int64_t skip_id = 0, skip_k = 0;
	int rc = 0;
	if (items)
		*items = NULL;
	if (next)
		*next = NULL;
	memset(&q, 0, sizeof q);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(params[i].key, "limit")) {
			limit = param_number(params[i].value, 1, LIST_MAX_LIMIT);
			if (limit < 0) {
				json_decref(q.filters[0].value);
				return dm_fail(e, DM_EPARAM, "limit", "limit must be 1-500");
			}
		} else if (!strcmp(params[i].key, "cursor")) {
			if (warn_cursor(params[i].value, &skip_id, &skip_k)) {
				json_decref(q.filters[0].value);
				return dm_fail(e, DM_EPARAM, "cursor", "cursor is not one this list gave");
			}
		} else if (!strcmp(params[i].key, "code") && model_enum_index(warning_codes, params[i].value) >= 0) {
			code = params[i].value;
		} else if (!strcmp(params[i].key, "owner_id") && q.nfilters == 0) {
			char *end;
			long long id = strtoll(params[i].value, &end, 10);
			if (*end || end == params[i].value || id < 1)
				return dm_fail(e, DM_EPARAM, "owner_id", "owner_id must be a user id");
			q.filters[0].field = model_field(&kind_opportunity, "owner_id");
			q.filters[0].value = json_integer(id);
			q.nfilters = 1;
		} else {
			json_decref(q.filters[0].value);
			return dm_fail(e, DM_EPARAM, params[i].key, !strcmp(params[i].key, "code") ?
				       "code must be one of the warning codes" : "unknown parameter %.60s",
				       params[i].key);
		}
	}
	/* what a warning states and opportunity_warnings reads: not the deal's texts and JSON
	 * (criteria, assessment), a fifth of the rows' cost in a rep's agenda */
	static const char *const warned[] = { "id", "name", "account_id", "owner_id", "stage",
		"expected_close_on", "_quotes", "_decision_makers", "_coaches", "_opponents",
		"_account_last_touch", NULL };
	q.kind = &kind_opportunity;
	q.viewer = v;
	q.only = warned;
	present_ctx_init(&pc);
	/* each fact's subquery computed only in the stages whose warnings read it */
	static const char *const facts[NFACTS] = { "_quotes", "_decision_makers", "_coaches",
						   "_opponents", "_account_last_touch" };
	struct store_gate gates[NFACTS];
	pthread_once(&fact_stages_once, fact_stages_init);
	for (int i = 0; i < NFACTS; i++)
		gates[i] = (struct store_gate){ facts[i], "stage", fact_stage_lists[i] };
	q.gates = gates;
	q.ngates = NFACTS;
	if (skip_id) {   /* the scan resumes at skip_id */
		q.after_id = skip_id - 1;
		q.after_value = json_integer(q.after_id);
	}
	int code_i = code ? model_enum_index(warning_codes, code) : -1;
	if (code_i >= 0) {
		/* one code: the store reads only the opportunities in a stage that may raise it
		 * (and for overdue_close, those whose close date is not after today) */
		struct store_filter *f = &q.filters[q.nfilters++];
		f->field = model_field(&kind_opportunity, "stage");
		f->op = FILTER_IN;
		f->value = warn_stages(1u << code_i, &pc);
		if (!strcmp(code, "overdue_close")) {
			f = &q.filters[q.nfilters++];
			f->field = model_field(&kind_opportunity, "expected_close_on");
			f->op = FILTER_LE;
			f->value = json_string(pc.today);
		}
	}
	json_t *out = json_array();
	struct warn_rows wr = { .pc = &pc, .code = code, .out = out, .limit = (size_t)limit,
				.want_next = next != NULL, .skip_id = skip_id, .skip_k = skip_k,
				.e = e };
	/* Every listed opportunity computes its derived counts (quotes, stakeholders, its account:
	 * random reads at full scale), and most have a warning or two: the first page holds as many
	 * opportunities as warnings are wanted, later ones twice the one before, up to PAGE (500 at
	 * once was 80 % of a rep's agenda, which wants 101 warnings). A caller with next: at most
	 * WARN_SCAN_MAX opportunities in all, the first statement's and the rest's. */
	size_t enough = (size_t)limit + (next != NULL) + (size_t)skip_k;
	size_t examined = 0, scan_max = next ? WARN_SCAN_MAX : SIZE_MAX;
	int capped = 0;
	q.limit = enough < PAGE ? (int)enough : PAGE;
	/* SQLite: the rows as C values (warn_row), where each was a jansson object of 11 fields
	 * read back by name (a quarter of the warnings' cost in a rep's agenda) */
	int by_rows = store_has_list_rows(s) && warn_rows_init(&wr, warned);
	size_t text_start = text ? text->len : 0;
	if (text && by_rows) {
		wr.text = text;
		buf_put(text, "[", 1);
	}
	for (;;) {
		json_t *page = NULL, *opp;
		size_t i, got;
		if ((size_t)q.limit > scan_max - examined)
			q.limit = (int)(scan_max - examined);
		if (by_rows) {
			wr.got = 0;
			rc = store_list_rows(s, &q, warn_row, &wr, e);
			if (rc == WARN_ROW_STOP)
				rc = 0;
			else if (rc == WARN_ROW_FAILED)
				rc = e->code;
			if (rc)
				break;
			got = wr.got;
		} else {
			if ((rc = store_list(s, &q, &page, e)))
				break;
			got = 0;
			json_array_foreach(page, i, opp) {
				size_t j;
				json_t *w;
				if (warn_done(&wr))
					break;
				got++;
				wr.last_id = int_of(opp, "id");
				/* the warnings alone: presenting the whole opportunity (weighted
				 * amount, the assessment's worth and advice) was a sixth of a rep's
				 * agenda's warnings */
				if ((rc = opportunity_warnings_of(s, &pc, opp, e)))
					break;
				json_array_foreach(json_object_get(opp, "warnings"), j, w) {
					if (code && strcmp(code, str_of(w, "code")))
						continue;
					if (!warn_take(&wr, wr.last_id))
						continue;
					json_array_append_new(out, json_pack("{s:I,s:O,s:O,s:O,s:O,s:O,s:O}",
						"opportunity_id", (json_int_t)wr.last_id,
						"opportunity_name", json_object_get(opp, "name"),
						"account_id", json_object_get(opp, "account_id"), "owner_id",
						json_object_get(opp, "owner_id"), "stage",
						json_object_get(opp, "stage"), "code", json_object_get(w, "code"),
						"message", json_object_get(w, "message")));
				}
			}
			json_decref(page);
			if (rc)
				break;
		}
		if (got) {
			q.after_id = wr.last_id;
			json_decref(q.after_value);
			q.after_value = json_integer(q.after_id);
		}
		examined += got;
		if (warn_done(&wr) || got < (size_t)q.limit)
			break;
		if (examined >= scan_max) {
			capped = 1;
			break;
		}
		/* a caller with next on SQLite: the rest of the scan in one statement (a
		 * manager's costs ≈ 0.3 s of CPU at full scale whatever its limit: the visible
		 * opportunities gathered and sorted by id; the rows are read only until the page
		 * is full). PostgreSQL's store_list reads every row of its limit: doubled. */
		size_t most = next ? WARN_SCAN_MAX : PAGE;
		q.limit = next && by_rows ? WARN_SCAN_MAX :
			  (size_t)q.limit * 2 < most ? q.limit * 2 : (int)most;
	}
	present_ctx_release(&pc);
	json_decref(q.after_value);
	for (int i = 0; i < q.nfilters; i++)
		json_decref(q.filters[i].value);
	if (rc) {
		if (text) {   /* nothing of a partial list */
			text->len = text_start;
			if (text->data)
				text->data[text_start] = '\0';
		}
		json_decref(out);
		return rc;
	}
	if (text && by_rows)
		buf_put(text, "]", 1);
	else if (text)
		jsontext_append(text, out);
	/* the page's warnings in opportunity order; the next page starts at the first warning
	 * past it, or where the scan stopped at WARN_SCAN_MAX (a page then may hold fewer than
	 * limit, none even: follow next until it is null) */
	if (next && wr.full)
		*next = xasprintf("%lld.%lld", (long long)wr.next_id, (long long)wr.next_k);
	else if (next && capped)
		*next = xasprintf("%lld.0", (long long)q.after_id + 1);
	if (text)
		json_decref(out);
	else
		*items = out;
	return 0;
}

/* ---- account teams ---------------------------------------------------------------------------------- */

int method_team_list(struct store *s, const struct viewer *v, int64_t account, json_t **items,
		     struct dm_err *e)
{
	int rc = rec_visible(s, &kind_account, v, account, e);
	return rc ? rc : store_team_list(s, account, items, e);
}

struct team_tx {
	const struct viewer *v;
	int64_t account, user;
	const char *access;
	int sensitive, remove;
	struct dm_err *e;
};

/* Only the owner's side (the owner, managers above, admins) shares an account. */
static int may_share(struct store *s, const struct viewer *v, int64_t account, struct dm_err *e)
{
	json_t *acc = NULL;
	int rc = store_get(s, &kind_account, v, account, 0, &acc, e);
	if (rc)
		return rc;
	int yes = v->role == ROLE_ADMIN;
	if (!yes && json_is_integer(json_object_get(acc, "owner_id")))
		rc = store_in_scope(s, v, int_of(acc, "owner_id"), &yes, e);
	json_decref(acc);
	if (!rc && !yes)
		rc = dm_fail(e, DM_EFORBIDDEN, NULL, "only the owner or their manager shares an account");
	return rc;
}

static int team_tx_run(struct store *s, void *arg)
{
	struct team_tx *t = arg;
	int rc = may_share(s, t->v, t->account, t->e);
	if (rc)
		return rc;
	if (t->remove)
		return store_team_delete(s, t->account, t->user, t->v->user_id, t->e);
	json_t *u = NULL;
	rc = store_get(s, &kind_user, NULL, t->user, 0, &u, t->e);
	int active = !rc && json_is_true(json_object_get(u, "active"));
	json_decref(u);
	if (rc == DM_ENOTFOUND || (!rc && !active))
		return dm_fail(t->e, DM_ENOTFOUND, "user_id", "no active user %lld", (long long)t->user);
	return rc ? rc : store_team_put(s, t->account, t->user, t->access, t->sensitive,
					t->v->user_id, t->e);
}

int method_team_put(struct store *s, const struct viewer *v, int64_t account, json_t *body,
		    json_t **out, struct dm_err *e)
{
	const char *k;
	json_t *val;
	*out = NULL;
	json_object_foreach(body, k, val) {
		if (strcmp(k, "user_id") && strcmp(k, "access") && strcmp(k, "sensitive"))
			return dm_fail(e, DM_EUNKNOWN, k, "a team member has no field %.60s", k);
	}
	json_t *user = json_object_get(body, "user_id"), *sens = json_object_get(body, "sensitive");
	const char *access = json_object_get(body, "access") ? str_of(body, "access") : "read";
	if (!user)
		return dm_fail(e, DM_EREQUIRED, "user_id", "user_id is required");
	if (!json_is_integer(user) || json_integer_value(user) < 1)
		return dm_fail(e, DM_EINVAL, "user_id", "user_id must be a user id");
	if (!access || (strcmp(access, "read") && strcmp(access, "write")))
		return dm_fail(e, DM_EINVAL, "access", "access must be read or write");
	if (sens && !json_is_boolean(sens))
		return dm_fail(e, DM_EINVAL, "sensitive", "sensitive must be true or false");
	struct team_tx t = { v, account, json_integer_value(user), access, json_is_true(sens), 0, e };
	int rc = store_write(s, team_tx_run, &t, e);
	if (!rc)
		*out = json_pack("{s:I,s:I,s:s,s:b}", "account_id", (json_int_t)account, "user_id",
				 (json_int_t)t.user, "access", access, "sensitive", t.sensitive);
	return rc;
}

int method_team_remove(struct store *s, const struct viewer *v, int64_t account, int64_t user,
		       struct dm_err *e)
{
	struct team_tx t = { v, account, user, NULL, 0, 1, e };
	return store_write(s, team_tx_run, &t, e);
}
