#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Trap policies and acquires, and policy use times (esptagd + esptag-agent,
# tests/lib/daemon_agent.sh).
#   - `policy add ... dir out tmpl src S dst D proto esp reqid N mode M`
#     with no such SA is accepted: a trap policy. Its packets are dropped
#     (tx_drop_trap; nothing on the wire, neither clear nor ESP) and the
#     first one raises one acquire on the monitor (text and -j: reqid,
#     policy id, the packet's addresses, IP protocol); more packets raise
#     no more while it is in flight;
#   - an SA with the reqid: the policy uses it (ESP on the wire) and the
#     acquire is re-armed: after the SA is deleted, the next packet raises
#     exactly one new acquire (protocol of that packet: UDP);
#   - policy get (text, -j) and policy list give use_time: the last packet
#     through the policy (within the last seconds), none for an unused one;
#     policy get of a missing selector exits 2;
#   - after a daemon restart (SIGKILL) the policy is back on its SA, knows
#     its reqid again and moves to the next SA added with it.
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"
SEL="dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out"

start_agent --capacity 16
if ! start_daemon; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"
E -j monitor >"$TMP/mon.json" 2>&1 &
T_PIDS+=($!)
E monitor >"$TMP/mon.txt" 2>&1 &
T_PIDS+=($!)
sleep 0.3 # pacing: both monitors connected before the first event
acquires() { grep -c '"acquire"' "$TMP/mon.json"; }

E policy add $SEL tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 42 mode transport
t_eq trap_policy_added $? 0
E policy add dev eth0 src 192.0.2.2/32 dst 192.0.2.1/32 dir in action bypass
ID=$(E -j policy list | $PY -c '
import json,sys; print([p["id"] for p in json.load(sys.stdin) if p["dir"] == "out"][0])')
t_eq trap_without_sa "$(spd_src_sa_index "$ID")" none

# --- the trap: dropped, one acquire -----------------------------------------------
capture_start "$TMP/trap.pcap" || t_fail capture "tcpdump did not start"
d0=$(dp tx_drop_trap)
nsx "$H" ping -q -c 20 -i 0.01 -W 0.01 192.0.2.2 >/dev/null 2>&1
capture_stop
d1=$(dp tx_drop_trap)
t_eq trap_drops_every_packet "$((d1 - d0))" 20
s=$($SUMMARY "$TMP/trap.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["esp"] == 0 and s["plain_ip"] == 0, s' && t_pass trap_nothing_on_wire || t_fail trap_nothing_on_wire "$s"
wait_for 3 eval '[ "$(acquires)" -ge 1 ]'
t_eq one_acquire_in_flight "$(acquires)" 1
$PY - "$TMP/mon.json" "$ID" <<'EOF' && t_pass acquire_json_fields || t_fail acquire_json_fields "$(grep acquire "$TMP/mon.json")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if '"acquire"' in l]
e = evs[0]
assert e["reqid"] == 42 and e["policy_id"] == int(sys.argv[2]), e
assert e["src"] == "192.0.2.1" and e["dst"] == "192.0.2.2" and e["proto"] == 1, e
EOF
wait_for 3 grep -q "acquire" "$TMP/mon.txt"
t_check acquire_text grep -q "acquire reqid 42 policy $ID proto 1 src 192.0.2.1 dst 192.0.2.2" "$TMP/mon.txt"
grep -q "acquire: policy $ID reqid 42" "$TMP/esptagd.log" && t_pass acquire_logged ||
	t_fail acquire_logged "$(tail -3 "$TMP/esptagd.log")"

# --- an SA with the reqid: used, and the acquire re-armed -----------------------------
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4001 reqid 42 mode transport $AEAD $K1 128 dir out
t_eq sa_resolves_trap "$(spd_src_sa_index "$ID")" "$(sa_index_of 192.0.2.2 0x4001)"
capture_start "$TMP/sa.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 10 -i 0.01 -W 0.01 192.0.2.2 >/dev/null 2>&1
capture_stop
s=$($SUMMARY "$TMP/sa.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["esp"] == 10 and s["plain_ip"] == 0, s' && t_pass sa_carries_traffic || t_fail sa_carries_traffic "$s"
E state del dev eth0 dst 192.0.2.2 proto esp spi 0x4001 dir out
t_eq trap_again "$(spd_src_sa_index "$ID")" none
t_eq trap_again_spd_host "$($PY "$ROOT/tests/lib/spd_host.py" get "$PINS" "$ID")" "2 none 1"
nsx "$H" $PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
    s.sendto(b"x", ("192.0.2.2", 9999))'
wait_for 3 eval '[ "$(acquires)" -ge 2 ]'
t_eq rearmed_one_more_acquire "$(acquires)" 2
$PY -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if "\"acquire\"" in l]
assert evs[-1]["proto"] == 17, evs[-1]' "$TMP/mon.json" && t_pass second_acquire_udp ||
	t_fail second_acquire_udp "$(grep acquire "$TMP/mon.json" | tail -1)"

# --- use time -----------------------------------------------------------------
now=$(date +%s)
ut=$(E -j policy get $SEL | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["use_time"])')
[ -n "$ut" ] && [ "$ut" != None ] && [ "$ut" -le "$now" ] && [ "$ut" -ge $((now - 10)) ] &&
	t_pass policy_get_use_time || t_fail policy_get_use_time "use_time '$ut' now $now"
t_eq policy_list_use_time "$(policy_field "$ID" use_time)" "$ut"
E policy add dev eth0 src 192.0.2.1/32 dst 198.51.100.0/24 dir out action bypass
t_eq unused_policy_no_use_time "$(E -j policy get dev eth0 src 192.0.2.1/32 dst 198.51.100.0/24 dir out |
	$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["use_time"])')" None
txt=$(E policy get $SEL)
case "$txt" in
*"reqid 42"*" use 20"*" id $ID"*) t_pass policy_get_text ;;
*) t_fail policy_get_text "$txt" ;;
esac
E policy get dev eth0 src 192.0.2.1/32 dst 192.0.2.3/32 dir out >/dev/null 2>&1
t_eq policy_get_missing_exit_2 $? 2

# --- daemon restart: the policy still follows its reqid -----------------------------
K3=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4	# every SA its own key
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4002 reqid 42 mode transport $AEAD $K3 128 dir out
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
rm -f "$SOCK"
if start_daemon; then t_pass daemon_restart; else t_fail daemon_restart "$(tail -5 "$TMP/esptagd.log")"; fi
wait_for 5 is_up
t_eq recovered_on_its_sa "$(spd_src_sa_index "$ID")" "$(sa_index_of 192.0.2.2 0x4002)"
t_eq recovered_reqid "$(policy_field "$ID" reqid)" 42
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4003 reqid 42 mode transport $AEAD $K2 128 dir out
t_eq recovered_follows_new_sa "$(spd_src_sa_index "$ID")" "$(sa_index_of 192.0.2.2 0x4003)"
# Both are host policies: their exact-match entries (esptag_spd_host) agree.
t_eq recovered_spd_host "$(spd_host_check)" "consistent 2"
t_exit
