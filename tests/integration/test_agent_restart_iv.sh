#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# An agent restart never makes an outbound SA reuse a wire sequence number /
# IV under its key (docs/protocol.md 2.5):
#
#   ns h: eth0 (esptagd; root qdisc HTB with one slow class)
#     <-veth->  ns a: host0 [esptag-agent] wire0  <-veth->  ns p: wire1 (capture)
#
# Frames whose host sequence numbers were taken in one order reach the agent
# in another (2, 1, 3): the agent's IVDB renumbers the late one and runs
# ahead of the host's counter. After the agent restarts, esptagd re-installs
# the SA with the same key; every ESP frame on the wire must still carry a
# distinct (SPI, IV), across two restarts, and traffic must flow again. An SA
# whose safe restart number is beyond its sequence space (no ESN: 2^32 - 1)
# is not re-installed: it is removed (sa-expired event) and its traffic is
# dropped, never sent in clear; an ESN SA in the same state is re-installed.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require bpftool
t_require tc
# Host, agent and peer namespaces, the daemon's pins and socket: the shared
# set-up; this test adds a second peer address behind the same MAC.
. "$ROOT/tests/lib/daemon_agent.sh"
W="$PY $ROOT/tests/integration/ivdb_wire.py"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
ip -n "$H" neigh replace 192.0.2.3 lladdr "$PMAC" dev eth0 nud permanent
CAP=$TMP/wire.txt

