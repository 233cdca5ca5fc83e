#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# SA lifetimes and what an IKE daemon needs of the SA side, on one esptagd +
# esptag-agent (tests/lib/daemon_agent.sh):
#  - state allocspi: SPIs unique, in the range, reserved (a second request
#    for a one-SPI range fails), taken by an inbound state add (which may not
#    name another reqid), released by state del, expired after
#    --spi-reserve-time;
#  - exact hard limits: packet-hard N lets N echo requests out as ESP and
#    drops the next (tx_drop_limit), nothing in clear on the wire; byte-hard
#    counts the IP packets (84 bytes per 56-byte ping); monitor -j shows
#    sa-soft-expired (limit packets) before sa-expired (limit packets) and
#    sa-removed, each with spi, dir, src, dst, reqid; the SA is gone from
#    state list, the agent and esptag_sad;
#  - inbound: byte-hard takes 3 small frames, drops a 4th that would pass
#    it (rx_drop_limit);
#  - time-soft / time-hard: the events in that order, then the SA is gone;
#  - state get reports cur bytes / packets of known traffic, add and use
#    time; state update changes a limit (and refuses keys);
#  - manual keys: a key used once is refused for any other SA, also after
#    the first SA was deleted, and twice in one batch;
#  - algorithms an SA cannot have are refused naming what esptag supports.
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
. "$ROOT/tests/lib/daemon_agent.sh"
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"
# every SA its own key: key N -> 20 bytes of key+salt, distinct for each N
key() { printf '0x%08x%024x%08x' "$1" "$(($1 * 7919))" "$(($1 + 1))"; }
POL="dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out"
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
ev_lines() { # SPI: the monitor's SA events of that SPI as "event/limit" lines
	$PY -c '
import json, sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("spi") == int(sys.argv[2], 0) and e["event"].startswith("sa-"):
        print(e["event"] + ("/" + e["limit"] if "limit" in e else ""))' "$TMP/monitor.json" "$1"
}
ev_field() { # SPI EVENT FIELD
	$PY -c '
import json, sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("spi") == int(sys.argv[2], 0) and e["event"] == sys.argv[3]:
        print(e.get(sys.argv[4])); break' "$TMP/monitor.json" "$1" "$2" "$3"
}
in_list() { E -j state list | jq_ "len([s for s in d if s['spi'] == $1])"; }
in_agent() { E -j agent sa | jq_ "len([s for s in d if s['spi'] == $1])"; }
pings() { nsx "$H" ping -q -c "$1" -i "${2:-0.05}" -W 0.05 192.0.2.2 >/dev/null 2>&1; }

start_agent --capacity 64
if ! start_daemon --spi-reserve-time 2; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"
E -j monitor >"$TMP/monitor.json" 2>&1 &
T_PIDS+=($!)
sleep 0.2

# --- allocspi ---------------------------------------------------------------------
a1=$(E -j state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp | jq_ 'd["spi"]')
a2=$(E -j state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp | jq_ 'd["spi"]')
[ -n "$a1" ] && [ -n "$a2" ] && [ "$a1" != "$a2" ] &&
	[ "$a1" -ge $((0xc0000000)) ] && [ "$a1" -le $((0xcfffffff)) ] &&
	t_pass allocspi_unique_in_default_range || t_fail allocspi_unique_in_default_range "$a1 $a2"
out=$(E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3000 max 0x3000)
grep -q "^src 192.0.2.2 dst 192.0.2.1$" <<<"$out" && grep -q "proto esp spi 0x00003000 reqid 0 mode transport" <<<"$out" &&
	t_pass allocspi_text_as_ip_xfrm || t_fail allocspi_text_as_ip_xfrm "$out"
E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3000 max 0x3000 >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -ne 0 ] && grep -q "no free SPI" "$TMP/err" && t_pass allocspi_reserved_not_given_twice ||
	t_fail allocspi_reserved_not_given_twice "rc $rc $(cat "$TMP/err")"
