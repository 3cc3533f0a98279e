/* SPDX-License-Identifier: MIT */
#ifndef MV_LOG_H
#define MV_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set once at start-up; program name prefixes every line. */
void log_setup(const char *prog, enum log_level level);
int log_parse_level(const char *s); /* >= 0 level, -EINVAL */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Would a line at this level be written?  Lets callers skip building costly lines. */
int log_enabled(enum log_level level);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
