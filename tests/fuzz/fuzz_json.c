/* fuzz_json.c — request bodies: bytes → the JSON decoding the API does (jansson, duplicate keys
 * refused) → model_check of every kind, for create and for patch. */
#include "model/model.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	for (int i = 0; model_kinds[i]; i++) {
		for (int mode = 0; mode < 2; mode++) {
			struct dm_err e;
			json_t *out = NULL;
			dm_err_clear(&e);
			if (model_check(model_kinds[i], body, mode ? CHECK_PATCH : CHECK_CREATE, &out, &e) == 0 &&
			    !json_is_object(out))
				__builtin_trap();   /* success must yield an object */
			json_decref(out);
		}
	}
	json_decref(body);
	return 0;
}
