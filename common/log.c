/* SPDX-License-Identifier: MIT */
/*
 * Line-oriented logging to stderr.  Each line is formatted into one buffer and
 * written with a single write(2) so lines from worker threads never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "mountvisor";
static enum log_level log_max = LOG_LVL_INFO;
static const char *const level_names[] = {
    [LOG_LVL_ERROR] = "error",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

void log_setup(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
}

int log_parse_level(const char *s)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -EINVAL;
}

int log_enabled(enum log_level level)
{
	return level <= log_max;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[16384]; /* a decision line carries up to three paths and a page of data */
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, saved = errno;

	if (level > log_max)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld %s[%d] %s: ", tm.tm_hour, tm.tm_min,
	             tm.tm_sec, ts.tv_nsec / 1000000, log_prog, getpid(), level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

const char *log_printable(const char *s, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return buf;
	for (const unsigned char *p = (const unsigned char *)s; *p && len + 5 < size; p++)
		if (*p == '\\' || *p < 0x20 || *p >= 0x7f)
			len += (size_t)snprintf(buf + len, size - len, "\\x%02x", *p);
		else
			buf[len++] = (char)*p;
	buf[len] = '\0';
	return buf;
}
