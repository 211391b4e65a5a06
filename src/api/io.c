/* io.c — import, export, jobs and the admin's backup over HTTP (SPEC §9): thin handlers over
 * io/ and the store's backup. */
#include "api.h"
#include "../io/export.h"
#include "../io/import.h"
#include "../io/jobs.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../base/banned.h"

#define IMPORT_SYNC_MAX (1u << 20)   /* larger bodies (or async=1) become a job: 202 */

static const char *const import_allow[] = { "async", NULL };

static int import_h(struct http_req *rq, struct http_resp *rs)
{
	struct import_opts o;
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	json_t *report = NULL;
	int rc, async = rq->body_len > IMPORT_SYNC_MAX;
	memset(&o, 0, sizeof o);
	o.viewer = *api_viewer(rq);
	if ((rc = import_kind(rq->key, &o.viewer, &o.kind, &rq->err)) ||
	    (rc = import_params(params, n, import_allow, &o, &rq->err)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(params[i].key, "async"))
			async = !strcmp(params[i].value, "1") || !strcmp(params[i].value, "true");
	if (async) {
		int64_t id;
		char href[64];
		if ((rc = jobs_start_import(api_store(rq), &o, rq->body, rq->body_len, &id, &rq->err)))
			return rc;
		snprintf(href, sizeof href, "/api/v1/jobs/%lld", (long long)id);
		http_add_header(rs, "Location", href);
		http_set_json(rs, 202, json_pack("{s:I,s:s,s:s}", "job_id", (json_int_t)id, "state",
						  "running", "href", href));
		return 0;
	}
	struct csv_mem mem = { rq->body, rq->body_len, 0 };
	if ((rc = import_run(api_store(rq), &o, csv_read_mem, &mem, &report, &rq->err)))
		return rc;
	if (!json_is_true(json_object_get(report, "ok")))
		json_object_set_new(report, "error", json_pack("{s:s,s:s,s:n}", "code",
			"import_rejected", "message", "rows were refused: nothing was written", "field"));
	http_set_json(rs, json_is_true(json_object_get(report, "ok")) ? 200 : 422, report);
	return 0;
}

static int job_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *job;
	int rc = jobs_get(api_store(rq), rq->ids[0], api_viewer(rq), &job, &rq->err);
	if (!rc)
		http_set_json(rs, 200, job);
	return rc;
}

/* Send the file at path (then removed) as the body. */
static int send_file(struct http_resp *rs, const char *path, const char *type, const char *name,
		     struct dm_err *e)
{
	struct stat st;
	char disp[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return dm_fail(e, DM_EINTERNAL, NULL, "cannot read back %s", path);
	}
	rs->status = 200;
	rs->has_fd = 1;
	rs->fd = fd;
	rs->fd_len = (uint64_t)st.st_size;
	rs->content_type = type;
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
	http_add_header(rs, "Content-Disposition", disp);
	return 0;
}

/* A fresh private directory for a file made for one response; path receives dir/name. */
static int temp_path(const char *name, char dir[64], char path[128], struct dm_err *e)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, 64, "%s/dealmap-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return dm_fail(e, DM_EINTERNAL, NULL, "cannot make a temporary directory");
	snprintf(path, 128, "%s/%s", dir, name);
	return 0;
}

static int export_worker(struct http_req *rq, struct http_resp *rs, enum export_format fmt)
{
	const struct kind *k = rq->route_data;
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	char name[64], dir[64], path[128];
	int rc;
	snprintf(name, sizeof name, "%s.%s", k->plural, fmt == EXPORT_CSV ? "csv" : "xlsx");
	if (fmt == EXPORT_CSV) {
		char *data = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&data, &len);
		rc = export_csv(api_store(rq), k, api_viewer(rq), params, n, f, &rq->err);
		fclose(f);
		if (rc) {
			free(data);
			return rc;
		}
		rs->status = 200;
		rs->body = data;
		rs->body_len = len;
		rs->content_type = "text/csv; charset=utf-8";
		char disp[128];
		snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
		http_add_header(rs, "Content-Disposition", disp);
		return 0;
	}
	if ((rc = temp_path(name, dir, path, &rq->err)))
		return rc;
	rc = export_xlsx(api_store(rq), k, api_viewer(rq), params, n, path, &rq->err);
	if (!rc)
		rc = send_file(rs, path, "application/vnd.openxmlformats-officedocument."
			       "spreadsheetml.sheet", name, &rq->err);
	unlink(path);
	rmdir(dir);
	return rc;
}

