#!/bin/bash
# notifyctl oci-config (docs/oci-config.md): bundles made by `runc spec` and
# `crun spec` (rootful and rootless, with and without seccomp sections) are
# pointed at notifyd; a second run changes nothing, byte for byte; no rule of
# the bundle's is dropped or weakened (jq); hostile and odd configs are
# refused with exit 2 and left untouched; --device chowns only a device that
# is free on the host.  Then a real crun and a real runc container, from
# bundles that only oci-config pointed at notifyd, mount ext4 through
# notifyd's kernel action and get notifyd's errno for a denied type.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

NCTL=$(mv_prog notifyctl) || mv_bail "notifyctl not built (make all)"
RULES=$MV_SRC/profiles/seccomp/oci-seccomp.json
command -v jq >/dev/null || mv_bail "jq not installed"

# oc ARGS... : oci-config; stdout+stderr in $OUT, exit status in $RC.
oc() {
	OUT=$("$NCTL" oci-config "$@" 2>&1)
	RC=$?
}

# spec RUNTIME DIR [--rootless] : a bundle as the runtime's own `spec` makes it.
spec() {
	local rt=$1 dir=$2
	shift 2
	rm -rf "$dir" && mkdir -p "$dir" && (cd "$dir" && "$rt" spec "$@") >/dev/null 2>&1
}

# state DIR : what must not change when a config is refused: the file's bytes,
# mode and owner, and that no temp file was left in the bundle.
state() {
	{
		[ -f "$1/config.json" ] && sha256sum "$1/config.json" # never read a FIFO
		stat -c '%a %u %g %F' "$1/config.json" 2>/dev/null
		ls -A "$1"
	} | sha256sum
}

# t_rc DESC : ok if the command before exited 0.
t_rc() {
	local rc=$?
	if [ "$rc" = 0 ]; then t_ok "$1"; else t_fail "$1" "output: $OUT"; fi
}

# trapped FILE : names in SCMP_ACT_NOTIFY rules, sorted, one line.
trapped() { jq -r '[.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_NOTIFY") | .names[]] | sort | join(",")' "$1"; }
# What oci-config leaves alone: all but seccomp and the device rules.
OTHER='del(.linux.seccomp) | del(.linux.resources.devices) | if .linux.resources == {} then del(.linux.resources) else . end'
ALL_TRAPPED=$(jq -r '[.syscalls[].names[]] | sort | join(",")' "$RULES")

