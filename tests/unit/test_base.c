/* test_base.c — unit tests of src/base: UTF-8 checks, name keys, the capped buffer, times, dates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/jsontext.h"
#include "base/text.h"
#include "base/timeutil.h"

#define UTF8_OK(lit) assert_int_equal(text_utf8_valid(lit, sizeof(lit) - 1), 1)
#define UTF8_BAD(lit) assert_int_equal(text_utf8_valid(lit, sizeof(lit) - 1), 0)

/* ---- text_utf8_valid ------------------------------------------------------------------------- */

static void utf8_accepts_well_formed(void **state)
{
	UTF8_OK("");
	UTF8_OK("plain ASCII, with punctuation!~");
	UTF8_OK("北京科技有限公司");                 /* 3-byte sequences */
	UTF8_OK("caf\xC3\xA9");                      /* 2-byte: é */
	UTF8_OK("\xF0\x9F\x98\x80");                 /* 4-byte: U+1F600 */
	UTF8_OK("\xF4\x8F\xBF\xBF");                 /* U+10FFFF, the last code point */
	UTF8_OK("\xEF\xBF\xBD");                     /* U+FFFD */
	UTF8_OK("\xED\x9F\xBF");                     /* U+D7FF, just below the surrogates */
	UTF8_OK("\xEE\x80\x80");                     /* U+E000, just above them */
	UTF8_OK("\xC2\x80");                         /* U+0080, smallest 2-byte */
	UTF8_OK("\xE0\xA0\x80");                     /* U+0800, smallest 3-byte */
	UTF8_OK("\xF0\x90\x80\x80");                 /* U+10000, smallest 4-byte */
}

static void utf8_rejects_overlongs(void **state)
{
	UTF8_BAD("\xC0\xAF");               /* '/' in two bytes */
	UTF8_BAD("\xC1\xBF");
	UTF8_BAD("\xC0\x80");               /* "modified UTF-8" NUL */
	UTF8_BAD("\xE0\x80\xAF");           /* '/' in three bytes */
	UTF8_BAD("\xE0\x9F\xBF");           /* U+07FF in three bytes */
	UTF8_BAD("\xF0\x80\x80\xAF");       /* '/' in four bytes */
	UTF8_BAD("\xF0\x8F\xBF\xBF");       /* U+FFFF in four bytes */
	UTF8_BAD("ok\xC0\xAFok");
}

