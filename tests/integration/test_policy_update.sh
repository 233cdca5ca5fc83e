#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Re-pointing an outbound protect policy from SA1 to SA2 is atomic: under a
# fast ping (400 echo requests 2 ms apart), `esptag policy update` moves the
# policy in one esptag_spd_src update, and a capture on the agent's wire side
# (tests/lib/daemon_agent.sh) shows no clear ICMP frame at all, every echo
# request as ESP, first under SA1's SPI, then under SA2's, never back.
# Also: update to bypass and back to protect, and an update whose SA does not
# exist yet (fails closed: dropped, nothing in clear).
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
K3=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4 # every SA its own key
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"
POL="dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out"

start_agent --capacity 16
if ! start_daemon; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"

E -j monitor >"$TMP/monitor.json" 2>&1 &
T_PIDS+=($!)
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2001 $AEAD $K1 128 dir out &&
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2002 $AEAD $K2 128 dir out &&
E policy add $POL action protect spi 0x2001
t_eq setup_rc $? 0
S1=$(sa_index_of 192.0.2.2 0x2001)
S2=$(sa_index_of 192.0.2.2 0x2002)
ID=$(E -j policy list | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
t_eq policy_on_sa1 "$(spd_src_sa_index "$ID")" "$S1"

# --- update under a 2 ms ping ----------------------------------------------------
capture_start "$TMP/upd.pcap" || t_fail capture "tcpdump did not start"
b0=$(dp tx_bypass)
nsx "$H" ping -q -c 400 -i 0.002 -W 0.01 192.0.2.2 >/dev/null 2>&1 &
PING=$!
sleep 0.4 # pacing: the ping runs on SA 1 before the update
E policy update $POL action protect spi 0x2002
urc=$?
wait "$PING"
capture_stop
b1=$(dp tx_bypass)
t_eq update_rc "$urc" 0
t_eq policy_on_sa2 "$(spd_src_sa_index "$ID")" "$S2"
t_eq update_keeps_id "$(policy_field "$ID" id)" "$ID"
s=$($SUMMARY "$TMP/upd.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["plain_icmp"] == 0 and s["plain_ip"] == 0, "clear frames on the wire"' &&
	t_pass no_clear_frame_during_update || t_fail no_clear_frame_during_update "$s"
t_eq no_bypass_during_update "$((b1 - b0))" 0
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
o = s["spi_order"]
# SA1 first, then SA2, and every echo request went out as ESP.
assert [x[0] for x in o] == ["0x2001", "0x2002"], o
assert s["esp"] == 400, s["esp"]' &&
	t_pass frames_move_from_sa1_to_sa2 || t_fail frames_move_from_sa1_to_sa2 "$s"

# --- bypass and back: each an in-place update ----------------------------------
E policy update $POL action bypass &&
	[ "$(policy_field "$ID" action)" = bypass ] && [ "$(policy_field "$ID" id)" = "$ID" ]
t_eq update_to_bypass $? 0
E policy update $POL action protect spi 0x2001
t_eq update_back_to_sa1 "$(spd_src_sa_index "$ID")" "$S1"

# --- update to an SA not there yet: fails closed ----------------------------------
E policy update $POL action protect spi 0x2003 tmpl dst 192.0.2.2
t_eq update_to_missing_sa_rc $? 0
t_eq update_to_missing_sa_unresolved "$(spd_src_sa_index "$ID")" none
capture_start "$TMP/none.pcap" || t_fail capture "tcpdump did not start"
d0=$(dp tx_drop_no_sa)
nsx "$H" ping -q -c 20 -i 0.01 -W 0.01 192.0.2.2 >/dev/null 2>&1
capture_stop
d1=$(dp tx_drop_no_sa)
s=$($SUMMARY "$TMP/none.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["esp"] == 0 and s["plain_ip"] == 0, s' && [ $((d1 - d0)) -ge 20 ] &&
	t_pass missing_sa_fails_closed || t_fail missing_sa_fails_closed "$s tx_drop_no_sa +$((d1 - d0))"
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2003 $AEAD $K3 128 dir out
t_eq policy_picks_up_added_sa "$(spd_src_sa_index "$ID")" "$(sa_index_of 192.0.2.2 0x2003)"

# --- bad update changes nothing -------------------------------------------------
E policy update $POL action protect spi 0x2002 tmpl dst 192.0.2.2 aead x >/dev/null 2>&1
t_eq bad_update_exit_1 $? 1
E policy update dev eth0 src 192.0.2.0/24 dst 192.0.2.3/32 dir out action bypass >/dev/null 2>&1
t_eq update_of_missing_policy_exit_2 $? 2
t_eq bad_updates_change_nothing "$(spd_src_sa_index "$ID")" "$(sa_index_of 192.0.2.2 0x2003)"
grep -q "policy $ID updated" "$TMP/esptagd.log" && t_pass update_logged ||
	t_fail update_logged "$(tail -3 "$TMP/esptagd.log")"
wait_for 3 eval '[ "$(grep -c "\"policy-updated\"" "$TMP/monitor.json")" -ge 4 ]'
n=$(grep -c '"policy-updated"' "$TMP/monitor.json")
t_eq monitor_policy_updated_events "$n" 4
t_exit
