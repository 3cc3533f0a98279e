/* SPDX-License-Identifier: MIT */
/*
 * notifyd's dispatcher with a real notify fd: a child traps mount, umount2,
 * getppid, fsopen and some ioctls; the parent runs each notification
 * through supervise_handle() (and supervise_quick() for one umount2), with
 * a profile loaded from a temporary directory.  The child reports what its
 * calls returned: continue runs the syscall, deny gets the profile's errno,
 * a bad pointer EFAULT, what notifyd does not handle ENOSYS, and an
 * untrapped call runs as usual.  fsopen follows its type's action as
 * mount(2) does (issue 20): deny gets the rule's errno, continue the
 * kernel's fd.  The decision lines and counters are checked
 * too.
 */
#include "notifyd/container.h"
#include "notifyd/profile_store.h"
#include "notifyd/request.h"
#include "notifyd/supervise.h"
#include "notifyd/view.h"
#include "common/log.h"
#include "tests/unit/notify_child.h"
#include "tests/unit/tap.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

enum {
	S_GETPID,    /* untrapped: runs as usual */
	S_BIND,      /* MS_BIND: continue, the kernel binds */
	S_TMPFS,     /* [fs tmpfs] action = deny, errno = EACCES */
	S_RAMFS,     /* [fs ramfs] action = continue */
	S_UMOUNT,    /* umount2 of the ramfs through the handler: continue */
	S_UMOUNT_Q,  /* umount2 of the bind mount through supervise_quick: continue */
	S_BADTYPE,   /* type pointer unreadable: EFAULT */
	S_GETPPID,   /* trapped, not in the table: ENOSYS */
	S_FSOPEN,    /* fsopen("tmpfs"): the type's deny, EACCES */
	S_FSOPEN_C,  /* fsopen("ramfs"): the type's continue, the kernel's fd */
	S_FIONREAD,  /* an ioctl outside the table: ENOSYS */
	S_CTL_FREE,  /* LOOP_CTL_GET_FREE on /dev/null, max-loop-devices = 0: EPERM */
	S_LOOP_STAT, /* LOOP_GET_STATUS64 on a regular file: ENOTTY */
	S_COUNT,
};

static char dir[64], src[96], dst[96], rdir[96], file[96];

static int add_rules(scmp_filter_ctx ctx)
{
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(mount), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(umount2), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(fsopen), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ioctl), 1,
	                      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFF00u, 0x4C00));
	r |= seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ioctl), 1,
	                      SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	return r ? -1 : 0;
}

