/* SPDX-License-Identifier: MIT */
#include "notifyd/supervise.h"
#include "notifyd/request.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/mount_record.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t totals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct supervise_totals totals;

/* The new mount API: answered ENOSYS so libmount (util-linux >= 2.39) falls back to mount(2). */
static const char *const new_mount_api[] = {
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
};

/*
 * Syscall names by (arch, nr), resolved once through libseccomp and kept:
 * only the handful of syscalls a filter traps ever show up here.
 */
static const char *syscall_name(uint32_t arch, int nr)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		uint32_t arch;
		int nr;
		char *name;
	} cache[32];
	static unsigned n_cache;
	const char *found = NULL;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < n_cache && !found; i++)
		if (cache[i].arch == arch && cache[i].nr == nr)
			found = cache[i].name;
	if (!found) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);
		if (name && n_cache < ARRAY_SIZE(cache)) {
			cache[n_cache].arch = arch;
			cache[n_cache].nr = nr;
			cache[n_cache++].name = name;
			found = name;
		} else {
			free(name); /* full (cannot happen with sane rules) or unknown */
			found = "unknown";
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void request_deny(struct request *rq, int err, const char *fmt, ...)
{
	va_list ap;

	rq->answer = ANSWER_ERRNO;
	rq->err = err;
	if (!rq->action)
		rq->action = "deny";
	va_start(ap, fmt);
	vsnprintf(rq->detail, sizeof(rq->detail), fmt, ap);
	va_end(ap);
}

void request_set_rule(struct request *rq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->rule, sizeof(rq->rule), fmt, ap);
	va_end(ap);
}

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

static void log_decision(const struct request *rq, int send_err)
{
	char line[3 * PATH_MAX];
	char pid[16], val[24];
	const char *result;
	size_t len = 0;

	if (!log_enabled(LOG_LVL_INFO))
		return;
	snprintf(pid, sizeof(pid), "%u", rq->notif.pid);
	if (rq->answer == ANSWER_CONTINUE)
		result = "continue";
	else if (rq->err)
		result = strerrorname_np(rq->err) ?: "error";
	else if (rq->val) {
		snprintf(val, sizeof(val), "%lld", (long long)rq->val);
		result = val;
	} else
		result = "ok";
	line[0] = '\0';
	len = put_kv(line, len, sizeof(line), "id", rq->c->id);
	len = put_kv(line, len, sizeof(line), "pid", pid);
	len = put_kv(line, len, sizeof(line), "syscall", rq->syscall);
	if (rq->type[0] || strcmp(rq->syscall, "mount") == 0)
		len = put_kv(line, len, sizeof(line), "type", rq->type);
	if (strcmp(rq->syscall, "mount") == 0)
		len = put_kv(line, len, sizeof(line), "source", rq->source);
	if (rq->target[0])
		len = put_kv(line, len, sizeof(line), "target", rq->target);
	if (rq->flags[0])
		len = put_kv(line, len, sizeof(line), "flags", rq->flags);
	if (rq->data[0])
		len = put_kv(line, len, sizeof(line), "data", rq->data);
	len = put_kv(line, len, sizeof(line), "action", rq->action ?: "error");
	len = put_kv(line, len, sizeof(line), "rule", rq->rule[0] ? rq->rule : "none");
	len = put_kv(line, len, sizeof(line), "result", result);
	if (rq->detail[0])
		len = put_kv(line, len, sizeof(line), "why", rq->detail);
	if (send_err == -ENOENT)
		put_kv(line, len, sizeof(line), "caller", "gone");
	else if (send_err == -ETIMEDOUT && rq->t.lxc) /* not sent, see lxc_proxy.h */
		put_kv(line, len, sizeof(line), "caller", "lxc-timeout");
	log_info("decision%s", line);
}

static void count(struct request *rq, int send_err)
{
	uint64_t *mine, *all;

	if (rq->answer == ANSWER_CONTINUE) {
		mine = &rq->c->counters.continued;
		all = &totals.continued;
	} else if (rq->action && strcmp(rq->action, "enosys") == 0) {
		mine = &rq->c->counters.enosys;
		all = &totals.enosys;
	} else if (rq->action && strcmp(rq->action, "deny") == 0) {
		mine = &rq->c->counters.denied;
		all = &totals.denied;
	} else if (rq->err == 0) {
		mine = &rq->c->counters.kernel;
		all = &totals.kernel;
	} else {
		mine = &rq->c->counters.failed;
		all = &totals.failed;
	}
	pthread_mutex_lock(&rq->c->lock);
	rq->c->counters.requests++;
	(*mine)++;
	pthread_mutex_unlock(&rq->c->lock);
	pthread_mutex_lock(&totals_lock);
	totals.requests++;
	(*all)++;
	if (send_err == -ENOENT)
		totals.callers_gone++;
	pthread_mutex_unlock(&totals_lock);
}

static void answer(struct request *rq);

/* The request this worker handed to another thread (supervise_defer). */
static __thread struct request *deferred_here;

