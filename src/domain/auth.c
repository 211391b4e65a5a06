/* auth.c — passwords, sign-in throttling and sessions. */
#include "auth.h"
#include "records.h"
#include "../base/log.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <crack.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../base/banned.h"

#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u * 1024 * 1024)

static void random_hex(char out[AUTH_TOKEN_HEX + 1]);
static sem_t hash_slots;
static char dummy_hash[128];   /* verified against for unknown usernames: same cost, no tell */
static pthread_mutex_t crack_mu = PTHREAD_MUTEX_INITIALIZER;   /* cracklib is not thread-safe */

int auth_init(struct dm_err *e)
{
	static int done;
	if (done)
		return 0;
	if (sodium_init() < 0)
		return dm_fail(e, DM_EINTERNAL, NULL, "libsodium failed to initialise");
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	sem_init(&hash_slots, 0, n > 0 ? (unsigned)n : 1);
	char pw[AUTH_TOKEN_HEX + 1];
	random_hex(pw);
	if (auth_password_hash(pw, dummy_hash, e))
		return e->code;
	done = 1;
	return 0;
}

int auth_password_check(const char *password, const char *username, const char *display_name,
			struct dm_err *e)
{
	size_t n = text_utf8_len(password);
	if (n < 8)
		return dm_fail(e, DM_EINVAL, "password", "password must be at least 8 characters");
	if (strlen(password) > 256)
		return dm_fail(e, DM_EINVAL, "password", "password must be at most 256 bytes");
	pthread_mutex_lock(&crack_mu);
	const char *why = FascistCheckUser(password, GetDefaultCracklibDict(),
					   username ? username : "", display_name);
	char reason[160];
	snprintf(reason, sizeof reason, "%s", why ? why : "");
	pthread_mutex_unlock(&crack_mu);
	if (why)
		return dm_fail(e, DM_EINVAL, "password", "password refused: %s", reason);
	return 0;
}

int auth_password_hash(const char *password, char out[128], struct dm_err *e)
{
	char h[crypto_pwhash_STRBYTES];
	sem_wait(&hash_slots);
	int rc = crypto_pwhash_str_alg(h, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT,
				       crypto_pwhash_ALG_ARGON2ID13);
	sem_post(&hash_slots);
	if (rc)
		return dm_fail(e, DM_EINTERNAL, NULL, "password hashing failed (out of memory?)");
	snprintf(out, 128, "%s", h);
	return 0;
}

int auth_password_verify(const char *hash, const char *password)
{
	if (!hash || !*hash)
		return 0;
	sem_wait(&hash_slots);
	int ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	sem_post(&hash_slots);
	return ok;
}

int auth_secret_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/* ---- sign-in throttling: failures per key in a fixed window, counted in the store so that
 * every server on a shared database counts them together ---------------------------------------- */

/* Seconds until key may try again, or 0. A store error counts as no wait: the sign-in goes on to
 * the password check, which answers for itself. */
static int throttle_wait(struct store *s, const char *key, int limit, int64_t now)
{
	int64_t fails = 0, since = 0;
	struct dm_err e;
	if (store_throttle_get(s, key, &fails, &since, &e) || fails < limit ||
	    since + AUTH_WINDOW_MS <= now)
		return 0;
	return (int)((since + AUTH_WINDOW_MS - now + 999) / 1000);
}

struct throttle_tx {
	const char *keys[2];
	int64_t now;
	struct dm_err *e;
};

static int throttle_fail_tx(struct store *s, void *arg)
{
	struct throttle_tx *t = arg;
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++)
		rc = store_throttle_fail(s, t->keys[i], t->now, AUTH_WINDOW_MS, t->e);
	return rc;
}

/* Count a failure of both keys. */
static void throttle_fail(struct store *s, const char *ukey, const char *akey, int64_t now)
{
	struct dm_err e;
	struct throttle_tx t = { { ukey, akey }, now, &e };
	if (store_write(s, throttle_fail_tx, &t, &e))
		log_warn("sign-in failures not counted: %s", e.message);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static void random_hex(char out[AUTH_TOKEN_HEX + 1])
{
	unsigned char raw[AUTH_TOKEN_HEX / 2];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, AUTH_TOKEN_HEX + 1, raw, sizeof raw);
}

static void token_hash(const char *token, char out[AUTH_TOKEN_HEX + 1])
{
	unsigned char h[AUTH_TOKEN_HEX / 2];
	crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, AUTH_TOKEN_HEX + 1, h, sizeof h);
}

struct put_session {
	const char *hash, *csrf, *ukey;
	int64_t user_id, now;
	struct dm_err *e;
};

