/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_verify.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define EXT_SUPER_MAGIC 0xEF53 /* ext2, ext3 and ext4 alike */

/*
 * Options an ext2/3/4 superblock must not carry unless the profile allows or
 * forces them, spelled as /proc/fs/ext4/DEV/options shows them (a "key="
 * entry matches every value).  The image's stored defaults can set them:
 * s_mount_opts is parsed like a caller's data string (measured on 6.18 for
 * noload, nobarrier, barrier=0, data=writeback, debug, warn_on_error,
 * noblock_validity, usrjquota=), and s_default_mount_opts has bits for
 * journal_data, journal_data_writeback, debug and nobarrier.  The quota
 * options are listed comma-separated on one line, hence the split on both.
 * Everything else the file lists is the
 * kernel's ordinary display of every setting (rw, data=ordered, barrier,
 * commit=5, errors=continue, block_validity, delalloc, ...), left alone so
 * that normal images keep mounting; see mountvisor-profile(5), OPTIONS FROM
 * THE IMAGE, for why each one is here and others are not.
 */
static const struct {
	const char *shown;
	const char *spellings[3]; /* profile items that let it through ("key=": the item itself) */
} ext_guard[] = {
    {"norecovery", {"norecovery", "noload"}},           /* journal not replayed: stale metadata */
    {"nobarrier", {"nobarrier", "barrier=0"}},          /* no cache flushes on commit */
    {"data=journal", {"data=journal"}},                 /* data through the journal */
    {"data=writeback", {"data=writeback"}},             /* stale data after a crash */
    {"journal_async_commit", {"journal_async_commit"}}, /* unsafe commit blocks */
    {"errors=panic", {"errors=panic"}},                 /* a corrupt image panics the host */
    {"warn_on_error", {"warn_on_error"}},               /* WARN(): panics under panic_on_warn */
    {"noblock_validity", {"noblock_validity"}},         /* metadata block range checks off */
    {"debug", {"debug"}},                               /* floods the host's kernel log */
    {"dax", {"dax"}},                                   /* direct access to the device */
    {"dax=always", {"dax=always"}},
    {"dax=inode", {"dax=inode"}},
    {"usrjquota=", {NULL}}, /* old-style quota files the kernel parses */
    {"grpjquota=", {NULL}},
};

/*
 * Does the profile let opt through: allowed-options as for a caller's option
 * (a key entry allows every value), forced options only as written (a forced
 * "barrier" must not let "barrier=0" through: it is there to override it).
 */
static bool profile_lets_through(const struct profile_fs *fs, const char *opt)
{
	static char *none[] = {NULL};
	const struct profile_fs allowed = {.options = none, .allowed_options = fs->allowed_options};

	for (size_t i = 0; fs->options[i]; i++)
		if (!strcmp(fs->options[i], opt))
			return true;
	return profile_option_allowed(&allowed, opt);
}

static bool guard_lets_through(size_t g, const char *item, const struct profile_fs *fs)
{
	const char *shown = ext_guard[g].shown;
	size_t len = strlen(shown);

	if (shown[len - 1] == '=')
		return profile_lets_through(fs, item);
	for (size_t i = 0; i < ARRAY_SIZE(ext_guard[g].spellings) && ext_guard[g].spellings[i]; i++)
		if (profile_lets_through(fs, ext_guard[g].spellings[i]))
			return true;
	return false;
}

static bool guard_matches(size_t g, const char *item)
{
	const char *shown = ext_guard[g].shown;
	size_t len = strlen(shown);

	return shown[len - 1] == '=' ? !strncmp(item, shown, len) : !strcmp(item, shown);
}

int mount_verify_ext4_text(char *text, const struct profile_fs *fs, const char **bad)
{
	char *p = text, *quote, *item, *value, *end;
	size_t itemsz, valuesz;

	/* One option a line, some lines comma-separated: one option string. */
	for (char *nl = strchr(text, '\n'); nl; nl = strchr(nl + 1, '\n'))
		*nl = ',';
	/*
	 * libmount groups commas inside double quotes; the kernel's display
	 * does not quote (a value from the image, say a quota file name, could
	 * hold a '"').  Grouped, a guarded option after such a quote would
	 * hide inside one item and go unchecked: refuse the item with the
	 * quote instead (no ordinary ext* option shows one).
	 */
	quote = strchr(text, '"');
	if (quote) {
		while (quote > text && quote[-1] != ',')
			quote--;
		quote[strcspn(quote, ",")] = '\0';
		*bad = quote;
		return -EPERM;
	}
	while (mnt_optstr_next_option(&p, &item, &itemsz, &value, &valuesz) == 0) {
		end = value ? value + valuesz : item + itemsz;
		*end = '\0'; /* a ',' or the end: p is already past it */
		for (size_t g = 0; g < ARRAY_SIZE(ext_guard); g++)
			if (guard_matches(g, item) && !guard_lets_through(g, item, fs)) {
				*bad = item;
				return -EPERM;
			}
	}
	return 0;
}

/*
 * The superblock's s_id, which names its /proc/fs/ext4 directory: the block
 * device's kernel name ("loop8", "sda1", "dm-0"), the last component of
 * /sys/dev/block/MAJ:MIN.
 */
static int sb_device_name(dev_t dev, char *buf, size_t size)
{
	char link[64], target[512];
	ssize_t n;
	size_t len;
	const char *name;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	len = strlen(name);
	if (!len || !strcmp(name, ".") || !strcmp(name, "..") || len >= size)
		return -ENOENT;
	memcpy(buf, name, len + 1);
	return 0;
}

int mount_verify_effective(int mntfd, const struct profile_fs *fs, char *bad, size_t badlen)
{
	char name[64], path[128], text[8192];
	const char *item = NULL;
	struct statfs sfs;
	struct stat st;
	ssize_t n;
	int r;

	bad[0] = '\0';
	if (fstatfs(mntfd, &sfs) < 0 || fstat(mntfd, &st) < 0) {
		snprintf(bad, badlen, "fstatfs of the new mount");
		return -errno;
	}
	if (sfs.f_type != EXT_SUPER_MAGIC)
		return 0; /* no stored mount options reach the kernel's other parsers */
	/*
	 * statmount(2) cannot see a detached mount on 6.18 (ENOENT by id, no
	 * by-fd form), and what it and /proc/PID/mountinfo show for ext4 omits
	 * every option equal to the image's own defaults (an attached mount of
	 * an image with s_mount_opts=nobarrier and journal_data shows neither).
	 * /proc/fs/ext4/DEV/options lists every setting of the superblock.
	 */
	r = sb_device_name(st.st_dev, name, sizeof(name));
	if (r < 0) {
		snprintf(bad, badlen, "no block device name for %u:%u", major(st.st_dev),
		         minor(st.st_dev));
		return r;
	}
	snprintf(path, sizeof(path), "/proc/fs/ext4/%s/options", name);
	n = fd_read_file_at(AT_FDCWD, path, text, sizeof(text));
	if (n < 0) {
		snprintf(bad, badlen, "reading %s", path);
		return (int)n;
	}
	r = mount_verify_ext4_text(text, fs, &item);
	if (r < 0)
		snprintf(bad, badlen, "%s", item);
	return r;
}
