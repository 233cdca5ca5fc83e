#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptag-agent as a bump in the wire between two veth pairs:
#   [h] h0 ── host0 [a: esptag-agent] wire0 ── w0 [w]
# The test plays the host (config packets, tagged frames as the data path
# builds them) and the wire (capture). Checks (tests/agent/interop.py):
# the agent's ESP decrypts with scapy and with tshark (ICV checked) in
# transport/tunnel, IPv4/IPv6, GCM-128/256, ESN; a 64 KB TSO super-packet
# (injected through PACKET_VNET_HDR, tagged by a TC program) becomes correct
# segments with unique increasing sequence numbers; with --test-drop-config
# retried requests give exactly one SA each. Also: SIGUSR1 statistics,
# SIGTERM clean exit, a new epoch per start, no key byte in any log.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tshark
t_require nsenter
[ -x /usr/bin/python3 ] || { t_skip "$(basename "$0")" "needs /usr/bin/python3 (scapy)"; exit 77; }
AGENT=$BIN/esptag-agent
[ -x "$AGENT" ] && [ -x "$BUILD/tests/agent/tso_inject" ] ||
	{ t_skip "$(basename "$0")" "build first: make all"; exit 77; }
DRIVER=$ROOT/tests/agent/interop.py
TMP=$(tmp_new) || exit 1
export BUILD

H=$(ns_new h) && A=$(ns_new a) && W=$(ns_new w) || { t_fail setup "netns"; t_exit; }
ip link add h0 netns "$H" type veth peer name host0 netns "$A" &&
	ip link add w0 netns "$W" type veth peer name wire0 netns "$A" || { t_fail setup "veth"; t_exit; }
for x in "$H h0" "$A host0" "$A wire0" "$W w0"; do
	set -- $x
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$1" link set "$2" mtu 9000 up
done

AGENT_PID=
start_agent() { # start_agent LOG [args]
	local log=$1
	shift
	bg_start "$A" "$AGENT" --host host0 --wire wire0 "$@" >/dev/null 2>"$log"
	AGENT_PID=${T_PIDS[-1]}
	wait_log "$log" "running:" && return 0
	t_fail agent_start "$(tail -3 "$log")"
	t_exit
}
stop_agent() { # stop_agent NAME: SIGTERM, expect exit status 0
	local rc
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	rc=$?
	t_eq "$1/sigterm_clean_exit" "$rc" 0
}
drive() { /usr/bin/python3 "$DRIVER" "$@" --host-ns "$H" --host-if h0 --wire-ns "$W" --wire-if w0 --tmp "$TMP"; }

# One worker: this run checks that the wire carries the sequence number the
# host put in each tag. With several workers, frames of different flows may
# overtake each other and the agent then moves a late frame past its SA's
# IVDB (never reusing an IV); test_agent_workers covers that.
start_agent "$TMP/agent1.log" -v --cpus 1
epoch1=$(drive hello | sed -n 's/^EPOCH //p')
drive interop
drive tso
kill -USR1 "$AGENT_PID"
wait_log "$TMP/agent1.log" "counter tx_segments" && wait_log "$TMP/agent1.log" "esptag-agent: sa 0 port 0 dir out"
t_check sigusr1/counters_printed grep -q "counter tx_segments" "$TMP/agent1.log"
t_check sigusr1/per_sa_stats grep -q "esptag-agent: sa 0 port 0 dir out" "$TMP/agent1.log"
stop_agent run1

start_agent "$TMP/agent2.log" -v --test-drop-config 30
epoch2=$(drive hello | sed -n 's/^EPOCH //p')
if [ -n "$epoch1" ] && [ -n "$epoch2" ] && [ "$epoch1" != "$epoch2" ]; then
	t_pass epoch/changes_on_restart
else
	t_fail epoch/changes_on_restart "epochs '$epoch1' '$epoch2'"
fi
drive loss
kill -USR1 "$AGENT_PID"
wait_log "$TMP/agent2.log" "counter tx_segments"
stop_agent run2

# No key byte, in hex, ever reaches the logs (verbose, SIGUSR1 dumps included).
leak=0
cat "$TMP"/keys-*.txt | sort -u >"$TMP/keys"
nkeys=$(wc -l <"$TMP/keys")
while read -r k; do
	[ -n "$k" ] || continue
	for lg in "$TMP/agent1.log" "$TMP/agent2.log"; do
		tr -d ' :\n' <"$lg" | grep -qi "${k:0:16}" && leak=1
	done
done <"$TMP/keys"
if [ "$leak" -eq 0 ] && [ "$nkeys" -gt 20 ]; then
	t_pass logs/no_key_material
else
	t_fail logs/no_key_material "leak=$leak keys checked=$nkeys"
fi
t_exit
