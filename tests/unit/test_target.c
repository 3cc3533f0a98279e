/* SPDX-License-Identifier: MIT */
/*
 * target.c against a real caller: a child traps mount(2) and getppid(2)
 * with SCMP_ACT_NOTIFY; the parent reads the caller's strings and memory
 * through target_*(), answers, and checks what happens once the caller has
 * gone (target_valid(), reads and answers give -ENOENT).
 */
#include "notifyd/target.h"
#include "common/cleanup.h"
#include "tests/unit/notify_child.h"
#include "tests/unit/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/*
 * The child's buffers: two mappings of two pages each, the second page
 * PROT_NONE.  In `page` the first page ends "xxxxxxxxend\0" (the NUL is its
 * last byte); in `edge` it is all 'y', without a NUL before the edge.
 */
static char *page, *edge;
static size_t pagesz;
static char hello[32] = "hello";
static int probe_fd = -1;

enum { S_MOUNT, S_CONTINUE, S_KILLED, S_COUNT };

static int add_rules(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mount), 0);

	return r | seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
}

static void steps(int out, void *arg)
{
	long r;

	(void)arg;
	/* args: a string, one ending at a page's last byte, one that starts before that. */
	r = syscall(SYS_mount, hello, page + pagesz - 4, page + pagesz - 8, 0x1234UL, NULL);
	step_report(out, r, strcmp(hello, "HELLO") == 0);
	step_report(out, syscall(SYS_getppid), 0);
	syscall(SYS_getppid); /* the parent kills us here */
	step_report(out, 0, 0);
}

