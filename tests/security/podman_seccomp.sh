#!/bin/bash
# profiles/seccomp/podman.json turned against itself: a container under it
# must not reach what notifyd guards by going around the merged rules, and
# must not lose what podman's default denies.
#   - the filter, evaluated rule by rule (python3, the way libseccomp
#     combines rules of one syscall): for mount flags and ioctl requests a
#     container may pass, including high bits the kernel ignores, exactly one
#     of "trap" and "allow" matches, never both (libseccomp would then pick
#     by its own order) and never neither where podman allowed the call; a
#     trapped syscall has no unconditional allow rule; every rule of podman's
#     that is not a plain allow is in podman.json unchanged; no syscall podman
#     allows is lost;
#   - real containers (podman with crun, and with runc): a loop ioctl whose
#     request has bit 32 set still reaches notifyd (answered as
#     LOOP_GET_STATUS64), and the rest of tests/helpers/loop_hostile gets
#     notifyd's errnos; the new mount API behaves as under oci-seccomp.json:
#     a continue-type (tmpfs) fsopen..move_mount mounts, fsopen(NULL) gets
#     EFAULT, an unknown type ENODEV, the deny-type xfs EPERM with notifyd's
#     decision line, and fspick, open_tree, mount_setattr and a move_mount by
#     path reach the kernel untrapped (allowed as podman allows them).
# shellcheck source=tests/integration/podman_common.sh
. "$(dirname "$0")/../integration/podman_common.sh"

[ -x "$MV_BUILD/tests/helpers/loop_hostile" ] || mv_bail "loop_hostile not built (make all)"
[ -x "$MV_BUILD/tests/helpers/mount_race" ] || mv_bail "mount_race not built (make all)"
SHIPPED=$MV_SRC/profiles/seccomp/podman.json
DEFAULT=/usr/share/containers/seccomp.json

