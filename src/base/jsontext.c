/* jsontext.c — compact JSON text, written the way jansson writes it. */
#include "jsontext.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

/* buf_append for the small pieces: a copy when they fit (the answer's buffer grows by doubling,
 * so they nearly always do), buf_append otherwise. */
static inline int put(struct buf *b, const char *p, size_t n)
{
	if (!b->cap && b->len + n < b->alloc) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, p, n);
}

static int append_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t from = 0, i = 0;
	while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	if (i == n && !b->cap && b->len + n + 2 < b->alloc) {   /* nothing to escape: one copy */
		char *d = b->data + b->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		d[n + 2] = '\0';
		b->len += n + 2;
		return 0;
	}
	if (put(b, "\"", 1))
		return -1;
	for (; i < n; i++) {
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
		if (put(b, s + from, i - from) || put(b, esc, len))
			return -1;
		from = i + 1;
	}
	return put(b, s + from, n - from) || put(b, "\"", 1) ? -1 : 0;
}

/* Reals as jansson 2.14 writes them (dump.c, jsonp_dtostr at its default precision): "%.17g",
 * ".0" appended when that has neither a point nor an exponent, and the exponent's '+' and
 * leading zeros dropped; non-finite values are not JSON (jansson refuses them too). */
static int real_text(double d, char t[40])
{
	int n = snprintf(t, 40, "%.17g", d);
	if (n < 0 || n >= 40 - 3)
		return -1;
	char *ex = memchr(t, 'e', (size_t)n);
	if (!ex && !memchr(t, '.', (size_t)n)) {
		t[n++] = '.';
		t[n++] = '0';
		t[n] = '\0';
	} else if (ex) {
		char *from = ex + 1, *to = ex + 1;
		if (*from == '-')
			from++, to++;
		else if (*from == '+')
			from++;
		while (*from == '0' && from[1])
			from++;
		memmove(to, from, (size_t)(t + n - from) + 1);
		n -= (int)(from - to);
	}
	return n;
}

/* printf's "%.17g" is exact, and slow: ≈ 0.6 µs a real, 13 reals a funnel (a fifth of its CPU
 * once the answer was text). Each thread keeps the text of the reals it wrote last, by their
 * bits: a report asked again (a dashboard, the same team's funnel) writes the same figures. */
#define REAL_MEMO 64
static __thread struct {
	uint64_t bits;
	unsigned char len;   /* 0: empty */
	char t[27];
} real_memo[REAL_MEMO];

int jsontext_real(struct buf *b, double d)
{
	uint64_t bits;
	if (!isfinite(d))
		return -1;
	memcpy(&bits, &d, sizeof bits);
	unsigned slot = (unsigned)((bits * 0x9E3779B97F4A7C15ULL) >> 58) % REAL_MEMO;
	if (real_memo[slot].len && real_memo[slot].bits == bits)
		return put(b, real_memo[slot].t, real_memo[slot].len);
	char t[40];
	int n = real_text(d, t);
	if (n < 0)
		return -1;
	if (n < (int)sizeof real_memo[0].t) {
		real_memo[slot].bits = bits;
		real_memo[slot].len = (unsigned char)n;
		memcpy(real_memo[slot].t, t, (size_t)n);
	}
	return put(b, t, (size_t)n);
}

int jsontext_int(struct buf *b, int64_t v)
{
	char num[24];
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char *p = num + sizeof num;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10));
	if (v < 0)
		*--p = '-';
	return put(b, p, (size_t)(num + sizeof num - p));
}

int jsontext_string(struct buf *b, const char *s)
{
	return append_string(b, s, strlen(s));
}

int jsontext_raw(struct buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

int jsontext_append(struct buf *b, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	int first = 1;
	switch (json_typeof(v)) {
	case JSON_NULL: return put(b, "null", 4);
	case JSON_TRUE: return put(b, "true", 4);
	case JSON_FALSE: return put(b, "false", 5);
	case JSON_STRING: return append_string(b, json_string_value(v), json_string_length(v));
	case JSON_REAL: return jsontext_real(b, json_real_value(v));
	case JSON_INTEGER: return jsontext_int(b, json_integer_value(v));   /* "%" JSON_INTEGER_FORMAT */
	case JSON_ARRAY:
		if (put(b, "[", 1))
			return -1;
		json_array_foreach((json_t *)v, i, item) {
			if ((i && put(b, ",", 1)) || jsontext_append(b, item))
				return -1;
		}
		return put(b, "]", 1);
	case JSON_OBJECT:
		if (put(b, "{", 1))
			return -1;
		json_object_foreach((json_t *)v, key, item) {
			if ((!first && put(b, ",", 1)) || append_string(b, key, strlen(key)) ||
			    put(b, ":", 1) || jsontext_append(b, item))
				return -1;
			first = 0;
		}
		return put(b, "}", 1);
	}
	return -1;
}
