/* fuzz_text.c — the text and time helpers every input passes through: UTF-8 validation, name
 * keys (any bytes, valid or not), RFC 3339 and date parsing with a format round trip. */
#include "base/text.h"
#include "base/timeutil.h"
#include "base/xmalloc.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	size_t len = strlen(s);
	int valid = text_utf8_valid(s, len);
	char *key = text_name_key(s);
	if (valid && !text_utf8_valid(key, strlen(key)))
		__builtin_trap();   /* the key of valid text is valid text */
	free(key);
	int64_t ms, again;
	if (time_parse(s, &ms) == 0) {
		char t[TIME_STR_LEN];
		time_format(ms, t);
		if (time_parse(t, &again) != 0 || again != ms)
			__builtin_trap();   /* formatting round-trips */
	}
	(void)date_valid(s);
	free(s);
	return 0;
}
