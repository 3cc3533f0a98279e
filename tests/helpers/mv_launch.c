/* SPDX-License-Identifier: MIT */
/*
 * mv_launch: the smallest container launcher that speaks notifyd's OCI
 * hand-over, for benchmarks and tests that need many cheap "containers".
 * The child gets a new user namespace (0 -> HOSTID, 65536 ids) and mount
 * namespace, installs the same notify rules as profiles/seccomp/oci-seccomp.json
 * with libseccomp, sends the listener fd with a runc-style state JSON, and
 * execs the command.
 *
 *   mv_launch --socket PATH [--profile NAME] [--id ID] [--hostid N]
 *             [--chunks N [--pause-ms MS]] -- CMD ARGS...
 *
 * --chunks N sends the state in N pieces (the fd with the first), MS
 * milliseconds apart (default 200), like a runtime whose writes get split.
 */
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS_NOT_NEW                                                                                 \
	(MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

static int install_filter(void)
{
	static const char *const notify[] = {"umount2", "fsopen", "fsconfig", "fsmount"};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mount), 1,
	                     SCMP_A3(SCMP_CMP_MASKED_EQ, MS_NOT_NEW, 0));
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(notify); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, seccomp_syscall_resolve_name(notify[i]),
		                     0);
	/* move_mount(FD, "", ..., MOVE_MOUNT_F_EMPTY_PATH) only, as in oci-seccomp.json */
	if (r == 0)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_NOTIFY, SCMP_SYS(move_mount), 1,
		    SCMP_A4(SCMP_CMP_MASKED_EQ, MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_F_EMPTY_PATH));
	/* LOOP_* ioctls, as in profiles/seccomp/oci-seccomp.json */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFF00u, 0x4C00));
	if (r == 0)
		r = seccomp_load(ctx);
	if (r == 0)
		r = seccomp_notify_fd(ctx);
	seccomp_release(ctx);
	return r;
}

/* Send json in n pieces, the fd with the first, pause_ms apart. */
static int send_state(int sock, const char *json, int nfd, unsigned n, unsigned pause_ms)
{
	size_t len = strlen(json), off = 0;
	struct timespec ts = {.tv_sec = pause_ms / 1000,
	                      .tv_nsec = (long)(pause_ms % 1000) * 1000000L};

	if (n < 1)
		n = 1;
	for (unsigned i = 0; i < n; i++) {
		size_t end = i + 1 == n ? len : len * (i + 1) / n;
		ssize_t r;

		if (i > 0)
			nanosleep(&ts, NULL);
		if (i == 0)
			r = fd_send_with_fds(sock, json, end, &nfd, 1);
		else
			r = fd_write_all(sock, json + off, end - off);
		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		off = end;
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return fd_write_all(fd, text, strlen(text));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"profile", required_argument, NULL, 'p'},
	    {"id", required_argument, NULL, 'i'},
	    {"hostid", required_argument, NULL, 'u'},
	    {"chunks", required_argument, NULL, 'n'},
	    {"pause-ms", required_argument, NULL, 'w'},
	    {0},
	};
	const char *sock_path = NULL, *profile = "default", *id = NULL;
	unsigned long hostid = 100000;
	unsigned chunks = 1, pause_ms = 200;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int sync_pipe[2], ready_pipe[2], sock, ch, status;
	char idbuf[32], path[64], map[64];
	pid_t pid;

	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock_path = optarg;
			break;
		case 'p':
			profile = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'u':
			hostid = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			chunks = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			pause_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!sock_path || optind >= argc || strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: mv_launch --socket PATH [--profile NAME] [--id ID] "
		                "[--hostid N] [--chunks N [--pause-ms MS]] -- CMD...\n");
		return 2;
	}
	strcpy(sa.sun_path, sock_path);
	/* Connect while still host root: the socket is 0600. */
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("mv_launch: connect");
		return 1;
	}
	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(ready_pipe, O_CLOEXEC) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char c;
		int nfd;
		char json[512];

		close(sync_pipe[1]);
		close(ready_pipe[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			perror("mv_launch: unshare");
			_exit(1);
		}
		/* Tell the parent our user namespace exists so it can write the id maps. */
		if (write(ready_pipe[1], "r", 1) != 1)
			_exit(1);
		close(ready_pipe[1]);
		if (read(sync_pipe[0], &c, 1) != 1)
			_exit(1);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
			perror("mv_launch: setresuid");
			_exit(1);
		}
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			perror("mv_launch: make-rprivate");
			_exit(1);
		}
		nfd = install_filter();
		if (nfd < 0) {
			fprintf(stderr, "mv_launch: seccomp: %s\n", strerror(-nfd));
			_exit(1);
		}
		if (!id) {
			snprintf(idbuf, sizeof(idbuf), "launch-%d", (int)getpid());
			id = idbuf;
		}
		/* Our own pid as the host sees it: the parent told us nothing, but no pid ns here.
		 */
		snprintf(
		    json, sizeof(json),
		    "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
		    "\"metadata\":\"profile=%s\",\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"%s\","
		    "\"status\":\"creating\",\"pid\":%d}}",
		    (int)getpid(), profile, id, (int)getpid());
		if (send_state(sock, json, nfd, chunks, pause_ms) < 0) {
			perror("mv_launch: send");
			_exit(1);
		}
		close(nfd);
		close(sock);
		execvp(argv[optind], argv + optind);
		perror("mv_launch: exec");
		_exit(127);
	}
	close(sync_pipe[0]);
	close(ready_pipe[1]);
	close(sock);
	char c;
	if (read(ready_pipe[0], &c, 1) != 1)
		return 1;
	close(ready_pipe[0]);
	snprintf(map, sizeof(map), "0 %lu 65536\n", hostid);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (write_file(path, map) < 0)
		perror("mv_launch: uid_map");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if (write_file(path, map) < 0)
		perror("mv_launch: gid_map");
	if (write(sync_pipe[1], "x", 1) != 1)
		return 1;
	close(sync_pipe[1]);
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
