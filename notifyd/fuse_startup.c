/* SPDX-License-Identifier: MIT */
/*
 * FUSE start-ups (fuse_startup.h): slots, the start-up thread, waiting and
 * the messages; the forked children's code is in fuse_children.c.  A
 * start-up, in a thread of its own:
 *
 *   1. a forked "mounter" joins the container's user namespace (a thread of
 *      this multi-threaded process cannot), opens /dev/fuse there, moves
 *      into the caller's cgroup, joins the mount namespace and the caller's
 *      root/cwd, creates the FUSE superblock with fsopen/fsconfig/fsmount
 *      (owned by the container's user namespace: its root may unmount it),
 *      and - still detached - clones the daemon into the container's
 *      pid/ipc/uts/net namespaces (CLONE_PARENT: notifyd reaps it,
 *      CLONE_PIDFD: notifyd supervises it);
 *   2. the daemon gets a private copy of the mount namespace (where the
 *      fusermount stand-in is placed, from a memfd), is confined to the
 *      caller's rights (fuse_confine.c) and execs the program from notifyd's
 *      fd with the image at /proc/self/fd/3 and the connection at fd 4
 *      (/dev/fd/4 for libfuse3, MOUNTVISOR_FUSE_FD for the stand-in);
 *   3. the mounter's fstatfs() on the detached mount returns once FUSE_INIT
 *      was answered; the start-up thread checks the caller is still waiting
 *      and lets the mounter attach the mount at the target.  Since the mount
 *      is attached only after INIT, nothing the daemon does while starting
 *      (libfuse2 stat()s its mountpoint) can deadlock on it;
 *   4. the thread records the mount, hands the daemon to its supervisor
 *      (fuse_daemon.c) and answers the request (request_finish()).
 *
 * A daemon that dies first turns into EINVAL (its stderr goes to the log),
 * one that could not be confined into EPERM, a start-up longer than
 * startup-timeout into ETIMEDOUT; all leave nothing.
 */
#include "notifyd/fuse_startup.h"
#include "notifyd/fuse_children.h"
#include "notifyd/inflight.h"
#include "notifyd/mount_record.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Start-ups in progress: per container (the profile's max-fuse-starting)
 * and in all (FUSE_MAX_STARTING_ALL).  A short list: at most 16 entries.
 */
struct starting {
	struct starting *next;
	const struct container *c;
	unsigned n;
};
static pthread_mutex_t starting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct starting *starting_list;
static unsigned n_starting;

int fuse_startup_reserve(struct container *c, unsigned max_per_c, bool *global)
{
	struct starting *s, *fresh = calloc(1, sizeof(*fresh));
	int r = 0;

	pthread_mutex_lock(&starting_lock);
	for (s = starting_list; s && s->c != c; s = s->next)
		;
	*global = n_starting >= FUSE_MAX_STARTING_ALL;
	if (*global || (s && s->n >= max_per_c) || (!s && !fresh)) {
		r = s || fresh ? -EAGAIN : -ENOMEM;
	} else {
		if (!s) {
			s = TAKE_PTR(fresh);
			s->c = c;
			s->next = starting_list;
			starting_list = s;
		}
		s->n++;
		n_starting++;
	}
	pthread_mutex_unlock(&starting_lock);
	free(fresh);
	return r;
}

void fuse_startup_release(struct container *c)
{
	struct starting *gone = NULL;

	pthread_mutex_lock(&starting_lock);
	for (struct starting **p = &starting_list; *p; p = &(*p)->next)
		if ((*p)->c == c) {
			n_starting--;
			if (--(*p)->n == 0) {
				gone = *p;
				*p = gone->next;
			}
			break;
		}
	pthread_mutex_unlock(&starting_lock);
	free(gone);
}

void fuse_plan_init(struct fuse_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->userns = pl->mntns = pl->pidns = pl->ipcns = pl->utsns = pl->netns = pl->cgroupns =
	    -EBADF;
	pl->root = pl->cwd = pl->target = pl->image = pl->prog = -EBADF;
	pl->shim = pl->devnull = pl->err_w = pl->ctl = pl->cgroup_procs = -EBADF;
}

void fuse_plan_close(struct fuse_plan *pl)
{
	int *fds[] = {&pl->userns, &pl->mntns,       &pl->pidns, &pl->ipcns,   &pl->utsns,
	              &pl->netns,  &pl->cgroupns,    &pl->root,  &pl->cwd,     &pl->target,
	              &pl->image,  &pl->prog,        &pl->shim,  &pl->devnull, &pl->err_w,
	              &pl->ctl,    &pl->cgroup_procs};

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = safe_close(*fds[i]);
}

