/* SPDX-License-Identifier: MIT */
/*
 * fuse_children.c runs after fork() in a multi-threaded process: no malloc,
 * no stdio formatting.  This test runs the real mounter and daemon
 * (fuse_children_mounter() with a plan for a fresh user+mount namespace)
 * many times from the main thread while other threads allocate and format
 * all the time, and replaces malloc/calloc/realloc/free and the
 * snprintf/dprintf family with versions that abort in a forked child: a
 * child that calls one dies with SIGABRT instead of (sometimes) deadlocking.
 * The daemon is this binary again (--serve), answering FUSE_INIT and STATFS
 * on fd 4.  Needs root, /dev/fuse and user namespaces (skips otherwise).
 */
#include "notifyd/fuse_children.h"
#include "notifyd/fuse_confine.h"
#include "notifyd/fuse_plan.h"
#include "notifyd/fuse_startup.h"
#include "common/fdutil.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define NO_INTERPOSE 1 /* the sanitizer owns malloc */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_INTERPOSE 1
#endif
#endif

#define ROUNDS 30

/* Set in a forked child only (its own copy of memory). */
static volatile int in_child;

#ifndef NO_INTERPOSE
static void trap(const char *what)
{
	if (!in_child)
		return;
	(void)!write(2, "test_fuse_children: called after fork: ", 40);
	(void)!write(2, what, strlen(what));
	(void)!write(2, "\n", 1);
	abort();
}

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *malloc(size_t n)
{
	trap("malloc");
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	trap("calloc");
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	trap("realloc");
	return __libc_realloc(p, n);
}
void free(void *p)
{
	trap("free");
	__libc_free(p);
}

int snprintf(char *s, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	trap("snprintf");
	va_start(ap, fmt);
	r = vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return r;
}
int __snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, ...);
int __vsnprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int r;

	trap("snprintf");
	va_start(ap, fmt);
	r = __vsnprintf_chk(s, n, flag, slen, fmt, ap);
	va_end(ap);
	return r;
}
int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	int r;

	trap("dprintf");
	va_start(ap, fmt);
	r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;

	trap("dprintf");
	va_start(ap, fmt);
	r = __vdprintf_chk(fd, flag, fmt, ap);
	va_end(ap);
	return r;
}
#endif

/* The daemon: answer INIT and STATFS on fd 4, then serve errors until unmounted. */
static int serve(void)
{
	static char buf[FUSE_MIN_READ_BUFFER + 65536];

	for (;;) {
		ssize_t n = read(DFD_FUSE, buf, sizeof(buf));
		struct fuse_in_header *in = (struct fuse_in_header *)buf;
		struct {
			struct fuse_out_header h;
			union {
				struct fuse_init_out init;
				struct fuse_statfs_out st;
			} u;
		} out;

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*in))
			return 0;
		memset(&out, 0, sizeof(out));
		out.h.unique = in->unique;
		out.h.len = sizeof(out.h);
		if (in->opcode == FUSE_INIT) {
			out.u.init.major = FUSE_KERNEL_VERSION;
			out.u.init.minor = 31;
			out.u.init.max_write = 4096;
			out.h.len += sizeof(out.u.init);
		} else if (in->opcode == FUSE_STATFS) {
			out.u.st.st.bsize = out.u.st.st.frsize = 4096;
			out.u.st.st.namelen = 255;
			out.h.len += sizeof(out.u.st);
		} else if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET) {
			continue;
		} else {
			out.h.error = -ENOSYS;
		}
		if (write(DFD_FUSE, &out, out.h.len) < 0 && errno == ENODEV)
			return 0;
	}
}

