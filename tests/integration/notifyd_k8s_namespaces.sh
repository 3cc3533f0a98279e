#!/bin/bash
# The Kubernetes namespace -> profile allowlist (notifyd --namespaces FILE),
# with real runc and crun containers whose bundles carry the annotations a
# CRI writes (CRI-O: io.kubernetes.pod.namespace, containerd:
# io.kubernetes.cri.sandbox-namespace).  Per runtime:
#   1. namespace team-a, allowed profile "priv", gets it: its tmpfs mount is
#      let through (priv: continue), the log's namespace-allowlist line says
#      verdict=allowed, notifyctl list shows k8s-namespace=team-a, also
#      after an upgrade in place (SIGUSR2).
#   2. namespace team-b (containerd's key) asks for priv, is not allowed it,
#      fallback = default: runs under default (tmpfs denied ENODEV).
#   3. a container without annotations asks for priv: unannotated = allow
#      leaves it alone (no allowlist line).
#   4. fallback = refuse + SIGHUP: team-b asking for priv is killed before it
#      runs (the runtime's run fails, its command never ran), the log says
#      verdict=refused; team-b asking for default still runs.
#   5. the file now allows team-b priv, SIGHUP: team-b gets priv.
#   6. priv is taken from team-b while its container runs: a runc exec into
#      it is refused (the exec'd process killed, not the container's init);
#      crun 1.8.1 hands no exec'd process over, so there is nothing to judge.
# Then: a broken file on SIGHUP (the log names FILE:LINE, the old list
# stays) and at start (notifyd does not start).
# Hostile annotations: tests/security/k8s_annotations.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/k8s_common.sh
. "$(dirname "$0")/k8s_common.sh"

k8s_setup