static void utf8_rejects_surrogates(void **state)
{
	UTF8_BAD("\xED\xA0\x80");           /* U+D800 */
	UTF8_BAD("\xED\xAF\xBF");           /* U+DBFF */
	UTF8_BAD("\xED\xB0\x80");           /* U+DC00 */
	UTF8_BAD("\xED\xBF\xBF");           /* U+DFFF */
	UTF8_BAD("\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 pair for U+1F600 */
}

static void utf8_rejects_truncated_and_stray_bytes(void **state)
{
	UTF8_BAD("\xC3");                   /* lead byte, nothing after */
	UTF8_BAD("\xE5\x8C");               /* two of three */
	UTF8_BAD("\xF0\x9F\x98");           /* three of four */
	UTF8_BAD("abc\xE5");                /* truncated at the end of longer text */
	UTF8_BAD("\xE5\x8Cx");              /* continuation replaced by ASCII */
	UTF8_BAD("\x80");                   /* lone continuation byte */
	UTF8_BAD("a\xBFz");
	UTF8_BAD("\xFE");
	UTF8_BAD("\xFF");
	/* n shorter than the sequence: the bytes after n must not be read as part of it */
	assert_int_equal(text_utf8_valid("\xE5\x8C\x97", 2), 0);
	assert_int_equal(text_utf8_valid("\xE5\x8C\x97", 3), 1);
	assert_int_equal(text_utf8_valid("\xE5\x8C\x97", 0), 1);
}

static void utf8_rejects_nul(void **state)
{
	UTF8_BAD("\0");
	UTF8_BAD("ab\0cd");
	UTF8_BAD("北\0京");
}

static void utf8_rejects_above_max(void **state)
{
	UTF8_BAD("\xF4\x90\x80\x80");       /* U+110000 */
	UTF8_BAD("\xF5\x80\x80\x80");
	UTF8_BAD("\xF7\xBF\xBF\xBF");       /* U+1FFFFF */
	UTF8_BAD("\xF8\x88\x80\x80\x80");   /* 5-byte form */
	UTF8_BAD("\xFC\x84\x80\x80\x80\x80"); /* 6-byte form */
}

static void utf8_len_counts_code_points(void **state)
{
	assert_int_equal(text_utf8_len(""), 0);
	assert_int_equal(text_utf8_len("abc"), 3);
	assert_int_equal(text_utf8_len("北京"), 2);
	assert_int_equal(text_utf8_len("a\xF0\x9F\x98\x80" "b"), 3);
}

/* ---- text_name_key --------------------------------------------------------------------------- */

static void assert_key(const char *in, const char *want)
{
	char *k = text_name_key(in);
	assert_non_null(k);
	assert_string_equal(k, want);
	free(k);
}

static void name_key_folds_case_and_width(void **state)
{
	assert_key("ACME Ltd", "acme ltd");
	assert_key("acme ltd", "acme ltd");
	assert_key("\xEF\xBC\xA1\xEF\xBC\xA3\xEF\xBC\xAD\xEF\xBC\xA5\xE3\x80\x80"
		   "\xEF\xBC\xAC\xEF\xBD\x94\xEF\xBD\x84", "acme ltd");   /* ＡＣＭＥ　Ｌｔｄ */
	assert_key("ＡＣＭＥ　Ｌｔｄ", "acme ltd");
	assert_key("ａＢｃ", "abc");
	assert_key("！～", "!~");                    /* the ends of the full-width ASCII block */
	assert_key("１２３", "123");
}

static void name_key_collapses_and_trims_space(void **state)
{
	assert_key("  ACME   Ltd  ", "acme ltd");
	assert_key("\tACME \t\n Ltd\r\n", "acme ltd");
	assert_key("ACME\xC2\xA0\xC2\xA0Ltd", "acme ltd");            /* no-break spaces */
	assert_key("\xE3\x80\x80\xE3\x80\x80" "ACME\xE3\x80\x80 Ltd\xE3\x80\x80", "acme ltd");
	assert_key("a b", "a b");
	assert_key("   ", "");
	assert_key("", "");
}

static void name_key_leaves_chinese_alone(void **state)
{
	assert_key("北京科技有限公司", "北京科技有限公司");
	assert_key("  北京  科技 ", "北京 科技");
	assert_key("华为 ABC", "华为 abc");
	assert_key("É", "É");                         /* only ASCII letters are lower-cased */
}

static void name_key_equal_for_variants(void **state)
{
	char *a = text_name_key("ACME Ltd");
	char *b = text_name_key("acme ltd");
	char *c = text_name_key("ＡＣＭＥ　Ｌｔｄ");
	char *d = text_name_key(" acme\t LTD ");
	char *other = text_name_key("ACME Ltd.");
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	assert_string_equal(a, d);
	assert_string_not_equal(a, other);
	free(a);
	free(b);
	free(c);
	free(d);
	free(other);
}

/* ---- buf ------------------------------------------------------------------------------------- */

static void buf_appends_and_terminates(void **state)
{
	struct buf b = BUF_INIT(0);
	assert_int_equal(buf_puts(&b, "abc"), 0);
	assert_int_equal(buf_append(&b, "defgh", 2), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_string_equal(b.data, "abcde");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_puts(&b, "x"), 0);
	assert_string_equal(b.data, "x");
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_release(&b);   /* twice is harmless */
}

static void buf_cap_is_enforced(void **state)
{
	struct buf b = BUF_INIT(8);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_puts(&b, "6789"), -1);      /* 9 > 8: refused */
	assert_int_equal(b.len, 5);                      /* and unchanged */
	assert_string_equal(b.data, "12345");
	assert_int_equal(buf_puts(&b, "678"), 0);        /* exactly the cap is fine */
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_string_equal(b.data, "12345678");
	buf_release(&b);

	struct buf big = BUF_INIT(4);
	assert_int_equal(buf_append(&big, "abcdefgh", 8), -1);   /* n > cap on an empty buffer */
	assert_int_equal(big.len, 0);
	assert_int_equal(buf_append(&big, "abc", (size_t)-1), -1); /* no wrap-around */
	buf_release(&big);
}