/* A process in a fresh user+mount namespace (0 -> 100000), with a tmpfs at /mnt. */
static pid_t ns_holder(void)
{
	int sync_pipe[2], back[2];
	char c = 0;
	pid_t pid;

	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int ok = unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0;
		(void)!write(back[1], &c, 1);
		/* Mapped now: become the namespace's root (host 0 is unmapped in it). */
		ok = ok && read(sync_pipe[0], &c, 1) == 1 && setresgid(0, 0, 0) == 0 &&
		     setresuid(0, 0, 0) == 0 &&
		     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
		     mount("none", "/mnt", "tmpfs", 0, NULL) == 0 && mkdir("/mnt/t", 0755) == 0;
		(void)!write(back[1], ok ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	close(sync_pipe[0]);
	close(back[1]);
	if (pid > 0 && read(back[0], &c, 1) == 1) {
		char path[64], map[] = "0 100000 65536\n";
		int ok = 1;
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "/proc/%d/%s", pid, i ? "gid_map" : "uid_map");
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			ok = ok && fd >= 0 && write(fd, map, strlen(map)) == (ssize_t)strlen(map);
			if (fd >= 0)
				close(fd);
		}
		(void)!write(sync_pipe[1], &c, 1);
		if (!ok || read(back[0], &c, 1) != 1 || c != 'y') {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			pid = -1;
		}
	}
	close(sync_pipe[1]);
	close(back[0]);
	return pid;
}

static int open_proc(pid_t pid, const char *what, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return open(path, flags | O_CLOEXEC);
}

enum mode { GOOD, BAD_OPTION, BAD_PROGRAM };

static void plan_for(struct fuse_plan *pl, pid_t holder, const struct fuse_confine *cf,
                     const char *self, enum mode mode)
{
	fuse_plan_init(pl);
	pl->userns = open_proc(holder, "ns/user", O_RDONLY);
	pl->mntns = open_proc(holder, "ns/mnt", O_RDONLY);
	pl->pidns = open_proc(holder, "ns/pid", O_RDONLY);
	pl->root = open_proc(holder, "root", O_PATH | O_DIRECTORY);
	pl->cwd = open_proc(holder, "root", O_PATH | O_DIRECTORY);
	pl->target = open_proc(holder, "root/mnt/t", O_PATH | O_DIRECTORY);
	/* BAD_PROGRAM: execveat of /dev/null fails, the daemon says why and exits 127. */
	pl->prog = open(mode == BAD_PROGRAM ? "/dev/null" : self, O_PATH | O_CLOEXEC);
	pl->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	pl->confine = *cf;
	pl->uid = pl->gid = 0;
	snprintf(pl->uid_str, sizeof(pl->uid_str), "0");
	snprintf(pl->gid_str, sizeof(pl->gid_str), "0");
	pl->attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	snprintf(pl->source, sizeof(pl->source), "test");
	snprintf(pl->subtype, sizeof(pl->subtype), "test_fuse_children");
	pl->n_fsopts = 2;
	fuse_plan_fsopt(&pl->fsopts[0], "default_permissions");
	fuse_plan_fsopt(&pl->fsopts[1], mode == BAD_OPTION ? "bogus=1" : "max_read=131072");
	snprintf(pl->argbuf, sizeof(pl->argbuf), "test_fuse_children");
	snprintf(pl->argbuf + 32, sizeof(pl->argbuf) - 32, "--serve");
	pl->argv[0] = pl->argbuf;
	pl->argv[1] = pl->argbuf + 32;
	pl->envp[0] = NULL;
}

/* Noise: allocate, format and free all the time, so locks are often held at fork(). */
static atomic_int stop;
static void *noise(void *arg)
{
	char line[256];
	unsigned long i = 0;
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

	(void)arg;
	while (!atomic_load(&stop)) {
		char *p = malloc(16 + (i++ % 4096));
		snprintf(line, sizeof(line), "noise %lu %s", i, strerror((int)(i % 100)));
		if (p)
			p[0] = line[0];
		dprintf(nul, "%s\n", line);
		free(p);
	}
	close(nul);
	return NULL;
}

/*
 * One start-up, as fuse_startup.c drives it: MSG_STARTED (pidfd), MSG_READY,
 * go, MSG_ATTACHED.  Returns the kind of the last message; *daemon_status
 * and out[] get the daemon's exit status and output, *mounter_status the
 * mounter's wait status.
 */
