/* SPDX-License-Identifier: MIT */
/*
 * Seeing the filesystem the way the caller does.  A worker thread that has
 * done unshare(CLONE_FS) may setns() into a container's mount namespace and
 * chroot to the caller's root and cwd, so paths resolve exactly as they would
 * for the caller (symlinks, "..", relative paths), then return to the host's
 * namespace.  Only worker threads call these; the main loop never moves.
 */
#ifndef MV_VIEW_H
#define MV_VIEW_H

/* Once at start-up, before any thread exists: remember the host mount namespace. */
int view_init(void);
/* In each worker thread, once: give the thread its own root/cwd. */
int view_thread_init(void);
/* Enter the mount namespace of /proc/<tid> (procfd); with_root also takes its root and cwd. */
int view_enter(int procfd, int with_root);
/* Back to the host's namespace, root and cwd.  Aborts notifyd if it cannot: a thread
 * stuck in a container's view must never serve another request. */
void view_leave(void);
/*
 * Open path as the caller sees it (after view_enter with_root), never
 * following magic links.  oflags: O_PATH plus e.g. O_NOFOLLOW/O_DIRECTORY.
 */
int view_open(const char *path, int oflags);

#endif
