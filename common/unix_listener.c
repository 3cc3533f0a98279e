/* SPDX-License-Identifier: MIT */
#include "common/unix_listener.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TMP_NAME "s"

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Does anybody listen on the socket file at path?  1 yes, 0 no (connect()
 * refused: nobody has it bound, or the one who has does not listen), or
 * -errno.  A live listener of another socket type answers EPROTOTYPE, which
 * counts as yes.  connect() follows a symlink swapped in since the caller's
 * lstat(); the caller checks again what it replaces, so that only costs a
 * wrong answer, never a wrong file.
 */
static int socket_in_use(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 1;
	switch (errno) {
	case EAGAIN: /* backlog full: very much alive */
	case EINPROGRESS:
	case EPROTOTYPE:
		return 1;
	case ECONNREFUSED:
		return 0;
	default:
		return -errno;
	}
}

/*
 * Bind fd to TMP_NAME inside the directory dirfd (at dirpath).  Through
 * /proc/self/fd, so the private directory's own path need not fit sun_path
 * and the process's working directory is left alone (other threads use it);
 * without /proc, by the directory's path when that fits.
 */
static int bind_in_dir(int fd, int dirfd, const char *dirpath)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/" TMP_NAME, dirfd);

	if (n > 0 && (size_t)n < sizeof(sa.sun_path) &&
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" TMP_NAME, dirpath);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	return bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

/*
 * Put the socket file TMP_NAME of dirfd at path, by the rule in the header.
 * Returns 0, -EAGAIN when what is at path changed under us (the caller
 * looks again), or -errno.
 */
static int install(int dirfd, const char *path, int type)
{
	struct stat old, displaced;
	int r;

	if (lstat(path, &old) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (renameat2(dirfd, TMP_NAME, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
			return 0;
		return errno == EEXIST ? -EAGAIN : -errno;
	}
	if (!S_ISSOCK(old.st_mode))
		return -EEXIST;
	r = socket_in_use(path, type);
	if (r != 0)
		return r > 0 ? -EADDRINUSE : r;
	/*
	 * Swap ours in and look at what came out: only the stale socket we
	 * probed may be removed.  If somebody put something else there
	 * meanwhile, it goes back.
	 */
	if (renameat2(dirfd, TMP_NAME, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	if (fstatat(dirfd, TMP_NAME, &displaced, AT_SYMLINK_NOFOLLOW) == 0 &&
	    same_file(&displaced, &old)) {
		(void)unlinkat(dirfd, TMP_NAME, 0);
		return 0;
	}
	if (renameat2(dirfd, TMP_NAME, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
		return -errno; /* ours stays at path: the best left to do */
	return -EAGAIN;
}

int unix_listener_open(const char *path, const struct unix_listener_opts *opts,
                       struct unix_listener_id *ret_id)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -EBADF, dirfd = -EBADF;
	_cleanup_free_ char *tmp = NULL;
	const char *base = strrchr(path, '/');
	struct stat st;
	int r;

	if (ret_id)
		ret_id->set = false;
	/* Clients connect by this path, so it must fit sun_path. */
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	base = base ? base + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (asprintf(&tmp, "%.*s.unix-listener-XXXXXX", (int)(base - path), path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(tmp)) /* 0700: nobody else can reach the socket before it is ready */
		return -errno;
	dirfd = open(tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	fd = socket(AF_UNIX, opts->type | opts->flags | SOCK_CLOEXEC, 0);
	if (dirfd < 0 || fd < 0) {
		r = -errno;
		goto out;
	}
	r = bind_in_dir(fd, dirfd, tmp);
	if (r < 0)
		goto out;
	if (((opts->uid != (uid_t)-1 || opts->gid != (gid_t)-1) &&
	     fchownat(dirfd, TMP_NAME, opts->uid, opts->gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    fchmodat(dirfd, TMP_NAME, opts->mode & 07777, 0) < 0 ||
	    fstatat(dirfd, TMP_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (opts->type != SOCK_DGRAM && listen(fd, opts->backlog) < 0)) {
		r = -errno;
		goto out;
	}
	/* Listening before it appears: once the path exists, connecting works. */
	for (int tries = 0; tries < 8; tries++) {
		r = install(dirfd, path, opts->type);
		if (r != -EAGAIN)
			break;
	}
	if (r == -EAGAIN)
		r = -EEXIST;
	if (r == 0 && ret_id)
		*ret_id =
		    (struct unix_listener_id){.dev = st.st_dev, .ino = st.st_ino, .set = true};
out:
	if (dirfd >= 0)
		(void)unlinkat(dirfd, TMP_NAME, 0); /* still ours if it was not installed */
	(void)rmdir(tmp);
	return r < 0 ? r : TAKE_FD(fd);
}

int unix_listener_remove(const char *path, const struct unix_listener_id *id)
{
	struct stat st;

	if (!id || !id->set)
		return 0;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != id->dev || st.st_ino != id->ino)
		return 0;
	/* Only a writer of the directory could swap the file between the check
	 * and here; such a writer can remove it anyway. */
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}
