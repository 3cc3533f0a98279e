/* SPDX-License-Identifier: MIT */
#include "notifyd/fuse_daemon.h"
#include "notifyd/fd_store.h"
#include "notifyd/mount_record.h"
#include "notifyd/state.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libmount/libmount.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct daemon_rec {
	struct daemon_rec *next;
	enum fuse_daemon_kind kind;
	struct container *c; /* referenced */
	int pidfd, stderr_fd, mntns_fd;
	pid_t pid;
	uint64_t mnt_id, mnt_id_old;
	dev_t dev; /* its superblock (new mount API: fuse_daemon_set_target()), or 0 */
	char *program, *target;
	char *source, *options; /* vfsd shares only */
	bool killed;            /* sweep_orphans() signalled it; under state.lock */
	bool adopted;           /* from a notifyd before us: perhaps not our child any more */
	bool vanished;          /* adopted, but it exited while no notifyd ran */
	uint64_t start;         /* its start time (/proc/PID/stat), to know it after a restart */
	uint64_t started;
	char line[512]; /* partial output line */
	size_t line_len;
};

/* epoll data: the record pointer, low bit set for its stderr pipe. */
#define TAG_ERR 1UL

/* What fuse_daemon.c keeps for one container entry (its container_resource). */
struct fuse_res {
	struct container_resource base;
	unsigned n; /* daemons running or starting: reserved, under state.lock */
};

/* The module's state.  Lock order: a container's lock, then state.lock. */
static struct {
	pthread_mutex_t lock; /* protects recs, every fuse_res's n, and pairs with freed */
	pthread_cond_t freed; /* some fuse_res's n went down */
	struct daemon_rec *recs;
	pthread_once_t once; /* starts the supervisor thread on the first daemon */
	int start_error;     /* why it could not start: -errno, written once */
	pthread_t thread;    /* the supervisor: owns epfd and every record's fds */
	bool thread_running;
	int epfd, stop_fd; /* the supervisor's epoll set and its stop eventfd */
	int host_mntns;    /* to come back from a container's mount namespace */
	int self_task;     /* the supervisor's own /proc/thread-self */
} state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .freed = PTHREAD_COND_INITIALIZER,
    .once = PTHREAD_ONCE_INIT,
    .epfd = -EBADF,
    .stop_fd = -EBADF,
    .host_mntns = -EBADF,
    .self_task = -EBADF,
};

static void fuse_res_gone(struct container *c, struct container_resource *res, bool last);
static unsigned fuse_res_count(struct container *c, const struct container_resource *res);
static struct json_object *fuse_res_save(struct container *c, struct container_resource *res);
static void fuse_res_release(struct container_resource *res)
{
	free(res); /* its daemons held references on the entry: none is left */
}

/* One resource per kind: each has its own count under its own name. */
static const struct container_resource_ops fuse_res_ops[_FUSE_DAEMON_KIND_MAX] = {
    [FUSE_DAEMON_PROGRAM] =
        {
            .name = "fuse-daemons",
            .gone = fuse_res_gone,
            .count = fuse_res_count,
            .release = fuse_res_release,
            .save = fuse_res_save,
        },
    [FUSE_DAEMON_VFSD] =
        {
            .name = "vfsd-shares",
            .gone = fuse_res_gone,
            .count = fuse_res_count,
            .release = fuse_res_release,
            .save = fuse_res_save,
        },
};

/* What the log calls a daemon of each kind. */
static const char *const kind_noun[_FUSE_DAEMON_KIND_MAX] = {
    [FUSE_DAEMON_PROGRAM] = "FUSE daemon",
    [FUSE_DAEMON_VFSD] = "share daemon",
};

static struct fuse_res *fuse_res_of(struct container *c, enum fuse_daemon_kind kind)
{
	return (struct fuse_res *)container_resource(c, &fuse_res_ops[kind],
	                                             sizeof(struct fuse_res));
}

static unsigned fuse_res_count(struct container *c, const struct container_resource *res)
{
	unsigned n;

	(void)c;
	pthread_mutex_lock(&state.lock);
	n = ((const struct fuse_res *)res)->n;
	pthread_mutex_unlock(&state.lock);
	return n;
}

/*
 * Share daemons are counted per container, not per entry: those running for
 * other entries of the same container (each `runc exec` hands over an entry
 * of its own) count too.  Under state.lock.
 */
