/* text.c — UTF-8 validation and name normalisation (case- and width-insensitive keys). */
#include "text.h"
#include "buf.h"
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "banned.h"

/* Decode one code point at s; returns its length. A malformed sequence decodes as U+FFFD and
 * consumes one byte, so no read passes a NUL. */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
	size_t need = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 :
		      (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			need = 0;
	if (!need) {
		*cp = 0xFFFD;
		return 1;
	}
	if (s[0] < 0x80) { *cp = s[0]; return 1; }
	if ((s[0] & 0xE0) == 0xC0) { *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
	if ((s[0] & 0xF0) == 0xE0) {
		*cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		return 3;
	}
	*cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
	return 4;
}

int text_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		if (i + 8 <= n && text_word_ascii(s + i)) {   /* eight ASCII bytes, none a NUL */
			i += 8;
			continue;
		}
		unsigned char c = s[i];
		size_t len;
		uint32_t min;
		if (c == 0)
			return 0;
		if (c < 0x80) { i++; continue; }
		if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; }
		else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; }
		else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; }
		else return 0;
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
		uint32_t cp;
		decode(s + i, &cp);
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

size_t text_utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if ((*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void put_cp(struct buf *b, uint32_t cp)
{
	unsigned char o[4];
	size_t n;
	if (cp < 0x80) { o[0] = (unsigned char)cp; n = 1; }
	else if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); n = 2; }
	else if (cp < 0x10000) {
		o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F); n = 3;
	} else {
		o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F);
		o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F); n = 4;
	}
	buf_append(b, o, n);
}

static int is_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
	       cp == 0x3000 || cp == 0xA0;
}

char *text_name_key(const char *str)
{
	struct buf b = BUF_INIT(0);
	const unsigned char *s = (const unsigned char *)str;
	int pending_space = 0;
	buf_append(&b, "", 0);
	while (*s) {
		uint32_t cp;
		s += decode(s, &cp);
		if (cp >= 0xFF01 && cp <= 0xFF5E)
			cp -= 0xFEE0;   /* full-width ASCII → ASCII */
		if (is_space(cp)) {
			pending_space = b.len > 0;
			continue;
		}
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		if (pending_space)
			buf_append(&b, " ", 1);
		pending_space = 0;
		put_cp(&b, cp);
	}
	return buf_detach(&b, NULL);
}

int text_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	if (!*s || (!isdigit((unsigned char)*s) && *s != '-'))
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint32_t text_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
