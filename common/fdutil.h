/* SPDX-License-Identifier: MIT */
#ifndef MV_FDUTIL_H
#define MV_FDUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * recvmsg() with SCM_RIGHTS.  Up to *nfds descriptors are stored in fds[]
 * (CLOEXEC); *nfds is set to how many arrived.  Descriptors beyond the room
 * given, or in a truncated control message, are closed here so none leak.
 * Returns bytes read (0 at EOF) or -errno.  -EMSGSIZE if control data was cut.
 */
ssize_t fd_recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t *nfds, int flags);
/* sendmsg() of buf plus nfds descriptors; returns bytes sent or -errno. */
ssize_t fd_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/* Loops over short writes and EINTR. Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);
/*
 * Reads a whole small file (procfs, sysfs) relative to dirfd into buf,
 * NUL-terminated.  Returns the length or -errno; -EFBIG if it does not fit.
 */
ssize_t fd_read_file_at(int dirfd, const char *path, char *buf, size_t size);
int fd_set_nonblock(int fd, int on);
void fd_close_all(int *fds, size_t n);
/* Number of open descriptors of this process (counts /proc/self/fd). */
int fd_count_open(void);
/*
 * mkdir -p dir: missing parents are made 0755, dir itself with mode (an
 * existing one is left as it is).  0 or -errno.
 */
int fd_mkdir_p(const char *dir, mode_t mode);

#endif
