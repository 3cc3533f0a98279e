/* SPDX-License-Identifier: MIT */
/*
 * lxc_proxy_client SOCKET: plays an LXC monitor against notifyd's
 * --lxc-socket, one line per case:
 *   case=NAME reply=BYTES error=ERRNO-NAME ms=MILLISECONDS
 *
 * First a real request, the way LXC 5.0.2 sends it: a child installs a
 * filter that notifies on mount(2) and calls mount("none", "/", "mvtest-nofs");
 * the client receives the notification, forwards it with /proc/<pid>, its
 * mem and the notify fd, and passes notifyd's answer to the kernel as LXC
 * does; the child prints the errno its mount got ("child errno=NAME").
 * Then malformed messages on the same connection (reserved field set, wrong
 * struct sizes, a short message, a cookie longer than its header says, no
 * fds, one fd, four fds), each of which must be answered at once with an
 * error; a last real request to show the connection still works; and a
 * second connection whose first message is bad, then a good one.
 *
 * lxc_proxy_client SOCKET concurrent: two connections (two containers); the
 * first sends a request whose FUSE program never mounts ("mvtest-slow" in
 * the test's profile), the second a quick one meanwhile: "case=quick-while-slow"
 * must come back in milliseconds, "case=slow" only at the start-up timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct hdr {
	uint64_t reserved;
	int32_t monitor_pid, init_pid;
	struct seccomp_notif_sizes sizes;
	uint64_t cookie_len;
};

static const char cookie[] = "profile=default name=lxc-proxy-client";
static struct seccomp_notif_sizes ks;

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Send one message (parts as given) with nfds of fds. */
static int send_msg(int sock, const struct hdr *h, const void *notif, size_t nlen, const void *resp,
                    size_t rlen, const char *ck, size_t clen, const int *fds, int nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)] = {0};
	struct iovec iov[4] = {{(void *)h, sizeof(*h)},
	                       {(void *)notif, nlen},
	                       {(void *)resp, rlen},
	                       {(void *)ck, clen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 4};

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/*
 * The reply to a request with header h: its response into *ret.  -2 if the
 * reply's reserved field is set.
 */
static ssize_t recv_reply(int sock, const struct hdr *h, struct seccomp_notif_resp *ret)
{
	uint8_t in[1024];
	ssize_t n = recv(sock, in, sizeof(in), 0); /* SO_RCVTIMEO bounds it, like LXC's 30 s */

	memset(ret, 0, sizeof(*ret));
	/* The reply is laid out with the sizes the request claimed, as LXC reads it. */
	if (n >= (ssize_t)(sizeof(*h) + h->sizes.seccomp_notif + sizeof(*ret)))
		memcpy(ret, in + sizeof(*h) + h->sizes.seccomp_notif, sizeof(*ret));
	if (n >= (ssize_t)sizeof(struct hdr) && ((struct hdr *)in)->reserved)
		return -2;
	return n;
}

/* One message and its reply, timed. */
static ssize_t exchange(int sock, const struct hdr *h, const void *notif, size_t nlen,
                        const void *resp, size_t rlen, const char *ck, size_t clen, const int *fds,
                        int nfds, struct seccomp_notif_resp *ret, double *ms)
{
	struct timespec t0;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (send_msg(sock, h, notif, nlen, resp, rlen, ck, clen, fds, nfds) < 0)
		return -1;
	n = recv_reply(sock, h, ret);
	*ms = ms_since(&t0);
	return n;
}

static void report(const char *name, ssize_t n, const struct seccomp_notif_resp *r, double ms)
{
	printf("case=%s reply=%zd error=%s flags=%u ms=%.1f\n", name, n,
	       r->error ? (strerrorname_np(-r->error) ?: "?") : "0", r->flags, ms);
	fflush(stdout);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		close(fd);
	}
}

/* A child whose mount(2) notifies on the returned listener; it reports its errno. */
static int trapped_child(pid_t *pid, const char *fstype)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		struct sock_filter f[] = {
		    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mount, 0, 1),
		    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = 4, .filter = f};
		int lfd, r;
		char ctl[CMSG_SPACE(sizeof(int))] = {0};
		char c = 'x';
		struct iovec iov = {&c, 1};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl,
		                    .msg_controllen = sizeof(ctl)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		/* Like a container: its own user and mount namespaces (the parent maps root). */
		if (!strcmp(fstype, "mvtest-slow")) {
			if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || write(sp[1], "u", 1) != 1 ||
			    read(sp[1], &c, 1) != 1)
				_exit(1);
		}
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		                   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
		sendmsg(sp[1], &mh, 0);
		close(lfd);
		r = mount("none", "/", fstype, 0, NULL);
		printf("child errno=%s\n", r < 0 ? (strerrorname_np(errno) ?: "?") : "0");
		fflush(stdout);
		_exit(0);
	}
	{
		char ctl[CMSG_SPACE(sizeof(int))], c;
		struct iovec iov = {&c, 1};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl,
		                    .msg_controllen = sizeof(ctl)};
		int lfd = -1;

		close(sp[1]);
		if (!strcmp(fstype, "mvtest-slow")) {
			char p[64];

			if (read(sp[0], &c, 1) != 1)
				return -1;
			snprintf(p, sizeof(p), "/proc/%d/uid_map", (int)*pid);
			write_file(p, "0 0 1");
			snprintf(p, sizeof(p), "/proc/%d/setgroups", (int)*pid);
			write_file(p, "deny");
			snprintf(p, sizeof(p), "/proc/%d/gid_map", (int)*pid);
			write_file(p, "0 0 1");
			if (write(sp[0], "g", 1) != 1)
				return -1;
		}
		if (recvmsg(sp[0], &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
			memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		close(sp[0]);
		return lfd;
	}
}

