#!/usr/bin/env python3
"""Writes the seed corpora of the vfsd fuzz targets (tests/fuzz/README.md).

    tests/fuzz/gen_corpus.py [OUTDIR]      default: tests/fuzz/corpus

fuzz_fuse: one file per theme, together reaching every FUSE opcode vfsd
implements (and a few it does not).  fuzz_vhost_user: a QEMU-like handshake
that maps guest memory, lays a ring with FUSE requests in it and kicks the
queue, plus memory-slot, reset and malformed-message variants.  The record
formats are described at the top of fuzz_fuse.c and fuzz_vhost_user.c.
"""
import os
import struct
import sys

# FUSE opcodes (linux/fuse.h)
LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK = 1, 2, 3, 4, 5, 6
MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ, WRITE = 8, 9, 10, 11, 12, 13, 14, 15, 16
STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR = 17, 18, 20, 21, 22, 23, 24
FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR = 25, 26, 27, 28, 29, 30
GETLK, SETLK, SETLKW, ACCESS, CREATE, INTERRUPT, BMAP, DESTROY, IOCTL = 31, 32, 33, 34, 35, 36, 37, 38, 39
BATCH_FORGET, FALLOCATE, READDIRPLUS, RENAME2, LSEEK, COPY_FILE_RANGE = 42, 43, 44, 45, 46, 47
SYNCFS, TMPFILE = 50, 51

R4K, R64K, R1M = 10, 12, 14  # reply size classes (wr_sizes[] in fuzz_fuse.c)


def cstr(s):
    return s.encode() + b"\0"


def req(op, node=1, arg=b"", shape=0, reply=R4K):
    """One fuzz_fuse record."""
    return bytes([op, node, shape, reply]) + struct.pack("<H", len(arg)) + arg


def read_in(fh, off=0, size=4096):
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)


def release_in(fh):
    return struct.pack("<QIIQ", fh, 0, 0, 0)


def lk_in(fh, typ, start=0, end=100):
    return struct.pack("<QQQQIIII", fh, 1, start, end, typ, 4242, 0, 0)


O_RDONLY, O_RDWR, O_CREAT, O_TRUNC, O_DIRECTORY = 0, 2, 0o100, 0o1000, 0o200000
S_IFIFO, S_IFREG, S_IFCHR = 0o010000, 0o100000, 0o020000
FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE, FATTR_ATIME, FATTR_MTIME = 1, 2, 4, 8, 16, 32


def setattr_in(valid, size=0, mode=0, uid=0, gid=0, fh=0):
    return struct.pack("<IIQQQQQQIIIIIIII", valid, 0, fh, size, 0, 0, 0, 0, 0, 0, 0, mode, 0,
                       uid, gid, 0)


