# shellcheck shell=bash
# Sourced (not run) by the tests that boot systemd 252 in systemd-nspawn
# (notifyd_systemd.sh, deb_systemd.sh): talking to the booted container and
# powering it off.  The caller starts `systemd-nspawn --boot` in the
# background with NSPAWN_PID set to its pid and LEADER empty, then calls
# nspawn_leader and waits for `booted`.

# sc CMD... : run CMD in the booted container (all its namespaces).
sc() {
	nsenter -t "$LEADER" -a -- "$@"
}
prop() { # prop UNIT PROPERTY : its value
	sc systemctl show -p "$2" --value "$1" 2>/dev/null
}
# wait_for SECONDS CMD... : poll CMD every 0.1 s until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}
booted() {
	local s
	s=$(sc systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}
# nspawn_leader : LEADER = the container's systemd (pid 1 inside), or bail.
nspawn_leader() {
	local end=$((SECONDS + 30))
	while [ -z "$LEADER" ] && [ "$SECONDS" -lt "$end" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; do
		LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n1)
		[ -n "$LEADER" ] || sleep 0.1
	done
	[ -n "$LEADER" ] ||
		mv_bail "systemd-nspawn --boot did not start systemd: $(tail -n 20 "$MV_TMP/nspawn.log")"
}
# mv_poweroff : save the journal, power the container off (killed after 30 s).
mv_poweroff() {
	[ -n "$NSPAWN_PID" ] || return 0
	if [ -n "$LEADER" ]; then
		sc journalctl --no-pager -o short-precise >"$MV_TMP/journal.log" 2>&1
		sc systemctl poweroff --no-block >/dev/null 2>&1
	fi
	local end=$((SECONDS + 30))
	while kill -0 "$NSPAWN_PID" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.2
	done
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		echo "# nspawn did not end within 30 s of poweroff; killing the container"
		[ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
		sleep 1
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
}