static unsigned others_of(const struct container *c, enum fuse_daemon_kind kind)
{
	unsigned n = 0;

	if (kind != FUSE_DAEMON_VFSD)
		return 0;
	for (const struct daemon_rec *d = state.recs; d; d = d->next)
		n += d->kind == kind && d->c != c && d->c->init_pid == c->init_pid &&
		     !strcmp(d->c->id, c->id);
	return n;
}

int fuse_daemon_reserve(struct container *c, enum fuse_daemon_kind kind, unsigned max)
{
	struct fuse_res *fr = fuse_res_of(c, kind);
	struct timespec until;
	int r = -ENOSPC;

	if (!fr)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	/*
	 * The count and the condition variable are under one mutex: an
	 * unreserve between our test and our wait cannot be missed.
	 */
	pthread_mutex_lock(&state.lock);
	for (bool timed_out = false;;) {
		if (fr->n + others_of(c, kind) < max) {
			fr->n++;
			r = 0;
			break;
		}
		/*
		 * "umount; mount" must not fail because the first daemon is still
		 * flushing: wait (bounded) for one of the container's daemons to
		 * exit.  Not only for those whose mount notifyd saw go: the kernel
		 * may have unmounted one itself (a umount2 notifyd did not
		 * recognise as its own is left to the kernel), and its record stays
		 * until the daemon exits.  After the deadline the count is looked
		 * at once more: a daemon that exited just then still counts as gone.
		 */
		if (timed_out)
			break;
		timed_out = pthread_cond_timedwait(&state.freed, &state.lock, &until) == ETIMEDOUT;
	}
	pthread_mutex_unlock(&state.lock);
	return r;
}

void fuse_daemon_unreserve(struct container *c, enum fuse_daemon_kind kind)
{
	struct fuse_res *fr = (struct fuse_res *)container_resource_find(
	    c, &fuse_res_ops[kind]); /* reserved: there */

	pthread_mutex_lock(&state.lock);
	fr->n--;
	pthread_cond_broadcast(&state.freed);
	pthread_mutex_unlock(&state.lock);
}

/*
 * The fd store's name of d's output pipe: its read end must outlive notifyd,
 * or the daemon's next write gets EPIPE (SIGPIPE) while no notifyd runs.
 */
static void stderr_name(const struct daemon_rec *d, char *buf, size_t size)
{
	snprintf(buf, size, "e.%" PRIu64 ".%d", d->c->key, (int)d->pid);
}

/* The output pipe is closed (EOF, or the record goes): the store lets go of it too. */
static void stderr_forget(struct daemon_rec *d)
{
	char name[48];

	if (d->stderr_fd < 0)
		return;
	stderr_name(d, name, sizeof(name));
	fdstore_remove(name);
}

/*
 * notifyd is stopping: records are freed, but the daemons run on and a
 * successor takes them over as they are (state file and stored pipe kept).
 */
static bool stopping;

/* The record is off state.recs: free it, and save its entry without it. */
static void rec_free(struct daemon_rec *d)
{
	if (!stopping)
		stderr_forget(d);
	safe_close(d->pidfd);
	safe_close(d->stderr_fd);
	safe_close(d->mntns_fd);
	fuse_daemon_unreserve(d->c, d->kind);
	if (!stopping)
		container_save(d->c);
	container_unref(d->c);
	free(d->program);
	free(d->target);
	free(d->source);
	free(d->options);
	free(d);
}

static void flush_output(struct daemon_rec *d, bool all)
{
	char buf[1024];
	ssize_t n;

	if (d->stderr_fd < 0)
		return;
	while ((n = read(d->stderr_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || d->line_len + 1 >= sizeof(d->line)) {
				d->line[d->line_len] = '\0';
				log_info("%s: %s[%d]: %s", d->c->id, d->program, (int)d->pid,
				         d->line);
				d->line_len = 0;
				if (buf[i] == '\n')
					continue;
			}
			d->line[d->line_len++] = buf[i];
		}
	}
	if ((n == 0 || all) && d->line_len) {
		d->line[d->line_len] = '\0';
		log_info("%s: %s[%d]: %s", d->c->id, d->program, (int)d->pid, d->line);
		d->line_len = 0;
	}
	if (n == 0) { /* every writer closed it */
		epoll_ctl(state.epfd, EPOLL_CTL_DEL, d->stderr_fd, NULL);
		stderr_forget(d);
		d->stderr_fd = safe_close(d->stderr_fd);
	}
}

