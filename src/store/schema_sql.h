/* schema_sql.h — SQL text the migrations of both backends share. */
#ifndef DM_SCHEMA_SQL_H
#define DM_SCHEMA_SQL_H

/* Migration 6: the follow-up facts of account X, recomputed from its activities (as the derived
 * fields of the accounts were, per read, before it). */
#define TOUCH_FACTS(X) \
	"touch_count = (SELECT count(*) FROM activities da WHERE da.account_id = " X \
	"  AND da.effective = 1 AND da.archived_at IS NULL)," \
	"touched_at = (SELECT max(da.occurred_at) FROM activities da WHERE da.account_id = " X \
	"  AND da.effective = 1 AND da.archived_at IS NULL)," \
	"latest_next_touch = (SELECT la.next_touch_on FROM activities la WHERE la.account_id = " X \
	"  AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)," \
	"latest_contact_ids = (SELECT la.contact_ids FROM activities la WHERE la.account_id = " X \
	"  AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)"

#endif
