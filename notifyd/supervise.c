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
#include "notifyd/inflight.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/metrics.h"
#include "notifyd/view.h"
#include "notifyd/mount_record.h"
#include "notifyd/newapi_handle.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A handler decides (and acts); its caller answers with what it returns. */
typedef struct decision handler_fn(struct request *rq);

static handler_fn ioctl_dispatch, unhandled;

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
    /*
     * The new mount API (newapi_request.c, docs/new-mount-api.md): fsopen by
     * the profile's rule for the type; fsconfig, fsmount and move_mount on
     * handles notifyd made; fspick, open_tree and mount_setattr (trapped only
     * by broader rule files) continue: the kernel decides, as for mount(2)'s
     * bind, remount and propagation changes.
     */
    [TRAP_FSOPEN] = {"fsopen", newapi_request_handle},
    [TRAP_FSCONFIG] = {"fsconfig", newapi_request_handle},
    [TRAP_FSMOUNT] = {"fsmount", newapi_request_handle},
    [TRAP_FSPICK] = {"fspick", newapi_request_handle},
    [TRAP_MOVE_MOUNT] = {"move_mount", newapi_request_handle},
    [TRAP_OPEN_TREE] = {"open_tree", newapi_request_handle},
    [TRAP_MOUNT_SETATTR] = {"mount_setattr", newapi_request_handle},
};

/* ioctl(2) by request number: the seccomp rules trap the LOOP_* range only. */
static const struct ioctl_route {
	uint32_t first, last;
	handler_fn *handle;
} ioctl_routes[] = {
    {0x4C00, 0x4CFF, loop_request_handle}, /* LOOP_* and LOOP_CTL_* (docs/loop.md) */
};

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
                          const struct lxc_reply *lxc, struct inflight_slot *slot)
{
	struct request rq = {.c = c,
	                     .slot = slot,
	                     .notif = *notif,
	                     .own_notify_fd = -EBADF,
	                     .received_ns = metrics_now_ns()};
	struct decision d = {.action = DECISION_ERROR};

	handler_of(notif, &rq.syscall);
	(void)target_open(&rq.t, notify_fd, notif); /* sets what the answer needs, even on error */
	rq.t.lxc = lxc;
	decision_fail(&d, ENOMEM, "out of memory");
	request_answer(&rq, &d);
}

void supervise_handle(struct container *c, const struct seccomp_notif *notif,
                      struct inflight_slot *slot)
{
	supervise_handle_via(c, notif, c->notify_fd, NULL, slot);
}

/* Handle rq (c, notif, slot set), answer it unless deferred; frees rq when answered. */
static void handle_request(struct request *rq, int notify_fd, const struct lxc_reply *lxc)
{
	handler_fn *handle;
	struct decision d = {0};
	int r;

	inflight_set_current(rq->slot);
	rq->t.procfd = -EBADF;
	rq->own_notify_fd = -EBADF;
	handle = handler_of(&rq->notif, &rq->syscall);
	r = target_open(&rq->t, notify_fd, &rq->notif);
	rq->t.lxc = lxc;
	if (r < 0) {
		d.action = DECISION_ERROR;
		decision_fail(&d, -r, "cannot inspect caller: %s", strerror(-r));
	} else {
		d = handle(rq);
	}
	inflight_set_current(NULL);
	/*
	 * Deferred: its new owner answers it (request_finish()) and may have
	 * freed it already, so rq is not touched again.
	 */
	if (d.action == DECISION_DEFERRED)
		return;
	request_answer(rq, &d);
	free(rq);
}

void supervise_handle_via(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc, struct inflight_slot *slot)
{
	struct request *rq = calloc(1, sizeof(*rq));

	if (!rq) {
		answer_enomem(c, notif, notify_fd, lxc, slot);
		return;
	}
	rq->c = c;
	rq->slot = slot;
	rq->notif = *notif;
	rq->received_ns = metrics_now_ns();
	handle_request(rq, notify_fd, lxc);
}

