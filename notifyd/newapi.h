/* SPDX-License-Identifier: MIT */
/*
 * The new mount API's handlers (newapi_request.c) and the pure pieces of
 * argument decoding they share with the unit tests (newapi_args.c).
 */
#ifndef MV_NEWAPI_H
#define MV_NEWAPI_H

#include <stdbool.h>
#include <stdint.h>

/* FSCONFIG_CMD_CREATE_EXCL (6.6): glibc's <sys/mount.h> enum lacks it. */
#define NEWAPI_CMD_CREATE_EXCL 8

/*
 * fsconfig(2)'s own checks of (cmd, key, value, aux) before it looks at the
 * fd (fs/fsopen.c): 0, -EINVAL, or -EOPNOTSUPP for an unknown cmd.
 */
int newapi_fsconfig_args(unsigned cmd, uint64_t key, uint64_t value, int aux);
/*
 * The superblock flag a FSCONFIG_SET_FLAG key sets or clears (MS_RDONLY for
 * "ro" and "rw", ...), with *set telling which; 0 for an ordinary option.
 */
unsigned long newapi_sb_flag(const char *key, bool *set);
/* SECCOMP_ADDFD_FLAG_SEND works here (kernel_check_addfd_send()). */
bool newapi_addfd_supported(void);

#endif
