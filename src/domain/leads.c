/* leads.c — lead distribution by source (a named user, round-robin over a team's reps or over
 * partners) and conversion into an account, a contact and optionally an opportunity. */
#include "leads.h"
#include "method.h"
#include "settings.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static int64_t int_of(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

/* Active users matching field = value (or role = partner), in id order. */
static int candidates(struct store *s, const char *field, json_t *value, json_t **out,
		      struct dm_err *e)
{
	struct store_query q;
	memset(&q, 0, sizeof q);
	q.kind = &kind_user;
	q.limit = 500;
	q.filters[0].field = model_field(&kind_user, field);
	q.filters[0].value = value;
	q.filters[1].field = model_field(&kind_user, "active");
	q.filters[1].value = json_true();
	q.nfilters = 2;
	int rc = store_list(s, &q, out, e);
	json_decref(q.filters[1].value);
	return rc;
}

/* The next user after the last one given a lead by this rule, wrapping around. */
static int round_robin(struct store *s, const char *rule_key, json_t *users, int64_t actor,
		       int64_t *pick, struct dm_err *e)
{
	json_t *state = NULL;
	int rc = store_setting_get(s, "lead_rr", &state, e);
	if (rc)
		return rc;
	if (!json_is_object(state)) {
		json_decref(state);
		state = json_object();
	}
	int64_t last = int_of(state, rule_key), first = 0;
	size_t i;
	json_t *u;
	*pick = 0;
	json_array_foreach(users, i, u) {
		int64_t id = int_of(u, "id");
		if (!first)
			first = id;
		if (id > last && !*pick)
			*pick = id;
	}
	if (!*pick)
		*pick = first;
	if (*pick) {
		json_object_set_new(state, rule_key, json_integer(*pick));
		rc = store_setting_put(s, "lead_rr", state, actor, e);
	}
	json_decref(state);
	return rc;
}

int leads_distribute(struct store *s, const struct viewer *v, json_t *lead, int64_t *assignee,
		     struct dm_err *e)
{
	json_t *rules = NULL, *rule = NULL, *r, *users = NULL;
	const char *source = json_string_value(json_object_get(lead, "source"));
	size_t i;
	int rc = settings_lead_rules(s, &rules, e);
	*assignee = 0;
	if (rc)
		return rc;
	json_array_foreach(rules, i, r) {
		const char *src = json_string_value(json_object_get(r, "source"));
		if (source && !strcmp(src, source))
			rule = r;
		else if (!rule && !strcmp(src, "*"))
			rule = r;
	}
	if (rule && source && strcmp(json_string_value(json_object_get(rule, "source")), source)) {
		/* a "*" rule found before the exact one: look for the exact one again */
		json_array_foreach(rules, i, r)
			if (!strcmp(json_string_value(json_object_get(r, "source")), source))
				rule = r;
	}
	if (!rule) {
		/* No rule: whoever brings a lead in works it (the command line leaves it open). */
		*assignee = v->user_id;
		json_decref(rules);
		return 0;
	}
	const char *assign = json_string_value(json_object_get(rule, "assign"));
	char key[240];
	snprintf(key, sizeof key, "%s", json_string_value(json_object_get(rule, "source")));
	if (!strcmp(assign, "user")) {
		*assignee = int_of(rule, "user_id");
	} else {
		int team = !strcmp(assign, "team");
		json_t *val = team ? json_integer(int_of(rule, "team_id")) : json_string("partner");
		rc = candidates(s, team ? "team_id" : "role", val, &users, e);
		json_decref(val);
		if (!rc && team) {
			/* the team's reps only */
			json_t *reps = json_array(), *u;
			json_array_foreach(users, i, u)
				if (!strcmp(json_string_value(json_object_get(u, "role")), "rep"))
					json_array_append(reps, u);
			json_decref(users);
			users = reps;
		}
		if (!rc)
			rc = round_robin(s, key, users, v->user_id, assignee, e);
	}
	json_decref(users);
	json_decref(rules);
	return rc;
}

/* ---- conversion ------------------------------------------------------------------------------------ */

