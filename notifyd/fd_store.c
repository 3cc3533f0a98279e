/* SPDX-License-Identifier: MIT */
#include "notifyd/fd_store.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

struct named_fd {
	char *name;
	int fd;      /* our copy */
	bool handed; /* handed in at start and not taken yet */
};

static struct {
	pthread_mutex_t lock;
	struct named_fd *v;
	size_t n, cap;
	bool active, restarted;
	struct statx root; /* notifyd's own "/", where NOTIFY_SOCKET is meant */
} store = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * libsystemd resolves NOTIFY_SOCKET (a path) in the calling thread's root.
 * Workers step into containers' roots (view.c): a message sent from there
 * would go to whatever socket the container put at that path -- with our
 * fds.  So nothing is sent from a thread whose "/" is not notifyd's own.
 */
static bool in_own_root(void)
{
	struct statx now;

	if (statx(AT_FDCWD, "/", 0, STATX_INO | STATX_MNT_ID, &now) < 0)
		return false;
	return now.stx_ino == store.root.stx_ino && now.stx_dev_major == store.root.stx_dev_major &&
	       now.stx_dev_minor == store.root.stx_dev_minor &&
	       now.stx_mnt_id == store.root.stx_mnt_id;
}

/* sd_pid_notify_with_fds(), from our own root only (see in_own_root()). */
static int store_send(const char *msg, int *fds, unsigned n)
{
	if (!store.active)
		return 0;
	if (!in_own_root()) {
		log_error("fd store: not sending '%.40s' from a thread in another root", msg);
		return -EPERM;
	}
	return sd_pid_notify_with_fds(0, 0, msg, fds, n);
}

static struct named_fd *find(const char *name)
{
	for (size_t i = 0; i < store.n; i++)
		if (strcmp(store.v[i].name, name) == 0)
			return &store.v[i];
	return NULL;
}

static int append(const char *name, int fd, bool handed)
{
	if (store.n == store.cap) {
		size_t cap = store.cap ? store.cap * 2 : 64;
		struct named_fd *v = realloc(store.v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		store.v = v;
		store.cap = cap;
	}
	store.v[store.n].name = strdup(name);
	if (!store.v[store.n].name)
		return -ENOMEM;
	store.v[store.n].fd = fd;
	store.v[store.n].handed = handed;
	store.n++;
	return 0;
}

static void drop(struct named_fd *e)
{
	safe_close(e->fd);
	free(e->name);
	*e = store.v[--store.n];
}

/*
 * Handed in by our own exec (fdstore_exec()): move the listed fds to 3..,
 * first all above that range so none is clobbered, and say so the way a
 * store does (LISTEN_FDS, LISTEN_PID).  We are single-threaded here.
 */
static int exec_fds_down(const char *list)
{
	int fds[16384], n = 0;
	char num[32];

	for (const char *p = list; *p && n < (int)ARRAY_SIZE(fds);) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p || fd < 3 || fd > INT32_MAX || (*end && *end != ','))
			return -EINVAL;
		fds[n++] = (int)fd;
		p = *end ? end + 1 : end;
	}
	for (int i = 0; i < n; i++) {
		int high = fcntl(fds[i], F_DUPFD_CLOEXEC, SD_LISTEN_FDS_START + n);
		if (high < 0)
			return -errno;
		close(fds[i]);
		fds[i] = high;
	}
	for (int i = 0; i < n; i++) {
		if (dup2(fds[i], SD_LISTEN_FDS_START + i) < 0)
			return -errno;
		close(fds[i]);
	}
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	return 0;
}

int fdstore_init(void)
{
	const char *exec_fds = getenv("MOUNTVISOR_EXEC_FDS");
	char **names = NULL;
	int n, r = 0;

	if (exec_fds) {
		r = exec_fds_down(exec_fds);
		unsetenv("MOUNTVISOR_EXEC_FDS");
		if (r < 0)
			return r;
	}
	n = sd_listen_fds_with_names(1, &names);

	store.active = getenv("NOTIFY_SOCKET") != NULL;
	if (statx(AT_FDCWD, "/", 0, STATX_INO | STATX_MNT_ID, &store.root) < 0)
		return -errno;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "unknown";

		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (r == 0)
			r = append(name, fd, true);
		else
			safe_close(fd);
		/* Only a notifyd stores these: one ran before us (a socket unit hands the others).
		 */
		if (strcmp(name, "oci") != 0 && strcmp(name, "lxc") != 0 &&
		    strcmp(name, "control") != 0)
			store.restarted = true;
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	return r;
}

bool fdstore_active(void)
{
	return store.active;
}

bool fdstore_restarted(void)
{
	return store.restarted;
}

