/* SPDX-License-Identifier: MIT */
/*
 * notifyctl oci-config, the device part: --loop (a /dev/null bind at
 * /dev/loop-control, b 7:* rwm) and --device PATH (linux.devices, the cgroup
 * rule, the node's owner for a user-namespaced bundle).
 */
#include "notifyd/oci_config_internal.h"
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <libmount/libmount.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int dev_rule_fields(struct occ *c, size_t i, json_object *rule, bool *allow,
                           const char **type, int64_t *major, int64_t *minor, const char **access)
{
	json_object *v;

	if (!json_object_is_type(rule, json_type_object))
		return occ_refuse(c, "linux.resources.devices[%zu] is not an object", i);
	if (!json_object_object_get_ex(rule, "allow", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return occ_refuse(c, "linux.resources.devices[%zu] has no boolean \"allow\"", i);
	*allow = json_object_get_boolean(v);
	*type = occ_str_member(rule, "type");
	*access = occ_str_member(rule, "access");
	*major = *minor = -1;
	if (json_object_object_get_ex(rule, "major", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return occ_refuse(c, "linux.resources.devices[%zu].major is not a number",
			                  i);
		*major = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(rule, "minor", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return occ_refuse(c, "linux.resources.devices[%zu].minor is not a number",
			                  i);
		*minor = json_object_get_int64(v);
	}
	return 0;
}

static bool has_rwm(const char *access)
{
	return access && strchr(access, 'r') && strchr(access, 'w') && strchr(access, 'm');
}

/*
 * Allow "b MAJOR:MINOR rwm" (minor -1: every minor) in the device cgroup,
 * unless an allow covering it is there.  A deny naming that major is the
 * bundle's word: refused, as appending an allow after it would overrule it.
 */
static int allow_block(struct occ *c, json_object *linux_, int64_t major, int64_t minor,
                       const char *why)
{
	json_object *res, *devs, *rule;
	int r;

	r = occ_member(c, linux_, "linux.", "resources", json_type_object, true, &res);
	if (r >= 0)
		r = occ_member(c, res, "linux.resources.", "devices", json_type_array, true, &devs);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		bool allow = false;
		const char *type = NULL, *access = NULL;
		int64_t ma = -1, mi = -1;

		r = dev_rule_fields(c, i, json_object_array_get_idx(devs, i), &allow, &type, &ma,
		                    &mi, &access);
		if (r < 0)
			return r;
		bool blocks = !type || strcmp(type, "a") == 0 || strcmp(type, "b") == 0;
		bool covers = blocks && (ma == -1 || ma == major) && (mi == -1 || mi == minor);
		if (!allow && blocks && ma == major && (mi == -1 || minor == -1 || mi == minor))
			return occ_refuse(
			    c,
			    "linux.resources.devices[%zu] denies block major %lld (%s); "
			    "not overruled",
			    i, (long long)major, why);
		if (allow && covers && has_rwm(access) && type)
			return 0;
	}
	rule = json_object_new_object();
	if (!rule)
		return -ENOMEM;
	if (occ_append(devs, rule) < 0)
		return -ENOMEM;
	if (json_object_object_add(rule, "allow", json_object_new_boolean(1)) < 0 ||
	    occ_add_str(rule, "type", "b") < 0 || occ_add_int(rule, "major", major) < 0 ||
	    (minor >= 0 && occ_add_int(rule, "minor", minor) < 0) ||
	    occ_add_str(rule, "access", "rwm") < 0)
		return -ENOMEM;
	if (minor >= 0)
		occ_say(c, true, "linux.resources.devices: allow b %lld:%lld rwm (%s)",
		        (long long)major, (long long)minor, why);
	else
		occ_say(c, true, "linux.resources.devices: allow b %lld:* rwm (%s)",
		        (long long)major, why);
	return 0;
}

int occ_edit_loop(struct occ *c, json_object *root, json_object *linux_)
{
	json_object *mounts, *m;
	int r;

	r = occ_member(c, root, "", "mounts", json_type_array, true, &mounts);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		const char *dst, *src;

		m = json_object_array_get_idx(mounts, i);
		if (!json_object_is_type(m, json_type_object))
			return occ_refuse(c, "mounts[%zu] is not an object", i);
		dst = occ_str_member(m, "destination");
		if (!dst)
			return occ_refuse(c, "mounts[%zu] has no \"destination\" string", i);
		if (strcmp(dst, "/dev/loop-control") != 0)
			continue;
		src = occ_str_member(m, "source");
		if (src && (strcmp(src, "/dev/null") == 0 || strcmp(src, "/dev/loop-control") == 0))
			goto cgroup;
		return occ_refuse(
		    c,
		    "mounts[%zu] puts %s at /dev/loop-control; --loop needs /dev/null "
		    "(or the host's /dev/loop-control) there",
		    i, src ? src : "something");
	}
	m = json_object_new_object();
	if (!m || occ_append(mounts, m) < 0)
		return -ENOMEM;
	json_object *opts = json_object_new_array();
	if (occ_add_str(m, "destination", "/dev/loop-control") < 0 ||
	    occ_add_str(m, "type", "bind") < 0 || occ_add_str(m, "source", "/dev/null") < 0 ||
	    !opts || json_object_object_add(m, "options", opts) < 0 ||
	    occ_append(opts, json_object_new_string("bind")) < 0)
		return -ENOMEM;
	occ_say(c, true,
	        "mounts: bind /dev/null at /dev/loop-control (its LOOP_CTL_* ioctls go to "
	        "notifyd)");
cgroup:
	return allow_block(c, linux_, 7, -1, "loop devices notifyd hands out");
}

static bool has_user_ns(json_object *linux_)
{
	json_object *ns;

	if (!json_object_object_get_ex(linux_, "namespaces", &ns) ||
	    !json_object_is_type(ns, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(ns); i++) {
		const char *t = occ_str_member(json_object_array_get_idx(ns, i), "type");

		if (t && strcmp(t, "user") == 0)
			return true;
	}
	return false;
}

/* The host id that container id 0 maps to in linux.uidMappings/gidMappings. */
static int root_host_id(struct occ *c, json_object *linux_, const char *key, uint32_t *ret)
{
	json_object *maps;
	int r = occ_member(c, linux_, "linux.", key, json_type_array, false, &maps);

	if (r < 0)
		return r;
	for (size_t i = 0; maps && i < json_object_array_length(maps); i++) {
		json_object *m = json_object_array_get_idx(maps, i), *vc, *vh, *vs;

		if (!json_object_is_type(m, json_type_object) ||
		    !json_object_object_get_ex(m, "containerID", &vc) ||
		    !json_object_object_get_ex(m, "hostID", &vh) ||
		    !json_object_object_get_ex(m, "size", &vs) ||
		    !json_object_is_type(vc, json_type_int) ||
		    !json_object_is_type(vh, json_type_int) ||
		    !json_object_is_type(vs, json_type_int))
			return occ_refuse(
			    c, "linux.%s[%zu] is not {containerID, hostID, size} numbers", key, i);
		int64_t cid = json_object_get_int64(vc), hid = json_object_get_int64(vh),
		        size = json_object_get_int64(vs);
		if (cid < 0 || hid < 0 || size <= 0 || hid > UINT32_MAX - 1)
			return occ_refuse(c, "linux.%s[%zu] has ids out of range", key, i);
		if (cid == 0) {
			*ret = (uint32_t)hid;
			return 0;
		}
	}
	return occ_refuse(c,
	                  "the bundle has a user namespace but linux.%s maps no container root "
	                  "(id 0); cannot tell who must own its block devices",
	                  key);
}

/*
 * Is one of parts[] mounted (anywhere notifyd sees) or a swap area?  1 with
 * the reason in why, else 0.  libmount parses mountinfo (undoing its
 * escapes) and /proc/swaps.
 */
static int mounted_or_swap(const dev_t *parts, size_t nparts, char *why, size_t size)
{
	struct libmnt_table *tb = mnt_new_table(), *sw = mnt_new_table();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int r = 0;

	if (tb && mnt_table_parse_file(tb, "/proc/self/mountinfo") == 0)
		for (size_t i = 0; !r && i < nparts; i++) {
			fs = mnt_table_find_devno(tb, parts[i], MNT_ITER_FORWARD);
			if (fs) {
				snprintf(why, size, "mounted at %s", mnt_fs_get_target(fs));
				r = 1;
			}
		}
	if (!r && sw && it && mnt_table_parse_swaps(sw, NULL) == 0)
		while (!r && mnt_table_next_fs(sw, it, &fs) == 0) {
			const char *src = mnt_fs_get_source(fs);
			struct stat st;

			if (!src || stat(src, &st) < 0 || !S_ISBLK(st.st_mode))
				continue;
			for (size_t i = 0; !r && i < nparts; i++)
				if (st.st_rdev == parts[i]) {
					snprintf(why, size, "a swap area");
					r = 1;
				}
		}
	mnt_free_iter(it);
	mnt_unref_table(sw);
	mnt_unref_table(tb);
	return r;
}

/*
 * Why a block device must not go to a container: mounted on the host (it or
 * a partition of it), held (device mapper, md, a partition table in use) or
 * a swap area.  Returns 0 when free, 1 with why filled when in use.
 */
static int device_in_use(dev_t dev, char *why, size_t size)
{
	char p[128];
	unsigned int ma, mi;
	_cleanup_closedir_ DIR *d = NULL;
	dev_t parts[256];
	size_t nparts = 0;
	struct dirent *e;

	parts[nparts++] = dev;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
	d = opendir(p);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(why, size, "held by %s", e->d_name);
			return 1;
		}
	if (d)
		closedir(TAKE_PTR(d));
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	d = opendir(p);
	while (d && (e = readdir(d)) && nparts < ARRAY_SIZE(parts)) {
		char dp[512], buf[32];

		snprintf(dp, sizeof(dp), "%s/%s/partition", p, e->d_name);
		if (access(dp, F_OK) < 0)
			continue;
		snprintf(dp, sizeof(dp), "%s/%s/dev", p, e->d_name);
		if (fd_read_file_at(AT_FDCWD, dp, buf, sizeof(buf)) > 0 &&
		    sscanf(buf, "%u:%u", &ma, &mi) == 2)
			parts[nparts++] = makedev(ma, mi);
	}
	return mounted_or_swap(parts, nparts, why, size);
}

int occ_edit_device(struct occ *c, json_object *linux_, const char *path)
{
	json_object *devs, *d;
	struct stat st;
	char why[2200];
	int r;

	if (path[0] != '/')
		return occ_refuse(c, "--device %s: not an absolute path", path);
	if (stat(path, &st) < 0)
		return occ_refuse(c, "--device %s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return occ_refuse(c, "--device %s is not a block device", path);
	int64_t ma = major(st.st_rdev), mi = minor(st.st_rdev);

	/* A filesystem the host uses, written under it by a container: never by default. */
	if (device_in_use(st.st_rdev, why, sizeof(why)) && !c->force)
		return occ_refuse(
		    c,
		    "--device %s is in use on the host (%s); giving it to a container is "
		    "refused without --force",
		    path, why);
	r = occ_member(c, linux_, "linux.", "devices", json_type_array, true, &devs);
	if (r < 0)
		return r;
	d = NULL;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		json_object *e = json_object_array_get_idx(devs, i), *v;
		const char *p, *t;

		if (!json_object_is_type(e, json_type_object) || !(p = occ_str_member(e, "path")))
			return occ_refuse(c, "linux.devices[%zu] has no \"path\" string", i);
		if (strcmp(p, path) != 0)
			continue;
		t = occ_str_member(e, "type");
		if (!t || strcmp(t, "b") != 0 || !json_object_object_get_ex(e, "major", &v) ||
		    json_object_get_int64(v) != ma || !json_object_object_get_ex(e, "minor", &v) ||
		    json_object_get_int64(v) != mi)
			return occ_refuse(c, "linux.devices[%zu] already puts another device at %s",
			                  i, path);
		d = e;
	}
	if (!d) {
		d = json_object_new_object();
		if (!d || occ_append(devs, d) < 0)
			return -ENOMEM;
		if (occ_add_str(d, "path", path) < 0 || occ_add_str(d, "type", "b") < 0 ||
		    occ_add_int(d, "major", ma) < 0 || occ_add_int(d, "minor", mi) < 0 ||
		    occ_add_int(d, "fileMode", 0660) < 0 || occ_add_int(d, "uid", 0) < 0 ||
		    occ_add_int(d, "gid", 0) < 0)
			return -ENOMEM;
		occ_say(c, true,
		        "linux.devices: %s, block %lld:%lld, owned by the container's root", path,
		        (long long)ma, (long long)mi);
	}
	r = allow_block(c, linux_, ma, mi, path);
	if (r < 0)
		return r;
	if (!has_user_ns(linux_))
		return 0; /* the runtime makes its own node, owned as linux.devices says */

	/* In a user namespace crun and runc bind-mount the host's node. */
	uint32_t uid, gid;
	r = root_host_id(c, linux_, "uidMappings", &uid);
	if (r >= 0)
		r = root_host_id(c, linux_, "gidMappings", &gid);
	if (r < 0)
		return r;
	if (st.st_uid == uid && st.st_gid == gid)
		return 0;
	/*
	 * The mapping comes from the bundle: a root mapped onto a host account
	 * (below the subordinate id ranges, which start at 65536 or above) would
	 * hand that account the raw device on the host.
	 */
	if (((uid != 0 && uid < OCC_MIN_SUBID) || (gid != 0 && gid < OCC_MIN_SUBID)) && !c->force)
		return occ_refuse(
		    c,
		    "the bundle maps its root to host uid %u gid %u, a host account's; "
		    "chowning %s to it is refused without --force",
		    uid, gid, path);
	if (c->nchowns < ARRAY_SIZE(c->chowns))
		c->chowns[c->nchowns++] = (struct occ_chown){.path = path,
		                                             .uid = uid,
		                                             .gid = gid,
		                                             .old_uid = st.st_uid,
		                                             .old_gid = st.st_gid};
	return 0;
}
