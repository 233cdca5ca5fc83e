#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# IKE passes, nothing else does in clear. Each site's esptagd has coarse
# policies for everything between the sites (out: discard, in: protect,
# that is, only decrypted packets, as docs/strongswan.md
# advises); charon (kernel-esptag) installs trap policies:
#  - before charon, a UDP datagram to the peer's port 500 from an ordinary
#    socket is dropped: only charon's own IKE sockets (bypass_socket, by
#    socket cookie) pass, both ways;
#  - the first ping hits the trap: dropped, an acquire makes charon
#    negotiate through its bypass sockets, and the flow comes up;
#  - a datagram from an ordinary socket to port 500 now goes in ESP;
#  - charon stopped: its SAs and policies are gone, the ping is dropped
#    (the discard policy), never sent in clear.
# The wire between the sites carries IKE (charon's) and ESP only, and the
# marker of the test's own datagrams never.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikefc)
. "$ROOT/tests/lib/ike.sh"
ike_setup
lab_addrs 4 transport
MARK_HEX=$(randhex 16)
for s in A B; do
	L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir out action discard &&
		L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir in action protect ||
		t_fail "base_policies_$s" "esptag policy add refused"
done
# udp500 SITE DST: a datagram with the marker to DST port 500 from an
# ordinary socket.
udp500() {
	L "$1" $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[2]) * 4, (sys.argv[1], 500))' "$2" "$MARK_HEX"
}
pcap=$TMP/wire.pcap
lab_capture_start "$pcap"

udp500 A "$SA_B"
if L A ping -c 1 -W 1 "$SA_B" >/dev/null 2>&1; then
	t_fail before_charon/ping_dropped "the ping passed"
else
	t_pass before_charon/ping_dropped
fi

if ! ike start --mode transport --start trap >"$TMP/start.log" 2>&1; then
	t_fail ike_start "$(tail -n 3 "$TMP/start.log")"
	lab_capture_stop
	t_exit
fi
t_pass ike_start
t_eq trap/no_sa_before_traffic "$(ike_count A state)" 0
# The first ping is dropped by the trap and starts the negotiation.
L A ping -c 1 -W 1 "$SA_B" >/dev/null 2>&1
if wait_for 20 both_up; then
	t_pass trap/first_packet_negotiates
else
	t_fail trap/first_packet_negotiates "$(swan A --list-sas 2>&1 | tail -n 3 | tr '\n' ' ')"
fi
if L A ping -c 3 -i 0.2 -W 2 "$SA_B" >"$TMP/ping.log" 2>&1; then
	t_pass trap/flow_up
else
	t_fail trap/flow_up "$(tail -n 2 "$TMP/ping.log")"
fi
ike_sas_agree trap
grep -q "kernel-esptag: acquire for reqid" "$STATE/ike/A/charon.log" &&
	t_pass trap/acquire_reached_charon || t_fail trap/acquire_reached_charon "no acquire in charon's log"
udp500 A "$SA_B"    # protected now: ESP
ike stop >/dev/null 2>&1
t_eq charon_stopped/sas_and_policies_removed "A $(ike_count A state) $(ike_count A policy) B $(ike_count B state) $(ike_count B policy)" \
	"A 0 2 B 0 2"
if L A ping -c 3 -i 0.2 -W 1 "$SA_B" >/dev/null 2>&1; then
	t_fail charon_stopped/ping_dropped "the ping passed"
else
	t_pass charon_stopped/ping_dropped
fi
udp500 A "$SA_B"
lab_capture_stop

res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --esp-sa "$STATE/A.esp_sa" --ike \
	--hosts "$SA_A,$SA_B" --marker "$MARK_HEX")
read -r esp good plain hits ike_n < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin)
print(r["esp"], r["icv_good"], r["plain_ip"], r["marker_hits"], r["ike"])')
t_eq wire/nothing_but_ike_and_esp "$plain" 0
t_eq wire/test_datagrams_never_in_clear "$hits" 0
if [ "$ike_n" -ge 4 ] && [ "$esp" -ge 6 ] && [ "$good" = "$esp" ]; then
	t_pass wire/ike_passed_esp_decrypts
else
	t_fail wire/ike_passed_esp_decrypts "ike $ike_n, esp $esp, icv_good $good"
fi
# IKE frames on the wire come from charon's sockets only: the test's port
# 500 datagrams (marker) would be counted as IKE, had they passed in clear.
t_exit
