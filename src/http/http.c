/* http.c — the server around libmicrohttpd: request state, limits, routing, responses.
 *
 * libmicrohttpd 0.9.75 traps handled here (see STACK-NOTES): the response is queued on the
 * second callback, never the first, or keep-alive is lost; the body arrives in pieces and is
 * capped as it comes; the connection timeout is set explicitly.
 *
 * Writes run off libmicrohttpd's threads. A write waits for the store's group commit (an fsync),
 * and a libmicrohttpd thread serves its connections in turn: a thread blocked on a commit kept
 * the reads of every other connection it serves waiting (seconds at the tail under 256
 * connections), and at most as many writes as threads could share one commit. So a request
 * that is not GET/HEAD/OPTIONS is suspended when its body is in, handled by one of a pool of
 * writer threads (many, cheap: they mostly wait), and resumed with its response ready.
 *
 * libmicrohttpd runs two threads per core, and the reads that may run long go to a pool too.
 * With many more threads than cores the kernel shares the cores among the busy ones in slices,
 * and a request whose thread has used its slice waits a round of the others: at 64 connections
 * the p99 of an agenda or a list was 4-7 times its p50 on 16 threads, 1.4-2 times on 2 (fixes
 * 50 and 51 in docs/BENCHMARKS.md); two per core kept most of that (the agenda's p99 21-24 ms
 * against 73-90 on 16, 15-16 on one per core) and answered the quick requests 10-30 % faster
 * than one per core. But on few threads a slow request would hold every connection of its
 * thread until it ends. So a read is suspended and handed to threads of its own, as a write
 * is, when its route is marked slow (ROUTE_SLOW: exports, backups) or when the route's recent
 * requests have been (a moving average of their time above SLOW_ROUTE_US: a manager's list of
 * opportunities, a report over the whole company); the quick ones, nearly all, stay where
 * they arrived. The slow reads' threads run at a lower priority (SLOW_NICE): on one thread
 * per core, four slow requests on threads of equal weight took two thirds of the CPU from the
 * quick ones.
 *
 * Between the two, the reads that cost a few hundred µs of CPU (a rep's agenda, a two-character
 * search over the company) go to one thread per core taking them in arrival order (the heavy
 * reads' pool), when their route's sampled CPU time averages above HEAVY_ROUTE_US (until it
 * falls below HEAVY_LEAVE_US). On libmicrohttpd's threads each such request made the others of
 * its thread wait their turn, and two threads per core shared a core in slices: the agenda's
 * p99 was twice its p50. In one queue for all, each waits for the requests ahead of it only:
 * p99 1.3-1.6 times p50, at ≈ 35 µs more CPU a request for the hand-off (suspending, waking a
 * pool thread, resuming: context switches and inter-processor interrupts, dear in a VM), which
 * is why the quick reads stay where they arrived (fixes 55 and 57 in docs/BENCHMARKS.md). */
#include "http.h"
#include "../base/jsontext.h"
#include "../base/log.h"
#include "../base/xmalloc.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "../base/banned.h"

/* Every open connection, for the deadline reaper: libmicrohttpd's timeout counts idleness
 * only, so a client sending a header byte every few seconds would hold a connection forever. */
struct conn_track {
	int fd;
	int64_t since_ms;         /* when the current request began arriving (or the last ended) */
	int state;                /* 0 waiting for headers, 1 receiving the body, 2 being answered */
	int cut;
	struct conn_track *prev, *next;
};