/* mnt_table_find_next_fs() filter: the mount with the STATX_MNT_ID in data. */
static int match_id(struct libmnt_fs *fs, void *data)
{
	return mnt_fs_get_id(fs) >= 0 && (uint64_t)mnt_fs_get_id(fs) == *(const uint64_t *)data;
}

/*
 * The daemon is gone but its mount may still be attached (ENOTCONN for every
 * access): find it by id in the container's namespace and detach it.
 * Returns 1 detached, 0 not there any more, -errno.
 */
static int detach_dead_mount(struct daemon_rec *d)
{
	_cleanup_close_ int mi = -EBADF;
	_cleanup_fclose_ FILE *f = NULL;
	struct libmnt_table *tb = NULL;
	struct libmnt_iter *it = NULL;
	struct libmnt_fs *fs = NULL;
	const char *mp;
	int r = 0;

	if (d->mntns_fd < 0 || state.host_mntns < 0 || state.self_task < 0)
		return -EBADF;
	tb = mnt_new_table();
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!tb || !it || setns(d->mntns_fd, CLONE_NEWNS) < 0) {
		r = !tb || !it ? -ENOMEM : -errno;
		mnt_free_iter(it);
		mnt_unref_table(tb);
		return r;
	}
	/* Our own task's mountinfo (procfs opened in the host): now the container's
	 * table.  By fd: libmount's "/proc/self" would be the main thread's. */
	mi = openat(state.self_task, "mountinfo", O_RDONLY | O_CLOEXEC);
	f = mi >= 0 ? fdopen(mi, "re") : NULL;
	if (f)
		mi = -EBADF; /* f owns it now */
	if (f && mnt_table_parse_stream(tb, f, "mountinfo") == 0)
		(void)mnt_table_find_next_fs(tb, it, match_id, &d->mnt_id_old, &fs);
	mp = fs ? mnt_fs_get_target(fs) : NULL;
	if (mp) {
		_cleanup_close_ int fd = open(mp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct statx stx = {0};
		/* Mask 0: FUSE refuses any attribute to us (not in its user namespace),
		 * but the VFS still reports which mount the path is on. */
		if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) == 0 &&
		    stx.stx_mnt_id == d->mnt_id_old) { /* else: not ours (any more) */
			fd = safe_close(fd);
			r = umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 ? -errno : 1;
		}
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	if (setns(state.host_mntns, CLONE_NEWNS) < 0) {
		log_error(
		    "FUSE supervisor cannot leave a container's mount namespace: %m; aborting");
		abort();
	}
	return r;
}