/* ------------------------------------------------------------------------ */
/* Waiting for the start-up, in its thread. */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Keep the tail of what the program wrote while starting (for the decision line). */
static void drain(int fd, char *buf, size_t size, size_t *len)
{
	char tmp[1024];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char ch = tmp[i] == '\n' ? ' ' : tmp[i];
			if (*len + 1 >= size) {
				memmove(buf, buf + size / 2, *len - size / 2);
				*len -= size / 2;
			}
			buf[(*len)++] = ch;
		}
	}
	buf[*len] = '\0';
}

struct startup {
	pid_t mounter;
	int ctl;       /* worker end */
	int pidfd;     /* daemon, once MSG_STARTED arrived */
	int mntfd;     /* the detached mount, once MSG_DETACHED arrived */
	int err_r;     /* daemon's output */
	char out[400]; /* its last words */
	size_t out_len;
};

/* Kill whatever is left of a failed start-up and reap it. */
static void startup_abort(struct startup *su)
{
	if (su->pidfd >= 0) {
		siginfo_t si;
		syscall(SYS_pidfd_send_signal, su->pidfd, SIGKILL, NULL, 0);
		(void)waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED);
		su->pidfd = safe_close(su->pidfd);
	}
	if (su->mounter > 0) {
		kill(su->mounter, SIGKILL);
		(void)waitpid(su->mounter, NULL, 0);
		su->mounter = 0;
	}
	su->ctl = safe_close(su->ctl);
	su->mntfd = safe_close(su->mntfd); /* a detached mount: its superblock goes with it */
}

/*
 * Wait for the next message from the mounter until deadline, collecting the
 * daemon's output.  Returns 0 with *m filled, -ETIMEDOUT, -ECHILD when the
 * daemon died first (*status set), or -errno.
 */
static int startup_wait(struct startup *su, uint64_t deadline, struct mounter_msg *m, int *status)
{
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = su->ctl, .events = POLLIN},
		    {.fd = su->err_r, .events = POLLIN},
		    {.fd = su->pidfd, .events = POLLIN},
		};
		uint64_t now = now_ms();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(pfd, su->pidfd >= 0 ? 3 : 2, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (pfd[1].revents)
			drain(su->err_r, su->out, sizeof(su->out), &su->out_len);
		if (pfd[0].revents & POLLIN) {
			int fds[1] = {-EBADF};
			size_t nfds = 1;
			ssize_t n = fd_recv_with_fds(su->ctl, m, sizeof(*m), fds, &nfds, 0);
			if (n == (ssize_t)sizeof(*m)) {
				if (m->kind == MSG_STARTED && nfds == 1 && su->pidfd < 0)
					su->pidfd = fds[0];
				else if (m->kind == MSG_DETACHED && nfds == 1 && su->mntfd < 0)
					su->mntfd = fds[0];
				else
					fd_close_all(fds, nfds);
				return 0;
			}
			fd_close_all(fds, nfds);
			if (n >= 0)
				return -EPROTO; /* the mounter died without a word */
			return (int)n;
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			return -EPROTO;
		}
		if (su->pidfd >= 0 && (pfd[2].revents & POLLIN)) {
			siginfo_t si = {0};
			/* Let its last words arrive before reaping it. */
			drain(su->err_r, su->out, sizeof(su->out), &su->out_len);
			if (waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED) == 0)
				*status =
				    si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
			su->pidfd = safe_close(su->pidfd);
			return -ECHILD;
		}
	}
}
/* Wait up to timeout_ms for the started daemon to exit; 0 with its status, or -ETIMEDOUT. */
static int daemon_exit_status(struct startup *su, int timeout_ms, int *status)
{
	struct pollfd pfd = {.fd = su->pidfd, .events = POLLIN};
	siginfo_t si = {0};
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -ETIMEDOUT;
	drain(su->err_r, su->out, sizeof(su->out), &su->out_len); /* its last words */
	if (waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED) < 0)
		return -errno;
	*status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	su->pidfd = safe_close(su->pidfd);
	return 0;
}

/* The decision for a daemon that exited with status before serving the mount. */
static void deny_exited(struct decision *d, const char *prog_name, int status,
                        const struct startup *su)
{
	if (status == FUSE_CONFINE_EXIT) {
		decision_fail(d, EPERM, "%s not started: %s", prog_name, su->out);
		return;
	}
	/* The program refused the image (or could not run): what mount(8) would say. */
	decision_fail(d, status == 127 || status == 126 ? ENOEXEC : EINVAL,
	              "%s exited with status %d before serving the mount%s%s", prog_name, status,
	              su->out_len ? ": " : "", su->out);
}

