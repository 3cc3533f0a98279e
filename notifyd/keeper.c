/* SPDX-License-Identifier: MIT */
/*
 * notifyd --keeper: the receiving side of the sd_notify protocol, for hosts
 * without systemd (a Kubernetes pod, a plain shell).
 *
 * The keeper outlives notifyd.  It holds every fd notifyd pushed with
 * FDSTORE=1 (each container's notify fd, the listening sockets, the in-flight
 * log) and starts notifyd again with all of them whenever it exits or is
 * killed, the way systemd's service manager does for a unit with
 * FileDescriptorStoreMax=: fds at 3.., LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID.
 * A container's trapped calls wait in the kernel meanwhile.
 *
 * It is kept small on purpose: one thread, one epoll loop over the notify
 * socket, a signalfd, the serving child's pidfd, a backoff timer and the
 * stored fds themselves (events 0: only a hang-up wakes it, and a stored fd
 * that hung up, e.g. the notify fd of a container that exited, is dropped).
 */
#include "notifyd/keeper.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* At most this many stored fds (systemd's FileDescriptorStoreMax= is the model). */
#define KEEPER_STORE_MAX 16384
/* LISTEN_FDNAMES= and its value must fit one argument string (MAX_ARG_STRLEN, 32 pages). */
#define KEEPER_NAMES_MAX (32 * 4096 - 64)
/* sd_notify messages are short; systemd reads at most this much of one. */
#define KEEPER_MSG_MAX 4096
/* Fds one message may carry (the kernel's SCM_MAX_FD). */
#define KEEPER_MSG_FDS 253
/* Restart policy: a child that dies this soon after its start delays the next one. */
#define KEEPER_QUICK_DEATH_MS 2000
#define KEEPER_BACKOFF_MIN_MS 100
#define KEEPER_BACKOFF_MAX_MS 5000
/* A child up this long resets the backoff. */
#define KEEPER_BACKOFF_RESET_MS 10000

/* What an epoll event is about: the kind in the high half of data.u64, an fd in the low. */
enum keeper_ev { EV_NOTIFY = 1, EV_SIGNAL, EV_CHILD, EV_TIMER, EV_STORED };

struct stored_fd {
	char *name;
	int fd;
	bool polled; /* in the epoll set (files that cannot be polled, e.g. a memfd, are not) */
};

