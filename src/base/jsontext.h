/* jsontext.h — JSON values to compact text, for the hot paths that write many records' text
 * (an import's audit rows). */
#ifndef DM_JSONTEXT_H
#define DM_JSONTEXT_H
#include <jansson.h>
#include "buf.h"

/* Append v as compact JSON text to b: byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (keys in the object's order, UTF-8 kept, '"' '\\' and control
 * characters escaped), at a fraction of its cost: jansson's loop check formats the address of
 * every object and array with snprintf and hashes it. Returns 0, or -1 when b's cap would be
 * exceeded or v is not JSON jansson would write (b then holds a partial text). */
int jsontext_append(struct buf *b, const json_t *v);

#endif
