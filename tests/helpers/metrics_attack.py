#!/usr/bin/python3
"""Hostile clients against notifyd's metrics listener (notifyd_metrics_hostile.sh).

    metrics_attack.py unix:PATH|HOST:PORT SECONDS [CONNECTIONS]

Keeps about CONNECTIONS (default 1000) connections open for SECONDS, each
one of: slowloris (a request header one byte every half second, never
finished), idle (connects, says nothing), garbage (random bytes), a huge
request line (1 MiB), a header flood (thousands of headers).  A connection
the server closes is opened again.  Prints one line of counts at the end:
    opened=N refused=N closed_by_server=N answers=N max_open=N
Standard library only.
"""
import errno
import os
import random
import resource
import selectors
import socket
import sys
import time


def connect(spec):
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = spec[5:]
    else:
        host, port = spec.rsplit(":", 1)
        host = host.strip("[]")
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(port))
    s.setblocking(False)
    try:
        s.connect(addr)
    except BlockingIOError:
        pass
    return s


KINDS = ["slowloris"] * 4 + ["idle"] * 2 + ["garbage"] * 2 + ["huge"] + ["flood"]


def payload(kind):
    if kind == "garbage":
        return os.urandom(4096)
    if kind == "huge":
        return b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n"
    if kind == "flood":
        return b"GET /metrics HTTP/1.1\r\n" + b"".join(
            b"X-H%d: %s\r\n" % (i, b"v" * 64) for i in range(4000))
    if kind == "slowloris":
        return b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
    return b""


def main():
    spec, secs = sys.argv[1], float(sys.argv[2])
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, want + 256)), hard))
    sel = selectors.DefaultSelector()
    conns = {}
    stats = dict(opened=0, refused=0, closed_by_server=0, answers=0, max_open=0)
    end = time.monotonic() + secs
    rnd = random.Random(19)

    def close(s):
        sel.unregister(s)
        conns.pop(s, None)
        s.close()

    while time.monotonic() < end:
        while len(conns) < want:
            try:
                s = connect(spec)
            except OSError:
                stats["refused"] += 1
                break
            kind = rnd.choice(KINDS)
            conns[s] = {"kind": kind, "out": payload(kind), "next": 0.0}
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            stats["opened"] += 1
        stats["max_open"] = max(stats["max_open"], len(conns))
        now = time.monotonic()
        for key, ev in sel.select(timeout=0.1):
            s, c = key.fileobj, conns.get(key.fileobj)
            if c is None:
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    stats["closed_by_server"] += 1
                    close(s)
                    continue
                if data.startswith(b"HTTP/"):
                    stats["answers"] += 1
            if ev & selectors.EVENT_WRITE:
                if c["out"]:
                    try:
                        n = s.send(c["out"][:65536])
                        c["out"] = c["out"][n:]
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        stats["refused" if e.errno == errno.ECONNREFUSED else "closed_by_server"] += 1
                        close(s)
                        continue
                if not c["out"]:
                    sel.modify(s, selectors.EVENT_READ)
        # Slowloris: one more header byte every half second.
        for s, c in list(conns.items()):
            if c["kind"] == "slowloris" and now >= c["next"]:
                c["next"] = now + 0.5
                try:
                    s.send(b"x")
                except OSError:
                    pass
        if stats["refused"] and len(conns) < want:
            time.sleep(0.01)
    print(" ".join("%s=%d" % kv for kv in stats.items()))
    for s in list(conns):
        close(s)


main()
