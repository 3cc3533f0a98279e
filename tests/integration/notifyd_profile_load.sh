#!/bin/bash
# notifyd refuses to start on a profile that cannot work, and says where:
# "FILE:LINE: message" on stderr, exit status non-zero, no socket left behind.
# The same profiles without the mistake start.  (The parser's every type and
# mistake is in tests/unit/test_profile.c; this is the daemon's side.)
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

NOTIFYD=$(mv_prog notifyd) || mv_bail "$NOTIFYD not built"
FUSE2FS=$(command -v fuse2fs) || mv_bail "fuse2fs not installed (scripts/install-deps.sh)"
SQUASHFUSE=$(command -v squashfuse) || mv_bail "squashfuse not installed"
printf '#!/bin/sh\n' >"$MV_TMP/not-executable"
chmod 0644 "$MV_TMP/not-executable"

# refused NAME LINE PATTERN TEXT : default.conf = TEXT; notifyd must refuse it at LINE.
refused() {
	local name=$1 line=$2 pattern=$3 text=$4 dir=$MV_TMP/p-$1 rc err
	mkdir -p "$dir/run"
	printf '%s' "$text" >"$dir/default.conf"
	timeout 10 "$NOTIFYD" --profiles "$dir" --socket "$dir/run/sock" \
		--control "$dir/run/ctl" </dev/null >/dev/null 2>"$dir/stderr"
	rc=$?
	err=$(cat "$dir/stderr")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$dir/default.conf:$line: " <<<"$err" &&
		grep -qE -- "$pattern" <<<"$err" && [ ! -e "$dir/run/sock" ]; then
		t_ok "$name: notifyd refuses to start, FILE:LINE on stderr (${err##*: not starting: })"
	else
		t_fail "$name: notifyd refuses to start, FILE:LINE on stderr" "exit $rc" "$err"
	fi
}

# starts NAME TEXT : notifyd starts with default.conf = TEXT (then is stopped).
starts() {
	local name=$1 text=$2 dir=$MV_TMP/p-$1
	mkdir -p "$dir"
	printf '%s' "$text" >"$dir/default.conf"
	if mv_start_notifyd "$dir"; then
		t_ok "$name: notifyd starts"
	else
		t_fail "$name: notifyd starts" "$(tail -n 5 "$MV_LOG")"
	fi
	mv_stop_notifyd
}

refused empty-number 3 "max-fuse-daemons has no value" \
	"[profile]
default-action = deny
max-fuse-daemons =
"
refused negative 2 "max-loop-devices must be 0..256, not '-1'" \
	"[profile]
max-loop-devices = -1
"
refused overflow 2 "max-mounts must be" \
	"[profile]
max-mounts = 18446744073709551617
"
refused junk 5 "startup-timeout must be 1..600 seconds, not '10s'" \
	"[fs ext4]
action = fuse
program = $FUSE2FS

startup-timeout = 10s
"
refused relative-program 3 "program must be an absolute path" \
	"[fs ext4]
action = fuse
program = fuse2fs
"
refused missing-program 3 "No such file or directory" \
	"[fs ext4]
action = fuse
program = /usr/bin/no-such-fuse-program
"
refused not-executable 3 "is not executable" \
	"[fs ext4]
action = fuse
program = $MV_TMP/not-executable
"
refused no-mountpoint 4 "must name \{mountpoint\}" \
	"[fs ext4]
action = fuse
program = $FUSE2FS
arguments = -f {options} {source}
"
refused no-source 4 "must name \{source\}" \
	"[fs squashfs]
action = fuse
program = $SQUASHFUSE
arguments = -f {options} {mountpoint}
options = ro
"
refused fuse-without-program 4 "has action = fuse but no program" \
	"[profile]
default-action = deny

[fs ext4]
action = fuse
"
refused wrong-section 3 "belongs in \[profile\]" \
	"[fs tmpfs]
action = continue
max-mounts = 4
"
refused duplicate 4 "given twice .*first at line 2" \
	"[profile]
max-fuse-daemons = 2
default-action = deny
max-fuse-daemons = 3
"
refused unknown-key 2 "unknown key 'max-mount' in \[profile\]" \
	"[profile]
max-mount = 4
"
starts program-only "[profile]
default-action = deny

[fs ext4]
action = fuse
program = $FUSE2FS

[fs squashfs]
action = fuse
program = $SQUASHFUSE
"
starts shipped "$(cat "$MV_SRC/profiles/default.conf")"
t_done
