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
 * count them all.
 *
 * The default page is 20: the agenda is the rep's work list for the day, read from the top
 * (the most overdue first), and a CRM's home page shows such a list as one screen with its
 * count and a way to the rest (the web UI says "the 20 most overdue of 1,369"), not hundreds
 * of rows. 100 items of each list (50 KB for a rep of 2,000 accounts at full scale, 101
 * opportunities presented for the warnings) cost three times the CPU of 20 for rows no one
 * reaches on the first screen. The totals still count everything, and `limit` (up to
 * AGENDA_LIMIT_MAX) asks for more. */
#define AGENDA_LIMIT_DEFAULT 20
#define AGENDA_LIMIT_MAX 1000
#define AGENDA_WARNINGS_MAX 500
int followup_agenda(struct store *s, const struct viewer *v, const char *date, size_t limit,
		    json_t **out,
		    struct dm_err *e);
/* Accounts in v's reach with intervention_touches or more and no won opportunity. */
int followup_intervention(struct store *s, const struct viewer *v, json_t **items,
			  struct dm_err *e);

#endif
