/* method.h — the sales method of SPEC §3-§5: stage rules and history, stage-behaviour warnings,
 * the assessment, the buyer map, portraits and their sensitive blocks, account teams. */
#ifndef DM_METHOD_H
#define DM_METHOD_H
#include <jansson.h>
#include "../base/err.h"
#include "../model/model.h"
#include "../store/store.h"
#include "records.h"
#include "settings.h"

struct buf;

/* What presenting a run of records needs once: the stages, today, and the caller's access to the
 * last account looked at. */
struct present_ctx {
	json_t *stages;
	int64_t now_ms;
	char today[11];
	int64_t today_day;             /* today's days since the epoch (date_to_days) */
	int64_t account_id;            /* the account access and importance below are for */
	struct account_access access;
	int vvip;
	struct rules rules;            /* the follow-up rules, once read */
	int have_rules;
};

void present_ctx_init(struct present_ctx *pc);
void present_ctx_release(struct present_ctx *pc);

/* Add the computed fields of a record read by v, and drop what v may not see (internal fields;
 * sensitive portrait blocks). Called on every record the rules hand out. */
int method_present(struct store *s, const struct viewer *v, struct present_ctx *pc,
		   const struct kind *k, json_t *rec, struct dm_err *e);

/* Pure rules, exposed for tests. */
/* worth and winnable (new references: numbers with two decimals, or null) and the
 * recommendation (NULL when either is unknown). */
void method_assess(json_t *assessment, json_t **worth, json_t **winnable, const char **advice);
/* none | doctor | teacher | friend | brother from a portrait object. */
const char *method_relationship_level(json_t *portrait);
/* The attitude score (+2..-2) of an attitude name. */
int method_attitude_score(const char *attitude);

/* The rules applied inside write transactions (called by records.c). */
int method_check_opportunity(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			     struct dm_err *e);
int method_after_opportunity(struct store *s, const struct viewer *v, int64_t id, json_t *cur,
			     json_t *next, struct dm_err *e);
int method_check_contact_portrait(struct store *s, const struct viewer *v, json_t *cur,
				  json_t *changes, json_t *next, struct dm_err *e);
/* Only those who see a VVIP account's sensitive blocks may lower its importance. */
int method_check_importance(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			    struct dm_err *e);
/* Drop from audit entries of rec what v may not see (sensitive portrait blocks). */
int method_present_audit(struct store *s, const struct viewer *v, const struct kind *k,
			 json_t *rec, json_t *items, struct dm_err *e);
int method_check_stakeholder(struct store *s, const struct viewer *v, json_t *cur, json_t *next,
			     struct dm_err *e);
/* v must be able to change records under this account (DM_ENOTFOUND if it cannot even see it,
 * DM_EFORBIDDEN if it may only read). */
int method_require_write(struct store *s, const struct viewer *v, int64_t account,
			 struct dm_err *e);

/* Endpoints of their own. */
int method_history(struct store *s, const struct viewer *v, int64_t opportunity, json_t **items,
		   struct dm_err *e);
int method_map(struct store *s, const struct viewer *v, int64_t opportunity, json_t **out,
	       struct dm_err *e);
int method_link_add(struct store *s, const struct viewer *v, int64_t opportunity,
		    int64_t stakeholder, json_t *body, json_t **out, struct dm_err *e);
/* Warnings over every opportunity v sees; params code, owner_id, limit (default 500), cursor.
 * *next (caller frees; may be NULL to ignore) is the cursor of the next page, or NULL. */
int method_warnings(struct store *s, const struct viewer *v, const struct kv *params, size_t n,
		    json_t **items, char **next, struct dm_err *e);
/* method_warnings with the list appended to text as its JSON text (items unused), byte for
 * byte what jsontext_append writes of *items; on SQLite each warning is written from the row,
 * without an object. On failure text is as it was. */
int method_warnings_text(struct store *s, const struct viewer *v, const struct kv *params,
			 size_t n, json_t **items, struct buf *text, char **next, struct dm_err *e);
int method_team_list(struct store *s, const struct viewer *v, int64_t account, json_t **items,
		     struct dm_err *e);
int method_team_put(struct store *s, const struct viewer *v, int64_t account, json_t *body,
		    json_t **out, struct dm_err *e);
int method_team_remove(struct store *s, const struct viewer *v, int64_t account, int64_t user,
		       struct dm_err *e);

#endif
