/* text.h — UTF-8 checks and the name key used for "same name" comparisons. */
#ifndef DM_TEXT_H
#define DM_TEXT_H
#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
int text_utf8_valid(const char *s, size_t n);
/* Word-at-a-time tests of the eight bytes at s (any alignment), for scanners' fast paths.
 * text_word_ascii: 1 when each is ASCII and none is NUL. text_word_plain: 1 when each is ASCII
 * that a JSON string holds as it is (0x20-0x7F but '"' and '\\'). 0 says only that one of
 * them is not: the caller then looks at its bytes one by one. */
static inline uint64_t text_word_(const unsigned char *s)
{
	uint64_t w;
	__builtin_memcpy(&w, s, 8);
	return w;
}
#define TEXT_ONES_ 0x0101010101010101ULL
#define TEXT_HIGH_ 0x8080808080808080ULL
/* high bit of the bytes of w that are below n (n <= 0x80; exact as a yes/no for the word) */
#define TEXT_LESS_(w, n) (((w) - TEXT_ONES_ * (n)) & ~(w) & TEXT_HIGH_)
static inline int text_word_ascii(const unsigned char *s)
{
	uint64_t w = text_word_(s);
	return !(w & TEXT_HIGH_) && !TEXT_LESS_(w, 1);
}
static inline int text_word_plain(const unsigned char *s)
{
	uint64_t w = text_word_(s), q = w ^ (TEXT_ONES_ * '"'), bs = w ^ (TEXT_ONES_ * '\\');
	return !(w & TEXT_HIGH_) && !TEXT_LESS_(w, 0x20) && !TEXT_LESS_(q, 1) &&
	       !TEXT_LESS_(bs, 1);
}
/* s as a whole decimal integer within [min, max] into *out: 0, or -1 (empty, trailing text,
 * out of range) leaving *out alone. */
int text_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Number of code points in valid UTF-8. */
size_t text_utf8_len(const char *s);
/* The comparison key of a name (malformed UTF-8 bytes become U+FFFD): full-width ASCII folded to ASCII, the ideographic space to a space,
 * ASCII lower-cased, runs of white space collapsed to one space, trimmed. Caller frees. */
char *text_name_key(const char *s);
/* FNV-1a of a NUL-terminated string (statement caches, the session cache). */
uint32_t text_hash(const char *s);

#endif
