#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lock probe for tests/integration/vfsd_locks.sh: one lock call per run.

  lockprobe.py try PATH posix|flock r|w      non-blocking: prints ok or the errno name
  lockprobe.py getlk PATH r|w                prints the conflicting lock's type: UNLCK, RDLCK, WRLCK
  lockprobe.py getlkpid PATH r|w             prints the conflicting lock's pid
  lockprobe.py hold PATH posix|flock r|w     blocking lock, prints "held", keeps it until killed
  lockprobe.py wait PATH posix|flock r|w [ALARM]
                                             blocking lock; prints "granted SECONDS", or with ALARM
                                             (seconds) "EINTR SECONDS" when the alarm signal ended
                                             the wait (the call returned: the back-end answered)
  lockprobe.py unlockw PATH posix|flock     write lock, then unlock the way programs do it
                                             (F_SETLKW with F_UNLCK, flock(LOCK_UN): a SETLKW
                                             in FUSE); prints ok, keeps the fd open until killed
  lockprobe.py twofds PATH                   POSIX close semantics: lock via one fd, close another fd
                                             of the same file, print "closed", stay until killed

POSIX locks are classic fcntl F_SETLK/F_SETLKW/F_GETLK (what a program on
the mount or on the host uses); flock is flock(2).
"""
import errno
import fcntl
import os
import signal
import struct
import sys
import time

TYPES = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK}
NAMES = {fcntl.F_RDLCK: "RDLCK", fcntl.F_WRLCK: "WRLCK", fcntl.F_UNLCK: "UNLCK"}
FLOCK = {"r": fcntl.LOCK_SH, "w": fcntl.LOCK_EX}


class Alarm(Exception):
    pass


def on_alarm(sig, frame):
    raise Alarm()


def open_for(path, t):
    return os.open(path, os.O_RDWR if t == "w" else os.O_RDONLY)


def lock(fd, kind, t, block):
    if kind == "flock":
        fcntl.flock(fd, FLOCK[t] | (0 if block else fcntl.LOCK_NB))
    else:
        # struct flock: short type, short whence, off_t start, off_t len, pid_t pid
        fl = struct.pack("hhqqi", TYPES[t], os.SEEK_SET, 0, 0, 0)
        fcntl.fcntl(fd, fcntl.F_SETLKW if block else fcntl.F_SETLK, fl)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "try":
        fd = open_for(path, sys.argv[4])
        try:
            lock(fd, sys.argv[3], sys.argv[4], False)
            print("ok")
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e.errno)))
    elif cmd in ("getlk", "getlkpid"):
        fd = open_for(path, sys.argv[3])
        fl = struct.pack("hhqqi", TYPES[sys.argv[3]], os.SEEK_SET, 0, 0, 0)
        out = fcntl.fcntl(fd, fcntl.F_GETLK, fl)
        t = struct.unpack("hhqqi", out)
        print(t[4] if cmd == "getlkpid" else NAMES.get(t[0], "?"))
    elif cmd == "hold":
        fd = open_for(path, sys.argv[4])
        lock(fd, sys.argv[3], sys.argv[4], True)
        print("held", flush=True)
        time.sleep(3600)
    elif cmd == "wait":
        fd = open_for(path, sys.argv[4])
        if len(sys.argv) > 5:
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, float(sys.argv[5]))
        t = time.monotonic()
        try:
            lock(fd, sys.argv[3], sys.argv[4], True)
            print("granted %.2f" % (time.monotonic() - t), flush=True)
        except Alarm:
            print("EINTR %.2f" % (time.monotonic() - t), flush=True)
    elif cmd == "unlockw":
        fd = open_for(path, "w")
        lock(fd, sys.argv[3], "w", False)
        if sys.argv[3] == "flock":
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            fcntl.fcntl(fd, fcntl.F_SETLKW, struct.pack("hhqqi", fcntl.F_UNLCK, os.SEEK_SET, 0, 0, 0))
        print("ok", flush=True)
        time.sleep(3600)
    elif cmd == "twofds":
        fd1 = os.open(path, os.O_RDWR)
        fd2 = os.open(path, os.O_RDWR)
        lock(fd1, "posix", "w", False)
        os.close(fd2)
        print("closed", flush=True)
        time.sleep(3600)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
