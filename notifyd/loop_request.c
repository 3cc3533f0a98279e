// SPDX-License-Identifier: MIT
/*
 * ioctl(2) with a LOOP_* request number from a container (docs/loop.md).
 *
 * The seccomp rule traps the whole 0x4C00..0x4CFF range, on any fd.  notifyd
 * takes the caller's fd with pidfd_getfd, decides on that very open file and
 * acts on it, never on the fd number again, so a thread that swaps its fd
 * table in the meantime changes nothing.  No LOOP_* request is ever answered
 * `continue`: the kernel would look the fd number up again, and find
 * whatever a second thread put there (issue 13 item 6).
 *   - LOOP_CTL_GET_FREE, ADD and REMOVE on /dev/loop-control (or its
 *     /dev/null stand-in) work on the container's own devices (loop_device.c);
 *   - a loop device notifyd gave this container: the ioctl is done here, the
 *     backing file taken from the caller the same way and accepted only if
 *     it is a regular file; PARTSCAN is refused;
 *   - a loop device notifyd did not hand out (the runtime's, or one from
 *     before a restart): LOOP_GET_STATUS(64) is done here on the caller's
 *     file, every change is EPERM, so a container cannot re-point a device
 *     the host gave it at a file of its own;
 *   - a loop device of another container, or one being freed: EPERM;
 *   - anything else gets what the kernel itself answers there: ENOTTY on a
 *     file that is not a loop device (no other in-tree driver uses
 *     _IO('L', n) numbers without an argument size, the only ones the rule
 *     matches), ENOSYS for device commands on /dev/loop-control, EINVAL for
 *     control or unknown commands on a loop device, EBADF on an O_PATH fd.
 */
#include "notifyd/request.h"
#include "notifyd/loop_device.h"
#include "notifyd/profile_store.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/*
 * LOOP_CTL_* are taken on the real /dev/loop-control and on /dev/null, the
 * recommended stand-in bound at the container's /dev/loop-control: the host
 * node is 0600 root, which a container's root cannot open, while /dev/null
 * is 0666 and allowed by every runtime's default device list.
 */
static bool is_control(const struct stat *st)
{
	return S_ISCHR(st->st_mode) &&
	       (st->st_rdev == makedev(10, 237) || st->st_rdev == makedev(1, 3));
}

static const char *cmd_name(uint32_t cmd)
{
	switch (cmd) {
	case LOOP_SET_FD:
		return "LOOP_SET_FD";
	case LOOP_CLR_FD:
		return "LOOP_CLR_FD";
	case LOOP_SET_STATUS:
		return "LOOP_SET_STATUS";
	case LOOP_GET_STATUS:
		return "LOOP_GET_STATUS";
	case LOOP_SET_STATUS64:
		return "LOOP_SET_STATUS64";
	case LOOP_GET_STATUS64:
		return "LOOP_GET_STATUS64";
	case LOOP_CHANGE_FD:
		return "LOOP_CHANGE_FD";
	case LOOP_SET_CAPACITY:
		return "LOOP_SET_CAPACITY";
	case LOOP_SET_DIRECT_IO:
		return "LOOP_SET_DIRECT_IO";
	case LOOP_SET_BLOCK_SIZE:
		return "LOOP_SET_BLOCK_SIZE";
	case LOOP_CONFIGURE:
		return "LOOP_CONFIGURE";
	case LOOP_CTL_ADD:
		return "LOOP_CTL_ADD";
	case LOOP_CTL_REMOVE:
		return "LOOP_CTL_REMOVE";
	case LOOP_CTL_GET_FREE:
		return "LOOP_CTL_GET_FREE";
	default:
		return "LOOP_?";
	}
}

/* A failed emulation: err, and why as a helper said it (rq->detail) or strerror. */
static void fail(const struct request *rq, int err, struct decision *d)
{
	decision_fail(d, err, "%s", rq->detail[0] ? rq->detail : strerror(err));
}