static struct {
	int epfd, notify_fd, sig_fd, timer_fd;
	char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct unix_listener_id notify_id;
	char exe[PATH_MAX]; /* the program every start executes */
	char **child_argv;
	char **child_env; /* environ minus what the keeper sets itself, NULL-terminated */
	size_t n_env;
	struct stored_fd *store;
	size_t n_store, store_max;
	size_t names_len; /* of every stored name plus a separator each */
	/* The serving child, held by its pidfd; -1/-EBADF when none runs. */
	pid_t pid;
	int pidfd;
	uint64_t started_ms;
	unsigned starts;
	bool ever_ready; /* the first child reported READY=1 */
	bool stopping;   /* SIGTERM/SIGINT came: the next exit of the child is final */
	unsigned backoff_ms;
	unsigned quick_death_ms; /* a child dead sooner than this after its start delays the next */
	bool start_pending;      /* the timer will start the next child */
} keeper = {
    .epfd = -EBADF,
    .notify_fd = -EBADF,
    .sig_fd = -EBADF,
    .timer_fd = -EBADF,
    .pid = -1,
    .pidfd = -EBADF,
    .quick_death_ms = KEEPER_QUICK_DEATH_MS,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t ev_data(enum keeper_ev kind, int fd)
{
	return (uint64_t)kind << 32 | (uint32_t)fd;
}

static int epoll_add(int fd, uint32_t events, enum keeper_ev kind)
{
	struct epoll_event ev = {.events = events, .data.u64 = ev_data(kind, fd)};

	return epoll_ctl(keeper.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

bool keeper_requested(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--keeper") == 0)
			return true;
	}
	return false;
}

/*
 * The value of notifyd's long option name ("--socket"), given as "--NAME
 * VALUE" or "--NAME=VALUE", or NULL; the last one counts.  As getopt_long()
 * does, an abbreviation counts too: one of at least min_len characters
 * (the shortest that names no other notifyd option).
 */
static const char *option_value(int argc, char **argv, const char *name, size_t min_len)
{
	const char *v = NULL;

	for (int i = 1; i < argc; i++) {
		size_t len = strcspn(argv[i], "=");

		if (strcmp(argv[i], "--") == 0)
			break;
		if (len < min_len || len > strlen(name) || strncmp(argv[i], name, len) != 0)
			continue;
		if (argv[i][len] == '=')
			v = argv[i] + len + 1;
		else if (i + 1 < argc)
			v = argv[++i];
	}
	return v;
}

/* ---- the store ---------------------------------------------------------- */

/* Printable ASCII without ':' (the LISTEN_FDNAMES separator), 1..255 bytes, as systemd's
 * fdname_is_valid(). */
static bool fdname_valid(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (*s < ' ' || *s > '~' || *s == ':')
			return false;
	return n > 0 && n <= 255;
}

static void store_drop_at(size_t i, const char *why)
{
	struct stored_fd *e = &keeper.store[i];

	log_debug("fd store: removed %s (fd %d): %s", e->name, e->fd, why);
	/*
	 * Out of the epoll set before the close: notifyd holds the same open
	 * file, and an epoll item lives as long as its file does, so a closed
	 * but still registered fd would go on reporting under a stale number.
	 */
	if (e->polled)
		epoll_ctl(keeper.epfd, EPOLL_CTL_DEL, e->fd, NULL);
	safe_close(e->fd);
	keeper.names_len -= strlen(e->name) + 1;
	free(e->name);
	/* Keep the order: fds are handed over in the order they were stored. */
	memmove(e, e + 1, (keeper.n_store - i - 1) * sizeof(*e));
	keeper.n_store--;
}

/* Forgets and closes every fd stored under name; returns how many. */
static unsigned store_remove(const char *name)
{
	unsigned n = 0;

	for (size_t i = keeper.n_store; i-- > 0;)
		if (strcmp(keeper.store[i].name, name) == 0) {
			store_drop_at(i, "FDSTOREREMOVE=1");
			n++;
		}
	return n;
}

/* Takes fd (closed on failure too). */
static int store_add(const char *name, int fd)
{
	struct stored_fd *e;
	char *copy;
	int r;

	/* LISTEN_FDNAMES is one environment string: execve() takes at most 128 KiB of one. */
	if (keeper.n_store >= keeper.store_max ||
	    keeper.names_len + strlen(name) + 1 > KEEPER_NAMES_MAX) {
		safe_close(fd);
		return -ENOSPC;
	}
	copy = strdup(name);
	if (!copy) {
		safe_close(fd);
		return -ENOMEM;
	}
	if (!keeper.store) {
		keeper.store = calloc(keeper.store_max, sizeof(*keeper.store));
		if (!keeper.store) {
			free(copy);
			safe_close(fd);
			return -ENOMEM;
		}
	}
	e = &keeper.store[keeper.n_store++];
	e->name = copy;
	keeper.names_len += strlen(copy) + 1;
	e->fd = fd;
	/* Events 0: only EPOLLHUP/EPOLLERR, which epoll always reports, wake us. */
	r = epoll_add(fd, 0, EV_STORED);
	e->polled = r == 0;
	if (r < 0 && r != -EPERM) /* EPERM: a file that cannot be polled (memfd), kept as is */
		log_warn("fd store: cannot watch %s for hang-ups: %s", name, strerror(-r));
	log_debug("fd store: stored %s (fd %d, %zu stored)", name, fd, keeper.n_store);
	return 0;
}

/* A stored fd reported EPOLLHUP/EPOLLERR: drop it, as systemd does. */
static void store_hangup(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};

	for (size_t i = 0; i < keeper.n_store; i++) {
		if (keeper.store[i].fd != fd)
			continue;
		/*
		 * Look again: a message handled earlier in the same epoll batch may
		 * have removed the fd that reported, and a new one got its number.
		 */
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
			store_drop_at(i, "hung up");
		return;
	}
}

/* Before a start: hang-ups not dispatched yet (the dead child's peers) are dropped now. */
static void store_sweep_hangups(void)
{
	_cleanup_free_ struct pollfd *p = NULL;
	size_t n = keeper.n_store;

	if (n == 0)
		return;
	p = calloc(n, sizeof(*p));
	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = keeper.store[i].polled ? keeper.store[i].fd : -1};
	if (poll(p, n, 0) <= 0)
		return;
	for (size_t i = n; i-- > 0;)
		if (p[i].revents & (POLLHUP | POLLERR))
			store_drop_at(i, "hung up");
}