static void buf_printf_grows(void **state)
{
	struct buf b = BUF_INIT(0);
	assert_int_equal(buf_printf(&b, "%s-%d", "n", 42), 0);
	assert_string_equal(b.data, "n-42");
	/* longer than the 256-byte stack buffer inside buf_printf */
	char *long_s = malloc(1001);
	memset(long_s, 'z', 1000);
	long_s[1000] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", long_s), 0);
	assert_int_equal(b.len, 4 + 1002);
	assert_int_equal(b.data[4], '[');
	assert_int_equal(b.data[5], 'z');
	assert_int_equal(b.data[1004], 'z');
	assert_int_equal(b.data[1005], ']');
	assert_int_equal(b.data[1006], '\0');
	assert_true(b.alloc >= b.len + 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_printf(&b, "%03d", i), 0);
	assert_int_equal(b.len, 1006 + 300);
	assert_memory_equal(b.data + 1006, "000001002", 9);
	assert_memory_equal(b.data + b.len - 3, "099", 3);

	/* capped and too long for the small path: refused, unchanged */
	struct buf c = BUF_INIT(300);
	assert_int_equal(buf_puts(&c, "head"), 0);
	assert_int_equal(buf_printf(&c, "%s", long_s), -1);
	assert_string_equal(c.data, "head");
	assert_int_equal(c.len, 4);
	buf_release(&c);
	free(long_s);
	buf_release(&b);
}

static void buf_detach_takes_ownership(void **state)
{
	struct buf b = BUF_INIT(0);
	size_t len = 99;
	char *p = buf_detach(&b, &len);         /* an empty buffer still gives a string */
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);

	assert_int_equal(buf_puts(&b, "hello"), 0);
	p = buf_detach(&b, &len);
	assert_string_equal(p, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	/* the buffer is reusable and independent of the detached bytes */
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	assert_string_equal(p, "hello");
	free(p);
	p = buf_detach(&b, NULL);
	assert_string_equal(p, "again");
	free(p);
	buf_release(&b);
}

/* ---- time_parse / time_format ---------------------------------------------------------------- */

static int64_t parse_ok(const char *s)
{
	int64_t ms = -12345;
	if (time_parse(s, &ms) != 0)
		fail_msg("time_parse refused \"%s\"", s);
	return ms;
}

static void assert_time_bad(const char *s)
{
	int64_t ms = 777;
	if (time_parse(s, &ms) != -1)
		fail_msg("time_parse accepted \"%s\"", s);
}

static void assert_normal(const char *in, const char *want)
{
	char out[TIME_STR_LEN];
	time_format(parse_ok(in), out);
	assert_string_equal(out, want);
}

static void time_epoch_and_known_instants(void **state)
{
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1970-01-01"), 0);
	assert_int_equal(parse_ok("1970-01-02T00:00:00.001Z"), 86400001);
	assert_int_equal(parse_ok("2000-03-01T00:00:00Z"), 951868800000LL);
	assert_int_equal(parse_ok("2026-11-25T20:37:19.123Z"), 1795639039123LL);
	char out[TIME_STR_LEN];
	time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	time_format(1795639039123LL, out);
	assert_string_equal(out, "2026-11-25T20:37:19.123Z");
	assert_int_equal(strlen(out), TIME_STR_LEN - 1);
	time_format(-1, out);   /* one millisecond before the epoch */
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
	time_format(-86400000LL, out);
	assert_string_equal(out, "1969-12-31T00:00:00.000Z");
}