struct convert_tx {
	const struct viewer *v;
	int64_t lead;
	json_t *opportunity;    /* validated {name, amount, stage} or NULL */
	json_t *out;
	struct dm_err *e;
};

/* The live contact of the account with this name (same comparison as account names), or 0. */
static int find_contact(struct store *s, int64_t account, const char *name, int64_t *id,
			struct dm_err *e)
{
	struct store_query q;
	json_t *items = NULL, *c;
	size_t i;
	char *want = text_name_key(name);
	memset(&q, 0, sizeof q);
	q.kind = &kind_contact;
	q.limit = 500;
	q.filters[0].field = model_field(&kind_contact, "account_id");
	q.filters[0].value = json_integer(account);
	q.nfilters = 1;
	q.name_sub = want;
	int rc = store_list(s, &q, &items, e);
	*id = 0;
	json_array_foreach(items, i, c) {
		char *have = text_name_key(json_string_value(json_object_get(c, "name")));
		if (!strcmp(have, want) && !*id)
			*id = int_of(c, "id");
		free(have);
	}
	json_decref(items);
	json_decref(q.filters[0].value);
	free(want);
	return rc;
}

static int insert(struct store *s, const struct kind *k, json_t *rec, int64_t actor, int64_t *id,
		  struct dm_err *e)
{
	int rc = store_insert(s, k, rec, actor, id, e);
	json_decref(rec);
	return rc;
}

static int convert_tx_run(struct store *s, void *arg)
{
	struct convert_tx *c = arg;
	json_t *lead = NULL, *acc = NULL;
	int64_t account = 0, contact = 0, opp = 0;
	int linked = 0, rc;
	char now[TIME_STR_LEN];
	time_format(time_now_ms(), now);
	if ((rc = store_get(s, &kind_lead, c->v, c->lead, 0, &lead, c->e)))
		return rc;
	const char *status = json_string_value(json_object_get(lead, "status"));
	const char *company = json_string_value(json_object_get(lead, "company"));
	if (!strcmp(status, "converted") || !strcmp(status, "disqualified")) {
		rc = dm_fail(c->e, DM_ECONFLICT, "status", "the lead is %s already", status);
		goto out;
	}
	/* The account goes to whoever worked the lead (its assignee, unless a partner), else to
	 * the converter; a partner's conversion goes to the pool for the sales team. */
	int64_t owner = c->v->role == ROLE_PARTNER || c->v->user_id == 0 ? 0 : c->v->user_id;
	json_t *who = NULL;
	if (json_is_integer(json_object_get(lead, "assignee_id")) &&
	    !store_get(s, &kind_user, NULL, int_of(lead, "assignee_id"), 0, &who, NULL) &&
	    json_is_true(json_object_get(who, "active")) &&
	    strcmp(json_string_value(json_object_get(who, "role")), "partner"))
		owner = int_of(lead, "assignee_id");
	json_decref(who);
	/* Link to the existing account of that name when the caller sees it. */
	int64_t holder = 0;
	rc = store_find_name(s, &kind_account, company, &holder, c->e);
	if (!rc && holder) {
		if (store_get(s, &kind_account, c->v, holder, 0, &acc, NULL)) {
			rc = dm_fail(c->e, DM_EDUPLICATE, "company", "an account named %s exists and is "
				     "not yours; ask a manager", company);
			goto out;
		}
		account = holder;
		linked = 1;
		if ((rc = method_require_write(s, c->v, account, c->e)))
			goto out;
	} else if (!rc) {
		json_t *a = json_pack("{s:s,s:O,s:s,s:s,s:[]}", "name", company, "source",
				      json_object_get(lead, "source"), "importance", "C", "lifecycle",
				      "acquire", "installed_base");
		if (owner) {
			json_object_set_new(a, "owner_id", json_integer(owner));
			json_object_set_new(a, "assigned_at", json_string(now));
		} else {
			json_object_set_new(a, "pool_reason", json_string("converted from a lead"));
			json_object_set_new(a, "pooled_at", json_string(now));
		}
		if (!(rc = insert(s, &kind_account, a, c->v->user_id, &account, c->e)))
			rc = store_owner_add(s, account, 0, owner, "converted", owner ? "created" : NULL,
					     c->v->user_id, 0, c->e);
	}
	if (rc)
		goto out;
	const char *person = json_string_value(json_object_get(lead, "contact_name"));
	if (!person || !*person)
		person = company;
	if ((rc = find_contact(s, account, person, &contact, c->e)))
		goto out;
	if (!contact) {
		json_t *ct = json_pack("{s:I,s:s,s:O,s:O}", "account_id", (json_int_t)account, "name",
				       person, "phone", json_object_get(lead, "phone"), "email",
				       json_object_get(lead, "email"));
		json_object_set_new(ct, "portrait", json_object());
		if ((rc = insert(s, &kind_contact, ct, c->v->user_id, &contact, c->e)))
			goto out;
	}
	if (c->opportunity) {
		json_t *o = json_deep_copy(c->opportunity);
		json_object_set_new(o, "account_id", json_integer(account));
		if (owner)
			json_object_set_new(o, "owner_id", json_integer(owner));
		/* from the request, which outlives o (insert() frees o) */
		const char *stage = json_string_value(json_object_get(c->opportunity, "stage"));
		if ((rc = insert(s, &kind_opportunity, o, c->v->user_id, &opp, c->e)) ||
		    (rc = store_stage_add(s, opp, NULL, stage, c->v->user_id, NULL, c->e)))
			goto out;
	}
	int changed;
	json_t *ch = json_pack("{s:s,s:I,s:I,s:o}", "status", "converted", "converted_account_id",
			       (json_int_t)account, "converted_contact_id", (json_int_t)contact,
			       "converted_opportunity_id", opp ? json_integer(opp) : json_null());
	rc = store_update(s, &kind_lead, c->lead, ch, c->v->user_id, &changed, c->e);
	json_decref(ch);
	if (!rc)
		c->out = json_pack("{s:I,s:I,s:I,s:o,s:b}", "lead_id", (json_int_t)c->lead, "account_id",
				   (json_int_t)account, "contact_id", (json_int_t)contact,
				   "opportunity_id", opp ? json_integer(opp) : json_null(), "linked",
				   linked);
out:
	json_decref(acc);
	json_decref(lead);
	return rc;
}

