/* timeutil.c — civil-date arithmetic done by hand so no call depends on the process time zone. */
#include "timeutil.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "banned.h"

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

void time_format(int64_t ms, char out[TIME_STR_LEN])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int msec = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int sod = (int)(secs - days * 86400);
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y >= 0) {   /* the snprintf below, without it (a few per presented account) */
		static const struct {
			unsigned char at, len;
		} part[7] = { { 0, 4 }, { 5, 2 }, { 8, 2 }, { 11, 2 }, { 14, 2 }, { 17, 2 }, { 20, 3 } };
		unsigned v[7] = { (unsigned)(y % 10000), m % 100, d % 100, (unsigned)(sod / 3600),
				  (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned)msec };
		memcpy(out, "0000-00-00T00:00:00.000Z", TIME_STR_LEN);
		for (int i = 0; i < 7; i++)
			for (int k = part[i].at + part[i].len - 1; k >= part[i].at; k--, v[i] /= 10)
				out[k] = (char)('0' + v[i] % 10);
		return;
	}
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y % 10000, m % 100, d % 100,
		 sod / 3600, sod / 60 % 60, sod % 60, msec);
	memcpy(out, tmp, TIME_STR_LEN - 1);
	out[TIME_STR_LEN - 1] = '\0';
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* Parse "YYYY-MM-DD" at s; 0 or -1. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
	if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) || s[7] != '-' || digits(s + 8, 2, d))
		return -1;
	if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
		return -1;
	return 0;
}

int date_valid(const char *s)
{
	int y, m, d;
	return strlen(s) == 10 && parse_date(s, &y, &m, &d) == 0;
}

void date_today(char out[DATE_STR_LEN])
{
	char t[TIME_STR_LEN];
	time_format(time_now_ms(), t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

int time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
	int64_t offset_min = 0;
	if (parse_date(s, &y, &mo, &d))
		return -1;
	const char *p = s + 10;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi) || p[5] != ':' ||
		    digits(p + 6, 2, &se))
			return -1;
		if (h > 23 || mi > 59 || se > 60)
			return -1;
		p += 8;
		if (*p == '.') {
			p++;
			int n = 0;
			while (isdigit((unsigned char)*p)) {
				if (n < 3)
					frac = frac * 10 + (*p - '0');
				n++;
				p++;
			}
			if (n == 0 || n > 9)
				return -1;
			for (; n < 3; n++)
				frac *= 10;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
				return -1;
			offset_min = (oh * 60 + om) * (*p == '+' ? 1 : -1);
			p += 6;
		} else {
			return -1;
		}
		if (*p)
			return -1;
	}
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + (se > 59 ? 59 : se) - offset_min * 60;
	/* an offset can carry 0001-01-01 or 9999-12-31 out of the years we format */
	if (secs < days_from_civil(1, 1, 1) * 86400 || secs >= days_from_civil(10000, 1, 1) * 86400)
		return -1;
	*ms = secs * 1000 + frac;
	return 0;
}

int date_to_days(const char *s, int64_t *days)
{
	int y, m, d;
	if (strlen(s) != 10 || parse_date(s, &y, &m, &d))
		return -1;
	*days = days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

void date_from_days(int64_t days, char out[DATE_STR_LEN])
{
	if (days > -100000000 && days < 100000000) {   /* time_format's date, without its time */
		int y;
		unsigned m, d;
		civil_from_days(days, &y, &m, &d);
		if (y >= 0) {
			unsigned yy = (unsigned)(y % 10000);
			out[0] = (char)('0' + yy / 1000);
			out[1] = (char)('0' + yy / 100 % 10);
			out[2] = (char)('0' + yy / 10 % 10);
			out[3] = (char)('0' + yy % 10);
			out[4] = '-';
			out[5] = (char)('0' + m / 10 % 10);
			out[6] = (char)('0' + m % 10);
			out[7] = '-';
			out[8] = (char)('0' + d / 10 % 10);
			out[9] = (char)('0' + d % 10);
			out[10] = '\0';
			return;
		}
	}
	char t[TIME_STR_LEN];
	time_format(days * 86400000LL, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

void date_today_offset(int offset_min, char out[DATE_STR_LEN])
{
	char t[TIME_STR_LEN];
	time_format(time_now_ms() + (int64_t)offset_min * 60000, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}
