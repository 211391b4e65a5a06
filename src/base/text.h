/* text.h — UTF-8 checks and the name key used for "same name" comparisons. */
#ifndef DM_TEXT_H
#define DM_TEXT_H
#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
int text_utf8_valid(const char *s, size_t n);
/* s as a whole decimal integer within [min, max] into *out: 0, or -1 (empty, trailing text,
 * out of range) leaving *out alone. */
int text_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Number of code points in valid UTF-8. */
size_t text_utf8_len(const char *s);
/* The comparison key of a name (malformed UTF-8 bytes become U+FFFD): full-width ASCII folded to ASCII, the ideographic space to a space,
 * ASCII lower-cased, runs of white space collapsed to one space, trimmed. Caller frees. */
char *text_name_key(const char *s);

#endif
