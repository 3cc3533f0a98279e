/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_options.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

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
	CHECK(mount_opts_add(&o, "b=other") == 0 && o.n == 3 && strcmp(o.v[1], "b=other") == 0,
	      "add replaces the value of a key already there (forced options win)");
	CHECK(mount_opts_add(&o, "e") == 0 && o.n == 4 && strcmp(o.v[3], "e") == 0,
	      "add appends new key");
	mount_opts_free(&o);

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