/* The pool's queues (see the top of this file). */
enum { Q_WRITES, Q_SLOW, Q_HEAVY, NQUEUES };

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_config cfg;
	atomic_int active;        /* requests between first callback and completion */
	pthread_mutex_t mu;       /* guards conns */
	struct conn_track *conns;
	pthread_t reaper;
	int stopping;
	pthread_cond_t stop_cv;
	/* the write pool (see the top of this file): a queue of suspended requests */
	pthread_t *workers;
	unsigned nworkers;        /* all the queues' threads, the writes' first */
	struct work_queue {
		struct http_server *srv;
		struct rqctx *head, *tail;
		pthread_cond_t cv;
		unsigned threads;     /* how many serve it (0: the pool is off) */
		int nice;
		const char *name;     /* its threads' name, as top and perf show them */
	} queue[NQUEUES];
	int workers_stop;
	/* each route's recent handling time, µs: a moving average (1/8 of each new one) */
	_Atomic int64_t *route_us;
	/* and its CPU time, µs, sampled (every CPU_SAMPLE-th request of a thread): a moving
	 * average (1/4 of each sample) */
	_Atomic int64_t *route_cpu;
	/* whether the route is now the heavy reads' (for_pool: entered above HEAVY_ROUTE_US,
	 * left below HEAVY_LEAVE_US) */
	atomic_char *route_heavy;
};

/* A route whose requests take this long on average is served by the slow reads' threads (see
 * the top): well above the everyday reads (GET by id ≈ 10-25 µs, a list of 50 ≈ 0.1-0.25 ms,
 * an agenda ≈ 0.25 ms of CPU at full scale), well below what holding a thread's connections
 * would be felt at. */
#define SLOW_ROUTE_US 5000
#define SLOW_THREADS 8
#define SLOW_NICE 5

/* A read route whose requests' CPU time averages above HEAVY_ROUTE_US goes to the heavy reads'
 * pool, and comes back when it averages below HEAVY_LEAVE_US. One bound (150) made a route
 * near it flap: the rep's agenda measured ≈ 140-150 µs on the pool on an idle machine, went
 * back to libmicrohttpd's threads and came again, and its p99 was 12-38 ms where it was
 * 9.2-10.3 ms on the pool alone (fix 57). At full scale on an idle machine, CPU a request on
 * the pool's threads: the rep's agenda ≈ 148 and a manager's list of 50 ≈ 140 (they stay); a
 * rep's list of 50 ≈ 82-93 with the hand-off's share (on the pool after a cold start, it
 * leaves), ≈ 97 in all on libmicrohttpd's threads (it does not come); GET by id ≈ 10. A
 * thread reads its CPU clock for one request in CPU_SAMPLE (≈ 0.5 µs a read, a syscall). */
#define HEAVY_ROUTE_US 120
#define HEAVY_LEAVE_US 90
#define CPU_SAMPLE 8

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	return now_us() / 1000;
}

/* Per-request state, kept in MHD's con_cls. */
struct rqctx {
	struct http_req rq;
	struct conn_track *track;
	struct http_server *srv;
	struct buf body;
	int too_large;
	size_t discarded;
	int answered;
	atomic_int *active;
	/* a write handled by the pool: its response, queued when libmicrohttpd calls back after
	 * the resume */
	struct MHD_Response *ready;
	unsigned ready_status;
	struct rqctx *queue_next;
	/* the route, found once when the request is in (route_find) */
	const struct route *route;
	int route_idx, path_known;
	char allow[64];
};

/* Set on a pool thread while it handles a suspended request: send_resp keeps the response for
 * it instead of queueing it (libmicrohttpd queues responses from its own callback only). */
static __thread struct rqctx *tls_deferred;

static const char *const security_headers[][2] = {
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ "X-Frame-Options", "DENY" },
	{ "Content-Security-Policy",
	  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
	  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'" },
	{ "Cache-Control", "no-store" },
};

int http_status_of(enum dm_code code)
{
	switch (code) {
	case DM_OK: return 200;
	case DM_EJSON: case DM_EINVAL: case DM_EREQUIRED: case DM_EUNKNOWN: case DM_EREADONLY:
	case DM_EPARAM:
		return 400;
	case DM_EAUTH: case DM_ECREDS: return 401;
	case DM_ECSRF: case DM_EFORBIDDEN: return 403;
	case DM_ENOTFOUND: return 404;
	case DM_EDUPLICATE: case DM_ECONFLICT: return 409;
	case DM_ESTALE: return 412;
	case DM_ETOOLARGE: return 413;
	case DM_ERATE: return 429;
	case DM_EUNAVAILABLE: case DM_ESCHEMA: return 503;
	case DM_EINTERNAL: return 500;
	}
	return 500;
}

