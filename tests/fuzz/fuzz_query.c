/* fuzz_query.c — list query strings: bytes → key=value pairs (split on & and =) → the list
 * parameter parser of every kind (limit, sort, cursor, filters, name, updated_since, archived)
 * for each role. Includes records.c to reach its static parser. */
#include "domain/records.c"

#define HTTP_PARAMS 32
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct kv params[HTTP_PARAMS];
	size_t n = 0;
	for (char *p = text, *amp; p && n < HTTP_PARAMS; p = amp) {
		amp = strchr(p, '&');
		if (amp)
			*amp++ = '\0';
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		params[n].key = p;
		params[n++].value = eq ? eq : "";
	}
	static const struct viewer viewers[] = { { 1, ROLE_ADMIN, 1 }, { 2, ROLE_MANAGER, 1 },
						 { 3, ROLE_REP, 2 }, { 4, ROLE_PARTNER, 0 } };
	for (int i = 0; model_kinds[i]; i++) {
		for (size_t v = 0; v < sizeof viewers / sizeof viewers[0]; v++) {
			struct list_parse lp;
			struct dm_err e;
			memset(&lp, 0, sizeof lp);
			dm_err_clear(&e);
			int rc = parse_list(model_kinds[i], &viewers[v], params, n, &lp, &e);
			if (!rc && (lp.q.limit < 1 || lp.q.limit > LIST_MAX_LIMIT))
				__builtin_trap();   /* an accepted limit is in range */
			list_parse_release(&lp);
		}
	}
	free(text);
	return 0;
}
