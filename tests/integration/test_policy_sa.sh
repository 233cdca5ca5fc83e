#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A protect policy names its SA by SPI and the SA's destination (the peer),
# not by SPI alone: peers choose SPIs, so two outbound SAs toward different
# peers may share one (esptagd + esptag-agent, tests/lib/daemon_agent.sh).
#
#   - same SPI 0x1000 toward peer A (198.51.100.2) and peer B (203.0.113.2),
#     tunnel mode: "spi 0x1000" alone is refused (exit 2, nothing changed);
#     "tmpl dst PEER" resolves to exactly that SA: esptag_spd_src holds its
#     index, and the frames esptag_tx builds leave toward that peer;
#   - the SA a policy names is deleted while another SA with the same SPI
#     exists: the policy fails closed (no frame on the wire), it does not
#     switch; the same SA added again brings it back;
#   - the old spelling (spi alone, one SA) binds to that SA and stays on it
#     when a second SA with the SPI appears or the first goes away;
#   - after a daemon restart a recovered policy stays on its SA, and one
#     whose SA was gone stays unresolved (no guessing) until policy update;
#   - destination prefixes nesting deeper than the data path walks (8) are
#     refused (exit 3), so a rule further up is never skipped into bypass.
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"
KA=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
KB=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
# every SA its own key (esptagd refuses a key it has used): key N
key() { printf '0x%08x%024x%08x' "$1" "$(($1 * 7919))" "$(($1 + 1))"; }
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"

start_agent --capacity 16
if ! start_daemon; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"

sa_add() { # sa_add DST SPI KEY: outbound tunnel SA from 192.0.2.1
	E state add dev eth0 src 192.0.2.1 dst "$1" proto esp spi "$2" mode tunnel $AEAD "$3" 128 dir out
}
sa_add 198.51.100.2 0x1000 "$KA" && sa_add 203.0.113.2 0x1000 "$KB"
t_eq same_spi_two_peers_accepted $? 0
IA=$(sa_index_of 198.51.100.2 0x1000)
IB=$(sa_index_of 203.0.113.2 0x1000)
[ "$IA" != none ] && [ "$IB" != none ] && [ "$IA" != "$IB" ] && t_pass two_sa_indices ||
	t_fail two_sa_indices "A $IA B $IB"

# --- ambiguous: refused, nothing changed ------------------------------------
out=$(E policy add dev eth0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out action protect spi 0x1000 2>&1)
rc=$?
t_eq ambiguous_policy_exit_2 "$rc" 2
case "$out" in
*"fits 2 outbound SAs"*"tmpl dst"*) t_pass ambiguous_policy_message ;;
*) t_fail ambiguous_policy_message "$out" ;;
esac
n=$(E -j policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
m=$(bpftool -j map dump pinned "$PINS/esptag_spd_src" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq ambiguous_policy_changes_nothing "$n/$m" 0/0

# --- tmpl dst names exactly one SA ---------------------------------------------
E policy add dev eth0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out \
	tmpl src 192.0.2.1 dst 203.0.113.2 proto esp spi 0x1000 mode tunnel &&
E policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action protect spi 0x1000 \
	tmpl dst 198.51.100.2
t_eq tmpl_policy_add_rc $? 0
PB=$(E -j policy list | $PY -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin) if p["dst"] == "203.0.113.0/24"][0])')
PA=$(E -j policy list | $PY -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin) if p["dst"] == "198.51.100.0/24"][0])')
t_eq policy_b_daemon_sa_index "$(policy_field "$PB" sa_index)" "$IB"
t_eq policy_b_map_sa_index "$(spd_src_sa_index "$PB")" "$IB"
t_eq policy_a_map_sa_index "$(spd_src_sa_index "$PA")" "$IA"
t_eq policy_b_lists_tmpl_dst "$(policy_field "$PB" tmpl_dst)" 203.0.113.2

