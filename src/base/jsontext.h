/* jsontext.h — JSON values to compact text, for the hot paths that write many records' text
 * (an import's audit rows). */
#ifndef DM_JSONTEXT_H
#define DM_JSONTEXT_H
#include <jansson.h>
#include <stdint.h>
#include "buf.h"

/* Append v as compact JSON text to b: byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (keys in the object's order, UTF-8 kept, '"' '\\' and control
 * characters escaped), at a fraction of its cost: jansson's loop check formats the address of
 * every object and array with snprintf and hashes it. Returns 0, or -1 when b's cap would be
 * exceeded or v is not JSON jansson would write (b then holds a partial text). */
int jsontext_append(struct buf *b, const json_t *v);
/* Append the string s (n bytes, valid UTF-8) as jsontext_append writes a JSON string. */
int jsontext_string(struct buf *b, const char *s, size_t n);
/* jsontext_string of s (n bytes) when it is valid UTF-8 without a NUL (text_utf8_valid), in
 * one pass over it; 1 (nothing appended) when it is not. */
int jsontext_string_checked(struct buf *b, const char *s, size_t n);
/* Append n as jsontext_append writes an integer. */
int jsontext_int(struct buf *b, long long n);

/* The value of a stored JSON column's text t (n bytes, NUL-terminated), as the stores read it:
 * the commonest texts (see jsontext_quick) without jansson's parser, anything else through
 * json_loads; json null when neither accepts it. New reference. */
json_t *jsontext_column(const char *t, size_t n);
/* 1 when t (n bytes) is one of those commonest texts, which jsontext_column builds without
 * jansson: an array, nested at most twice, of non-negative integers of up to 15 digits
 * without leading zeros and of strings of valid UTF-8 without escapes or control characters,
 * written compactly. Such a text is its value's compact JSON text byte for byte (what
 * jsontext_append writes of jsontext_column(t, n)), so a writer may copy it as it is. */
int jsontext_quick(const char *t, size_t n);

/* The pieces, for answers written as text without a tree (analytics' funnel), each as
 * jsontext_append would write the value: a real (json_real(d)'s text; -1 for a non-finite d,
 * which JSON cannot hold) and text that is JSON already (punctuation, keys known to need no
 * escaping); integers and strings by jsontext_int and jsontext_string above. 0 or -1 as above. */
int jsontext_real(struct buf *b, double d);
int jsontext_raw(struct buf *b, const char *s);

#endif