static void store_clear(void)
{
	while (keeper.n_store > 0)
		store_drop_at(keeper.n_store - 1, "keeper exits");
	free(keeper.store);
	keeper.store = NULL;
}

/* ---- the notify socket ---------------------------------------------------- */

struct notify_msg {
	bool fdstore, fdstoreremove, ready, stopping, reloading, watchdog;
	const char *fdname, *status, *mainpid;
};

static void notify_parse(char *buf, struct notify_msg *m)
{
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "FDSTORE=1") == 0)
			m->fdstore = true;
		else if (strcmp(line, "FDSTOREREMOVE=1") == 0)
			m->fdstoreremove = true;
		else if (strcmp(line, "READY=1") == 0)
			m->ready = true;
		else if (strcmp(line, "STOPPING=1") == 0)
			m->stopping = true;
		else if (strcmp(line, "RELOADING=1") == 0)
			m->reloading = true;
		else if (strcmp(line, "WATCHDOG=1") == 0)
			m->watchdog = true;
		else if (strncmp(line, "FDNAME=", 7) == 0)
			m->fdname = line + 7;
		else if (strncmp(line, "STATUS=", 7) == 0)
			m->status = line + 7;
		else if (strncmp(line, "MAINPID=", 8) == 0)
			m->mainpid = line + 8;
		/* Anything else (ERRNO=, MONOTONIC_USEC=, FDPOLL=, ...) means nothing here. */
	}
}

static void notify_apply(struct notify_msg *m, int *fds, size_t nfds)
{
	const char *name = m->fdname ? m->fdname : "stored"; /* systemd's default name */

	if (m->ready && !keeper.ever_ready) {
		keeper.ever_ready = true;
		log_info("notifyd (pid %d) is ready", keeper.pid);
	}
	if (m->stopping)
		log_info("notifyd (pid %d) is stopping", keeper.pid);
	if (m->reloading)
		log_info("notifyd (pid %d) is reloading", keeper.pid);
	if (m->status)
		log_debug("notifyd status: %s", m->status);
	/*
	 * MAINPID= is ignored: an upgrade re-executes notifyd in place (same
	 * pid), so the serving process never changes under a running child, and
	 * nothing but the child the keeper started may speak for it.
	 */
	if (m->mainpid)
		log_debug("MAINPID=%s ignored: only the process the keeper started is served",
		          m->mainpid);
	if (m->watchdog)
		log_debug("watchdog ping from %d", keeper.pid);
	if (m->fdstoreremove && m->fdname) {
		if (!fdname_valid(m->fdname))
			log_warn("FDSTOREREMOVE with an invalid name ignored");
		else
			store_remove(m->fdname);
	}
	if (nfds == 0)
		return;
	if (!m->fdstore) {
		log_warn("%zu fd(s) sent without FDSTORE=1 closed", nfds);
		return; /* the caller closes them */
	}
	if (!fdname_valid(name)) {
		log_warn("FDSTORE with an invalid FDNAME refused, %zu fd(s) closed", nfds);
		return;
	}
	/* The fds of one message replace whatever was stored under that name before. */
	store_remove(name);
	for (size_t i = 0; i < nfds; i++) {
		int r = store_add(name, fds[i]);

		fds[i] = -EBADF;
		if (r < 0)
			log_warn("fd store: %s refused: %s", name,
			         r == -ENOSPC ? "the store is full" : strerror(-r));
	}
}

