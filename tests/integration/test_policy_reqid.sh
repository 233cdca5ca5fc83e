#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Policies named by reqid follow their reqid: a rekey done in the order
# strongSwan's charon does it moves the traffic to the new SA pair with no
# gap, in the two-site lab (scripts/lab: esptagd + esptag-agent per site).
#
# Under a stream of UDP datagrams every 2 ms from A to an echo on B
# (protected both ways), 21 SA-pair swaps, each as charon does them: the
# responder B installs its new inbound SA; the initiator A does
# add_sa in (new), add_sa out (new), del_sa out (old); B, on the DELETE,
# installs its new outbound SA and deletes the old one; then both delete
# their old inbound SAs. Both sites' policies name their SA by reqid only
# (tmpl src, dst, reqid, mode). Checked:
#   - no datagram or answer lost, 0 clear frames on the wire (capture
#     between the sites), every frame ESP, A's frames under each
#     generation's SPI in order;
#   - after add_sa out (new) A's policy in esptag_spd_src holds the new SA's
#     index and the old SA's data-path counters do not move any more;
#     after del_sa out (old) it still does (never a removed SA);
#   - the newest SA deleted first: back to the remaining one; the last one
#     deleted: no SA, traffic dropped (tx_drop_trap), nothing in clear;
#   - an inbound policy with a template (tmpl ... reqid N) accepts what an
#     SA of that reqid decrypted and drops (rx_drop_tmpl) what an SA of
#     another reqid decrypted, as XFRM does; without templates the check
#     is off (esptag_cfg IN_TMPL clear);
#   - an SPI-named policy still refuses an ambiguous SPI (the old rule).
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
t_require bpftool
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
PY=/usr/bin/python3
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py"
REQID=7
SWAPS=21
AEAD="aead rfc4106(gcm(aes))"
TMP=$(tmp_new reqid)
PINS_A=/sys/fs/bpf/esptag-$LAB-A
UDP="$PY $ROOT/tests/integration/udp_peer.py"
ECHO_PID= STREAM_PID=
trap '[ -n "$ECHO_PID" ] && kill $ECHO_PID; [ -n "$STREAM_PID" ] && kill $STREAM_PID
	"$LABSH" down >/dev/null 2>&1; t_teardown' EXIT
if ! "$LABSH" up >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
A_IP=192.0.2.1 B_IP=192.0.2.2

