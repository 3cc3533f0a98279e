/* SPDX-License-Identifier: MIT */
/* Confinement of FUSE programs (fuse_confine.h, docs/security.md). */
#include "notifyd/fuse_confine.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* The seccomp filter */

/*
 * Calls a FUSE program never needs and that a container runtime's default
 * profile (Docker/moby, podman, runc's and crun's examples) refuses, plus
 * every call of the mount API (the caller's own filter traps those to
 * notifyd; the program must not get them at all).  Unknown names (on this
 * libseccomp or architecture) are skipped.
 */
static const char *const denied[] = {
    /* mounts: what the caller's filter traps, and more */
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "open_tree_attr",
    /* namespaces */
    "unshare",
    "setns",
    /* other processes */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kcmp",
    /* the kernel itself */
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "lookup_dcookie",
    "nfsservctl",
    "_sysctl",
    "sysfs",
    "ustat",
    "uselib",
    "vhangup",
    "quotactl",
    "quotactl_fd",
    "fanotify_init",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    /* keys, time, names */
    "keyctl",
    "add_key",
    "request_key",
    "settimeofday",
    "stime",
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "adjtimex",
    "sethostname",
    "setdomainname",
    /* file handles (the "shocker" escape) */
    "open_by_handle_at",
    "name_to_handle_at",
    /* NUMA placement of other processes' memory */
    "move_pages",
    "migrate_pages",
    "mbind",
    "set_mempolicy",
    "set_mempolicy_home_node",
};

static const uint64_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

/*
 * A denylist knows only the calls libseccomp knows (2.5.4: up to 450 on
 * x86_64).  Newer ones (open_tree_attr, 467, is a mount call) get ENOSYS
 * from this second, hand-written filter, as from a kernel without them.
 */
static struct sock_filter newer_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 5),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~0x40000000U), /* x32 shares the numbers */
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 451, 0, 2),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 1024, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_fprog newer_prog = {
    .len = ARRAY_SIZE(newer_insns),
    .filter = newer_insns,
};

static pthread_once_t filter_once = PTHREAD_ONCE_INIT;
static struct sock_fprog filter_prog;
static int filter_err;

static int filter_build(struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	_cleanup_close_ int mfd = -EBADF;
	struct sock_filter *insns = NULL;
	struct stat st;
	int r = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	/* The 32-bit ABIs too: a preload can execve() a 32-bit program (the
	 * other architectures are killed by libseccomp's bad-arch action). */
	r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (r < 0 && r != -EEXIST && r != -EINVAL)
		goto out;
	r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	if (r < 0 && r != -EEXIST && r != -EINVAL)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EDOM)
			goto out;
	}
	/* clone(2) creating namespaces; clone3(2) hides its flags in memory:
	 * ENOSYS makes glibc fall back to clone(2). */
	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (r < 0)
			goto out;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		goto out;
	/* ioctls the caller's filter traps (loop devices, 0x4cXX), terminal injection. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, 0x4c00));
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, 0x5412)); /* TIOCSTI */
	if (r >= 0)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, 0x541c)); /* TIOCLINUX */
	if (r < 0)
		goto out;

	/* libseccomp 2.5 exports to an fd only. */
	mfd = memfd_create("mountvisor-fuse-filter", MFD_CLOEXEC);
	if (mfd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, mfd);
	if (r < 0)
		goto out;
	if (fstat(mfd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = -EIO;
		goto out;
	}
	insns = malloc((size_t)st.st_size);
	if (!insns) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(mfd, insns, (size_t)st.st_size, 0) != st.st_size) {
		free(insns);
		r = -EIO;
		goto out;
	}
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	prog->filter = insns;
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

static void filter_init(void)
{
	filter_err = filter_build(&filter_prog);
}

/* ------------------------------------------------------------------------ */
/* Preparation in the worker */

