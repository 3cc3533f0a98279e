#!/bin/bash
# Third red-team round against notifyd: the source string the kernel now looks
# up in the create helper's private view (source_open.c name_source() and
# build_name()), and option strings split by libmount (mount_options.c).
# Real containers (runc, crun), user namespace 0 -> 100000, kernel-action ext4
# on a block device the container holds.  Every mount is made with mount(2)
# directly (perl's syscall(), host /usr bound read-only), so the exact source
# and data strings reach notifyd unchanged by busybox.
#
# A successful mount passes only if mountinfo shows the container's own
# device (major:minor), nosuid and nodev, exactly one mountinfo line for the
# target, and nothing of the host's second device; a refused one passes
# always.  After each group notifyd must be alive and the host's second
# device never mounted.
#
# Groups (REDTEAM3_ONLY="g1 g2 ..." picks some; RUNTIMES="crun runc"):
#
#   source    Source strings built to make build_name() and the kernel's
#             lookup disagree, or to reach something outside the helper's
#             tmpfs: a name whose last component collides with a directory
#             build_name() made earlier ("/tmp/c/b/../b": ENOTDIR/EEXIST
#             there, /proc/self/fd/N fallback), "//" runs, a trailing "/" and
#             "/.", 255 and 256 bytes (the fallback boundary), a component
#             of 255 bytes, non-UTF-8 bytes with a newline, a space, a tab
#             and a backslash (mountinfo escaping), /proc/self/fd/N,
#             /proc/self/root/..., /proc/1/root/..., a name that is a prefix
#             of another already mounted, and "." / "..".  Held.
#
#   srcrace   A second process flips a symlinked directory of the source
#             path between the container's /dev and a directory whose
#             entry of the same name is a symlink to the host's second
#             device's path, while the container mounts through it 40
#             times.  Every mount that works must be the container's device.
#             Held.
#
#   options   Data strings for ext4 (allowed-options = errors=remount-ro,
#             errors=continue, noatime, ro):
#             quoted groups with commas, "dev"/"suid"/"exec" inside quotes
#             and as items, escaped commas, "=" items, empty items,
#             duplicated keys, source=, errors=panic variants,
#             journal_path=/journal_dev= plain, quoted and upper-cased,
#             bytes after a NUL.  Each must be refused or give a mount
#             with nosuid,nodev and no errors=panic.  Held.
#
#   flood     One container starts 120 mount(2) calls of its ext4 device at
#             once (kernel action: each goes through the create helper), on
#             120 targets, and SIGKILLs every other caller 0-90 ms after it
#             started, mid-request.  Every caller that lives must get an
#             answer (a success or a real errno, never a hang: each runs under
#             a 60 s kill timer), while a second container's mount started
#             meanwhile is answered; afterwards notifyd is alive, has no
#             children and no more fds than before.  Held.
#
#   umount    The runtime's /proc/timer_list mask (maskedPaths, a /dev/null
#             bind): umount and umount -l of it must be left to the kernel
#             (decision continue), never done with notifyd's privilege.  (The
#             mask is made inside the container's user namespace, so it is
#             not locked: the kernel lets the container remove it -- a
#             runtime matter, not notifyd's.)  Then umount_request.c's two
#             lookups (check, then umount2 by path) are raced: /tmp/l flips
#             between /mnt/x (notifyd's ext4 mount on /mnt/x/timer_list) and
#             /mnt/p (an rbind of /proc) while the container calls umount and
#             umount -l of /tmp/l/timer_list 300 times each and remounts
#             notifyd's ext4 when it is gone.  Every umount notifyd does is
#             of a path it checked as its own mount; how many hit the other
#             mount is printed.  Held.
#
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ -n "${MV_TMP:-}" ] && [ -d "$MV_TMP" ] || exit 1

DEFAULT_GROUPS="source srcrace options flood umount"
ALL_GROUPS="source srcrace options flood umount"
GROUPS_RUN=${REDTEAM3_ONLY:-$DEFAULT_GROUPS}
want() { [[ " $GROUPS_RUN " == *" $1 "* ]]; }
t_diag "groups: $GROUPS_RUN (all: $ALL_GROUPS)"
command -v perl >/dev/null || mv_bail "perl not installed (the containers call mount(2) through it)"