static void time_offsets(void **state)
{
	assert_normal("2026-11-25T09:30:00+08:00", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25T01:30:00Z", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25T01:30:00z", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25T01:30:00+00:00", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25T01:30:00-00:00", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25 01:30:00Z", "2026-11-25T01:30:00.000Z");
	assert_normal("2026-11-25t01:30:00Z", "2026-11-25T01:30:00.000Z");
	/* across day, month and year boundaries */
	assert_normal("2026-01-01T05:00:00+08:00", "2025-12-31T21:00:00.000Z");
	assert_normal("2025-12-31T20:00:00-05:30", "2026-01-01T01:30:00.000Z");
	assert_normal("2024-03-01T01:00:00+02:00", "2024-02-29T23:00:00.000Z");
	assert_normal("2026-06-15T12:00:00+05:45", "2026-06-15T06:15:00.000Z");
	assert_normal("2026-06-15T12:00:00+23:59", "2026-06-14T12:01:00.000Z");
	assert_int_equal(parse_ok("2026-11-25T09:30:00+08:00"), parse_ok("2026-11-25T01:30:00Z"));
}

static void time_fractions(void **state)
{
	assert_normal("2026-11-25T01:30:00.5Z", "2026-11-25T01:30:00.500Z");
	assert_normal("2026-11-25T01:30:00.05Z", "2026-11-25T01:30:00.050Z");
	assert_normal("2026-11-25T01:30:00.123Z", "2026-11-25T01:30:00.123Z");
	assert_normal("2026-11-25T01:30:00.123456789Z", "2026-11-25T01:30:00.123Z");  /* truncated */
	assert_normal("2026-11-25T01:30:00.9999+08:00", "2026-11-24T17:30:00.999Z");
	assert_normal("2026-11-25T01:30:00.000Z", "2026-11-25T01:30:00.000Z");
	assert_time_bad("2026-11-25T01:30:00.Z");          /* no digits */
	assert_time_bad("2026-11-25T01:30:00.1234567890Z"); /* ten digits */
	assert_time_bad("2026-11-25T01:30:00,5Z");
}

static void time_bare_dates(void **state)
{
	assert_normal("2026-11-25", "2026-11-25T00:00:00.000Z");
	assert_normal("2024-02-29", "2024-02-29T00:00:00.000Z");
	assert_normal("2000-02-29", "2000-02-29T00:00:00.000Z");
	assert_int_equal(parse_ok("2026-11-26") - parse_ok("2026-11-25"), 86400000LL);
}

static void time_round_trips(void **state)
{
	static const int64_t samples[] = { 0, 1, 999, 1000, 86399999, 86400000, 951782400000LL,
					   1709164800000LL, 1795639039123LL, 4102444799999LL,
					   253402300799999LL /* 9999-12-31T23:59:59.999Z */ };
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		char out[TIME_STR_LEN];
		int64_t back = -1;
		time_format(samples[i], out);
		assert_int_equal(time_parse(out, &back), 0);
		assert_int_equal(back, samples[i]);
	}
	/* every day of a leap year and of a common year survives the trip */
	for (int64_t d = 19358; d < 19358 + 366 + 365; d++) {   /* 2023-01-01 .. 2024-12-31 */
		char out[TIME_STR_LEN];
		int64_t back = -1;
		time_format(d * 86400000LL + 43200123, out);
		assert_int_equal(time_parse(out, &back), 0);
		assert_int_equal(back, d * 86400000LL + 43200123);
		char date[DATE_STR_LEN];
		memcpy(date, out, 10);
		date[10] = '\0';
		assert_int_equal(date_valid(date), 1);
	}
}

static void time_invalid_dates(void **state)
{
	assert_time_bad("2026-02-30");
	assert_time_bad("2026-02-30T00:00:00Z");
	assert_time_bad("2026-13-01");
	assert_time_bad("2026-00-10");
	assert_time_bad("2026-04-31");
	assert_time_bad("2026-01-32");
	assert_time_bad("2026-01-00");
	assert_time_bad("2025-02-29");
	assert_time_bad("1900-02-29");
	assert_time_bad("0000-01-01");
	assert_int_equal(parse_ok("2024-02-29T12:00:00Z") - parse_ok("2024-02-28T12:00:00Z"),
			 86400000LL);
}

