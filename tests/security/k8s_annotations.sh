#!/bin/bash
# Hostile Kubernetes namespace annotations against notifyd's namespace
# allowlist (docs/kubernetes.md "Who controls the annotations").  The bundle
# is what a CRI writes; a pod author may get annotations of their own into it
# when the CRI passes pod annotations through.  With runc and crun, each of
# these asks for profile "priv" (allowed only to namespace team-a) and must
# never get it:
#   - the two keys naming different namespaces (team-a and team-b);
#   - a namespace that is not a DNS-1123 label: upper case, a newline, a NUL
#     (\u0000) after "team-a" (runc; crun cuts the value at the NUL before
#     notifyd sees it -- checked and documented), "team-a verdict=allowed", "*", 100 000
#     characters, raw non-UTF-8 bytes;
#   - an annotation that is not a string is refused by the runtimes
#     themselves (not tested here: the unit test test_oci_state covers it);
#   - a state larger than notifyd reads (1 MiB, one huge annotation): the
#     hand-over is dropped, the container's mounts fail (ENOSYS), never priv.
# Each gets the default profile (fallback = default: tmpfs ENODEV) and a
# log line saying why; with fallback = refuse the invalid annotation kills
# the container.  Duplicate keys: notifyd takes the last, as Go's
# encoding/json does for containerd, CRI-O and runc (checked: the
# namespace logged is the last one).  notifyd stays up and serves a valid
# team-a container afterwards, and its log carries no forged line.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/k8s_common.sh
. "$(dirname "$0")/../integration/k8s_common.sh"

k8s_setup

# hostile RT NAME ANNOTATIONS-JSON : must run under default with an invalid namespace.
hostile() {
	local rt=$1 name=$2 ann=$3 id=$MV_IDP-$1-$2
	k8s_bundle "$id" priv "$ann" || {
		t_fail "$rt: $name: bundle written" "jq refused $ann"
		return
	}
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_errno "$rt: $name: runs under default, not priv (ENODEV)" "$id" tmpfs ENODEV
	k8s_check_line "$rt: $name: logged as an invalid namespace, fallback to default" "$id" \
		"k8s-namespace=\\(invalid\\) " "asked=priv " "profile=default " "verdict=fallback-default"
}

