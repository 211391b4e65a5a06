/* jsontext.c — compact JSON text, written the way jansson writes it. */
#include "jsontext.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

static int append_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t from = 0;
	if (buf_append(b, "\"", 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = { '\\', 0, 0, 0, 0, 0, 0 };
		size_t len = 2;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			len = 6;
		}
		if (buf_append(b, s + from, i - from) || buf_append(b, esc, len))
			return -1;
		from = i + 1;
	}
	return buf_append(b, s + from, n - from) || buf_append(b, "\"", 1) ? -1 : 0;
}

/* Reals: jansson's own text (its shortest round-trip form). */
static int append_real(struct buf *b, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc = s ? buf_puts(b, s) : -1;
	free(s);
	return rc;
}

int jsontext_append(struct buf *b, const json_t *v)
{
	char num[32];
	const char *key;
	json_t *item;
	size_t i;
	int first = 1;
	switch (json_typeof(v)) {
	case JSON_NULL: return buf_append(b, "null", 4);
	case JSON_TRUE: return buf_append(b, "true", 4);
	case JSON_FALSE: return buf_append(b, "false", 5);
	case JSON_STRING: return append_string(b, json_string_value(v), json_string_length(v));
	case JSON_REAL: return append_real(b, v);
	case JSON_INTEGER: {   /* as "%" JSON_INTEGER_FORMAT, without snprintf */
		json_int_t n = json_integer_value(v);
		unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
		char *p = num + sizeof num;
		do
			*--p = (char)('0' + u % 10);
		while ((u /= 10));
		if (n < 0)
			*--p = '-';
		return buf_append(b, p, (size_t)(num + sizeof num - p));
	}
	case JSON_ARRAY:
		if (buf_append(b, "[", 1))
			return -1;
		json_array_foreach((json_t *)v, i, item) {
			if ((i && buf_append(b, ",", 1)) || jsontext_append(b, item))
				return -1;
		}
		return buf_append(b, "]", 1);
	case JSON_OBJECT:
		if (buf_append(b, "{", 1))
			return -1;
		json_object_foreach((json_t *)v, key, item) {
			if ((!first && buf_append(b, ",", 1)) || append_string(b, key, strlen(key)) ||
			    buf_append(b, ":", 1) || jsontext_append(b, item))
				return -1;
			first = 0;
		}
		return buf_append(b, "}", 1);
	}
	return -1;
}