# an inbound add takes the reservation: the SPI stays held (now by the SA)
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x3000 $AEAD "$(key 101)" 128 dir in
t_eq add_takes_reserved_spi $? 0
sleep 2.5 # longer than --spi-reserve-time: only the SA can hold it now
E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3000 max 0x3000 >/dev/null 2>&1
t_eq spi_of_sa_not_given $? 3
E state del dev eth0 dst 192.0.2.1 proto esp spi 0x3000
# reserved for reqid 7: an inbound SA with reqid 8, or an outbound one, is refused
E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3001 max 0x3001 reqid 7 >/dev/null
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x3001 reqid 8 $AEAD "$(key 102)" 128 dir in >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && grep -q "reserved (state allocspi) for an inbound SA with reqid 7" "$TMP/err" &&
	t_pass add_of_spi_reserved_for_other_refused || t_fail add_of_spi_reserved_for_other_refused "rc $rc $(cat "$TMP/err")"
t_eq refused_add_adds_nothing "$(in_list 0x3001)" 0
# state del releases a reservation that never became an SA
E state del dev eth0 dst 192.0.2.1 proto esp spi 0x3001
t_eq del_releases_reservation $? 0
E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3001 max 0x3001 >/dev/null
t_eq released_spi_given_again $? 0
# reservations expire
sleep 2.5
E state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x3001 max 0x3001 >/dev/null
t_eq reservation_expires $? 0

# --- exact packet-hard, soft before hard, nothing in clear ---------------------------
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4001 reqid 41 $AEAD "$(key 103)" 128 \
	limit packet-soft 3 limit packet-hard 5 dir out &&
	E policy add $POL action protect spi 0x4001
t_eq setup_packet_hard $? 0
t_eq packet_hard_in_map "$(bpftool -j map lookup pinned "$PINS/esptag_sad" key $($PY -c 'import struct,sys; print(" ".join("%d" % b for b in struct.pack("<I", int(sys.argv[1]))))' "$(sa_index_of 192.0.2.2 0x4001)") |
	jq_ 'd["formatted"]["value"]["life"]["hard_packets"]')" 5
capture_start "$TMP/ph.pcap" || t_fail capture "tcpdump did not start"
l0=$(($(dp tx_drop_limit) + $(dp tx_drop_no_sa)))
pings 9 0.1
capture_stop
l1=$(($(dp tx_drop_limit) + $(dp tx_drop_no_sa)))
s=$($SUMMARY "$TMP/ph.pcap")
t_eq packet_hard_exactly_5_esp "$(jq_ 'd["by_spi"].get("0x4001", 0)' <<<"$s")" 5
t_eq packet_hard_nothing_clear "$(jq_ 'd["plain_ip"]' <<<"$s")" 0
# the 6th at the limit in the data path, the rest once the SA is gone
t_eq packet_hard_rest_dropped "$((l1 - l0))" 4
wait_for 3 eval '[ "$(in_list 0x4001)" = 0 ]' && t_pass packet_hard_sa_gone || t_fail packet_hard_sa_gone "$(E state list)"
t_eq packet_hard_gone_from_agent "$(in_agent 0x4001)" 0
wait_for 3 eval 'ev_lines 0x4001 | grep -q sa-removed'
t_eq packet_events_in_order "$(ev_lines 0x4001 | tr '\n' ' ')" "sa-added sa-soft-expired/packets sa-expired/packets sa-removed "
t_eq expire_event_fields "$(for f in dir src dst reqid proto; do ev_field 0x4001 sa-expired $f; done | tr '\n' ' ')" \
	"out 192.0.2.1 192.0.2.2 41 esp "
E policy del $POL

# --- exact byte-hard: IP bytes as XFRM counts them ---------------------------------------
# 4 pings fit (4 * 84 bytes), the 5th would pass the limit: dropped there,
# in the data path, before esptagd removes the SA
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4002 $AEAD "$(key 104)" 128 \
	limit byte-hard $((84 * 4 + 50)) dir out && E policy add $POL action protect spi 0x4002
capture_start "$TMP/bh.pcap" || t_fail capture "tcpdump did not start"
l0=$(dp tx_drop_limit) n0=$(dp tx_drop_no_sa)
pings 7 0.1
capture_stop
l1=$(dp tx_drop_limit) n1=$(dp tx_drop_no_sa)
s=$($SUMMARY "$TMP/bh.pcap")
t_eq byte_hard_exactly_4_esp "$(jq_ 'd["by_spi"].get("0x4002", 0)' <<<"$s")" 4
# the 5th (and what follows until esptagd removed the SA) at the limit, the rest without SA
[ $((l1 - l0)) -ge 1 ] && [ $((l1 - l0 + n1 - n0)) -eq 3 ] && t_pass byte_hard_5th_dropped_at_limit ||
	t_fail byte_hard_5th_dropped_at_limit "tx_drop_limit +$((l1 - l0)) tx_drop_no_sa +$((n1 - n0))"