static void control_ioctl(struct request *rq, uint32_t cmd, uint64_t arg, struct decision *d)
{
	struct profile_set *set = profile_store_get();
	const struct profile *p = set ? profile_set_find(set, rq->c->profile) : NULL;
	int r;

	if (!p) {
		decision_rule(d, "profile '%s' is not loaded", rq->c->profile);
		decision_fail(d, EPERM, "unknown profile");
		goto out;
	}
	decision_rule(d, "%s max-loop-devices=%u", p->name, p->max_loop_devices);
	if (!p->max_loop_devices) {
		decision_fail(d, EPERM, "the profile gives no loop devices");
		goto out;
	}
	d->action = DECISION_LOOP;
	switch (cmd) {
	case LOOP_CTL_GET_FREE:
		r = loop_device_get(rq, -1, p->max_loop_devices);
		break;
	case LOOP_CTL_ADD:
		r = (int64_t)arg < 0 || arg > (1u << 20)
		        ? -EINVAL
		        : loop_device_get(rq, (int)arg, p->max_loop_devices);
		break;
	case LOOP_CTL_REMOVE:
		r = arg > (1u << 20) ? -EINVAL : loop_device_remove(rq, (int)arg);
		break;
	default:
		r = -ENOSYS;
		break;
	}
	if (r < 0) {
		fail(rq, -r, d);
	} else {
		snprintf(rq->target, sizeof(rq->target), "/dev/loop%d", r);
		decision_ok(d, cmd == LOOP_CTL_REMOVE ? 0 : r);
	}
out:
	profile_store_put(set);
}

/* The caller's backing file: its own open file, and a regular one. */
static int take_backing(struct request *rq, int fdno)
{
	_cleanup_close_ int fd = target_getfd(&rq->t, fdno);
	struct stat st;

	if (fd < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "backing fd %d: %s", fdno, strerror(-fd));
		return fd == -ENOENT ? -ENOENT : -EBADF;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		snprintf(rq->detail, sizeof(rq->detail),
		         "backing fd %d is not a regular file (only image files are looped)", fdno);
		return -EINVAL;
	}
	return TAKE_FD(fd);
}

/* The kernel lets a read-only opener change a device's settings only with CAP_SYS_ADMIN. */
static bool needs_write(uint32_t cmd)
{
	return cmd == LOOP_SET_STATUS || cmd == LOOP_SET_STATUS64 || cmd == LOOP_SET_CAPACITY ||
	       cmd == LOOP_SET_DIRECT_IO || cmd == LOOP_SET_BLOCK_SIZE;
}

/* The argument of the LOOP_* commands that take a struct. */
union loop_arg {
	struct loop_config cfg;
	struct loop_info64 info64;
	struct loop_info info;
};

/*
 * The caller's struct for a command that passes one in: copied once, its
 * backing fd taken from the caller (LOOP_CONFIGURE), partition scanning
 * refused.  *backing is the taken file.  0 or -errno.
 */