def fuse_seeds():
    s = {}
    s["lookup"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("file")), req(GETATTR, 2, struct.pack("<IIQ", 0, 0, 0)),
        req(LOOKUP, 1, cstr("dir")), req(LOOKUP, 3, cstr("inner")),
        req(LOOKUP, 1, cstr("link")), req(READLINK, 5), req(LOOKUP, 1, cstr("nonexistent")),
        req(FORGET, 2, struct.pack("<Q", 1)),
    ])
    s["escape"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("..")), req(LOOKUP, 1, cstr(".")), req(LOOKUP, 1, cstr("escape")),
        req(READLINK, 2), req(OPEN, 2, struct.pack("<II", O_RDONLY, 0)),
        req(LOOKUP, 1, cstr("escape_dir")), req(LOOKUP, 1, cstr("dotdot")),
        req(LOOKUP, 1, cstr("escape_abs")), req(LOOKUP, 1, cstr("dir")),
        req(LOOKUP, 6, cstr("..")), req(LOOKUP, 7, cstr("..")),
        req(OPENDIR, 1, struct.pack("<II", O_RDONLY, 0)), req(READDIRPLUS, 1, read_in(0)),
    ])
    s["read"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("big")), req(OPEN, 2, struct.pack("<II", O_RDONLY, 0)),
        req(READ, 2, read_in(0, 65530, 4096), shape=0x09, reply=R64K),
        req(LSEEK, 2, struct.pack("<QQII", 0, 0, 3, 0)),  # SEEK_DATA
        req(LSEEK, 2, struct.pack("<QQII", 0, 70000, 4, 0)),  # SEEK_HOLE
        req(FLUSH, 2, struct.pack("<QIIQ", 0, 0, 0, 0)), req(RELEASE, 2, release_in(0)),
    ])
    s["readdir"] = b"\0" + b"".join([
        req(OPENDIR, 1, struct.pack("<II", O_RDONLY, 0)), req(READDIR, 1, read_in(0)),
        req(READDIRPLUS, 1, read_in(0, 0, 4096), reply=R4K),
        req(READDIRPLUS, 1, read_in(0, 3, 300), reply=7),
        req(FSYNCDIR, 1, struct.pack("<QII", 0, 0, 0)), req(RELEASEDIR, 1, release_in(0)),
    ])
    s["create_write"] = b"\0" + b"".join([
        req(CREATE, 1, struct.pack("<IIII", O_RDWR | O_CREAT, S_IFREG | 0o644, 0o022, 0) +
            cstr("new")),
        req(WRITE, 2, struct.pack("<QQIIQII", 0, 0, 11, 0, 0, 0, 0) + b"hello world",
            shape=0x01),
        req(FSYNC, 2, struct.pack("<QII", 0, 1, 0)),
        req(FALLOCATE, 2, struct.pack("<QQQII", 0, 0, 8192, 0, 0)),
        req(SETATTR, 2, setattr_in(FATTR_SIZE | FATTR_MODE, size=5, mode=0o600)),
        req(LOOKUP, 1, cstr("file")),
        req(OPEN, 3, struct.pack("<II", O_RDWR, 0)),
        req(COPY_FILE_RANGE, 2, struct.pack("<QQQQQQQ", 0, 0, 3, 1, 4, 5, 0)),
        req(RELEASE, 2, release_in(0)), req(RELEASE, 3, release_in(1)),
        req(RENAME, 1, struct.pack("<Q", 1) + cstr("new") + cstr("new2")),
        req(LINK, 1, struct.pack("<Q", 2) + cstr("new3")),
        req(UNLINK, 1, cstr("new2")),
    ])
    s["dirs"] = b"\0" + b"".join([
        req(MKDIR, 1, struct.pack("<II", 0o755, 0o022) + cstr("d")),
        req(MKNOD, 1, struct.pack("<IIII", S_IFIFO | 0o644, 0, 0o022, 0) + cstr("p")),
        req(MKNOD, 1, struct.pack("<IIII", S_IFCHR | 0o644, 0x0103, 0, 0) + cstr("null")),
        req(SYMLINK, 1, cstr("s") + cstr("file")),
        req(RENAME2, 1, struct.pack("<QII", 1, 2, 0) + cstr("d") + cstr("s")),  # EXCHANGE
        req(RMDIR, 1, cstr("s")), req(UNLINK, 1, cstr("d")),
        req(TMPFILE, 1, struct.pack("<IIII", O_RDWR, 0o644, 0, 0) + cstr("t")),
    ])
    s["xattr"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("file")),
        req(SETXATTR, 2, struct.pack("<II", 3, 0) + cstr("user.x") + b"abc"),
        req(GETXATTR, 2, struct.pack("<II", 64, 0) + cstr("user.x")),
        req(GETXATTR, 2, struct.pack("<II", 0, 0) + cstr("user.test")),
        req(LISTXATTR, 2, struct.pack("<II", 256, 0)),
        req(LISTXATTR, 1, struct.pack("<II", 0, 0)),
        req(REMOVEXATTR, 2, cstr("user.x")),
        req(GETXATTR, 2, struct.pack("<II", 64, 0) + cstr("security.capability")),
    ])
    s["locks"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("file")), req(OPEN, 2, struct.pack("<II", O_RDWR, 0)),
        req(OPEN, 2, struct.pack("<II", O_RDONLY, 0)),
        req(GETLK, 2, lk_in(0, 1)), req(SETLK, 2, lk_in(0, 1)), req(SETLKW, 2, lk_in(1, 1)),
        req(SETLK, 2, lk_in(0, 2)), req(RELEASE, 2, release_in(0)),
        req(RELEASE, 2, release_in(1)),
    ])
    s["misc"] = b"\0" + b"".join([
        req(STATFS, 1), req(ACCESS, 1, struct.pack("<II", 7, 0), shape=0x40),
        req(SYNCFS, 1, struct.pack("<Q", 0)), req(INTERRUPT, 0, struct.pack("<Q", 5)),
        req(LOOKUP, 1, cstr("emptydir")),
        req(BATCH_FORGET, 0, struct.pack("<IIQQ", 1, 0, 2, 1), shape=0x20),
        req(FORGET, 2, struct.pack("<Q", 1), shape=0x20),
        req(BMAP, 1, b"\0" * 16), req(IOCTL, 1, b"\0" * 32), req(DESTROY, 1),
        req(INIT, 0, struct.pack("<IIIII", 7, 31, 65536, 0, 0) + b"\0" * 44),
    ])
    s["raw_header"] = b"\2" + b"".join([
        req(GETATTR, 1, b"\0" * 16),  # before INIT: EIO
        req(INIT, 0, struct.pack("<IIIII", 7, 38, 65536, 0x40000000, 0) + b"\0" * 44),
        req(GETATTR, 1, b"\0" * 16, reply=0x1a), req(LOOKUP, 1, cstr("file"), reply=0x4a),
        req(0xff, 1, b"", reply=R4K)[:1] + struct.pack("<I", 4096) + bytes([1, 0, R4K, 0, 0]),
    ])
    s["handles"] = b"\1" + s["create_write"][1:] + s["read"][1:]
    s["handles_readdir"] = b"\1" + s["readdir"][1:] + s["escape"][1:]
    s["setattr"] = b"\0" + b"".join([
        req(LOOKUP, 1, cstr("exec")),
        req(SETATTR, 2, setattr_in(FATTR_UID | FATTR_GID, uid=1000, gid=1000)),
        req(SETATTR, 2, setattr_in(FATTR_ATIME | FATTR_MTIME)),
        req(OPEN, 2, struct.pack("<II", O_RDWR | O_TRUNC, 0), shape=0x80),
        req(SETATTR, 1, setattr_in(FATTR_MODE, mode=0o700)),
        req(LOOKUP, 1, cstr("file"), shape=0x40),
    ])
    return s