/*
 * Reads one datagram.  Returns 1 when one was handled (or refused), 0 when the
 * socket is empty, -errno on a socket error.
 */
static int notify_read_one(void)
{
	char buf[KEEPER_MSG_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
		         CMSG_SPACE(sizeof(int) * KEEPER_MSG_FDS)];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = KEEPER_MSG_MAX};
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = &control,
	    .msg_controllen = sizeof(control),
	};
	int fds[KEEPER_MSG_FDS];
	size_t nfds = 0;
	const struct ucred *cred = NULL;
	struct notify_msg m = {0};
	ssize_t n;

	n = recvmsg(keeper.notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 1 : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (nfds < KEEPER_MSG_FDS)
					fds[nfds++] = fd;
				else
					safe_close(fd);
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
		           c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			cred = (const struct ucred *)CMSG_DATA(c);
		}
	}
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		log_warn("notify message cut short (%zd bytes), refused", n);
		goto out;
	}
	if (!cred || keeper.pid <= 0 || cred->pid != keeper.pid ||
	    (cred->uid != 0 && cred->uid != geteuid())) {
		/* Like NotifyAccess=main: only the serving notifyd may speak. */
		log_warn(
		    "notify message from pid %d uid %d refused (serving pid %d), %zu fd(s) closed",
		    cred ? cred->pid : 0, cred ? (int)cred->uid : -1, keeper.pid, nfds);
		goto out;
	}
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n) {
		log_warn("notify message with a NUL byte refused");
		goto out;
	}
	notify_parse(buf, &m);
	notify_apply(&m, fds, nfds);
out:
	for (size_t i = 0; i < nfds; i++)
		safe_close(fds[i]);
	return 1;
}

static void notify_drain(void)
{
	int r;

	while ((r = notify_read_one()) > 0)
		;
	if (r < 0)
		log_warn("notify socket: %s", strerror(-r));
}

static int notify_open(const char *socket_opt)
{
	const struct unix_listener_opts lo = {.type = SOCK_DGRAM,
	                                      .flags = SOCK_NONBLOCK,
	                                      .mode = 0600,
	                                      .uid = (uid_t)-1,
	                                      .gid = (gid_t)-1};
	_cleanup_free_ char *copy = strdup(socket_opt);
	const int one = 1;
	char *dir;
	int fd, n, r;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	n = snprintf(keeper.notify_path, sizeof(keeper.notify_path), "%s/notifyd-keeper.notify",
	             dir);
	if (n < 0 || (size_t)n >= sizeof(keeper.notify_path))
		return -ENAMETOOLONG;
	/* Missing directories are made 0755, as notifyd makes them for its sockets. */
	r = fd_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	fd = unix_listener_open(keeper.notify_path, &lo, &keeper.notify_id);
	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		r = -errno;
		unix_listener_remove(keeper.notify_path, &keeper.notify_id);
		safe_close(fd);
		return r;
	}
	return fd;
}

/* ---- the serving child ---------------------------------------------------- */