key() { printf '0x%02x%030x%08x' "$1" "$2" "$((0xa0a0a0a0 + $2))"; } # key DIR GEN: 16 bytes + salt
AB_SPI() { printf '0x%x' $((0x1000 + $1)); }	# A -> B, generation g
BA_SPI() { printf '0x%x' $((0x2000 + $1)); }	# B -> A
sa() { # sa SITE add|del DIR(ab|ba) GEN: SITE's SA of that direction
	local site=$1 verb=$2 d=$3 g=$4 src dst spi k dir
	if [ "$d" = ab ]; then src=$A_IP dst=$B_IP spi=$(AB_SPI "$g") k=$(key 1 "$g")
	else src=$B_IP dst=$A_IP spi=$(BA_SPI "$g") k=$(key 2 "$g"); fi
	if { [ "$site" = A ] && [ "$d" = ab ]; } || { [ "$site" = B ] && [ "$d" = ba ]; }; then dir=out; else dir=in; fi
	if [ "$verb" = add ]; then
		L "$site" esptag state add dev pf0 src "$src" dst "$dst" proto esp spi "$spi" reqid $REQID \
			mode transport $AEAD "$k" 128 $([ "$dir" = in ] && echo replay-window 128) dir "$dir" 2>&1
	else
		L "$site" esptag state del dev pf0 dst "$dst" proto esp spi "$spi" dir "$dir" 2>&1
	fi
}
# spd_src_sa_index ID: the sa_index of A's policy ID in the pinned map
spd_src_sa_index() {
	bpftool -j map dump pinned "$PINS_A/esptag_spd_src" | $PY -c '
import json, sys
for e in json.load(sys.stdin):
    v = e["formatted"]["value"]
    if v["id"] == int(sys.argv[1]):
        print("none" if v["sa_index"] == 0xffffffff else v["sa_index"])' "$1"
}
# sa_index_of SPI: A's outbound SA with that SPI
sa_index_of() {
	L A esptag -j state list | $PY -c '
import json, sys
m = [s["sa_index"] for s in json.load(sys.stdin) if s["dir"] == "out" and s["spi"] == int(sys.argv[1], 0)]
print(m[0] if len(m) == 1 else "none")' "$1"
}
# out_packets GEN: data-path packets of A's outbound SA of GEN
out_packets() {
	L A esptag -j -s state list | $PY -c '
import json, sys
for s in json.load(sys.stdin):
    if s["dir"] == "out" and s["spi"] == int(sys.argv[1], 0):
        print(s["stats"]["packets"])' "$(AB_SPI "$1")"
}
dp() { L A esptag -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$1"; }

# --- generation 1 and the policies ---------------------------------------------
out=$(sa B add ab 1 && sa A add ba 1 && sa A add ab 1 && sa B add ba 1)
t_eq gen1_sas $? 0
for s in A B; do
	if [ $s = A ]; then me=$A_IP peer=$B_IP; else me=$B_IP peer=$A_IP; fi
	L $s esptag policy add dev pf0 src $peer/32 dst $me/32 dir in action protect &&
	L $s esptag policy add dev pf0 src $me/32 dst $peer/32 dir out \
		tmpl src $me dst $peer proto esp reqid $REQID mode transport || break
done
t_eq policies_by_reqid $? 0
ID=$(L A esptag -j policy list | $PY -c '
import json,sys; print([p["id"] for p in json.load(sys.stdin) if p["dir"] == "out"][0])')
t_eq policy_on_gen1 "$(spd_src_sa_index "$ID")" "$(sa_index_of "$(AB_SPI 1)")"
L A ping -q -c 3 -i 0.05 -W 1 $B_IP >"$TMP/ping0" 2>&1
t_check ping_through_esp grep -q " 0% packet loss" "$TMP/ping0"

# --- 21 swaps under a 2 ms stream -----------------------------------------------
L B $UDP echo $B_IP 7000 >"$TMP/echo" 2>"$TMP/echo.ready" &
ECHO_PID=$!
wait_log "$TMP/echo.ready" ready
lab_capture_start "$TMP/rekey.pcap" || t_fail capture "tcpdump did not start"
L A $UDP stream $A_IP 7001 $B_IP 7000 "$TMP/stop" >"$TMP/stream" 2>&1 &
STREAM_PID=$!
sleep 0.3 # pacing: the stream runs on generation 1 first
moved=0 stopped=0 kept=0 hosted=0 bad=""
step() { local o; o=$("$@") || bad="$bad [$*: $o]"; }
for ((g = 2; g <= SWAPS + 1; g++)); do
	o=$((g - 1))
	step sa B add ab "$g"		# the responder's new inbound SA
	step sa A add ba "$g"		# initiator: add_sa in (new)
	step sa A add ab "$g"		# add_sa out (new)
	new_idx=$(sa_index_of "$(AB_SPI "$g")")
	[ "$(spd_src_sa_index "$ID")" = "$new_idx" ] && moved=$((moved + 1))
	c0=$(out_packets "$o")
	sleep 0.05 # pacing: traffic runs on the new SA while the old one still exists
	c1=$(out_packets "$o")
	[ -n "$c0" ] && [ "$c0" = "$c1" ] && stopped=$((stopped + 1))
	step sa A del ab "$o"		# del_sa out (old)
	[ "$(spd_src_sa_index "$ID")" = "$new_idx" ] && kept=$((kept + 1))
	# The host policy's exact-match entry (esptag_spd_host) moved with it.
	[ "$($PY "$ROOT/tests/lib/spd_host.py" check "$PINS_A" | cut -d' ' -f1)" = consistent ] &&
		hosted=$((hosted + 1))
	step sa B add ba "$g"		# the responder on DELETE: new outbound,
	step sa B del ba "$o"		# old outbound removed
	step sa B del ab "$o"		# the old inbound SAs go
	step sa A del ba "$o"
done
sleep 0.2 # pacing: the stream runs on the last generation too
touch "$TMP/stop"
wait "$STREAM_PID"
STREAM_PID=
lab_capture_stop
t_eq swap_steps_ok "${bad:-none}" none
t_eq policy_moves_at_add_out "$moved" "$SWAPS"
t_eq old_sa_counters_stop_at_add_out "$stopped" "$SWAPS"
t_eq policy_stays_on_new_at_del_out "$kept" "$SWAPS"
t_eq spd_host_follows_every_rekey "$hosted" "$SWAPS"
read -r _ sent _ answered _ missing <"$TMP/stream"
t_eq nothing_lost "${missing:-?}" 0
[ "${sent:-0}" -ge 1000 ] && [ "$answered" = "$sent" ] && t_pass stream_ran_through_swaps ||
	t_fail stream_ran_through_swaps "$(cat "$TMP/stream")"
s=$($SUMMARY "$TMP/rekey.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["plain_ip"] == 0, "clear frames on the wire: %d" % s["plain_ip"]' 2>/dev/null &&
	t_pass no_clear_frame || t_fail no_clear_frame "$(echo "$s" | cut -c1-300)"
echo "$s" | $PY -c '
import json, sys
s, n = json.load(sys.stdin), int(sys.argv[1])
assert s["esp"] == 2 * int(sys.argv[2]), "esp frames %d, stream sent %s (x2 with the echo)" % (s["esp"], sys.argv[2])
# A sends under generation 1, 2, ... n + 1, in order, never back.
out = [int(x[0], 16) for x in s["spi_order"] if int(x[0], 16) < 0x2000]
runs = [x for i, x in enumerate(out) if i == 0 or out[i - 1] != x]
assert runs == list(range(0x1001, 0x1001 + len(runs))), runs
assert len(runs) == n + 1, runs' "$SWAPS" "${sent:-0}" 2>"$TMP/order.err" &&
	t_pass every_frame_esp_generations_in_order ||
	t_fail every_frame_esp_generations_in_order "$(tail -n 1 "$TMP/order.err" | cut -c1-300)"
t_eq one_outbound_sa_left "$(L A esptag -j state list | $PY -c '
import json,sys; print(len([s for s in json.load(sys.stdin) if s["dir"] == "out"]))')" 1

# --- the newest deleted first: back to the remaining one ------------------------
G=$((SWAPS + 1))
sa B add ab $((G + 1)) >/dev/null && sa A add ab $((G + 1)) >/dev/null
t_eq newest_used "$(spd_src_sa_index "$ID")" "$(sa_index_of "$(AB_SPI $((G + 1)))")"
sa A del ab $((G + 1)) >/dev/null
t_eq back_to_remaining "$(spd_src_sa_index "$ID")" "$(sa_index_of "$(AB_SPI "$G")")"
L A ping -q -c 5 -i 0.02 -W 1 $B_IP >"$TMP/ping2" 2>&1
t_check remaining_carries_traffic grep -q " 0% packet loss" "$TMP/ping2"

# --- the last one deleted: dropped, never clear -----------------------------------
lab_capture_start "$TMP/none.pcap" || t_fail capture "tcpdump did not start"
d0=$(dp tx_drop_trap)
sa A del ab "$G" >/dev/null
t_eq no_sa_left_policy_unresolved "$(spd_src_sa_index "$ID")" none
t_eq no_sa_left_spd_host "$($PY "$ROOT/tests/lib/spd_host.py" check "$PINS_A")" "consistent 2"
L A ping -q -c 10 -i 0.01 -W 0.01 $B_IP >/dev/null 2>&1
lab_capture_stop
d1=$(dp tx_drop_trap)
s=$($SUMMARY --from $A_IP "$TMP/none.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["esp"] == 0 and s["plain_ip"] == 0, s' && [ $((d1 - d0)) -ge 10 ] &&
	t_pass no_sa_fails_closed || t_fail no_sa_fails_closed "$s tx_drop_trap +$((d1 - d0))"

# --- inbound templates: the decrypting SA must be the policy's (XFRM) ------------
send_b_to_a() { L B $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(10):
    s.sendto(b"esptag %d" % i, (sys.argv[1], 9))' $A_IP; sleep 0.2; }
cfg_in_tmpl() { bpftool -j map dump pinned "$PINS_A/esptag_cfg" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"] >> 2 & 1)'; }
INPOL="dev pf0 src $B_IP/32 dst $A_IP/32 dir in"
L A esptag policy update $INPOL tmpl src $B_IP dst $A_IP proto esp reqid $REQID mode transport
t_eq in_template_accepted $? 0
t_eq in_template_sets_cfg_flag "$(cfg_in_tmpl)" 1
ok0=$(dp rx_ok) t0=$(dp rx_drop_tmpl)
send_b_to_a
t_eq in_template_right_reqid_accepted "$(($(dp rx_ok) - ok0))/$(($(dp rx_drop_tmpl) - t0))" 10/0
# B sends under an SA of reqid 8 (A holds it too): decrypted, then dropped.
L A esptag state add dev pf0 src $B_IP dst $A_IP proto esp spi 0x2fff reqid 8 mode transport \
	$AEAD "$(key 4 1)" 128 replay-window 128 dir in >/dev/null &&
L B esptag state add dev pf0 src $B_IP dst $A_IP proto esp spi 0x2fff reqid 8 mode transport \
	$AEAD "$(key 4 1)" 128 dir out >/dev/null &&
L B esptag policy update dev pf0 src $B_IP/32 dst $A_IP/32 dir out \
	tmpl src $B_IP dst $A_IP proto esp reqid 8 mode transport
t_eq other_reqid_setup $? 0
ok0=$(dp rx_ok) t0=$(dp rx_drop_tmpl)
send_b_to_a
t_eq in_template_other_reqid_dropped "$(($(dp rx_ok) - ok0))/$(($(dp rx_drop_tmpl) - t0))" 0/10
L A esptag policy update $INPOL tmpl src $B_IP dst $A_IP proto esp reqid 8
ok0=$(dp rx_ok) t0=$(dp rx_drop_tmpl)
send_b_to_a
t_eq in_template_updated_accepted "$(($(dp rx_ok) - ok0))/$(($(dp rx_drop_tmpl) - t0))" 10/0
t_eq in_template_listed "$(L A esptag -j policy list | $PY -c '
import json, sys
print([p.get("reqid") for p in json.load(sys.stdin) if p["dir"] == "in"][0])')" 8
L A esptag policy update $INPOL action protect
t_eq no_template_clears_cfg_flag "$(cfg_in_tmpl)" 0

# --- the old rule for SPI-named policies -----------------------------------------
L A esptag state add dev pf0 src $A_IP dst 198.51.100.2 proto esp spi 0x3000 mode tunnel $AEAD "$(key 3 1)" 128 dir out &&
L A esptag state add dev pf0 src $A_IP dst 203.0.113.2 proto esp spi 0x3000 mode tunnel $AEAD "$(key 3 2)" 128 dir out
out=$(L A esptag policy add dev pf0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out action protect spi 0x3000 2>&1)
t_eq ambiguous_spi_still_refused $? 2
t_exit
