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
/* The stage object of key within stages (borrowed), or NULL. */
json_t *settings_stage(json_t *stages, const char *key);

#endif
