/* SPDX-License-Identifier: MIT */
/* common/unix_listener.c: what is replaced at the path, what is refused, modes. */
#include "common/unix_listener.h"
#include "tests/unit/tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];

static const char *at(const char *name)
{
	static char buf[2][256];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int connect_to(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Does a client connecting to path reach listener lfd? */
static int reaches(const char *path, int lfd, int type)
{
	int c = connect_to(path, type), a;

	if (c < 0)
		return 0;
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	close(c);
	if (a < 0)
		return 0;
	close(a);
	return 1;
}

/* A socket file at path that nobody listens on (a daemon killed before cleaning up). */
static void make_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		perror("bind");
	close(fd);
}

/* Entries of dir other than . and .. (no private directory may be left behind). */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

int main(void)
{
	struct unix_listener_opts o = {
	    .type = SOCK_STREAM, .mode = 0600, .uid = (uid_t)-1, .gid = (gid_t)-1, .backlog = 8};
	struct unix_listener_id id, id2;
	struct stat st, st2;
	char longpath[200];
	int fd, fd2;

	snprintf(dir, sizeof(dir), "/tmp/mv-unix-listener-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("not ok - mkdtemp: %s\n", strerror(errno));
		return 1;
	}

	umask(0);
	fd = unix_listener_open(at("a.sock"), &o, &id);
	CHECK(fd >= 0 && lstat(at("a.sock"), &st) == 0 && S_ISSOCK(st.st_mode) &&
	          (st.st_mode & 07777) == 0600,
	      "a new socket is created with the mode asked for, whatever the umask");
	CHECK(id.set && id.dev == st.st_dev && id.ino == st.st_ino, "its id names the file");
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "the listener is close-on-exec");
	CHECK(fd >= 0 && reaches(at("a.sock"), fd, SOCK_STREAM), "clients reach it");
	CHECK(entries() == 1, "no private directory is left beside it");

	fd2 = unix_listener_open(at("a.sock"), &o, &id2);
	CHECK(fd2 == -EADDRINUSE, "a socket somebody listens on is not replaced (%d)", fd2);
	CHECK(reaches(at("a.sock"), fd, SOCK_STREAM), "... and still reaches its listener");
	o.type = SOCK_SEQPACKET;
	fd2 = unix_listener_open(at("a.sock"), &o, &id2);
	CHECK(fd2 == -EADDRINUSE, "... not by a listener of another socket type either (%d)", fd2);
	o.type = SOCK_STREAM;

	CHECK(unix_listener_remove(at("a.sock"), &id) == 1 && lstat(at("a.sock"), &st) < 0,
	      "remove unlinks our own socket");
	close(fd);

	make_stale(at("b.sock"));
	lstat(at("b.sock"), &st);
	fd = unix_listener_open(at("b.sock"), &o, &id);
	CHECK(fd >= 0 && lstat(at("b.sock"), &st2) == 0 && st2.st_ino != st.st_ino &&
	          reaches(at("b.sock"), fd, SOCK_STREAM),
	      "a stale socket (nobody listening) is replaced (%d)", fd);
	CHECK(entries() == 1, "the stale socket and the private directory are gone");
	/* A successor replaced ours: remove leaves the successor's. */
	make_stale(at("b.new"));
	rename(at("b.new"), at("b.sock"));
	CHECK(unix_listener_remove(at("b.sock"), &id) == 0 && lstat(at("b.sock"), &st) == 0,
	      "remove leaves a socket file that is not ours");
	close(fd);
	unlink(at("b.sock"));

	close(open(at("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	CHECK(unix_listener_open(at("file"), &o, NULL) == -EEXIST && lstat(at("file"), &st) == 0 &&
	          S_ISREG(st.st_mode),
	      "a regular file is refused and left alone");
	mkdir(at("dir"), 0755);
	CHECK(unix_listener_open(at("dir"), &o, NULL) == -EEXIST && lstat(at("dir"), &st) == 0 &&
	          S_ISDIR(st.st_mode),
	      "a directory is refused and left alone");
	make_stale(at("target.sock"));
	CHECK(symlink(at("target.sock"), at("link")) == 0 &&
	          unix_listener_open(at("link"), &o, NULL) == -EEXIST &&
	          lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode) &&
	          lstat(at("target.sock"), &st2) == 0 && S_ISSOCK(st2.st_mode),
	      "a symlink, even to a stale socket, is refused: neither it nor its target changes");
	CHECK(symlink(at("nowhere"), at("dangling")) == 0 &&
	          unix_listener_open(at("dangling"), &o, NULL) == -EEXIST &&
	          lstat(at("nowhere"), &st) < 0,
	      "a dangling symlink is refused and nothing is created at its target");
	CHECK(unix_listener_remove(at("file"), &id) == 0 && lstat(at("file"), &st) == 0,
	      "remove never touches something that is not our socket");

	o.mode = 0660;
	o.gid = 4242;
	fd = unix_listener_open(at("g.sock"), &o, &id);
	CHECK(fd >= 0 && lstat(at("g.sock"), &st) == 0 && (st.st_mode & 07777) == 0660 &&
	          st.st_gid == 4242,
	      "mode and group are set before the socket appears (%d)", fd);
	if (fd >= 0)
		close(fd);
	unix_listener_remove(at("g.sock"), &id);

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, dir, strlen(dir));
	longpath[strlen(dir)] = '/';
	CHECK(unix_listener_open(longpath, &o, NULL) == -ENAMETOOLONG,
	      "a path that does not fit sun_path is refused");
	CHECK(unix_listener_open(at(""), &o, NULL) == -EINVAL, "a path ending in / is refused");
	CHECK(unix_listener_open(at("missing/x.sock"), &o, NULL) == -ENOENT,
	      "a missing parent directory is an error (callers create what they need)");

	unlink(at("file"));
	unlink(at("link"));
	unlink(at("dangling"));
	unlink(at("target.sock"));
	rmdir(at("dir"));
	CHECK(entries() == 0, "nothing left behind");
	rmdir(dir);
	TAP_EXIT();
}