static int one_startup(pid_t holder, const struct fuse_confine *cf, const char *self,
                       enum mode mode, int *mounter_status, int *daemon_status, char *out,
                       size_t outlen)
{
	static struct fuse_plan pl;
	struct mounter_msg m;
	int sp[2], pp[2], pidfd = -EBADF, last = 0;
	pid_t mounter;
	ssize_t n;

	plan_for(&pl, holder, cf, self, mode);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(pp, O_CLOEXEC) < 0)
		return -1;
	pl.ctl = sp[1];
	pl.err_w = pp[1];
	mounter = fork();
	if (mounter == 0) {
		in_child = 1;
		fuse_children_mounter(&pl);
	}
	fuse_plan_close(&pl);
	for (;;) {
		int fds[1] = {-EBADF};
		size_t nfds = 1;
		n = fd_recv_with_fds(sp[0], &m, sizeof(m), fds, &nfds, 0);
		if (n != (ssize_t)sizeof(m))
			break;
		last = m.kind;
		if (m.kind == MSG_STARTED && nfds == 1)
			pidfd = fds[0];
		if (m.kind == MSG_READY && write(sp[0], "g", 1) != 1)
			break;
		if (m.kind == MSG_FAILED && mode == GOOD)
			printf("# mounter failed: %s: errno %d\n", m.text, m.err);
		if (m.kind == MSG_FAILED || m.kind == MSG_ATTACHED)
			break;
	}
	if (last == MSG_FAILED && mode == BAD_OPTION)
		last = strcmp(m.text, "bogus=1") == 0 && m.err == EINVAL ? MSG_FAILED : -2;
	close(sp[0]);
	waitpid(mounter, mounter_status, 0);
	*daemon_status = -1;
	if (pidfd >= 0) {
		siginfo_t si = {0};
		if (mode == GOOD)
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) == 0)
			*daemon_status =
			    si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
		close(pidfd);
	}
	close(pp[1]);
	fd_set_nonblock(pp[0], 1);
	n = read(pp[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(pp[0]);
	return last;
}

/* A round of each kind; 0 when each ended as it must (no child died of SIGABRT). */
static int one_round(pid_t holder, const struct fuse_confine *cf, const char *self, int i)
{
	char out[512];
	int ms, ds, r;

	r = one_startup(holder, cf, self, GOOD, &ms, &ds, out, sizeof(out));
	if (r != MSG_ATTACHED || ms != 0) {
		printf("# round %d good: last message %d, mounter %#x, daemon said: %s\n", i, r, ms,
		       out);
		return -1;
	}
	r = one_startup(holder, cf, self, BAD_OPTION, &ms, &ds, out, sizeof(out));
	if (r != MSG_FAILED || !WIFEXITED(ms) || WEXITSTATUS(ms) != 1) {
		printf("# round %d bad option: last message %d, mounter %#x\n", i, r, ms);
		return -2;
	}
	r = one_startup(holder, cf, self, BAD_PROGRAM, &ms, &ds, out, sizeof(out));
	if (r != MSG_FAILED || ds != 127 || !strstr(out, "mountvisor: cannot execute ") ||
	    !strstr(out, ": errno ")) {
		printf("# round %d bad program: last message %d, mounter %#x, daemon %d: %s\n", i,
		       r, ms, ds, out);
		return -3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fuse_confine cf;
	char why[256], self[4096];
	pthread_t th[2];
	int procfd, ok = 0;
	pid_t holder;
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "--serve") == 0)
		return serve();
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		printf("ok - skipped: needs root and /dev/fuse # SKIP\n");
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	procfd = open("/proc/thread-self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fuse_confine_prepare(procfd, &cf, why, sizeof(why)) == 0, "confinement prepared (%s)",
	      why);
	close(procfd);
	holder = ns_holder();
	if (holder < 0) {
		printf("ok - skipped: no user namespace # SKIP\n");
		return 0;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, noise, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		if (one_round(holder, &cf, self, i) == 0)
			ok++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
#ifdef NO_INTERPOSE
	printf("# sanitizer build: malloc/stdio are not trapped, only deadlocks would show\n");
#endif
	CHECK(ok == ROUNDS,
	      "%d of %d rounds (start-up attached; refused option; program that cannot run) "
	      "with threads allocating",
	      ok, ROUNDS);
	TAP_EXIT();
}