static int read_last_cap(void)
{
	static int last = -1;
	char buf[32];

	if (last < 0 &&
	    fd_read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		last = atoi(buf);
	return last < 0 || last > 63 ? 40 : last;
}

int fuse_confine_prepare(int procfd, struct fuse_confine *cf, char *why, size_t whylen)
{
	char buf[8192];
	unsigned have = 0;
	uint64_t eff;

	memset(cf, 0, sizeof(*cf));
	if (fd_read_file_at(procfd, "status", buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "cannot read the caller's status");
		return -ESRCH;
	}
	for (char *line = buf, *next; line && *line; line = next) {
		static const struct {
			const char *key;
			unsigned bit;
		} keys[] = {{"CapInh:", 1},  {"CapPrm:", 2},      {"CapEff:", 4},  {"CapBnd:", 8},
		            {"CapAmb:", 16}, {"NoNewPrivs:", 32}, {"Seccomp:", 64}};
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			size_t kl = strlen(keys[i].key);
			if (strncmp(line, keys[i].key, kl) != 0)
				continue;
			char *end;
			errno = 0;
			uint64_t v = strtoull(line + kl, &end, keys[i].bit >= 32 ? 10 : 16);
			if (errno || end == line + kl)
				break;
			have |= keys[i].bit;
			switch (keys[i].bit) {
			case 1:
				cf->caller_inh = v;
				break;
			case 2:
				cf->caller_prm = v;
				break;
			case 4:
				cf->caller_eff = v;
				break;
			case 8:
				cf->caller_bnd = v;
				break;
			case 16:
				cf->caller_amb = v;
				break;
			case 32:
				cf->nnp = v != 0;
				break;
			default:
				cf->caller_seccomp = (int)v;
				break;
			}
		}
	}
	if ((have & 0x3f) != 0x3f) {
		snprintf(why, whylen, "the caller's status lacks capability or NoNewPrivs lines");
		return -EINVAL;
	}
	pthread_once(&filter_once, filter_init);
	if (filter_err < 0) {
		snprintf(why, whylen, "building the seccomp filter: %s", strerror(-filter_err));
		return filter_err;
	}
	cf->filter = filter_prog;
	cf->last_cap = read_last_cap();
	/*
	 * A uid-0 program gets bounding | inheritable | ambient as permitted
	 * and effective on execve(): restricted to the caller's effective set,
	 * that is never more than the caller can use.  A non-root program gets
	 * only its ambient set (or file capabilities, within bounding).
	 */
	eff = cf->caller_eff & cf->caller_prm;
	cf->bnd = cf->caller_bnd & eff;
	cf->inh = cf->caller_inh & cf->bnd;
	cf->amb = cf->caller_amb & cf->inh;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The stand-in, as a sealed memfd */

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static int shim_fd = -EBADF;

static int shim_load(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("MOUNTVISOR_FUSE_SHIM_DIR");
	_cleanup_close_ int src = -EBADF, mfd = -EBADF;
	struct stat st;
	off_t off = 0;
	ssize_t n;

	if (env && *env) {
		snprintf(path, sizeof(path), "%s/fusermount", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -errno;
		exe[n] = '\0';
		snprintf(path, sizeof(path), "%s/fuse-shim/fusermount", dirname(exe));
	}
	src = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (src < 0)
		return -errno;
	if (fstat(src, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (64 << 20))
		return -ENOEXEC;
	mfd = memfd_create("mountvisor-fusermount", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	while (off < st.st_size) {
		n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return TAKE_FD(mfd);
}

int fuse_confine_shim_memfd(void)
{
	int r;

	pthread_mutex_lock(&shim_lock);
	if (shim_fd < 0) {
		r = shim_load();
		if (r >= 0)
			shim_fd = r;
	}
	r = shim_fd < 0 ? shim_fd : fcntl(shim_fd, F_DUPFD_CLOEXEC, 3);
	if (shim_fd >= 0 && r < 0)
		r = -errno;
	pthread_mutex_unlock(&shim_lock);
	return r;
}

/* ------------------------------------------------------------------------ */
/* In the daemon: raw system calls only */

int fuse_confine_shim(int memfd, const char *mountpoint, const char **what)
{
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	struct stat st;
	int fsfd, mnt, fd, file, placed = 0;
	off_t off = 0;

	*what = "fsopen(tmpfs) for the fusermount stand-in";
	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "nr_inodes", "8", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		*what = "creating the stand-in's tmpfs";
		close(fsfd);
		return -errno;
	}
	mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	close(fsfd);
	if (mnt < 0) {
		*what = "fsmount of the stand-in's tmpfs";
		return -errno;
	}
	*what = "copying the fusermount stand-in";
	fd = openat(mnt, "fusermount", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0555);
	if (fd < 0 || fstat(memfd, &st) < 0)
		goto fail;
	while (off < st.st_size) {
		ssize_t n = sendfile(fd, memfd, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			goto fail;
		}
	}
	close(fd);
	fd = -1;
	*what = "making the stand-in's tmpfs read-only";
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		goto fail;
	/* Over the placeholder mountpoint (a directory): PATH names it first. */
	if (move_mount(mnt, "", AT_FDCWD, mountpoint,
	               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) == 0)
		placed = 1;
	/*
	 * Over /bin/fusermount, which libfuse2 runs first, when there is one
	 * (else libfuse2 would run the container's): a clone of just the file.
	 * If this fails, the program is not started: it would run the
	 * container's fusermount instead of the stand-in.
	 */
	if (stat("/bin/fusermount", &st) == 0 && S_ISREG(st.st_mode)) {
		file = (int)syscall(SYS_open_tree, mnt, "fusermount",
		                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		placed =
		    file >= 0 && move_mount(file, "", AT_FDCWD, "/bin/fusermount",
		                            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) == 0;
		if (file >= 0)
			close(file);
	}
	close(mnt);
	if (!placed) {
		*what = "placing the fusermount stand-in at the mountpoint";
		return -ENOTDIR;
	}
	return 0;
fail : {
	int err = errno;
	if (fd >= 0)
		close(fd);
	close(mnt);
	return -err;
}
}

int fuse_confine_apply(const struct fuse_confine *cf, uid_t uid, gid_t gid, const gid_t *groups,
                       int n_groups, const char **what)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	*what = "dropping capabilities from the bounding set";
	for (int c = 0; c <= cf->last_cap; c++)
		if (!(cf->bnd & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -errno;
	*what = "setting no_new_privs";
	if (cf->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Still root of the user namespace with CAP_SYS_ADMIN: allowed without
	 * no_new_privs.  The filter lets the calls below through. */
	*what = "installing the seccomp filter";
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &cf->filter) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &newer_prog) < 0)
		return -errno;
	/* notifyd's supplementary groups were dropped before joining the user
	 * namespace; a user namespace with setgroups "deny" keeps them empty. */
	*what = "setgroups to the caller's groups";
	if (syscall(SYS_setgroups, (size_t)n_groups, groups) < 0 &&
	    !(errno == EPERM && n_groups == 0))
		return -errno;
	*what = "taking the caller's ids";
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return -errno;
	if (uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return -errno;
	*what = "setting the capability sets";
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)cf->bnd;
	data[1].permitted = data[1].effective = (uint32_t)(cf->bnd >> 32);
	data[0].inheritable = (uint32_t)cf->inh;
	data[1].inheritable = (uint32_t)(cf->inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	*what = "setting the ambient set";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	for (int c = 0; c <= cf->last_cap; c++)
		if ((cf->amb & (1ULL << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return -errno;
	return 0;
}
