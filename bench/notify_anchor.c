/* SPDX-License-Identifier: MIT */
/*
 * notify_anchor: the smallest seccomp supervisor, the anchor for notifyd's
 * continue action in make bench.  It takes the OCI hand-over on SOCKET
 * (the state JSON with the listener fd, as mv_launch sends it) and answers
 * every notification of every container with SECCOMP_USER_NOTIF_FLAG_CONTINUE
 * at once: no arguments read, no lookup, no log.  One thread per container,
 * blocking in SECCOMP_IOCTL_NOTIF_RECV, with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 * set when the kernel has it (6.6), as notifyd does.
 *
 *   notify_anchor SOCKET
 *
 * Runs until killed.  A container measured under it pays the kernel's notify
 * round trip and nothing else: what notifyd adds on top is notifyd's own.
 */
#include "common/kernel_compat.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct seccomp_notif n;
	struct seccomp_notif_resp resp;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!(p.revents & POLLIN))
			break; /* POLLHUP: the filter has no users left */
		memset(&n, 0, sizeof(n));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
			continue; /* ENOENT: the caller was interrupted */
		memset(&resp, 0, sizeof(resp));
		resp.id = n.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		(void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	close(fd);
	return NULL;
}

/* The first message of a connection carries the listener fd; the rest is drained. */
static int take_fd(int conn)
{
	char buf[4096];
	union {
		struct cmsghdr h;
		char c[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof(u.c)};
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(conn, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ls, warned = 0;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify_anchor SOCKET\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0) {
		perror("notify_anchor: listen");
		return 1;
	}
	for (;;) {
		int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;
		int fd;

		if (conn < 0)
			continue;
		fd = take_fd(conn);
		close(conn);
		if (fd < 0)
			continue;
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		          (uint64_t)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0 &&
		    !warned++)
			fprintf(stderr, "notify_anchor: no SYNC_WAKE_UP: %m\n");
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
