/* err.c — error codes and their names. */
#include "err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "banned.h"

int dm_fail(struct dm_err *e, enum dm_code code, const char *field, const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	e->code_name = NULL;
	e->detail[0] = '\0';
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return code;
}

void dm_err_clear(struct dm_err *e)
{
	memset(e, 0, sizeof *e);
}

const char *dm_code_name(enum dm_code code)
{
	switch (code) {
	case DM_OK: return "ok";
	case DM_EJSON: return "invalid_json";
	case DM_EINVAL: return "invalid_field";
	case DM_EREQUIRED: return "required";
	case DM_EUNKNOWN: return "unknown_field";
	case DM_EREADONLY: return "read_only";
	case DM_EPARAM: return "invalid_param";
	case DM_EAUTH: return "unauthorized";
	case DM_ECREDS: return "invalid_credentials";
	case DM_ECSRF: return "csrf";
	case DM_EFORBIDDEN: return "forbidden";
	case DM_ENOTFOUND: return "not_found";
	case DM_EDUPLICATE: return "duplicate";
	case DM_ECONFLICT: return "conflict";
	case DM_ESTALE: return "version_mismatch";
	case DM_ETOOLARGE: return "payload_too_large";
	case DM_ERATE: return "rate_limited";
	case DM_EUNAVAILABLE: return "unavailable";
	case DM_EINTERNAL: return "internal";
	case DM_ESCHEMA: return "schema_too_new";
	}
	return "internal";
}
