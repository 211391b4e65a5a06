/* sqlite_bigram.c — the FTS5 tokenizer of the account name index: every pair of neighbouring
 * characters is a token.
 *
 * Chinese users search companies by their two-character trade names (鑫源, 宏图), and SQLite's
 * trigram tokenizer cannot answer a query under three characters: those fell back to scanning
 * every name (0.24 s over a million). With bigrams, a query of n ≥ 2 characters is the phrase of
 * its n − 1 bigrams at consecutive positions, which FTS5 matches exactly as a substring; the
 * store still confirms each row with instr(). One-character queries scan.
 *
 * Input is name_key (already case- and width-folded by text_name_key, valid UTF-8); the
 * tokenizer emits raw bytes and never reads past nText, whatever the bytes. */
#include "sqlite_bigram.h"
#include <string.h>
#include "../base/banned.h"

/* Length of the UTF-8 character starting at s (1 for a stray byte), bounded by n. */
static int char_len(const unsigned char *s, int n)
{
	int len = *s < 0x80 ? 1 : *s < 0xE0 ? 2 : *s < 0xF0 ? 3 : 4;
	if (*s >= 0x80 && *s < 0xC0)
		len = 1;
	return len > n ? n : len;
}

static int bigram_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
	(void)ctx;
	(void)argv;
	if (argc)
		return SQLITE_ERROR;   /* takes no options */
	static int token;             /* stateless: any non-NULL handle */
	*out = (Fts5Tokenizer *)&token;
	return SQLITE_OK;
}

static void bigram_delete(Fts5Tokenizer *t)
{
	(void)t;
}

static int bigram_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
			   int (*emit)(void *ctx, int tflags, const char *token, int ntoken,
				       int start, int end))
{
	(void)t;
	(void)flags;
	const unsigned char *s = (const unsigned char *)text;
	int prev = -1;   /* start of the previous character */
	for (int i = 0; i < n;) {
		int len = char_len(s + i, n - i);
		if (prev >= 0) {
			int rc = emit(ctx, 0, text + prev, i + len - prev, prev, i + len);
			if (rc != SQLITE_OK)
				return rc;
		}
		prev = i;
		i += len;
	}
	return SQLITE_OK;
}

int sqlite_bigram_register(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(st);
		rc = sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK || !api)
		return rc != SQLITE_OK ? rc : SQLITE_ERROR;
	static fts5_tokenizer tok = { bigram_create, bigram_delete, bigram_tokenize };
	return api->xCreateTokenizer(api, "dm_bigram", NULL, &tok, NULL);
}