PROFILES=$MV_TMP/profiles
mkdir -p "$PROFILES"
cat >"$PROFILES/default.conf" <<EOF
[profile]
default-action = deny
max-mounts = 200

[fs ext4]
action = kernel
idmap = yes
allowed-options = errors=remount-ro, errors=continue, noatime, ro
EOF

ROOTFS=$MV_TMP/rootfs
mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
mkdir -p "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
chown 100000:100000 "$ROOTFS/usr" "$ROOTFS/lib" "$ROOTFS/lib64"
mv_make_ext4 "$MV_TMP/disk.img" || mv_bail "cannot build the ext4 image"
mv_loop_attach "$MV_TMP/disk.img" DEV || mv_bail "cannot attach a loop device"
mkdir -p "$MV_TMP/secret"
echo "host secret" >"$MV_TMP/secret/secret"
mkfs.ext4 -q -F -d "$MV_TMP/secret" "$MV_TMP/other.img" 8M >/dev/null 2>&1 ||
	mv_bail "cannot build the second image"
mv_loop_attach "$MV_TMP/other.img" OTHER || mv_bail "cannot attach a loop device"
chown 0:disk "$OTHER"

mv_start_notifyd "$PROFILES" || mv_bail "notifyd did not start"

DEVNUM=$(mv_devnum "$DEV")
OTHERNUM=$(mv_devnum "$OTHER")
N=${DEV#/dev/}

# The container side: "try NAME SOURCE DATA" mounts with mount(2) and
# reports every mountinfo line of /mnt/a and what it can read, then unmounts.
cat >"$ROOTFS/try.sh" <<'EOF'
try() {
	echo "@@begin $1"
	if /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "/mnt/a", "ext4", "$ARGV[1]"); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"' \
		"$2" "$3" 2>&1; then
		grep -c ' /mnt/a ' /proc/self/mountinfo | sed 's/^/lines=/'
		grep ' /mnt/a ' /proc/self/mountinfo | sed 's/^/mi=/'
		cat /mnt/a/secret 2>/dev/null | sed 's/^/read=/'
		umount /mnt/a
		echo "@@end $1 rc=0"
	else
		echo "@@end $1 rc=1"
	fi
}
EOF

# t_try RT ID CASE : the case's mount was refused, or mounted the container's
# own device with nosuid,nodev, one line, no errors=panic, no host secret.
t_try() {
	local rt=$1 id=$2 c=$3 rc out mi num opts
	rc=$(mv_step_rc "$id" "$c")
	out=$(mv_step_out "$id" "$c")
	if [ "$rc" = missing ]; then
		t_fail "$rt: $c: the attempt finished" "$(tail -n 5 "$(mv_out "$id")")"
		return
	fi
	if [ "$rc" != 0 ]; then
		t_ok "$rt: $c: refused ($(tr '\n' ' ' <<<"$out"))"
		return
	fi
	mi=$(sed -n 's/^mi=//p' <<<"$out" | tail -n 1)
	num=$(awk '{print $3}' <<<"$mi")
	opts=$(awk '{print $6}' <<<"$mi")
	if [ "$(sed -n 's/^lines=//p' <<<"$out")" = 1 ] && [ "$num" = "$DEVNUM" ] &&
		[[ ",$opts," == *,nosuid,* ]] && [[ ",$opts," == *,nodev,* ]] &&
		! grep -q 'errors=panic' <<<"$mi" && ! grep -q 'read=host secret' <<<"$out"; then
		t_ok "$rt: $c: mounted the container's own device, nosuid,nodev ($(awk '{print $(NF-1)}' <<<"$mi"))"
	else
		t_fail "$rt: $c: mounted the container's own device, nosuid,nodev, one line" \
			"want $DEVNUM (host's other device is $OTHERNUM)" "$out"
	fi
}

t_after() {
	t_check "$1: notifyd is alive" mv_notifyd_alive
	if grep -q " $OTHERNUM " /proc/self/mountinfo || findmnt -n -S "$OTHER" >/dev/null 2>&1; then
		t_fail "$1: the host's other device was never mounted" "$(findmnt -S "$OTHER")"
	else
		t_ok "$1: the host's other device was never mounted"
	fi
}