void http_set_json(struct http_resp *rs, int status, json_t *json)
{
	json_decref(rs->json);
	rs->status = status;
	rs->json = json;
}

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

void http_set_json_text(struct http_resp *rs, int status, char *text, size_t len)
{
	json_decref(rs->json);
	rs->json = NULL;
	free(rs->body);
	rs->status = status;
	rs->body = text;
	rs->body_len = len;
	rs->content_type = JSON_CONTENT_TYPE;
}

void http_add_header(struct http_resp *rs, const char *name, const char *value)
{
	if (rs->nheaders == HTTP_MAX_HEADERS_OUT)
		abort();   /* a programming error: raise the bound */
	rs->headers[rs->nheaders].name = xstrdup(name);
	rs->headers[rs->nheaders++].value = xstrdup(value);
}

static void resp_release(struct http_resp *rs)
{
	json_decref(rs->json);
	free(rs->body);
	if (rs->has_fd)
		close(rs->fd);
	for (int i = 0; i < rs->nheaders; i++) {
		free(rs->headers[i].name);
		free(rs->headers[i].value);
	}
}

static void error_response(struct http_resp *rs, const struct dm_err *err)
{
	json_t *e = json_pack("{s:s,s:s,s:o}", "code",
			      err->code_name ? err->code_name : dm_code_name(err->code), "message",
			      err->message[0] ? err->message : dm_code_name(err->code), "field",
			      err->field[0] ? json_string(err->field) : json_null());
	if (err->detail[0]) {
		json_t *d = json_loads(err->detail, 0, NULL);
		json_object_update_missing(e, d);
		json_decref(d);
	}
	if (err->code == DM_EDUPLICATE && err->existing_id)
		json_object_set_new(e, "existing_id", json_integer(err->existing_id));
	if (err->code == DM_ERATE && err->retry_after) {
		char s[16];
		snprintf(s, sizeof s, "%d", err->retry_after);
		http_add_header(rs, "Retry-After", s);
	}
	if (err->code == DM_EINTERNAL)
		log_error("internal error: %s", err->message);
	http_set_json(rs, http_status_of(err->code), json_pack("{s:o}", "error", e));
}

/* The body's text: jsontext writes what json_dumps(JSON_COMPACT) would, without jansson's loop
 * check (an snprintf of each object's and array's address, hashed and freed): on a list of 50
 * accounts that check was most of the serialising. Falls back to jansson for what jsontext
 * declines. Caller frees. */
static char *json_text(json_t *v, size_t *len)
{
	struct buf b = BUF_INIT(0);
	if (!v)
		return buf_detach(&b, len);
	if (jsontext_append(&b, v) == 0)
		return buf_detach(&b, len);
	buf_release(&b);
	char *s = json_dumps(v, JSON_COMPACT);
	if (!s)
		s = xstrdup("");
	*len = strlen(s);
	return s;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct http_resp *rs)
{
	struct MHD_Response *r;
	const char *ctype = rs->content_type;
	if (rs->has_fd) {
		r = MHD_create_response_from_fd64(rs->fd_len, rs->fd);   /* closes fd when done */
		rs->has_fd = 0;
	} else if (rs->static_body) {
		r = MHD_create_response_from_buffer(rs->body_len, (void *)rs->static_body,
						    MHD_RESPMEM_PERSISTENT);
	} else if (rs->body) {
		r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
		rs->body = NULL;
	} else {
		size_t len;
		char *s = json_text(rs->json, &len);
		r = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
		ctype = JSON_CONTENT_TYPE;
	}
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++) {
		int overridden = 0;
		for (int h = 0; h < rs->nheaders; h++)
			overridden |= !strcasecmp(rs->headers[h].name, security_headers[i][0]);
		if (!overridden)
			MHD_add_response_header(r, security_headers[i][0], security_headers[i][1]);
	}
	for (int i = 0; i < rs->nheaders; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	if (tls_deferred && tls_deferred->rq.conn == conn) {
		tls_deferred->ready = r;
		tls_deferred->ready_status = (unsigned)(rs->status ? rs->status : 200);
		resp_release(rs);
		return MHD_YES;
	}
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)(rs->status ? rs->status : 200), r);
	MHD_destroy_response(r);
	resp_release(rs);
	return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, enum dm_code code,
				  const char *field, const char *msg)
{
	struct http_resp rs;
	struct dm_err e;
	memset(&rs, 0, sizeof rs);
	dm_err_clear(&e);
	dm_fail(&e, code, field, "%s", msg);
	error_response(&rs, &e);
	return send_resp(conn, &rs);
}

