/* import.h — CSV import of SPEC §9: header names matched to fields (with English and Chinese
 * aliases, or an explicit mapping), cells typed by the field table, references given by name,
 * every row checked by the same rules as the API, all in one transaction: one bad row and
 * nothing is written. A dry run does the same work and always rolls back. */
#ifndef DM_IMPORT_H
#define DM_IMPORT_H
#include <jansson.h>
#include <stdint.h>
#include "../base/err.h"
#include "../domain/records.h"
#include "../model/model.h"
#include "../store/store.h"
#include "csv.h"

#define IMPORT_MAX_ERRORS 100   /* errors listed in a report (error_count counts them all) */

enum import_dup { IMPORT_DUP_ERROR, IMPORT_DUP_SKIP, IMPORT_DUP_UPDATE };

struct import_opts {
	const struct kind *kind;
	struct viewer viewer;
	int dry_run;
	enum import_dup on_duplicate;   /* accounts matched by name */
	enum csv_encoding encoding;
	char mapping[2048];             /* "column=field,..." ("" = none) */
	/* Called every IMPORT_PROGRESS_EVERY rows and at the end (may be NULL), on the store's
	 * writer thread. */
	void (*progress)(void *arg, int64_t rows, uint64_t bytes);
	void *progress_arg;
};

#define IMPORT_PROGRESS_EVERY 1000

/* The kind named by plural that v may import: accounts, contacts, opportunities, activities,
 * leads, orders, and users for admins. DM_ENOTFOUND for others, DM_EFORBIDDEN for users. */
int import_kind(const char *plural, const struct viewer *v, const struct kind **out,
		struct dm_err *e);
/* Fill o from query parameters dry_run, on_duplicate, encoding, mapping (others: DM_EPARAM,
 * except those listed in allow, a NULL-terminated list). kind and viewer are left as they are. */
int import_params(const struct kv *p, size_t n, const char *const *allow, struct import_opts *o,
		  struct dm_err *e);
/* Check a mapping text against the kind; DM_EPARAM naming "mapping" when it is malformed or
 * names a field the kind cannot take. */
int import_mapping_check(const struct kind *k, const char *mapping, struct dm_err *e);

/* Run an import over the CSV read() gives. Answers 0 and a report (new reference):
 * {ok, dry_run, rows, created, updated, skipped, errors: [{line, column, field, message}],
 *  error_count, ignored_columns, encoding, separator}; ok is false when any row was refused (then
 * nothing was written). A non-zero answer is a failure of the import as a whole (the store
 * unavailable, a read error, an unreadable encoding), with e set. */
int import_run(struct store *s, const struct import_opts *o, csv_read_fn read, void *arg,
	       json_t **report, struct dm_err *e);

#endif
