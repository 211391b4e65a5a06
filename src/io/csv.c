/* csv.c — the CSV reader of imports: bytes → UTF-8 (iconv for GB18030) → lines → libcsv → records.
 * Feeding libcsv one physical line at a time tells which line each record starts on. */
#include "csv.h"
#include "../base/buf.h"
#include "../base/text.h"
#include "../base/xmalloc.h"
#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/banned.h"

#define CHUNK 65536

struct record {
	char **fields;
	size_t n, alloc;
	long line;
};

struct csv_reader {
	csv_read_fn read;
	void *arg;
	enum csv_encoding enc;
	int started, eof, finished;
	iconv_t cd;                 /* GB18030 → UTF-8, or (iconv_t)-1 */
	char raw[CHUNK + 8];        /* undecoded input, carried over when a sequence is split */
	size_t rawlen;
	uint64_t consumed;
	struct buf text;            /* decoded UTF-8 not yet fed to the parser */
	size_t textoff;
	struct csv_parser p;
	char sep;
	long line;                  /* lines fed so far */
	long start;                 /* line the pending record started on */
	struct record cur;          /* fields of the record being parsed */
	size_t cur_bytes;
	struct record *ready;       /* records completed, oldest first */
	size_t nready, readyoff, readyalloc;
	struct record out;          /* the record last handed out */
	int too_long;
};

int csv_encoding_parse(const char *s, enum csv_encoding *out)
{
	if (!s || !*s || !strcasecmp(s, "auto"))
		*out = CSV_ENC_AUTO;
	else if (!strcasecmp(s, "utf-8") || !strcasecmp(s, "utf8"))
		*out = CSV_ENC_UTF8;
	else if (!strcasecmp(s, "gb18030") || !strcasecmp(s, "gbk") || !strcasecmp(s, "gb2312"))
		*out = CSV_ENC_GB18030;
	else
		return -1;
	return 0;
}

static void record_release(struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->fields[i]);
	free(r->fields);
	memset(r, 0, sizeof *r);
}

static int no_space(unsigned char c)
{
	(void)c;
	return 0;   /* keep every space: a value is what the cell holds */
}

struct csv_reader *csv_reader_new(csv_read_fn read, void *arg, enum csv_encoding enc)
{
	struct csv_reader *r = xcalloc(1, sizeof *r);
	r->read = read;
	r->arg = arg;
	r->enc = enc;
	r->cd = (iconv_t)-1;
	r->start = 1;
	csv_init(&r->p, CSV_APPEND_NULL);
	csv_set_space_func(&r->p, no_space);
	return r;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	if (r->cd != (iconv_t)-1)
		iconv_close(r->cd);
	csv_free(&r->p);
	buf_release(&r->text);
	record_release(&r->cur);
	record_release(&r->out);
	for (size_t i = r->readyoff; i < r->nready; i++)
		record_release(&r->ready[i]);
	free(r->ready);
	free(r);
}

uint64_t csv_reader_bytes(const struct csv_reader *r)
{
	return r->consumed;
}

char csv_reader_separator(const struct csv_reader *r)
{
	return r->sep;
}

enum csv_encoding csv_reader_encoding(const struct csv_reader *r)
{
	return r->enc;
}

long csv_read_mem(void *arg, char *buf, size_t n)
{
	struct csv_mem *m = arg;
	size_t k = m->len - m->off < n ? m->len - m->off : n;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (long)k;
}

long csv_read_file(void *arg, char *buf, size_t n)
{
	size_t k = fread(buf, 1, n, arg);
	return k == 0 && ferror((FILE *)arg) ? -1 : (long)k;
}

/* ---- libcsv callbacks ---------------------------------------------------------------------- */

static void on_field(void *s, size_t len, void *data)
{
	struct csv_reader *r = data;
	struct record *c = &r->cur;
	r->cur_bytes += len;
	if (r->cur_bytes > CSV_RECORD_MAX) {
		r->too_long = 1;
		return;
	}
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 16;
		c->fields = xrealloc(c->fields, c->alloc * sizeof *c->fields);
	}
	c->fields[c->n++] = xstrndup(s ? s : "", len);
}

