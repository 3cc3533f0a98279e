#!/usr/bin/python3
"""Parse notifyd's /metrics strictly and print one sample per line.

    metrics_parse.py < exposition

Parses with prometheus_client's text parser (Debian python3-prometheus-client),
then checks what that parser lets pass: every sample belongs to a family
declared by # TYPE, label values of notifyd_requests_total come from the
fixed sets of docs/metrics.md, histogram buckets are cumulative and end in
+Inf == _count.  Prints "NAME{k="v",...} VALUE" lines, sorted, for the shell
to compare; exits 1 with the reason on stderr when a check fails.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families

SYSCALLS = {"mount", "umount2", "umount", "ioctl", "fsopen", "fsconfig", "fsmount",
            "fspick", "move_mount", "open_tree", "mount_setattr", "other"}
ACTIONS = {"kernel", "fuse", "virtiofs", "umount", "loop", "continue", "deny", "enosys",
           "error"}
ERRNO_NAMES = {"EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "EBADF",
               "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
               "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOSPC", "EROFS",
               "ELOOP", "ENAMETOOLONG", "ENOSYS", "ENOTEMPTY", "EOVERFLOW", "EOPNOTSUPP",
               "ETIMEDOUT", "ECANCELED", "ESTALE", "EDQUOT"}
RESULTS = {"ok", "continue", "other_errno"} | ERRNO_NAMES
FIXED = {
    "notifyd_daemons": {"kind": {"fuse", "vfsd"}},
    "notifyd_loop_devices": {"state": {"fresh", "bound", "clearing", "gone"}},
    "notifyd_request_errors_total": {"kind": {"caller_gone", "send_failed"}},
    "notifyd_requests_total": {"syscall": SYSCALLS, "action": ACTIONS, "result": RESULTS},
}


def fail(why):
    print("metrics_parse: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        fail("exposition does not end with a newline")
    declared = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
        elif line and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            base = name
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and name[: -len(suf)] in declared:
                    base = name[: -len(suf)]
            if base not in declared:
                fail("sample before/without # TYPE: " + line)
    out = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        fail("prometheus_client cannot parse it: %r" % (e,))
    names = [f.name for f in families]
    if len(names) != len(set(names)):
        fail("a family appears twice: %s" % names)
    for f in families:
        if not f.name.startswith("notifyd_"):
            fail("family without the notifyd_ prefix: " + f.name)
        seen = set()
        buckets = []
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                fail("duplicate series %s %s" % key)
            seen.add(key)
            allowed = FIXED.get(s.name, {})
            for k, v in s.labels.items():
                if s.name.endswith("_bucket") and k == "le":
                    continue
                if k not in allowed or v not in allowed[k]:
                    fail("label %s=%r of %s is not from the fixed set" % (k, v, s.name))
            if s.name.endswith("_bucket"):
                buckets.append((float(s.labels["le"]), s.value))
            lab = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            out.append("%s{%s} %s" % (s.name, lab, repr(s.value) if s.value % 1 else int(s.value)))
        if f.type == "histogram":
            les = [b[0] for b in buckets]
            if les != sorted(les) or les[-1] != float("inf"):
                fail("histogram %s: buckets not ascending up to +Inf" % f.name)
            vals = [b[1] for b in buckets]
            if vals != sorted(vals):
                fail("histogram %s: buckets not cumulative" % f.name)
            count = [s.value for s in f.samples if s.name == f.name + "_count"]
            if count != [vals[-1]]:
                fail("histogram %s: _count %s != +Inf bucket %s" % (f.name, count, vals[-1]))
    for line in sorted(out):
        print(line)


main()