t_eq byte_hard_nothing_clear "$(jq_ 'd["plain_ip"]' <<<"$s")" 0
wait_for 3 eval 'ev_lines 0x4002 | grep -q sa-removed'
t_eq byte_events "$(ev_lines 0x4002 | tr '\n' ' ')" "sa-added sa-expired/bytes sa-removed "
E policy del $POL

# --- inbound packet-hard ---------------------------------------------------------------
# three 31-byte packets (IP header, UDP, 3 bytes) fit in 100, a fourth of
# 128 bytes does not
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x4003 $AEAD "$(key 105)" 128 \
	limit byte-hard 100 replay-window 32 dir in
IN_IDX=$(E -j state list | jq_ '[s["sa_index"] for s in d if s["spi"] == 0x4003][0]')
HMAC=$(ip -n "$H" -br link show eth0 | awk '{print $3}')
r0=$(dp rx_ok)
l0=$(dp rx_drop_limit)
for seq in 1 2 3 4; do
	[ $seq = 4 ] && txt=big:100 || txt=in$seq
	nsx "$A" $PY "$ROOT/tests/integration/rx_frames.py" send host0 "$HMAC" 192.0.2.2 192.0.2.1 4789 $txt "$IN_IDX" 0x4003 $seq
done
sleep 0.1
t_eq rx_byte_hard_3_accepted "$(($(dp rx_ok) - r0))" 3
t_eq rx_byte_hard_4th_dropped "$(($(dp rx_drop_limit) - l0))" 1
wait_for 3 eval '[ "$(in_list 0x4003)" = 0 ]' && t_pass rx_byte_hard_sa_gone || t_fail rx_byte_hard_sa_gone "$(E state list)"
wait_for 3 eval 'ev_lines 0x4003 | grep -q sa-removed'
t_eq rx_events "$(ev_lines 0x4003 | tr '\n' ' ')" "sa-added sa-expired/bytes sa-removed "

# --- time-soft, time-hard --------------------------------------------------------------
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4004 reqid 44 $AEAD "$(key 106)" 128 \
	limit time-soft 1 limit time-hard 2 dir out
wait_for 6 eval 'ev_lines 0x4004 | grep -q sa-removed' || t_fail time_events_seen "$(ev_lines 0x4004)"
t_eq time_events_in_order "$(ev_lines 0x4004 | tr '\n' ' ')" "sa-added sa-soft-expired/time sa-expired/time sa-removed "
t_eq time_hard_sa_gone "$(in_list 0x4004)" 0
t_eq time_hard_gone_from_agent "$(in_agent 0x4004)" 0

# --- state get: current use, add and use time; state update -----------------------------
t0=$(date +%s)
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4005 $AEAD "$(key 107)" 128 dir out &&
	E policy add $POL action protect spi 0x4005
g=$(E -j state get dst 192.0.2.2 spi 0x4005 dir out)
t_eq get_unused "$(jq_ 'd[0]["current"]["packets"], d[0]["current"]["bytes"], d[0]["current"]["use_time"]' <<<"$g")" "(0, 0, 0)"
sleep 1.1
pings 6 0.05
t1=$(date +%s)
g=$(E -j state get dst 192.0.2.2 spi 0x4005 dir out)
t_eq get_cur_after_6_pings "$(jq_ 'd[0]["current"]["packets"], d[0]["current"]["bytes"]' <<<"$g")" "(6, 504)"
add=$(jq_ 'd[0]["current"]["add_time"]' <<<"$g")
use=$(jq_ 'd[0]["current"]["use_time"]' <<<"$g")
# Seconds, turned from the data path's monotonic clock into wall-clock time:
# the truncation of both may put a time 1 s before the shell's reading.
[ "$add" -ge $((t0 - 1)) ] && [ "$add" -le "$t1" ] && [ "$use" -gt "$add" ] && [ "$use" -le $((t1 + 1)) ] &&
	t_pass get_add_and_use_time || t_fail get_add_and_use_time "t0 $t0 add $add use $use t1 $t1"