static void on_record(int term, void *data)
{
	struct csv_reader *r = data;
	(void)term;
	if (r->nready == r->readyalloc) {
		r->readyalloc = r->readyalloc ? r->readyalloc * 2 : 4;
		r->ready = xrealloc(r->ready, r->readyalloc * sizeof *r->ready);
	}
	r->cur.line = r->start;
	r->ready[r->nready++] = r->cur;
	memset(&r->cur, 0, sizeof r->cur);
	r->cur_bytes = 0;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_complete(const char *s, size_t n)
{
	size_t i = n, back = 0;
	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return need > back + 1 ? i - 1 : n;
}

/* The first chunk decides: a BOM, the caller's choice, or whether it is valid UTF-8. */
static int start(struct csv_reader *r, struct dm_err *e)
{
	size_t skip = 0;
	r->started = 1;
	if (r->rawlen >= 3 && !memcmp(r->raw, "\xEF\xBB\xBF", 3)) {
		skip = 3;
		if (r->enc == CSV_ENC_AUTO)
			r->enc = CSV_ENC_UTF8;
	} else if (r->rawlen >= 4 && !memcmp(r->raw, "\x84\x31\x95\x33", 4)) {
		skip = 4;
		if (r->enc == CSV_ENC_AUTO)
			r->enc = CSV_ENC_GB18030;
	}
	memmove(r->raw, r->raw + skip, r->rawlen - skip);
	r->rawlen -= skip;
	if (r->enc == CSV_ENC_AUTO) {
		size_t n = r->eof ? r->rawlen : utf8_complete(r->raw, r->rawlen);
		int nul = memchr(r->raw, '\0', n) != NULL;
		r->enc = !nul && text_utf8_valid(r->raw, n) ? CSV_ENC_UTF8 : CSV_ENC_GB18030;
	}
	if (r->enc == CSV_ENC_GB18030 && (r->cd = iconv_open("UTF-8", "GB18030")) == (iconv_t)-1)
		return dm_fail(e, DM_EINTERNAL, "encoding", "GB18030 is not available (iconv)");
	return 0;
}

/* Move what raw holds into text, decoded; keep an incomplete trailing sequence in raw. */
static int decode(struct csv_reader *r, struct dm_err *e)
{
	if (r->enc == CSV_ENC_UTF8) {
		size_t n = r->eof ? r->rawlen : utf8_complete(r->raw, r->rawlen);
		buf_append(&r->text, r->raw, n);
		memmove(r->raw, r->raw + n, r->rawlen - n);
		r->rawlen -= n;
		return 0;
	}
	char out[CHUNK * 2];
	char *in = r->raw;
	size_t inleft = r->rawlen;
	while (inleft) {
		char *o = out;
		size_t oleft = sizeof out;
		size_t rc = iconv(r->cd, &in, &inleft, &o, &oleft);
		buf_append(&r->text, out, (size_t)(o - out));
		if (rc != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno == EINVAL && !r->eof)
			break;   /* a sequence split across reads: wait for the rest */
		return dm_fail(e, DM_EINVAL, "encoding", "line %ld: the bytes are not GB18030 text "
			       "(choose encoding=utf-8 or gb18030)", r->line + 1);
	}
	memmove(r->raw, in, inleft);
	r->rawlen = inleft;
	return 0;
}

/* Count separators in the header line, outside quotes; the most frequent wins (comma on ties). */
static char guess_separator(const char *s, size_t n)
{
	size_t comma = 0, semi = 0, tab = 0;
	int quoted = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted)
			comma += s[i] == ',', semi += s[i] == ';', tab += s[i] == '\t';
	}
	if (tab > comma && tab >= semi)
		return '\t';
	return semi > comma ? ';' : ',';
}

/* Feed one line (with its newline, if any) to the parser. */
static void feed_line(struct csv_reader *r, const char *s, size_t n)
{
	if (!r->sep) {
		r->sep = guess_separator(s, n);
		csv_set_delim(&r->p, (unsigned char)r->sep);
	}
	r->line++;
	if (r->cur.n == 0 && r->p.pstate == 0)
		r->start = r->line;   /* nothing pending: a record beginning here starts here */
	csv_parse(&r->p, s, n, on_field, on_record, r);
}

/* Read, decode and parse until a record is ready or the input ends. */
static int fill(struct csv_reader *r, struct dm_err *e)
{
	while (r->readyoff == r->nready && !r->finished) {
		if (r->too_long)
			return dm_fail(e, DM_EINVAL, NULL, "line %ld: a record longer than %u bytes",
				       r->start, CSV_RECORD_MAX);
		char *nl = r->text.data ? memchr(r->text.data + r->textoff, '\n',
						 r->text.len - r->textoff) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - (r->text.data + r->textoff)) + 1;
			feed_line(r, r->text.data + r->textoff, n);
			r->textoff += n;
			continue;
		}
		if (r->eof) {
			if (r->text.len > r->textoff)
				feed_line(r, r->text.data + r->textoff, r->text.len - r->textoff);
			r->textoff = r->text.len;
			csv_fini(&r->p, on_field, on_record, r);
			r->finished = 1;
			break;
		}
		if (r->text.len - r->textoff > CSV_RECORD_MAX)
			return dm_fail(e, DM_EINVAL, NULL, "line %ld: a line longer than %u bytes",
				       r->line + 1, CSV_RECORD_MAX);
		/* keep the unfinished line, drop what was fed */
		if (r->textoff) {
			memmove(r->text.data, r->text.data + r->textoff, r->text.len - r->textoff);
			r->text.len -= r->textoff;
			r->text.data[r->text.len] = '\0';
			r->textoff = 0;
		}
		long got = r->read(r->arg, r->raw + r->rawlen, CHUNK);
		if (got < 0)
			return dm_fail(e, DM_EINTERNAL, NULL, "cannot read the input");
		r->consumed += (uint64_t)got;
		r->rawlen += (size_t)got;
		r->eof = got == 0;
		int rc = r->started ? 0 : start(r, e);
		if (!rc)
			rc = decode(r, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* A record holding one empty field is a blank line. */
static int blank(const struct record *rec)
{
	return rec->n == 0 || (rec->n == 1 && rec->fields[0][0] == '\0');
}

int csv_reader_next(struct csv_reader *r, char ***fields, size_t *nfields, long *line,
		    struct dm_err *e)
{
	record_release(&r->out);
	for (;;) {
		int rc = fill(r, e);
		if (rc)
			return rc;
		if (r->readyoff == r->nready)
			return 0;
		r->out = r->ready[r->readyoff++];
		if (r->readyoff == r->nready)
			r->readyoff = r->nready = 0;
		if (!blank(&r->out))
			break;
		record_release(&r->out);
	}
	*fields = r->out.fields;
	*nfields = r->out.n;
	*line = r->out.line;
	return 1;
}
