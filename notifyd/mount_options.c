/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_options.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <libmount/libmount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

void mount_opts_free(struct mount_opts *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i]);
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

/*
 * Options that set the same thing under another name, after a leading "no"
 * or "no_" is taken off ("nouser_xattr" and "user_xattr" both name
 * "user_xattr"; "barrier=0", "nobarrier" and "barrier" name "barrier").
 * A forced option takes out every caller option of its setting, so the
 * caller cannot undo it with a spelling the kernel parses as the same knob.
 * Taking out too much only costs the caller an option it could not keep
 * anyway; a missing alias is still outvoted because the forced option is
 * written last (ext4, xfs, btrfs and vfat let the last value win).
 */
static const struct {
	const char *alias, *setting;
} aliases[] = {
    {"rw", "ro"},              /* rw clears SB_RDONLY */
    {"async", "sync"},         /* async clears SB_SYNCHRONOUS */
    {"relatime", "atime"},     /* the atime policy */
    {"strictatime", "atime"},  /* (mount flags; fsconfig refuses them) */
    {"load", "recovery"},      /* ext4: noload == norecovery */
    {"logreplay", "recovery"}, /* btrfs: nologreplay */
    {"rescue", "recovery"},    /* btrfs: rescue=nologreplay,... */
    {"bsdgroups", "grpid"},    /* ext2/4, xfs: bsdgroups == grpid */
    {"sysvgroups", "grpid"},   /* sysvgroups == nogrpid */
    {"i_version", "iversion"}, /* ext4's old spelling */
    {"dioread_lock", "dioread_nolock"},
    {"journal_async_commit", "journal_checksum"}, /* implies journal_checksum */
    {"posixacl", "acl"},
    {"compress-force", "compress"}, /* btrfs */
    {"ssd_spread", "ssd"},          /* btrfs */
    {"subvolid", "subvol"},         /* btrfs: both pick the subvolume */
    {"inode64", "inode32"},         /* xfs */
    {"usrquota", "quota"},          /* every quota switch and file */
    {"grpquota", "quota"},
    {"prjquota", "quota"},
    {"uquota", "quota"},
    {"gquota", "quota"},
    {"pquota", "quota"},
    {"usrjquota", "quota"},
    {"grpjquota", "quota"},
    {"jqfmt", "quota"},
    {"qnoenforce", "quota"},
    {"uqnoenforce", "quota"},
    {"gqnoenforce", "quota"},
    {"pqnoenforce", "quota"},
};

/* The setting opt ("key" or "key=value") is about, into buf. */
static void opt_setting(const char *opt, char *buf, size_t size)
{
	size_t k = strcspn(opt, "=");

	if (k > 3 && !strncmp(opt, "no_", 3)) {
		opt += 3;
		k -= 3;
	} else if (k > 2 && !strncmp(opt, "no", 2)) {
		opt += 2;
		k -= 2;
	}
	snprintf(buf, size, "%.*s", (int)k, opt);
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (!strcmp(buf, aliases[i].alias)) {
			snprintf(buf, size, "%s", aliases[i].setting);
			break;
		}
}

bool mount_opts_same_setting(const char *a, const char *b)
{
	char sa[128], sb[128];

	/* Keys too long for the buffers are compared whole (no such option exists). */
	if (strcspn(a, "=") >= sizeof(sa) || strcspn(b, "=") >= sizeof(sb))
		return strcspn(a, "=") == strcspn(b, "=") && !strncmp(a, b, strcspn(a, "="));
	opt_setting(a, sa, sizeof(sa));
	opt_setting(b, sb, sizeof(sb));
	return !strcmp(sa, sb);
}

int mount_opts_add(struct mount_opts *o, const char *opt)
{
	char *copy = strdup(opt), **v;
	size_t j = 0;

	if (!copy)
		return -ENOMEM;
	/* Every caller entry for the same setting goes, whatever its spelling or position. */
	for (size_t i = 0; i < o->n; i++) {
		if (mount_opts_same_setting(o->v[i], opt))
			free(o->v[i]);
		else
			o->v[j++] = o->v[i];
	}
	o->n = j;
	v = realloc(o->v, (o->n + 2) * sizeof(*v));
	if (!v) {
		free(copy);
		if (o->v)
			o->v[o->n] = NULL;
		return -ENOMEM;
	}
	o->v = v;
	v[o->n] = copy; /* last, so it also outvotes a spelling the table misses */
	v[++o->n] = NULL;
	return 0;
}

