/* csv.h — reading CSV for import (SPEC §9): UTF-8 with or without a BOM, GB18030 (what Excel on
 * Chinese Windows saves), comma, semicolon or tab separators (guessed from the header line),
 * quoted fields with embedded newlines, and the line on which each record starts. It streams:
 * memory stays flat however long the input, bounded by the longest record. */
#ifndef DM_CSV_H
#define DM_CSV_H
#include <stddef.h>
#include <stdint.h>
#include "../base/err.h"

enum csv_encoding { CSV_ENC_AUTO, CSV_ENC_UTF8, CSV_ENC_GB18030 };

#define CSV_RECORD_MAX (1u << 20)   /* longest record accepted, in bytes */

/* Fill buf with up to n bytes; return how many (0 at the end), or -1 on a read error. */
typedef long (*csv_read_fn)(void *arg, char *buf, size_t n);

struct csv_reader;

/* Parse "utf-8" | "gb18030" | "auto" (or NULL/"" = auto); -1 when unknown. */
int csv_encoding_parse(const char *s, enum csv_encoding *out);
/* A reader over the bytes read() gives. Never fails but for memory (which aborts). */
struct csv_reader *csv_reader_new(csv_read_fn read, void *arg, enum csv_encoding enc);
/* The next record: 1 and its fields (UTF-8 text, NUL-terminated, owned by the reader and valid
 * until the next call) and the line it starts on; 0 at the end; or a negative dm_code with e set
 * (a read error, bytes that are not of the encoding, a record over CSV_RECORD_MAX). Blank lines
 * are skipped. */
int csv_reader_next(struct csv_reader *r, char ***fields, size_t *nfields, long *line,
		    struct dm_err *e);
/* Bytes of input consumed so far (progress). */
uint64_t csv_reader_bytes(const struct csv_reader *r);
/* The separator in use (',' ';' or '\t'; 0 before the first record), and the encoding found. */
char csv_reader_separator(const struct csv_reader *r);
enum csv_encoding csv_reader_encoding(const struct csv_reader *r);
void csv_reader_free(struct csv_reader *r);

/* Readers over a memory block and a stdio FILE, for csv_reader_new. */
struct csv_mem {
	const char *p;
	size_t len, off;
};
long csv_read_mem(void *arg, char *buf, size_t n);
long csv_read_file(void *arg, char *buf, size_t n);   /* arg: FILE * */

#endif
