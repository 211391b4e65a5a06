/* followup.h — follow-up discipline and the purchase trajectory (SPEC §6, §7): each account's
 * cadence, sleep, segment and repurchase forecast; a rep's agenda; the manager's intervention
 * list. */
#ifndef DM_FOLLOWUP_H
#define DM_FOLLOWUP_H
#include <jansson.h>
#include "method.h"
#include "settings.h"
#include "../base/buf.h"
#include "../base/timeutil.h"

#define AGENDA_TZ_MINUTES 480   /* Asia/Shanghai, UTC+8 all year: "today" of the agenda */

/* Add next_touch_on, sleeping, segment, repurchase, warnings; lifecycle answers decline while
 * a repurchase is overdue. */
int followup_present_account(struct store *s, struct present_ctx *pc, json_t *rec,
			     struct dm_err *e);

/* One order of an account as the repurchase forecast reads it: its product (product_len bytes;
 * NULL when it is no string, compared as "") and its date's text (on_len bytes, NULL none). */
struct order_fact {
	const char *product, *on;
	size_t product_len, on_len;
};
/* A product's forecast (pointing into the order facts it came from). */
struct repurchase_item {
	const char *product;
	size_t product_len;
	int64_t orders, median;
	char last_on[DATE_STR_LEN], expected_on[DATE_STR_LEN];
	int overdue;
};
/* Pure: the forecast of the n orders o (sorted by product then date) as of today: the items
 * written to out (room for n), their number returned. */
size_t followup_repurchase_facts(const struct order_fact *o, size_t n, int64_t today,
				 struct repurchase_item *out);

/* The facts of an account the rules present it from (its fields and internal fields: any may
 * be NULL or 0), and what they derive: the one place of those rules, for the record as an
 * object (followup_present_account) and as text (followup_account_text). */
struct account_facts {
	const char *created_at, *last_touch_at, *latest_next_touch, *first_order_on;
	int64_t open_opps, order_count;
	const struct order_fact *orders;   /* the _orders, in their order */
	size_t norders;
};
struct account_derived {
	char next_touch_on[DATE_STR_LEN];
	int sleeping;
	const char *segment;
	struct repurchase_item *items;   /* owned: the repurchase forecast */
	size_t nitems;
	int decline;                     /* a repurchase is overdue: lifecycle answers decline, and
					  * each overdue item is a warning */
};
int followup_account_derive(struct store *s, struct present_ctx *pc,
			    const struct account_facts *f, struct account_derived *d,
			    struct dm_err *e);
void followup_account_derived_release(struct account_derived *d);

/* An account of a list written as text from the store's row (store_list_rows): byte for byte
 * what jsontext_append writes of the record store_list reads and method_present presents, at a
 * fraction of its cost (no jansson object per row). at: kind_account's layout,
 * followup_account_layout (found once: the kind is fixed). When want is a field, *want_value receives its value as
 * presented (new reference; for the list's cursor). */
enum {
	AT_ID, AT_CREATED_AT, AT_LAST_TOUCH_AT, AT_LIFECYCLE, AT_LATEST_NEXT_TOUCH,
	AT_FIRST_ORDER_ON, AT_OPEN_OPPS, AT_ORDER_COUNT, AT_ORDERS, AT_NFACTS
};
#define AT_KEYS_MAX 2048
#define AT_KEY_COPY 32   /* put_col_key's fixed copy: keys (and AT_KEYS_MAX) leave this much */
/* How a column is written (followup_account_text): left out (internal), or by its type. */
enum { ATC_INTERNAL, ATC_INT, ATC_BOOL, ATC_JSON, ATC_TEXT };
struct account_text {
	int col[AT_NFACTS];   /* each fact's index in store_row, -1 when not selected */
	size_t ncols;
	const struct field *field[STORE_ROW_MAX];   /* each column's field */
	unsigned char how[STORE_ROW_MAX];           /* each column's ATC_ */
	/* followup_account_list_layout: the query's only (its fields' own names, NULL-terminated);
	 * followup_account_layout: only[0] is NULL (every selected field) */
	const char *only[STORE_ROW_MAX + 1];
	/* each column's key as written after another field: ,"name": (keys + key_at[c],
	 * key_len[c] bytes; the first field's skips the comma) */
	unsigned short key_at[STORE_ROW_MAX];
	unsigned char key_len[STORE_ROW_MAX];
	char keys[AT_KEYS_MAX];
};
const struct account_text *followup_account_layout(void);
/* The lists' layout: the fields the text writes or derives from, which the list's query asks
 * for alone (store_query's only = at->only): not the internal fields only the rules' scans read. */
const struct account_text *followup_account_list_layout(void);
int followup_account_text(struct store *s, struct present_ctx *pc, const struct account_text *at,
			  const struct store_row *r, struct buf *b, const struct field *want,
			  json_t **want_value, struct dm_err *e);
/* The text of account id at revision rev (store_row's; a list's probe, store_query) appended
 * to b with *known set when the memo holds it, written from the row at that revision, the
 * layout at, pc's day and the rules; else *known 0 and b unchanged. Never for revision 0
 * (not known) nor a capped b. */
int followup_account_text_known(struct store *s, struct present_ctx *pc,
				const struct account_text *at, int64_t id, int64_t rev, struct buf *b,
				int *known, struct dm_err *e);
/* The texts followup_account_text took from its memo so far on the calling thread (for tests);
 * and the memo emptied (tests: a text written afresh). */
long followup_memo_hits(void);
void followup_memo_clear(void);
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
		    struct buf *out, struct dm_err *e);
/* Accounts in v's reach with intervention_touches or more and no won opportunity. */
int followup_intervention(struct store *s, const struct viewer *v, json_t **items,
			  struct dm_err *e);

#endif