static bool env_dropped(const char *kv)
{
	static const char *const names[] = {
	    "LISTEN_FDS=",    "LISTEN_FDNAMES=", "LISTEN_PID=", "NOTIFY_SOCKET=",
	    "WATCHDOG_USEC=", "WATCHDOG_PID=",   "MAINPID=",    "MOUNTVISOR_KEEPER_EXEC="};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* The child's argv (ours minus --keeper) and the part of its environment that never changes. */
static int child_setup(int argc, char **argv)
{
	size_t n = 0, k = 0;

	keeper.child_argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!keeper.child_argv)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		bool after_dashdash = false;

		for (int j = 1; j < i; j++)
			after_dashdash |= strcmp(argv[j], "--") == 0;
		if (i > 0 && !after_dashdash && strcmp(argv[i], "--keeper") == 0)
			continue;
		keeper.child_argv[k++] = argv[i];
	}
	for (char **e = environ; *e; e++)
		n++;
	/* + NOTIFY_SOCKET, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, NULL */
	keeper.child_env = calloc(n + 5, sizeof(char *));
	if (!keeper.child_env)
		return -ENOMEM;
	for (char **e = environ; *e; e++)
		if (!env_dropped(*e))
			keeper.child_env[keeper.n_env++] = *e;
	return 0;
}

/*
 * Runs in the child between clone and exec (a copy of a single-threaded
 * process: anything goes, but nothing here returns).  Moves the stored fds to
 * 3..3+n-1 without clobbering any: first every one is copied above the
 * target range, then the copies are put in place.
 */
static _Noreturn void child_exec(char **env, char *pid_buf, size_t pid_len)
{
	size_t n = keeper.n_store;
	sigset_t none;

	for (size_t i = 0; i < n; i++) {
		int hi = fcntl(keeper.store[i].fd, F_DUPFD_CLOEXEC, (int)(3 + n));

		if (hi < 0)
			_exit(127);
		keeper.store[i].fd = hi;
	}
	for (size_t i = 0; i < n; i++)
		if (dup2(keeper.store[i].fd, (int)(3 + i)) < 0) /* dup2 clears FD_CLOEXEC */
			_exit(127);
	syscall(SYS_close_range, (unsigned)(3 + n), ~0U, 0);
	snprintf(pid_buf, pid_len, "LISTEN_PID=%d", (int)getpid());
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL); /* fails harmlessly for SIGKILL, SIGSTOP and glibc's own */
	execve(keeper.exe, keeper.child_argv, env);
	_exit(127);
}

static int child_start(void)
{
	struct clone_args ca = {0};
	_cleanup_free_ char *names = NULL, *notify_env = NULL, *fds_env = NULL;
	char pid_env[32];
	size_t len = 1, e = keeper.n_env;
	int pidfd = -EBADF;
	long pid;

	store_sweep_hangups();
	for (size_t i = 0; i < keeper.n_store; i++)
		len += strlen(keeper.store[i].name) + 1;
	names = malloc(sizeof("LISTEN_FDNAMES=") + len);
	if (!names || asprintf(&notify_env, "NOTIFY_SOCKET=%s", keeper.notify_path) < 0 ||
	    asprintf(&fds_env, "LISTEN_FDS=%zu", keeper.n_store) < 0)
		return -ENOMEM;
	{
		char *p = stpcpy(names, "LISTEN_FDNAMES=");

		for (size_t i = 0; i < keeper.n_store; i++)
			p = stpcpy(stpcpy(p, i > 0 ? ":" : ""), keeper.store[i].name);
	}
	keeper.child_env[e++] = notify_env;
	if (keeper.n_store > 0) {
		keeper.child_env[e++] = fds_env;
		keeper.child_env[e++] = names;
		keeper.child_env[e++] = pid_env;
	}
	keeper.child_env[e] = NULL;
	strcpy(pid_env, "LISTEN_PID=0");

	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(keeper.child_env, pid_env, sizeof(pid_env));
	keeper.child_env[keeper.n_env] = NULL;
	keeper.pid = (pid_t)pid;
	keeper.pidfd = pidfd;
	keeper.started_ms = now_ms();
	keeper.starts++;
	if (epoll_add(pidfd, EPOLLIN, EV_CHILD) < 0) {
		/* Without it we would never see the child exit: stop it, reap it, fail. */
		int r = -errno;

		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		waitid((idtype_t)P_PIDFD, (id_t)pidfd, &(siginfo_t){0}, WEXITED | __WALL);
		keeper.pidfd = safe_close(pidfd);
		keeper.pid = -1;
		return r;
	}
	log_info("started %s (pid %ld, start %u) with %zu stored fd(s)", keeper.exe, pid,
	         keeper.starts, keeper.n_store);
	return 0;
}

