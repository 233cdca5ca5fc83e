#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A non-ESN SA expires before its 32-bit sequence number would wrap. esptagd
# runs with --seq-start (its testing knob: outbound SAs start at that number,
# which only skips numbers) just below the hard margin
# (ESPTAG_SEQ32_HARD_LEFT = 65536 numbers left): the SA soft-expires at once
# (limit seq: fewer than 2^28 numbers left), carries 20 pings as ESP with
# numbers from the start up, then expires hard and is removed; nothing goes
# out in clear, no number on the wire is 0 or beyond 2^32 - 1. An ESN SA with
# the same start is left alone.
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
. "$ROOT/tests/lib/daemon_agent.sh"
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"
START=$((0xffffffff - 65536 - 19))
key() { printf '0x%08x%024x%08x' "$1" "$(($1 * 7919))" "$(($1 + 1))"; }
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
ev_lines() {
	$PY -c '
import json, sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("spi") == int(sys.argv[2], 0) and e["event"].startswith("sa-"):
        print(e["event"] + ("/" + e["limit"] if "limit" in e else ""))' "$TMP/monitor.json" "$1"
}

start_agent --capacity 16
if ! start_daemon --seq-start "$START"; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"
E -j monitor >"$TMP/monitor.json" 2>&1 &
T_PIDS+=($!)
sleep 0.2

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5001 $AEAD "$(key 1)" 128 dir out &&
	E state add dev eth0 src 192.0.2.1 dst 198.51.100.9 proto esp spi 0x5002 $AEAD "$(key 2)" 128 flag esn dir out &&
	E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x5001
t_eq setup $? 0
t_eq starts_at_knob "$(E -j state get dst 192.0.2.2 spi 0x5001 dir out | jq_ 'd[0]["seq"]')" "$START"
wait_for 2 eval 'ev_lines 0x5001 | grep -q sa-soft-expired/seq' && t_pass soft_expire_at_once ||
	t_fail soft_expire_at_once "$(ev_lines 0x5001)"
capture_start "$TMP/w.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 40 -i 0.05 -W 0.05 192.0.2.2 >/dev/null 2>&1
capture_stop
wait_for 3 eval 'ev_lines 0x5001 | grep -q sa-removed'
t_eq events_soft_then_hard "$(ev_lines 0x5001 | tr '\n' ' ')" "sa-added sa-soft-expired/seq sa-expired/seq sa-removed "
s=$($SUMMARY "$TMP/w.pcap")
t_eq nothing_clear "$(jq_ 'd["plain_ip"]' <<<"$s")" 0
n=$(jq_ 'd["by_spi"].get("0x5001", 0)' <<<"$s")
[ "$n" -ge 20 ] && [ "$n" -lt 40 ] && t_pass esp_until_the_margin || t_fail esp_until_the_margin "$n ESP frames"
seqs=$(tshark -n -r "$TMP/w.pcap" -Y esp -T fields -e esp.sequence 2>/dev/null)
$PY -c '
import sys
s = [int(x) for x in sys.argv[2].split()]
assert s and s[0] == int(sys.argv[1]) and s == sorted(s) and max(s) <= 0xffffffff, s[:3] + s[-3:]
' "$START" "$seqs" && t_pass wire_numbers_from_start_below_wrap || t_fail wire_numbers_from_start_below_wrap "$seqs"
t_eq sa_gone "$(E -j state list | jq_ 'len([x for x in d if x["spi"] == 0x5001])')" 0
t_eq esn_sa_untouched "$(ev_lines 0x5002 | tr '\n' ' ')" "sa-added "
t_eq esn_sa_kept "$(E -j state list | jq_ 'len([x for x in d if x["spi"] == 0x5002])')" 1
t_exit
