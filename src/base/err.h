/* err.h — the one error vocabulary of dealmap: every layer returns 0 or a negative dm_code,
 * and puts the detail (field, message) in a struct dm_err the caller passed in. */
#ifndef DM_ERR_H
#define DM_ERR_H
#include <stdint.h>

enum dm_code {
	DM_OK = 0,
	DM_EJSON = -1,          /* body is not a JSON object / bad UTF-8 */
	DM_EINVAL = -2,         /* a field has a bad value */
	DM_EREQUIRED = -3,      /* a required field is missing */
	DM_EUNKNOWN = -4,       /* an unknown field */
	DM_EREADONLY = -5,      /* a read-only field was set */
	DM_EPARAM = -6,         /* a bad query parameter */
	DM_EAUTH = -7,          /* not signed in */
	DM_ECREDS = -8,         /* wrong username or password */
	DM_ECSRF = -9,          /* CSRF token missing or wrong */
	DM_EFORBIDDEN = -10,    /* role may not use this at all */
	DM_ENOTFOUND = -11,     /* no such record, or not visible */
	DM_EDUPLICATE = -12,    /* unique name taken */
	DM_ECONFLICT = -13,     /* other state conflict */
	DM_ESTALE = -14,        /* If-Match version mismatch */
	DM_ETOOLARGE = -15,     /* body too large */
	DM_ERATE = -16,         /* rate limited */
	DM_EUNAVAILABLE = -17,  /* store unavailable */
	DM_EINTERNAL = -18,     /* a bug or an I/O failure */
	DM_ESCHEMA = -19,       /* database schema newer than this binary */
};

struct dm_err {
	enum dm_code code;
	char field[64];
	char message[300];
	int64_t existing_id;    /* DM_EDUPLICATE: the other record's id when visible, else 0 */
	int retry_after;        /* DM_ERATE: seconds */
	const char *code_name;  /* a more precise code than dm_code_name's (static), or NULL */
	char detail[160];       /* JSON object text merged into the error response, or "" */
};

/* Record an error and return its code, so callers can write `return dm_fail(...)`.
 * field may be NULL. e may be NULL (the detail is then dropped). */
int dm_fail(struct dm_err *e, enum dm_code code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The stable machine-readable name of a code ("not_found", ...). */
const char *dm_code_name(enum dm_code code);
void dm_err_clear(struct dm_err *e);

#endif