/*
 * Fork the mounter with the plan (the control socket and the program's
 * output pipe added), and close our copies of what it holds.  0, or -errno
 * with the refusal in *d.
 */
static int startup_spawn(struct startup *su, struct fuse_plan *pl, struct decision *d)
{
	int sp[2], pp[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return decision_fail(d, errno, "socketpair: %s", strerror(errno));
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = decision_fail(d, errno, "pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return r;
	}
	su->ctl = sp[0];
	pl->ctl = sp[1];
	su->err_r = pp[0];
	pl->err_w = pp[1];
	fd_set_nonblock(su->err_r, 1);

	pid = fork();
	if (pid < 0) {
		r = decision_fail(d, EAGAIN, "fork: %s", strerror(errno));
		su->ctl = safe_close(su->ctl);
		su->err_r = safe_close(su->err_r);
		return r;
	}
	if (pid == 0)
		fuse_children_mounter(pl);
	su->mounter = pid;
	/* Our copies of what the children hold. */
	fuse_plan_close(pl);
	return 0;
}

/*
 * The refusal for a start-up that ended without MSG_ATTACHED (MSG_DETACHED): r and *m from
 * startup_wait(), status of a daemon that exited.  Returns -errno.
 */
static int startup_failed(struct startup *su, int r, const struct mounter_msg *m, int status,
                          const char *prog_name, unsigned timeout_ms, struct decision *d)
{
	if (r == -ETIMEDOUT)
		return decision_fail(d, ETIMEDOUT, "%s did not answer FUSE_INIT within %u s%s%s",
		                     prog_name, timeout_ms / 1000, su->out_len ? ": " : "",
		                     su->out);
	if (r == -ECHILD ||
	    (r == 0 && m->kind == MSG_FAILED && m->err == ENOTCONN && su->pidfd < 0)) {
		deny_exited(d, prog_name, status, su);
		return -d->err;
	}
	if (r == 0 && m->kind == MSG_FAILED) {
		/*
		 * statfs saw the connection die: the daemon is exiting.  Wait for
		 * its status on its pidfd alone (the mounter's socket hangs up
		 * too, and must not win that race).
		 */
		if (su->pidfd >= 0 && m->err == ENOTCONN &&
		    daemon_exit_status(su, 1000, &status) == 0) {
			deny_exited(d, prog_name, status, su);
			return -d->err;
		}
		return decision_fail(d, m->err, "%s: %s%s%s", m->text, strerror(m->err),
		                     su->out_len ? "; program said: " : "", su->out);
	}
	return decision_fail(d, r < 0 ? -r : EPROTO, "FUSE start-up of %s failed: %s%s%s",
	                     prog_name, strerror(r < 0 ? -r : EPROTO),
	                     su->out_len ? "; program said: " : "", su->out);
}

static pid_t pidfd_pid(int pidfd);

/*
 * Run the start-up: 0 with *info filled (and, for a detached plan, the
 * mount's fd in *mnt_fd), or -errno with the refusal in *d.  Takes pl's fds.
 */
static int fuse_start(struct request *rq, struct fuse_plan *pl, const char *prog_name,
                      unsigned timeout_ms, struct fuse_daemon_info *info, int *mnt_fd,
                      struct decision *d)
{
	struct startup su = {.ctl = -EBADF, .pidfd = -EBADF, .mntfd = -EBADF, .err_r = -EBADF};
	const int done = pl->detached ? MSG_DETACHED : MSG_ATTACHED;
	struct mounter_msg m;
	uint64_t deadline;
	int status = -1, r;

	r = startup_spawn(&su, pl, d);
	if (r < 0)
		return r;
	deadline = now_ms() + timeout_ms;
	for (;;) {
		r = startup_wait(&su, deadline, &m, &status);
		if (r < 0 || m.kind != MSG_STARTED)
			break;
		/* In the in-flight log: a successor kills it unless its mount got attached. */
		if (su.pidfd >= 0) {
			/* Before that, a successor finds it named by nothing (inherited.c). */
			inflight_crash_point("before-daemon-mark");
			inflight_mark_daemon(pidfd_pid(su.pidfd));
			inflight_crash_point("after-daemon-start");
		}
	}
	if (r == 0 && m.kind == MSG_READY) {
		/* Last look before the mount becomes visible: is the caller still waiting? */
		if (target_valid(&rq->t) < 0) {
			decision_fail(d, ENOENT, "caller gave up while %s started", prog_name);
			goto fail;
		}
		if (write(su.ctl, "G", 1) != 1) {
			decision_fail(d, EIO, "mounter went away");
			goto fail;
		}
		r = startup_wait(&su, deadline, &m, &status);
	}
	if (r < 0 || m.kind != done || (done == MSG_DETACHED && su.mntfd < 0)) {
		startup_failed(&su, r, &m, status, prog_name, timeout_ms, d);
		goto fail;
	}
	/* Its work is done; killed first, as a container that shares the host
	 * pid namespace may stop it before it exits (ns_child.c). */
	kill(su.mounter, SIGKILL);
	(void)waitpid(su.mounter, NULL, 0);
	inflight_helper(inflight_current(), 0); /* had it no time to say so itself */
	su.mounter = 0;
	su.ctl = safe_close(su.ctl);
	info->pidfd = TAKE_FD(su.pidfd);
	info->stderr_fd = TAKE_FD(su.err_r);
	info->mnt_id = m.mnt_id;
	info->mnt_id_old = m.mnt_id_old;
	if (done == MSG_ATTACHED) {
		inflight_mark(INFLIGHT_MOUNT_ATTACHED, m.mnt_id, 0);
		inflight_crash_point("after-attach");
	}
	*mnt_fd = TAKE_FD(su.mntfd);
	decision_ok(d, 0);
	if (su.out_len)
		log_info("%s: %s said while starting: %s", rq->c->id, prog_name, su.out);
	return 0;
fail:
	startup_abort(&su);
	su.err_r = safe_close(su.err_r);
	if (!d->err) /* a mounter that failed without an errno: never a success */
		d->err = EIO;
	return -d->err;
}

/* Pid (in our namespace) of a pidfd, from its fdinfo. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	char *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (fd_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

/* Kill a started daemon nobody supervises yet, and reap it (it is our child). */
static void kill_reap(int pidfd)
{
	siginfo_t si;

	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
}

/*
 * A detached start-up (fuse_action_create()): the daemon goes under
 * supervision with no target yet, then job->created gets the mount.  If
 * either fails the daemon is killed (nobody could ever attach its mount)
 * and the request gets that errno.  0 or -errno, the outcome in job->d.
 */
static int job_hand_over(struct fuse_job *job, struct fuse_daemon_info *info, int mnt_fd)
{
	_cleanup_close_ int mfd = mnt_fd, kill_fd = fcntl(info->pidfd, F_DUPFD_CLOEXEC, 3);
	struct request *rq = job->rq;
	struct decision *d = &job->d;
	uint64_t mnt_id = info->mnt_id;
	pid_t pid = info->pid;
	int r;

	struct statx stx = {0};

	/* Its superblock, by which fuse_daemon_set_target() finds it after the
	 * caller attached (a clone of) the mount. */
	if (statx(mfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) == 0)
		info->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	if (kill_fd < 0) {
		r = -errno;
		kill_reap(info->pidfd);
		return decision_fail(d, -r, "dup of the daemon's pidfd: %s", strerror(-r));
	}
	/* The caller gave up while the mounter sent the mount: nobody would ever
	 * attach it, leave nothing. */
	if (target_valid(&rq->t) < 0) {
		kill_reap(info->pidfd);
		return decision_fail(d, ENOENT, "caller gave up while %s started", job->prog_name);
	}
	/* Supervised before the mount is handed out: a fuse_daemon_set_target()
	 * after the caller's move_mount() always finds the daemon. */
	r = fuse_daemon_add(rq->c, info);
	job->reserved = false; /* fuse_daemon_add owns the reservation now, even on failure */
	if (r < 0) {
		syscall(SYS_pidfd_send_signal, kill_fd, SIGKILL, NULL, 0);
		return decision_fail(d, -r, "%s pid=%d could not be supervised: %s", job->prog_name,
		                     (int)pid, strerror(-r));
	}
	job->created_called = true;
	r = job->created(rq, TAKE_FD(mfd), mnt_id, job->userdata);
	if (r < 0) {
		/* The supervisor reaps it and logs its exit. */
		syscall(SYS_pidfd_send_signal, kill_fd, SIGKILL, NULL, 0);
		return decision_fail(d, -r, "the FUSE mount of %s pid=%d could not be kept: %s",
		                     job->prog_name, (int)pid, strerror(-r));
	}
	decision_ok(d, 0);
	decision_why(d, "mnt_id=%llu program=%s pid=%d handover=%s detached",
	             (unsigned long long)mnt_id, job->prog_name, (int)pid,
	             job->pl->fusermount ? "fusermount" : "fd");
	return 0;
}

/*
 * The whole start-up of a job, with its outcome in job->d.  Frees the job;
 * a deferred request is then answered here (request_finish()), otherwise
 * the outcome goes to *ret for the worker to answer.
 */
static void job_run(struct fuse_job *job, bool deferred, struct decision *ret)
{
	struct request *rq = job->rq;
	struct fuse_daemon_info info = {
	    .kind = FUSE_DAEMON_PROGRAM, .pidfd = -EBADF, .stderr_fd = -EBADF, .mntns_fd = -EBADF};
	struct decision *d = &job->d;
	_cleanup_close_ int mnt_fd = -EBADF;
	int r;

	r = fuse_start(rq, job->pl, job->prog_name, job->startup_timeout_ms, &info, &mnt_fd, d);
	if (r < 0)
		goto out;

	info.pid = pidfd_pid(info.pidfd);
	info.program = job->prog_name;
	info.target = job->created ? "" : rq->target; /* detached: fuse_daemon_set_target() */
	info.mntns_fd = TAKE_FD(job->mntns_fd);
	if (job->created) {
		(void)job_hand_over(job, &info, TAKE_FD(mnt_fd));
		goto out;
	}
	r = mount_record_add(rq->c, info.mnt_id, info.mnt_id_old, rq->type, rq->source, rq->target);
	if (r < 0) {
		char tbuf[PATH_MAX];
		log_warn("%s: FUSE mount at %s made but not recorded: %s", rq->c->id,
		         log_printable(rq->target, tbuf, sizeof(tbuf)), strerror(-r));
	}
	r = fuse_daemon_add(rq->c, &info);
	job->reserved = false; /* fuse_daemon_add owns the reservation now, even on failure */
	if (r < 0)
		log_warn("%s: %s pid=%d is not supervised: %s", rq->c->id, job->prog_name,
		         (int)info.pid, strerror(-r));
	decision_why(d, "mnt_id=%llu program=%s pid=%d handover=%s",
	             (unsigned long long)info.mnt_id, job->prog_name, (int)info.pid,
	             job->pl->fusermount ? "fusermount" : "fd");
out:
	/* A detached start-up that failed: its owner learns it (and frees userdata). */
	if (job->created && !job->created_called)
		(void)job->created(rq, -(d->err ? d->err : EIO), 0, job->userdata);
	if (job->starting)
		fuse_startup_release(rq->c);
	if (job->reserved)
		fuse_daemon_unreserve(rq->c, FUSE_DAEMON_PROGRAM);
	fuse_plan_close(job->pl);
	free(job->pl);
	safe_close(job->mntns_fd);
	safe_close(info.pidfd);
	safe_close(info.stderr_fd);
	safe_close(info.mntns_fd);
	if (deferred)
		request_finish(rq, d);
	else
		*ret = *d;
	free(job);
}

struct job_start {
	struct fuse_job *job;
	sem_t ready;
	int err;
};

static void *job_thread(void *arg)
{
	struct job_start *js = arg;
	struct fuse_job *job = js->job;

	/*
	 * pthread_create() shared the worker's private fs_struct with us, and a
	 * worker cannot setns() into a mount namespace (view_enter) while it is
	 * shared: take our own before the worker goes on (it waits for this).
	 */
	js->err = view_thread_init();
	sem_post(&js->ready);                /* js is gone after this */
	inflight_set_current(job->rq->slot); /* stages are marked in its in-flight log entry */
	job_run(job, true, NULL);
	return NULL;
}

void fuse_startup_run(struct fuse_job *job, struct decision *d)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int r;

	r = request_defer(job->rq);
	if (r < 0) {
		/* Cannot keep the request past the worker: start up right here. */
		log_warn("%s: FUSE start-up runs in the worker: %s", job->rq->c->id, strerror(-r));
		job_run(job, false, d);
		return;
	}
	/* From here on the request is the start-up's: the worker must not answer it. */
	d->action = DECISION_DEFERRED;
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 1024 * 1024);
	struct job_start js = {.job = job};
	sem_init(&js.ready, 0, 0);
	r = pthread_create(&thread, &attr, job_thread, &js);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		while (sem_wait(&js.ready) < 0 && errno == EINTR)
			;
		if (js.err < 0) {
			/* It shares our fs_struct: our next view_enter() would fail. */
			log_error("FUSE start-up thread: unshare(CLONE_FS): %s", strerror(-js.err));
			abort();
		}
	}
	sem_destroy(&js.ready);
	if (r != 0) {
		log_warn("%s: no thread for a FUSE start-up (%s); it runs in the worker",
		         job->rq->c->id, strerror(r));
		job_run(job, true, NULL); /* answers through request_finish() all the same */
	}
}