/* ---- request helpers ------------------------------------------------------------------------- */

const char *http_header(struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

/* Valid JSON whose integer does not fit 64 bits: name the member holding it. */
static int too_big_integer(struct http_req *rq)
{
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
			       NULL);
	const char *key, *field = NULL;
	json_t *v;
	json_object_foreach(j, key, v) {
		/* 2^63 as a double: the integers jansson refused are at least that large */
		if (json_is_real(v) && (json_real_value(v) >= 9223372036854775808.0 ||
					json_real_value(v) <= -9223372036854775808.0)) {
			field = key;
			break;
		}
	}
	int rc = field ? dm_fail(&rq->err, DM_EINVAL, field, "%s is out of range", field) :
			 dm_fail(&rq->err, DM_EJSON, NULL, "a number in the body is out of range");
	json_decref(j);
	return rc;
}

int http_json_body(struct http_req *rq, json_t **out)
{
	json_error_t je;
	*out = NULL;
	if (!rq->body_len)
		return dm_fail(&rq->err, DM_EJSON, NULL, "a JSON object body is required");
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j && strstr(je.text, "too big ") && strstr(je.text, "integer"))
		return too_big_integer(rq);
	if (!j)
		return dm_fail(&rq->err, DM_EJSON, NULL, "invalid JSON at line %d column %d: %s",
			       je.line, je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return dm_fail(&rq->err, DM_EJSON, NULL, "the body must be a JSON object");
	}
	*out = j;
	return 0;
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct http_req *rq = cls;
	(void)kind;
	if (rq->nparams == HTTP_MAX_PARAMS) {
		rq->too_many_params = 1;
		return MHD_NO;
	}
	rq->params[rq->nparams].key = key;
	rq->params[rq->nparams++].value = value ? value : "";
	return MHD_YES;
}

/* ---- routing ------------------------------------------------------------------------------------ */

/* Match path against pattern. A {key} segment is a short word of [a-z0-9_-]; any other {name}
 * segment is a positive integer id, captured in order. */