# --- the filter, statically ---------------------------------------------------
out=$("$MV_PYTHON" - "$SHIPPED" <<'EOF'
import json, sys
prof = json.load(open(sys.argv[1]))
rules = prof["syscalls"]

def matches(rule, args):
    for a in rule.get("args") or []:
        v = args.get(a["index"], 0)
        if a["op"] != "SCMP_CMP_MASKED_EQ":
            return None
        if (v & a["value"]) != a["valueTwo"]:
            return False
    return True

def actions(name, args):
    acts = set()
    for r in rules:
        if name in r["names"]:
            m = matches(r, args)
            if m is None:
                return None
            if m:
                acts.add(r["action"])
    return acts

bad = 0
MS = dict(RDONLY=1, NOSUID=2, NODEV=4, REMOUNT=32, BIND=4096, MOVE=8192, REC=16384,
          SILENT=32768, UNBINDABLE=1 << 17, PRIVATE=1 << 18, SLAVE=1 << 19, SHARED=1 << 20)
samples = [0, MS["RDONLY"], MS["NOSUID"] | MS["NODEV"], MS["SILENT"], MS["BIND"],
           MS["BIND"] | MS["REC"], MS["REMOUNT"], MS["REMOUNT"] | MS["BIND"] | MS["RDONLY"],
           MS["MOVE"], MS["SHARED"], MS["PRIVATE"] | MS["REC"], MS["SLAVE"], MS["UNBINDABLE"],
           1 << 32, (1 << 32) | MS["BIND"], (1 << 63) | MS["RDONLY"], 0xffffffffffffffff]
for f in samples:
    a = actions("mount", {3: f})
    trap = (f & 0x1e3020) == 0
    want = {"SCMP_ACT_NOTIFY"} if trap else {"SCMP_ACT_ALLOW"}
    if a != want:
        print("mount flags=%#x: rules give %s, want %s" % (f, sorted(a or []), sorted(want)))
        bad += 1
MM = dict(F_SYMLINKS=1, F_AUTOMOUNTS=2, F_EMPTY_PATH=4, T_SYMLINKS=0x10, T_AUTOMOUNTS=0x20,
          T_EMPTY_PATH=0x40, SET_GROUP=0x100, BENEATH=0x200)
mm_flags = [0, MM["F_EMPTY_PATH"], MM["F_SYMLINKS"], MM["F_EMPTY_PATH"] | MM["T_EMPTY_PATH"],
            MM["T_EMPTY_PATH"], MM["SET_GROUP"], MM["BENEATH"] | MM["F_EMPTY_PATH"], 0x1ff,
            1 << 32, (1 << 32) | MM["F_EMPTY_PATH"], (1 << 63) | MM["F_SYMLINKS"], 0xfffffffffffffffb,
            0xffffffffffffffff]
for f in mm_flags:
    a = actions("move_mount", {4: f})
    trap = (f & 4) == 4
    want = {"SCMP_ACT_NOTIFY"} if trap else {"SCMP_ACT_ALLOW"}
    if a != want:
        print("move_mount flags=%#x: rules give %s, want %s" % (f, sorted(a or []), sorted(want)))
        bad += 1
AT = dict(EMPTY_PATH=0x1000, RECURSIVE=0x8000, SYMLINK_NOFOLLOW=0x100, NO_AUTOMOUNT=0x800)
ms_flags = [0, AT["EMPTY_PATH"], AT["RECURSIVE"], AT["EMPTY_PATH"] | AT["RECURSIVE"],
            AT["SYMLINK_NOFOLLOW"], AT["NO_AUTOMOUNT"] | AT["EMPTY_PATH"], 1 << 32,
            (1 << 32) | AT["EMPTY_PATH"], 0xffffffffffffefff, 0xffffffffffffffff]
for f in ms_flags:
    a = actions("mount_setattr", {2: f})
    trap = (f & 0x1000) == 0x1000
    want = {"SCMP_ACT_NOTIFY"} if trap else {"SCMP_ACT_ALLOW"}
    if a != want:
        print("mount_setattr flags=%#x: rules give %s, want %s" % (f, sorted(a or []), sorted(want)))
        bad += 1
for n, want in (("fsopen", "SCMP_ACT_NOTIFY"), ("fsconfig", "SCMP_ACT_NOTIFY"),
                ("fsmount", "SCMP_ACT_NOTIFY"), ("umount", "SCMP_ACT_NOTIFY"),
                ("umount2", "SCMP_ACT_NOTIFY"), ("fspick", "SCMP_ACT_ALLOW"),
                ("open_tree", "SCMP_ACT_ALLOW")):
    a = actions(n, {})
    if a != {want}:
        print("%s: rules give %s, want %s" % (n, sorted(a or []), want))
        bad += 1
reqs = [0x4c00, 0x4c01, 0x4c02, 0x4c04, 0x4c05, 0x4c0a, 0x4c80, 0x4c81, 0x4c82, 0x4cff,
        0x1_0000_4c05, 0xffff_ffff_0000_4c82, 0x5401, 0x5413, 0x4b00, 0x4d00, 0x1_4c00,
        0x8000_4c00, 0xc0481273, 0x80041272, 0x1_0000_5401, 0]
for q in reqs:
    a = actions("ioctl", {1: q})
    trap = (q & 0xffffff00) == 0x4c00
    want = {"SCMP_ACT_NOTIFY"} if trap else {"SCMP_ACT_ALLOW"}
    if a != want:
        print("ioctl request=%#x: rules give %s, want %s" % (q, sorted(a or []), sorted(want)))
        bad += 1
print("checked %d mount flag values, %d move_mount and %d mount_setattr flag values and %d ioctl requests"
      % (len(samples), len(mm_flags), len(ms_flags), len(reqs)))
for r in rules:
    if r["action"] == "SCMP_ACT_ALLOW" and not (r.get("args") or []):
        for n in ("mount", "umount", "umount2", "ioctl", "fsopen", "fsconfig", "fsmount",
                  "move_mount", "mount_setattr"):
            if n in r["names"]:
                print("unconditional allow for trapped %s" % n)
                bad += 1
sys.exit(1 if bad else 0)
EOF
)
rc=$?
if [ "$rc" = 0 ]; then
	t_ok "podman.json: trap and allow rules never overlap and leave no hole ($(tail -n1 <<<"$out"))"
else
	t_fail "podman.json: trap and allow rules never overlap and leave no hole" "$out"
fi