static void time_garbage(void **state)
{
	assert_time_bad("");
	assert_time_bad("garbage");
	assert_time_bad("2026");
	assert_time_bad("2026-11");
	assert_time_bad("2026-11-2");
	assert_time_bad("2026/11/25");
	assert_time_bad("26-11-25");
	assert_time_bad("2026-11-25x");
	assert_time_bad("2026-11-25T");
	assert_time_bad("2026-11-25T09");
	assert_time_bad("2026-11-25T09:30");
	assert_time_bad("2026-11-25T09:30Z");
	assert_time_bad("2026-11-25T09:30:00");           /* an instant needs an offset */
	assert_time_bad("2026-11-25T09:30:00+08");
	assert_time_bad("2026-11-25T09:30:00+0800");
	assert_time_bad("2026-11-25T09:30:00+08:00x");
	assert_time_bad("2026-11-25T09:30:00Zjunk");
	assert_time_bad("2026-11-25T24:00:00Z");
	assert_time_bad("2026-11-25T23:60:00Z");
	assert_time_bad("2026-11-25T23:59:61Z");
	assert_time_bad("2026-11-25T09:30:00+24:00");
	assert_time_bad("2026-11-25T09:30:00+08:60");
	assert_time_bad("2026-11-25T9:30:00Z");
	assert_time_bad(" 2026-11-25");
	assert_time_bad("2026-11-25 ");
	assert_time_bad("-026-11-25");
	assert_time_bad("2026-1a-25");
}

/* ---- date_valid ------------------------------------------------------------------------------ */

static void dates(void **state)
{
	assert_int_equal(date_valid("2026-11-25"), 1);
	assert_int_equal(date_valid("2024-02-29"), 1);
	assert_int_equal(date_valid("2000-02-29"), 1);
	assert_int_equal(date_valid("2026-12-31"), 1);
	assert_int_equal(date_valid("0001-01-01"), 1);
	assert_int_equal(date_valid("9999-12-31"), 1);
	assert_int_equal(date_valid("2025-02-29"), 0);
	assert_int_equal(date_valid("1900-02-29"), 0);
	assert_int_equal(date_valid("2026-02-30"), 0);
	assert_int_equal(date_valid("2026-13-01"), 0);
	assert_int_equal(date_valid("2026-06-31"), 0);
	assert_int_equal(date_valid("2026-00-01"), 0);
	assert_int_equal(date_valid("2026-01-00"), 0);
	assert_int_equal(date_valid("0000-01-01"), 0);
	assert_int_equal(date_valid("2026-1-01"), 0);
	assert_int_equal(date_valid("2026-01-1"), 0);
	assert_int_equal(date_valid("2026-01-01T00:00:00Z"), 0);   /* a date, not an instant */
	assert_int_equal(date_valid("2026-01-01 "), 0);
	assert_int_equal(date_valid("20260101"), 0);
	assert_int_equal(date_valid(""), 0);
	assert_int_equal(date_valid("yesterday"), 0);
	char today[DATE_STR_LEN];
	date_today(today);
	assert_int_equal(strlen(today), 10);
	assert_int_equal(date_valid(today), 1);
}

/* date_from_days writes the date without formatting a whole instant: the same text as the date
 * part of time_format at that day's midnight, for every day from year 0 to past 9999 (where
 * both write the year modulo 10,000), before year 0 and far out. */
static void date_from_days_is_time_formats_date(void **state)
{
	static const int64_t far[] = { -100000001, -100000000, -99999999, -719529, -719528, -719469,
				       -719468, -719467, -1, 0, 1, 2932896, 2932897, 3000000,
				       99999999, 100000000, 100000001, 1000000000 };
	char d[DATE_STR_LEN], t[TIME_STR_LEN];
	for (int64_t day = -719468 - 800; day <= 2932897 + 800; day++) {
		date_from_days(day, d);
		time_format(day * 86400000LL, t);
		assert_int_equal(strlen(d), 10);
		assert_memory_equal(d, t, 10);
	}
	for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
		date_from_days(far[i], d);
		time_format(far[i] * 86400000LL, t);
		assert_int_equal(strlen(d), 10);
		assert_memory_equal(d, t, 10);
	}
	date_from_days(20783, d);
	assert_string_equal(d, "2026-11-26");
	date_from_days(-1, d);
	assert_string_equal(d, "1969-12-31");
}

/* ---- err ------------------------------------------------------------------------------------- */

