/* SPDX-License-Identifier: MIT */
/*
 * target_addfd() and target_same_file() (target.c) against a real caller,
 * as the new mount API uses them (docs/new-mount-api.md): a child traps
 * getppid(2); the parent installs its files into the child with
 * SECCOMP_IOCTL_NOTIF_ADDFD -- answering in the same step (SEND), with and
 * without O_CLOEXEC, replacing a number (SETFD) -- compares the child's fds
 * with its own by kcmp, and finds that an O_PATH file cannot be installed
 * (EBADF: the kernel fget()s the source, which refuses O_PATH; why the new
 * API's fsmount hands out the mount's root opened O_RDONLY).
 */
#include "notifyd/target.h"
#include "common/cleanup.h"
#include "tests/unit/notify_child.h"
#include "tests/unit/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>

static void steps(int out, void *arg)
{
	long fd1, fd2, r;

	(void)arg;
	/* 1: the parent installs a pipe's write end with SEND and O_CLOEXEC. */
	fd1 = syscall(SYS_getppid);
	step_report(out, fd1, fd1 >= 0 ? fcntl((int)fd1, F_GETFD) : -1);
	if (fd1 >= 0 && write((int)fd1, "a", 1) != 1)
		_exit(4);
	/* 2: the same without O_CLOEXEC. */
	fd2 = syscall(SYS_getppid);
	step_report(out, fd2, fd2 >= 0 ? fcntl((int)fd2, F_GETFD) : -1);
	/* 3: the parent compares fd1 (and others) with its files, then replaces fd1. */
	r = syscall(SYS_getppid);
	step_report(out, r, (int)fd1);
	if (fd1 >= 0 && write((int)fd1, "b", 1) != 1)
		_exit(4);
	/* 4: the parent tries an O_PATH file. */
	step_report(out, syscall(SYS_getppid), 0);
}

static int add_rules(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
}

int main(void)
{
	struct notify_child nc;
	struct seccomp_notif notif;
	struct step_result res[4];
	struct target t;
	int p1[2], p2[2], fd1 = -1, r, opath;
	char c = 0;

	if (geteuid() != 0) {
		printf("ok - target_addfd # SKIP needs root\n");
		return 0;
	}
	if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0)
		return 1;
	r = notify_child_start(&nc, add_rules, steps, NULL);
	CHECK(r == 0, "child with a notify filter started");
	if (r < 0)
		return 1;

	/* 1: install p1's write end, answering with its number. */
	CHECK(notify_child_next(&nc, &notif) == 1, "1st getppid notification");
	target_open(&t, nc.notify_fd, &notif);
	fd1 = target_addfd(&t, p1[1], -1, true, true);
	CHECK(fd1 >= 0, "ADDFD|SEND installs and answers (%d)", fd1);
	CHECK(read(nc.results, &res[0], sizeof(res[0])) == sizeof(res[0]) && res[0].ret == fd1,
	      "the caller's getppid returned the new fd number (%ld)", res[0].ret);
	CHECK(res[0].extra == FD_CLOEXEC, "O_CLOEXEC asked: FD_CLOEXEC set (%d)", res[0].extra);
	CHECK(read(p1[0], &c, 1) == 1 && c == 'a', "what the caller writes there reaches our pipe");
	CHECK(target_respond_error(&t, EPERM) == -ENOENT,
	      "the request is answered already: a second answer finds nothing");
	target_close(&t);

	/* 2: without O_CLOEXEC. */
	CHECK(notify_child_next(&nc, &notif) == 1, "2nd getppid notification");
	target_open(&t, nc.notify_fd, &notif);
	r = target_addfd(&t, p1[1], -1, false, true);
	CHECK(r >= 0 && r != fd1, "a second fd (%d)", r);
	CHECK(read(nc.results, &res[1], sizeof(res[1])) == sizeof(res[1]) && res[1].extra == 0,
	      "no O_CLOEXEC asked: FD_CLOEXEC clear (%d)", res[1].extra);
	target_close(&t);

	/* 3: kcmp, then SETFD over fd1, then answer. */
	CHECK(notify_child_next(&nc, &notif) == 1, "3rd getppid notification");
	target_open(&t, nc.notify_fd, &notif);
	CHECK(target_same_file(&t, fd1, p1[1]) == 1, "kcmp: the caller's fd1 is our pipe's end");
	CHECK(target_same_file(&t, fd1, p1[0]) == 0, "kcmp: not our pipe's other end");
	CHECK(target_same_file(&t, fd1, p2[1]) == 0, "kcmp: not another pipe");
	CHECK(target_same_file(&t, 999, p1[1]) == 0, "kcmp: a number the caller has not: 0");
	CHECK(target_same_file(&t, -1, p1[1]) == 0, "kcmp: a negative number: 0");
	r = target_addfd(&t, p2[1], fd1, true, false);
	CHECK(r == fd1, "ADDFD|SETFD replaces the caller's fd%d (%d)", fd1, r);
	CHECK(target_same_file(&t, fd1, p2[1]) == 1, "kcmp: fd1 is now the other pipe");
	CHECK(target_respond_value(&t, 7) == 0, "then answered separately");
	CHECK(read(nc.results, &res[2], sizeof(res[2])) == sizeof(res[2]) && res[2].ret == 7,
	      "the caller got 7 (%ld)", res[2].ret);
	CHECK(read(p2[0], &c, 1) == 1 && c == 'b', "the caller's writes to fd1 reach the new pipe");
	target_close(&t);

	/* 4: an O_PATH file cannot be installed. */
	CHECK(notify_child_next(&nc, &notif) == 1, "4th getppid notification");
	target_open(&t, nc.notify_fd, &notif);
	opath = open("/", O_PATH | O_CLOEXEC);
	r = target_addfd(&t, opath, -1, true, true);
	CHECK(r == -EBADF, "ADDFD of an O_PATH file: -EBADF (%d)", r);
	CHECK(target_respond_error(&t, ENOSYS) == 0, "the request is still ours to answer");
	CHECK(read(nc.results, &res[3], sizeof(res[3])) == sizeof(res[3]) && res[3].ret == -1 &&
	          res[3].err == ENOSYS,
	      "the caller got ENOSYS");
	close(opath);
	target_close(&t);

	CHECK(notify_child_next(&nc, &notif) == 0 && notify_child_wait(&nc) == 0,
	      "the child finished cleanly");
	TAP_EXIT();
}