# kept_rules BEFORE AFTER : every (name, action, args) of BEFORE's rules is in
# AFTER, except names moved from an allow rule into notifyd's trap.
kept_rules() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" --slurpfile r "$RULES" '
	  ([$r[0].syscalls[].names[]]) as $ours
	  | [$b[0].linux.seccomp.syscalls[] | {action, args: (.args // []), n: .names[]}] as $have
	  | [$a[0].linux.seccomp.syscalls[] | {action, args: (.args // []), n: .names[]}
	     | select(. as $x | ($have | index([$x]) == null)
	              and (($x.action == "SCMP_ACT_ALLOW" or $x.action == "SCMP_ACT_LOG")
	                   and ($ours | index($x.n)) != null
	                   and ([$have[] | select(.n == $x.n and .action == "SCMP_ACT_NOTIFY")] | length) > 0
	                   | not))]
	  | length == 0'
}

# ---------------------------------------------------------------------------
# Bundles from the runtimes' own `spec`
# ---------------------------------------------------------------------------

for rt in runc crun; do
	for v in rootful rootless; do
		b=$MV_TMP/spec-$rt-$v
		args=()
		[ $v = rootless ] && args=(--rootless)
		if ! spec "$rt" "$b" "${args[@]}"; then
			t_fail "$rt spec ${args[*]} makes a bundle"
			continue
		fi
		cp "$b/config.json" "$b/orig.json"
		chmod 0640 "$b/config.json"
		oc --rules "$RULES" --loop "$b"
		t_check "$rt $v: oci-config exits 0 (output: $(tr '\n' '|' <<<"$OUT"))" [ "$RC" = 0 ]
		t_check "$rt $v: every shipped rule is trapped" [ "$(trapped "$b/config.json")" = "$ALL_TRAPPED" ]
		t_check "$rt $v: defaultAction SCMP_ACT_ALLOW, listenerPath notifyd's default, profile=default" \
			[ "$(jq -r '.linux.seccomp | "\(.defaultAction) \(.listenerPath) \(.listenerMetadata)"' "$b/config.json")" \
			= "SCMP_ACT_ALLOW /run/mountvisor/notifyd.sock profile=default" ]
		t_check "$rt $v: /dev/null bound at /dev/loop-control" \
			[ "$(jq -c '[.mounts[] | select(.destination == "/dev/loop-control") | .source]' "$b/config.json")" = '["/dev/null"]' ]
		t_check "$rt $v: b 7:* rwm after the bundle's device rules" \
			[ "$(jq -c '.linux.resources.devices[-1]' "$b/config.json")" = '{"allow":true,"type":"b","major":7,"access":"rwm"}' ]
		t_check "$rt $v: everything else as the runtime wrote it" \
			[ "$(jq -S "$OTHER"' | .mounts |= map(select(.destination != "/dev/loop-control"))' "$b/config.json")" \
			= "$(jq -S "$OTHER" "$b/orig.json")" ]
		t_check "$rt $v: mode of config.json kept (0640)" [ "$(stat -c %a "$b/config.json")" = 640 ]
		cp "$b/config.json" "$b/once.json"
		oc --rules "$RULES" --loop "$b"
		[ "$RC" = 0 ] && grep -qx "$b/config.json: nothing to change" <<<"$OUT"
		t_rc "$rt $v: second run says nothing to change"
		t_check "$rt $v: second run leaves the file byte for byte" cmp -s "$b/once.json" "$b/config.json"
	done
done

# A run without --rules finds the shipped file next to the build (source tree).
b=$MV_TMP/norules
spec runc "$b"
oc --profile strict "$b"
t_check "without --rules the shipped rules are found (exit $RC: $OUT)" [ "$RC" = 0 ]
t_check "--profile strict sets listenerMetadata profile=strict" \
	[ "$(jq -r .linux.seccomp.listenerMetadata "$b/config.json")" = profile=strict ]
cp "$b/config.json" "$b/before"
oc --dry-run --profile other "$b"
[ "$RC" = 0 ] && grep -q 'not written (--dry-run)' <<<"$OUT" && cmp -s "$b/before" "$b/config.json"
t_rc "--dry-run reports the change and writes nothing"
oc --rules "$RULES" --profile other "$b"
[ "$RC" = 0 ] && [ "$(jq -r .linux.seccomp.listenerMetadata "$b/config.json")" = profile=other ]
t_rc "--profile on a configured bundle replaces only the profile"

# ---------------------------------------------------------------------------
# A bundle with its own seccomp rules: merged, never weakened
# ---------------------------------------------------------------------------

b=$MV_TMP/own
spec runc "$b"
jq '.linux.seccomp = {
  defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 1,
  architectures: ["SCMP_ARCH_X86_64"],
  syscalls: [
    {names: ["mount", "chmod"], action: "SCMP_ACT_ERRNO", errnoRet: 13},
    {names: ["umount2", "getpid"], action: "SCMP_ACT_ALLOW"},
    {names: ["fsopen"], action: "SCMP_ACT_KILL_PROCESS"},
    {names: ["fsmount"], action: "SCMP_ACT_ALLOW"},
    {names: ["open_tree", "move_mount"], action: "SCMP_ACT_ALLOW"},
    {names: ["personality"], action: "SCMP_ACT_ALLOW",
     args: [{index: 0, value: 0, op: "SCMP_CMP_EQ"}]}
  ]}' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
cp "$b/config.json" "$b/orig.json"
oc --rules "$RULES" "$b"
t_check "own rules: exit 0 ($(tr '\n' '|' <<<"$OUT"))" [ "$RC" = 0 ]
t_check "own rules: every rule of the bundle is still there (jq)" \
	[ "$(kept_rules "$b/orig.json" "$b/config.json")" = true ]
t_check "own rules: mount stays SCMP_ACT_ERRNO (errnoRet 13), not trapped" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | index("mount")) | [.action, .errnoRet]]' "$b/config.json")" \
	= '[["SCMP_ACT_ERRNO",13]]' ]
t_check "own rules: fsopen stays SCMP_ACT_KILL_PROCESS, not trapped" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | index("fsopen")) | .action]' "$b/config.json")" \
	= '["SCMP_ACT_KILL_PROCESS"]' ]
