/* SPDX-License-Identifier: MIT */
/*
 * mountvisor-fusermount: a stand-in for fusermount(1) that mounts nothing.
 *
 * notifyd mounts the FUSE connection itself (as root of the container's user
 * namespace) and starts the FUSE program with the connection's /dev/fuse fd
 * already open, its number in MOUNTVISOR_FUSE_FD.  libfuse2 programs (fuse2fs
 * in Debian 12) do not know about pre-mounted fds: with -o auto_unmount they
 * always run "fusermount [-o OPTS] -- MOUNTPOINT" with _FUSE_COMMFD naming a
 * unix socket and wait for the /dev/fuse fd to arrive on it (SCM_RIGHTS).
 * This program answers that protocol with the fd it inherited, then exits;
 * "fusermount -u MOUNTPOINT" succeeds without doing anything (notifyd owns
 * the mount and detaches it when the program dies).
 *
 * Exit status: 0 sent, 1 usage or environment error (message on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (!v || !*v)
		return -ENOENT;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || *end || fd < 0 || fd > 65535)
		return -EINVAL;
	return (int)fd;
}

static int send_fd(int sock, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl,
	    .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	int commfd, fusefd, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		/* -u (unmount) and -z (lazy): the mount is notifyd's, nothing to do. */
		if (strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "-uz") == 0 ||
		    strcmp(argv[i], "-zu") == 0)
			return 0;
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("mountvisor-fusermount (fusermount version: 2.9.9 compatible)\n");
			return 0;
		}
	}
	commfd = parse_fd("_FUSE_COMMFD");
	fusefd = parse_fd("MOUNTVISOR_FUSE_FD");
	if (commfd < 0 || fusefd < 0) {
		fprintf(stderr,
		        "%s: this is mountvisor's fusermount stand-in; it only hands over a "
		        "connection notifyd mounted (_FUSE_COMMFD and MOUNTVISOR_FUSE_FD unset)\n",
		        argv[0]);
		return 1;
	}
	r = send_fd(commfd, fusefd);
	if (r < 0) {
		fprintf(stderr, "%s: sending the FUSE fd: %s\n", argv[0], strerror(-r));
		return 1;
	}
	/* Our copies must not keep the connection alive once the program is gone. */
	close(fusefd);
	close(commfd);
	return 0;
}