static int arm_timer(unsigned ms)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000}};

	return timerfd_settime(keeper.timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/*
 * Starts the next child.  A failure (out of memory or pids, for a moment)
 * must not lose the store: the start is tried again after the backoff.
 * Returns -1 to go on, or the keeper's exit status.
 */
static int child_restart(void)
{
	int r = child_start();

	if (r >= 0)
		return -1;
	keeper.backoff_ms = keeper.backoff_ms ? keeper.backoff_ms * 2 : KEEPER_BACKOFF_MIN_MS;
	if (keeper.backoff_ms > KEEPER_BACKOFF_MAX_MS)
		keeper.backoff_ms = KEEPER_BACKOFF_MAX_MS;
	log_error("cannot start notifyd: %s; trying again in %u ms", strerror(-r),
	          keeper.backoff_ms);
	if (arm_timer(keeper.backoff_ms) < 0)
		return EXIT_FAILURE;
	keeper.start_pending = true;
	return -1;
}

/* The exit status a shell would report for si. */
static int status_of(const siginfo_t *si)
{
	return si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
}

/*
 * The serving child exited.  Returns -1 to go on, or the keeper's exit status.
 */
static int child_exited(void)
{
	siginfo_t si = {0};
	uint64_t up = now_ms() - keeper.started_ms;
	int r;

	/* Its last words first: an FDSTORE sent just before it died counts. */
	notify_drain();
	if (waitid((idtype_t)P_PIDFD, (id_t)keeper.pidfd, &si, WEXITED | WNOHANG | __WALL) < 0) {
		log_error("waitid on notifyd's pidfd: %m");
		return EXIT_FAILURE;
	}
	if (si.si_pid == 0)
		return -1; /* not yet (spurious wake-up) */
	epoll_ctl(keeper.epfd, EPOLL_CTL_DEL, keeper.pidfd, NULL);
	keeper.pidfd = safe_close(keeper.pidfd);
	if (si.si_code == CLD_EXITED)
		log_info("notifyd (pid %d) exited with status %d after %" PRIu64 " ms", keeper.pid,
		         si.si_status, up);
	else
		log_warn("notifyd (pid %d) was killed by signal %d after %" PRIu64 " ms",
		         keeper.pid, si.si_status, up);
	keeper.pid = -1;
	if (keeper.stopping)
		return status_of(&si);
	if (!keeper.ever_ready) {
		/* A bad profile or option must fail the start, not loop. */
		log_error("notifyd failed before it was ready; the keeper gives up");
		return status_of(&si);
	}
	if (up >= KEEPER_BACKOFF_RESET_MS)
		keeper.backoff_ms = 0;
	if (up < keeper.quick_death_ms) {
		keeper.backoff_ms =
		    keeper.backoff_ms ? keeper.backoff_ms * 2 : KEEPER_BACKOFF_MIN_MS;
		if (keeper.backoff_ms > KEEPER_BACKOFF_MAX_MS)
			keeper.backoff_ms = KEEPER_BACKOFF_MAX_MS;
		log_warn("notifyd died %" PRIu64 " ms after its start; next start in %u ms", up,
		         keeper.backoff_ms);
		r = arm_timer(keeper.backoff_ms);
		if (r == 0) {
			keeper.start_pending = true;
			return -1;
		}
		log_warn("cannot arm the backoff timer (%s); starting at once", strerror(-r));
	}
	return child_restart();
}

/*
 * SIGCHLD: reaps every child that exited, orphans re-parented to us (FUSE
 * daemons, vfsd) and the serving child alike; the serving one goes through
 * child_exited(), whichever of SIGCHLD and its pidfd is seen first.  Each
 * exited child is looked at first (WNOWAIT), so the serving one is never
 * reaped here behind child_exited()'s back.  Returns -1 to go on, or the
 * keeper's exit status.
 */
static int reap_children(void)
{
	for (;;) {
		siginfo_t si = {0};
		int st;

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 ||
		    si.si_pid == 0)
			return -1;
		if (si.si_pid == keeper.pid) {
			st = child_exited();
			if (st >= 0)
				return st;
			continue;
		}
		if (waitid(P_PID, (id_t)si.si_pid, &si, WEXITED | WNOHANG | __WALL) == 0)
			log_debug("reaped orphan %d (status %d)", si.si_pid, si.si_status);
	}
}

