/* auth.h — who is asking: passwords (argon2id), the password policy, sign-in with throttling,
 * and sessions (random tokens stored only as hashes, idle and absolute timeouts). */
#ifndef DM_AUTH_H
#define DM_AUTH_H
#include <jansson.h>
#include "../base/err.h"
#include "../model/model.h"
#include "../store/store.h"

#define AUTH_TOKEN_HEX 64   /* 256-bit tokens, hex */
#define AUTH_IDLE_MS (30LL * 60 * 1000)
#define AUTH_ABSOLUTE_MS (12LL * 3600 * 1000)
#define AUTH_USER_FAILS 5      /* failed sign-ins per username per window */
#define AUTH_ADDR_FAILS 20     /* failed sign-ins per client address per window */
#define AUTH_WINDOW_MS (15LL * 60 * 1000)

/* Once per process, before threads start: libsodium and the hashing pool. */
int auth_init(struct dm_err *e);

/* The password policy: length 8..256 and not a common or guessable password (cracklib, which
 * also refuses passwords built from the username or display name). */
int auth_password_check(const char *password, const char *username, const char *display_name,
			struct dm_err *e);
/* argon2id (PHC string) with at least 19 MiB and 2 passes; at most one hash per core at once. */
int auth_password_hash(const char *password, char out[128], struct dm_err *e);
int auth_password_verify(const char *hash, const char *password);

struct auth_login {
	char token[AUTH_TOKEN_HEX + 1];
	char csrf[AUTH_TOKEN_HEX + 1];
	json_t *user;      /* the signed-in user's record; caller decrefs */
};

/* Sign in. DM_ECREDS for a wrong username or password or an inactive user (indistinguishable);
 * DM_ERATE when the username or address has failed too often (e->retry_after set). */
int auth_login(struct store *s, const char *username, const char *password, const char *addr,
	       struct auth_login *out, struct dm_err *e);

struct auth_session {
	struct viewer viewer;
	char csrf[AUTH_TOKEN_HEX + 1];
};

/* Resolve a token to its session; DM_EAUTH when unknown, expired or the user is inactive. */
int auth_session(struct store *s, const char *token, struct auth_session *out, struct dm_err *e);
int auth_logout(struct store *s, const char *token, struct dm_err *e);
/* End every session of a user (deactivation, password change). Inside store_write. */
int auth_end_user_sessions(struct store *s, int64_t user_id, struct dm_err *e);

/* Constant-time comparison of two NUL-terminated secrets. */
int auth_secret_equal(const char *a, const char *b);

#endif
