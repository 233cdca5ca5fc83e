# SPDX-License-Identifier: GPL-2.0-only
# One esptagd + esptag-agent on veth pairs, for integration tests. Source it
# after harness.sh:
#
#   ns h: eth0 192.0.2.1 (esptagd)  <-veth->  ns a: host0 [esptag-agent] wire0  <-veth->  ns p: wire1 192.0.2.2
#
# The host routes 198.51.100.0/24 and 203.0.113.0/24 via the peer; static
# neighbours, so nothing but the test's own traffic crosses the wire.
# Gives: H A P (namespaces), PINS, TMP, SOCK, PY, AEAD, E (the CLI),
# start_agent, start_daemon, wait_for, is_up, spd_src_sa_index, sa_index_of,
# dp, capture_start/capture_stop.
t_require_root
t_require bpftool
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip "$(basename "$0")" "$BIN/$b not built"; exit 77; }
done
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3
AEAD="aead rfc4106(gcm(aes))"

H=$(ns_new h) || exit 1
A=$(ns_new a) || exit 1
P=$(ns_new p) || exit 1
# DA_QUEUES (default 1): receive and transmit queues of every veth, for
# tests of a multi-core agent (one AF_XDP socket per queue).
q="numtxqueues ${DA_QUEUES:-1} numrxqueues ${DA_QUEUES:-1}"
ip link add eth0 netns "$H" $q type veth peer name host0 netns "$A" $q
ip -n "$A" link add wire0 $q type veth peer name wire1 netns "$P" $q
unset q
for n in "$H" "$A" "$P"; do
	nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$H" link set eth0 up
ip -n "$A" link set host0 up
ip -n "$A" link set wire0 up
ip -n "$P" link set wire1 up
ip -n "$H" addr add 192.0.2.1/24 dev eth0
ip -n "$P" addr add 192.0.2.2/24 dev wire1
PMAC=$(ip -n "$P" -br link show wire1 | awk '{print $3}')
HMAC=$(ip -n "$H" -br link show eth0 | awk '{print $3}')
ip -n "$H" neigh replace 192.0.2.2 lladdr "$PMAC" dev eth0 nud permanent
ip -n "$P" neigh replace 192.0.2.1 lladdr "$HMAC" dev wire1 nud permanent
ip -n "$H" route add 198.51.100.0/24 via 192.0.2.2
ip -n "$H" route add 203.0.113.0/24 via 192.0.2.2

PINS=$(pin_dir_new pins) || exit 1
TMP=$(tmp_new) || exit 1
SOCK=$TMP/esptagd.sock

E() { nsx "$H" "$BIN/esptag" --socket "$SOCK" "$@"; }
# The agent's identity key lives in $TMP/agent-state (agent_fpr prints its
# fingerprint, what a VM's esptagd is given as --agent-key).
start_agent() {
	bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 --state-dir "$TMP/agent-state" "$@" >>"$TMP/agent.log" 2>&1
	AGENT_PID=${T_PIDS[-1]}
}
agent_fpr() { "$BIN/esptag-agent" --show-key --state-dir "$TMP/agent-state" 2>/dev/null | awk '$1 == "fingerprint" {print $2}'; }
# Ready once the control socket answers `esptag agent status`; stop
# waiting early if esptagd exited.
daemon_answers_or_died() { _t_agent_status "$H" "$SOCK" || ! kill -0 "$DAEMON_PID" 2>/dev/null; }
start_daemon() {
	bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
		--hello-interval 200 "$@" >>"$TMP/esptagd.log" 2>&1
	DAEMON_PID=${T_PIDS[-1]}
	wait_for 10 daemon_answers_or_died
	_t_agent_status "$H" "$SOCK"
}
is_up() {
	[ "$(bpftool -j map dump pinned "$PINS/esptag_cfg" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"] & 1)')" = 1 ]
}
# spd_src_sa_index POLICY_ID: sa_index of that policy in the pinned
# esptag_spd_src map (what esptag_tx uses), "none" for 0xffffffff.
spd_src_sa_index() {
	bpftool -j map dump pinned "$PINS/esptag_spd_src" | $PY -c '
import json, sys
for e in json.load(sys.stdin):
    v = e["formatted"]["value"]
    if v["id"] == int(sys.argv[1]):
        print("none" if v["sa_index"] == 0xffffffff else v["sa_index"])' "$1"
}
# spd_host_check [PINS]: "consistent N" when esptag_spd_host holds exactly
# the host policies of the LPM with their values (tests/lib/spd_host.py).
spd_host_check() {
	$PY "$ROOT/tests/lib/spd_host.py" check "${1:-$PINS}" 2>&1
}
# sa_index_of DST SPI: the daemon's index of the outbound SA (dst, spi).
sa_index_of() {
	E -j state list | $PY -c '
import json, sys
m = [s["sa_index"] for s in json.load(sys.stdin)
     if s["dir"] == "out" and s["dst"] == sys.argv[1] and s["spi"] == int(sys.argv[2], 0)]
print(m[0] if len(m) == 1 else "none")' "$1" "$2"
}
# policy_field ID FIELD: a field of policy ID in esptag -j policy list.
policy_field() {
	E -j policy list | $PY -c '
import json, sys
for p in json.load(sys.stdin):
    if p["id"] == int(sys.argv[1]):
        v = p.get(sys.argv[2])
        print("none" if v is None else v)' "$1" "$2"
}
dp() { # dp COUNTER: data-path counter straight from the pinned per-CPU map
	bpftool -j map dump pinned "$PINS/esptag_stats" | $PY "$ROOT/tests/lib/counters.py" sum "$1"
}
# capture_start FILE: tcpdump on the agent's wire side (what leaves the box).
capture_start() {
	: >"$TMP/tcpdump.err"
	bg_start "$A" tcpdump -Z root --immediate-mode -i wire0 -U -n -w "$1" >/dev/null 2>>"$TMP/tcpdump.err"
	CAP_PID=${T_PIDS[-1]}
	wait_log "$TMP/tcpdump.err" "listening on"
}
capture_stop() {
	sleep 0.2 # settle: frames still on their way through the agent get captured
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
}