static int put_session_tx(struct store *s, void *arg)
{
	struct put_session *p = arg;
	/* Drop expired sessions as we go, so the table stays small without a sweeper. */
	int rc = store_session_expire(s, p->now - AUTH_IDLE_MS, p->now - AUTH_ABSOLUTE_MS, p->e);
	if (!rc)
		rc = store_throttle_clear(s, p->ukey, p->e);
	return rc ? rc : store_session_put(s, p->hash, p->user_id, p->csrf, p->now, p->e);
}

int auth_login(struct store *s, const char *username, const char *password, const char *addr,
	       struct auth_login *out, struct dm_err *e)
{
	char ukey[80], akey[80], hash[AUTH_TOKEN_HEX + 1];
	struct store_cred cred;
	int64_t now = time_now_ms();
	memset(out, 0, sizeof *out);
	char *lower = text_name_key(username);
	snprintf(ukey, sizeof ukey, "u:%.70s", lower);
	free(lower);
	snprintf(akey, sizeof akey, "a:%.70s", addr ? addr : "");
	int wait = throttle_wait(s, ukey, AUTH_USER_FAILS, now);
	int wait_a = throttle_wait(s, akey, AUTH_ADDR_FAILS, now);
	if (wait_a > wait)
		wait = wait_a;
	if (wait) {
		dm_fail(e, DM_ERATE, NULL, "too many failed sign-ins; try again in %d seconds", wait);
		e->retry_after = wait;
		return DM_ERATE;
	}
	int rc = store_cred_get(s, username, &cred, e);
	if (rc && rc != DM_ENOTFOUND)
		return rc;
	/* Verify even for unknown users, so timing does not tell which usernames exist. */
	int ok = auth_password_verify(rc ? dummy_hash : cred.password_hash, password);
	if (rc || !ok || !cred.active || cred.archived) {
		throttle_fail(s, ukey, akey, now);
		return dm_fail(e, DM_ECREDS, NULL, "wrong username or password");
	}
	random_hex(out->token);
	random_hex(out->csrf);
	token_hash(out->token, hash);
	struct put_session p = { hash, out->csrf, ukey, cred.user_id, now, e };
	if ((rc = store_write(s, put_session_tx, &p, e)))
		return rc;
	return store_get(s, &kind_user, NULL, cred.user_id, 0, &out->user, e);
}

struct hash_only {
	const char *hash;
	int64_t now;
	struct dm_err *e;
};

static int seen_tx(struct store *s, void *arg)
{
	struct hash_only *h = arg;
	return store_session_seen(s, h->hash, h->now, h->e);
}

static int delete_tx(struct store *s, void *arg)
{
	struct hash_only *h = arg;
	return store_session_delete(s, h->hash, h->e);
}

int auth_session(struct store *s, const char *token, struct auth_session *out, struct dm_err *e)
{
	char hash[AUTH_TOKEN_HEX + 1];
	struct store_session ss;
	int64_t now = time_now_ms();
	memset(out, 0, sizeof *out);
	if (!token || strlen(token) != AUTH_TOKEN_HEX)
		return dm_fail(e, DM_EAUTH, NULL, "sign in first");
	token_hash(token, hash);
	int rc = store_session_get(s, hash, &ss, e);
	if (rc == DM_ENOTFOUND)
		return dm_fail(e, DM_EAUTH, NULL, "your session has ended; sign in again");
	if (rc)
		return rc;
	struct hash_only h = { hash, now, e };
	if (!ss.active || ss.seen_ms + AUTH_IDLE_MS < now || ss.created_ms + AUTH_ABSOLUTE_MS < now) {
		store_write(s, delete_tx, &h, e);
		return dm_fail(e, DM_EAUTH, NULL, "your session has ended; sign in again");
	}
	/* Record activity at most once a minute: a write per request would cost an fsync each. When
	 * the storage refuses writes (disk full, read-only) the session still serves reads. */
	if (now - ss.seen_ms > 60 * 1000 && (rc = store_write(s, seen_tx, &h, e))) {
		if (rc != DM_EUNAVAILABLE)
			return rc;
		log_error("session activity not recorded: %s", e->message);
		dm_err_clear(e);
	}
	out->viewer = ss.viewer;
	snprintf(out->csrf, sizeof out->csrf, "%s", ss.csrf);
	return 0;
}

int auth_logout(struct store *s, const char *token, struct dm_err *e)
{
	char hash[AUTH_TOKEN_HEX + 1];
	if (!token)
		return 0;
	token_hash(token, hash);
	struct hash_only h = { hash, 0, e };
	return store_write(s, delete_tx, &h, e);
}

int auth_end_user_sessions(struct store *s, int64_t user_id, struct dm_err *e)
{
	return store_session_delete_user(s, user_id, e);
}
