/* timeutil.h — the two time formats of the API: dates (YYYY-MM-DD) and RFC 3339 UTC instants. */
#ifndef DM_TIMEUTIL_H
#define DM_TIMEUTIL_H
#include <stdint.h>
#include <stddef.h>

#define TIME_STR_LEN 25   /* "2026-11-25T20:37:19.123Z" + NUL */
#define DATE_STR_LEN 11

/* Milliseconds since the epoch, now. */
int64_t time_now_ms(void);
/* Format ms-since-epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void time_format(int64_t ms, char out[TIME_STR_LEN]);
/* Parse an RFC 3339 instant (any offset, optional fraction) or a bare date (midnight UTC).
 * Returns 0 and the instant in ms, or -1. */
int time_parse(const char *s, int64_t *ms);
/* 1 when s is a real calendar date "YYYY-MM-DD". */
int date_valid(const char *s);
/* Today's date in UTC as YYYY-MM-DD. */
void date_today(char out[DATE_STR_LEN]);

/* Days since 1970-01-01 of a valid date "YYYY-MM-DD"; -1 when it is not one. */
int date_to_days(const char *s, int64_t *days);
/* Days since 1970-01-01 of the civil date y-m-d, and back (no range check). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);
void date_from_days(int64_t days, char out[DATE_STR_LEN]);
/* Today in a fixed UTC offset (minutes), e.g. 480 for Asia/Shanghai. */
void date_today_offset(int offset_min, char out[DATE_STR_LEN]);

#endif