static void steps(int out, void *arg)
{
	struct loop_info64 info;
	struct stat a, b;
	char marker[128];
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int reg = open(file, O_RDWR | O_CLOEXEC);
	int n = 0;
	long r;

	(void)arg;
	r = getpid();
	step_report(out, r, 0);
	r = mount(src, dst, NULL, MS_BIND, NULL);
	snprintf(marker, sizeof(marker), "%s/marker", dst);
	step_report(out, r, access(marker, F_OK) == 0);
	step_report(out, mount("none", rdir, "tmpfs", 0, NULL), 0);
	r = mount("none", rdir, "ramfs", 0, NULL);
	/* A new file system at rdir: another device than its parent. */
	step_report(out, r, stat(rdir, &a) == 0 && stat(dir, &b) == 0 && a.st_dev != b.st_dev);
	step_report(out, umount2(rdir, 0), 0);
	r = umount2(dst, 0);
	step_report(out, r, access(marker, F_OK) == 0);
	step_report(out, syscall(SYS_mount, "none", rdir, (char *)8, 0, NULL), 0);
	step_report(out, syscall(SYS_getppid), 0);
	step_report(out, syscall(SYS_fsopen, "tmpfs", 0), 0);
	r = syscall(SYS_fsopen, "ramfs", FSOPEN_CLOEXEC);
	step_report(out, r, r >= 0 && close((int)r) == 0);
	step_report(out, ioctl(devnull, FIONREAD, &n), 0);
	step_report(out, ioctl(devnull, LOOP_CTL_GET_FREE), 0);
	step_report(out, ioctl(reg, LOOP_GET_STATUS64, &info), 0);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Does the captured log have a decision line with all of the given parts? */
static int log_has(const char *log, const char *a, const char *b, const char *c)
{
	for (const char *line = log; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[4096];

		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		if (strstr(buf, " decision ") && strstr(buf, a) && (!b || strstr(buf, b)) &&
		    (!c || strstr(buf, c)))
			return 1;
		line = end ? end + 1 : NULL;
	}
	return 0;
}

int main(void)
{
	struct step_result res[S_COUNT];
	struct notify_child nc;
	struct seccomp_notif notif;
	struct container *c = NULL;
	struct request_totals tot;
	char err[256], path[128], logpath[96], log[65536];
	int saved_err, logfd, r, i = 0, quick = -1, quick_wrong = 0, handled = 0, status;
	ssize_t n;

	if (geteuid() != 0) {
		printf("ok - dispatcher # SKIP needs root\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/test_supervise.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	snprintf(rdir, sizeof(rdir), "%s/rdir", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	mkdir(src, 0755);
	mkdir(dst, 0755);
	mkdir(rdir, 0755);
	snprintf(path, sizeof(path), "%s/marker", src);
	write_file(path, "x");
	write_file(file, "not a loop device");
	snprintf(path, sizeof(path), "%s/profiles", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/profiles/test.conf", dir);
	write_file(path, "[profile]\ndefault-action = deny\nmax-loop-devices = 0\n"
	                 "[fs tmpfs]\naction = deny\nerrno = EACCES\n"
	                 "[fs ramfs]\naction = continue\n");
	snprintf(path, sizeof(path), "%s/profiles", dir);
	r = profile_store_load(path, err, sizeof(err));
	CHECK(r >= 0, "the test profile loads (%s)", r < 0 ? err : "ok");
	CHECK(view_init() >= 0 && view_thread_init() >= 0, "this thread can enter a caller's view");

	/* Decision lines go to stderr: capture them in a file. */
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	logfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved_err = dup(STDERR_FILENO);
	log_setup("test", LOG_LVL_INFO);

	r = notify_child_start(&nc, add_rules, steps, NULL);
	CHECK(r == 0, "child with a notify filter started");
	if (r < 0)
		return 1;
	CHECK(container_new("test1", "test", "oci", nc.pid, -EBADF, nc.notify_fd, &c) == 0,
	      "container entry");
	dup2(logfd, STDERR_FILENO);
	while ((r = notify_child_next(&nc, &notif)) == 1) {
		char name[32] = "";
		char *s = seccomp_syscall_resolve_num_arch(notif.data.arch, notif.data.nr);

		snprintf(name, sizeof(name), "%s", s ? s : "?");
		free(s);
		/*
		 * The second umount2 takes the worker's shortcut for an idle
		 * container; the first goes to the handler.  The shortcut must
		 * leave everything else alone.
		 */
		if (!strcmp(name, "umount2") && ++i == 2) {
			quick = supervise_quick(c, &notif, NULL);
			if (!quick)
				supervise_handle(c, &notif, NULL);
		} else if (strcmp(name, "umount2") && supervise_quick(c, &notif, NULL)) {
			quick_wrong++;
		} else {
			supervise_handle(c, &notif, NULL);
		}
		handled++;
	}
	dup2(saved_err, STDERR_FILENO);
	CHECK(r == 0, "the child finished its steps (%s)", r < 0 ? strerror(-r) : "ok");
	n = read(nc.results, res, sizeof(res));
	status = notify_child_wait(&nc);
	CHECK(status == 0, "child exited 0 (%d)", status);
	CHECK(n == (ssize_t)sizeof(res), "one result per step (%zd bytes)", n);
	if (n != (ssize_t)sizeof(res))
		return 1;
	CHECK(handled == S_COUNT - 1, "every trapped call was one notification (%d)", handled);

	CHECK(res[S_GETPID].ret == nc.pid, "untrapped getpid runs as usual");
	CHECK(res[S_BIND].ret == 0 && res[S_BIND].extra,
	      "MS_BIND: continue, the kernel made the bind mount (ret %ld, %s)", res[S_BIND].ret,
	      strerror(res[S_BIND].err));
	CHECK(res[S_TMPFS].ret == -1 && res[S_TMPFS].err == EACCES,
	      "deny gets the rule's errno EACCES (%s)", strerror(res[S_TMPFS].err));
	CHECK(res[S_RAMFS].ret == 0 && res[S_RAMFS].extra,
	      "action = continue: the kernel mounted ramfs (%s)", strerror(res[S_RAMFS].err));
	CHECK(res[S_UMOUNT].ret == 0, "umount2 of a mount notifyd did not make: continue (%s)",
	      strerror(res[S_UMOUNT].err));
	CHECK(quick == 1, "supervise_quick answered the idle container's umount2");
	CHECK(quick_wrong == 0, "supervise_quick answered nothing but umount2");
	CHECK(res[S_UMOUNT_Q].ret == 0 && !res[S_UMOUNT_Q].extra,
	      "quick umount2: the kernel unmounted (%s)", strerror(res[S_UMOUNT_Q].err));
	CHECK(res[S_BADTYPE].ret == -1 && res[S_BADTYPE].err == EFAULT,
	      "unreadable type pointer: EFAULT (%s)", strerror(res[S_BADTYPE].err));
	CHECK(res[S_GETPPID].ret == -1 && res[S_GETPPID].err == ENOSYS,
	      "a trapped syscall not in the table: ENOSYS (%s)", strerror(res[S_GETPPID].err));
	CHECK(res[S_FSOPEN].ret == -1 && res[S_FSOPEN].err == EACCES,
	      "fsopen of a deny type gets the rule's errno EACCES (%s)",
	      strerror(res[S_FSOPEN].err));
	CHECK(res[S_FSOPEN_C].ret >= 0 && res[S_FSOPEN_C].extra,
	      "fsopen of a continue type: the kernel's fd (%s)", strerror(res[S_FSOPEN_C].err));
	CHECK(res[S_FIONREAD].ret == -1 && res[S_FIONREAD].err == ENOSYS,
	      "an ioctl outside the table: ENOSYS (%s)", strerror(res[S_FIONREAD].err));
	CHECK(res[S_CTL_FREE].ret == -1 && res[S_CTL_FREE].err == EPERM,
	      "LOOP_CTL_GET_FREE with max-loop-devices = 0: EPERM (%s)",
	      strerror(res[S_CTL_FREE].err));
	CHECK(res[S_LOOP_STAT].ret == -1 && res[S_LOOP_STAT].err == ENOTTY,
	      "LOOP_GET_STATUS64 on a regular file: ENOTTY (%s)", strerror(res[S_LOOP_STAT].err));

	/* One decision line per request, in the format the integration tests grep. */
	n = pread(logfd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	CHECK(
	    log_has(log, "syscall=mount type=tmpfs", "action=deny",
	            "rule=\"test [fs tmpfs] action=deny\" result=EACCES why=\"denied by profile\""),
	    "decision line of the deny");
	CHECK(log_has(log, "syscall=mount type=\"\" source=\"\" flags=bind", NULL,
	              "action=continue rule=\"not a new mount (bind/remount/move/propagation)\" "
	              "result=continue"),
	      "decision line of the bind");
	CHECK(log_has(log, "syscall=umount2", "action=continue",
	              "rule=\"container has no notifyd mounts: the kernel decides\""),
	      "decision line of the quick umount2");
	CHECK(log_has(log, "syscall=umount2", "action=continue",
	              "rule=\"not a notifyd mount: the kernel decides\""),
	      "decision line of the handled umount2");
	CHECK(log_has(log, "syscall=getppid", "action=enosys",
	              "rule=\"syscall not handled by notifyd\" result=ENOSYS"),
	      "decision line of getppid");
	CHECK(log_has(log, "syscall=fsopen type=tmpfs", "action=deny", "result=EACCES"),
	      "decision line of the denied fsopen");
	CHECK(log_has(log, "syscall=fsopen type=ramfs", "action=continue", NULL),
	      "decision line of the continued fsopen");
	CHECK(log_has(log, "syscall=ioctl type=0x541b", "action=enosys",
	              "rule=\"ioctl not handled by notifyd\""),
	      "decision line of FIONREAD");
	CHECK(log_has(log, "syscall=ioctl type=LOOP_CTL_GET_FREE", "action=deny",
	              "result=EPERM why=\"the profile gives no loop devices\""),
	      "decision line of LOOP_CTL_GET_FREE");
	CHECK(log_has(log, "type=ramfs", "action=continue",
	              "rule=\"test [fs ramfs] action=continue\""),
	      "decision line of the ramfs mount");
	CHECK(log_has(log, "argument 2 is not readable", "action=deny", "result=EFAULT"),
	      "decision line of the bad pointer");

	/* Counters: one count per request, by kind. */
	CHECK(c->counters.requests == S_COUNT - 1, "container counted %llu requests",
	      (unsigned long long)c->counters.requests);
	CHECK(c->counters.continued == 5, "5 continued (%llu)",
	      (unsigned long long)c->counters.continued);
	CHECK(c->counters.denied == 5, "5 denied (%llu)", (unsigned long long)c->counters.denied);
	CHECK(c->counters.enosys == 2, "2 enosys (%llu)", (unsigned long long)c->counters.enosys);
	request_totals(&tot);
	CHECK(tot.requests == S_COUNT - 1 && tot.continued == 5 && tot.denied == 5 &&
	          tot.enosys == 2,
	      "totals agree");

	if (tap_failed)
		fputs(log, stdout);
	container_forget(c);
	profile_store_shutdown();
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
	TAP_EXIT();
}
