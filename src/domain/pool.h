/* pool.h — the public pool (公海, SPEC §6): parking under the twelve-touch rule, claiming up to
 * the holding limit, assigning, the reclaim sweep, and every owner change on record. Given-up
 * customers wait here to be reassigned; nothing is deleted or hidden from the account. */
#ifndef DM_POOL_H
#define DM_POOL_H
#include <jansson.h>
#include "../base/err.h"
#include "../store/store.h"
#include "records.h"

/* Each answers the account as the caller now sees it (or, for a parked account no longer
 * visible, {id, owner_id, pool_reason}). Refusals carry precise codes: twelve_touch_rule
 * (with touches and required), never_park, already_claimed, holding_limit (with owned, limit). */
int pool_park(struct store *s, const struct viewer *v, int64_t account, json_t *body,
	      json_t **out, struct dm_err *e);
int pool_claim(struct store *s, const struct viewer *v, int64_t account, json_t **out,
	       struct dm_err *e);
int pool_assign(struct store *s, const struct viewer *v, int64_t account, json_t *body,
		json_t **out, struct dm_err *e);
/* The pool, paged like other lists; reps see the basic fields only. */
int pool_list(struct store *s, const struct viewer *v, const struct kv *params, size_t n,
	      json_t **items, char **next, struct dm_err *e);
/* Every owner change of an account the caller sees: {from, to, reason, note, by, at}. */
int pool_owners(struct store *s, const struct viewer *v, int64_t account, json_t **items,
		struct dm_err *e);
/* Reclaim neglected accounts as of a date (NULL = today): {sweep_id, as_of, moved: [...]}.
 * Idempotent: what a sweep moved is in the pool, so the next one does not move it again. */
int pool_sweep(struct store *s, const struct viewer *v, const char *as_of, json_t **out,
	       struct dm_err *e);
/* Run the sweep once per day: when the last sweep was not today, sweep now. Servers sharing a
 * database sweep once between them: the check runs inside the sweep's transaction under the
 * store's "sweep" lock (store_lock_try), and a server that finds it taken or today's sweep done
 * does nothing. */
int pool_sweep_daily(struct store *s, struct dm_err *e);

#endif
