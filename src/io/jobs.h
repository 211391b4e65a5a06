/* jobs.h — imports that outlive their request (SPEC §9): the API answers 202 with a job id and
 * the caller polls GET /jobs/{id} for rows done and, at the end, the report. Each job is a row of
 * the store (store_job_*), so any server sharing the database answers for it: the server running
 * the import shows its live progress (from its memory), the others the stored state — "running"
 * until the import ends, then its report. */
#ifndef DM_JOBS_H
#define DM_JOBS_H
#include <jansson.h>
#include <stddef.h>
#include "../base/err.h"
#include "import.h"

#define JOBS_MAX 64   /* finished jobs are forgotten, oldest first, beyond this */

/* Start importing a copy of body[0..len) in a thread of its own. *id names the job. */
int jobs_start_import(struct store *s, const struct import_opts *o, const char *body, size_t len,
		      int64_t *id, struct dm_err *e);
/* {id, kind, object, state: running|done|failed, rows_done, bytes_done, bytes_total, report,
 * error} of a job started by v (admins: any job); DM_ENOTFOUND otherwise. */
int jobs_get(struct store *s, int64_t id, const struct viewer *v, json_t **out, struct dm_err *e);
/* Wait for every running job to end (before the store closes). */
void jobs_drain(void);

#endif