if [ -r "$DEFAULT" ]; then
	# Every rule of podman's that is not a plain allow, unchanged.
	missing=$(jq -n --slurpfile d "$DEFAULT" --slurpfile s "$SHIPPED" '
		def plain: .action == "SCMP_ACT_ALLOW" and ((.args // []) | length) == 0
			and ((.includes // {}) | length) == 0 and ((.excludes // {}) | length) == 0;
		[$d[0].syscalls[] | select(plain | not)] - [$s[0].syscalls[]] | length')
	t_check "podman.json keeps every conditional or denying rule of podman's default" [ "$missing" = 0 ]
	lost=$(jq -rn --slurpfile d "$DEFAULT" --slurpfile s "$SHIPPED" '
		([$d[0].syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | unique) -
		([$s[0].syscalls[] | select(.action == "SCMP_ACT_ALLOW" or .action == "SCMP_ACT_NOTIFY")
		  | .names[]] | unique) | join(" ")')
	t_check "podman.json: no syscall podman allows is lost ($lost)" [ -z "$lost" ]
	t_check "podman.json: default action is podman's" \
		[ "$(jq -c '[.defaultAction, .defaultErrnoRet]' "$SHIPPED")" = \
		"$(jq -c '[.defaultAction, .defaultErrnoRet]' "$DEFAULT")" ]
else
	t_skip "podman.json against podman's default" "$DEFAULT missing (golang-github-containers-common)"
fi

# --- real containers ----------------------------------------------------------
mv_start_notifyd "$MV_SRC/profiles" || mv_bail "notifyd did not start"
SECCOMP=$PM/seccomp.json
jq --arg s "$MV_SOCK" '.listenerPath = $s' "$SHIPPED" >"$SECCOMP" || mv_bail "cannot write the seccomp file"
mv_make_ext4 "$PM/other.img" 8M || mv_bail "cannot build the ext4 image"
chown 100000:100000 "$PM/other.img"
STEPS=$PM/steps
podman_steps "$STEPS"
cp "$MV_BUILD/tests/helpers/loop_hostile" "$MV_BUILD/tests/helpers/mount_race" "$STEPS/"
cat >"$STEPS/run.sh" <<'EOF'
/steps/loop_hostile /img/other.img
/steps/mvstep newapi /steps/mount_race newapi
/steps/mvstep newapi_info grep ' /mnt/b ' /proc/self/mountinfo
EOF
chmod 0755 "$STEPS"/*

for RT in ${RUNTIMES:-crun runc}; do
	command -v "$RT" >/dev/null || {
		t_skip "$RT" "not installed"
		continue
	}
	id=podman-sec-$RT
	rm -f "$PM/cid"
	pm run --rm --runtime "$RT" --cidfile "$PM/cid" --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
		--cap-add SYS_ADMIN --security-opt "seccomp=$SECCOMP" \
		-v /dev/null:/dev/loop-control --device-cgroup-rule "b 7:* rwm" \
		-v "$PM/other.img:/img/other.img" -v "$STEPS:/steps:ro" "$IMAGE" sh /steps/run.sh \
		>"$(mv_out "$id")" 2>&1
	cid=$(cat "$PM/cid" 2>/dev/null)
	out=$(cat "$(mv_out "$id")")
	if [ -z "$cid" ]; then
		t_fail "$RT: podman run under podman.json" "$out"
		continue
	fi
	mv_wait_log "decision .*id=$cid .*syscall=fsopen .*type=xfs" 5 >/dev/null
	# LOOP_GET_STATUS64 twice: into an unmapped page, and with bit 32 set in
	# the request number; both must be notifyd's to answer.
	t_check "$RT: a loop ioctl with bit 32 set in the request still reaches notifyd (2 LOOP_GET_STATUS64 decisions)" \
		[ "$(mv_decisions "$cid" | grep -c 'type=LOOP_GET_STATUS64 ')" -ge 2 ]
	if [ "$RT" = runc ]; then
		# podman 4.3 with --uidmap leaves linux.resources.devices empty:
		# crun then sets no device rules, runc its default allowlist, which
		# has no block major 7 (docs/podman.md).
		t_skip "$RT: loop_hostile's errnos" "runc under podman --uidmap cannot open loop devices"
	else
		grep -q "^case=get-status-high-bits rc=0 " <<<"$out" || t_diag "$out"
		t_check "$RT: ... and is answered as LOOP_GET_STATUS64" \
			grep -qE '^case=get-status-high-bits rc=0 errno=0$' <<<"$out"
		for c in configure-null-ptr:EFAULT configure-fd-not-open:EBADF configure-directory:EINVAL \
			configure-itself:EINVAL ctl-remove-missing:EPERM ctl-add-too-big:EINVAL; do
			t_check "$RT: hostile loop ioctl ${c%%:*} gets ${c#*:} from notifyd" \
				grep -qE "^case=${c%%:*} rc=-?[0-9]+ errno=${c#*:}\$" <<<"$out"
		done
	fi
	t_newapi "$RT: new mount API, continue type: fsopen, fsconfig, fsmount, move_mount of a tmpfs work" \
		"$id" newapi fsopen_tmpfs=0 fsconfig_size=0 fsconfig_create=0 fsmount=0 move_mount=0
	t_check "$RT: ... and the tmpfs is on /mnt/b" grep -q ' - tmpfs ' <<<"$(mv_step_out "$id" newapi_info)"
	t_decision "$RT: that fsopen was trapped and continued by notifyd (action=continue)" "$cid" \
		'syscall=fsopen ' 'type=tmpfs ' 'action=continue '
	t_newapi "$RT: fsopen(NULL) EFAULT, unknown type ENODEV, deny type (xfs) EPERM" \
		"$id" newapi fsopen_null=EFAULT fsopen_unknown=ENODEV fsopen_xfs=EPERM
	t_decision "$RT: fsopen of xfs was refused by notifyd (action=deny result=EPERM)" "$cid" \
		'syscall=fsopen ' 'type=xfs ' 'action=deny ' 'result=EPERM'
	t_newapi "$RT: fspick, open_tree, mount_setattr (continued), move_mount by path reach the kernel" \
		"$id" newapi fspick=0 open_tree=0 mount_setattr=0 move_mount_path=ENOENT
	for ((i = 0; i < 50; i++)); do
		[ -z "$(losetup -j "$PM/other.img")" ] && break
		sleep 0.1
	done
	t_check "$RT: no loop device left on the image" [ -z "$(losetup -j "$PM/other.img")" ]
done
t_check "notifyd alive" mv_notifyd_alive
t_done