E state get dst 192.0.2.2 spi 0x4005 dir out >"$TMP/get.txt"
grep -q "lifetime current:" "$TMP/get.txt" && grep -q "504(bytes), 6(packets)" "$TMP/get.txt" &&
	t_pass get_text_lifetime || t_fail get_text_lifetime "$(cat "$TMP/get.txt")"
E state update src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4005 limit packet-hard 8 limit byte-soft 100000 >/dev/null
t_eq update_rc $? 0
g=$(E -j state get dst 192.0.2.2 spi 0x4005 dir out)
t_eq update_sets_limits "$(jq_ 'd[0]["limits"]["packet_hard"], d[0]["limits"]["byte_soft"], d[0]["current"]["packets"]' <<<"$g")" "(8, 100000, 6)"
capture_start "$TMP/up.pcap" || t_fail capture "tcpdump did not start"
pings 4 0.1
capture_stop
t_eq update_limit_holds_exactly "$($SUMMARY "$TMP/up.pcap" | jq_ 'd["by_spi"].get("0x4005", 0)')" 2
E state update dst 192.0.2.2 proto esp spi 0x4006 limit packet-hard 8 >/dev/null 2>&1
t_eq update_missing_sa_exit_2 $? 2
E state update dst 192.0.2.2 proto esp spi 0x4005 aead 'rfc4106(gcm(aes))' "$(key 108)" 128 >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] && grep -q "cannot change keys" "$TMP/err" && t_pass update_refuses_keys ||
	t_fail update_refuses_keys "rc $rc $(cat "$TMP/err")"
E policy del $POL

# --- manual keys: never twice ----------------------------------------------------------
K=$(key 109)
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4010 $AEAD "$K" 128 dir out
t_eq first_use_of_key $? 0
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x4011 $AEAD "$K" 128 dir in 2>"$TMP/err"
rc=$?
[ $rc -eq 2 ] && grep -q "already used by an SA of this esptagd" "$TMP/err" &&
	t_pass same_key_other_sa_refused || t_fail same_key_other_sa_refused "rc $rc $(cat "$TMP/err")"
E state del dev eth0 dst 192.0.2.2 proto esp spi 0x4010
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4010 $AEAD "$K" 128 dir out 2>/dev/null
t_eq readd_after_delete_refused $? 2
K2=$(key 110)
printf 'state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4012 %s %s 128 dir out\nstate add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4013 %s %s 128 dir out\n' \
	"$AEAD" "$K2" "$AEAD" "$K2" | E -b - 2>"$TMP/err"
rc=$?
[ $rc -ne 0 ] && grep -q "same key and salt" "$TMP/err" && [ "$(in_list 0x4012)" = 0 ] &&
	t_pass same_key_in_one_batch_refused || t_fail same_key_in_one_batch_refused "rc $rc $(cat "$TMP/err")"
grep -q "${K#0x}" "$TMP/esptagd.log" && t_fail no_key_in_log "key in the daemon log" || t_pass no_key_in_log

# --- algorithms an SA cannot have ---------------------------------------------------------
B="state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4020 dir out"
for alg in "enc cbc(aes) 0x0102030405060708090a0b0c0d0e0f10" \
	   "aead rfc7539esp(chacha20,poly1305) 0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2001020304 128" \
	   "aead rfc4106(gcm(aes)) $(key 111) 64" "aead rfc4106(gcm(aes)) $(key 112) 96"; do
	E $B $alg >/dev/null 2>"$TMP/err"
	rc=$?
	case $alg in enc*) n=cbc ;; *chacha*) n=chacha20 ;; *" 64") n=icv64 ;; *) n=icv96 ;; esac
	[ $rc -eq 1 ] && grep -q "AES-GCM with a 16-byte ICV and a 128- or 256-bit key" "$TMP/err" &&
		t_pass "refused_$n" || t_fail "refused_$n" "rc $rc $(cat "$TMP/err")"
done
t_eq refused_algs_add_nothing "$(in_list 0x4020)" 0
t_exit
