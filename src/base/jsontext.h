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

/* The pieces, for answers written as text without a tree (analytics' funnel), each as
 * jsontext_append would write the value: a real (json_real(d)'s text; -1 for a non-finite d,
 * which JSON cannot hold), an integer, a string (valid UTF-8, NUL-terminated), and text that
 * is JSON already (punctuation, keys known to need no escaping). 0 or -1 as above. */
int jsontext_real(struct buf *b, double d);
int jsontext_int(struct buf *b, int64_t v);
int jsontext_string(struct buf *b, const char *s);
int jsontext_raw(struct buf *b, const char *s);

#endif