/* The caller gets the handed-in fd itself; we keep a duplicate. Lock held. */
static int take_locked(struct named_fd *e)
{
	int copy = fcntl(e->fd, F_DUPFD_CLOEXEC, 3);
	int fd;

	if (copy < 0)
		return -errno;
	fd = e->fd;
	e->fd = copy;
	e->handed = false;
	return fd;
}

int fdstore_take(const char *name)
{
	struct named_fd *e;
	int r = -ENOENT;

	pthread_mutex_lock(&store.lock);
	e = find(name);
	if (e && e->handed)
		r = take_locked(e);
	pthread_mutex_unlock(&store.lock);
	return r;
}

void fdstore_take_prefix(const char *prefix, void (*fn)(const char *name, int fd, void *userdata),
                         void *userdata)
{
	size_t len = strlen(prefix);

	for (;;) {
		_cleanup_free_ char *name = NULL;
		int fd = -ENOENT;

		pthread_mutex_lock(&store.lock);
		for (size_t i = 0; i < store.n && fd == -ENOENT; i++)
			if (store.v[i].handed && strncmp(store.v[i].name, prefix, len) == 0) {
				name = strdup(store.v[i].name);
				fd = name ? take_locked(&store.v[i]) : -ENOMEM;
			}
		pthread_mutex_unlock(&store.lock);
		if (fd == -ENOENT)
			return;
		if (fd < 0) {
			log_warn("fd store: cannot take an fd: %s", strerror(-fd));
			return;
		}
		fn(name, fd, userdata);
	}
}

/* Tell the store to forget name (all fds of that name). */
static void store_forget(const char *name)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)store_send(msg, NULL, 0);
}

int fdstore_put(const char *name, int fd)
{
	char msg[300];
	struct named_fd *e;
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int r;

	if (copy < 0)
		return -errno;
	pthread_mutex_lock(&store.lock);
	e = find(name);
	if (e) {
		store_forget(name);
		drop(e);
	}
	r = append(name, copy, false);
	pthread_mutex_unlock(&store.lock);
	if (r < 0) {
		safe_close(copy);
		return r;
	}
	if (!store.active)
		return 0;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = store_send(msg, &fd, 1);
	return r < 0 ? r : r == 0 ? -ENOTCONN : 0;
}

void fdstore_remove(const char *name)
{
	struct named_fd *e;

	pthread_mutex_lock(&store.lock);
	e = find(name);
	if (e) {
		store_forget(name);
		drop(e);
	}
	pthread_mutex_unlock(&store.lock);
}

void fdstore_drop_untaken(void)
{
	pthread_mutex_lock(&store.lock);
	for (size_t i = 0; i < store.n;) {
		if (!store.v[i].handed) {
			i++;
			continue;
		}
		log_info("fd store: %s was handed in but nothing claims it; dropped",
		         store.v[i].name);
		store_forget(store.v[i].name);
		drop(&store.v[i]);
	}
	pthread_mutex_unlock(&store.lock);
}

/* NAME1:NAME2:... for LISTEN_FDNAMES. Lock held. */
static char *joined_names(void)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < store.n; i++)
		len += strlen(store.v[i].name) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < store.n; i++)
		p += sprintf(p, "%s%s", i ? ":" : "", store.v[i].name);
	return s;
}

/*
 * Other threads still run until execv(): moving our fds onto 3.. here
 * could close an fd one of them is about to use (or reuse a number it is
 * about to close).  So each goes over at a new number of its own, listed in
 * MOUNTVISOR_EXEC_FDS, and the new image moves them to 3.. (exec_fds_down())
 * while it is still single-threaded.  Children forked meanwhile close every
 * fd they do not own (ns_child.c), so the short window without CLOEXEC
 * leaks nothing.
 */
int fdstore_exec(const char *path, char *const argv[])
{
	char *names, *list, *p;

	if (access(path, X_OK) < 0)
		return -errno;
	pthread_mutex_lock(&store.lock); /* never released: we exec or exit */
	names = joined_names();
	list = p = malloc(store.n * 12 + 1);
	if (!names || !list)
		return -ENOMEM;
	*p = '\0';
	for (size_t i = 0; i < store.n; i++) {
		int fd = fcntl(store.v[i].fd, F_DUPFD, 3); /* without CLOEXEC */
		if (fd < 0)
			return -errno;
		p += sprintf(p, "%s%d", i ? "," : "", fd);
	}
	setenv("MOUNTVISOR_EXEC_FDS", list, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	execv(path, argv);
	return -errno;
}

void fdstore_notify(const char *state)
{
	(void)store_send(state, NULL, 0);
}
