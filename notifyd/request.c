/* SPDX-License-Identifier: MIT */
/*
 * The one answer of a request (request.h): request_answer() is the only
 * place that sends an answer, counts it and logs the decision line -- for
 * requests answered by their worker and for deferred ones (FUSE start-ups)
 * alike.
 */
#include "notifyd/request.h"
#include "notifyd/inflight.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/metrics.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Append key=value, quoting values a reader or a script could misparse. */
static size_t put_kv(char *buf, size_t len, size_t size, const char *key, const char *val)
{
	bool quote = !*val || strpbrk(val, " \t\"\\=") != NULL;

	if (len >= size)
		return len;
	len += (size_t)snprintf(buf + len, size - len, " %s=%s", key, quote ? "\"" : "");
	for (const unsigned char *p = (const unsigned char *)val; *p && len + 5 < size; p++) {
		if (*p == '"' || *p == '\\')
			len += (size_t)snprintf(buf + len, size - len, "\\%c", *p);
		else if (!isprint(*p))
			len += (size_t)snprintf(buf + len, size - len, "\\x%02x", *p);
		else
			buf[len++] = (char)*p;
	}
	if (quote && len + 1 < size)
		buf[len++] = '"';
	buf[len < size ? len : size - 1] = '\0';
	return len;
}

static void log_decision(const struct request *rq, const struct decision *d, int send_err)
{
	char line[3 * PATH_MAX];
	char pid[16], val[24];
	const char *result;
	size_t len = 0;

	if (!log_enabled(LOG_LVL_INFO))
		return;
	snprintf(pid, sizeof(pid), "%u", rq->notif.pid);
	if (d->action == DECISION_CONTINUE)
		result = "continue";
	else if (d->err)
		result = strerrorname_np(d->err) ?: "error";
	else if (d->val) {
		snprintf(val, sizeof(val), "%lld", (long long)d->val);
		result = val;
	} else
		result = "ok";
	line[0] = '\0';
	len = put_kv(line, len, sizeof(line), "id", rq->c->id);
	len = put_kv(line, len, sizeof(line), "pid", pid);
	len = put_kv(line, len, sizeof(line), "syscall", rq->syscall);
	if (rq->type[0] || strcmp(rq->syscall, "mount") == 0)
		len = put_kv(line, len, sizeof(line), "type", rq->type);
	if (strcmp(rq->syscall, "mount") == 0 ||
	    (rq->source[0] &&
	     (strcmp(rq->syscall, "fsconfig") == 0 || strcmp(rq->syscall, "fsmount") == 0 ||
	      strcmp(rq->syscall, "move_mount") == 0)))
		len = put_kv(line, len, sizeof(line), "source", rq->source);
	if (rq->target[0])
		len = put_kv(line, len, sizeof(line), "target", rq->target);
	if (rq->flags[0])
		len = put_kv(line, len, sizeof(line), "flags", rq->flags);
	if (rq->data[0])
		len = put_kv(line, len, sizeof(line), "data", rq->data);
	len = put_kv(line, len, sizeof(line), "action", decision_action_name(d->action));
	len = put_kv(line, len, sizeof(line), "rule", d->rule[0] ? d->rule : "none");
	len = put_kv(line, len, sizeof(line), "result", result);
	if (d->why[0])
		len = put_kv(line, len, sizeof(line), "why", d->why);
	if (send_err == -ENOENT)
		put_kv(line, len, sizeof(line), "caller", "gone");
	else if (send_err == -ETIMEDOUT && rq->t.lxc) /* not sent, see lxc_proxy.h */
		put_kv(line, len, sizeof(line), "caller", "lxc-timeout");
	log_info("decision%s", line);
}

