#!/usr/bin/python3
"""A stand-in for notifyd under systemd (tests/integration/notifyd_systemd.sh).

It speaks the service side of the sd_notify protocol the way notifyd does,
so the booted-systemd harness and systemd 252's fd-store rules can be checked
without notifyd:

  * takes its sockets from LISTEN_FDS/LISTEN_FDNAMES (names oci, control, ...);
  * at its first start creates a memfd "memo" and pushes it to the store
    (FDSTORE=1, FDNAME=memo); every start appends one line to it, so the
    memo counts the starts within one store's life;
  * READY=1 once set up, WATCHDOG=1 at half of WATCHDOG_USEC;
  * SIGUSR2: re-executes itself in place (same pid) handing every named fd on
    with LISTEN_FDS, as notifyd's upgrade does;
  * each connection to its "oci" socket is answered with one line:
    "pid=P starts=N fds=NAME,NAME..." and closed.

The test runs it with python3 from the host's /usr; it uses no libsystemd.
"""
import fcntl
import os
import signal
import socket
import sys
import threading

SD_LISTEN_FDS_START = 3


def sd_notify(msg, fds=()):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        if fds:
            socket.send_fds(s, [msg.encode()], list(fds))
        else:
            s.send(msg.encode())


def listen_fds():
    """Named fds handed over, as sd_listen_fds_with_names() returns them."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return {}
    n = int(os.environ.get("LISTEN_FDS", "0"))
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    fds = {}
    for i in range(n):
        name = names[i] if i < len(names) and names[i] else "unknown"
        fds.setdefault(name, []).append(SD_LISTEN_FDS_START + i)
    for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(k, None)
    return fds


def main():
    fds = listen_fds()
    if "memo" in fds:
        memo = fds["memo"][0]
    else:
        memo = os.memfd_create("memo", 0)
        sd_notify("FDSTORE=1\nFDNAME=memo", [memo])
        fds["memo"] = [memo]
    os.lseek(memo, 0, os.SEEK_END)
    os.write(memo, b"start %d\n" % os.getpid())
    starts = os.pread(memo, 65536, 0).count(b"\n")

    oci = fds.get("oci", [None])[0]
    if oci is None:
        print("sd_standin: no socket named oci handed over", file=sys.stderr)
        return 1
    srv = socket.socket(fileno=oci)

    def upgrade(signum, frame):
        # Same pid, same fds: what notifyd's SIGUSR2 does.
        order = []
        for name, lst in fds.items():
            order += [(name, fd) for fd in lst]
        # Move them to 3..3+n-1 through copies above that range, so that no
        # dup2 overwrites an fd still to be moved.
        tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for _, fd in order]
        for i, t in enumerate(tmp):
            os.dup2(t, SD_LISTEN_FDS_START + i, inheritable=True)
            os.close(t)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = str(len(order))
        os.environ["LISTEN_FDNAMES"] = ":".join(n for n, _ in order)
        os.execv(sys.executable, [sys.executable] + sys.argv)

    signal.signal(signal.SIGUSR2, upgrade)

    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    if usec and os.environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid()):
        def ping():
            while True:
                sd_notify("WATCHDOG=1")
                threading.Event().wait(usec / 2e6)
        threading.Thread(target=ping, daemon=True).start()

    sd_notify("READY=1\nSTATUS=stand-in serving")
    names = ",".join(sorted(fds))
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b"pid=%d starts=%d fds=%s\n" % (os.getpid(), starts, names.encode()))


if __name__ == "__main__":
    sys.exit(main())
