#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the agent conformance suite (tests/conformance/conformance.py)
# against esptag-agent between two veth pairs:
#   [h] h0 ── host0 [a: esptag-agent --capacity 48 --port-limit 16] wire0 ── w0 [w]
# once in config protocol version 2 (wrapped keys, the agent's default) and
# once in version 1 against the agent restarted with --allow-v1 (its
# operator's permission). One PASS/FAIL line per protocol requirement and
# version (v2/..., v1/...).
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require nsenter
[ -x /usr/bin/python3 ] || { t_skip "$(basename "$0")" "needs /usr/bin/python3 (scapy)"; exit 77; }
AGENT=$BIN/esptag-agent
[ -x "$AGENT" ] || { t_skip "$(basename "$0")" "build first: make all"; exit 77; }
TMP=$(tmp_new) || exit 1

H=$(ns_new h) && A=$(ns_new a) && W=$(ns_new w) || { t_fail setup "netns"; t_exit; }
ip link add h0 netns "$H" type veth peer name host0 netns "$A" &&
	ip link add w0 netns "$W" type veth peer name wire0 netns "$A" || { t_fail setup "veth"; t_exit; }
for x in "$H h0" "$A host0" "$A wire0" "$W w0"; do
	set -- $x
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$1" link set "$2" mtu 9000 up
done

suite() { # VERSION [agent options...]: the agent started with them, the suite in VERSION
	local v=$1 pid
	shift
	: >"$TMP/agent.log"
	bg_start "$A" "$AGENT" --host host0 --wire wire0 --capacity 48 --port-limit 16 \
		--state-dir "$TMP/state" "$@" >/dev/null 2>"$TMP/agent.log"
	pid=${T_PIDS[-1]}
	wait_log "$TMP/agent.log" "running:" || { t_fail "v$v/agent_start" "$(tail -3 "$TMP/agent.log")"; return; }
	/usr/bin/python3 "$ROOT/tests/conformance/conformance.py" --host-ns "$H" --host-if h0 \
		--wire-ns "$W" --wire-if w0 --version "$v" | sed -E "s/^(PASS|FAIL|SKIP) /\1 v$v\//"
	[ "${PIPESTATUS[0]}" = 0 ] || T_FAILED=1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
suite 2
suite 1 --allow-v1
t_exit