static void count(struct request *rq, const struct decision *d, int send_err)
{
	enum inflight_total all;
	uint64_t *mine;

	if (d->action == DECISION_CONTINUE) {
		mine = &rq->c->counters.continued;
		all = INFLIGHT_T_CONTINUED;
	} else if (d->action == DECISION_ENOSYS) {
		mine = &rq->c->counters.enosys;
		all = INFLIGHT_T_ENOSYS;
	} else if (d->action == DECISION_DENY) {
		mine = &rq->c->counters.denied;
		all = INFLIGHT_T_DENIED;
	} else if (d->err == 0) {
		mine = &rq->c->counters.kernel;
		all = INFLIGHT_T_KERNEL;
	} else {
		mine = &rq->c->counters.failed;
		all = INFLIGHT_T_FAILED;
	}
	pthread_mutex_lock(&rq->c->lock);
	rq->c->counters.requests++;
	(*mine)++;
	pthread_mutex_unlock(&rq->c->lock);
	/*
	 * In the log's header: a successor goes on counting from there.  One
	 * increment per request (requests: their sum), so a notifyd killed
	 * anywhere leaves totals that add up.
	 */
	inflight_count(all);
	if (send_err == -ENOENT)
		inflight_count(INFLIGHT_T_CALLERS_GONE);
}

void request_answer(struct request *rq, const struct decision *d)
{
	int send_err;

	inflight_crash_point("before-answer");
	if (d->answered)
		send_err = 0;
	else if (d->action == DECISION_CONTINUE)
		send_err = target_respond_continue(&rq->t);
	else if (d->err == 0 && d->val)
		send_err = target_respond_value(&rq->t, d->val);
	else
		send_err = target_respond_error(&rq->t, d->err);
	if (send_err < 0 && send_err != -ENOENT)
		log_warn("answering request %llu of %s failed: %s",
		         (unsigned long long)rq->notif.id, rq->c->id, strerror(-send_err));
	/*
	 * Answered (or its caller is gone): its log entry goes.  Dying before
	 * this is harmless, a successor finds the id no longer pending.
	 */
	inflight_free(rq->slot);
	rq->slot = NULL;
	target_close(&rq->t);
	count(rq, d, send_err);
	metrics_count_request(rq->syscall, d, send_err, rq->received_ns);
	log_decision(rq, d, send_err);
}

int request_defer(struct request *rq)
{
	struct lxc_reply *copy = NULL;
	int fd;

	fd = fcntl(rq->t.notify_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	if (rq->t.lxc) {
		copy = malloc(sizeof(*copy));
		if (!copy) {
			close(fd);
			return -ENOMEM;
		}
		*copy = *rq->t.lxc; /* its socket is the container's: our reference keeps it */
	}
	container_ref(rq->c);
	pthread_mutex_lock(&rq->c->lock);
	rq->c->pending++;
	pthread_mutex_unlock(&rq->c->lock);
	rq->own_notify_fd = fd;
	rq->t.notify_fd = fd;
	rq->own_reply = copy;
	if (copy)
		rq->t.lxc = copy;
	return 0;
}

void request_finish(struct request *rq, const struct decision *d)
{
	struct container *c = rq->c;

	request_answer(rq, d);
	safe_close(rq->own_notify_fd);
	free(rq->own_reply);
	free(rq);
	pthread_mutex_lock(&c->lock);
	c->pending--;
	pthread_mutex_unlock(&c->lock);
	container_unref(c);
}

void request_totals(struct request_totals *ret)
{
	ret->kernel = inflight_total(INFLIGHT_T_KERNEL);
	ret->continued = inflight_total(INFLIGHT_T_CONTINUED);
	ret->denied = inflight_total(INFLIGHT_T_DENIED);
	ret->enosys = inflight_total(INFLIGHT_T_ENOSYS);
	ret->failed = inflight_total(INFLIGHT_T_FAILED);
	ret->requests = ret->kernel + ret->continued + ret->denied + ret->enosys + ret->failed;
	ret->callers_gone = inflight_total(INFLIGHT_T_CALLERS_GONE);
	ret->recovered = inflight_total(INFLIGHT_T_RECOVERED);
}