t_check "own rules: the output says the denials were kept" \
	grep -q 'kept: linux.seccomp: mount stays SCMP_ACT_ERRNO' <<<"$OUT"
t_check "own rules: umount2 moved from the allow rule into the trap, getpid still allowed" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | (index("umount2") or index("getpid"))) | [.names, .action]]' "$b/config.json")" \
	= '[[["getpid"],"SCMP_ACT_ALLOW"],[["umount","umount2"],"SCMP_ACT_NOTIFY"]]' ]
t_check "own rules: a rule left without names (fsmount) is replaced by the trap (with fsconfig; fsopen stays killed)" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | index("fsmount")) | [.names, .action]]' "$b/config.json")" \
	= '[[["fsconfig","fsmount"],"SCMP_ACT_NOTIFY"]]' ]
t_check "own rules: open_tree stays allowed (notifyd does not trap it)" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | index("open_tree")) | [.names, .action]]' "$b/config.json")" \
	= '[[["open_tree"],"SCMP_ACT_ALLOW"]]' ]
t_check "own rules: move_mount leaves the allow rule for the trap with MOVE_MOUNT_F_EMPTY_PATH set; the rest meets defaultAction SCMP_ACT_ALLOW" \
	[ "$(jq -c '[.linux.seccomp.syscalls[] | select(.names | index("move_mount")) | [.names, .action, .args]]' "$b/config.json")" \
	= '[[["move_mount"],"SCMP_ACT_NOTIFY",[{"index":4,"value":4,"valueTwo":4,"op":"SCMP_CMP_MASKED_EQ"}]]]' ]
t_check "own rules: architectures and defaultErrnoRet kept" \
	[ "$(jq -c '.linux.seccomp | [.architectures, .defaultErrnoRet]' "$b/config.json")" = '[["SCMP_ARCH_X86_64"],1]' ]
cp "$b/config.json" "$b/once.json"
oc --rules "$RULES" "$b"
[ "$RC" = 0 ] && cmp -s "$b/once.json" "$b/config.json"
t_rc "own rules: second run changes nothing, byte for byte"

# Deny by default: what the bundle does not allow stays denied.
b=$MV_TMP/denydefault
spec crun "$b"
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO",
  syscalls: [{names: ["read", "write", "umount2"], action: "SCMP_ACT_ALLOW"}]}' \
	"$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
oc --rules "$RULES" "$b"
[ "$RC" = 0 ] && [ "$(trapped "$b/config.json")" = umount2 ]
t_rc "deny by default: exit 0, only umount2 (allowed) trapped"
t_check "deny by default: the output says mount stays denied" \
	grep -q 'kept: linux.seccomp: mount stays denied by defaultAction SCMP_ACT_ERRNO' <<<"$OUT"

# ---------------------------------------------------------------------------
# Refused: exit 2, file untouched
# ---------------------------------------------------------------------------

# refused DESC BUNDLE PATTERN [OPTIONS...] : oci-config refuses with exit 2,
# says PATTERN, leaves the bundle as it was.
refused() {
	local desc=$1 b=$2 pat=$3 before
	shift 3
	before=$(state "$b")
	oc --rules "$RULES" "$@" "$b"
	if [ "$RC" = 2 ] && grep -qE -- "$pat" <<<"$OUT" && [ "$(state "$b")" = "$before" ]; then
		t_ok "refused: $desc"
	else
		t_fail "refused: $desc" "exit $RC, output: $OUT"
	fi
}

# odd NAME : bundle with a runc spec config.json, for mangling.
odd() {
	B=$MV_TMP/odd-$1
	spec runc "$B"
}

odd notjson
echo '{"ociVersion": "1.0.2", "linux": {' >"$B/config.json"
refused "truncated JSON" "$B" 'not JSON'
odd garbage
printf '{"linux": {}} {"linux": {}}' >"$B/config.json"
refused "data after the object" "$B" 'not JSON'
odd nul
printf '{"linux": {}}\0' >"$B/config.json"
refused "a NUL byte" "$B" 'NUL byte'
odd array
echo '[1, 2]' >"$B/config.json"
refused "top level not an object" "$B" 'not a JSON object'
odd comment
printf '{"linux": {} /* x */}' >"$B/config.json"
refused "a comment (not strict JSON)" "$B" 'not JSON'
odd dup
printf '{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}, "seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}}}' >"$B/config.json"
refused "duplicate key (seccomp twice)" "$B" 'duplicate key'
odd dup2
jq '.annotations = {"a": "x"}' "$B/config.json" | sed 's/"a": "x"/"a": "x", "a": "y"/' >"$B/c" && mv "$B/c" "$B/config.json"
refused "duplicate annotation key" "$B" 'duplicate key'
odd deep
{ printf '{"annotations": {"x": '; for ((i = 0; i < 200; i++)); do printf '['; done
	for ((i = 0; i < 200; i++)); do printf ']'; done; printf '}}'; } >"$B/config.json"