static int route_match(const char *pattern, const char *path, int64_t ids[HTTP_MAX_PATH_IDS],
		       char key[64])
{
	int nid = 0;
	while (*pattern && *path) {
		/* a plain character first: strncmp per character of every route's pattern was 7 % of
		 * a funnel request's CPU (fix 38) */
		if (*pattern != '{') {
			if (*pattern != *path)
				return 0;
			pattern++;
			path++;
			continue;
		}
		if (!strncmp(pattern, "{key}", 5)) {
			size_t n = 0;
			while ((*path >= 'a' && *path <= 'z') || (*path >= '0' && *path <= '9') ||
			       *path == '_' || *path == '-') {
				if (n == 63)
					return 0;
				key[n++] = *path++;
			}
			key[n] = '\0';
			if (!n)
				return 0;
			pattern += 5;
			continue;
		}
		const char *close = strchr(pattern, '}');   /* an {id} */
		int64_t v = 0;
		int digits = 0;
		while (*path >= '0' && *path <= '9') {
			if (v > (INT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (*path++ - '0');
			digits++;
		}
		if (!digits || v < 1 || nid == HTTP_MAX_PATH_IDS || !close)
			return 0;
		ids[nid++] = v;
		pattern = close + 1;
	}
	return !*pattern && (!*path || (path[0] == '/' && !path[1]));
}

/* The route of c's method and path (c->route, NULL when none; c->path_known and c->allow for
 * a 405), with the path's ids and key in c->rq. */
static void route_find(struct http_server *srv, struct rqctx *c)
{
	struct http_req *rq = &c->rq;
	c->route = NULL;
	c->route_idx = -1;
	c->path_known = 0;
	c->allow[0] = '\0';
	for (size_t i = 0; i < srv->cfg.nroutes; i++) {
		const struct route *r = &srv->cfg.routes[i];
		if (!route_match(r->pattern, rq->path, rq->ids, rq->key))
			continue;
		c->path_known = 1;
		if (strlen(c->allow) + strlen(r->method) + 3 < sizeof c->allow)
			snprintf(c->allow + strlen(c->allow), sizeof c->allow - strlen(c->allow),
				 "%s%s", c->allow[0] ? ", " : "", r->method);
		if (!strcmp(r->method, rq->method)) {
			c->route = r;
			c->route_idx = (int)i;
			return;
		}
	}
}

/* The pool's queue that is to handle c's request, or NULL: where it arrived. */
static struct work_queue *for_pool(struct http_server *srv, const struct rqctx *c,
				   const char *method)
{
	if (!srv->nworkers)
		return NULL;
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS"))
		return &srv->queue[Q_WRITES];   /* a write: it waits for the commit */
	if (c->route && ((c->route->flags & ROUTE_SLOW) ||
			 atomic_load_explicit(&srv->route_us[c->route_idx], memory_order_relaxed) >
				 SLOW_ROUTE_US))
		return &srv->queue[Q_SLOW];
	if (!c->route)
		return NULL;
	int64_t cpu = atomic_load_explicit(&srv->route_cpu[c->route_idx], memory_order_relaxed);
	atomic_char *heavy = &srv->route_heavy[c->route_idx];
	int was = atomic_load_explicit(heavy, memory_order_relaxed);
	int now = was ? cpu >= HEAVY_LEAVE_US : cpu > HEAVY_ROUTE_US;
	if (now != was)
		atomic_store_explicit(heavy, (char)now, memory_order_relaxed);
	return now ? &srv->queue[Q_HEAVY] : NULL;
}

/* A moving average: 1/weight of the new value us. */
static void average_in(_Atomic int64_t *avg, int64_t us, int64_t weight)
{
	int64_t was = atomic_load_explicit(avg, memory_order_relaxed);
	/* racy on purpose: a lost update between two threads only delays the average */
	atomic_store_explicit(avg, was + (us - was) / weight, memory_order_relaxed);
}

static enum MHD_Result dispatch(struct http_server *srv, struct rqctx *c)
{
	struct http_req *rq = &c->rq;
	struct http_resp rs;
	const struct route *found = c->route;
	memset(&rs, 0, sizeof rs);
	if (!found && c->path_known) {
		dm_fail(&rq->err, DM_ENOTFOUND, NULL, "method %s is not allowed here", rq->method);
		error_response(&rs, &rq->err);
		rs.status = 405;
		json_object_set_new(json_object_get(rs.json, "error"), "code",
				    json_string("method_not_allowed"));
		http_add_header(&rs, "Allow", c->allow);
		return send_resp(rq->conn, &rs);
	}
	if (!found && srv->cfg.fallback && strncmp(rq->path, "/api/", 5) &&
	    (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"))) {
		if (srv->cfg.fallback(rq, &rs))
			error_response(&rs, &rq->err);
		return send_resp(rq->conn, &rs);
	}
	if (!found)
		return send_error(rq->conn, DM_ENOTFOUND, NULL, "no such endpoint");
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, collect_param, rq);
	if (rq->too_many_params)
		return send_error(rq->conn, DM_EPARAM, NULL, "too many query parameters");
	rq->route_data = found->data;
	int rc = 0;
	static __thread unsigned handled;
	int sampled = ++handled % CPU_SAMPLE == 0;
	int64_t cpu0 = sampled ? thread_cpu_us() : 0;
	int64_t t0 = now_us();
	if (!(found->flags & ROUTE_PUBLIC))
		rc = srv->cfg.authenticate(rq);
	if (!rc)
		rc = found->handler(rq, &rs);
	average_in(&srv->route_us[c->route_idx], now_us() - t0, 8);
	if (sampled)
		average_in(&srv->route_cpu[c->route_idx], thread_cpu_us() - cpu0, 4);
	if (srv->cfg.done)
		srv->cfg.done(rq);
	if (rc) {
		if (!rq->err.code)
			dm_fail(&rq->err, (enum dm_code)rc, NULL, "%s", dm_code_name((enum dm_code)rc));
		json_decref(rs.json);
		rs.json = NULL;
		error_response(&rs, &rq->err);
	}
	return send_resp(rq->conn, &rs);
}

static void track_state(struct http_server *srv, struct conn_track *t, int state, int restart)
{
	if (!t)
		return;
	pthread_mutex_lock(&srv->mu);
	t->state = state;
	if (restart)
		t->since_ms = now_ms();
	pthread_mutex_unlock(&srv->mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn_track *t = *socket_context;
	pthread_mutex_lock(&srv->mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		t = xcalloc(1, sizeof *t);
		t->fd = ci ? ci->connect_fd : -1;
		t->since_ms = now_ms();
		t->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = t;
		srv->conns = t;
		*socket_context = t;
	} else if (t) {
		/* Called before libmicrohttpd closes the socket, so the reaper never touches a
		 * descriptor that might have been reused. */
		if (t->prev)
			t->prev->next = t->next;
		else
			srv->conns = t->next;
		if (t->next)
			t->next->prev = t->prev;
		free(t);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&srv->mu);
}

/* Once a second, cut connections whose request has not fully arrived in time: the headers
 * within the timeout, the whole body within four times it. */
static void *reaper_main(void *arg)
{
	struct http_server *srv = arg;
	int64_t head_ms = (int64_t)(srv->cfg.timeout_s ? srv->cfg.timeout_s : 30) * 1000;
	pthread_mutex_lock(&srv->mu);
	while (!srv->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&srv->stop_cv, &srv->mu, &ts);
		int64_t now = now_ms();
		for (struct conn_track *t = srv->conns; t; t = t->next) {
			int64_t limit = t->state == 0 ? head_ms : t->state == 1 ? 4 * head_ms : 0;
			if (limit && !t->cut && t->fd >= 0 && now - t->since_ms > limit) {
				shutdown(t->fd, SHUT_RDWR);
				t->cut = 1;
			}
		}
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	size_t *n = cls;
	(void)kind;
	*n += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct rqctx *c = *con_cls;
	(void)version;
	if (!c) {
		/* First callback: record the request only (queueing now would cost keep-alive). */
		c = xcalloc(1, sizeof *c);
		c->body.cap = HTTP_BODY_MAX;
		c->rq.method = method;
		c->rq.path = url;
		c->rq.conn = conn;
		c->rq.app = srv->cfg.app;
		c->active = &srv->active;
		c->srv = srv;
		atomic_fetch_add(&srv->active, 1);
		const union MHD_ConnectionInfo *sc =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		c->track = sc ? sc->socket_context : NULL;
		track_state(srv, c->track, 1, 0);
		size_t header_bytes = 0;
		MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &header_bytes);
		if (header_bytes > HTTP_HEADER_MAX) {
			c->answered = 1;
			*con_cls = c;
			struct http_resp rs;
			memset(&rs, 0, sizeof rs);
			rs.status = 431;
			rs.json = json_pack("{s:{s:s,s:s,s:n}}", "error", "code", "headers_too_large",
					    "message", "request headers are larger than 32 KiB", "field");
			return send_resp(conn, &rs);
		}
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX)
			c->too_large = 1;
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, c->rq.addr,
				  sizeof c->rq.addr);
		else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
				  c->rq.addr, sizeof c->rq.addr);
		*con_cls = c;
		if (c->too_large) {
			/* Refuse before reading the body; this costs the connection, as it should. */
			c->answered = 1;
			return send_error(conn, DM_ETOOLARGE, NULL, "the body is larger than 10 MiB");
		}
		return MHD_YES;
	}
	if (c->ready) {
		/* resumed by the write pool: its answer is ready */
		struct MHD_Response *r = c->ready;
		c->ready = NULL;
		enum MHD_Result ok = MHD_queue_response(conn, c->ready_status, r);
		MHD_destroy_response(r);
		return ok;
	}
	if (c->answered) {
		*upload_size = 0;   /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		if (!c->too_large && buf_append(&c->body, upload, *upload_size)) {
			c->too_large = 1;
			buf_release(&c->body);
		}
		if (c->too_large) {
			/* A chunked body that outgrew the cap: libmicrohttpd cannot answer before the
			 * body ends, so drain it, up to a bound past which the connection is cut. */
			c->discarded += *upload_size;
			if (c->discarded > 4 * (size_t)HTTP_BODY_MAX)
				return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	c->answered = 1;
	track_state(srv, c->track, 2, 0);
	if (c->too_large)
		return send_error(conn, DM_ETOOLARGE, NULL, "the body is larger than 10 MiB");
	c->rq.body = c->body.data ? c->body.data : "";
	c->rq.body_len = c->body.len;
	route_find(srv, c);
	struct work_queue *q = for_pool(srv, c, method);
	if (q) {
		/* under the lock that http_stop takes to stop the pool: once it has, requests are
		 * answered here (a connection left suspended would stop the daemon's shutdown) */
		pthread_mutex_lock(&srv->mu);
		int queued = !srv->workers_stop;
		if (queued) {
			MHD_suspend_connection(conn);
			if (q->tail)
				q->tail->queue_next = c;
			else
				q->head = c;
			q->tail = c;
			pthread_cond_signal(&q->cv);
		}
		pthread_mutex_unlock(&srv->mu);
		if (queued)
			return MHD_YES;
	}
	return dispatch(srv, c);
}

/* A pool thread: handle its queue's suspended requests, then hand them back to
 * libmicrohttpd. */
static void *worker_main(void *arg)
{
	struct work_queue *q = arg;
	struct http_server *srv = q->srv;
	prctl(PR_SET_NAME, q->name);
	if (q->nice)   /* this thread's (Linux: a thread's own nice value) */
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), q->nice);
	pthread_mutex_lock(&srv->mu);
	for (;;) {
		while (!q->head && !srv->workers_stop)
			pthread_cond_wait(&q->cv, &srv->mu);
		struct rqctx *c = q->head;
		if (!c)
			break;
		q->head = c->queue_next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&srv->mu);
		tls_deferred = c;
		dispatch(srv, c);
		tls_deferred = NULL;
		MHD_resume_connection(c->rq.conn);
		pthread_mutex_lock(&srv->mu);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct rqctx *c = *con_cls;
	(void)cls;
	(void)conn;
	(void)why;
	if (!c)
		return;
	if (c->ready)
		MHD_destroy_response(c->ready);
	buf_release(&c->body);
	free(c->rq.auth);
	track_state(c->srv, c->track, 0, 1);
	atomic_fetch_sub(c->active, 1);
	free(c);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(LOG_DEBUG, "http: %s", line);
}

