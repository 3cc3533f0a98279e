/* SPDX-License-Identifier: MIT */
/*
 * notifyd --keeper: a small process that plays systemd's part for one
 * notifyd on hosts without systemd.  It holds the fds notifyd stores with
 * the sd_notify protocol (FDSTORE=1) and hands them to every notifyd it
 * starts (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), restarting notifyd
 * whenever it dies.  See notifyd(8), section THE KEEPER.
 */
#ifndef MV_KEEPER_H
#define MV_KEEPER_H

#include <stdbool.h>

/* keeper_requested() - is --keeper among notifyd's options? */
bool keeper_requested(int argc, char **argv);
/* keeper_main() - run the keeper; returns the process exit status. */
int keeper_main(int argc, char **argv);

#endif
