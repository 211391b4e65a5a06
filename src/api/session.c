/* session.c — sign in, sign out, and who am I. */
#include "api.h"
#include "../domain/auth.h"
#include "../base/log.h"
#include <stdio.h>
#include <string.h>
#include "../base/banned.h"

/* Secure cookies when the request came over TLS through a proxy that says so. */
static const char *secure_attr(struct http_req *rq)
{
	const char *proto = http_header(rq, "X-Forwarded-Proto");
	return proto && !strcasecmp(proto, "https") ? "; Secure" : "";
}

static void set_cookies(struct http_req *rq, struct http_resp *rs, const char *token,
			const char *csrf, int clear)
{
	char c[256];
	const char *age = clear ? "; Max-Age=0" : "";
	snprintf(c, sizeof c, "dm_session=%s; Path=/; HttpOnly; SameSite=Lax%s%s", token, age,
		 secure_attr(rq));
	http_add_header(rs, "Set-Cookie", c);
	snprintf(c, sizeof c, "dm_csrf=%s; Path=/; SameSite=Lax%s%s", csrf, age, secure_attr(rq));
	http_add_header(rs, "Set-Cookie", c);
}

static int login_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body;
	struct auth_login out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		/* the error copies key, so it is made before the body is freed */
		if (strcmp(key, "username") && strcmp(key, "password"))
			rc = dm_fail(&rq->err, DM_EUNKNOWN, key, "unknown field %.60s", key);
		else if (!json_is_string(v))
			rc = dm_fail(&rq->err, DM_EINVAL, key, "%s must be a string", key);
		if (rc) {
			json_decref(body);
			return rc;
		}
	}
	const char *u = json_string_value(json_object_get(body, "username"));
	const char *p = json_string_value(json_object_get(body, "password"));
	if (!u || !p) {
		json_decref(body);
		return dm_fail(&rq->err, DM_EREQUIRED, u ? "password" : "username",
			       "username and password are required");
	}
	rc = auth_login(api_store(rq), u, p, rq->addr, &out, &rq->err);
	json_decref(body);
	if (rc)
		return rc;
	/* The session is replaced at sign-in: one the browser still presented ends now (a token
	 * planted before sign-in never becomes a signed-in session). */
	const char *before = http_cookie(rq, "dm_session");
	if (before && auth_logout(api_store(rq), before, &rq->err))
		log_error("sign-in: the previous session could not be ended: %s", rq->err.message);
	dm_err_clear(&rq->err);
	set_cookies(rq, rs, out.token, out.csrf, 0);
	http_set_json(rs, 200, json_pack("{s:s,s:s,s:o}", "token", out.token, "csrf_token", out.csrf,
					 "user", out.user));
	return 0;
}

static int logout_h(struct http_req *rq, struct http_resp *rs)
{
	struct api_auth *a = rq->auth;
	int rc = auth_logout(api_store(rq), a->token, &rq->err);
	if (rc)
		return rc;
	set_cookies(rq, rs, "", "", 1);
	http_set_json(rs, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

static int me_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int rc = rec_get(api_store(rq), &kind_user, api_viewer(rq), api_viewer(rq)->user_id, &rec,
			 &rq->err);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

size_t api_session_routes(struct route *out, size_t max)
{
	static const struct route group[] = {
		{ "POST", "/api/v1/auth/login", login_h, ROUTE_PUBLIC, NULL,
		  "Sign in: returns a bearer token and sets the dm_session and dm_csrf cookies", "auth",
		  "Login", "Session", 0, NULL },
		{ "POST", "/api/v1/auth/logout", logout_h, 0, NULL,
		  "Sign out: ends the session on the server and clears the cookies", "auth", NULL, "Ok",
		  0, NULL },
		{ "GET", "/api/v1/me", me_h, 0, NULL, "The signed-in user", "auth", NULL, "User", 0,
		  NULL },
	};
	size_t n = 0;
	for (; n < sizeof group / sizeof group[0] && n < max; n++)
		out[n] = group[n];
	return n;
}