/* A trapped request, ready to forward. */
struct pending {
	struct seccomp_notif n;
	struct hdr h;
	int fds[3];
	pid_t child;
	struct timespec t0;
};

static int pending_start(struct pending *p, const char *fstype)
{
	char path[64];

	memset(p, 0, sizeof(*p));
	p->fds[2] = trapped_child(&p->child, fstype);
	if (p->fds[2] < 0 || ioctl(p->fds[2], SECCOMP_IOCTL_NOTIF_RECV, &p->n) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%u", p->n.pid);
	p->fds[0] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%u/mem", p->n.pid);
	p->fds[1] = open(path, O_RDWR | O_CLOEXEC);
	p->h.monitor_pid = getpid();
	p->h.init_pid = p->child;
	p->h.sizes = ks;
	p->h.cookie_len = strlen(cookie);
	return 0;
}

/* Answer the kernel with what notifyd said, as LXC does, and reap the child. */
static void pending_finish(struct pending *p, struct seccomp_notif_resp *got)
{
	got->id = p->n.id;
	ioctl(p->fds[2], SECCOMP_IOCTL_NOTIF_SEND, got);
	waitpid(p->child, NULL, 0);
	for (int i = 0; i < 3; i++)
		close(p->fds[i]);
}

/* One real request through the proxy, answered to the kernel as LXC does. */
static void real_request(int sock, const char *name)
{
	struct seccomp_notif_resp resp = {0}, got;
	struct pending p;
	double ms;
	ssize_t r;

	if (pending_start(&p, "mvtest-nofs") < 0) {
		printf("case=%s setup-failed\n", name);
		return;
	}
	resp.id = p.n.id;
	r = exchange(sock, &p.h, &p.n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), p.fds, 3, &got, &ms);
	report(name, r, &got, ms);
	pending_finish(&p, &got);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 30};
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return sock;
}

/*
 * Two containers: A's request starts a FUSE program that never mounts (the
 * profile's mvtest-slow), B's is quick.  B must be answered while A waits.
 */
static int concurrent(const char *path)
{
	struct seccomp_notif_resp resp = {0}, got;
	struct pending a;
	int sa = connect_to(path), sb = connect_to(path);
	ssize_t n;

	if (sa < 0 || sb < 0 || pending_start(&a, "mvtest-slow") < 0)
		return 1;
	resp.id = a.n.id;
	clock_gettime(CLOCK_MONOTONIC, &a.t0);
	if (send_msg(sa, &a.h, &a.n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), a.fds, 3) < 0)
		return 1;
	usleep(200000); /* A is being handled */
	real_request(sb, "quick-while-slow");
	n = recv_reply(sa, &a.h, &got);
	report("slow", n, &got, ms_since(&a.t0));
	pending_finish(&a, &got);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 30};
	struct seccomp_notif n = {.id = 42, .pid = 1};
	struct seccomp_notif_resp resp = {.id = 42}, got;
	struct hdr h;
	int sock, fds[4];
	double ms;
	ssize_t r;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &ks);
	if (argc == 3 && !strcmp(argv[2], "concurrent"))
		return concurrent(argv[1]);
	strcpy(sa.sun_path, argv[1]);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	real_request(sock, "first-real");

	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
#define BASE()                                                                                     \
	(h = (struct hdr){.monitor_pid = getpid(),                                                 \
	                  .init_pid = getpid(),                                                    \
	                  .sizes = ks,                                                             \
	                  .cookie_len = strlen(cookie)})
	BASE();
	h.reserved = 1;
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 3, &got, &ms);
	report("reserved-set", r, &got, ms);
	BASE();
	h.sizes.seccomp_notif += 8;
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 3, &got, &ms);
	report("wrong-sizes", r, &got, ms);
	BASE();
	r = exchange(sock, &h, &n, 8, &resp, 0, NULL, 0, fds, 3, &got, &ms);
	report("short", r, &got, ms);
	BASE();
	h.cookie_len = 5;
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 3, &got, &ms);
	report("cookie-length-lies", r, &got, ms);
	BASE();
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 0, &got, &ms);
	report("no-fds", r, &got, ms);
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 1, &got, &ms);
	report("one-fd", r, &got, ms);
	r = exchange(sock, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 4, &got, &ms);
	report("four-fds", r, &got, ms);
	real_request(sock, "last-real");

	/* A connection whose very first message is bad (the main loop answers it). */
	int sock2 = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (connect(sock2, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	setsockopt(sock2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	BASE();
	h.reserved = 7;
	r = exchange(sock2, &h, &n, ks.seccomp_notif, &resp, ks.seccomp_notif_resp, cookie,
	             strlen(cookie), fds, 3, &got, &ms);
	report("first-bad", r, &got, ms);
	real_request(sock2, "after-first-bad");
	return 0;
}
