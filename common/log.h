/* SPDX-License-Identifier: MIT */
#ifndef MV_LOG_H
#define MV_LOG_H

#include <stddef.h>

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set once at start-up; program name prefixes every line. */
void log_setup(const char *prog, enum log_level level);
int log_parse_level(const char *s); /* >= 0 level, -EINVAL */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Would a line at this level be written?  Lets callers skip building costly lines. */
int log_enabled(enum log_level level);
/*
 * s as one line a reader can trust: '\\', control bytes and bytes past
 * ASCII written as \xNN, cut to fit buf.  For strings a container chose
 * (mount targets, sources) in log lines and notifyctl answers, so none can
 * start a forged line.  Returns buf.
 */
const char *log_printable(const char *s, char *buf, size_t size);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