static void forward_signal(int sig)
{
	if (keeper.pidfd < 0)
		return;
	if (syscall(SYS_pidfd_send_signal, keeper.pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		log_warn("cannot forward signal %d to notifyd: %m", sig);
}

/* Returns -1 to go on, or the keeper's exit status. */
static int on_signal(void)
{
	struct signalfd_siginfo ssi;

	while (read(keeper.sig_fd, &ssi, sizeof(ssi)) == (ssize_t)sizeof(ssi)) {
		int sig = (int)ssi.ssi_signo;

		switch (sig) {
		case SIGCHLD: {
			int st = reap_children();

			if (st >= 0)
				return st;
			break;
		}
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: stopping notifyd", sig);
			keeper.stopping = true;
			if (keeper.pidfd < 0)
				return EXIT_SUCCESS; /* waiting out a backoff: nothing to stop */
			forward_signal(sig);
			break;
		default: /* SIGHUP (profiles), SIGUSR2 (upgrade in place) */
			log_info("signal %d: forwarded to notifyd (pid %d)", sig, keeper.pid);
			forward_signal(sig);
			break;
		}
	}
	return -1;
}

static int setup(int argc, char **argv)
{
	const char *exec_override = getenv("MOUNTVISOR_KEEPER_EXEC");
	const char *socket_opt = option_value(argc, argv, "--socket", 4);
	const char *quick = getenv("MOUNTVISOR_KEEPER_QUICK_DEATH_MS");
	struct rlimit rl;
	sigset_t mask;
	ssize_t n;
	int r;

	/*
	 * 0, 1 and 2 open: otherwise a stored fd or our own socket could get one
	 * of those numbers and be taken for stdin/stdout/stderr by notifyd.
	 */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			return -errno;
	/* It holds every container's notify fd: nobody may read its memory or its fds. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	/* Descendants of a dead notifyd (FUSE daemons, vfsd) become ours to reap. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	/* Resolved now, so a binary upgraded at the same path is what later starts run. */
	if (exec_override && *exec_override) {
		if (strlen(exec_override) >= sizeof(keeper.exe))
			return -ENAMETOOLONG;
		strcpy(keeper.exe, exec_override);
	} else {
		n = readlink("/proc/self/exe", keeper.exe, sizeof(keeper.exe) - 1);
		if (n < 0)
			return -errno;
		keeper.exe[n] = '\0';
	}
	/* Test hook (tests/integration/notifyd_keeper.sh): restarts without backoff. */
	if (quick && *quick) {
		char *end;
		unsigned long v = strtoul(quick, &end, 10);

		if (*end || v > 60000)
			return -EINVAL;
		keeper.quick_death_ms = (unsigned)v;
	}
	/* Room for the store twice over: a start copies every fd once above the target range. */
	keeper.store_max = KEEPER_STORE_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * KEEPER_STORE_MAX + 64)
			keeper.store_max = rl.rlim_cur > 128 ? (rl.rlim_cur - 64) / 2 : 32;
	}
	r = child_setup(argc, argv);
	if (r < 0)
		return r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	/* Whatever we inherited: orphans must wake us (an ignored SIGCHLD reaps them unseen). */
	signal(SIGCHLD, SIG_DFL);
	keeper.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	keeper.epfd = epoll_create1(EPOLL_CLOEXEC);
	keeper.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (keeper.sig_fd < 0 || keeper.epfd < 0 || keeper.timer_fd < 0)
		return -errno;
	keeper.notify_fd = notify_open(socket_opt ? socket_opt : "/run/mountvisor/notifyd.sock");
	if (keeper.notify_fd < 0)
		return keeper.notify_fd;
	if ((r = epoll_add(keeper.notify_fd, EPOLLIN, EV_NOTIFY)) < 0 ||
	    (r = epoll_add(keeper.sig_fd, EPOLLIN, EV_SIGNAL)) < 0 ||
	    (r = epoll_add(keeper.timer_fd, EPOLLIN, EV_TIMER)) < 0)
		return r;
	return 0;
}