refused "nesting 200 deep" "$B" 'nests deeper'
odd huge
{ printf '{"annotations": {"x": "'; head -c 6000000 /dev/zero | tr '\0' a; printf '"}}'; } >"$B/config.json"
refused "a 6 MB config" "$B" 'more than'
odd linuxstr
jq '.linux = "x"' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "linux is a string" "$B" 'linux is of type string'
odd seccomparr
jq '.linux.seccomp = []' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "seccomp is an array" "$B" 'seccomp is of type array'
odd names
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: "mount", action: "SCMP_ACT_ERRNO"}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "names is a string" "$B" 'no "names" array'
odd action
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mount"], action: "SCMP_ACT_MAYBE"}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "unknown action" "$B" 'no known "action"'
odd arch
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "unknown architecture" "$B" 'architectures\[1\]'
odd dflt
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_NOTIFY"}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "defaultAction SCMP_ACT_NOTIFY" "$B" 'defaultAction'
odd otherpath
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/other.sock"}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "listenerPath already another socket" "$B" 'already /run/other.sock.*--force'
oc --rules "$RULES" --force "$B"
[ "$RC" = 0 ] && [ "$(jq -r .linux.seccomp.listenerPath "$B/config.json")" = /run/mountvisor/notifyd.sock ]
t_rc "--force replaces another listenerPath"
odd badmeta
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerMetadata: "profile=../etc"}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "listenerMetadata with an invalid profile" "$B" 'invalid profile'
odd badprof
refused "--profile ../x" "$B" 'invalid profile name' --profile ../x
odd othertrap
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["ioctl"], action: "SCMP_ACT_NOTIFY"}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "ioctl already trapped under other conditions" "$B" 'already traps ioctl'
odd condallow
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mount"], action: "SCMP_ACT_ALLOW", args: [{index: 3, value: 1, op: "SCMP_CMP_EQ"}]}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "mount allowed under conditions" "$B" 'only under conditions'
odd allowlist
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", syscalls: [{names: ["ioctl", "read"], action: "SCMP_ACT_ALLOW"}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "every ioctl allowed, deny by default (trap would deny the rest)" "$B" 'rest would'
odd allowlist_mm
jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", syscalls: [{names: ["move_mount", "read"], action: "SCMP_ACT_ALLOW"}]}' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "every move_mount allowed, deny by default (trap would deny moves by path)" "$B" 'move_mount.*rest would'
odd loopctl
jq '.mounts += [{destination: "/dev/loop-control", type: "bind", source: "/etc/shadow"}]' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "--loop with something else at /dev/loop-control" "$B" '/etc/shadow' --loop
odd deny7
jq '.linux.resources.devices += [{allow: false, type: "b", major: 7, access: "rwm"}]' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
refused "--loop when the bundle denies block major 7" "$B" 'denies block major 7' --loop
odd nodev
refused "--device /dev/null (not a block device)" "$B" 'not a block device' --device /dev/null
refused "--device with a relative path" "$B" 'not an absolute' --device loop0

# A bundle configured with the rules of before issue 20 (every new-mount-API
# call trapped, move_mount unconditionally): refused with the reason; without
# that old rule it merges.
odd oldrules
jq '.syscalls = [.syscalls[0], {names: ["umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "mount_setattr"], action: "SCMP_ACT_NOTIFY"}, .syscalls[-1]]' \
	"$RULES" >"$MV_TMP/old-rules.json"
oc --rules "$MV_TMP/old-rules.json" "$B"
t_check "old rules: a bundle configured before issue 20 (exit $RC)" [ "$RC" = 0 ]
refused "a bundle with the old unconditional move_mount trap" "$B" 'already traps move_mount'
jq '.linux.seccomp.syscalls |= map(select((.names | index("fspick")) | not))' "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
oc --rules "$RULES" "$B"
[ "$RC" = 0 ] && [ "$(trapped "$B/config.json")" = "$ALL_TRAPPED" ]
t_rc "old rules: without the old new-mount-API rule the current rules merge"

