/* SPDX-License-Identifier: MIT */
/*
 * One notification, in a worker: find its handler in the dispatch table,
 * let the handler decide, and answer with what it returned
 * (request_answer(), request.c).  Syscall numbers differ between
 * architectures, so the table is keyed by name: each (arch, nr) a filter
 * traps is resolved once through libseccomp to its slot in the table.
 */
#include "notifyd/supervise.h"
#include "notifyd/request.h"
#include "notifyd/mount_record.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A handler decides (and acts); its caller answers with what it returns. */
typedef struct decision handler_fn(struct request *rq);

static handler_fn new_mount_api, ioctl_dispatch, unhandled;

/* The syscalls notifyd answers; anything else a filter traps gets ENOSYS. */
enum trap {
	TRAP_MOUNT,
	TRAP_UMOUNT2,
	TRAP_UMOUNT,
	TRAP_IOCTL,
	TRAP_FSOPEN,
	TRAP_FSCONFIG,
	TRAP_FSMOUNT,
	TRAP_FSPICK,
	TRAP_MOVE_MOUNT,
	TRAP_OPEN_TREE,
	TRAP_MOUNT_SETATTR,
	TRAP_COUNT,
};

struct route {
	const char *syscall; /* libseccomp's name, also the decision line's syscall= */
	handler_fn *handle;
};

static const struct route routes[TRAP_COUNT] = {
    [TRAP_MOUNT] = {"mount", mount_request_handle},
    [TRAP_UMOUNT2] = {"umount2", umount_request_handle},
    [TRAP_UMOUNT] = {"umount", umount_request_handle},
    [TRAP_IOCTL] = {"ioctl", ioctl_dispatch},
    /* The new mount API: answered ENOSYS so libmount (util-linux >= 2.39) falls back to mount(2).
     */
    [TRAP_FSOPEN] = {"fsopen", new_mount_api},
    [TRAP_FSCONFIG] = {"fsconfig", new_mount_api},
    [TRAP_FSMOUNT] = {"fsmount", new_mount_api},
    [TRAP_FSPICK] = {"fspick", new_mount_api},
    [TRAP_MOVE_MOUNT] = {"move_mount", new_mount_api},
    [TRAP_OPEN_TREE] = {"open_tree", new_mount_api},
    [TRAP_MOUNT_SETATTR] = {"mount_setattr", new_mount_api},
};

/* ioctl(2) by request number: the seccomp rules trap the LOOP_* range only. */
static const struct ioctl_route {
	uint32_t first, last;
	handler_fn *handle;
} ioctl_routes[] = {
    {0x4C00, 0x4CFF, loop_request_handle}, /* LOOP_* and LOOP_CTL_* (docs/loop.md) */
};

static struct decision new_mount_api(struct request *rq)
{
	struct decision d = {.action = DECISION_ENOSYS, .err = ENOSYS};

	(void)rq;
	decision_rule(&d, "new mount API is not emulated; callers fall back to mount(2)");
	return d;
}

/* A rule file that traps more than notifyd handles: fail safe, never continue blindly. */
static struct decision unhandled(struct request *rq)
{
	struct decision d = {.action = DECISION_ENOSYS, .err = ENOSYS};

	(void)rq;
	decision_rule(&d, "syscall not handled by notifyd");
	return d;
}

static struct decision ioctl_dispatch(struct request *rq)
{
	uint32_t cmd = (uint32_t)rq->notif.data.args[1]; /* the kernel reads an unsigned int */
	struct decision d = {.action = DECISION_ENOSYS, .err = ENOSYS};

	for (size_t i = 0; i < ARRAY_SIZE(ioctl_routes); i++)
		if (cmd >= ioctl_routes[i].first && cmd <= ioctl_routes[i].last)
			return ioctl_routes[i].handle(rq);
	snprintf(rq->type, sizeof(rq->type), "0x%x", cmd);
	decision_rule(&d, "ioctl not handled by notifyd");
	return d;
}

/*
 * The table slot of (arch, nr), or TRAP_COUNT; *name is the syscall's name
 * for the log.  Per architecture the numbers of the table's syscalls are
 * resolved once; names of other syscalls (a filter that traps more) too.
 * A filter covers one or two architectures (native, compat); past four,
 * calls get ENOSYS rather than an unbounded cache.
 */