static int run(void)
{
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(keeper.epfd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %m");
			return EXIT_FAILURE;
		}
		for (int i = 0; i < n; i++) {
			enum keeper_ev kind = (enum keeper_ev)(evs[i].data.u64 >> 32);
			int fd = (int)(uint32_t)evs[i].data.u64, st = -1;
			uint64_t ticks;

			switch (kind) {
			case EV_NOTIFY:
				notify_drain();
				break;
			case EV_SIGNAL:
				st = on_signal();
				break;
			case EV_CHILD:
				if (fd == keeper.pidfd)
					st = child_exited();
				break;
			case EV_TIMER:
				if (read(keeper.timer_fd, &ticks, sizeof(ticks)) < 0 ||
				    !keeper.start_pending)
					break;
				keeper.start_pending = false;
				st = child_restart();
				break;
			case EV_STORED:
				store_hangup(fd);
				break;
			}
			if (st >= 0)
				return st;
		}
	}
}

int keeper_main(int argc, char **argv)
{
	const char *lvl = option_value(argc, argv, "--log-level", 4);
	int level = lvl ? log_parse_level(lvl) : LOG_LVL_INFO;
	int r, st;

	log_setup("notifyd-keeper", level < 0 ? LOG_LVL_INFO : (enum log_level)level);
	r = setup(argc, argv);
	if (r < 0) {
		log_error("cannot set up the keeper: %s", strerror(-r));
		st = EXIT_FAILURE;
		goto out;
	}
	log_info("keeper for %s; notify socket %s; at most %zu stored fds", keeper.exe,
	         keeper.notify_path, keeper.store_max);
	r = child_start();
	if (r < 0) {
		log_error("cannot start %s: %s", keeper.exe, strerror(-r));
		st = EXIT_FAILURE;
		goto out;
	}
	st = run();
	if (keeper.pidfd >= 0) {
		/* Leaving with a child still up (an error above): do not leave it unattended. */
		syscall(SYS_pidfd_send_signal, keeper.pidfd, SIGTERM, NULL, 0);
		waitid((idtype_t)P_PIDFD, (id_t)keeper.pidfd, &(siginfo_t){0}, WEXITED | __WALL);
	}
	for (;;) { /* orphans that exited meanwhile */
		siginfo_t si = {0};

		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL) < 0 || si.si_pid == 0)
			break;
	}
out:
	if (keeper.notify_fd >= 0)
		unix_listener_remove(keeper.notify_path, &keeper.notify_id);
	store_clear();
	safe_close(keeper.notify_fd);
	safe_close(keeper.pidfd);
	safe_close(keeper.timer_fd);
	safe_close(keeper.sig_fd);
	safe_close(keeper.epfd);
	free(keeper.child_argv);
	free(keeper.child_env);
	log_info("keeper exits with status %d", st);
	return st;
}
