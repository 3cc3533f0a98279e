/* SPDX-License-Identifier: MIT */
/*
 * The one way the programs create a listening unix socket at a path
 * (notifyd's OCI, LXC and control sockets, vfsd's vhost-user socket).
 *
 * The rule for what is already at the path:
 *   - nothing: the socket is created there;
 *   - a socket nobody listens on (connect() is refused: a daemon that died
 *     without cleaning up): it is replaced, atomically;
 *   - a socket somebody listens on: -EADDRINUSE, left alone (a second
 *     daemon must not steal the first one's clients);
 *   - anything else (file, directory, symlink, even a symlink to a socket):
 *     -EEXIST, left alone.  The last component is never followed.
 * The socket gets its mode and owner before it appears at the path (it is
 * bound in a fresh 0700 directory beside the path and renamed into place),
 * so it is never reachable with a wider mode, whatever the umask; the umask
 * is not touched (other threads may be creating files).  Directories above
 * the path must exist; symlinks among them are followed as usual.
 */
#ifndef MV_UNIX_LISTENER_H
#define MV_UNIX_LISTENER_H

#include <stdbool.h>
#include <sys/types.h>

struct unix_listener_opts {
	int type;    /* SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM (bound, no listen()) */
	int flags;   /* more socket() flags (SOCK_NONBLOCK); SOCK_CLOEXEC is always set */
	mode_t mode; /* permission bits of the socket file, e.g. 0600 or 0660 */
	uid_t uid;   /* owner, or (uid_t)-1 to keep ours */
	gid_t gid;   /* group, or (gid_t)-1 to keep ours */
	int backlog;
};

/* Which file a listener created, so that only that one is removed later. */
struct unix_listener_id {
	dev_t dev;
	ino_t ino;
	bool set;
};

/*
 * unix_listener_open() - create a socket listening at path, by the rule above.
 * Returns the listening fd (close-on-exec) or -errno: -ENAMETOOLONG (path
 * does not fit sun_path), -EEXIST, -EADDRINUSE, or what a system call said.
 * *ret_id (may be NULL) names the socket file for unix_listener_remove().
 */
int unix_listener_open(const char *path, const struct unix_listener_opts *opts,
                       struct unix_listener_id *ret_id);
/*
 * unix_listener_remove() - unlink path if it is still the socket file id
 * names (a successor that replaced it keeps its own).  Returns 1 removed,
 * 0 not there or not ours, or -errno.
 */
int unix_listener_remove(const char *path, const struct unix_listener_id *id);

#endif