static enum trap trap_of(uint32_t arch, int nr, const char **name)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		uint32_t arch;
		int nr[TRAP_COUNT];
	} arches[4];
	static unsigned n_arches;
	static struct {
		uint32_t arch;
		int nr;
		char *name;
	} others[32];
	static unsigned n_others;
	unsigned a;
	int t = TRAP_COUNT;

	*name = NULL;
	pthread_mutex_lock(&lock);
	for (a = 0; a < n_arches && arches[a].arch != arch; a++)
		;
	if (a == n_arches && a < ARRAY_SIZE(arches)) {
		arches[a].arch = arch;
		for (int i = 0; i < TRAP_COUNT; i++)
			arches[a].nr[i] =
			    seccomp_syscall_resolve_name_arch(arch, routes[i].syscall);
		n_arches++;
	}
	for (int i = 0; a < n_arches && i < TRAP_COUNT && t == TRAP_COUNT; i++)
		if (arches[a].nr[i] >= 0 && arches[a].nr[i] == nr)
			t = i;
	if (t != TRAP_COUNT)
		*name = routes[t].syscall;
	for (unsigned i = 0; i < n_others && !*name; i++)
		if (others[i].arch == arch && others[i].nr == nr)
			*name = others[i].name;
	if (!*name) {
		char *found = seccomp_syscall_resolve_num_arch(arch, nr);
		if (found && n_others < ARRAY_SIZE(others)) {
			others[n_others].arch = arch;
			others[n_others].nr = nr;
			others[n_others++].name = found;
			*name = found;
		} else {
			free(found); /* full (cannot happen with sane rules) or unknown */
			*name = "unknown";
		}
	}
	pthread_mutex_unlock(&lock);
	return (enum trap)t;
}

/* The handler of a notification: one range check on the table slot. */
static handler_fn *handler_of(const struct seccomp_notif *notif, const char **name)
{
	enum trap t = trap_of(notif->data.arch, notif->data.nr, name);

	if ((unsigned)t >= TRAP_COUNT || !routes[t].handle)
		return unhandled;
	return routes[t].handle;
}

/* No memory for the request: answer ENOMEM from a request on the stack. */
static void answer_enomem(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc)
{
	struct request rq = {.c = c, .notif = *notif, .own_notify_fd = -EBADF};
	struct decision d = {.action = DECISION_ERROR};

	handler_of(notif, &rq.syscall);
	(void)target_open(&rq.t, notify_fd, notif); /* sets what the answer needs, even on error */
	rq.t.lxc = lxc;
	decision_fail(&d, ENOMEM, "out of memory");
	request_answer(&rq, &d);
}

void supervise_handle(struct container *c, const struct seccomp_notif *notif)
{
	supervise_handle_via(c, notif, c->notify_fd, NULL);
}

void supervise_handle_via(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc)
{
	_cleanup_free_ struct request *rq = calloc(1, sizeof(*rq));
	handler_fn *handle;
	struct decision d = {0};
	int r;

	if (!rq) {
		answer_enomem(c, notif, notify_fd, lxc);
		return;
	}
	rq->c = c;
	rq->notif = *notif;
	rq->t.procfd = -EBADF;
	rq->own_notify_fd = -EBADF;
	handle = handler_of(notif, &rq->syscall);
	r = target_open(&rq->t, notify_fd, notif);
	rq->t.lxc = lxc;
	if (r < 0) {
		d.action = DECISION_ERROR;
		decision_fail(&d, -r, "cannot inspect caller: %s", strerror(-r));
	} else {
		d = handle(rq);
	}
	/*
	 * Deferred: its new owner answers it (request_finish()) and may have
	 * freed it already, so rq is not touched again.
	 */
	if (d.action == DECISION_DEFERRED) {
		TAKE_PTR(rq);
		return;
	}
	request_answer(rq, &d);
}

bool supervise_quick(struct container *c, const struct seccomp_notif *notif)
{
	struct request rq = {.c = c, .notif = *notif, .t = {.procfd = -EBADF}};
	struct decision d = {0};
	bool idle;

	if (trap_of(notif->data.arch, notif->data.nr, &rq.syscall) != TRAP_UMOUNT2)
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
	rq.own_notify_fd = -EBADF;
	decision_continue(&d, "container has no notifyd mounts: the kernel decides");
	snprintf(rq.flags, sizeof(rq.flags), "0x%llx", (unsigned long long)notif->data.args[1]);
	request_answer(&rq, &d);
	return true;
}
