// SPDX-License-Identifier: MIT
/* Per-thread fsuid/fsgid switching (fuse_creds.h). */
#include "vfsd/seccomp.h"
#include "vfsd/fuse_creds.h"
#include "vfsd/fuse_server.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * This thread's fsuid and fsgid as last set or read here, so that a request
 * whose caller the thread already is (the common case: guest root, vfsd
 * root) costs no system call.  Only this file changes them: vfsd never calls
 * setuid() and friends once its threads run.
 */
static __thread bool fsid_known;
static __thread uid_t cur_fsuid;
static __thread gid_t cur_fsgid;

/* setfsuid() reports the previous value, never an error: ask again to check. */
static int set_fsid(long nr, unsigned id)
{
	unsigned now;

	syscall(nr, id);
	now = (unsigned)syscall(nr, -1);
	if (nr == SYS_setfsuid)
		cur_fsuid = (uid_t)now;
	else
		cur_fsgid = (gid_t)now;
	return now == id ? 0 : -EPERM;
}

int vfsd_creds_switch(struct vfsd_creds *saved, uid_t uid, gid_t gid)
{
	int r;

	if (!fsid_known) {
		cur_fsuid = (uid_t)syscall(SYS_setfsuid, -1);
		cur_fsgid = (gid_t)syscall(SYS_setfsgid, -1);
		fsid_known = true;
	}
	saved->uid = cur_fsuid;
	saved->gid = cur_fsgid;
	saved->switched = 0;
	if (saved->uid == uid && saved->gid == gid)
		return 0;
	/* Group first: once fsuid is not 0 we may lack CAP_SETGID. */
	saved->switched = 1;
	r = set_fsid(SYS_setfsgid, gid);
	if (r >= 0)
		r = set_fsid(SYS_setfsuid, uid);
	if (r < 0) {
		vfsd_creds_restore(saved);
		/*
		 * An unprivileged vfsd cannot take other ids; files are then
		 * created as the daemon's user, like any unprivileged server.
		 * A root vfsd that fails must not create as root.
		 */
		return geteuid() == 0 ? r : 0;
	}
	return 0;
}

int vfsd_req_creds_switch(struct vfsd_req *req, struct vfsd_creds *saved)
{
	const struct vfsd_fs_config *cfg = &req->fs->cfg;
	uint32_t uid, gid;

	/* Nothing switched yet: a forbidden id leaves nothing to restore. */
	saved->switched = 0;
	if (vfsd_idmap_to_host(cfg->uid_map, req->in.uid, &uid) < 0 ||
	    vfsd_idmap_to_host(cfg->gid_map, req->in.gid, &gid) < 0)
		return -EPERM;
	return vfsd_creds_switch(saved, uid, gid);
}

void vfsd_creds_restore(struct vfsd_creds *saved)
{
	if (!saved->switched)
		return;
	/* Back to ids this thread had: setting them cannot fail. */
	syscall(SYS_setfsuid, saved->uid);
	syscall(SYS_setfsgid, saved->gid);
	cur_fsuid = saved->uid;
	cur_fsgid = saved->gid;
	saved->switched = 0;
}

int vfsd_creds_drop_groups(void)
{
	if (setgroups(0, NULL) == 0)
		return 0;
	/* In a user namespace with setgroups denied there may be nothing to drop. */
	if (errno == EPERM && getgroups(0, NULL) == 0)
		return 0;
	return -errno;
}

/*
 * Raw capget/capset with pid 0 act on the calling thread only, which is what
 * a per-request change needs; libcap-ng keeps process-wide state instead.
 */
static bool set_fsetid(bool on)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	const uint32_t bit = 1u << CAP_FSETID; /* CAP_FSETID < 32: word 0 */

	if (syscall(SYS_capget, &hdr, d) < 0)
		return false;
	if (!on && !(d[0].effective & bit))
		return false; /* nothing to drop (an unprivileged vfsd) */
	if (on && !(d[0].permitted & bit))
		return false;
	d[0].effective = on ? d[0].effective | bit : d[0].effective & ~bit;
	return syscall(SYS_capset, &hdr, d) == 0;
}

bool vfsd_creds_drop_fsetid(void)
{
	return set_fsetid(false);
}

void vfsd_creds_restore_fsetid(bool dropped)
{
	if (dropped)
		set_fsetid(true);
}

/* seccomp allowlist for this file and fs_device.c (see seccomp.h) */
const char *const vfsd_syscalls_fuse_creds[] = {"setfsuid", "setfsgid", "syncfs",
                                                "capget",   "capset",   NULL};