# ---------------------------------------------------------------------------
# source
# ---------------------------------------------------------------------------
LEN255=/dev
while [ $((${#LEN255} + 2 + ${#N})) -lt 255 ]; do LEN255+=/.; done
[ $((${#LEN255} + 1 + ${#N})) -lt 255 ] && LEN255+=/
LEN255+=/$N
LEN256=/$LEN255
COMP255=$(printf 'c%.0s' $(seq 1 255))
WEIRD=$'/tmp/\xff\xfe x\ty\\z\nw'
SOURCE_CASES="coll dslash trail trdot len255 len256 comp255 weird procfd procroot proc1root prefix dot dotdot"

cat >"$ROOTFS/source.sh" <<'EOF'
. /try.sh
dev=$1 n=${1#/dev/} len255=$2 len256=$3 comp=$4 weird=$5
# coll: /tmp/c/b is a symlink to /, /b one to the device; build_name makes b a directory first.
mkdir -p /tmp/c && ln -s / /tmp/c/b && ln -s "$dev" /b
try coll /tmp/c/b/../b ""
try dslash "//dev//$n" ""
try trail "$dev/" ""
try trdot "$dev/." ""
try len255 "$len255" ""
try len256 "$len256" ""
mkdir -p "/tmp/$comp" && ln -s "$dev" "/tmp/$comp/d"
try comp255 "/tmp/$comp/d" ""
mkdir -p "$weird" && ln -s "$dev" "$weird/d"
try weird "$weird/d" ""
exec 7<"$dev"
try procfd /proc/self/fd/7 ""
exec 7<&-
try procroot "/proc/self/root$dev" ""
try proc1root "/proc/1/root$dev" ""
# prefix: /mnt/b holds a mount of "/tmp/p" while "/tmp/p/x" is mounted at /mnt/a.
mkdir -p /tmp/p && ln -s "$dev" /tmp/p/x && ln -s "$dev" /tmp/pp
/usr/bin/perl -e 'my ($s, $t, $f, $d) = ("/tmp/pp", "/mnt/b", "ext4", ""); syscall(165, $s, $t, $f, 0, $d) == 0 or die "$!\n"'
try prefix /tmp/p/x ""
umount /mnt/b 2>/dev/null
cd /dev && try dot "./$n" "" && try dotdot "../dev/$n" "" && cd /
EOF

test_source() {
	local id=$MV_IDP-$RT-src c
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /source.sh "$DEV" "$LEN255" "$LEN256" \
		"$COMP255" "$WEIRD" || mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 120 || t_fail "$RT: source: container exits 0" "exit $?"
	for c in $SOURCE_CASES; do t_try "$RT" "$id" "$c"; done
	# The plain names must still work (no regression to "refuse everything").
	for c in dslash len255 comp255 weird dot dotdot; do
		t_check "$RT: source: $c mounts" [ "$(mv_step_rc "$id" "$c")" = 0 ]
	done
	t_after "$RT: source"
}

# ---------------------------------------------------------------------------
# srcrace
# ---------------------------------------------------------------------------
cat >"$ROOTFS/srcrace.sh" <<'EOF'
. /try.sh
dev=$1 n=${1#/dev/} other=$2
mkdir -p /tmp/alt && ln -s "$other" "/tmp/alt/$n" && ln -s /dev /tmp/r
( while :; do ln -sfn /tmp/alt /tmp/r.new && mv -T /tmp/r.new /tmp/r; ln -sfn /dev /tmp/r.new && mv -T /tmp/r.new /tmp/r; done ) &
flip=$!
i=0
while [ $i -lt 40 ]; do try "r$i" "/tmp/r/$n" ""; i=$((i + 1)); done
kill $flip
EOF

test_srcrace() {
	local id=$MV_IDP-$RT-race i ok=0
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /srcrace.sh "$DEV" "$OTHER" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 180 || t_fail "$RT: srcrace: container exits 0" "exit $?"
	for ((i = 0; i < 40; i++)); do
		[ "$(mv_step_rc "$id" "r$i")" = 0 ] && ok=$((ok + 1))
	done
	local bad=0 out
	for ((i = 0; i < 40; i++)); do
		out=$(mv_step_out "$id" "r$i")
		if [ "$(mv_step_rc "$id" "r$i")" = 0 ] &&
			! sed -n 's/^mi=//p' <<<"$out" | awk -v d="$DEVNUM" '$3 == d && $6 ~ /nosuid/ && $6 ~ /nodev/ {f = 1} END {exit !f}'; then
			bad=$((bad + 1))
			t_diag "r$i: $out"
		fi
	done
	t_check "$RT: srcrace: all $ok of 40 mounts that worked are the container's device, nosuid,nodev" [ "$bad" = 0 ]
	t_check "$RT: srcrace: some mounts worked ($ok of 40)" [ "$ok" -gt 0 ]
	t_after "$RT: srcrace"
}

# ---------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------
# NAME|DATA ; DATA may hold any byte but "|" and newline.
OPTION_CASES=(
	'plain|errors=remount-ro'
	'qdev|errors=remount-ro,"dev"'
	'qgroup|"errors=continue,dev,suid"'
	'qval|errors="remount-ro,dev"'
	'item_dev|dev'
	'item_suid|suid'
	'item_exec|exec'
	'esc|errors=remount-ro\,dev'
	'eq|=dev'
	'eqsuid|noatime,=suid'
	'empty|,,,noatime,,,'
	'dup|errors=continue,errors=panic'
	'panic|errors=panic'
	'panicq|errors="panic"'
	'source|source=OTHER'
	'sourceq|"source=OTHER"'
	'jpath|journal_path=OTHER'
	'jpathq|"journal_path=OTHER"'
	'jpathu|JOURNAL_PATH=OTHER'
	'jdev|journal_dev=OTHERNUM'
	'unterminated|noatime,"dev'
	'rw_ro|ro,rw'
	'nosuid_clear|nosuid,suid'
)

test_options() {
	local id=$MV_IDP-$RT-opt e name data names=()
	{
		echo '. /try.sh'
		for e in "${OPTION_CASES[@]}"; do
			name=${e%%|*}
			data=${e#*|}
			data=${data//OTHERNUM/$(($(stat -L -c '%t' "$OTHER" | sed 's/^/0x/') * 256 + $(stat -L -c '%T' "$OTHER" | sed 's/^/0x/')))}
			data=${data//OTHER/$OTHER}
			names+=("$name")
			# shellcheck disable=SC2016 # $1 is for the container script
			printf 'try %s "$1" %q\n' "$name" "$data"
		done
	} >"$ROOTFS/options.sh"
	# nul: mount(2)'s data after the NUL ("noatime\0dev,suid") must not count.
	cat >>"$ROOTFS/options.sh" <<'EOF'
echo "@@begin nul2"
if /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "/mnt/a", "ext4", "noatime\0dev,suid,errors=panic"); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"' "$1" 2>&1; then
	grep -c ' /mnt/a ' /proc/self/mountinfo | sed 's/^/lines=/'
	grep ' /mnt/a ' /proc/self/mountinfo | sed 's/^/mi=/'
	umount /mnt/a
	echo "@@end nul2 rc=0"
else
	echo "@@end nul2 rc=1"
fi
EOF
	names+=(nul2)
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /options.sh "$DEV" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_run "$RT" "$MV_TMP/$id" "$id" 120 || t_fail "$RT: options: container exits 0" "exit $?"
	for name in "${names[@]}"; do t_try "$RT" "$id" "$name"; done
	t_check "$RT: options: a plain allowed option mounts" [ "$(mv_step_rc "$id" plain)" = 0 ]
	t_after "$RT: options"
}

# ---------------------------------------------------------------------------
# flood
# ---------------------------------------------------------------------------
cat >"$ROOTFS/flood.sh" <<'EOF'
dev=$1
mkdir -p /tmp/res
i=0
while [ $i -lt 120 ]; do
	mkdir -p "/tmp/m$i"
	timeout -s KILL 60 /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "$ARGV[1]", "ext4", "");
		if (syscall(165, $s, $t, $f, 0, $d) == 0) { print "ok\n"; syscall(166, $t, 2); } else { print 0 + $!, "\n"; }' \
		"$dev" "/tmp/m$i" >"/tmp/res/$i" 2>&1 &
	pid=$!
	if [ $((i % 2)) = 1 ]; then
		( sleep "0.0$((i % 10))"; kill -KILL $pid ) &
	fi
	i=$((i + 1))
done
wait
i=0 answered=0 killed=0 hung=0
while [ $i -lt 120 ]; do
	r=$(cat "/tmp/res/$i")
	case $r in
	ok | [0-9]*) answered=$((answered + 1)) ;;
	"") if [ $((i % 2)) = 1 ]; then killed=$((killed + 1)); else hung=$((hung + 1)); echo "hung $i"; fi ;;
	*) echo "odd $i: $r" ;;
	esac
	i=$((i + 1))
done
echo "answered=$answered killed=$killed hung=$hung"
cat /tmp/res/* | sort | uniq -c | sed 's/^/dist /'
grep -c /tmp/m /proc/self/mountinfo | sed 's/^/left=/'
EOF
cat >"$ROOTFS/other.sh" <<'EOF'
mvstep other timeout -s KILL 40 /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "/mnt/a", "ext4", ""); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"' "$1"
mvstep mi grep " /mnt/a " /proc/self/mountinfo
EOF

test_flood() {
	local id=$MV_IDP-$RT-flood oid=$MV_IDP-$RT-flood2 fds0 fds1 out kids t0 t1
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /flood.sh "$DEV" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	mv_oci_bundle --device "$DEV" "$MV_TMP/$oid" "$ROOTFS" sh /other.sh "$DEV" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$oid"
	# A first run of the small container: fds notifyd keeps for good are open.
	mv_run "$RT" "$MV_TMP/$oid" "$oid" 60
	sleep 1
	fds0=$(mv_notifyd_fds)
	t0=$(date +%s)
	mv_start "$RT" "$MV_TMP/$id" "$id" 150
	sleep 2
	mv_run "$RT" "$MV_TMP/$oid" "$oid" 60
	t1=$(date +%s)
	t_step_ok "$RT: flood: another container's mount is answered meanwhile ($((t1 - t0 - 2)) s)" "$oid" other
	mv_wait "$id" || t_fail "$RT: flood: the flooding container exits 0" "exit $?"
	out=$(cat "$(mv_out "$id")")
	t_diag "$(grep -E '^(answered|dist|left|odd|hung)' <<<"$out")"
	if grep -q '^answered=.* hung=0$' <<<"$out" && ! grep -q '^odd ' <<<"$out" &&
		[ "$(sed -n 's/^answered=\([0-9]*\).*/\1/p' <<<"$out")" -ge 60 ]; then
		t_ok "$RT: flood: every caller that lived got one answer ($(grep '^answered=' <<<"$out"))"
	else
		t_fail "$RT: flood: every caller that lived got one answer" "$out"
	fi
	if grep -E '^dist ' <<<"$out" | grep -vE '^dist +[0-9]+ (ok|[0-9]+)$' | grep -q .; then
		t_fail "$RT: flood: every answer is a success or an errno" "$out"
	else
		t_ok "$RT: flood: every answer is a success or an errno"
	fi
	sleep 2
	fds1=$(mv_notifyd_fds)
	t_check "$RT: flood: notifyd has no more fds than before ($fds0 -> $fds1)" [ "$fds1" -le "$fds0" ]
	kids=$(mv_notifyd_children)
	t_check "$RT: flood: notifyd has no children left (${kids:-none})" [ -z "$kids" ]
	t_check "$RT: flood: notifyd is alive" mv_notifyd_alive
}

# ---------------------------------------------------------------------------
# umount
# ---------------------------------------------------------------------------
cat >"$ROOTFS/umount.sh" <<'EOF'
dev=$1
mvstep k0 stat -c %F /proc/timer_list
mvstep umk umount /proc/timer_list
mvstep umkl umount -l /proc/timer_list
mvstep k1 stat -c %F /proc/timer_list
# An rbind of /proc carries a locked copy of the runtime's timer_list mask.
mkdir -p /mnt/p /mnt/x/timer_list
mvstep rbind mount -o rbind /proc /mnt/p
mvstep kp0 stat -c %F /mnt/p/timer_list
mnt() { /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "/mnt/x/timer_list", "ext4", ""); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"' "$dev"; }
mvstep first /usr/bin/perl -e 'my ($s, $t, $f, $d) = ("$ARGV[0]", "/mnt/x/timer_list", "ext4", ""); syscall(165, $s, $t, $f, 0, $d) == 0 or die "mount: $!\n"' "$dev"
ln -s /mnt/x /tmp/l
( while :; do ln -sfn /mnt/p /tmp/l.n && mv -T /tmp/l.n /tmp/l; ln -sfn /mnt/x /tmp/l.n && mv -T /tmp/l.n /tmp/l; done ) &
flip=$!
i=0 ok=0
while [ $i -lt 300 ]; do
	umount /tmp/l/timer_list 2>/dev/null && ok=$((ok + 1))
	umount -l /tmp/l/timer_list 2>/dev/null && ok=$((ok + 1))
	grep -q ' /mnt/x/timer_list ' /proc/self/mountinfo || mnt 2>/dev/null
	i=$((i + 1))
done
kill $flip
echo "umounts=$ok"
mvstep kp1 stat -c %F /mnt/p/timer_list
mvstep k2 stat -c %F /proc/timer_list
mvstep kread sh -c 'head -c 64 /proc/timer_list | wc -c; head -c 64 /mnt/p/timer_list | wc -c'
EOF

test_umount() {
	local id=$MV_IDP-$RT-um d n
	mv_oci_bundle --device "$DEV" "$MV_TMP/$id" "$ROOTFS" sh /umount.sh "$DEV" ||
		mv_bail "cannot write the bundle"
	mv_bind_host_libs "$MV_TMP/$id"
	# The runtimes' usual mask (a /dev/null bind); this kernel has no /proc/kcore.
	jq '.linux.maskedPaths = ["/proc/timer_list"]' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.tmp" &&
		mv "$MV_TMP/$id/c.tmp" "$MV_TMP/$id/config.json"
	mv_run "$RT" "$MV_TMP/$id" "$id" 150 || t_fail "$RT: umount: container exits 0" "exit $?"
	t_diag "$(grep '^umounts=' "$(mv_out "$id")")"
	t_check "$RT: umount: /proc/timer_list is masked at start ($(mv_step_out "$id" k0))" \
		[ "$(mv_step_out "$id" k0)" = "character special file" ]
	# The mask is the runtime's own mount in the container's user namespace,
	# not locked: the container may remove it with its own rights.  notifyd
	# must leave that to the kernel (continue), never do it with host privilege:
	# no decision with action=umount for it.
	d=$(mv_decisions "$id" | grep 'syscall=umount2 target=/proc/timer_list')
	if ! grep 'action=umount' <<<"$d" | grep -q .; then
		t_ok "$RT: umount: the mask's umounts are left to the kernel (continue)"
	else
		t_fail "$RT: umount: the mask's umounts are left to the kernel (continue)" "$d"
	fi
	t_step_ok "$RT: umount: rbind of /proc works" "$id" rbind
	t_step_ok "$RT: umount: notifyd's ext4 mount on /mnt/x/timer_list works" "$id" first
	# In the race every umount notifyd does itself is of a path that named its
	# own mount when checked; one that hit the rbind's copy instead says so.
	d=$(mv_decisions "$id" | grep 'syscall=umount2 target=/tmp/l/timer_list' | grep 'action=umount')
	n=$(grep -c 'named another mount' <<<"$d")
	t_diag "notifyd umounts in the race: $(grep -c . <<<"$d"), of which $n hit another mount (the rbind's, the container's own)"
	if grep -v 'rule="mount made by notifyd' <<<"$d" | grep -q .; then
		t_fail "$RT: umount: notifyd umounts only what it checked as its own" "$d"
	else
		t_ok "$RT: umount: notifyd umounts only what it checked as its own"
	fi
	t_check "$RT: umount: notifyd is alive" mv_notifyd_alive
}

for RT in ${RUNTIMES:-crun runc}; do
	if ! command -v "$RT" >/dev/null; then
		t_skip "$RT tests" "$RT not installed"
		continue
	fi
	want source && test_source
	want srcrace && test_srcrace
	want options && test_options
	want flood && test_flood
	want umount && test_umount
done
exit 0