run_runtime() {
	local rt=$1 id rc list n i out
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: namespace allowlist" "$rt is not installed"
		return 0
	fi

	# 1. allowed
	k8s_nsconf default ""
	k8s_reload
	id=$MV_IDP-$rt-a
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-a", "io.kubernetes.pod.name": "p"}' \
		sh /k8s-hold.sh "$id.held"
	mv_start "$rt" "$MV_TMP/$id" "$id" 60
	if mv_sync_wait "$ROOTFS" "$id.held" 30; then
		list=$(mv_ctl list 2>&1)
		if awk -v id="$id" '$1 == id && $3 == "priv" && /k8s-namespace=team-a k8s-allowlist=allowed/' <<<"$list" | grep -q .; then
			t_ok "$rt: notifyctl list shows namespace team-a, profile priv, allowed"
		else
			t_fail "$rt: notifyctl list shows namespace team-a, profile priv, allowed" "$list"
		fi
		# An upgrade in place (SIGUSR2: re-executed with its fds and state
		# files) keeps the namespace and verdict.
		n=$(grep -c 'took over from the notifyd before us' "$MV_LOG")
		kill -USR2 "$NOTIFYD_PID"
		for ((i = 0; i < 100; i++)); do
			[ "$(grep -c 'took over from the notifyd before us' "$MV_LOG")" -gt "$n" ] && break
			sleep 0.1
		done
		list=$(mv_ctl list 2>&1)
		if awk -v id="$id" '$1 == id && $3 == "priv" && /k8s-namespace=team-a k8s-allowlist=allowed/' <<<"$list" | grep -q .; then
			t_ok "$rt: after an upgrade in place (SIGUSR2) notifyctl list still shows team-a, allowed"
		else
			t_fail "$rt: after an upgrade in place (SIGUSR2) notifyctl list still shows team-a, allowed" \
				"$list" "$(tail -n 10 "$MV_LOG")"
		fi
		mv_sync_go "$ROOTFS" "$id.held"
	else
		t_fail "$rt: team-a container reached its mount" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	t_step_ok "$rt: team-a (CRI-O annotation) gets profile priv: tmpfs let through" "$id" tmpfs
	k8s_check_line "$rt: allowlist line: team-a asked priv, verdict allowed" "$id" \
		"k8s-namespace=team-a " "asked=priv " "profile=priv " "verdict=allowed"

	# 2. not allowed, fallback = default (containerd's key)
	id=$MV_IDP-$rt-b
	k8s_bundle "$id" priv '{"io.kubernetes.cri.sandbox-namespace": "team-b"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_errno "$rt: team-b (containerd annotation) asking priv runs under default (ENODEV)" \
		"$id" tmpfs ENODEV
	k8s_check_line "$rt: allowlist line: team-b asked priv, got default" "$id" \
		"k8s-namespace=team-b " "asked=priv " "profile=default " "verdict=fallback-default"

	# 3. unannotated
	id=$MV_IDP-$rt-plain
	k8s_bundle "$id" priv '{}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_ok "$rt: a container without Kubernetes annotations keeps its profile (unannotated = allow)" \
		"$id" tmpfs
	if grep -q "namespace-allowlist id=$id " "$MV_LOG"; then
		t_fail "$rt: no allowlist line for an unannotated container" "$(grep "id=$id " "$MV_LOG")"
	else
		t_ok "$rt: no allowlist line for an unannotated container"
	fi

	# 4. fallback = refuse
	k8s_nsconf refuse ""
	k8s_reload
	id=$MV_IDP-$rt-refused
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-b"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$(mv_step_rc "$id" tmpfs)" = missing ]; then
		t_ok "$rt: fallback = refuse: team-b asking priv fails to run (exit $rc, its command never ran)"
	else
		t_fail "$rt: fallback = refuse: team-b asking priv fails to run" "exit $rc" \
			"$(cat "$(mv_out "$id")")"
	fi
	t_diag "$rt says: $(tr '\n' ' ' <"$(mv_out "$id")" | cut -c1-300)"
	k8s_check_line "$rt: allowlist line: team-b refused" "$id" "k8s-namespace=team-b " \
		"asked=priv " "verdict=refused"
	id=$MV_IDP-$rt-b-default
	k8s_bundle "$id" default '{"io.kubernetes.pod.namespace": "team-b"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_errno "$rt: fallback = refuse: team-b asking default still runs" "$id" tmpfs ENODEV

	# 5. a reload allows team-b priv
	k8s_nsconf refuse "priv other"
	k8s_reload
	id=$MV_IDP-$rt-b2
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-b"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_ok "$rt: after SIGHUP team-b is allowed priv" "$id" tmpfs
	k8s_check_line "$rt: allowlist line: team-b allowed after the reload" "$id" \
		"k8s-namespace=team-b " "profile=priv " "verdict=allowed"

	# 6. a reload takes priv away from team-b while its container runs: a
	#    new exec is refused (only the exec'd process is killed), the
	#    running container is left alone.
	id=$MV_IDP-$rt-b-exec
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-b"}' sh /k8s-hold.sh "$id.held"
	mv_start "$rt" "$MV_TMP/$id" "$id" 60
	if mv_sync_wait "$ROOTFS" "$id.held" 30; then
		k8s_nsconf refuse ""
		k8s_reload
		out=$(mv_rt "$rt" exec "$id" sh -c 'echo exec-ran; mount -t tmpfs -o size=1m k8s /mnt/b; echo rc=$?' 2>&1)
		rc=$?
		if [ "$rt" = crun ]; then
			# crun 1.8.1 hands an exec'd process to no listener: there is
			# nothing to refuse (and notifyd serves none of its mounts).
			if ! grep -q "namespace-allowlist id=$id .*verdict=refused" "$MV_LOG"; then
				t_ok "$rt: exec is not handed over to notifyd (crun 1.8.1), so not judged: $(tr '\n' ' ' <<<"$out")"
			else
				t_fail "$rt: exec is not handed over to notifyd (crun 1.8.1)" "$(grep "id=$id " "$MV_LOG")"
			fi
		# runc starts the exec'd program without waiting for the listener's
		# answer, so it may print before the kill lands; what it must never
		# get is a mount (notifyd closes a refused process's notify fd: a
		# trapped call meanwhile gets ENOSYS).
		elif [ "$rc" -ne 0 ] && ! grep -q '^rc=0$' <<<"$out" &&
			! mv_decisions "$id" | grep -q 'syscall=mount .*result=ok'; then
			t_ok "$rt: exec into a team-b container after priv was taken away is refused (exit $rc, no mount)"
		else
			t_fail "$rt: exec into a team-b container after priv was taken away is refused" \
				"exit $rc" "$out"
		fi
		if [ "$rt" = crun ]; then
			:
		elif [ "$(grep -c "namespace-allowlist id=$id .*verdict=refused" "$MV_LOG")" = 1 ]; then
			t_ok "$rt: the exec's hand-over is logged refused"
		else
			t_fail "$rt: the exec's hand-over is logged refused" "$(grep "id=$id " "$MV_LOG")"
		fi
		mv_sync_go "$ROOTFS" "$id.held"
	else
		t_fail "$rt: team-b exec container reached its mount" "$(cat "$(mv_out "$id")")"
	fi
	mv_wait "$id"
	rc=$?
	if [ "$rc" = 0 ]; then
		t_ok "$rt: the running container was not killed by the refused exec (exit 0)"
	else
		t_fail "$rt: the running container was not killed by the refused exec" "exit $rc" \
			"$(cat "$(mv_out "$id")")"
	fi
}

for rt in runc crun; do
	run_runtime "$rt"
	mv_notifyd_alive || mv_bail "notifyd died: $(tail -n 30 "$MV_LOG")"
done

# A broken allowlist on SIGHUP: FILE:LINE in the log, the old one stays.
k8s_nsconf refuse "priv"
printf '[namespace Team_C]\nprofiles = priv\n' >>"$NSCONF"
kill -HUP "$NOTIFYD_PID"
if mv_wait_log "namespace allowlist $NSCONF not loaded, keeping the one in force: $NSCONF:12: " 5; then
	t_ok "a broken allowlist on SIGHUP: the log names FILE:LINE and keeps the old one"
else
	t_fail "a broken allowlist on SIGHUP: the log names FILE:LINE and keeps the old one" \
		"$(tail -n 5 "$MV_LOG")"
fi

# ... and at start a broken file keeps notifyd from starting.
out=$(timeout 10 "$(mv_prog notifyd)" --socket "$MV_TMP/x.sock" --control "$MV_TMP/x.ctl" \
	--profiles "$PROFILES" --namespaces "$NSCONF" --state-dir "$MV_TMP/x-state" 2>&1 </dev/null)
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "not starting" <<<"$out"; then
	t_ok "a broken allowlist at start: notifyd does not start (exit $rc)"
else
	t_fail "a broken allowlist at start: notifyd does not start" "exit $rc" "$out"
fi

if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC"
fi