static void on_exit_of(struct daemon_rec *d)
{
	siginfo_t si = {0};
	char how[64], tbuf[512];
	bool mounted;
	int r;

	flush_output(d, true);
	/*
	 * Reaped if it is our child -- also one of a notifyd before us that was
	 * this very process (an upgrade re-executes in place).  One re-parented
	 * when its notifyd died is the keeper's or systemd's: ECHILD, no status.
	 */
	if (d->vanished)
		snprintf(how, sizeof(how), "exited (seen at the take-over)");
	else if (waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		snprintf(how, sizeof(how), d->adopted ? "exited (status unknown)" : "exited");
	else if (si.si_code == CLD_EXITED)
		snprintf(how, sizeof(how), "exited with status %d", si.si_status);
	else
		snprintf(how, sizeof(how), "was killed by signal %s",
		         sigabbrev_np(si.si_status) ?: "?");
	mounted = mount_record_owns(d->c, d->mnt_id);
	if (!mounted) {
		log_info("%s: %s %s pid=%d %s after its mount at %s was unmounted", d->c->id,
		         kind_noun[d->kind], d->program, (int)d->pid, how,
		         log_printable(d->target, tbuf, sizeof(tbuf)));
		return;
	}
	r = detach_dead_mount(d);
	mount_record_remove(d->c, d->mnt_id);
	if (r > 0)
		log_warn("%s: %s %s pid=%d %s while serving %s; its mount was detached", d->c->id,
		         kind_noun[d->kind], d->program, (int)d->pid, how,
		         log_printable(d->target, tbuf, sizeof(tbuf)));
	else
		log_warn("%s: %s %s pid=%d %s while serving %s; mount %s", d->c->id,
		         kind_noun[d->kind], d->program, (int)d->pid, how,
		         log_printable(d->target, tbuf, sizeof(tbuf)),
		         r == 0 ? "already gone" : strerror(-r));
}

/*
 * A share daemon started through a `runc exec` entry outlives that entry;
 * when the container's last entry goes, the gone() hook of an entry that
 * never started a daemon is not called.  So the supervisor looks every
 * SWEEP_MS: a daemon whose entry is gone and of whose container no entry is
 * left is killed.  Lock order: collect under state.lock, ask the registry
 * after.
 */
#define SWEEP_MS 1000
static void sweep_orphans(void)
{
	struct orphan {
		int pidfd;
		char *id;
		pid_t init_pid, pid;
	} *v = NULL;
	size_t n = 0, cap = 0;

	/* Every candidate, however many: a fixed number could be filled by
	 * another container's daemons every time. */
	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d; d = d->next)
		cap += d->kind == FUSE_DAEMON_VFSD && !d->killed &&
		       __atomic_load_n(&d->c->gone, __ATOMIC_RELAXED);
	v = cap ? calloc(cap, sizeof(*v)) : NULL;
	for (struct daemon_rec *d = state.recs; d && v && n < cap; d = d->next) {
		if (d->kind != FUSE_DAEMON_VFSD || d->killed ||
		    !__atomic_load_n(&d->c->gone, __ATOMIC_RELAXED))
			continue;
		v[n].pidfd = fcntl(d->pidfd, F_DUPFD_CLOEXEC, 3);
		v[n].id = strdup(d->c->id);
		v[n].init_pid = d->c->init_pid;
		v[n].pid = d->pid;
		if (v[n].pidfd >= 0 && v[n].id)
			n++;
		else {
			safe_close(v[n].pidfd);
			free(v[n].id);
		}
	}
	pthread_mutex_unlock(&state.lock);
	for (size_t i = 0; i < n; i++) {
		if (!container_id_live(v[i].id, v[i].init_pid) &&
		    syscall(SYS_pidfd_send_signal, v[i].pidfd, SIGKILL, NULL, 0) == 0) {
			log_info("container %s is gone: killed daemon pid=%d it started through "
			         "another entry",
			         v[i].id, (int)v[i].pid);
			pthread_mutex_lock(&state.lock);
			for (struct daemon_rec *d = state.recs; d; d = d->next)
				if (d->pid == v[i].pid)
					d->killed = true;
			pthread_mutex_unlock(&state.lock);
		}
		close(v[i].pidfd);
		free(v[i].id);
	}
	free(v);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *supervisor_main(void *arg)
{
	uint64_t last_sweep = now_ms();

	(void)arg;
	/* A root/cwd of its own (it steps into containers' mount namespaces to
	 * detach dead mounts) and its own procfs entry for their mount tables. */
	if (unshare(CLONE_FS) < 0)
		log_warn("FUSE supervisor: unshare(CLONE_FS): %m; dead mounts stay attached");
	else
		state.self_task = open("/proc/thread-self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(state.epfd, evs, 16, SWEEP_MS);

		if (n < 0 && errno != EINTR) {
			log_error("FUSE supervisor: epoll_wait: %m");
			return NULL;
		}
		/* By the clock, not only when idle: a chatty daemon must not starve it. */
		if (now_ms() - last_sweep >= SWEEP_MS) {
			sweep_orphans();
			last_sweep = now_ms();
		}
		for (int i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)evs[i].data.ptr;
			struct daemon_rec *d = (struct daemon_rec *)(v & ~TAG_ERR);
			if (!evs[i].events)
				continue; /* its record was freed earlier in this batch */
			if (!d)
				return NULL; /* stop_fd */
			if (v & TAG_ERR) {
				flush_output(d, false);
				continue;
			}
			epoll_ctl(state.epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
			if (d->stderr_fd >= 0)
				epoll_ctl(state.epfd, EPOLL_CTL_DEL, d->stderr_fd, NULL);
			on_exit_of(d);
			pthread_mutex_lock(&state.lock);
			for (struct daemon_rec **p = &state.recs; *p; p = &(*p)->next)
				if (*p == d) {
					*p = d->next;
					break;
				}
			pthread_mutex_unlock(&state.lock);
			/* The same batch may still hold d's other fd (its output and
			 * its exit come together when a daemon dies at once). */
			for (int j = i + 1; j < n; j++)
				if (((uintptr_t)evs[j].data.ptr & ~TAG_ERR) == (uintptr_t)d)
					evs[j].events = 0;
			rec_free(d);
		}
	}
}

static void start_thread(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	sigset_t all, old;

	state.epfd = epoll_create1(EPOLL_CLOEXEC);
	state.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	state.host_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (state.epfd < 0 || state.stop_fd < 0 || state.host_mntns < 0 ||
	    epoll_ctl(state.epfd, EPOLL_CTL_ADD, state.stop_fd, &ev) < 0) {
		state.start_error = -errno;
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	state.start_error = -pthread_create(&state.thread, NULL, supervisor_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	state.thread_running = state.start_error == 0;
}

/* Is share mount mnt_id still c's, and still there (mntns: its namespace)? */
static bool share_mounted(struct container *c, uint64_t mnt_id, int mntns)
{
	uint64_t ns_id;

	if (!mount_record_owns(c, mnt_id))
		return false;
	if (mntns < 0 || mount_record_ns_id(mntns, &ns_id) < 0 ||
	    mount_record_present(mnt_id, ns_id) != 0)
		return true; /* there, or the kernel cannot say */
	mount_record_remove(c, mnt_id);
	return false;
}

int fuse_daemon_add(struct container *c, struct fuse_daemon_info *info)
{
	char tbuf[512];
	struct daemon_rec *d;
	struct epoll_event ev = {.events = EPOLLIN};

	pthread_once(&state.once, start_thread);
	d = calloc(1, sizeof(*d));
	if (state.start_error < 0 || !d) {
		free(d);
		fuse_daemon_unreserve(c, info->kind);
		return state.start_error < 0 ? state.start_error : -ENOMEM;
	}
	container_ref(c);
	d->kind = info->kind;
	d->started = (uint64_t)time(NULL);
	d->c = c;
	d->pidfd = TAKE_FD(info->pidfd);
	d->stderr_fd = TAKE_FD(info->stderr_fd);
	d->mntns_fd = TAKE_FD(info->mntns_fd);
	d->pid = info->pid;
	/* Read after the pidfd was opened (by the starter): it is this process's. */
	(void)container_proc_start(d->pid, &d->start);
	d->mnt_id = info->mnt_id;
	d->mnt_id_old = info->mnt_id_old;
	d->dev = info->dev;
	d->program = strdup(info->program);
	d->target = strdup(info->target);
	d->source = info->source ? strdup(info->source) : NULL;
	d->options = info->options ? strdup(info->options) : NULL;
	if (!d->program || !d->target || (info->source && !d->source) ||
	    (info->options && !d->options)) {
		syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
		d->stderr_fd = safe_close(d->stderr_fd); /* never stored */
		rec_free(d);
		return -ENOMEM;
	}
	if (d->stderr_fd >= 0) {
		char name[48];

		stderr_name(d, name, sizeof(name));
		if (fdstore_put(name, d->stderr_fd) < 0)
			log_debug("%s: %s pid=%d: its output pipe is not in the fd store", c->id,
			          d->program, (int)d->pid);
	}
	pthread_mutex_lock(&state.lock);
	d->next = state.recs;
	state.recs = d;
	/* Registered under the lock: the thread cannot free d before we are done. */
	ev.data.ptr = d;
	int r = epoll_ctl(state.epfd, EPOLL_CTL_ADD, d->pidfd, &ev) < 0 ? -errno : 0;
	if (r == 0 && d->stderr_fd >= 0) {
		ev.data.ptr = (void *)((uintptr_t)d | TAG_ERR);
		epoll_ctl(state.epfd, EPOLL_CTL_ADD, d->stderr_fd, &ev);
	}
	/* d may go once we unlock (the daemon may exit at once): keep its fds. */
	_cleanup_close_ int pidfd = fcntl(d->pidfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_close_ int mntns =
	    d->mntns_fd >= 0 ? fcntl(d->mntns_fd, F_DUPFD_CLOEXEC, 3) : -EBADF;
	pthread_mutex_unlock(&state.lock);
	if (r < 0)
		return r;
	container_save(c);
	/*
	 * The container may have gone while the daemon started: its gone() hook
	 * ran before we added the record (after it, it would have seen it).
	 * The hook runs after `gone` is set, under state.lock, which we took
	 * since: a set flag is seen here.
	 */
	if (pidfd >= 0 && info->kind == FUSE_DAEMON_VFSD &&
	    __atomic_load_n(&c->gone, __ATOMIC_RELAXED) && !container_id_live(c->id, c->init_pid)) {
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		log_info("%s: container gone while %s pid=%d started; killed it", c->id,
		         info->program, (int)info->pid);
	}
	/*
	 * Likewise a share whose socket was unmounted before we added it:
	 * notifyd's umount dropped the record and its
	 * fuse_daemon_stop_unmounted() did not see the daemon; or the kernel
	 * unmounted it (an umount2 before the record was there is not
	 * notifyd's).  A umount after this look sees the daemon.
	 */
	if (pidfd >= 0 && info->kind == FUSE_DAEMON_VFSD &&
	    !share_mounted(c, info->mnt_id, mntns)) {
		syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
		log_info("%s: %s at %s was unmounted while %s pid=%d started; stopped it", c->id,
		         kind_noun[info->kind], log_printable(info->target, tbuf, sizeof(tbuf)),
		         info->program, (int)info->pid);
	}
	return 0;
}

/*
 * An entry of c hung up.  If the container is gone, its daemons are killed
 * now, also those started through another entry of the same container.
 * "Gone" differs by kind: a FUSE program runs in the container's pid
 * namespace and normally went with it; one still running may be flushing
 * an image after its umount, and is killed only once the container's init
 * has exited.  vfsd runs outside the container and goes here when its init
 * exited or no entry of the container is left.
 */
static void fuse_res_gone(struct container *c, struct container_resource *res, bool last)
{
	struct pollfd pfd = {.fd = c->pidfd, .events = POLLIN};
	/* A pidfd is readable once its process exited; no pidfd: assume it did. */
	bool init_dead = c->pidfd < 0 || poll(&pfd, 1, 0) > 0;
	int n = 0;

	(void)res;
	if (!init_dead && !last)
		return; /* e.g. a `runc exec` ended; its mounts belong to the running container */
	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d; d = d->next)
		if ((init_dead || d->kind == FUSE_DAEMON_VFSD) &&
		    (d->c == c || (d->c->id && c->id && !strcmp(d->c->id, c->id) &&
		                   d->c->init_pid == c->init_pid))) {
			syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
			n++;
		}
	pthread_mutex_unlock(&state.lock);
	if (n)
		log_info("container %s is gone: killed its %d FUSE and share daemon(s)", c->id, n);
}

int fuse_daemon_set_target(struct container *c, int mnt_fd, uint64_t mnt_id, const char *target,
                           uint64_t *mnt_id_old)
{
	struct statx stx = {0};
	char *t;
	dev_t dev;
	int r = -ENOENT;

	/* Mask 0: FUSE refuses notifyd any attribute, but the VFS still reports
	 * the superblock and the (old) mount id. */
	if (statx(mnt_fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) < 0)
		return -errno;
	dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	*mnt_id_old = stx.stx_mnt_id;
	t = strdup(target);
	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d; d = d->next)
		if (d->c == c && d->kind == FUSE_DAEMON_PROGRAM && d->dev && d->dev == dev) {
			free(d->target);
			d->target = TAKE_PTR(t);
			d->mnt_id = mnt_id;
			d->mnt_id_old = stx.stx_mnt_id;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&state.lock);
	free(t);
	if (r == 0)
		container_save(c);
	return r;
}

int fuse_daemon_stop_unmounted(struct container *c)
{
	struct {
		int pidfd;
		uint64_t mnt_id;
	} v[64];
	unsigned n = 0;
	int stopped = 0;

	/* Lock order: c's lock (mount_record_owns) comes before state.lock, so
	 * collect under state.lock and look at the records after. */
	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d && n < ARRAY_SIZE(v); d = d->next)
		if (d->c == c && d->kind == FUSE_DAEMON_VFSD) {
			v[n].pidfd = fcntl(d->pidfd, F_DUPFD_CLOEXEC, 3);
			v[n].mnt_id = d->mnt_id;
			n += v[n].pidfd >= 0;
		}
	pthread_mutex_unlock(&state.lock);
	for (unsigned i = 0; i < n; i++) {
		if (!mount_record_owns(c, v[i].mnt_id) &&
		    syscall(SYS_pidfd_send_signal, v[i].pidfd, SIGTERM, NULL, 0) == 0)
			stopped++;
		close(v[i].pidfd);
	}
	return stopped;
}

void fuse_daemon_foreach_share(struct container *c,
                               void (*fn)(const struct fuse_daemon_share *s, void *userdata),
                               void *userdata)
{
	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d; d = d->next) {
		if (d->c != c || d->kind != FUSE_DAEMON_VFSD)
			continue;
		struct fuse_daemon_share sh = {
		    .pid = d->pid,
		    .source = d->source ? d->source : "",
		    .target = d->target,
		    .options = d->options ? d->options : "",
		    .started = d->started,
		};
		fn(&sh, userdata);
	}
	pthread_mutex_unlock(&state.lock);
}

