/* SPDX-License-Identifier: MIT */
/*
 * The control socket notifyctl talks to: one text command per connection
 * ("list", "mounts", "stats", "ping"), one text answer, then close.  The
 * socket is 0600: only root may ask.
 */
#ifndef MV_CONTROL_H
#define MV_CONTROL_H

#include <sys/types.h>

struct control_info {
	const char *profiles_dir;
	const char *features;
	pid_t pid;         /* the serving notifyd (`stats`: pid:) */
	unsigned restarts; /* starts within the fd store's life, minus one (`restarts:`) */
};

/* Serve one accepted connection (blocking, with a short timeout). */
void control_serve(int fd, const struct control_info *info);
/* The same on a detached thread of its own, which closes fd; info must outlive it. */
void control_serve_async(int fd, const struct control_info *info);

#endif
