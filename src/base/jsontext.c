/* jsontext.c — compact JSON text, written the way jansson writes it. */
#include "jsontext.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text.h"
#include "banned.h"

#define put buf_put

/* s (n bytes, nothing in it to escape) as a JSON string in one copy when it fits the buffer's
 * room; 0 (nothing written) when it does not. */
static inline int quoted_copy(struct buf *b, const char *s, size_t n)
{
	if (b->cap || b->len + n + 2 >= b->alloc)
		return 0;
	char *d = b->data + b->len;
	d[0] = '"';
	memcpy(d + 1, s, n);
	d[n + 1] = '"';
	d[n + 2] = '\0';
	b->len += n + 2;
	return 1;
}

static int append_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t from = 0, i = 0;
	while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	if (i == n && quoted_copy(b, s, n))   /* nothing to escape */
		return 0;
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

int jsontext_string(struct buf *b, const char *s, size_t n)
{
	return append_string(b, s, n);
}

/* The length of the valid UTF-8 sequence of more than one byte at s (n bytes left), 0 when
 * there is none: what text_utf8_valid accepts (no overlong forms, no surrogates, nothing past
 * U+10FFFF), which is what jansson accepts. */
static inline size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	return len;
}

int jsontext_string_checked(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int esc = 0;
	while (i < n) {
		/* eight plain bytes at a time (most of a list's text: dates, enums, numbers) */
		if (i + 8 <= n && text_word_plain(s + i)) {
			i += 8;
			continue;
		}
		unsigned char c = s[i];
		if (c < 0x80) {
			if (!c)
				return 1;
			esc |= c < 0x20 || c == '"' || c == '\\';
			i++;
			continue;
		}
		size_t len = utf8_seq(s + i, n - i);
		if (!len)
			return 1;
		i += len;
	}
	if (!esc && quoted_copy(b, str, n))
		return 0;
	return append_string(b, str, n) ? -1 : 0;
}

int jsontext_int(struct buf *b, long long n)
{
	char num[32];
	unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
	char *p = num + sizeof num;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10));
	if (n < 0)
		*--p = '-';
	return put(b, p, (size_t)(num + sizeof num - p));
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
	case JSON_INTEGER:   /* as "%" JSON_INTEGER_FORMAT, without snprintf */
		return jsontext_int(b, (long long)json_integer_value(v));
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

/* The JSON columns' commonest texts without jansson's parser (its lexer and buffers for each):
 * an account's installed base (mostly "[]"), its latest contacts ("[12868]"), its orders
 * ([["product","2025-03-01"],...]). quick_value answers NULL (build) or -1 for any other text,
 * and wherever jansson would refuse one (leading zeros, control characters, invalid UTF-8), so
 * that json_loads answers those as before. Without build it only checks (a NULL-free 0/1). */
static json_t *quick_value(const char *t, size_t n, size_t *i, int depth, int build, int *ok)
{
	*ok = 0;
	if (*i >= n)
		return NULL;
	if (t[*i] == '[') {
		if (depth >= 2)
			return NULL;
		json_t *a = build ? json_array() : NULL;
		if (++*i < n && t[*i] == ']') {
			++*i;
			*ok = 1;
			return a;
		}
		for (;;) {
			int vok;
			json_t *v = quick_value(t, n, i, depth + 1, build, &vok);
			if (!vok)
				break;
			if (build)
				json_array_append_new(a, v);
			if (*i < n && t[*i] == ',') {
				++*i;
				continue;
			}
			if (*i < n && t[*i] == ']') {
				++*i;
				*ok = 1;
				return a;
			}
			break;
		}
		json_decref(a);
		return NULL;
	}
	if (t[*i] == '"') {
		size_t from = ++*i;
		for (; *i < n && t[*i] != '"'; ++*i)
			if (t[*i] == '\\' || (unsigned char)t[*i] < 0x20)
				return NULL;
		if (*i >= n)
			return NULL;
		size_t len = (*i)++ - from;
		if (!build) {
			*ok = text_utf8_valid(t + from, len);
			return NULL;
		}
		json_t *s = json_stringn(t + from, len);   /* NULL when not UTF-8 */
		*ok = s != NULL;
		return s;
	}
	json_int_t v = 0;
	size_t from = *i;
	while (*i < n && t[*i] >= '0' && t[*i] <= '9' && *i - from < 15)
		v = v * 10 + (t[(*i)++] - '0');
	if (*i == from || (*i - from > 1 && t[from] == '0'))
		return NULL;
	*ok = 1;
	return build ? json_integer(v) : NULL;   /* what follows must be ',' or ']': the array checks */
}

int jsontext_quick(const char *t, size_t n)
{
	size_t i = 0;
	int ok;
	if (!n || t[0] != '[')
		return 0;
	quick_value(t, n, &i, 0, 0, &ok);
	return ok && i == n;
}

json_t *jsontext_column(const char *t, size_t n)
{
	size_t i = 0;
	int ok = 0;
	json_t *v = NULL;
	if (n && t[0] == '[') {
		v = quick_value(t, n, &i, 0, 1, &ok);
		if (v && i != n) {
			json_decref(v);
			v = NULL;
		}
	}
	if (!v)
		v = json_loads(t, JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}