int main(void)
{
	struct step_result res[2];
	struct notify_child nc;
	struct seccomp_notif notif, fake = {0};
	struct target t, dead;
	struct proc_creds cr;
	char buf[64], small[4];
	int was_null = -1, r, fd;
	struct stat a, b;
	ssize_t n;

	if (geteuid() != 0) {
		printf("ok - target # SKIP needs root\n");
		return 0;
	}
	pagesz = (size_t)sysconf(_SC_PAGESIZE);
	page = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 1;
	edge = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (edge == MAP_FAILED)
		return 1;
	memset(page + pagesz - 12, 'x', 8);
	memcpy(page + pagesz - 4, "end", 4);
	memset(edge, 'y', pagesz);
	if (mprotect(page + pagesz, pagesz, PROT_NONE) < 0 ||
	    mprotect(edge + pagesz, pagesz, PROT_NONE) < 0)
		return 1;
	probe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	r = notify_child_start(&nc, add_rules, steps, NULL);
	CHECK(r == 0, "child with a notify filter started");
	if (r < 0)
		return 1;

	/* 1: mount(hello, "end" at the edge, "xxxxend", 0x1234, NULL) */
	r = notify_child_next(&nc, &notif);
	CHECK(r == 1, "mount(2) notification received");
	CHECK(target_open(&t, nc.notify_fd, &notif) == 0 && t.pid == nc.pid && t.procfd < 0,
	      "target_open records the caller, opens nothing");
	CHECK(target_valid(&t) == 0, "target_valid: the request is pending");
	r = target_read_string(&t, notif.data.args[0], buf, sizeof(buf), &was_null);
	CHECK(r == 0 && !strcmp(buf, "hello") && was_null == 0, "read a string (%d, %s)", r, buf);
	r = target_read_string(&t, notif.data.args[1], buf, sizeof(buf), NULL);
	CHECK(r == 0 && !strcmp(buf, "end"), "a string whose NUL is a page's last byte (%d)", r);
	r = target_read_string(&t, notif.data.args[2], buf, sizeof(buf), NULL);
	CHECK(r == 0 && !strcmp(buf, "xxxxend"), "a string that starts before it (%d, %s)", r, buf);
	r = target_read_string(&t, (uint64_t)(uintptr_t)(page + pagesz - 2), buf, sizeof(buf),
	                       NULL);
	CHECK(r == 0 && !strcmp(buf, "d"), "its last two bytes (%d)", r);
	r = target_read_string(&t, (uint64_t)(uintptr_t)(page + pagesz), buf, sizeof(buf), NULL);
	CHECK(r == -EFAULT, "a string in a PROT_NONE page: -EFAULT (%d)", r);
	r = target_read_string(&t, (uint64_t)(uintptr_t)(edge + pagesz - 5), buf, sizeof(buf),
	                       NULL);
	CHECK(r == -EFAULT, "a string that runs into PROT_NONE without a NUL: -EFAULT (%d)", r);
	r = target_read_string(&t, 8, buf, sizeof(buf), NULL);
	CHECK(r == -EFAULT, "a bad pointer: -EFAULT (%d)", r);
	r = target_read_string(&t, notif.data.args[4], buf, sizeof(buf), &was_null);
	CHECK(r == 0 && buf[0] == '\0' && was_null == 1, "NULL gives \"\" and was_null (%d)", r);
	r = target_read_string(&t, notif.data.args[0], small, sizeof(small), NULL);
	CHECK(r == -ENAMETOOLONG && small[sizeof(small) - 1] == '\0',
	      "no NUL within the buffer: -ENAMETOOLONG, still terminated (%d)", r);
	r = target_read_mem(&t, notif.data.args[0], buf, 6);
	CHECK(r == 0 && !memcmp(buf, "hello", 6), "read memory (%d)", r);
	r = target_read_mem(&t, (uint64_t)(uintptr_t)(page + pagesz - 4), buf, 8);
	CHECK(r == -EFAULT, "a range running into PROT_NONE: -EFAULT (%d)", r);
	r = target_read_mem(&t, 0, buf, 4);
	CHECK(r == -EFAULT, "read at address 0: -EFAULT (%d)", r);
	r = target_write_mem(&t, notif.data.args[0], "HELLO", 6);
	CHECK(r == 0, "write the caller's memory (%d)", r);
	r = target_write_mem(&t, (uint64_t)(uintptr_t)(page + pagesz), "x", 1);
	CHECK(r == -EFAULT, "write to PROT_NONE: -EFAULT (%d)", r);
	CHECK(target_open_proc(&t) == 0 && t.procfd >= 0, "target_open_proc");
	fd = target_getfd(&t, probe_fd);
	CHECK(fd >= 0 && fstat(fd, &a) == 0 && fstat(probe_fd, &b) == 0 && a.st_ino == b.st_ino &&
	          a.st_dev == b.st_dev,
	      "target_getfd: the caller's open file (%d)", fd);
	if (fd >= 0)
		close(fd);
	r = target_getfd(&t, 999);
	CHECK(r == -EBADF, "target_getfd of an fd it does not have: -EBADF (%d)", r);
	r = target_check_admin(&t, &cr);
	CHECK(r == 0, "a root caller in the initial namespaces is admin (%d)", r);
	CHECK(notif.data.args[3] == 0x1234, "flags arrive in the notification");
	r = target_respond_value(&t, 42);
	CHECK(r == 0, "answer with a value (%d)", r);
	r = target_respond_value(&t, 43);
	/* EINPROGRESS while the caller has not woken up yet, ENOENT after. */
	CHECK(r == -ENOENT || r == -EINPROGRESS,
	      "a second answer to the same request is refused (%d)", r);
	target_close(&t);
	CHECK(t.procfd < 0, "target_close closes /proc/<tid>");

	/* 2: getppid, answered continue: the kernel runs it. */
	r = notify_child_next(&nc, &notif);
	CHECK(r == 1 && target_open(&t, nc.notify_fd, &notif) == 0, "getppid notification");
	r = target_respond_continue(&t);
	CHECK(r == 0, "answer continue (%d)", r);

	/* 3: getppid again; the caller is killed before the answer. */
	r = notify_child_next(&nc, &notif);
	CHECK(r == 1 && target_open(&dead, nc.notify_fd, &notif) == 0, "third notification");
	n = read(nc.results, res, sizeof(res));
	kill(nc.pid, SIGKILL);
	r = notify_child_wait(&nc);
	CHECK(r == 128 + SIGKILL, "caller killed while waiting (%d)", r);
	CHECK(target_valid(&dead) == -ENOENT, "target_valid after the caller has gone: -ENOENT");
	r = target_read_string(&dead, notif.data.args[0], buf, sizeof(buf), NULL);
	CHECK(r == -ENOENT, "reading a string of a gone caller: -ENOENT (%d)", r);
	r = target_read_mem(&dead, (uint64_t)(uintptr_t)hello, buf, 4);
	CHECK(r == -ENOENT, "reading memory of a gone caller: -ENOENT (%d)", r);
	r = target_open_proc(&dead);
	CHECK(r == -ENOENT, "target_open_proc of a gone caller: -ENOENT (%d)", r);
	r = target_respond_error(&dead, EPERM);
	CHECK(r == -ENOENT, "answering a gone caller: -ENOENT, which is normal (%d)", r);
	target_close(&dead);

	fake.pid = 0;
	CHECK(target_open(&t, nc.notify_fd, &fake) == -ESRCH,
	      "a caller outside our pid namespace (pid 0): -ESRCH");

	CHECK(n == (ssize_t)sizeof(res), "the child reported its first two steps (%zd)", n);
	if (n == (ssize_t)sizeof(res)) {
		CHECK(res[S_MOUNT].ret == 42, "the caller got the value 42 (%ld)",
		      res[S_MOUNT].ret);
		CHECK(res[S_MOUNT].extra, "the caller sees what target_write_mem wrote");
		CHECK(res[S_CONTINUE].ret == getpid(),
		      "continue: getppid returned the real parent");
	}
	close(nc.notify_fd);
	TAP_EXIT();
}
