/* SPDX-License-Identifier: MIT */
#ifndef FUZZ_FIXTURE_H
#define FUZZ_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The world a fuzz target's vfsd serves, built once per process:
 *
 *   BASE/                     a private tmpfs (own mount namespace) when we
 *                             may mount, else a directory under $TMPDIR
 *   BASE/share/               the only directory vfsd serves
 *   BASE/share/{file,empty,dir/,dir/sub/,dir/inner,link,dirlink,fifo,big}
 *   BASE/share/{escape,escape_abs,escape_dir,dotdot}
 *                             symlinks that point out of the share
 *   BASE/CANARY-<random>/secret   content and xattr carry the marker
 *   BASE/out -> CANARY-<random>   what the escape links point through
 *
 * The marker ("CANARY-" and 24 random hex digits) appears nowhere inside the
 * share, not even in a symlink target, so a reply that carries it came from
 * outside: the name of BASE's entry (READDIR of BASE) or the secret's data or
 * xattr.  fuzz_canary_scan() lives in canary.c, which is compiled without
 * coverage instrumentation so libFuzzer never learns the marker from the
 * comparisons (it would otherwise write it into a file of the share and read
 * it back).
 */

struct fuzz_fixture {
	char base[256];
	char share[300];
	int share_fd;            /* O_PATH of the share */
	int diag_fd;             /* stderr as it was at start (libFuzzer may close fd 2) */
	uint64_t outside_ino[4]; /* BASE, the canary dir, secret, BASE/out */
};

extern struct fuzz_fixture fuzz_fx;

/* Builds the world above; exits the process with a message on failure. */
void fuzz_fixture_init(void);
/*
 * Empties the share and builds its contents again (after requests that
 * may have changed it), so every input starts from the same tree.
 */
void fuzz_fixture_rebuild(void);
/* Traps if anything outside the share was changed (names, data, links). */
void fuzz_fixture_check_outside(void);
/* Is ino one of the inodes outside the share? */
bool fuzz_fixture_is_outside(uint64_t ino);
/*
 * Traps if more fds are open than after set-up: what an input opened (vfsd's
 * inode and handle fds, guest memory, eventfds, sockets) must be closed once
 * the guest or front-end went away.  The first call takes the baseline.
 */
void fuzz_fixture_check_fds(void);
/*
 * Traps if the process holds a real (not O_PATH) fd of anything but a
 * regular file or a directory on the share's file system that it did not
 * hold after set-up: no guest
 * request may open a FIFO, socket or device.  (Devices cannot be opened on
 * the nodev tmpfs at all; FIFOs and sockets can.)  Call while vfsd still holds
 * the input's handles.
 */
void fuzz_fixture_check_open_kinds(void);
/* Writes a diagnostic line to the saved stderr, then traps. */
void fuzz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* canary.c (not instrumented): the marker and the scan. */
void fuzz_canary_set(const char *marker, size_t len);
/* Offset of the marker in buf, or -1. */
long fuzz_canary_scan(const void *buf, size_t len);

#endif
