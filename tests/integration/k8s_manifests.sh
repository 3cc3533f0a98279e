#!/bin/bash
# deploy/kubernetes without a cluster (docs/kubernetes.md "What was checked"):
#   - yamllint on every manifest;
#   - tests/helpers/k8s_validate.py: each document against the typed models
#     of python3-kubernetes, rejecting unknown fields and wrong types (and a
#     broken copy is rejected, so the check checks something);
#   - kubectl kustomize renders the kustomization offline, and the render
#     validates too;
#   - the ConfigMaps' profiles and namespaces.conf load in the real notifyd;
#   - the ConfigMap's installer writes one Localhost seccomp profile per
#     notifyd profile (listenerPath = the DaemonSet's --socket,
#     listenerMetadata = profile=NAME), removes a stale one, and runc runs a
#     container with such a profile, served by notifyd;
#   - the admission policy names exactly the keys notifyd reads
#     (notifyd/oci_listener.h); its CEL is not evaluated (no API server);
#   - the pieces agree: the example pod's localhostProfile names an
#     installed profile its namespace is allowed; the DaemonSet is hostPID,
#     system-node-critical, privileged, and mounts /run/mountvisor.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

K8S=$MV_SRC/deploy/kubernetes
PY=/usr/bin/python3
VALIDATE=$MV_SRC/tests/helpers/k8s_validate.py
mapfile -t FILES < <(ls "$K8S"/*.yaml)

if command -v yamllint >/dev/null; then
	if out=$(yamllint -s -d '{extends: default, rules: {line-length: {max: 120}}}' "${FILES[@]}" 2>&1); then
		t_ok "yamllint: ${#FILES[@]} manifests clean"
	else
		t_fail "yamllint: manifests clean" "$out"
	fi
else
	t_skip "yamllint" "yamllint is not installed (scripts/install-deps.sh installs it)"
fi

if ! "$PY" -c 'import kubernetes, yaml' 2>/dev/null; then
	t_skip "schema check" "python3-kubernetes is not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
NEWER=(--newer-kind ValidatingAdmissionPolicy --newer-kind ValidatingAdmissionPolicyBinding)
if out=$("$PY" "$VALIDATE" "${NEWER[@]}" "${FILES[@]}" 2>&1); then
	t_ok "every manifest matches the python3-kubernetes models ($(grep -c '^ok' <<<"$out") objects; $(grep -c '^skip.*newer' <<<"$out") of a newer API not checked)"
else
	t_fail "every manifest matches the python3-kubernetes models" "$out"
fi
# The check must catch a typo and a wrong type.
sed -e 's/hostPID: true/hostPid: true/' -e 's/defaultMode: 0555/defaultMode: "0555"/' \
	"$K8S/daemonset.yaml" >"$MV_TMP/broken.yaml"
out=$("$PY" "$VALIDATE" "$MV_TMP/broken.yaml" 2>&1)
if grep -q 'spec.template.spec.hostPid: not a field' <<<"$out" &&
	grep -q 'defaultMode: expected int' <<<"$out"; then
	t_ok "the schema check rejects an unknown field and a wrong type"
else
	t_fail "the schema check rejects an unknown field and a wrong type" "$out"
fi

if command -v kubectl >/dev/null; then
	if kubectl kustomize "$K8S" >"$MV_TMP/render.yaml" 2>"$MV_TMP/render.err" &&
		out=$("$PY" "$VALIDATE" "$MV_TMP/render.yaml" 2>&1); then
		t_ok "kubectl kustomize renders the kustomization; the render validates"
	else
		t_fail "kubectl kustomize renders the kustomization; the render validates" \
			"$(cat "$MV_TMP/render.err")" "${out:-}"
	fi
else
	t_skip "kubectl kustomize" "kubectl is not installed"
fi

# The ConfigMaps' files, as the kubelet would project them.
"$PY" - "$K8S/configmap.yaml" "$MV_TMP/cm" <<'PYEOF'
import os, sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    d = os.path.join(sys.argv[2], doc["metadata"]["name"])
    os.makedirs(d, exist_ok=True)
    for k, v in doc["data"].items():
        open(os.path.join(d, k), "w").write(v)
PYEOF
PROFILES=$MV_TMP/cm/mountvisor-profiles
NSFILE=$MV_TMP/cm/mountvisor-namespaces/namespaces.conf
INSTALLER=$MV_TMP/cm/mountvisor-seccomp-installer/install-seccomp-profiles.sh

if mv_start_notifyd "$PROFILES" --namespaces "$NSFILE" &&
	mv_wait_log "namespace allowlist loaded from $NSFILE" 5; then
	t_ok "the ConfigMaps' profiles and namespaces.conf load in notifyd"
else
	t_fail "the ConfigMaps' profiles and namespaces.conf load in notifyd" "$(tail -n 5 "$MV_LOG")"
fi

# The installer, twice (the second run after a profile went away).
SECCOMP=$MV_TMP/kubelet-seccomp
run_installer() {
	BASE=$MV_SRC/profiles/seccomp/oci-seccomp.json PROFILES=$1 KUBELET_SECCOMP=$SECCOMP \
		sh "$INSTALLER"
}
sock=$(sed -n 's/^ *- --socket=//p' "$K8S/daemonset.yaml")
if out=$(run_installer "$PROFILES" 2>&1); then
	ok=1
	for conf in "$PROFILES"/*.conf; do
		name=$(basename "$conf" .conf)
		f=$SECCOMP/mountvisor/$name.json
		if [ "$(jq -r '.listenerPath' "$f" 2>/dev/null)" != "$sock" ] ||
			[ "$(jq -r '.listenerMetadata' "$f")" != "profile=$name" ] ||
			[ "$(jq -r '.syscalls | length' "$f")" != "$(jq -r '.syscalls | length' "$MV_SRC/profiles/seccomp/oci-seccomp.json")" ]; then
			ok=0
			t_fail "installer: $f has listenerPath $sock, profile=$name and every rule" \
				"$(jq -c '{listenerPath, listenerMetadata}' "$f" 2>&1)"
		fi
	done
	[ "$ok" = 1 ] && t_ok "installer: one Localhost profile per notifyd profile, listenerPath = the DaemonSet's --socket ($sock)"
else
	t_fail "installer runs" "$out"
fi
mkdir -p "$MV_TMP/fewer" && cp "$PROFILES/default.conf" "$MV_TMP/fewer/"
touch "$MV_TMP/fewer/bad;name.conf"
run_installer "$MV_TMP/fewer" >"$MV_TMP/inst2.out" 2>&1
if [ -e "$SECCOMP/mountvisor/default.json" ] && [ ! -e "$SECCOMP/mountvisor/fuse-images.json" ] &&
	[ ! -e "$SECCOMP/mountvisor/bad;name.json" ]; then
	t_ok "installer: a removed profile's file goes, a file name that is no profile name is skipped"
else
	t_fail "installer: a removed profile's file goes, a bad name is skipped" \
		"$(ls "$SECCOMP/mountvisor")" "$(cat "$MV_TMP/inst2.out")"
fi

# The admission policy forbids exactly the keys notifyd reads.
keys=$(sed -n 's/^#define OCI_K8S_NS_[A-Z]* *"\(.*\)"$/\1/p' "$MV_SRC/notifyd/oci_listener.h")
missing=
for k in $keys; do
	grep -qF "'$k' in object.metadata.annotations" "$K8S/admission-policy.yaml" || missing+=" $k"
done
if [ "$(wc -w <<<"$keys")" = 2 ] && [ -z "$missing" ]; then
	t_ok "the admission policy forbids pods both keys notifyd reads ($(tr '\n' ' ' <<<"$keys"))"
else
	t_fail "the admission policy forbids pods both keys notifyd reads" "keys: $keys" "missing:$missing"
fi

# The example pod agrees with the ConfigMaps.
pod_ns=$("$PY" -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"]=="Pod"][0]; print(d["metadata"]["namespace"]); print(d["spec"]["containers"][0]["securityContext"]["seccompProfile"]["localhostProfile"])' "$K8S/example-pod.yaml")
ns=$(head -n1 <<<"$pod_ns")
lp=$(tail -n1 <<<"$pod_ns")
prof=${lp#mountvisor/}
prof=${prof%.json}
if [ -e "$PROFILES/$prof.conf" ] &&
	awk -v ns="[namespace $ns]" -v p="$prof" '$0 == ns {on = 1; next} /^\[/ {on = 0} on && /^profiles/ && index($0, p)' "$NSFILE" | grep -q .; then
	t_ok "example pod: $lp is an installed profile, namespace $ns is allowed it"
else
	t_fail "example pod: its profile exists and its namespace is allowed it" "$lp in $ns" "$(cat "$NSFILE")"
fi

ds=$("$PY" -c 'import sys,json,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$K8S/daemonset.yaml")
if jq -e '.spec.template.spec | .hostPID == true and .priorityClassName == "system-node-critical"
	and (.containers[] | select(.name == "notifyd") | .securityContext.privileged == true
	     and (.volumeMounts | map(.mountPath) | index("/run/mountvisor") != null))
	and (.volumes[] | select(.name == "kubelet-seccomp") | .hostPath.path == "/var/lib/kubelet/seccomp")' \
	<<<"$ds" >/dev/null; then
	t_ok "DaemonSet: hostPID, system-node-critical, privileged notifyd, /run/mountvisor and the kubelet's seccomp dir"
else
	t_fail "DaemonSet: hostPID, system-node-critical, privileged notifyd, host paths" "$ds"
fi

# An installed profile, as the kubelet hands it to the runtime, served by
# notifyd (listenerPath pointed at this test's socket, as the node's would be).
if command -v runc >/dev/null && [ -n "${NOTIFYD_PID:-}" ]; then
	ROOTFS=$MV_TMP/rootfs
	mv_make_rootfs "$ROOTFS" || mv_bail "cannot build the busybox rootfs"
	printf '%s\n' 'mvstep tmpfs mount -t tmpfs -o size=1m x /mnt/a' >"$ROOTFS/t.sh"
	id=$MV_IDP-k8s-installed
	mv_oci_bundle --profile default --seccomp "$SECCOMP/mountvisor/default.json" \
		"$MV_TMP/$id" "$ROOTFS" sh /t.sh &&
		jq '.annotations = {"io.kubernetes.pod.namespace": "ci-builds"}' "$MV_TMP/$id/config.json" \
			>"$MV_TMP/$id/c.json" && mv "$MV_TMP/$id/c.json" "$MV_TMP/$id/config.json"
	mv_run runc "$MV_TMP/$id" "$id" 30
	t_step_errno "runc with the installed default profile: notifyd answers (default denies tmpfs: EPERM)" \
		"$id" tmpfs EPERM
	t_decision "... and logs the decision" "$id" "syscall=mount " "action=deny "
fi
mv_stop_notifyd || t_fail "notifyd exits 0 on SIGTERM" "exit $MV_NOTIFYD_RC"
