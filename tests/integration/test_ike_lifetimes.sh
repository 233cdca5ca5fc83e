#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Lifetimes counted by esptag, acted on by charon (kernel-esptag forwards
# esptagd's expire events):
#  - a soft byte limit (rekey_bytes) below the hard one (life_bytes): charon
#    rekeys before the hard limit is ever reached, again and again under a
#    paced TCP transfer, which arrives intact; no packet hits a hard limit;
#  - a hard byte limit and no rekey: the SA carries no more than its limit,
#    the packets beyond it are dropped, never sent in clear; the SA is dead:
#    esptagd removes it and charon, told by the hard expire, closes the
#    CHILD_SA (and, being charon 5.9.8, creates a new one at once).
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikelife)
. "$ROOT/tests/lib/ike.sh"
ike_setup
lab_addrs 4 transport
MARK_HEX=$(randhex 16)
stat_of() { # SITE COUNTER
	L "$1" esptag -j stats | $PY -c 'import json, sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$2"
}
# udp_burst N: N datagrams of 1000 bytes (marker inside) from A to B's port 9.
udp_burst() {
	L A $PY -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = (bytes.fromhex(sys.argv[2]) * 63)[:1000]
for i in range(int(sys.argv[3])):
    try:
        s.sendto(p, (sys.argv[1], 9))
    except OSError:
        pass
    time.sleep(0.001)' "$SA_B" "$MARK_HEX" "$1"
}

# ---- soft before hard ----------------------------------------------------
# esptagd checks soft limits every 200 ms: at ~1.6 MB/s the 2 MB between
# the soft limit (at most rekey_bytes) and the hard one leave ample time.
pcap=$TMP/soft.pcap
if ike_up "$TMP/soft.log" --mode transport --start start --rekey-bytes 2000000 --life-bytes 4000000; then
	t_pass soft/child_sa_installed
	lab_capture_start "$pcap" 128
	recv_sha 5301 4
	sent=$(send_paced "$SA_B" 5301 "$SA_A" 10)
	wait "$RECV_PID"
	got=$(sha256sum <"$RECV_OUT" | cut -d' ' -f1)
	lab_capture_stop
	if [ -n "$sent" ] && [ "$got" = "$sent" ]; then t_pass soft/tcp_transfer_intact
	else t_fail soft/tcp_transfer_intact "sent '$sent', got '$got'"; fi
	spis=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --sas /dev/null --seq-only |
		$PY -c 'import json, sys; print(len(json.load(sys.stdin)["seq"]))')
	# 16 MB through SAs of at most 4 MB each, rekeyed at 2 MB or less
	if [ "$spis" -ge 8 ]; then t_pass soft/rekeyed_on_bytes
	else t_fail soft/rekeyed_on_bytes "only $spis SPIs on the wire"; fi
	t_eq soft/no_packet_hit_a_hard_limit "$(stat_of A tx_drop_limit) $(stat_of B rx_drop_limit) $(stat_of B tx_drop_limit) $(stat_of A rx_drop_limit)" "0 0 0 0"
	if grep -q "kernel-esptag: hard expire" "$STATE"/ike/*/charon.log; then
		t_fail soft/no_hard_expire "$(grep -h 'hard expire' "$STATE"/ike/*/charon.log | head -n 2)"
	else
		t_pass soft/no_hard_expire
	fi
	rm -f "$RECV_OUT" "$pcap"
else
	t_fail soft/child_sa_installed "$(tail -n 3 "$TMP/soft.log")"
fi
ike stop >/dev/null 2>&1

# ---- hard, no rekey --------------------------------------------------------
pcap=$TMP/hard.pcap
if ike_up "$TMP/hard.log" --mode transport --start start --rekey-bytes 0 --life-bytes 200000; then
	t_pass hard/child_sa_installed
	# Once charon's policies go, esptagd's own discard what they covered.
	for s in A B; do
		L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir out action discard &&
			L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir in action protect ||
			t_fail "hard/base_policies_$s" "esptag policy add refused"
	done
	lab_capture_start "$pcap"
	L A ping -c 2 -i 0.2 -W 2 "$SA_B" >/dev/null 2>&1 && t_pass hard/ping_before_limit ||
		t_fail hard/ping_before_limit "ping failed"
	old_out=$(swanctl_sas A | tr ' ' '\n' | sed -n 's/^out://p')
	drops0=$(stat_of A tx_drop_limit)
	udp_burst 400
	# The SA is dead: esptagd removed it, charon got the hard expire and
	# closed the CHILD_SA (charon 5.9.8 then creates a new one at once).
	dead() { ! esptag_sas A | grep -q "out:$old_out" && ! swan A --list-sas 2>/dev/null | grep -q "out *$old_out"; }
	if [ -n "$old_out" ] && wait_for 20 dead; then
		t_pass hard/sa_dead_and_removed
	else
		t_fail hard/sa_dead_and_removed "out SA '$old_out': esptagd '$(esptag_sas A)'"
	fi
	grep -q "kernel-esptag: hard expire of SA $old_out" "$STATE/ike/A/charon.log" && t_pass hard/expire_reached_charon ||
		t_fail hard/expire_reached_charon "no hard expire of $old_out in charon's log"
	if [ "$(stat_of A tx_drop_limit)" -gt "$drops0" ]; then
		t_pass hard/packets_beyond_the_limit_dropped
	else
		t_fail hard/packets_beyond_the_limit_dropped "tx_drop_limit stayed $drops0"
	fi
	udp_burst 20
	lab_capture_stop
	res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --esp-sa "$STATE/A.esp_sa" --ike \
		--hosts "$SA_A,$SA_B" --marker "$MARK_HEX")
	read -r esp good plain hits n_old < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin)
print(r["esp"], r["icv_good"], r["plain_ip"], r["marker_hits"], r["seq"].get("0x" + sys.argv[1], {}).get("n", 0))' "$old_out")
	t_eq hard/never_in_clear "plain $plain marker $hits" "plain 0 marker 0"
	# 200 kB of ~1028-byte IP packets (and 2 pings) fit; nothing beyond
	if [ "$n_old" -ge 150 ] && [ "$n_old" -le 200 ] && [ "$good" = "$esp" ]; then
		t_pass hard/limit_stopped_the_sa
	else
		t_fail hard/limit_stopped_the_sa "$n_old ESP frames of SA $old_out, want 150..200 ($good of $esp decrypted)"
	fi
else
	t_fail hard/child_sa_installed "$(tail -n 3 "$TMP/hard.log")"
fi
ike stop >/dev/null 2>&1
t_exit