static void errors_record_detail(void **state)
{
	struct dm_err e;
	dm_err_clear(&e);
	assert_int_equal(dm_fail(&e, DM_EINVAL, "name", "bad %s %d", "thing", 7), DM_EINVAL);
	assert_int_equal(e.code, DM_EINVAL);
	assert_string_equal(e.field, "name");
	assert_string_equal(e.message, "bad thing 7");
	assert_int_equal(dm_fail(&e, DM_ENOTFOUND, NULL, "gone"), DM_ENOTFOUND);
	assert_string_equal(e.field, "");
	assert_int_equal(dm_fail(NULL, DM_ESTALE, "x", "dropped"), DM_ESTALE);
	assert_string_equal(dm_code_name(DM_ENOTFOUND), "not_found");
	assert_string_equal(dm_code_name(DM_ESCHEMA), "schema_too_new");
	assert_string_equal(dm_code_name(DM_OK), "ok");
}

/* ---- jsontext_append: jansson's compact text, byte for byte ------------------------------------ */

static void same_as_jansson(json_t *v)
{
	struct buf b = BUF_INIT(0);
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_int_equal(jsontext_append(&b, v), 0);
	assert_non_null(want);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	free(want);
	buf_release(&b);
	json_decref(v);
}

static void same_as_jansson_real(double d)
{
	struct buf b = BUF_INIT(0);
	json_t *v = json_real(d);
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(want);
	for (int again = 0; again < 2; again++) {   /* the second from the thread's memo */
		buf_reset(&b);
		assert_int_equal(jsontext_real(&b, d), 0);
		if (strcmp(b.data ? b.data : "", want))
			fail_msg("%.17g: jsontext_real wrote %s, jansson %s", d, b.data, want);
	}
	free(want);
	buf_release(&b);
	json_decref(v);
}

static void jsontext_matches_jansson(void **state)
{
	static const char *const texts[] = {
		"{}", "[]", "null", "true", "false", "0", "-9223372036854775808", "9223372036854775807",
		"1.5", "-0.1", "1e300", "\"\"", "\"北京科技有限公司 ACME\"",
		"\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"", "\"\\ud83d\\ude00 é\"",
		"{\"name\":\"客户000001 有限公司\",\"industry\":\"物流\",\"importance\":\"A\","
		"\"installed_base\":[],\"owner_id\":7,\"active\":true,\"notes\":null}",
		"{\"portrait\":{\"deep\":{\"x\":[1,2,{\"y\":\"z\"}]},\"k\\\"ey\":\"v\"},\"list\":[[],{}]}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		json_error_t je;
		json_t *v = json_loads(texts[i], JSON_DECODE_ANY, &je);
		if (!v)
			fail_msg("bad test JSON %s: %s", texts[i], je.text);
		same_as_jansson(v);
	}
	same_as_jansson(json_stringn("a\0b", 3));   /* a NUL inside a string */
	/* the cap: a refusal, not an overflow */
	struct buf b = BUF_INIT(8);
	json_t *v = json_string("longer than eight bytes");
	assert_int_equal(jsontext_append(&b, v), -1);
	assert_true(b.len <= 8);
	json_decref(v);
	buf_release(&b);
}

/* jsontext_real and jsontext_int (the funnel's answer written without a tree) against jansson's
 * text of the same value, each real written twice (once formatted, once from the memo of the
 * reals a thread wrote last, where thousands of values share 64 slots): the reals the reports write (ratios of 4 decimals, days of 2), whole
 * numbers (".0"), exponents both ways (jansson drops the '+' and the leading zeros), and random
 * bit patterns. */
static void jsontext_numbers_match_jansson(void **state)
{
	static const double reals[] = {
		0.0, -0.0, 1.0, -1.0, 21.0, 0.5327, 0.8739, 0.4984, 19.72, 111.62, 16.92, 1e-4, 1e-5,
		1.5e-7, 123456789012345678.0, 1e16, 1e17, 1e21, -2.5e-300, 1e300, 4.9e-324, 0.1, 1.0 / 3,
		9007199254740993.0, 100.0, 1e5,
	};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
		same_as_jansson_real(reals[i]);
	for (int i = 0; i <= 10000; i++)   /* every ratio of four decimals */
		same_as_jansson_real(round((double)i / 10000.0 * 10000.0) / 10000.0);
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 20000; i++) {
		double d;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(&d, &x, sizeof d);
		if (isfinite(d))
			same_as_jansson_real(d);
	}
	struct buf b = BUF_INIT(0);
	assert_int_equal(jsontext_real(&b, NAN), -1);
	assert_int_equal(jsontext_real(&b, INFINITY), -1);
	static const int64_t ints[] = { 0, 7, -7, 1234567890123, INT64_MAX, INT64_MIN };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		json_t *v = json_integer(ints[i]);
		char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		buf_reset(&b);
		assert_int_equal(jsontext_int(&b, ints[i]), 0);
		assert_string_equal(b.data, want);
		free(want);
		json_decref(v);
	}
	buf_release(&b);
}