bool supervise_quick(struct container *c, const struct seccomp_notif *notif,
                     struct inflight_slot *slot)
{
	struct request rq = {.c = c,
	                     .slot = slot,
	                     .notif = *notif,
	                     .t = {.procfd = -EBADF},
	                     .received_ns = metrics_now_ns()};
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
	/*
	 * With new-API handles, a worker's look (umount_request.c): a mount
	 * fsmount handed out may have been attached by a path, unseen.
	 */
	idle = idle && newapi_handle_count(c) == 0 && mount_record_count(c) == 0;
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

/* A request of the notifyd before us, handled again in a thread of its own. */
struct replay {
	struct request *rq;
	int notify_fd;         /* ours, closed when done */
	struct lxc_reply *lxc; /* ours, or NULL */
};

static void *replay_thread(void *arg)
{
	struct replay *rp = arg;
	struct request *rq = rp->rq;
	struct container *c = rq->c;
	int r = view_thread_init();

	if (r < 0) {
		log_error("replay: unshare(CLONE_FS): %s", strerror(-r));
		abort(); /* a thread sharing root/cwd with others must never enter a view */
	}
	handle_request(rq, rp->notify_fd, rp->lxc); /* answers and frees rq, unless deferred */
	safe_close(rp->notify_fd);
	free(rp->lxc);
	free(rp);
	pthread_mutex_lock(&c->lock);
	c->pending--;
	pthread_mutex_unlock(&c->lock);
	container_unref(c);
	return NULL;
}

/*
 * A request answered from its log entry: its arguments for the decision
 * line (the caller still waits in the call, they are where they were), and
 * a mount attached before our predecessor recorded it becomes a record.
 */
static void recovered_record(struct request *rq)
{
	enum inflight_stage stage = atomic_load(&rq->slot->stage);
	uint64_t mnt_id = rq->slot->arg[0], ns = rq->slot->arg[1], old = 0;
	const struct seccomp_data *a = &rq->notif.data;

	if (strcmp(rq->syscall, "mount") == 0) {
		(void)target_read_string(&rq->t, a->args[2], rq->type, sizeof(rq->type), NULL);
		(void)target_read_string(&rq->t, a->args[0], rq->source, sizeof(rq->source), NULL);
		(void)target_read_string(&rq->t, a->args[1], rq->target, sizeof(rq->target), NULL);
	} else if (strncmp(rq->syscall, "umount", 6) == 0) {
		(void)target_read_string(&rq->t, a->args[0], rq->target, sizeof(rq->target), NULL);
	}
	if ((stage != INFLIGHT_MOUNT_ATTACHING && stage != INFLIGHT_MOUNT_ATTACHED) ||
	    mount_record_owns(rq->c, mnt_id))
		return;
	(void)mount_record_old_id(mnt_id, ns, &old);
	if (mount_record_add(rq->c, mnt_id, old, rq->type, rq->source, rq->target) < 0) {
		char tbuf[PATH_MAX];
		log_warn("%s: mount at %s made but not recorded", rq->c->id,
		         log_printable(rq->target, tbuf, sizeof(tbuf)));
	}
}

void supervise_recovered(struct container *c, struct inflight_slot *slot, int notify_fd,
                         const struct decision *d)
{
	struct request *rq = calloc(1, sizeof(*rq));
	struct replay *rp = calloc(1, sizeof(*rp));
	struct lxc_reply *lxc = NULL;
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int fd = -EBADF, r;

	if (rq && slot->lxc) {
		lxc = malloc(sizeof(*lxc));
		if (lxc) {
			*lxc = slot->reply;
			lxc->sock = c->lxc_sock;
		}
	}
	if (rq)
		fd = fcntl(notify_fd, F_DUPFD_CLOEXEC, 3);
	if (!rq || !rp || fd < 0 || (slot->lxc && !lxc)) {
		safe_close(fd);
		free(rq);
		free(rp);
		free(lxc);
		/* inflight_recover() set the reply's socket */
		answer_enomem(c, &slot->notif, notify_fd, slot->lxc ? &slot->reply : NULL, slot);
		return;
	}
	rq->c = c;
	rq->slot = slot;
	rq->notif = slot->notif;
	if (d) {
		rq->syscall = "unknown";
		handler_of(&rq->notif, &rq->syscall);
		rq->t.procfd = -EBADF;
		rq->own_notify_fd = -EBADF;
		(void)target_open(&rq->t, fd, &rq->notif);
		rq->t.lxc = lxc;
		recovered_record(rq);
		request_answer(rq, d);
		safe_close(fd);
		free(lxc);
		free(rq);
		free(rp);
		return;
	}
	/* Handled again from its copy: what the stage named was rolled back. */
	inflight_mark_slot(slot, INFLIGHT_NONE, 0, 0);
	slot->arg[2] = slot->arg[3] = 0;
	rp->rq = rq;
	rp->notify_fd = fd;
	rp->lxc = lxc;
	container_ref(c);
	pthread_mutex_lock(&c->lock);
	c->pending++;
	pthread_mutex_unlock(&c->lock);
	sigfillset(&all); /* signals stay with the main thread */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&thread, &attr, replay_thread, rp);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		log_warn("container %s: no thread to handle a recovered request again: %s", c->id,
		         strerror(r));
		/* Not in the main thread, whose root and cwd are notifyd's own: EAGAIN. */
		struct decision e = {.action = DECISION_ERROR};

		decision_fail(&e, EAGAIN, "no thread to handle a recovered request again");
		rq->t.procfd = -EBADF;
		rq->own_notify_fd = -EBADF;
		handler_of(&rq->notif, &rq->syscall);
		(void)target_open(&rq->t, fd, &rq->notif);
		rq->t.lxc = lxc;
		request_answer(rq, &e);
		free(rq);
		rp->rq = NULL;
		safe_close(fd);
		free(lxc);
		free(rp);
		pthread_mutex_lock(&c->lock);
		c->pending--;
		pthread_mutex_unlock(&c->lock);
		container_unref(c);
	}
}
