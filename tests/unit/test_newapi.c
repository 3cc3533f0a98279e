/* SPDX-License-Identifier: MIT */
/*
 * The new mount API's argument rules (notifyd/newapi_args.c): fsconfig's
 * checks of (cmd, key, value, aux) in the kernel's order and errnos, the
 * superblock-flag keys, and the SECCOMP_ADDFD_FLAG_SEND probe.
 */
#include "notifyd/newapi.h"
#include "notifyd/kernel_check.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>

#define P 0x1000 /* any non-NULL user pointer */

int main(void)
{
	bool set = false;

	/* SET_FLAG: key, no value, no aux. */
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FLAG, P, 0, 0) == 0, "SET_FLAG key");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FLAG, 0, 0, 0) == -EINVAL, "SET_FLAG without key");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FLAG, P, P, 0) == -EINVAL, "SET_FLAG with value");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FLAG, P, 0, 1) == -EINVAL, "SET_FLAG with aux");
	/* SET_STRING: key and value. */
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_STRING, P, P, 0) == 0, "SET_STRING key value");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_STRING, P, 0, 0) == -EINVAL,
	      "SET_STRING without value");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_STRING, P, P, 3) == -EINVAL, "SET_STRING with aux");
	/* SET_BINARY: 1 .. 1 MiB. */
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_BINARY, P, P, 1) == 0, "SET_BINARY 1 byte");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_BINARY, P, P, 1024 * 1024) == 0,
	      "SET_BINARY 1 MiB");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_BINARY, P, P, 1024 * 1024 + 1) == -EINVAL,
	      "SET_BINARY 1 MiB + 1");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_BINARY, P, P, 0) == -EINVAL, "SET_BINARY 0 bytes");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_BINARY, P, P, -5) == -EINVAL,
	      "SET_BINARY negative size");
	/* SET_PATH(_EMPTY): AT_FDCWD or a non-negative dirfd. */
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_PATH, P, P, AT_FDCWD) == 0, "SET_PATH AT_FDCWD");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_PATH_EMPTY, P, P, 3) == 0, "SET_PATH_EMPTY fd 3");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_PATH, P, P, -2) == -EINVAL, "SET_PATH fd -2");
	/* SET_FD: no value, aux the fd. */
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FD, P, 0, 4) == 0, "SET_FD fd 4");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FD, P, P, 4) == -EINVAL, "SET_FD with value");
	CHECK(newapi_fsconfig_args(FSCONFIG_SET_FD, P, 0, -1) == -EINVAL, "SET_FD fd -1");
	/* Commands: nothing else. */
	CHECK(newapi_fsconfig_args(FSCONFIG_CMD_CREATE, 0, 0, 0) == 0, "CMD_CREATE");
	CHECK(newapi_fsconfig_args(NEWAPI_CMD_CREATE_EXCL, 0, 0, 0) == 0, "CMD_CREATE_EXCL");
	CHECK(newapi_fsconfig_args(FSCONFIG_CMD_CREATE, P, 0, 0) == -EINVAL, "CMD_CREATE with key");
	CHECK(newapi_fsconfig_args(FSCONFIG_CMD_RECONFIGURE, 0, 0, 1) == -EINVAL,
	      "CMD_RECONFIGURE with aux");
	CHECK(newapi_fsconfig_args(9, 0, 0, 0) == -EOPNOTSUPP, "unknown command 9: EOPNOTSUPP");
	CHECK(newapi_fsconfig_args(0xdead, P, P, 0) == -EOPNOTSUPP, "unknown command 0xdead");

	/* Superblock flags: what mount(2) passes as MS_* flags. */
	CHECK(newapi_sb_flag("ro", &set) == MS_RDONLY && set, "ro sets MS_RDONLY");
	CHECK(newapi_sb_flag("rw", &set) == MS_RDONLY && !set, "rw clears MS_RDONLY");
	CHECK(newapi_sb_flag("sync", &set) == MS_SYNCHRONOUS && set, "sync");
	CHECK(newapi_sb_flag("async", &set) == MS_SYNCHRONOUS && !set, "async");
	CHECK(newapi_sb_flag("dirsync", &set) == MS_DIRSYNC && set, "dirsync");
	CHECK(newapi_sb_flag("lazytime", &set) == MS_LAZYTIME && set, "lazytime");
	CHECK(newapi_sb_flag("nolazytime", &set) == MS_LAZYTIME && !set, "nolazytime");
	CHECK(newapi_sb_flag("noatime", &set) == 0, "noatime is an option (mount attribute)");
	CHECK(newapi_sb_flag("errors", &set) == 0, "errors is an option");
	CHECK(newapi_sb_flag("", &set) == 0, "empty key is an option");

	/* The probe (5.14+; this project's kernels have it), asked twice: remembered. */
	struct utsname u;
	int a = kernel_check_addfd_send();
	CHECK(a == 0 || a == 1, "addfd probe answers 0 or 1 (%d)", a);
	CHECK(kernel_check_addfd_send() == a, "addfd probe remembered");
	if (uname(&u) == 0 && strncmp(u.release, "6.", 2) == 0)
		CHECK(a == 1 && newapi_addfd_supported(), "Linux %s has SECCOMP_ADDFD_FLAG_SEND",
		      u.release);
	TAP_EXIT();
}
