/* followup.h — follow-up discipline and the purchase trajectory (SPEC §6, §7): each account's
 * cadence, sleep, segment and repurchase forecast; a rep's agenda; the manager's intervention
 * list. */
#ifndef DM_FOLLOWUP_H
#define DM_FOLLOWUP_H
#include <jansson.h>
#include "method.h"
#include "settings.h"

#define AGENDA_TZ_MINUTES 480   /* Asia/Shanghai, UTC+8 all year: "today" of the agenda */

/* Add next_touch_on, sleeping, segment, repurchase, warnings; lifecycle answers decline while
 * a repurchase is overdue. */
int followup_present_account(struct store *s, struct present_ctx *pc, json_t *rec,
			     struct dm_err *e);
/* Pure: the repurchase forecast of [[product, date], ...] sorted by product then date, as of
 * today (days since the epoch). New reference. */
json_t *followup_repurchase(json_t *orders, int64_t today);
/* Pure: habitual | beginner | prospect, of an account with `orders` live orders, the first on
 * first_on (YYYY-MM-DD; NULL when none). */
const char *followup_segment(int64_t orders, const char *first_on, int64_t today);

/* {date, follow_ups: [...], follow_ups_total, warnings: [...], sleeping: [...], sleeping_total}
 * for v's own accounts; date NULL = today in Asia/Shanghai. Each list holds its first `limit`
 * items (the most overdue, the longest quiet; warnings at most AGENDA_WARNINGS_MAX), the totals
 * count them all. */
#define AGENDA_LIMIT_DEFAULT 100
#define AGENDA_LIMIT_MAX 1000
#define AGENDA_WARNINGS_MAX 500
int followup_agenda(struct store *s, const struct viewer *v, const char *date, size_t limit,
		    json_t **out,
		    struct dm_err *e);
/* Accounts in v's reach with intervention_touches or more and no won opportunity. */
int followup_intervention(struct store *s, const struct viewer *v, json_t **items,
			  struct dm_err *e);

#endif
