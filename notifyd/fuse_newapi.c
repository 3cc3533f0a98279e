/* SPDX-License-Identifier: MIT */
/*
 * FSCONFIG_CMD_CREATE of the fuse action through the new mount API
 * (fuse_newapi.h): the bridge between the new-API registry
 * (newapi_handle.c, newapi_request.c) and the fuse action's start-up
 * (fuse_action_create()).  The start-up runs in a thread of its own and
 * answers the request; it tells us the outcome exactly once (created()),
 * and only then is the context created or failed, so a call on it in the
 * meantime gets the kernel's EBUSY of a context being created.
 */
#include "notifyd/fuse_newapi.h"
#include "notifyd/container.h"
#include "notifyd/fuse_action.h"
#include "notifyd/ns_child.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/nsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long the helper that opens a FUSE mount's root may take. */
#define OPEN_ROOT_TIMEOUT_MS 5000

/* What the start-up holds until created(): a reference on c and on h. */
struct create_ref {
	struct container *c;
	struct newapi_handle *h;
};

/* The start-up's outcome: h becomes created (it takes mnt_fd) or failed. */
static int on_created(struct request *rq, int mnt_fd, uint64_t mnt_id, void *userdata)
{
	struct create_ref *cr = userdata;
	struct newapi_handle *h = cr->h;

	/* Failed because the caller was interrupted or gone: as for kernel
	 * (newapi_request.c), a restarted CMD_CREATE finds the parameters. */
	bool interrupted = mnt_fd < 0 && target_valid(&rq->t) < 0;

	(void)mnt_id; /* the daemon is found again by its superblock (fuse_daemon_set_target) */
	pthread_mutex_lock(&h->lock);
	h->mnt_fd = mnt_fd >= 0 ? mnt_fd : -EBADF;
	h->state = mnt_fd >= 0 ? NEWAPI_CREATED : interrupted ? NEWAPI_PARAMS : NEWAPI_FAILED;
	pthread_mutex_unlock(&h->lock);
	newapi_handle_put(cr->c, h);
	container_unref(cr->c);
	free(cr);
	return 0;
}

void fuse_newapi_create(struct request *rq, struct newapi_handle *h, const struct profile *p,
                        const struct profile_fs *fs, struct decision *d)
{
	struct create_ref *cr = calloc(1, sizeof(*cr));
	size_t n;

	d->action = DECISION_FUSE;
	/* fsconfig(SET_FLAG, "ro") is mount(2)'s MS_RDONLY: for the program, `ro`. */
	n = strlen(rq->data);
	if (!cr || ((h->sb_flags & MS_RDONLY) && n + 4 > sizeof(rq->data))) {
		int err = cr ? EINVAL : ENOMEM;

		free(cr);
		pthread_mutex_lock(&h->lock);
		h->state = NEWAPI_FAILED;
		pthread_mutex_unlock(&h->lock);
		decision_fail(d, err, "%s",
		              err == ENOMEM ? "out of memory" : "options longer than a page");
		return;
	}
	if (h->sb_flags & MS_RDONLY)
		snprintf(rq->data + n, sizeof(rq->data) - n, "%sro", n ? "," : "");
	/* The start-up may outlive this request's worker, and the context its fd. */
	cr->c = rq->c;
	container_ref(cr->c);
	pthread_mutex_lock(&cr->c->lock); /* newapi_handle.h: refs under the container's lock */
	h->refs++;
	pthread_mutex_unlock(&cr->c->lock);
	cr->h = h;
	fuse_action_create(rq, p, fs, on_created, cr, d);
}

struct open_root_args {
	int tree, userns;
	const char *name;
	int flags;
};

/* In the helper (async-signal-safe): open the root as a member of the FUSE mount's user namespace.
 */
static __attribute__((noreturn)) void open_root_child(void *arg, int sock)
{
	const struct open_root_args *a = arg;
	int fd;

	/* FUSE serves only ids mapped in its user namespace (else EOVERFLOW):
	 * become its root, as the mounter that made the mount was.  Raw calls:
	 * glibc's wrappers broadcast to threads through a lock. */
	if (syscall(SYS_setgroups, 0, NULL) < 0 || setns(a->userns, CLONE_NEWUSER) < 0 ||
	    syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
		ns_child_report(sock, errno, 1, 0, -1);
	prctl(PR_SET_DUMPABLE, 0);
	fd = openat(a->tree, a->name, a->flags);
	if (fd < 0)
		ns_child_report(sock, errno, 2, 0, -1);
	ns_child_report(sock, 0, 0, 0, fd);
}

int fuse_newapi_open_root(int tree_fd, int procfd)
{
	_cleanup_close_ int userns = ns_open_at(procfd, "user");

	if (userns < 0)
		return userns;
	return fuse_newapi_open_at(tree_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, userns);
}

int fuse_newapi_open_at(int tree_fd, const char *name, int flags, int userns)
{
	struct open_root_args a = {.tree = tree_fd, .userns = userns, .name = name, .flags = flags};
	const int keep[] = {tree_fd, userns};
	struct ns_child_msg m;
	int fd = -EBADF, r;

	/* Not NS_CHILD_SHARE_MM: the helper changes its ids. */
	r = ns_child_run(-1, 0, keep, ARRAY_SIZE(keep), open_root_child, &a, OPEN_ROOT_TIMEOUT_MS,
	                 &m, &fd);
	if (r < 0)
		return r;
	if (m.err) {
		safe_close(fd);
		return -m.err;
	}
	return fd >= 0 ? fd : -EIO;
}