/*
 * c's daemons of res's kind for its state file: what is needed to know each
 * again after a restart (pid and start time: a pid alone may be reused), to
 * find its mount and to list it.  The output pipe is in the fd store; the
 * pidfd and the mount namespace are opened again.  c's lock is held (lock
 * order: then state.lock).
 */
static struct json_object *fuse_res_save(struct container *c, struct container_resource *res)
{
	enum fuse_daemon_kind kind =
	    res->ops == &fuse_res_ops[FUSE_DAEMON_VFSD] ? FUSE_DAEMON_VFSD : FUSE_DAEMON_PROGRAM;
	struct json_object *a = json_object_new_array();

	pthread_mutex_lock(&state.lock);
	for (const struct daemon_rec *d = state.recs; d && a; d = d->next) {
		struct json_object *o;

		if (d->c != c || d->kind != kind)
			continue;
		o = json_object_new_object();
		if (!o || state_set_u64(o, "kind", (unsigned long long)d->kind) < 0 ||
		    state_set_u64(o, "pid", (unsigned long long)d->pid) < 0 ||
		    state_set_u64(o, "start", d->start) < 0 ||
		    state_set_u64(o, "mnt_id", d->mnt_id) < 0 ||
		    state_set_u64(o, "mnt_id_old", d->mnt_id_old) < 0 ||
		    state_set_u64(o, "started", d->started) < 0 ||
		    state_set_str(o, "program", d->program) < 0 ||
		    state_set_str(o, "target", d->target) < 0 ||
		    (d->source && state_set_str(o, "source", d->source) < 0) ||
		    (d->options && state_set_str(o, "options", d->options) < 0) ||
		    json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			a = NULL;
		}
	}
	pthread_mutex_unlock(&state.lock);
	return a;
}