/* Well-formed UTF-8 without NUL, byte by byte (Unicode's table 3-7): the reference for the
 * word-at-a-time fast paths of text_utf8_valid and jsontext_string_checked. */
static int utf8_reference(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i], lo = 0x80, hi = 0xBF;
		size_t len = c == 0 ? 0 : c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 :
			     c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!len || i + len > n)
			return 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (len > 1 && (s[i + 1] < lo || s[i + 1] > hi))
			return 0;
		for (size_t k = 2; k < len; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/* Strings of 8 to 40 bytes, where the scanners read eight bytes at a time: every byte value at
 * every position of plain ASCII (before, inside and after a word), then random mixes of plain
 * ASCII, the characters JSON escapes, DEL, NUL, Chinese, an emoji and stray bytes. Each scanner
 * answers as the byte-by-byte reference does, and jsontext_string_checked writes what
 * jsontext_string writes. */
static void text_word_scans(void **state)
{
	(void)state;
	unsigned char s[48];
	unsigned seed = 777;
	static const char *const parts[] = { "abcdefgh", "x", "\"", "\\", "\x01", "\x1f", " ",
					     "\x7f", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\x80",
					     "\xed\xa0\x80", "\xc0\xaf", "~", "0123456789-:TZ." };
	for (int round = 0; round < 120000; round++) {
		size_t n = 0;
		if (round < 256 * 24) {
			int c = round % 256, at = round / 256;
			n = 8 + (size_t)(round % 17);
			memset(s, 'a', n);
			s[(size_t)at % n] = (unsigned char)c;
			if (c == 0 && round % 2)   /* NUL at the end, where a word scan would stop */
				s[n - 1] = 0;
		} else {
			size_t want;
			seed = seed * 1103515245u + 12345u;
			want = 8 + (seed >> 16) % 33;
			while (n < want) {
				seed = seed * 1103515245u + 12345u;
				const char *p = (seed >> 12) % 4 ? parts[0] : "";
				if (!*p)
					p = parts[(seed >> 16) % (sizeof parts / sizeof parts[0])];
				size_t len = strlen(p) ? strlen(p) : 1;   /* "\x00" is no C string */
				if (n + len > want)
					len = want - n;
				if ((seed >> 20) % 97 == 0)
					s[n] = 0, len = 1;
				else
					memcpy(s + n, p, len);
				n += len;
			}
		}
		int want_ok = utf8_reference(s, n);
		if (text_utf8_valid((const char *)s, n) != want_ok)
			fail_msg("round %d: text_utf8_valid differs from the reference", round);
		struct buf a = BUF_INIT(0), b = BUF_INIT(0);
		buf_reserve(&a, 256);   /* room, as a list's buffer has: the one-copy path */
		int rc = jsontext_string_checked(&a, (const char *)s, n);
		if (rc != !want_ok)
			fail_msg("round %d: checked %d, reference %d", round, rc, want_ok);
		if (want_ok) {
			assert_int_equal(jsontext_string(&b, (const char *)s, n), 0);
			assert_string_equal(a.data, b.data);
		}
		buf_release(&a);
		buf_release(&b);
	}
}

/* jsontext_string_checked: accepts what text_utf8_valid accepts, and writes what jsontext_string
 * writes; jsontext_quick: the texts jsontext_column reads without jansson are their own text. */
static void jsontext_checked_string_and_quick(void **state)
{
	(void)state;
	unsigned char s[6];
	unsigned seed = 12345;
	/* every lead byte with every second byte, then random tails; and random short strings */
	for (int round = 0; round < 300000; round++) {
		size_t n;
		if (round < 65536) {
			s[0] = (unsigned char)(round >> 8);
			s[1] = (unsigned char)round;
			seed = seed * 1103515245u + 12345u;
			s[2] = (unsigned char)(seed >> 16);
			s[3] = (unsigned char)(seed >> 8);
			n = 2 + (seed >> 28) % 3;
		} else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 24) % 6;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				s[i] = (unsigned char)(seed >> 16);
				if (seed & 0x100)
					s[i] = (unsigned char)("\"\\\x01 a\x7f\xe4\xb8\xad"[(seed >> 9) % 9]);
			}
		}
		struct buf a = BUF_INIT(0), b = BUF_INIT(0);
		int ok = text_utf8_valid((const char *)s, n);
		int rc = jsontext_string_checked(&a, (const char *)s, n);
		if (rc != !ok)
			fail_msg("round %d: checked %d, text_utf8_valid %d", round, rc, ok);
		if (ok) {
			assert_int_equal(jsontext_string(&b, (const char *)s, n), 0);
			assert_string_equal(a.data, b.data);
		} else {
			assert_true(a.len == 0);
		}
		buf_release(&a);
		buf_release(&b);
	}
	static const char *const quick[] = { "[]", "[1,2,3]", "[[\"p\",\"2025-01-01\"],[\"中\",\"x\"]]",
					     "[\"a\",[1,2]]", "[0]", "[123456789012345]" };
	static const char *const slow[] = { "[ 1]", "[01]", "[\"a\\\"\"]", "[[[1]]]", "[1,]", "{}",
					    "[\"\x01\"]", "[\"\xe4\xb8\"]", "[1234567890123456]", "" };
	for (size_t i = 0; i < sizeof quick / sizeof quick[0]; i++) {
		struct buf b = BUF_INIT(0);
		assert_true(jsontext_quick(quick[i], strlen(quick[i])));
		json_t *v = jsontext_column(quick[i], strlen(quick[i]));
		assert_int_equal(jsontext_append(&b, v), 0);
		assert_string_equal(b.data, quick[i]);
		json_decref(v);
		buf_release(&b);
	}
	for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
		assert_false(jsontext_quick(slow[i], strlen(slow[i])));
}