# What esptag_tx builds: the outer header (tunnel) goes to the named peer.
capture_start "$TMP/w1.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 3 -i 0.05 -W 0.1 203.0.113.9 >/dev/null 2>&1
nsx "$H" ping -q -c 5 -i 0.05 -W 0.1 198.51.100.9 >/dev/null 2>&1
capture_stop
s=$($SUMMARY "$TMP/w1.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
want = {"0x1000 203.0.113.2": 3, "0x1000 198.51.100.2": 5}
assert s["by_spi_dst"] == want and s["plain_ip"] == 0, s' &&
	t_pass frames_go_to_the_named_peer || t_fail frames_go_to_the_named_peer "$s"

# --- update with an ambiguous SPI: refused, the policy keeps its SA --------------
out=$(E policy update dev eth0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out action protect spi 0x1000 2>&1)
t_eq ambiguous_update_exit_2 $? 2
t_eq ambiguous_update_keeps_sa "$(spd_src_sa_index "$PB")" "$IB"

# --- the named SA goes: fail closed, never the other peer's SA --------------------
E state del dev eth0 dst 203.0.113.2 proto esp spi 0x1000 dir out
t_eq sa_b_del_rc $? 0
t_eq policy_b_unresolved_not_switched "$(spd_src_sa_index "$PB")" none
t_eq policy_a_unchanged "$(spd_src_sa_index "$PA")" "$IA"
d0=$(dp tx_drop_no_sa)
capture_start "$TMP/w2.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 4 -i 0.05 -W 0.1 203.0.113.9 >/dev/null 2>&1
capture_stop
d1=$(dp tx_drop_no_sa)
s=$($SUMMARY "$TMP/w2.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["esp"] == 0 and s["plain_ip"] == 0, s' && [ $((d1 - d0)) -ge 4 ] &&
	t_pass sa_gone_fails_closed || t_fail sa_gone_fails_closed "$s tx_drop_no_sa +$((d1 - d0))"
sa_add 203.0.113.2 0x1000 "$(key 2)"
IB=$(sa_index_of 203.0.113.2 0x1000)
t_eq policy_b_back_on_readded_sa "$(spd_src_sa_index "$PB")" "$IB"

# --- old spelling: spi alone, one SA: binds, and stays bound --------------------
sa_add 198.51.100.3 0x3000 "$(key 3)"
IC=$(sa_index_of 198.51.100.3 0x3000)
E policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.128/25 dir out action protect spi 0x3000
t_eq spi_alone_unique_rc $? 0
PC=$(E -j policy list | $PY -c 'import json,sys; print([p["id"] for p in json.load(sys.stdin) if p["dst"] == "198.51.100.128/25"][0])')
t_eq spi_alone_resolves "$(spd_src_sa_index "$PC")" "$IC"
sa_add 203.0.113.3 0x3000 "$(key 4)"
t_eq spi_alone_stays_on_its_sa "$(spd_src_sa_index "$PC")" "$IC"
E state del dev eth0 dst 198.51.100.3 proto esp spi 0x3000 dir out
t_eq spi_alone_sa_gone_not_switched "$(spd_src_sa_index "$PC")" none
# update names the other SA explicitly: one map write, the new index
E policy update dev eth0 src 192.0.2.0/24 dst 198.51.100.128/25 dir out action protect spi 0x3000 \
	tmpl dst 203.0.113.3
t_eq update_to_named_sa_rc $? 0
t_eq update_to_named_sa "$(spd_src_sa_index "$PC")" "$(sa_index_of 203.0.113.3 0x3000)"
t_eq update_keeps_policy_id "$(policy_field "$PC" id)" "$PC"
out=$(E policy update dev eth0 src 192.0.2.0/24 dst 192.0.2.128/25 dir out action bypass 2>&1)
t_eq update_missing_policy_exit_2 $? 2

# --- daemon restart: a recovered policy stays on its SA -------------------------
# PC's SA goes first: the restarted daemon cannot know which peer PC named.
E state del dev eth0 dst 203.0.113.3 proto esp spi 0x3000 dir out
t_eq pc_unresolved_before_restart "$(spd_src_sa_index "$PC")" none
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
rm -f "$SOCK"
if start_daemon; then t_pass daemon_restart; else t_fail daemon_restart "$(tail -5 "$TMP/esptagd.log")"; fi
wait_for 5 is_up
t_eq recovered_policy_b_map "$(spd_src_sa_index "$PB")" "$IB"
t_eq recovered_policy_b_tmpl_dst "$(policy_field "$PB" tmpl_dst)" 203.0.113.2
E state del dev eth0 dst 203.0.113.2 proto esp spi 0x1000 dir out
t_eq recovered_policy_not_switched "$(spd_src_sa_index "$PB")" none
# PC recovered without its SA: no guessing, even when one SA with its SPI
# appears; policy update names it.
sa_add 198.51.100.4 0x3000 "$(key 5)"
t_eq recovered_unbound_policy_no_guess "$(spd_src_sa_index "$PC")" none
E policy update dev eth0 src 192.0.2.0/24 dst 198.51.100.128/25 dir out action protect spi 0x3000 \
	tmpl dst 198.51.100.4
t_eq recovered_unbound_policy_updated "$(spd_src_sa_index "$PC")" "$(sa_index_of 198.51.100.4 0x3000)"

# --- nesting deeper than the data path walks is refused ---------------------------
# esptag_tx walks at most ESPTAG_SPD_DEPTH (8) destination nodes; a rule
# further up would be missed and its traffic sent in clear.
E policy flush
E policy add dev eth0 src 0.0.0.0/0 dst 203.0.113.0/24 dir out action discard
for l in 25 26 27 28 29 30 31; do
	E policy add dev eth0 src 198.51.100.0/24 dst 203.0.113.0/$l dir out action bypass || break
done
t_eq eight_nested_levels_accepted $? 0
out=$(E policy add dev eth0 src 198.51.100.0/24 dst 203.0.113.1/32 dir out action bypass 2>&1)
t_eq ninth_level_refused_exit_3 $? 3
case "$out" in
*"nest more than 8 deep"*) t_pass ninth_level_message ;;
*) t_fail ninth_level_message "$out" ;;
esac
d0=$(dp tx_drop_discard)
capture_start "$TMP/w3.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 3 -i 0.05 -W 0.1 203.0.113.1 >/dev/null 2>&1
capture_stop
d1=$(dp tx_drop_discard)
s=$($SUMMARY "$TMP/w3.pcap")
echo "$s" | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s["plain_ip"] == 0 and s["esp"] == 0, s' &&
	[ $((d1 - d0)) -ge 3 ] && t_pass deep_rule_still_applies ||
	t_fail deep_rule_still_applies "$s tx_drop_discard +$((d1 - d0))"
t_exit