static void dispatch(struct request *rq)
{
	if (strcmp(rq->syscall, "mount") == 0) {
		mount_request_handle(rq);
		return;
	}
	if (strcmp(rq->syscall, "umount2") == 0 || strcmp(rq->syscall, "umount") == 0) {
		umount_request_handle(rq);
		return;
	}
	if (strcmp(rq->syscall, "ioctl") == 0) {
		loop_request_handle(rq);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(new_mount_api); i++)
		if (strcmp(rq->syscall, new_mount_api[i]) == 0) {
			rq->action = "enosys";
			request_set_rule(
			    rq, "new mount API is not emulated; callers fall back to mount(2)");
			rq->answer = ANSWER_ERRNO;
			rq->err = ENOSYS;
			return;
		}
	/* A rule file that traps more than notifyd handles: fail safe, never continue blindly. */
	rq->action = "enosys";
	request_set_rule(rq, "syscall not handled by notifyd");
	rq->answer = ANSWER_ERRNO;
	rq->err = ENOSYS;
}

void supervise_handle(struct container *c, const struct seccomp_notif *notif)
{
	supervise_handle_via(c, notif, c->notify_fd, NULL);
}

void supervise_handle_via(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc)
{
	_cleanup_free_ struct request *rq = calloc(1, sizeof(*rq));
	int r;

	if (!rq) {
		struct target t;
		if (target_open(&t, notify_fd, notif) == 0) {
			t.lxc = lxc;
			target_respond_error(&t, ENOMEM);
		}
		log_warn("decision id=%s pid=%u action=error result=ENOMEM", c->id, notif->pid);
		return;
	}
	rq->c = c;
	rq->notif = *notif;
	rq->t.procfd = -EBADF;
	rq->syscall = syscall_name(notif->data.arch, notif->data.nr);

	rq->own_notify_fd = -EBADF;
	r = target_open(&rq->t, notify_fd, notif);
	rq->t.lxc = lxc;
	if (r < 0) {
		rq->action = "error";
		request_deny(rq, -r, "cannot inspect caller: %s", strerror(-r));
	} else {
		dispatch(rq);
	}
	/*
	 * Deferred: its new owner answers it (supervise_finish()) and may have
	 * freed it already, so only the pointer is compared, never read.
	 */
	if (deferred_here == rq) {
		deferred_here = NULL;
		TAKE_PTR(rq);
		return;
	}
	answer(rq);
}

int supervise_defer(struct request *rq)
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
	deferred_here = rq;
	return 0;
}

void supervise_finish(struct request *rq)
{
	struct container *c = rq->c;

	answer(rq);
	safe_close(rq->own_notify_fd);
	free(rq->own_reply);
	free(rq);
	pthread_mutex_lock(&c->lock);
	c->pending--;
	pthread_mutex_unlock(&c->lock);
	container_unref(c);
}

/* Answer rq exactly once, count it, log its decision line. */
static void answer(struct request *rq)
{
	int send_err;

	if (rq->answer == ANSWER_CONTINUE)
		send_err = target_respond_continue(&rq->t);
	else if (rq->err == 0 && rq->val)
		send_err = target_respond_value(&rq->t, rq->val);
	else
		send_err = target_respond_error(&rq->t, rq->err);
	if (send_err < 0 && send_err != -ENOENT)
		log_warn("answering request %llu of %s failed: %s",
		         (unsigned long long)rq->notif.id, rq->c->id, strerror(-send_err));
	target_close(&rq->t);
	count(rq, send_err);
	log_decision(rq, send_err);
}

bool supervise_quick(struct container *c, const struct seccomp_notif *notif)
{
	const char *name = syscall_name(notif->data.arch, notif->data.nr);
	struct request rq = {.c = c, .notif = *notif, .t = {.procfd = -EBADF}};
	bool idle;
	int send_err;

	if (strcmp(name, "umount2") != 0)
		return false;
	/*
	 * A container with no notifyd mounts and nothing in flight has no record
	 * an umount2 could make stale: the kernel decides, without notifyd
	 * reading anything of the caller's.
	 */
	pthread_mutex_lock(&c->lock);
	idle = c->pending == 0;
	pthread_mutex_unlock(&c->lock);
	idle = idle && mount_record_count(c) == 0;
	if (!idle)
		return false;
	if (target_open(&rq.t, c->notify_fd, notif) < 0)
		return false;
	rq.syscall = name;
	rq.action = "continue";
	rq.answer = ANSWER_CONTINUE;
	request_set_rule(&rq, "container has no notifyd mounts: the kernel decides");
	snprintf(rq.flags, sizeof(rq.flags), "0x%llx", (unsigned long long)notif->data.args[1]);
	send_err = target_respond_continue(&rq.t);
	count(&rq, send_err);
	log_decision(&rq, send_err);
	return true;
}

void supervise_totals(struct supervise_totals *ret)
{
	pthread_mutex_lock(&totals_lock);
	*ret = totals;
	pthread_mutex_unlock(&totals_lock);
}
