/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_options.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* data after the profile's forced options, joined with commas. */
static const char *forced_result(const char *data, const char *const *forced)
{
	static char buf[512];
	struct mount_opts o;
	size_t len = 0;

	buf[0] = '\0';
	if (mount_opts_split(data, &o) < 0)
		return "ENOMEM";
	for (; *forced; forced++)
		if (mount_opts_add(&o, *forced) < 0)
			snprintf(buf, sizeof(buf), "ENOMEM");
	for (size_t i = 0; i < o.n && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "," : "", o.v[i]);
	mount_opts_free(&o);
	return buf;
}

#define FORCED(data, want, ...)                                                                    \
	do {                                                                                       \
		const char *got_ = forced_result(data, (const char *const[]){__VA_ARGS__, NULL});  \
		CHECK(strcmp(got_, want) == 0, "forced %s over \"%s\" gives \"%s\" (got \"%s\")",  \
		      #__VA_ARGS__, data, want, got_);                                             \
	} while (0)

/* Issue 13 item 4: a forced option is never undone by the caller's data. */
static void test_forced(void)
{
	FORCED("errors=panic,errors=panic", "errors=remount-ro", "errors=remount-ro");
	FORCED("errors=panic,noatime,errors=continue,errors=panic", "noatime,errors=remount-ro",
	       "errors=remount-ro");
	FORCED("errors=remount-ro,errors=panic", "errors=remount-ro", "errors=remount-ro");
	FORCED("errors", "errors=remount-ro", "errors=remount-ro");
	FORCED("rw,ro,rw", "ro", "ro");
	FORCED("ro", "rw", "rw");
	FORCED("nouser_xattr,user_xattr", "nouser_xattr", "nouser_xattr");
	FORCED("user_xattr", "nouser_xattr", "nouser_xattr");
	FORCED("no_mbcache", "mbcache", "mbcache");
	FORCED("acl,posixacl", "noacl", "noacl");
	FORCED("dax,dax=always,nodax", "dax=never", "dax=never");
	FORCED("nobarrier,barrier=0", "barrier=1", "barrier=1");
	FORCED("noload", "norecovery", "norecovery");
	FORCED("norecovery,load", "noload", "noload");
	FORCED("bsdgroups,grpid", "nogrpid", "nogrpid");
	FORCED("sysvgroups", "grpid", "grpid");
	FORCED("usrjquota=/q,jqfmt=vfsv0,grpquota,quota,commit=5", "commit=5,noquota", "noquota");
	FORCED("journal_async_commit", "nojournal_checksum", "nojournal_checksum");
	FORCED("compress-force=zstd,compress=lzo", "compress=zstd", "compress=zstd");
	FORCED("subvolid=5", "subvol=/x", "subvol=/x");
	FORCED("async,sync", "sync", "sync");
	FORCED("suid,dev,exec", "nosuid,nodev,noexec", "nosuid", "nodev", "noexec");
	FORCED("nonsense,data=journal,data=writeback", "nonsense,data=ordered", "data=ordered");
	FORCED("errors=panic", "errors=remount-ro,ro", "errors=remount-ro", "ro");
	/* Only the same setting goes: look-alike keys stay. */
	FORCED("data_err=abort,fatal_errors=bug,node=1",
	       "data_err=abort,fatal_errors=bug,node=1,data=ordered,errors=continue",
	       "data=ordered", "errors=continue");
	FORCED("", "ro", "ro");
	CHECK(mount_opts_same_setting("nodiscard", "discard=async") &&
	          !mount_opts_same_setting("discard", "dax") && !mount_opts_same_setting("no", "o"),
	      "same setting: negations and values, not other keys");
}

/* Options no shipped profile may let reach a kernel mount. */
static const char *const host_danger[] = {
    "errors=panic", /* a corrupt image panics the host */
    "journal_path=/dev/vda",
    "journal_dev=0x800", /* opens a host block device */
    "usrjquota=/q",
    "grpjquota=/q",
    "jqfmt=vfsv0", /* quota files by path */
    "dax",
    "dax=always",    /* direct access to the device's memory */
    "init_itable=0", /* zeroes inode tables at full speed in a host thread */
    "debug",
    "abort",
    "test_dummy_encryption",
    "fc_debug_force",
    "debug_want_extra_isize=512",
    "noload",
    "norecovery",
    "nobarrier",
    "barrier=0", /* inconsistent metadata */
    "device=/dev/vda",
    "logdev=/dev/vda",
    "rtdev=/dev/vda", /* other host devices */
    "fatal_errors=panic",
    "enospc_debug",
    "ref_verify",
    "check_int",
    "user_subvol_rm_allowed",
    "thread_pool=100000",
    "degraded",
    "rescue=all",
    "sb=1025",
    NULL,
};

/* Every shipped profile, every section, every action: errors=panic never reaches a
 * file system; kernel sections refuse (or override) each host-danger option. */
static void test_shipped(void)
{
	const char *src = getenv("MV_SRC");
	char path[512], err[512];
	struct profile_set *set = NULL;
	unsigned checked = 0, bad = 0;

	snprintf(path, sizeof(path), "%s/profiles", src ? src : ".");
	CHECK(profile_set_load_dir(path, &set, err, sizeof(err)) == 0 && set && set->n >= 3,
	      "shipped profiles load (%s)", err);
	for (size_t pi = 0; set && pi < set->n; pi++) {
		const struct profile *p = set->v[pi];
		for (size_t fi = 0; fi < p->n_fs; fi++) {
			const struct profile_fs *fs = &p->fs[fi];
			if (fs->action != PROFILE_ACTION_KERNEL &&
			    fs->action != PROFILE_ACTION_FUSE)
				continue; /* deny; continue: the kernel checks the caller's own
				             rights */
			for (const char *const *d = host_danger; *d; d++) {
				const char *bad_opt = NULL;
				char data[256];
				struct mount_opts o;
				bool reached = false;

				if (fs->action == PROFILE_ACTION_FUSE && strncmp(*d, "errors=", 7))
					continue; /* fuse programs run as the container: only
					             errors=panic */
				/* Twice, the way item 4 was found, and once alone. */
				for (int twice = 0; twice < 2; twice++) {
					snprintf(data, sizeof(data), twice ? "%s,%s" : "%s", *d,
					         *d);
					if (mount_opts_split(data, &o) < 0)
						continue;
					if (mount_opts_check(&o, fs, &bad_opt) == 0) {
						for (size_t i = 0; fs->options[i]; i++)
							mount_opts_add(&o, fs->options[i]);
						for (size_t i = 0; i < o.n; i++)
							reached |= !strcmp(o.v[i], *d);
					}
					mount_opts_free(&o);
				}
				checked++;
				if (reached && bad++ < 10)
					printf("# %s [fs %s] lets '%s' through\n", p->name,
					       fs->type, *d);
			}
		}
	}
	CHECK(checked > 0 && bad == 0,
	      "no shipped profile lets errors=panic, a host path or device, dax, debug or "
	      "journal-skipping options reach a mount (%u checks, %u let through)",
	      checked, bad);
	profile_set_free(set);
}

/* Split, then check against fs: 0, or -EINVAL with the refused item in bad (copied). */
static int split_check(const char *data, const struct profile_fs *fs, char *bad, size_t size,
                       size_t *n)
{
	struct mount_opts o;
	const char *b = NULL;
	int r = mount_opts_split(data, &o);

	bad[0] = '\0';
	*n = o.n;
	if (r == 0) {
		r = mount_opts_check(&o, fs, &b);
		if (b)
			snprintf(bad, size, "%s", b);
	}
	mount_opts_free(&o);
	return r;
}

/*
 * Hostile data strings (issue 15): libmount splits them now; every one is
 * refused or handled exactly as the kernel's own comma split would.
 */
static void test_hostile(const struct profile_fs *fs)
{
	char bad[8192], data[8192];
	struct mount_opts o;
	size_t n;

	/* Quotes group commas for libmount, not for the kernel or libfuse. */
	CHECK(split_check("noatime,errors=\"continue,dax\"", fs, bad, sizeof(bad), &n) == -EINVAL &&
	          !strcmp(bad, "errors=\"continue,dax\""),
	      "a quoted value with a comma inside is refused whole (%s)", bad);
	CHECK(split_check("errors=\"continue\"", fs, bad, sizeof(bad), &n) == -EINVAL,
	      "a quoted value without a comma is refused too");
	CHECK(split_check("noatime,errors=\"x,dax", fs, bad, sizeof(bad), &n) == -EINVAL &&
	          !strcmp(bad, "errors=\"x,dax"),
	      "an unterminated quote is not dropped unseen: the rest is refused (%s)", bad);
	CHECK(split_check("\"", fs, bad, sizeof(bad), &n) == -EINVAL && n == 1,
	      "a lone quote is refused");
	CHECK(split_check("noatime,\"errors=continue,dax\",errors=continue", fs, bad, sizeof(bad),
	                  &n) == -EINVAL,
	      "a quoted group hiding a refused option between allowed ones is refused");
	/* Empty items, as the kernel: skipped. */
	CHECK(split_check(",,noatime,,errors=continue,", fs, bad, sizeof(bad), &n) == 0 && n == 2,
	      "empty items are skipped (%zu items)", n);
	CHECK(split_check(",", fs, bad, sizeof(bad), &n) == 0 && n == 0 &&
	          split_check("", fs, bad, sizeof(bad), &n) == 0 && n == 0,
	      "only commas, or nothing, give no options");
	/* "=" without a key: the kernel skips it, libfuse would not. */
	CHECK(split_check("=x", fs, bad, sizeof(bad), &n) == -EINVAL && !strcmp(bad, "=x"),
	      "an item with a value but no key is refused");
	CHECK(split_check("noatime,=", fs, bad, sizeof(bad), &n) == -EINVAL && !strcmp(bad, "="),
	      "a bare '=' is refused");
	CHECK(split_check("noatime,=errors", fs, bad, sizeof(bad), &n) == -EINVAL,
	      "'=key' does not pass for the allowed key");
	CHECK(split_check("errors==panic", fs, bad, sizeof(bad), &n) == 0 && n == 1,
	      "'key==v' is key 'errors', value '=panic' (the kernel's reading; its own parser "
	      "refuses the value)");
	/* Very long items. */
	memset(data, 'k', 5000);
	data[5000] = '\0';
	CHECK(split_check(data, fs, bad, sizeof(bad), &n) == -EINVAL && n == 1 &&
	          strlen(bad) == 5000,
	      "a 5000-byte key is one item, refused");
	memcpy(data, "errors=", 7);
	CHECK(split_check(data, fs, bad, sizeof(bad), &n) == 0 && n == 1,
	      "a 5000-byte value of an allowed key stays one item");
	CHECK(mount_opts_same_setting(data, "errors=continue"),
	      "a long value does not hide its key from the forced-option match");
	memset(data, 'k', 300);
	data[300] = '\0';
	CHECK(!mount_opts_same_setting(data, "k") && mount_opts_same_setting(data, data),
	      "a key longer than the setting buffers is compared whole");
	/* NUL: mount(2)'s data is a C string for the comma parser; so is ours. */
	CHECK(split_check("noatime\0errors=panic", fs, bad, sizeof(bad), &n) == 0 && n == 1,
	      "nothing after a NUL is an option");
	/* Spaces and newlines are part of the key, as for the kernel. */
	CHECK(split_check(" noatime", fs, bad, sizeof(bad), &n) == -EINVAL &&
	          !strcmp(bad, " noatime"),
	      "a key with a leading space is not the allowed key");
	CHECK(split_check("noatime\nerrors=panic", fs, bad, sizeof(bad), &n) == -EINVAL,
	      "a newline does not separate options");
	/* A comma can only be inside an item by a quoted group; refused either way. */
	{
		char *items[] = {"errors=continue,dax", NULL};
		struct mount_opts raw = {.v = items, .n = 1};
		const char *b = NULL;
		CHECK(mount_opts_check(&raw, fs, &b) == -EINVAL,
		      "an item holding a comma is refused");
	}
	/* Joining (the FUSE -o string) gives back what was split. */
	{
		char *s = NULL;
		CHECK(mount_opts_split("a,b=c,,d", &o) == 0 && mount_opts_add(&o, "e=f") == 0 &&
		          mount_opts_join(&o, &s) == 0 && !strcmp(s, "a,b=c,d,e=f"),
		      "join gives the options in order (%s)", s ? s : "");
		free(s);
		mount_opts_free(&o);
		s = NULL;
		CHECK(mount_opts_split("", &o) == 0 && mount_opts_join(&o, &s) == 0 && s &&
		          !strcmp(s, ""),
		      "join of no options is the empty string");
		free(s);
		mount_opts_free(&o);
	}
}

int main(void)
{
	struct mount_opts o;
	struct mount_flags f;
	char *allowed[] = {"errors", "noatime", "data=ordered", NULL};
	char *forced[] = {"errors=remount-ro", NULL};
	struct profile_fs fs = {.type = "ext4", .options = forced, .allowed_options = allowed};
	const char *bad = NULL;
	char buf[128];

	CHECK(mount_opts_split("a,b=c,,d", &o) == 0 && o.n == 3, "split skips empty items");
	CHECK(strcmp(o.v[0], "a") == 0 && strcmp(o.v[1], "b=c") == 0 && strcmp(o.v[2], "d") == 0 &&
	          o.v[3] == NULL,
	      "split keeps key=value and terminates with NULL");
	CHECK(mount_opts_add(&o, "b=other") == 0 && o.n == 3 && strcmp(o.v[2], "b=other") == 0 &&
	          strcmp(o.v[0], "a") == 0 && strcmp(o.v[1], "d") == 0,
	      "add drops the key already there and appends the forced value last");
	CHECK(mount_opts_add(&o, "e") == 0 && o.n == 4 && strcmp(o.v[3], "e") == 0,
	      "add appends new key");
	mount_opts_free(&o);

	test_forced();
	test_shipped();
	test_hostile(&fs);

	CHECK(mount_opts_split(NULL, &o) == 0 && o.n == 0, "NULL data gives no options");
	mount_opts_free(&o);

	mount_opts_split("errors=continue,noatime", &o);
	CHECK(mount_opts_check(&o, &fs, &bad) == 0, "allowed keys pass");
	mount_opts_free(&o);
	mount_opts_split("noatime,dax", &o);
	CHECK(mount_opts_check(&o, &fs, &bad) == -EINVAL && strcmp(bad, "dax") == 0,
	      "a key not in allowed-options is refused and named");
	mount_opts_free(&o);
	mount_opts_split("data=journal", &o);
	CHECK(mount_opts_check(&o, &fs, &bad) == -EINVAL,
	      "an exact-value entry refuses other values");
	mount_opts_free(&o);
	mount_opts_split("data=ordered", &o);
	CHECK(mount_opts_check(&o, &fs, &bad) == 0, "an exact-value entry allows its value");
	mount_opts_free(&o);
	{
		char *dev_allowed[] = {"journal_path", "journal_dev", "logdev", "rtdev",
		                       "device",       "noatime",     NULL};
		struct profile_fs dfs = {
		    .type = "ext4", .options = forced, .allowed_options = dev_allowed};
		const char *const naming[] = {"journal_path=/dev/sda", "journal_dev=2049",
		                              "logdev=/dev/loop0", "rtdev=/dev/loop1",
		                              "device=/dev/loop2"};
		for (size_t i = 0; i < sizeof(naming) / sizeof(naming[0]); i++) {
			mount_opts_split(naming[i], &o);
			CHECK(mount_opts_check(&o, &dfs, &bad) == -EINVAL &&
			          strcmp(bad, naming[i]) == 0,
			      "an option naming another device is refused even when allowed");
			mount_opts_free(&o);
		}
		mount_opts_split("noatime", &o);
		CHECK(mount_opts_check(&o, &dfs, &bad) == 0,
		      "... other allowed options still pass");
		mount_opts_free(&o);
	}
	mount_opts_split("noatime,errors=x\\", &o);
	CHECK(mount_opts_check(&o, &fs, &bad) == -EINVAL && strcmp(bad, "errors=x\\") == 0,
	      "a backslash (it would escape the comma before a forced option for libfuse) is "
	      "refused");
	mount_opts_free(&o);

	CHECK(mount_flags_translate(0, &f) == 0 &&
	          f.attr == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_RELATIME) &&
	          !f.sb_ro,
	      "nosuid,nodev are forced, relatime is the default");
	CHECK(mount_flags_translate(MS_RDONLY | MS_NOEXEC | MS_NOATIME, &f) == 0 && f.sb_ro &&
	          (f.attr & MOUNT_ATTR_RDONLY) && (f.attr & MOUNT_ATTR_NOEXEC) &&
	          (f.attr & MOUNT_ATTR__ATIME) == MOUNT_ATTR_NOATIME,
	      "ro, noexec and noatime translate");
	CHECK(mount_flags_translate(MS_MGC_VAL | MS_RDONLY, &f) == 0 && f.sb_ro,
	      "the old magic number is stripped");
	CHECK(mount_flags_translate(MS_BIND, &f) == -EINVAL, "bind is not a new mount");
	CHECK(mount_flags_translate(MS_MANDLOCK, &f) == -EINVAL, "mandatory locking is refused");
	mount_flags_format(MS_RDONLY | MS_NOSUID | (1UL << 30), buf, sizeof(buf));
	CHECK(strcmp(buf, "ro,nosuid,0x40000000") == 0, "flags format for logs (%s)", buf);
	mount_flags_format(0, buf, sizeof(buf));
	CHECK(strcmp(buf, "none") == 0, "no flags format as none");
	TAP_EXIT();
}
