/* records.h — create, read, change, archive, restore and list the records of every kind, with
 * the rules of SPEC §1-§2 applied: who may write what, parents that must be visible, owners a
 * caller may assign, and the audit trail. Called by the API and the command line alike. */
#ifndef DM_RECORDS_H
#define DM_RECORDS_H
#include <jansson.h>
#include <stddef.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../model/model.h"
#include "../store/store.h"

struct kv {
	const char *key;
	const char *value;
};

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 500

/* The actor of command-line changes: an admin with no user row (audited as actor null). */
extern const struct viewer viewer_system;

/* Each returns 0 and a new record in *out (caller decrefs), or an error. A record v may not see
 * is DM_ENOTFOUND; a parent named by a field that v may not see is DM_ENOTFOUND with the field. */
int rec_create(struct store *s, const struct kind *k, const struct viewer *v, json_t *body,
	       json_t **out, struct dm_err *e);
/* Create a record under a parent named by the path (stakeholders of an opportunity): the
 * parent field is read-only in bodies and set here. */
int rec_create_in(struct store *s, const struct kind *k, const struct viewer *v,
		  const char *parent_field, int64_t parent_id, json_t *body, json_t **out,
		  struct dm_err *e);
/* 0 when v may see the record (archived ones for admins), else DM_ENOTFOUND: for endpoints that
 * answer something about a record rather than the record itself. */
int rec_visible(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		struct dm_err *e);
int rec_get(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	    json_t **out, struct dm_err *e);
/* rec_get's record written as text where the rules can (accounts on a store with
 * store_get_row; *done = 0 otherwise, and nothing is done): the same bytes jsontext_append
 * writes of rec_get's record, appended to out; *version its version (the ETag). */
int rec_get_text(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		 struct buf *out, int64_t *version, int *done, struct dm_err *e);
/* if_match < 0: no precondition; otherwise DM_ESTALE unless it equals the current version. */
int rec_update(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	       json_t *body, int64_t if_match, json_t **out, struct dm_err *e);
int rec_archive(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		json_t **out, struct dm_err *e);
int rec_restore(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		json_t **out, struct dm_err *e);

/* List with the query parameters of the API (limit, cursor, sort, archived, name, updated_since,
 * and equality filters on filterable fields). *next is a cursor to pass back, or NULL on the last
 * page (caller frees). Bad parameters answer DM_EPARAM naming the parameter. */
int rec_list(struct store *s, const struct kind *k, const struct viewer *v,
	     const struct kv *params, size_t nparams, json_t **items, char **next,
	     struct dm_err *e);

/* rec_list (pool: rec_list_pool's list) written as the text of its items' array, appended to
 * out, for the lists whose records the rules write straight from the store's rows (accounts, on
 * a store with store_list_rows): the same bytes jsontext_append writes of rec_list's items, and
 * the same *next. *done = 0 (nothing written, nothing checked) for any other list: call
 * rec_list. */
int rec_list_text(struct store *s, const struct kind *k, const struct viewer *v,
		  const struct kv *params, size_t nparams, int pool, struct buf *out, char **next,
		  int *done, struct dm_err *e);

/* The public pool: accounts without an owner, paged and filtered like rec_list. */
int rec_list_pool(struct store *s, const struct viewer *v, const struct kv *params,
		  size_t nparams, json_t **items, char **next, struct dm_err *e);

/* The audit trail: params object=<kind name>, id=<n>, limit, cursor. Admins, and managers for
 * records they see; DM_EFORBIDDEN for other roles. */
int rec_audit(struct store *s, const struct viewer *v, const struct kv *params, size_t nparams,
	      json_t **items, char **next, struct dm_err *e);

/* ---- many records in one transaction (import, demo) -------------------------------------------
 * rec_create, rec_update and the others may be called inside a store_write callback: they then
 * join its transaction. rec_create_tx is the lean form for bulk loads: the same rules and checks
 * as rec_create, but the record is not read back and it is inserted through store_import_insert
 * (one audit row per record, action "import"). The batch remembers, for the length of one
 * transaction, what the rules already established (owners found assignable); zero it before the
 * first record. Inside store_write only; *id receives the new record's id. */
struct rec_batch {
	int64_t owners[32];
	int nowners;
	/* the next record's audit text, made on the loader's other thread (jsontext of changes),
	 * with changes' values then, in order: used only if the rules left changes as it was */
	const char *audit;
	size_t audit_len;
	json_t *const *audit_vals;
	size_t audit_nvals;
};
int rec_create_tx(struct store *s, const struct kind *k, const struct viewer *v, json_t *body,
		  struct rec_batch *batch, int64_t *id, struct dm_err *e);
/* rec_create_tx in two halves, so a bulk load can check its rows on another thread while the
 * writer inserts. rec_create_check is the half that reads nothing stored (safe on any thread):
 * may v create records of k at all, and body checked against the field table (model_check);
 * *changes (new reference, or NULL on error) is what rec_create_checked_tx takes: the rules
 * that read stored state, and the insert. rec_create_checked_tx may change changes (the rules
 * complete it); the caller keeps its reference. Inside store_write only. */
int rec_create_check(const struct kind *k, const struct viewer *v, json_t *body, json_t **changes,
		     struct dm_err *e);
int rec_create_checked_tx(struct store *s, const struct kind *k, const struct viewer *v,
			  json_t *changes, struct rec_batch *batch, int64_t *id, struct dm_err *e);

#endif
