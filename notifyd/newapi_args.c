/* SPDX-License-Identifier: MIT */
/* The new mount API's argument rules, as the kernel has them (newapi.h). */
#include "notifyd/newapi.h"
#include "notifyd/kernel_check.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>

/* The kernel's limit on a binary value (fs/fsopen.c). */
#define FSCONFIG_BIN_MAX (1024 * 1024)

int newapi_fsconfig_args(unsigned cmd, uint64_t key, uint64_t value, int aux)
{
	switch (cmd) {
	case FSCONFIG_SET_FLAG:
		return !key || value || aux ? -EINVAL : 0;
	case FSCONFIG_SET_STRING:
		return !key || !value || aux ? -EINVAL : 0;
	case FSCONFIG_SET_BINARY:
		return !key || !value || aux <= 0 || aux > FSCONFIG_BIN_MAX ? -EINVAL : 0;
	case FSCONFIG_SET_PATH:
	case FSCONFIG_SET_PATH_EMPTY:
		return !key || !value || (aux != AT_FDCWD && aux < 0) ? -EINVAL : 0;
	case FSCONFIG_SET_FD:
		return !key || value || aux < 0 ? -EINVAL : 0;
	case FSCONFIG_CMD_CREATE:
	case FSCONFIG_CMD_RECONFIGURE:
	case NEWAPI_CMD_CREATE_EXCL:
		return key || value || aux ? -EINVAL : 0;
	default:
		return -EOPNOTSUPP;
	}
}

unsigned long newapi_sb_flag(const char *key, bool *set)
{
	static const struct {
		const char *key;
		unsigned long flag;
		bool set;
	} flags[] = {
	    {"ro", MS_RDONLY, true},
	    {"rw", MS_RDONLY, false},
	    {"sync", MS_SYNCHRONOUS, true},
	    {"async", MS_SYNCHRONOUS, false},
	    {"dirsync", MS_DIRSYNC, true},
	    {"lazytime", MS_LAZYTIME, true},
	    {"nolazytime", MS_LAZYTIME, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strcmp(key, flags[i].key) == 0) {
			*set = flags[i].set;
			return flags[i].flag;
		}
	return 0;
}

bool newapi_addfd_supported(void)
{
	return kernel_check_addfd_send() == 1;
}