/* Append the n bytes at item as one more entry. */
static int opts_push(struct mount_opts *o, const char *item, size_t n)
{
	char **v = realloc(o->v, (o->n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	o->v = v;
	v[o->n] = strndup(item, n);
	if (!v[o->n])
		return -ENOMEM;
	v[++o->n] = NULL;
	return 0;
}

/*
 * Split with libmount's option-string parser.  It agrees with the kernel's
 * (strsep on commas, empty items skipped, the string ends at its first NUL
 * as mount(2)'s copy of the data does) except for double quotes, which it
 * treats as grouping ("a=\"x,y\"" is one item for libmount, two for the
 * kernel and for libfuse's -o parser).  A quote therefore stays inside the
 * item libmount hands back and mount_opts_check() refuses that item, so the
 * difference never reaches a mount.  An unterminated quote makes libmount
 * stop without an item: the rest is kept as one last item, refused the same
 * way, rather than dropped unseen.
 */
int mount_opts_split(const char *data, struct mount_opts *ret)
{
	_cleanup_free_ char *copy = strdup(data ? data : "");
	char *p = copy, *name, *value;
	size_t namesz, valuesz;
	int r = 0;

	ret->v = NULL;
	ret->n = 0;
	if (!copy)
		return -ENOMEM;
	while (r >= 0 && mnt_optstr_next_option(&p, &name, &namesz, &value, &valuesz) == 0)
		r = opts_push(ret, name, value ? (size_t)(value + valuesz - name) : namesz);
	p += p ? strspn(p, ",") : 0;
	if (r >= 0 && p && *p)
		r = opts_push(ret, p, strlen(p));
	if (r < 0)
		mount_opts_free(ret);
	return r;
}

int mount_opts_join(const struct mount_opts *o, char **ret)
{
	char *s = NULL;

	for (size_t i = 0; i < o->n; i++)
		if (mnt_optstr_append_option(&s, o->v[i], NULL) < 0) {
			free(s);
			return -ENOMEM;
		}
	*ret = s ? s : strdup("");
	return *ret ? 0 : -ENOMEM;
}

/*
 * Options that name another device, by path or number: ext4's external
 * journal, xfs's log and realtime devices, btrfs's other members.  notifyd
 * would look a path up in its own view (the host's /dev), not the caller's;
 * the devices are opened in the caller's cgroup anyway (source_open.c), but
 * a container has no business naming host paths.  Refused from callers
 * whatever allowed-options says; multi-device images are out of scope.
 */
static bool names_a_device(const char *opt)
{
	static const char *const keys[] = {"journal_path", "journal_dev", "logdev", "rtdev",
	                                   "device"};
	size_t len = strcspn(opt, "=");

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strlen(keys[i]) == len && strncmp(opt, keys[i], len) == 0)
			return true;
	return false;
}

int mount_opts_check(const struct mount_opts *o, const struct profile_fs *fs, const char **bad)
{
	for (size_t i = 0; i < o->n; i++)
		/*
		 * A backslash would escape the comma after it for a FUSE program
		 * (libfuse's -o parser), gluing the next option, a forced one
		 * included, into this one's value.  A double quote groups commas
		 * for libmount (and SELinux's context= parser) but not for the
		 * kernel's file systems or libfuse: one string, different items
		 * to each reader.  No kernel option needs either.  An item with
		 * no key ("=x") is one the kernel skips and libfuse would hand
		 * to the program; nothing asks for it.  A comma inside an item
		 * (only a quoted group can hold one) would split it again.
		 */
		if (strpbrk(o->v[i], "\\\",") || o->v[i][0] == '=' || names_a_device(o->v[i]) ||
		    !profile_option_allowed(fs, o->v[i])) {
			*bad = o->v[i];
			return -EINVAL;
		}
	return 0;
}

int mount_flags_translate(unsigned long flags, struct mount_flags *ret)
{
	const unsigned long known = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS |
	                            MS_DIRSYNC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
	                            MS_STRICTATIME | MS_LAZYTIME | MS_SILENT | MS_NOSYMFOLLOW;

	memset(ret, 0, sizeof(*ret));
	/* The kernel strips the pre-2.4 magic number the same way. */
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	if (flags & ~known)
		return -EINVAL;
	/* Forced whatever the caller asked: files on it never gain privilege or reach devices. */
	ret->attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (flags & MS_RDONLY) {
		ret->attr |= MOUNT_ATTR_RDONLY;
		ret->sb_ro = 1;
	}
	if (flags & MS_NOEXEC)
		ret->attr |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NOSYMFOLLOW)
		ret->attr |= MOUNT_ATTR_NOSYMFOLLOW;
	if (flags & MS_NODIRATIME)
		ret->attr |= MOUNT_ATTR_NODIRATIME;
	if (flags & MS_NOATIME)
		ret->attr |= MOUNT_ATTR_NOATIME;
	else if (flags & MS_STRICTATIME)
		ret->attr |= MOUNT_ATTR_STRICTATIME;
	else
		ret->attr |= MOUNT_ATTR_RELATIME; /* what mount(2) defaults to */
	ret->sync = !!(flags & MS_SYNCHRONOUS);
	ret->dirsync = !!(flags & MS_DIRSYNC);
	ret->lazytime = !!(flags & MS_LAZYTIME);
	/* MS_SILENT only quiets the kernel log; the new mount API has no such knob. */
	return 0;
}

void mount_flags_format(unsigned long flags, char *buf, size_t size)
{
	static const struct {
		unsigned long flag;
		const char *name;
	} names[] = {
	    {MS_RDONLY, "ro"},
	    {MS_NOSUID, "nosuid"},
	    {MS_NODEV, "nodev"},
	    {MS_NOEXEC, "noexec"},
	    {MS_SYNCHRONOUS, "sync"},
	    {MS_REMOUNT, "remount"},
	    {MS_MANDLOCK, "mand"},
	    {MS_DIRSYNC, "dirsync"},
	    {MS_NOSYMFOLLOW, "nosymfollow"},
	    {MS_NOATIME, "noatime"},
	    {MS_NODIRATIME, "nodiratime"},
	    {MS_BIND, "bind"},
	    {MS_MOVE, "move"},
	    {MS_REC, "rec"},
	    {MS_SILENT, "silent"},
	    {MS_UNBINDABLE, "unbindable"},
	    {MS_PRIVATE, "private"},
	    {MS_SLAVE, "slave"},
	    {MS_SHARED, "shared"},
	    {MS_RELATIME, "relatime"},
	    {MS_STRICTATIME, "strictatime"},
	    {MS_LAZYTIME, "lazytime"},
	};
	size_t len = 0;

	buf[0] = '\0';
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (flags & names[i].flag) {
			flags &= ~names[i].flag;
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
			                        len ? "," : "", names[i].name);
		}
	if (flags)
		snprintf(buf + len, len < size ? size - len : 0, "%s0x%lx", len ? "," : "", flags);
	else if (len == 0)
		snprintf(buf, size, "none");
}
