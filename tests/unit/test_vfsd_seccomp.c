// SPDX-License-Identifier: MIT
/*
 * vfsd's seccomp filter, tried for real: each case forks a child that loads
 * the filter vfsd loads (action kill) and makes one syscall.  Threads must
 * still start (clone with pthread_create's flags; clone3 answers ENOSYS so
 * glibc falls back to clone), while clone with any other flags (a process,
 * a new user namespace) and the file-handle syscalls without
 * --inode-file-handles kill the child with SIGSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "vfsd/seccomp.h"

#define THREAD_FLAGS                                                                               \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

enum outcome { EXITED_OK, EXITED_FAIL, KILLED_SIGSYS, OTHER };

static void *thread_fn(void *arg)
{
	return arg;
}

/* What each case does after the filter is in place; returns the exit code. */
static __attribute__((unused)) int case_pthread(void)
{
	pthread_t t;
	void *ret = NULL;

	if (pthread_create(&t, NULL, thread_fn, (void *)42) != 0)
		return 1;
	return pthread_join(t, &ret) == 0 && ret == (void *)42 ? 0 : 1;
}

static int case_clone_flags(unsigned long flags)
{
	/* Killed before it returns if the filter refuses; a child must not run on. */
	long r = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);

	if (r == 0)
		syscall(SYS_exit_group, 0);
	return 0;
}

static int case_clone_newuser(void)
{
	return case_clone_flags(CLONE_NEWUSER | SIGCHLD);
}

static int case_clone_fork(void)
{
	return case_clone_flags(SIGCHLD);
}

static int case_clone_thread_newns(void)
{
	/* A thread's flags plus one more are refused as well (no stack: would crash). */
	return case_clone_flags(THREAD_FLAGS | CLONE_NEWNS);
}

static int case_clone_vfork(void)
{
	return case_clone_flags(CLONE_VM | CLONE_VFORK | SIGCHLD);
}

static int case_clone3(void)
{
	struct clone_args a = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
	long r = syscall(SYS_clone3, &a, sizeof(a));

	if (r == 0)
		syscall(SYS_exit_group, 0);
	return r < 0 && errno == ENOSYS ? 0 : 1;
}

static int case_unshare_user(void)
{
	return unshare(CLONE_NEWUSER) < 0 ? 0 : 0;
}

static int case_unshare_fs(void)
{
	return unshare(CLONE_FS) == 0 ? 0 : 1;
}

static int case_name_to_handle(void)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h = {.fh.handle_bytes = MAX_HANDLE_SZ};
	int mnt;

	(void)name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt, 0);
	return 0;
}

static int case_open_by_handle(void)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h = {.fh.handle_bytes = 8};

	(void)open_by_handle_at(AT_FDCWD, &h.fh, O_PATH);
	return 0;
}

static enum outcome run_case(bool handles, int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return OTHER;
	if (pid == 0) {
		scmp_filter_ctx ctx;

		if (vfsd_seccomp_build(VFSD_SECCOMP_KILL, handles, &ctx) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(3);
		/* Raw exit_group: the sanitizers' _exit() runs a leak check first. */
		syscall(SYS_exit_group, fn());
	}
	if (waitpid(pid, &st, 0) != pid)
		return OTHER;
	if (WIFSIGNALED(st))
		return WTERMSIG(st) == SIGSYS ? KILLED_SIGSYS : OTHER;
	return WEXITSTATUS(st) == 0 ? EXITED_OK : EXITED_FAIL;
}

int main(void)
{
	scmp_filter_ctx ctx;

	CHECK(vfsd_seccomp_build(VFSD_SECCOMP_KILL, false, &ctx) == 0, "the filter builds");
	seccomp_release(ctx);
#ifdef __SANITIZE_ADDRESS__
	/* ASan's thread start-up makes syscalls vfsd's allowlist does not hold. */
	printf("ok - pthread_create under the filter # SKIP AddressSanitizer build\n");
#else
	CHECK(run_case(false, case_pthread) == EXITED_OK,
	      "pthread_create works under the filter (clone3 -> ENOSYS -> clone)");
#endif
	CHECK(run_case(false, case_clone3) == EXITED_OK, "clone3 fails with ENOSYS");
	CHECK(run_case(false, case_clone_newuser) == KILLED_SIGSYS,
	      "clone(CLONE_NEWUSER) kills the process");
	CHECK(run_case(false, case_clone_fork) == KILLED_SIGSYS, "clone as fork() kills");
	CHECK(run_case(false, case_clone_vfork) == KILLED_SIGSYS, "clone as vfork() kills");
	CHECK(run_case(false, case_clone_thread_newns) == KILLED_SIGSYS,
	      "clone with a thread's flags plus CLONE_NEWNS kills");
	CHECK(run_case(false, case_unshare_fs) == EXITED_OK, "unshare(CLONE_FS) allowed");
	CHECK(run_case(false, case_unshare_user) == KILLED_SIGSYS, "unshare(CLONE_NEWUSER) kills");
	CHECK(run_case(false, case_name_to_handle) == KILLED_SIGSYS,
	      "name_to_handle_at without --inode-file-handles kills");
	CHECK(run_case(false, case_open_by_handle) == KILLED_SIGSYS,
	      "open_by_handle_at without --inode-file-handles kills");
	CHECK(run_case(true, case_name_to_handle) == EXITED_OK,
	      "name_to_handle_at allowed with file handles");
	CHECK(run_case(true, case_open_by_handle) == EXITED_OK,
	      "open_by_handle_at allowed with file handles");
	TAP_EXIT();
}