/* text_hash is FNV-1a (32 bits): the published test vectors */
static void text_hash_is_fnv1a(void **state)
{
	assert_int_equal(text_hash(""), 0x811c9dc5u);
	assert_int_equal(text_hash("a"), 0xe40c292cu);
	assert_int_equal(text_hash("foobar"), 0xbf9cf968u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_hash_is_fnv1a),
		cmocka_unit_test(utf8_accepts_well_formed),
		cmocka_unit_test(utf8_rejects_overlongs),
		cmocka_unit_test(utf8_rejects_surrogates),
		cmocka_unit_test(utf8_rejects_truncated_and_stray_bytes),
		cmocka_unit_test(utf8_rejects_nul),
		cmocka_unit_test(utf8_rejects_above_max),
		cmocka_unit_test(utf8_len_counts_code_points),
		cmocka_unit_test(name_key_folds_case_and_width),
		cmocka_unit_test(name_key_collapses_and_trims_space),
		cmocka_unit_test(name_key_leaves_chinese_alone),
		cmocka_unit_test(name_key_equal_for_variants),
		cmocka_unit_test(buf_appends_and_terminates),
		cmocka_unit_test(buf_cap_is_enforced),
		cmocka_unit_test(buf_printf_grows),
		cmocka_unit_test(buf_detach_takes_ownership),
		cmocka_unit_test(time_epoch_and_known_instants),
		cmocka_unit_test(time_offsets),
		cmocka_unit_test(time_fractions),
		cmocka_unit_test(time_bare_dates),
		cmocka_unit_test(time_round_trips),
		cmocka_unit_test(time_invalid_dates),
		cmocka_unit_test(time_garbage),
		cmocka_unit_test(dates),
		cmocka_unit_test(date_from_days_is_time_formats_date),
		cmocka_unit_test(errors_record_detail),
		cmocka_unit_test(jsontext_matches_jansson),
		cmocka_unit_test(jsontext_numbers_match_jansson),
		cmocka_unit_test(jsontext_checked_string_and_quick),
		cmocka_unit_test(text_word_scans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
