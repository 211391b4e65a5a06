/* log.c — stderr logging; a single fprintf per record keeps lines whole across threads. */
#include "log.h"
#include "timeutil.h"
#include <stdarg.h>
#include <stdio.h>
#include "banned.h"

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	if (level < min_level)
		return;
	char line[1024], ts[TIME_STR_LEN];
	time_format(time_now_ms(), ts);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s\n", ts, names[level], line);
}