# --- vhost-user ------------------------------------------------------------

GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_LOG_BASE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 6, 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
SET_BACKEND_REQ_FD, GET_CONFIG, RESET_DEVICE = 21, 24, 34
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 36, 37, 38

FD_MEM64K, FD_MEM256K, FD_MEM4K, FD_MEM0, FD_EVENT, FD_PIPE, FD_NULL, FD_DIR = 0, 1, 2, 3, 4, 8, 9, 10
UVA = 0x10000000
MEMSZ = 0x40000


def msg(request, payload=b"", flags=1, nfds=0, kind=0, size=None):
    size = len(payload) if size is None else size
    return bytes([request, flags, (kind << 4) | nfds]) + struct.pack("<H", size) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(idx, num):
    return struct.pack("<II", idx, num)


def mem(idx, off, data):
    return b"\xfe" + bytes([idx]) + struct.pack("<IH", off, len(data)) + data


def kick(idx):
    return b"\xff" + bytes([idx])


SETTLE = b"\xfd"


def fuse_req(opcode, unique, nodeid, arg):
    return struct.pack("<IIQQIIIHH", 40 + len(arg), opcode, unique, nodeid, 0, 0, 4242, 0, 0) + arg


def ring_image(num, reqs, desc=0, avail=0x1000, reqbase=0x4000, replybase=0x8000):
    """Memory writes laying out num-entry rings with one chain per request."""
    out = b""
    table = b""
    for i, r in enumerate(reqs):
        rq = reqbase + i * 0x400
        rp = replybase + i * 0x1000
        table += struct.pack("<QIHH", rq, len(r), 1, 2 * i + 1)
        table += struct.pack("<QIHH", rp, 0x1000, 2, 0)
        out += mem(0, rq, r)
    out += mem(0, desc, table)
    ring = struct.pack("<HH", 0, len(reqs)) + b"".join(struct.pack("<H", 2 * i) for i in range(len(reqs)))
    out += mem(0, avail, ring)
    return out


def handshake(features=(1 << 32) | (1 << 28) | (1 << 29) | (1 << 30)):
    region = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, MEMSZ, UVA, 0)
    return b"".join([
        msg(GET_FEATURES), msg(SET_FEATURES, u64(features)), msg(GET_PROTOCOL_FEATURES),
        msg(SET_PROTOCOL_FEATURES, u64(1 | 8 | (1 << 13) | (1 << 15))), msg(SET_OWNER),
        msg(GET_QUEUE_NUM), msg(GET_MAX_MEM_SLOTS),
        msg(SET_MEM_TABLE, region, flags=9, nfds=1, kind=FD_MEM256K),
    ])