start_agent() {
	bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 "$@" >>"$TMP/agent.log" 2>&1
	AGENT_PID=${T_PIDS[-1]}
}
stop_pid() { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
cfg_up() { bpftool -j map dump pinned "$PINS/esptag_cfg" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"] & 1)'; }
is_up() { [ "$(cfg_up)" = 1 ]; }
send() { nsx "$H" $W send "$1" "$2" "$3"; }	# DST PRIO TEXT
wire() { $W check "$CAP" "${1:-0}"; }		# JSON summary after SKIP ESP frames
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
nesp() { wire | jq_ 'd["esp"]'; }
sa_field() { # SPI FIELD: from esptag state list
	E -j state list | $PY -c '
import json, sys
for s in json.load(sys.stdin):
    if s["spi"] == int(sys.argv[1], 0) and s["dir"] == "out": print(s[sys.argv[2]]); break
else: print("none")' "$1" "$2"
}
seq_write() { # INDEX NEXT BASE: the sequence in the SA's esptag_sad value (no traffic meanwhile)
	local key val
	key=$($PY -c 'import struct,sys; print(" ".join("%d" % b for b in struct.pack("<I", int(sys.argv[1]))))' "$1")
	val=$(bpftool -j map lookup pinned "$PINS/esptag_sad" key $key | $PY -c '
import json, struct, sys
b = bytes(int(x, 16) for x in json.load(sys.stdin)["value"])
b = b[:80] + struct.pack("<QQ", int(sys.argv[1], 0), int(sys.argv[2], 0)) + b[96:]
print(" ".join("%d" % x for x in b))' "$2" "$3") || return 1
	bpftool map update pinned "$PINS/esptag_sad" key $key value $val
}
seq_slot() { # INDEX: "next base" of the SA's sequence (in its esptag_sad value)
	bpftool -j map lookup pinned "$PINS/esptag_sad" key $($PY -c 'import struct,sys; print(" ".join("%d" % b for b in struct.pack("<I", int(sys.argv[1]))))' "$1") |
		$PY -c 'import json,sys; v=json.load(sys.stdin)["formatted"]["value"]["seq"]; print(v["next"], v["base"])'
}
restarts() { grep -c "after the agent restart" "$TMP/esptagd.log"; }
# restart_agent: SIGKILL the agent, start a new one, wait for the re-install.
restart_agent() {
	local n0
	n0=$(restarts)
	stop_pid "$AGENT_PID" KILL
	start_agent --capacity 16
	wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up
}
# wire_esp_ge N [TIMEOUT=3]: the capture holds at least N ESP frames.
wire_esp_ge() { wait_for "${2:-3}" eval '[ "$(nesp)" -ge '"$1"' ]'; }
# reorder TAG: host numbers n, n+1, n+2 reach the agent as n+1, n, n+2.
reorder() {
	nsx "$H" $W drain eth0 0x10002	# class 1:2 now owes ~0.7 s
	local n0
	n0=$(nesp)
	send 192.0.2.2 0x10002 "$1-a"	# stamped n, waits in class 1:2
	send 192.0.2.2 0 "$1-b"		# stamped n + 1, reaches the agent first
	wire_esp_ge $((n0 + 2)) 5	# a, released by class 1:2, is out too
	send 192.0.2.2 0 "$1-c"
	wire_esp_ge $((n0 + 3))
}

start_daemon() {
	bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
		--hello-interval 200 >>"$TMP/esptagd.log" 2>&1 >/dev/null
	DAEMON_PID=${T_PIDS[-1]}
	wait_agent_status "$H" "$SOCK" && wait_for 5 is_up
}

start_agent --capacity 16
if ! start_daemon; then
	t_fail daemon_start "$(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
E -j monitor >"$TMP/monitor.json" 2>&1 &
T_PIDS+=("$!")
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	$AEAD $K1 128 dir out &&
	E state add dev eth0 src 192.0.2.1 dst 192.0.2.3 proto esp spi 0x1100 mode transport \
		$AEAD $K2 128 esn dir out &&
	E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x1000 &&
	E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.3/32 dir out action protect spi 0x1100
t_eq setup_sas "$?" 0
# HTB class 1:2 (SO_PRIORITY 0x10002) is slow (2000 bytes/s, no burst);
# everything else goes through 1:1 at once. The data path stamps the
# sequence number before the qdisc.
nsx "$H" tc qdisc add dev eth0 root handle 1: htb default 1 &&
	nsx "$H" tc class add dev eth0 parent 1: classid 1:1 htb rate 1gbit &&
	nsx "$H" tc class add dev eth0 parent 1: classid 1:2 htb rate 16kbit ceil 16kbit \
		burst 100 cburst 100
t_eq setup_qdisc "$?" 0
bg_start "$P" $W capture wire1 "$CAP" >/dev/null 2>"$CAP.ready"
wait_ready "$CAP.ready" || t_fail capture_ready "packet socket did not start"

# --- generation 1: host numbers 1..3 leave as IVs 2, 3, 4 -----------------------
reorder g1
t_eq reordered_frames_renumbered "$(wire | jq_ 'd["ivs"]')" "[2, 3, 4]"

# --- agent restart 1 --------------------------------------------------------
restart_agent && t_pass agent_restart_1 || t_fail agent_restart_1 "$(tail -3 "$TMP/esptagd.log")"
n=$(nesp)
send 192.0.2.2 0 g2-d
send 192.0.2.2 0 g2-e
wire_esp_ge $((n + 2))
sum=$(wire)
t_eq no_iv_reuse_after_restart "$(echo "$sum" | jq_ 'd["dups"]')" "[]"
t_eq traffic_flows_after_restart "$(wire "$n" | jq_ 'len(d["ivs"])')" 2
# The old agent handled host numbers 1..3 (n = 3): it may have used up to 6.
t_eq restart_ivs_above_old_agent "$(wire "$n" | jq_ 'd["ivs"]')" "[7, 8]"
IDX=$(sa_field 0x1000 sa_index)
t_eq seq_base_in_map "$(seq_slot "$IDX")" "9 7"

# --- generation 2 (reordered again), agent restart 2 ------------------------------
reorder g2
n=$(nesp)
restart_agent && t_pass agent_restart_2 || t_fail agent_restart_2 "$(tail -3 "$TMP/esptagd.log")"
send 192.0.2.2 0 g3-f
wire_esp_ge $((n + 1))
t_eq no_iv_reuse_after_second_restart "$(wire | jq_ 'd["dups"]')" "[]"
# base 7, next 12: the second agent may have used up to 16.
t_eq second_restart_ivs "$(wire "$n" | jq_ 'd["ivs"]')" "[17]"
t_eq esp_seq_matches_iv "$(wire | jq_ 'd["seq_mismatch"]')" "[]"
t_eq nothing_in_clear "$(wire | jq_ 'd["plain"]')" 0

# --- restart numbers beyond the sequence space -------------------------------------
# As if 2^31 frames had been sent since the install: a restart would need
# 2^32 + 1. Without ESN the SA cannot come back; with ESN it does.
seq_write "$(sa_field 0x1000 sa_index)" 0x80000001 1 &&
	seq_write "$(sa_field 0x1100 sa_index)" 0x80000001 1
t_eq seq_counters_written "$?" 0
restart_agent && t_pass agent_restart_3 || t_fail agent_restart_3 "$(tail -3 "$TMP/esptagd.log")"
grep -q "SA .*0x00001000.* cannot be re-installed" "$TMP/esptagd.log" &&
	t_pass exhausted_sa_logged || t_fail exhausted_sa_logged "$(tail -5 "$TMP/esptagd.log")"
t_eq exhausted_sa_removed "$(sa_field 0x1000 sa_index)" none
E -j agent sa | $PY -c '
import json, sys
spis = sorted(s["spi"] for s in json.load(sys.stdin))
assert spis == [0x1100], spis' && t_pass agent_holds_only_esn_sa ||
	t_fail agent_holds_only_esn_sa "$(E agent sa)"
t_eq esn_sa_restart_number "$(sa_field 0x1100 seq)" $((0x100000001))
n=$(nesp)
send 192.0.2.2 0 g4-dead
send 192.0.2.3 0 g4-esn	# sent after g4-dead: once it is out, g4-dead was handled
wire_esp_ge $((n + 1))
# Only the ESN SA's frame reaches the wire, at its restart number.
t_eq exhausted_sa_sends_nothing "$(wire "$n" | jq_ 'd["spi_iv"]')" "[[$((0x1100)), $((0x100000001))]]"
t_eq nothing_in_clear_after_exhaustion "$(wire | jq_ 'd["plain"]')" 0
t_eq no_iv_reuse_overall "$(wire | jq_ 'd["dups"]')" "[]"
wait_log "$TMP/monitor.json" '"sa-expired"'
$PY - "$TMP/monitor.json" <<'EOF' && t_pass sa_expired_event || t_fail sa_expired_event "$(tail -c 400 "$TMP/monitor.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert any(e["event"] == "sa-expired" and e.get("spi") == 0x1000 for e in ev), ev[-5:]
EOF

# --- the restart base lives in the pinned map: a daemon restart keeps it -----------
IDX=$(sa_field 0x1100 sa_index)
before=$(seq_slot "$IDX")
kill -KILL "$DAEMON_PID" 2>/dev/null
wait "$DAEMON_PID" 2>/dev/null
rm -f "$SOCK"
start_daemon || t_fail daemon_restart "$(tail -5 "$TMP/esptagd.log")"
t_eq seq_base_survives_daemon_restart "$(seq_slot "$(sa_field 0x1100 sa_index)")" "$before"
t_eq seq_base_is_restart_number "${before#* }" $((0x100000001))
t_exit