static int read_arg(struct request *rq, uint32_t cmd, uint64_t arg, union loop_arg *u, size_t size,
                    int *backing)
{
	int r = target_read_mem(&rq->t, arg, u, size);

	if (r < 0)
		return r;
	if (cmd == LOOP_CONFIGURE) {
		*backing = take_backing(rq, (int)u->cfg.fd);
		if (*backing < 0)
			return *backing;
		u->cfg.fd = (uint32_t)*backing;
	}
	if ((cmd == LOOP_CONFIGURE && (u->cfg.info.lo_flags & LO_FLAGS_PARTSCAN)) ||
	    (cmd == LOOP_SET_STATUS64 && (u->info64.lo_flags & LO_FLAGS_PARTSCAN)) ||
	    (cmd == LOOP_SET_STATUS && (u->info.lo_flags & LO_FLAGS_PARTSCAN))) {
		snprintf(rq->detail, sizeof(rq->detail),
		         "partition scanning is not offered: partition nodes would not "
		         "appear in the container");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * After a successful LOOP_CHANGE_FD or LOOP_CLR_FD of loop device nr (binds
 * go through loop_device_bind()): the backing file it now has, or that it is
 * being detached, in loop_device.c's records.  Another thread of the
 * caller's may have given the device up (LOOP_CTL_REMOVE) since it was
 * found to be the container's.  0 or -errno.
 */
static int record_backing(struct request *rq, int nr, uint32_t cmd, int *backing)
{
	int r;

	if (cmd == LOOP_CHANGE_FD) {
		r = loop_device_set_backing(rq->c->id, nr, TAKE_FD(*backing));
		if (r < 0) {
			snprintf(rq->detail, sizeof(rq->detail),
			         "loop%d was given up while its file was being changed", nr);
			return r;
		}
	} else if (cmd == LOOP_CLR_FD) {
		loop_device_cleared(rq->c->id, nr);
	}
	return 0;
}

/*
 * struct loop_info as a 32-bit x86 caller lays it out (the kernel's
 * compat_loop_info): 140 bytes where notifyd's own is 168, its fields at
 * other offsets.  Copying notifyd's size for such a caller read and wrote 28
 * bytes past its struct and every field from the wrong place.
 */
struct loop_info_i386 {
	int32_t lo_number;
	uint16_t lo_device;
	uint32_t lo_inode;
	uint16_t lo_rdevice;
	int32_t lo_offset;
	int32_t lo_encrypt_type;
	int32_t lo_encrypt_key_size;
	int32_t lo_flags;
	char lo_name[LO_NAME_SIZE];
	unsigned char lo_encrypt_key[LO_KEY_SIZE];
	uint32_t lo_init[2];
	char reserved[4];
};
_Static_assert(sizeof(struct loop_info_i386) == 140, "i386 struct loop_info is 140 bytes");

/*
 * LOOP_SET_STATUS / LOOP_GET_STATUS from a 32-bit x86 caller, done as the
 * kernel's compat ioctl does them: through struct loop_info64
 * (loop_info64_from_compat(), loop_info64_to_compat(), EOVERFLOW included).
 */
static int status_i386(struct request *rq, int dev, uint32_t cmd, uint64_t arg)
{
	struct loop_info_i386 li = {0};
	struct loop_info64 i64 = {0};
	int r;

	if (cmd == LOOP_SET_STATUS) {
		r = target_read_mem(&rq->t, arg, &li, sizeof(li));
		if (r < 0)
			return r;
		i64.lo_device = li.lo_device;
		i64.lo_inode = li.lo_inode;
		i64.lo_rdevice = li.lo_rdevice;
		i64.lo_offset = (uint64_t)(int64_t)li.lo_offset;
		i64.lo_encrypt_type = (uint32_t)li.lo_encrypt_type;
		i64.lo_encrypt_key_size = (uint32_t)li.lo_encrypt_key_size;
		i64.lo_flags = (uint32_t)li.lo_flags;
		i64.lo_init[0] = li.lo_init[0];
		i64.lo_init[1] = li.lo_init[1];
		memcpy(i64.lo_encrypt_type == LO_CRYPT_CRYPTOAPI ? i64.lo_crypt_name
		                                                 : i64.lo_file_name,
		       li.lo_name, LO_NAME_SIZE);
		memcpy(i64.lo_encrypt_key, li.lo_encrypt_key, LO_KEY_SIZE);
		if (i64.lo_flags & LO_FLAGS_PARTSCAN) {
			snprintf(rq->detail, sizeof(rq->detail),
			         "partition scanning is not offered: partition nodes would not "
			         "appear in the container");
			return -EOPNOTSUPP;
		}
		r = target_valid(&rq->t);
		if (r < 0)
			return r;
		return ioctl(dev, LOOP_SET_STATUS64, &i64) < 0 ? -errno : 0;
	}
	r = target_valid(&rq->t);
	if (r < 0)
		return r;
	if (ioctl(dev, LOOP_GET_STATUS64, &i64) < 0)
		return -errno;
	li.lo_number = (int32_t)i64.lo_number;
	li.lo_device = (uint16_t)i64.lo_device;
	li.lo_inode = (uint32_t)i64.lo_inode;
	li.lo_rdevice = (uint16_t)i64.lo_rdevice;
	li.lo_offset = (int32_t)i64.lo_offset;
	li.lo_encrypt_type = (int32_t)i64.lo_encrypt_type;
	li.lo_encrypt_key_size = (int32_t)i64.lo_encrypt_key_size;
	li.lo_flags = (int32_t)i64.lo_flags;
	li.lo_init[0] = (uint32_t)i64.lo_init[0];
	li.lo_init[1] = (uint32_t)i64.lo_init[1];
	memcpy(li.lo_name,
	       i64.lo_encrypt_type == LO_CRYPT_CRYPTOAPI ? i64.lo_crypt_name : i64.lo_file_name,
	       LO_NAME_SIZE);
	memcpy(li.lo_encrypt_key, i64.lo_encrypt_key, LO_KEY_SIZE);
	if (li.lo_device != i64.lo_device || li.lo_rdevice != i64.lo_rdevice ||
	    li.lo_inode != i64.lo_inode || (uint64_t)(int64_t)li.lo_offset != i64.lo_offset ||
	    li.lo_init[0] != i64.lo_init[0] || li.lo_init[1] != i64.lo_init[1])
		return -EOVERFLOW;
	return target_write_mem(&rq->t, arg, &li, sizeof(li));
}

/* ioctl on the caller's own open loop device (dev), which this container owns. */
static int device_ioctl(struct request *rq, int dev, int nr, uint32_t cmd, uint64_t arg)
{
	_cleanup_close_ int backing = -EBADF;
	union loop_arg u = {0};
	size_t size = 0;
	bool out = false;
	int r;

	if (needs_write(cmd) && (fcntl(dev, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return -EPERM;
	if (rq->notif.data.arch == AUDIT_ARCH_I386 &&
	    (cmd == LOOP_SET_STATUS || cmd == LOOP_GET_STATUS))
		return status_i386(rq, dev, cmd, arg);
	switch (cmd) {
	case LOOP_CONFIGURE:
		size = sizeof(u.cfg);
		break;
	case LOOP_SET_STATUS64:
		size = sizeof(u.info64);
		break;
	case LOOP_SET_STATUS:
		size = sizeof(u.info);
		break;
	case LOOP_GET_STATUS64:
		size = sizeof(u.info64);
		out = true;
		break;
	case LOOP_GET_STATUS:
		size = sizeof(u.info);
		out = true;
		break;
	case LOOP_SET_FD:
	case LOOP_CHANGE_FD:
		backing = take_backing(rq, (int)arg);
		if (backing < 0)
			return backing;
		arg = (uint64_t)backing;
		break;
	case LOOP_CLR_FD:
	case LOOP_SET_CAPACITY:
	case LOOP_SET_DIRECT_IO:
	case LOOP_SET_BLOCK_SIZE:
		break;
	default:
		return -EINVAL; /* lo_ioctl's answer to a command it does not know */
	}
	if (size && !out) {
		r = read_arg(rq, cmd, arg, &u, size, &backing);
		if (r < 0)
			return r;
	}
	/* Everything read; is the caller still the one waiting? */
	r = target_valid(&rq->t);
	if (r < 0)
		return r;
	if (cmd == LOOP_CONFIGURE || cmd == LOOP_SET_FD) {
		/*
		 * Bound on notifyd's exclusive hold of the unbound device, which
		 * keeps everybody else (the host's losetup -f) from binding it
		 * (docs/loop.md "States of a container's loop device").  LOOP_SET_FD
		 * is LOOP_CONFIGURE with nothing but the fd in the kernel too.
		 */
		if (cmd == LOOP_SET_FD)
			memset(&u.cfg, 0, sizeof(u.cfg));
		r = loop_device_bind(rq->c->id, nr, &u.cfg, TAKE_FD(backing),
		                     (fcntl(dev, F_GETFL) & O_ACCMODE) == O_RDONLY);
		if (r == -EPERM)
			snprintf(rq->detail, sizeof(rq->detail),
			         "loop%d was given up while it was being bound", nr);
		return r;
	}
	if (ioctl(dev, cmd, size ? (unsigned long)&u : (unsigned long)arg) < 0)
		return -errno;
	if (out)
		return target_write_mem(&rq->t, arg, &u, size);
	return record_backing(rq, nr, cmd, &backing);
}

static bool is_ctl_cmd(uint32_t cmd)
{
	return cmd == LOOP_CTL_GET_FREE || cmd == LOOP_CTL_ADD || cmd == LOOP_CTL_REMOVE;
}

/* Refused without touching anything, with the errno the kernel gives for it. */
static struct decision refuse(int err, const char *rule, const char *why)
{
	struct decision d = {.action = DECISION_DENY};

	decision_rule(&d, "%s", rule);
	decision_fail(&d, err, "%s", why);
	return d;
}

struct decision loop_request_handle(struct request *rq)
{
	struct decision d = {0};
	uint32_t cmd = (uint32_t)rq->notif.data.args[1]; /* the kernel reads an unsigned int */
	uint64_t arg = rq->notif.data.args[2];
	_cleanup_close_ int fd = -EBADF;
	bool loop_dev, get;
	struct stat st;
	int r, fl;

	snprintf(rq->type, sizeof(rq->type), "%s", cmd_name(cmd));
	fd = target_getfd(&rq->t, (int)rq->notif.data.args[0]);
	if (fd < 0) {
		d.action = DECISION_ERROR;
		decision_fail(&d, fd == -ENOENT ? ENOENT : EBADF, "fd %d: %s",
		              (int)rq->notif.data.args[0], strerror(-fd));
		return d;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) < 0) {
		d.action = DECISION_ERROR;
		decision_fail(&d, errno, "fstat: %s", strerror(errno));
		return d;
	}
	/* From here on every answer is about this open file, whatever the fd number names now. */
	if (fl & O_PATH)
		return refuse(EBADF, "an O_PATH fd", "ioctl(2) on an O_PATH fd is EBADF");
	loop_dev = S_ISBLK(st.st_mode) && major(st.st_rdev) == LOOP_MAJOR_NR;
	if (is_ctl_cmd(cmd)) {
		if (is_control(&st)) {
			control_ioctl(rq, cmd, arg, &d);
			return d;
		}
		if (loop_dev)
			return refuse(EINVAL, "LOOP_CTL_* on a loop device",
			              "a loop device answers control commands with EINVAL");
		return refuse(ENOTTY, "LOOP_CTL_* on a file that is not /dev/loop-control",
		              "not /dev/loop-control or its /dev/null stand-in");
	}
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(10, 237))
		return refuse(ENOSYS, "device command on /dev/loop-control",
		              "/dev/loop-control answers device commands with ENOSYS");
	if (!loop_dev)
		return refuse(ENOTTY, "not a loop device: ENOTTY, as the kernel answers",
		              "the fd is not a loop device");
	snprintf(rq->target, sizeof(rq->target), "/dev/loop%u", minor(st.st_rdev));
	get = cmd == LOOP_GET_STATUS || cmd == LOOP_GET_STATUS64;
	switch (loop_device_access(rq->c->id, st.st_rdev)) {
	case LOOP_UNMANAGED:
		if (!get)
			return refuse(
			    EPERM, "loop device not handed out by notifyd: status only",
			    "changes to a loop device notifyd did not hand out are refused");
		decision_rule(&d, "loop device not handed out by notifyd: status only");
		break;
	case LOOP_FOREIGN:
		d.action = DECISION_DENY;
		decision_rule(&d, "loop devices belong to the container they were made for");
		decision_fail(&d, EPERM, "loop%u is not this container's", minor(st.st_rdev));
		return d;
	case LOOP_OWNED:
		decision_rule(&d, "the container's own loop device");
		break;
	}
	d.action = DECISION_LOOP;
	r = device_ioctl(rq, fd, (int)minor(st.st_rdev), cmd, arg);
	if (r < 0)
		fail(rq, -r, &d);
	else
		decision_ok(&d, 0);
	return d;
}
