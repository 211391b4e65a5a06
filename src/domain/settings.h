/* settings.h — the numbers and tables an admin may change (SPEC: "every number is a setting"),
 * with the shipped defaults. Stored as named JSON values; read through here only. */
#ifndef DM_SETTINGS_H
#define DM_SETTINGS_H
#include <jansson.h>
#include "../base/err.h"
#include "../model/model.h"
#include "../store/store.h"

/* The stages in funnel order: [{key, label: {zh-CN, en}, win_rate, phase, exit_criterion:
 * {zh-CN, en}}], the defaults of SPEC §3.1 overlaid with the admin's changes. New reference. */
int settings_stages(struct store *s, json_t **stages, struct dm_err *e);
/* Change one stage's label, win_rate (0-100) or exit_criterion (admins). *out: the stage. */
int settings_stage_patch(struct store *s, const struct viewer *v, const char *key, json_t *body,
			 json_t **out, struct dm_err *e);
/* The stages' keys (static text) and win rates in funnel order, as settings_stages has them,
 * without building the stages (a report needs the rates only: building the eight stages' JSON
 * was 8 % of a team funnel's CPU). At most max; *n of them. */
struct stage_rate {
	const char *key;
	int64_t win_rate;
};
int settings_win_rates(struct store *s, struct stage_rate *out, size_t max, size_t *n,
		       struct dm_err *e);
/* The phase of the stage key (static), or NULL for no stage: an admin changes a stage's
 * label, exit criterion and win rate, never its phase (settings_stage_patch), so the phase
 * needs no read of the settings. */
const char *settings_phase(const char *key);
/* The i-th stage's key in the stages' order (static), or NULL past the last. */
const char *settings_stage_key(size_t i);
/* The stage object of key within stages (borrowed), or NULL. */
json_t *settings_stage(json_t *stages, const char *key);

/* The numbers of the follow-up and pool rules (SPEC §6), defaults overlaid with the admin's. */
struct rules {
	int park_min_touches;        /* 12: touches before a rep may park */
	unsigned never_park;         /* bit i set: importance model_importance[i] is never parked */
	int park_to_manager;         /* 0: parking sends to the pool; 1: to the rep's manager */
	int holding_limit;           /* 500 live accounts owned, at most, to claim more */
	int reclaim_after_days;      /* 90: no effective follow-up by the owner */
	int reclaim_no_deal_days;    /* 365: no won opportunity since assigned */
	int sleeping_after_days;     /* 90 */
	int intervention_touches;    /* 10 */
	int cadence_open_days;       /* 14 */
	int cadence_idle_days;       /* 30 */
};

int settings_rules(struct store *s, struct rules *r, struct dm_err *e);
/* The rules as the API shows them: {park_min_touches, never_park: [...], park_to, ...}. */
int settings_get(struct store *s, json_t **out, struct dm_err *e);
/* Change some of them (admins); every value is checked, nothing is written on any error. */
int settings_patch(struct store *s, const struct viewer *v, json_t *body, json_t **out,
		   struct dm_err *e);

/* Lead distribution rules: [{source, assign: user|team|partners, user_id?, team_id?}], source
 * "*" for leads matching no other rule. */
int settings_lead_rules(struct store *s, json_t **rules, struct dm_err *e);
int settings_lead_rules_put(struct store *s, const struct viewer *v, json_t *body, json_t **out,
			    struct dm_err *e);

#endif