/*
 * One daemon of a notifyd before us, supervised again: its pidfd (opened,
 * then its start time checked, so the pid cannot have been reused behind
 * the check), its output pipe from the fd store, the container's mount
 * namespace from its init.  One that exited meanwhile is handled by the
 * supervisor as any exit (its mount detached if still attached, logged,
 * counted down): its record gets a readable eventfd in place of a pidfd.
 */
static int restore_daemon(struct container *c, struct json_object *o)
{
	unsigned long long kind, pid, start, mnt_id, mnt_id_old, started;
	const char *program, *target, *source = NULL, *options = NULL;
	struct epoll_event ev = {.events = EPOLLIN};
	struct fuse_res *fr;
	struct daemon_rec *d;
	uint64_t now = 0;
	char name[48], tbuf[512];
	int r;

	if (state_get_u64(o, "kind", &kind) < 0 || kind >= _FUSE_DAEMON_KIND_MAX ||
	    state_get_u64(o, "pid", &pid) < 0 || pid == 0 || pid > INT32_MAX ||
	    state_get_u64(o, "start", &start) < 0 || state_get_u64(o, "mnt_id", &mnt_id) < 0 ||
	    state_get_u64(o, "mnt_id_old", &mnt_id_old) < 0 ||
	    state_get_u64(o, "started", &started) < 0 ||
	    state_get_str(o, "program", &program) < 0 || state_get_str(o, "target", &target) < 0)
		return -EINVAL;
	(void)state_get_str(o, "source", &source);
	(void)state_get_str(o, "options", &options);
	pthread_once(&state.once, start_thread);
	if (state.start_error < 0)
		return state.start_error;
	fr = fuse_res_of(c, (enum fuse_daemon_kind)kind);
	d = fr ? calloc(1, sizeof(*d)) : NULL;
	if (!d)
		return -ENOMEM;
	container_ref(c);
	d->c = c;
	d->kind = (enum fuse_daemon_kind)kind;
	d->pid = (pid_t)pid;
	d->start = start;
	d->mnt_id = mnt_id;
	d->mnt_id_old = mnt_id_old;
	d->started = started;
	d->adopted = true;
	d->program = strdup(program);
	d->target = strdup(target);
	d->source = source ? strdup(source) : NULL;
	d->options = options ? strdup(options) : NULL;
	d->mntns_fd = c->pidfd >= 0 ? ioctl(c->pidfd, PIDFD_GET_MNT_NAMESPACE, 0) : -EBADF;
	if (d->mntns_fd < 0)
		d->mntns_fd = -EBADF;
	stderr_name(d, name, sizeof(name));
	d->stderr_fd = fdstore_take(name);
	if (d->stderr_fd < 0)
		d->stderr_fd = -EBADF;
	else
		(void)fcntl(d->stderr_fd, F_SETFL, O_NONBLOCK);
	d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	if (d->pidfd >= 0) {
		(void)fcntl(d->pidfd, F_SETFD, FD_CLOEXEC);
		if (container_proc_start(d->pid, &now) < 0 || now != start)
			d->pidfd = safe_close(d->pidfd); /* another process now */
	}
	if (d->pidfd < 0) {
		d->vanished = true;
		d->pidfd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	pthread_mutex_lock(&state.lock);
	fr->n++; /* counts against max-fuse-daemons / max-shares as before */
	pthread_mutex_unlock(&state.lock);
	if (d->pidfd < 0 || !d->program || !d->target || (source && !d->source) ||
	    (options && !d->options)) {
		rec_free(d);
		return -ENOMEM;
	}
	pthread_mutex_lock(&state.lock);
	d->next = state.recs;
	state.recs = d;
	ev.data.ptr = d;
	r = epoll_ctl(state.epfd, EPOLL_CTL_ADD, d->pidfd, &ev) < 0 ? -errno : 0;
	if (r == 0 && d->stderr_fd >= 0) {
		ev.data.ptr = (void *)((uintptr_t)d | TAG_ERR);
		epoll_ctl(state.epfd, EPOLL_CTL_ADD, d->stderr_fd, &ev);
	}
	if (r < 0)
		for (struct daemon_rec **p = &state.recs; *p; p = &(*p)->next)
			if (*p == d) {
				*p = d->next;
				break;
			}
	pthread_mutex_unlock(&state.lock);
	if (r < 0) {
		rec_free(d);
		return r;
	}
	if (!d->vanished)
		log_info("%s: %s %s pid=%d serving %s supervised again", c->id, kind_noun[kind],
		         program, (int)pid, log_printable(target, tbuf, sizeof(tbuf)));
	return 0;
}

int fuse_daemon_restore(struct container *c, struct json_object *obj)
{
	int r = 0;

	if (!json_object_is_type(obj, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(obj); i++) {
		int q = restore_daemon(c, json_object_array_get_idx(obj, i));

		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

bool fuse_daemon_known(pid_t pid)
{
	bool found = false;

	pthread_mutex_lock(&state.lock);
	for (struct daemon_rec *d = state.recs; d && !found; d = d->next)
		found = d->pid == pid && !d->killed;
	pthread_mutex_unlock(&state.lock);
	return found;
}

void fuse_daemon_shutdown(void)
{
	uint64_t one = 1;

	if (state.thread_running) {
		if (write(state.stop_fd, &one, sizeof(one)) < 0)
			log_warn("cannot stop the FUSE supervisor: %m");
		pthread_join(state.thread, NULL);
		state.thread_running = false;
	}
	stopping = true;
	while (state.recs) {
		struct daemon_rec *d = state.recs;
		state.recs = d->next;
		rec_free(d);
	}
	state.epfd = safe_close(state.epfd);
	state.stop_fd = safe_close(state.stop_fd);
	state.host_mntns = safe_close(state.host_mntns);
	state.self_task = safe_close(state.self_task);
}