/* What http_start made before the daemon, undone. */
static void server_free(struct http_server *srv)
{
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->stop_cv);
	for (int i = 0; i < NQUEUES; i++)
		pthread_cond_destroy(&srv->queue[i].cv);
	free(srv->route_us);
	free(srv->route_cpu);
	free(srv->route_heavy);
	free(srv);
}

int http_start(const struct http_config *cfg, struct http_server **out, struct dm_err *e)
{
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)cfg->port);
	const char *host = strcmp(cfg->host, "localhost") ? cfg->host : "127.0.0.1";
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return dm_fail(e, DM_EPARAM, "listen", "listen address %s is not an IPv4 address", host);
	struct http_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = *cfg;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->stop_cv, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	static const char *const names[NQUEUES] = { "dm-write", "dm-slow", "dm-heavy" };
	for (int i = 0; i < NQUEUES; i++) {
		srv->queue[i].srv = srv;
		srv->queue[i].name = names[i];
		pthread_cond_init(&srv->queue[i].cv, NULL);
	}
	srv->queue[Q_SLOW].nice = SLOW_NICE;
	/* no write threads: writes, slow and heavy reads alike run where they arrive */
	if (cfg->write_threads) {
		srv->queue[Q_WRITES].threads = cfg->write_threads;
		srv->queue[Q_SLOW].threads = SLOW_THREADS;
		srv->queue[Q_HEAVY].threads = (unsigned)(ncpu > 0 ? ncpu : 1);
	}
	unsigned threads = cfg->threads ? cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 1) * 2;
	srv->route_us = xcalloc(cfg->nroutes + 1, sizeof *srv->route_us);
	srv->route_cpu = xcalloc(cfg->nroutes + 1, sizeof *srv->route_cpu);
	srv->route_heavy = xcalloc(cfg->nroutes + 1, sizeof *srv->route_heavy);
	srv->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
		on_request, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s ? cfg->timeout_s : 30u,
		/* the pool is zeroed for every request: keep it near the header bound */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(HTTP_HEADER_MAX + 4 * 1024),
		MHD_OPTION_CONNECTION_LIMIT, 4000u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!srv->daemon) {
		server_free(srv);
		return dm_fail(e, DM_EUNAVAILABLE, "listen", "cannot listen on %s:%d (in use?)",
			       cfg->host, cfg->port);
	}
	pthread_create(&srv->reaper, NULL, reaper_main, srv);
	for (int i = 0; i < NQUEUES; i++)
		srv->nworkers += srv->queue[i].threads;
	srv->workers = srv->nworkers ? xcalloc(srv->nworkers, sizeof *srv->workers) : NULL;
	unsigned w = 0;
	for (int i = 0; i < NQUEUES; i++)
		for (unsigned t = 0; t < srv->queue[i].threads; t++) {
			pthread_attr_t at;
			pthread_attr_init(&at);
			if (i == Q_WRITES)   /* they mostly wait: keep them small */
				pthread_attr_setstacksize(&at, 256 * 1024);
			pthread_create(&srv->workers[w++], &at, worker_main, &srv->queue[i]);
			pthread_attr_destroy(&at);
		}
	*out = srv;
	return 0;
}

void http_stop(struct http_server *srv, unsigned grace_ms)
{
	if (!srv)
		return;
	MHD_quiesce_daemon(srv->daemon);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	for (unsigned waited = 0; atomic_load(&srv->active) > 0 && waited < grace_ms; waited += 10)
		nanosleep(&ts, NULL);
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	pthread_cond_signal(&srv->stop_cv);
	pthread_mutex_unlock(&srv->mu);
	pthread_join(srv->reaper, NULL);
	/* the pool finishes the writes it holds (their connections must be resumed before the
	 * daemon stops), then stops */
	pthread_mutex_lock(&srv->mu);
	srv->workers_stop = 1;
	for (int i = 0; i < NQUEUES; i++)
		pthread_cond_broadcast(&srv->queue[i].cv);
	pthread_mutex_unlock(&srv->mu);
	for (unsigned i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
	free(srv->workers);
	MHD_stop_daemon(srv->daemon);
	server_free(srv);
}