def queue_setup(q, num=64, desc=0, avail=0x1000, used=0x2000):
    # eventfds are numbered in the order they are sent: call first, then kick
    return b"".join([
        msg(SET_VRING_NUM, state(q, num)),
        msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", q, 0, UVA + desc, UVA + used, UVA + avail, 0)),
        msg(SET_VRING_BASE, state(q, 0)),
        msg(SET_VRING_CALL, u64(q), nfds=1, kind=FD_EVENT),
        msg(SET_VRING_ERR, u64(q | 0x100)),
        msg(SET_VRING_KICK, u64(q), nfds=1, kind=FD_EVENT),
        msg(SET_VRING_ENABLE, state(q, 1), flags=9),
    ])


def vhost_seeds():
    init = struct.pack("<IIIII", 7, 38, 65536, 0xffffffff, 0) + b"\0" * 44
    reqs = [fuse_req(INIT, 1, 0, init), fuse_req(LOOKUP, 2, 1, cstr("file")),
            fuse_req(GETATTR, 3, 2, b"\0" * 16),
            fuse_req(OPENDIR, 4, 1, struct.pack("<II", 0, 0)),
            fuse_req(READDIRPLUS, 5, 1, read_in(0, 0, 4000))]
    s = {}
    s["handshake_requests"] = b"\0" + handshake() + ring_image(64, reqs) + queue_setup(1) + \
        kick(1) + SETTLE + msg(GET_VRING_BASE, state(1, 0))
    s["pool"] = b"\2" + handshake() + ring_image(64, reqs) + queue_setup(1) + kick(1) + SETTLE + \
        msg(GET_VRING_BASE, state(1, 0))
    hp = [fuse_req(FORGET, 1, 2, u64(1)), fuse_req(GETATTR, 2, 1, b"\0" * 16)]
    s["hiprio"] = b"\0" + handshake() + ring_image(16, hp) + queue_setup(0, num=16) + kick(1) + \
        SETTLE + msg(RESET_DEVICE)
    reg = struct.pack("<Q", 0) + struct.pack("<QQQQ", MEMSZ, 0x10000, UVA + MEMSZ, 0)
    s["mem_slots"] = b"\0" + handshake() + b"".join([
        msg(ADD_MEM_REG, reg, flags=9, nfds=1, kind=FD_MEM64K),
        msg(REM_MEM_REG, reg, flags=9),
        msg(ADD_MEM_REG, reg, flags=9, nfds=1, kind=FD_MEM4K),
        msg(ADD_MEM_REG, reg, flags=9, nfds=1, kind=FD_NULL),
        msg(SET_MEM_TABLE, struct.pack("<II", 2, 0) + struct.pack("<QQQQ", 0, 0x1000, UVA, 0) +
            struct.pack("<QQQQ", 0x1000, 0x1000, UVA + 0x1000, 0x1000), flags=9, nfds=2,
            kind=FD_MEM64K),
    ])
    s["no_protocol_features"] = b"\0" + b"".join([
        msg(GET_FEATURES), msg(SET_FEATURES, u64(1 << 32)), msg(SET_OWNER),
        msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, MEMSZ, UVA, 0),
            nfds=1, kind=FD_MEM256K),
    ]) + ring_image(64, reqs[:2]) + queue_setup(1) + kick(1) + SETTLE + msg(RESET_OWNER)
    # Refused values first (NACK, the connection lives on), framing errors last.
    s["malformed"] = b"\0" + b"".join([
        msg(SET_FEATURES, u64(1 << 33)),
        msg(SET_VRING_NUM, state(1, 3)), msg(SET_VRING_NUM, state(99, 64)),
        msg(SET_VRING_KICK, u64(1 | 0x100)), msg(SET_LOG_BASE, u64(0), nfds=1, kind=FD_MEM4K),
        msg(SET_BACKEND_REQ_FD, nfds=1, kind=FD_PIPE), msg(GET_CONFIG, b"\0" * 12),
        msg(SET_VRING_CALL, u64(1), nfds=1, kind=FD_DIR),
        msg(SET_MEM_TABLE, struct.pack("<II", 9, 0), nfds=9, kind=FD_MEM4K),
        msg(60, b"", nfds=1, kind=FD_EVENT), msg(GET_FEATURES, flags=5),
    ])
    s["short_payload"] = b"\0" + msg(SET_FEATURES, b"\0\0", size=8)
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for target, seeds in (("fuzz_fuse", fuse_seeds()), ("fuzz_vhost_user", vhost_seeds())):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
