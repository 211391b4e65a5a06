/* jobs.c — import jobs: a row in the store each (any server answers for it), and in the process
 * running it a table of live progress: one thread per running import, read under a lock. */
#include "jobs.h"
#include "../base/log.h"
#include "../base/xmalloc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

struct job {
	int64_t id;
	struct store *s;
	struct import_opts o;
	char *body;
	struct csv_mem mem;
	int state;            /* 0 free, 1 running, 2 done, 3 failed */
	int64_t rows;
	uint64_t bytes;
	json_t *report;
	struct dm_err err;
	pthread_t thread;
	int joined;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct job table[JOBS_MAX];

struct job_tx {
	const char *object, *state, *error;
	int64_t user_id, bytes, rows, id;
	json_t *report;
	struct dm_err *e;
};

static int job_add_tx(struct store *s, void *arg)
{
	struct job_tx *t = arg;
	return store_job_add(s, t->object, t->user_id, (int64_t)t->bytes, &t->id, t->e);
}

static int job_set_tx(struct store *s, void *arg)
{
	struct job_tx *t = arg;
	return store_job_set(s, t->id, t->state, t->rows, t->bytes, t->report, t->error, t->e);
}

static void on_progress(void *arg, int64_t rows, uint64_t bytes)
{
	struct job *j = arg;
	pthread_mutex_lock(&mu);
	j->rows = rows;
	j->bytes = bytes;
	pthread_mutex_unlock(&mu);
}

static void *run(void *arg)
{
	struct job *j = arg;
	json_t *report = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	int rc = import_run(j->s, &j->o, csv_read_mem, &j->mem, &report, &e);
	/* the end, for every server to see (a failure to record it is logged: the report stays here) */
	struct dm_err se;
	dm_err_clear(&se);
	struct job_tx t = { .state = rc ? "failed" : "done", .error = rc ? e.message : NULL,
			    .id = j->id, .report = report, .e = &se };
	pthread_mutex_lock(&mu);
	t.rows = j->rows;
	t.bytes = (int64_t)j->bytes;
	pthread_mutex_unlock(&mu);
	if (store_write(j->s, job_set_tx, &t, &se))
		log_warn("import job %lld: its end was not stored: %s", (long long)j->id, se.message);
	pthread_mutex_lock(&mu);
	j->state = rc ? 3 : 2;
	j->report = report;
	j->err = e;
	free(j->body);
	j->body = NULL;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* A free slot, or the oldest finished one (forgotten); NULL when all run. Under mu. */
static struct job *slot(void)
{
	struct job *best = NULL;
	for (int i = 0; i < JOBS_MAX; i++) {
		struct job *j = &table[i];
		if (j->state == 0)
			return j;
		if (j->state >= 2 && (!best || j->id < best->id))
			best = j;
	}
	if (best) {
		if (!best->joined)
			pthread_join(best->thread, NULL);
		json_decref(best->report);
		memset(best, 0, sizeof *best);
	}
	return best;
}

int jobs_start_import(struct store *s, const struct import_opts *o, const char *body, size_t len,
		      int64_t *id, struct dm_err *e)
{
	struct job_tx t = { .object = o->kind->plural, .user_id = o->viewer.user_id,
			    .bytes = (int64_t)len, .e = e };
	int rc = store_write(s, job_add_tx, &t, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&mu);
	struct job *j = slot();
	if (!j) {
		pthread_mutex_unlock(&mu);
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "too many imports running; try again later");
	}
	j->id = *id = t.id;
	j->s = s;
	j->o = *o;
	j->o.progress = on_progress;
	j->o.progress_arg = j;
	j->body = xmalloc(len + 1);
	memcpy(j->body, body, len);
	j->mem.p = j->body;
	j->mem.len = len;
	j->state = 1;
	if (pthread_create(&j->thread, NULL, run, j)) {
		free(j->body);
		memset(j, 0, sizeof *j);
		pthread_mutex_unlock(&mu);
		return dm_fail(e, DM_EINTERNAL, NULL, "cannot start the import");
	}
	pthread_mutex_unlock(&mu);
	return 0;
}

/* A job this process does not run: as stored. */
static int stored_job(struct store *s, int64_t id, const struct viewer *v, json_t **out,
		      struct dm_err *e)
{
	json_t *job = NULL;
	int rc = store_job_get(s, id, &job, e);
	if (rc)
		return rc;
	json_t *owner = json_object_get(job, "user_id");
	if (v->role != ROLE_ADMIN && json_integer_value(owner) != v->user_id) {
		json_decref(job);
		return dm_fail(e, DM_ENOTFOUND, NULL, "job %lld not found", (long long)id);
	}
	json_object_del(job, "user_id");
	*out = job;
	return 0;
}

int jobs_get(struct store *s, int64_t id, const struct viewer *v, json_t **out, struct dm_err *e)
{
	static const char *const states[] = { "free", "running", "done", "failed" };
	*out = NULL;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < JOBS_MAX; i++) {
		struct job *j = &table[i];
		if (j->state == 0 || j->id != id ||
		    (v->role != ROLE_ADMIN && j->o.viewer.user_id != v->user_id))
			continue;
		*out = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:O?,s:s?}", "id", (json_int_t)j->id,
				 "kind", "import", "object", j->o.kind->plural, "state", states[j->state],
				 "rows_done", (json_int_t)j->rows, "bytes_done", (json_int_t)j->bytes,
				 "bytes_total", (json_int_t)j->mem.len, "report", j->report,
				 "error", j->state == 3 ? j->err.message : NULL);
		break;
	}
	pthread_mutex_unlock(&mu);
	return *out ? 0 : stored_job(s, id, v, out, e);
}

void jobs_drain(void)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < JOBS_MAX; i++) {
		struct job *j = &table[i];
		if (j->state == 0 || j->joined)
			continue;
		pthread_t t = j->thread;
		j->joined = 1;
		pthread_mutex_unlock(&mu);
		pthread_join(t, NULL);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
}
