/* SPDX-License-Identifier: MIT */
/* The answer to one request, as a value (decision.h). */
#include "notifyd/decision.h"
#include "common/cleanup.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const action_names[] = {
    [DECISION_NONE] = "error",        [DECISION_KERNEL] = "kernel",
    [DECISION_FUSE] = "fuse",         [DECISION_UMOUNT] = "umount",
    [DECISION_LOOP] = "loop",         [DECISION_CONTINUE] = "continue",
    [DECISION_DENY] = "deny",         [DECISION_ENOSYS] = "enosys",
    [DECISION_ERROR] = "error",       [DECISION_DEFERRED] = "deferred",
    [DECISION_VIRTIOFS] = "virtiofs",
};

const char *decision_action_name(enum decision_action action)
{
	if ((unsigned)action >= ARRAY_SIZE(action_names) || !action_names[action])
		return "error";
	return action_names[action];
}

void decision_rule(struct decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->rule, sizeof(d->rule), fmt, ap);
	va_end(ap);
}

void decision_why(struct decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

int decision_fail(struct decision *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d->action == DECISION_NONE)
		d->action = DECISION_DENY;
	d->err = err;
	d->val = 0;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return -err;
}

void decision_ok(struct decision *d, int64_t val)
{
	d->err = 0;
	d->val = val;
}

void decision_continue(struct decision *d, const char *rule_fmt, ...)
{
	va_list ap;

	d->action = DECISION_CONTINUE;
	d->err = 0;
	d->val = 0;
	va_start(ap, rule_fmt);
	vsnprintf(d->rule, sizeof(d->rule), rule_fmt, ap);
	va_end(ap);
}