static int export_csv_h(struct http_req *rq, struct http_resp *rs)
{
	return export_worker(rq, rs, EXPORT_CSV);
}

static int export_xlsx_h(struct http_req *rq, struct http_resp *rs)
{
	return export_worker(rq, rs, EXPORT_XLSX);
}

static int backup_h(struct http_req *rq, struct http_resp *rs)
{
	char dir[64], path[128];
	int rc;
	if (api_viewer(rq)->role != ROLE_ADMIN)
		return dm_fail(&rq->err, DM_EFORBIDDEN, NULL, "only admins take backups");
	if (rq->nparams)
		return dm_fail(&rq->err, DM_EPARAM, rq->params[0].key, "no parameters");
	/* SQLite: a database file; PostgreSQL: pg_dump's custom format, for pg_restore */
	int pg = !strcmp(store_backend(api_store(rq)), "postgres");
	const char *name = pg ? "dealmap-backup.dump" : "dealmap-backup.db";
	if ((rc = temp_path(name, dir, path, &rq->err)))
		return rc;
	rc = store_backup(api_store(rq), path, &rq->err);
	if (!rc)
		rc = send_file(rs, path, pg ? "application/octet-stream" : "application/vnd.sqlite3",
			       name, &rq->err);
	unlink(path);
	rmdir(dir);
	return rc;
}

static const char *const import_query[] = {
	"dry_run:1 to check everything and write nothing",
	"on_duplicate:skip | update | error (default): an account whose name exists",
	"encoding:utf-8 | gb18030 (default: detected)",
	"mapping:column=field,... to map columns explicitly",
	"async:1 to run as a job (202); bodies over 1 MiB always do",
	NULL,
};

/* Paths are built once and live as long as the process. */
static char export_paths[16][2][64];

size_t api_io_routes(struct route *out, size_t max)
{
	size_t n = 0;
	const struct route fixed[] = {
		{ "POST", "/api/v1/import/{key}", import_h, 0, NULL,
		  "Import a CSV body (text/csv) into accounts, contacts, opportunities, activities, "
		  "leads, orders or users (admins); all or nothing; 422 with the report when rows "
		  "are refused, 202 with a job for large bodies", "io", NULL, NULL, 0, import_query },
		{ "GET", "/api/v1/jobs/{id}", job_h, 0, NULL,
		  "An import job: state, rows_done, and the report when done", "io", NULL, NULL, 0,
		  NULL },
		{ "GET", "/api/v1/admin/backup", backup_h, ROUTE_SLOW, NULL,
		  "A consistent copy of the SQLite database (admin)", "io", NULL, NULL, 0, NULL },
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < max; i++)
		out[n++] = fixed[i];
	for (int i = 0; model_kinds[i] && i < 16; i++) {
		const struct kind *k = model_kinds[i];
		if (k->flags & KF_NESTED)
			continue;
		snprintf(export_paths[i][0], sizeof export_paths[i][0], "/api/v1/export/%s.csv",
			 k->plural);
		snprintf(export_paths[i][1], sizeof export_paths[i][1], "/api/v1/export/%s.xlsx",
			 k->plural);
		const struct route group[] = {
			{ "GET", export_paths[i][0], export_csv_h, ROUTE_SLOW, k,
			  "Export as CSV (UTF-8 with BOM; the list filters; formulas neutralised)", "io",
			  NULL, NULL, 0, NULL },
			{ "GET", export_paths[i][1], export_xlsx_h, ROUTE_SLOW, k,
			  "Export as XLSX (the list filters; formulas neutralised)", "io", NULL, NULL, 0,
			  NULL },
		};
		for (size_t g = 0; g < 2 && n < max; g++)
			out[n++] = group[g];
	}
	return n;
}