int leads_convert(struct store *s, const struct viewer *v, int64_t lead, json_t *body,
		  json_t **out, struct dm_err *e)
{
	const char *k;
	json_t *val, *opp = NULL;
	int rc;
	*out = NULL;
	json_object_foreach(body, k, val) {
		if (strcmp(k, "create_opportunity"))
			return dm_fail(e, DM_EUNKNOWN, k, "the body has only create_opportunity");
	}
	json_t *co = json_object_get(body, "create_opportunity");
	if (co && !json_is_null(co)) {
		json_object_foreach(co, k, val) {
			if (strcmp(k, "name") && strcmp(k, "amount") && strcmp(k, "stage"))
				return dm_fail(e, DM_EUNKNOWN, k, "create_opportunity has name, amount, stage");
		}
		/* Validate as an opportunity would be (the account comes from the conversion). */
		json_t *probe = json_deep_copy(co);
		json_object_set_new(probe, "account_id", json_integer(1));
		rc = model_check(&kind_opportunity, probe, CHECK_CREATE, &opp, e);
		json_decref(probe);
		if (rc)
			return rc;
		json_object_del(opp, "account_id");
		const char *stage = json_string_value(json_object_get(opp, "stage"));
		if (!strcmp(stage, "won") || !strcmp(stage, "lost")) {
			json_decref(opp);
			return dm_fail(e, DM_EINVAL, "stage", "a new opportunity starts open");
		}
	}
	if (v->role == ROLE_PARTNER && opp) {
		json_decref(opp);
		return dm_fail(e, DM_EFORBIDDEN, "create_opportunity", "partners hand over leads; the "
			       "sales team opens opportunities");
	}
	struct convert_tx c = { v, lead, opp, NULL, e };
	rc = store_write(s, convert_tx_run, &c, e);
	json_decref(opp);
	if (!rc)
		*out = c.out;
	else
		json_decref(c.out);
	return rc;
}