# The rules file itself is checked: only SCMP_ACT_NOTIFY rules, readable.
odd rules
jq '.syscalls += [{names: ["reboot"], action: "SCMP_ACT_ALLOW"}]' "$RULES" >"$MV_TMP/allow-rules.json"
refused "--rules with an allow rule in it" "$B" 'not a SCMP_ACT_NOTIFY rule' --rules "$MV_TMP/allow-rules.json"
refused "--rules FILE missing" "$B" 'cannot read the seccomp rules' --rules "$MV_TMP/nonexistent.json"

# A symlinked config.json is never followed (it could point anywhere on the host).
odd symlink
mkdir -p "$MV_TMP/outside"
mv "$B/config.json" "$MV_TMP/outside/config.json"
ln -s "$MV_TMP/outside/config.json" "$B/config.json"
outside=$(sha256sum <"$MV_TMP/outside/config.json")
refused "config.json a symlink to a file outside the bundle" "$B" 'symbolic link'
t_check "the symlink's target is untouched" [ "$(sha256sum <"$MV_TMP/outside/config.json")" = "$outside" ]
odd fifo
rm "$B/config.json" && mkfifo "$B/config.json"
refused "config.json a FIFO (no hang)" "$B" 'not a regular file'
mkdir -p "$MV_TMP/empty"
refused "BUNDLE without config.json" "$MV_TMP/empty" 'cannot open config.json'

# ---------------------------------------------------------------------------
# --device: owner for a user-namespaced bundle, refused when in use on the host
# ---------------------------------------------------------------------------

mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
chown 0:disk "$DEV" # mv_loop_attach gave it to 100000 already; start as udev makes it
mv_make_ext4 "$MV_TMP/busy.img" 8M || mv_bail "cannot build the second image"
mv_loop_attach "$MV_TMP/busy.img" BUSY || mv_bail "cannot attach a loop device"
chown 0:disk "$BUSY"
mkdir -p "$MV_TMP/busy-mnt"
mount "$BUSY" "$MV_TMP/busy-mnt" || mv_bail "cannot mount $BUSY"
defer "umount '$MV_TMP/busy-mnt'"
read -r DMAJ DMIN < <(stat -c '%t %T' "$DEV")
DMAJ=$((16#$DMAJ)) DMIN=$((16#$DMIN))

# userns BUNDLE : map the container's root to 100000 (65536 ids).
userns() {
	jq '.linux.namespaces += [{type: "user"}]
	  | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
	  | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]' \
		"$1/config.json" >"$1/c" && mv "$1/c" "$1/config.json"
}

b=$MV_TMP/dev-userns
spec runc "$b" && userns "$b"
refused "--device of a device mounted on the host" "$b" "in use on the host \(mounted at $MV_TMP/busy-mnt\)" --device "$BUSY"
t_check "the mounted device keeps its owner" [ "$(stat -c %u:%g "$BUSY")" = "0:$(getent group disk | cut -d: -f3)" ]
oc --rules "$RULES" --no-chown --device "$DEV" "$b"
[ "$RC" = 0 ] && grep -q "to do: chown 100000:100000 $DEV" <<<"$OUT" && [ "$(stat -c %u "$DEV")" = 0 ]
t_rc "--no-chown prints the chown and does not do it"
oc --rules "$RULES" --device "$DEV" "$b"
[ "$RC" = 0 ] && grep -q "chowned $DEV to 100000:100000" <<<"$OUT" && [ "$(stat -c %u:%g "$DEV")" = 100000:100000 ]
t_rc "--device in a user namespace: chowned to the container's root, and says so"
t_check "--device: linux.devices entry with the right numbers" \
	[ "$(jq -c --arg p "$DEV" '[.linux.devices[] | select(.path == $p) | [.type, .major, .minor, .uid]]' "$b/config.json")" \
	= "[[\"b\",$DMAJ,$DMIN,0]]" ]
t_check "--device: device cgroup rule b $DMAJ:$DMIN rwm" \
	[ "$(jq -c --argjson ma "$DMAJ" --argjson mi "$DMIN" '[.linux.resources.devices[] | select(.major == $ma and .minor == $mi) | [.allow, .type, .access]]' "$b/config.json")" \
	= '[[true,"b","rwm"]]' ]
cp "$b/config.json" "$b/once.json"
oc --rules "$RULES" --device "$DEV" "$b"
[ "$RC" = 0 ] && grep -qx "$b/config.json: nothing to change" <<<"$OUT" && ! grep -q chown <<<"$OUT" && cmp -s "$b/once.json" "$b/config.json"
t_rc "--device: second run changes nothing (no chown either)"
b=$MV_TMP/dev-rootful
spec runc "$b"
chown 0:disk "$DEV"
refused "--device of a mounted device, no user namespace either" "$b" 'in use on the host' --device "$BUSY"
oc --rules "$RULES" --device "$DEV" "$b"
[ "$RC" = 0 ] && ! grep -q chown <<<"$OUT" && [ "$(stat -c %u "$DEV")" = 0 ]
t_rc "--device without a user namespace: no chown (the runtime makes its node)"
b=$MV_TMP/dev-nomap
spec runc "$b"
jq '.linux.namespaces += [{type: "user"}]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
refused "--device, user namespace without a root mapping" "$b" 'maps no container root' --device "$DEV"

# ---------------------------------------------------------------------------
# Real containers from oci-config'd bundles, against a running notifyd
# ---------------------------------------------------------------------------

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/ocicfg.conf" <<'EOF'
[profile]
default-action = deny

[fs ext4]
action = kernel
idmap = yes

[fs xfs]
action = deny
errno = ENODEV
EOF
ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"
cat >"$ROOTFS/run.sh" <<'EOF'
dev=$1
mvstep ext4 mount -t ext4 "$dev" /mnt/a
mvstep read cat /mnt/a/hello.txt
mvstep uid stat -c %u /mnt/a/owned-by-root
mvstep umount umount /mnt/a
mvstep xfs mount -t xfs "$dev" /mnt/b
mvstep loopctl sh -c 'test -c /dev/loop-control && stat -c %t:%T /dev/loop-control'
EOF
chown 0:disk "$DEV"
for rt in crun runc; do
	id=$MV_IDP-ocicfg-$rt
	b=$MV_TMP/run-$rt
	spec "$rt" "$b" || { t_fail "$rt spec"; continue; }
	# The test's rootfs and command, a user namespace and CAP_SYS_ADMIN (a
	# container that may mount); everything notifyd needs comes from oci-config.
	jq --arg root "$ROOTFS" --arg dev "$DEV" '.root = {path: $root, readonly: false}
	  | .process.terminal = false | .process.args = ["sh", "/run.sh", $dev]
	  | .process.capabilities |= with_entries(.value += ["CAP_SYS_ADMIN"])
	  | .mounts |= map(select(.destination != "/sys" and .destination != "/sys/fs/cgroup"))' \
		"$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
	userns "$b"
	oc --socket "$MV_SOCK" --profile ocicfg --loop --device "$DEV" "$b"
	t_check "$rt: oci-config on the run bundle exits 0 ($(tr '\n' '|' <<<"$OUT"))" [ "$RC" = 0 ]
	mv_run "$rt" "$b" "$id" 60
	rc=$?
	t_check "$rt: container exits 0 (exit $rc)" [ "$rc" = 0 ] || sed 's/^/# /' "$(mv_out "$id")"
	t_step_ok "$rt: mount -t ext4 of the --device works" "$id" ext4
	t_check "$rt: the file on it is readable" [ "$(mv_step_out "$id" read)" = "hello from ext4" ]
	t_check "$rt: idmapped by notifyd (disk uid 0 is the container's root)" [ "$(mv_step_out "$id" uid)" = 0 ]
	t_decision "$rt: notifyd decided the ext4 mount (action=kernel result=ok)" "$id" \
		"syscall=mount " "type=ext4 " "action=kernel " "result=ok"
	t_step_errno "$rt: xfs gets the profile's errno (ENODEV) from notifyd" "$id" xfs ENODEV
	t_decision "$rt: notifyd decided the xfs mount (action=deny)" "$id" \
		"syscall=mount " "type=xfs " "action=deny "
	t_check "$rt: /dev/loop-control is /dev/null in the container" [ "$(mv_step_out "$id" loopctl)" = 1:3 ]
done
t_check "notifyd survived" mv_notifyd_alive
t_done
