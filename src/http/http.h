/* http.h — libmicrohttpd wrapped: a table of routes, request limits, JSON responses, and the
 * mapping from dm_code to HTTP status. Knows nothing of accounts or SQL. */
#ifndef DM_HTTP_H
#define DM_HTTP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

#define HTTP_BODY_MAX (10u * 1024 * 1024)   /* 413 above */
#define HTTP_HEADER_MAX (32u * 1024)        /* 431 above */
#define HTTP_MAX_PARAMS 32
#define HTTP_MAX_PATH_IDS 4
#define HTTP_MAX_HEADERS_OUT 8

struct http_param {
	const char *key;
	const char *value;
};

struct http_req {
	const char *method;
	const char *path;
	struct http_param params[HTTP_MAX_PARAMS];   /* decoded query string, in order */
	size_t nparams;
	int too_many_params;
	int64_t ids[HTTP_MAX_PATH_IDS];              /* the {id} segments of the matched route */
	char key[64];                                /* the {key} segment ([a-z0-9_-]), if any */
	const char *body;                            /* NUL-terminated; may hold NULs before len */
	size_t body_len;
	char addr[64];                               /* client address */
	const void *route_data;                      /* the matched route's data */
	void *app;                                   /* the application handle given at start */
	void *auth;                                  /* set by the authenticate hook; the server
							free()s it when the request ends */
	struct dm_err err;                           /* detail of a failed handler */
	void *conn;                                  /* private */
};

struct http_resp {
	int status;
	json_t *json;                 /* owned; rendered when body is NULL */
	char *body;                   /* owned raw body */
	const void *static_body;      /* or a body that outlives the response (not freed) */
	size_t body_len;
	const char *content_type;     /* for body */
	int has_fd;                   /* or send fd_len bytes of the open file fd (owned: closed) */
	int fd;
	uint64_t fd_len;
	struct {
		char *name, *value;
	} headers[HTTP_MAX_HEADERS_OUT];
	int nheaders;
};

/* A handler answers 0 with rs filled in, or a dm_code with rq->err set (the error response is
 * then written for it). */
typedef int (*http_handler)(struct http_req *rq, struct http_resp *rs);

enum route_flag {
	ROUTE_PUBLIC = 1 << 0,   /* no authentication */
	ROUTE_LIST = 1 << 1,     /* documentation: answers a paged list */
	ROUTE_SLOW = 1 << 2,     /* may run long (an export, a backup): handled by the slow
				  * reads' threads, off libmicrohttpd's (http.c) */
};

struct route {
	const char *method;      /* "GET", "POST", "PATCH", "DELETE" */
	const char *pattern;     /* "/api/v1/accounts/{id}/restore" */
	http_handler handler;
	unsigned flags;
	const void *data;        /* passed as rq->route_data */
	/* Documentation only (the server does not read these): */
	const char *summary;
	const char *tag;
	const char *req_schema;             /* request body schema name, or NULL */
	const char *resp_schema;            /* response schema name (items of a list), or NULL */
	int created;                        /* answers 201 */
	const char *const *query;           /* extra query parameters "name:description" */
};

struct http_config {
	const char *host;
	int port;
	unsigned threads;                          /* libmicrohttpd's; 0 = two per core */
	unsigned write_threads;                    /* the write pool (http.c); 0 = writes run on
						    * libmicrohttpd's threads */
	unsigned timeout_s;                        /* idle connection timeout */
	const struct route *routes;
	size_t nroutes;
	void *app;
	/* Called before a non-public handler: set rq->auth or return a dm_code (rq->err set). */
	int (*authenticate)(struct http_req *rq);
	/* Called after the handler of every routed request (whether it succeeded or not), before
	 * the response is sent; NULL for none. */
	void (*done)(struct http_req *rq);
	/* Answers GET/HEAD requests that match no route outside /api/ (the web app), or NULL. */
	http_handler fallback;
};

struct http_server;

int http_start(const struct http_config *cfg, struct http_server **out, struct dm_err *e);
/* Stop accepting, let in-flight requests finish (up to grace_ms), then stop. */
void http_stop(struct http_server *srv, unsigned grace_ms);

/* Request helpers. */
const char *http_header(struct http_req *rq, const char *name);
const char *http_cookie(struct http_req *rq, const char *name);
/* Parse the body as a JSON object; on failure fill rq->err (400 invalid_json) and return it. */
int http_json_body(struct http_req *rq, json_t **out);

/* Response helpers: each takes ownership of what it is given. */
void http_set_json(struct http_resp *rs, int status, json_t *json);
/* A JSON answer written as text already (takes text, len bytes, malloc'd): sent as
 * http_set_json sends its value's text, with the same Content-Type. */
void http_set_json_text(struct http_resp *rs, int status, char *text, size_t len);
void http_add_header(struct http_resp *rs, const char *name, const char *value);
int http_status_of(enum dm_code code);

#endif
