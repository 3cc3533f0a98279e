/* SPDX-License-Identifier: MIT */
#include "notifyd/device_allow.h"
#include "notifyd/caller_cgroup.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The few instruction forms the program needs (the kernel's filter.h is not uapi). */
#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define AND_K(dst, k)        INSN(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, k)
#define JNE_K(dst, k, off)   INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, k)
#define MOV_K(dst, k)        INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, k)
#define EXIT()               INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * BPF_PROG_TYPE_CGROUP_DEVICE: return 1 (allow) for block device
 * major:minor, any access; 0 (deny) for everything else.  The context is
 * struct bpf_cgroup_dev_ctx: access_type (type in the low 16 bits, access
 * in the high 16), major, minor.
 */
static int prog_load(unsigned maj, unsigned min)
{
	const struct bpf_insn insns[] = {
	    LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
	    AND_K(BPF_REG_2, 0xffff),
	    JNE_K(BPF_REG_2, BPF_DEVCG_DEV_BLOCK, 6), /* to deny */
	    LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major)),
	    JNE_K(BPF_REG_2, (int32_t)maj, 4),
	    LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor)),
	    JNE_K(BPF_REG_2, (int32_t)min, 2),
	    MOV_K(BPF_REG_0, 1),
	    EXIT(),
	    /* deny: */
	    MOV_K(BPF_REG_0, 0),
	    EXIT(),
	};
	static const char license[] = "Dual MIT/GPL";
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (uint64_t)(uintptr_t)license;
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

static int write_at(int dirfd, const char *file, const char *text)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -errno;
	return 0;
}

/*
 * Remove what a notifyd that is gone left behind (killed between mkdir and
 * rmdir): entries "PID-N" whose PID no longer exists.  Once per process and
 * hierarchy; failures are harmless (a populated cgroup is EBUSY).
 */
static void sweep(int parent)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (e->d_type != DT_DIR || end == e->d_name || *end != '-' || pid <= 0 ||
		    pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			(void)unlinkat(parent, e->d_name, AT_REMOVEDIR);
	}
}

/* A fresh directory in the hierarchy's transient dir; fills da->parent and da->name. */
static int make_dir(struct device_allow *da, bool v1)
{
	static atomic_uint counter;
	static atomic_bool swept[2];
	int parent = caller_cgroup_transient_dir(v1);

	if (parent < 0)
		return parent;
	if (!atomic_exchange(&swept[v1], true))
		sweep(parent);
	/*
	 * A notifyd re-executed in place (an upgrade) has its predecessor's pid
	 * and counts from 0 again: a name its predecessor left (killed between
	 * mkdir and rmdir) is skipped.
	 */
	for (unsigned tries = 0;; tries++) {
		snprintf(da->name, sizeof(da->name), "%d-%u", (int)getpid(),
		         atomic_fetch_add(&counter, 1));
		if (mkdirat(parent, da->name, 0700) == 0)
			break;
		if (errno != EEXIST || tries == 1000) {
			int r = -errno;
			close(parent);
			return r;
		}
	}
	da->parent = parent;
	da->v1 = v1;
	return 0;
}

static int make_v2(dev_t rdev, struct device_allow *da)
{
	_cleanup_close_ int dir = -EBADF, prog = -EBADF;
	union bpf_attr attr;
	int r = make_dir(da, false);

	if (r < 0)
		return r;
	dir = openat(da->parent, da->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dir < 0)
		return -errno;
	prog = prog_load(major(rdev), minor(rdev));
	if (prog < 0)
		return prog;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dir;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0)
		return -errno;
	/* The cgroup holds the program now; it goes with the rmdir. */
	da->procs = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	return da->procs < 0 ? -errno : 0;
}

static int make_v1(dev_t rdev, struct device_allow *da)
{
	_cleanup_close_ int dir = -EBADF;
	char rule[64];
	int r = make_dir(da, true);

	if (r < 0)
		return r;
	dir = openat(da->parent, da->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dir < 0)
		return -errno;
	/* A child starts with its parent's rules: deny all, then allow the one. */
	r = write_at(dir, "devices.deny", "a");
	if (r < 0)
		return r;
	snprintf(rule, sizeof(rule), "b %u:%u rwm", major(rdev), minor(rdev));
	r = write_at(dir, "devices.allow", rule);
	if (r < 0)
		return r;
	da->procs = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	return da->procs < 0 ? -errno : 0;
}

int device_allow_make(dev_t rdev, struct device_allow *da, const char **why)
{
	int r2, r1;

	*da = (struct device_allow)DEVICE_ALLOW_INIT;
	r2 = make_v2(rdev, da);
	if (r2 >= 0)
		return 0;
	device_allow_remove(da);
	r1 = make_v1(rdev, da);
	if (r1 >= 0)
		return 0;
	device_allow_remove(da);
	*why = r2 == -ENOMEDIUM && r1 == -ENOMEDIUM
	           ? "no cgroup2 or cgroup v1 devices hierarchy to allow only the source in"
	           : "making a cgroup that allows only the source device";
	return -EPERM;
}

void device_allow_remove(struct device_allow *da)
{
	da->procs = safe_close(da->procs);
	/*
	 * The helper has been reaped, but the kernel may count an exited task
	 * in its cgroup a little longer (EBUSY; seen past 50 ms on a loaded
	 * two-core machine): retry with a growing pause, up to about 2 s in
	 * all.  A directory still left is removed by the next notifyd's first
	 * mount (sweep()).
	 */
	for (unsigned us = 500; da->parent >= 0 && da->name[0] && us <= 1024000; us *= 2) {
		if (unlinkat(da->parent, da->name, AT_REMOVEDIR) == 0 || errno != EBUSY)
			break;
		usleep(us);
	}
	da->parent = safe_close(da->parent);
	da->name[0] = '\0';
}
