# shellcheck shell=bash
# Shared by notifyd_k8s_namespaces.sh and tests/security/k8s_annotations.sh:
# two profiles told apart by a tmpfs mount (default: ENODEV, priv: let
# through), an allowlist file $NSCONF, bundles carrying annotations, and a
# notifyd started with --namespaces.  Source tests/lib.sh first.

PROFILES=$MV_TMP/profiles
ROOTFS=$MV_TMP/rootfs
NSCONF=$MV_TMP/namespaces.conf

# k8s_nsconf FALLBACK TEAM-B-PROFILES [UNANNOTATED]
k8s_nsconf() {
	printf '%s\n' "# test allowlist" "[policy]" "fallback = $1" "unannotated = ${3:-allow}" "" \
		"[namespace team-a]" "profiles = priv" "" "[namespace team-b]" "profiles = $2" >"$NSCONF"
}

# k8s_reload : SIGHUP and wait for the allowlist to be loaded again.
k8s_reload() {
	local n
	n=$(grep -c "namespace allowlist loaded from" "$MV_LOG")
	kill -HUP "$NOTIFYD_PID"
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c "namespace allowlist loaded from" "$MV_LOG")" -gt "$n" ] && return 0
		sleep 0.1
	done
	t_fail "notifyd reloads the allowlist on SIGHUP" "$(tail -n 5 "$MV_LOG")"
}

k8s_setup() {
	mkdir -p "$PROFILES"
	printf '%s\n' "[profile]" "default-action = deny" "" "[fs tmpfs]" "action = deny" \
		"errno = ENODEV" >"$PROFILES/default.conf"
	printf '%s\n' "[profile]" "default-action = deny" "" "[fs tmpfs]" "action = continue" \
		>"$PROFILES/priv.conf"
	mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
	printf '%s\n' 'mvstep tmpfs mount -t tmpfs -o size=1m k8s /mnt/a' >"$ROOTFS/k8s.sh"
	# shellcheck disable=SC2016 # $1 is the container script's
	printf '%s\n' 'mvstep tmpfs mount -t tmpfs -o size=1m k8s /mnt/a' 'mvsync "$1"' \
		>"$ROOTFS/k8s-hold.sh"
	k8s_nsconf default ""
	mv_start_notifyd "$PROFILES" --namespaces "$NSCONF" || mv_bail "notifyd did not start"
}

# k8s_bundle ID PROFILE ANNOTATIONS-JSON [CMD...] : a bundle in $MV_TMP/ID
# running CMD (default sh /k8s.sh) with those annotations.
k8s_bundle() {
	local id=$1 profile=$2 ann=$3
	shift 3
	[ $# -eq 0 ] && set -- sh /k8s.sh
	mv_oci_bundle --profile "$profile" "$MV_TMP/$id" "$ROOTFS" "$@" || return 1
	jq --argjson a "$ann" '.annotations = $a' "$MV_TMP/$id/config.json" >"$MV_TMP/$id/c.json" &&
		mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
}

# k8s_line ID : notifyd's namespace-allowlist line for container ID (waits 5 s).
k8s_line() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -E "namespace-allowlist id=$1 " "$MV_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# k8s_check_line DESC ID PATTERN... : that line matches every pattern.
k8s_check_line() {
	local desc=$1 id=$2 line p
	shift 2
	line=$(k8s_line "$id")
	for p in "$@"; do
		if ! grep -qE -- "$p" <<<"$line"; then
			t_fail "$desc" "no '$p' in the allowlist line of $id:" "${line:-(none)}" \
				"$(tail -n 15 "$MV_LOG")"
			return 1
		fi
	done
	t_ok "$desc"
}