run_runtime() {
	local rt=$1 id long raw rc
	if ! command -v "$rt" >/dev/null; then
		t_skip "$rt: hostile annotations" "$rt is not installed"
		return 0
	fi
	k8s_nsconf default ""
	k8s_reload

	hostile "$rt" disagree '{"io.kubernetes.pod.namespace": "team-a", "io.kubernetes.cri.sandbox-namespace": "team-b"}'
	if grep -q "container $MV_IDP-$rt-disagree: Kubernetes namespace annotation rejected: .* disagree" "$MV_LOG"; then
		t_ok "$rt: disagreeing keys: the log says they disagree"
	else
		t_fail "$rt: disagreeing keys: the log says they disagree" "$(grep "$MV_IDP-$rt-disagree" "$MV_LOG")"
	fi
	hostile "$rt" upper '{"io.kubernetes.pod.namespace": "Team-A"}'
	hostile "$rt" newline '{"io.kubernetes.pod.namespace": "team-a\nx"}'
	if [ "$rt" = crun ]; then
		# crun reads annotations as C strings: "team-a\u0000x" reaches
		# notifyd as "team-a", the information is gone before it.  Only
		# the CRI can stop it (docs/kubernetes.md: never pass io.kubernetes.*
		# pod annotations through); checked so a change in crun shows.
		id=$MV_IDP-$rt-nul
		k8s_bundle "$id" priv '{"io.kubernetes.cri.sandbox-namespace": "team-a\u0000x"}'
		mv_run "$rt" "$MV_TMP/$id" "$id" 30
		k8s_check_line "$rt: nul: crun cuts the value at the NUL; notifyd sees team-a (documented)" \
			"$id" "k8s-namespace=team-a "
	else
		hostile "$rt" nul '{"io.kubernetes.cri.sandbox-namespace": "team-a\u0000x"}'
	fi
	hostile "$rt" forged '{"io.kubernetes.pod.namespace": "team-a verdict=allowed"}'
	hostile "$rt" star '{"io.kubernetes.pod.namespace": "*"}'
	hostile "$rt" empty '{"io.kubernetes.pod.namespace": ""}'
	long=$(head -c 100000 /dev/zero | tr '\0' a)
	hostile "$rt" long "{\"io.kubernetes.pod.namespace\": \"team-a$long\"}"

	# Raw bytes that are not UTF-8 in config.json (jq would not write them).
	id=$MV_IDP-$rt-utf8
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-aXX"}'
	raw=$(printf 'team-a\xff\xfe')
	sed -i "s/team-aXX/$raw/" "$MV_TMP/$id/config.json"
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	rc=$(mv_step_rc "$id" tmpfs)
	if [ "$rc" = missing ]; then
		t_ok "$rt: non-UTF-8 namespace: the runtime refuses the bundle ($(head -c 150 "$(mv_out "$id")" | tr '\n' ' '))"
	else
		t_step_errno "$rt: non-UTF-8 namespace: runs under default, not priv (ENODEV)" "$id" tmpfs ENODEV
		k8s_check_line "$rt: non-UTF-8 namespace: logged as invalid" "$id" \
			"k8s-namespace=\\(invalid\\) " "verdict=fallback-default"
	fi

	# Duplicate keys: the last one counts (team-b, not allowed priv).
	id=$MV_IDP-$rt-dup
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-aXX"}'
	sed -i 's/"io.kubernetes.pod.namespace": *"team-aXX"/"io.kubernetes.pod.namespace":"team-a","io.kubernetes.pod.namespace":"team-b"/' \
		"$MV_TMP/$id/config.json"
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_errno "$rt: duplicate keys (team-a, then team-b): not priv (ENODEV)" "$id" tmpfs ENODEV
	k8s_check_line "$rt: duplicate keys: notifyd took the last (team-b)" "$id" \
		"k8s-namespace=team-b " "verdict=fallback-default"

	# A state larger than notifyd reads, with fallback = refuse.
	k8s_nsconf refuse ""
	k8s_reload
	id=$MV_IDP-$rt-huge
	long=$(head -c 1100000 /dev/zero | tr '\0' a)
	printf '{"io.kubernetes.pod.namespace": "team-a", "x": "%s"}' "$long" >"$MV_TMP/huge.json"
	mv_oci_bundle --profile priv "$MV_TMP/$id" "$ROOTFS" sh /k8s.sh &&
		jq --slurpfile a "$MV_TMP/huge.json" '.annotations = $a[0]' "$MV_TMP/$id/config.json" \
			>"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	rc=$(mv_step_rc "$id" tmpfs)
	if [ "$rc" = 0 ]; then
		t_fail "$rt: a state over 1 MiB never gets priv" "the tmpfs mount succeeded"
	else
		t_ok "$rt: a state over 1 MiB never gets priv (step: $rc, $(mv_step_out "$id" tmpfs | head -c 100))"
	fi

	# fallback = refuse: an invalid namespace is refused.
	id=$MV_IDP-$rt-refused
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "Team-A"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	if [ "$(mv_step_rc "$id" tmpfs)" = missing ]; then
		t_ok "$rt: fallback = refuse: an invalid namespace is refused (its command never ran)"
	else
		t_fail "$rt: fallback = refuse: an invalid namespace is refused" "$(cat "$(mv_out "$id")")"
	fi
	k8s_check_line "$rt: fallback = refuse: the log says refused" "$id" \
		"k8s-namespace=\\(invalid\\) " "verdict=refused"

	# notifyd still serves a valid container.
	id=$MV_IDP-$rt-after
	k8s_bundle "$id" priv '{"io.kubernetes.pod.namespace": "team-a"}'
	mv_run "$rt" "$MV_TMP/$id" "$id" 30
	t_step_ok "$rt: afterwards a valid team-a container still gets priv" "$id" tmpfs
}

for rt in runc crun; do
	run_runtime "$rt"
	mv_notifyd_alive || mv_bail "notifyd died: $(tail -n 30 "$MV_LOG")"
done

# No namespace value reached the log: a forged "verdict=allowed" would show.
if grep -E "namespace-allowlist .*verdict=allowed" "$MV_LOG" | grep -v -- "-crun-nul " | grep -qv -- "-after "; then
	t_fail "no forged or hostile allowlist line says allowed" \
		"$(grep -E "namespace-allowlist .*verdict=allowed" "$MV_LOG" | grep -v -- "-after ")"
else
	t_ok "no forged or hostile allowlist line says allowed"
fi

if mv_stop_notifyd; then
	t_ok "notifyd exits 0 on SIGTERM"
else
	t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC"
fi
