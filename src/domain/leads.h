/* leads.h — leads (线索): who gets a new lead, and turning a lead into a customer. */
#ifndef DM_LEADS_H
#define DM_LEADS_H
#include <jansson.h>
#include "../base/err.h"
#include "../store/store.h"
#include "records.h"

/* Inside store_write: the assignee the rules give a new lead without one (0 = none): the rule
 * of its source, else the "*" rule; a named user, or the next in turn of a team's reps or of the
 * partners. With no rule, reps and partners keep their own leads. */
int leads_distribute(struct store *s, const struct viewer *v, json_t *lead, int64_t *assignee,
		     struct dm_err *e);
/* Convert: link to the account of the same name the caller sees (or create one, owned by the
 * lead's assignee unless a partner, else the caller; a partner's goes to the pool), find or create the contact, optionally open an
 * opportunity {name, amount, stage}. Answers {lead_id, account_id, contact_id, opportunity_id,
 * linked}. */
int leads_convert(struct store *s, const struct viewer *v, int64_t lead, json_t *body,
		  json_t **out, struct dm_err *e);

#endif
