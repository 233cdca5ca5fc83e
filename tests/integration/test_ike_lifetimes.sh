#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Lifetimes counted by esptag, acted on by charon (kernel-esptag forwards
# esptagd's expire events):
#  - a soft byte limit (rekey_bytes) below the hard one (life_bytes): charon
#    rekeys before the hard limit is ever reached, again and again under a
#    TCP transfer, which arrives intact; no packet hits a hard limit;
#  - a hard byte limit and no rekey: once it is reached the SA is dead,
#    charon deletes the CHILD_SA (the hard expire reached it), and the
#    traffic is dropped (esptagd's coarse discard policy), never sent in
#    clear.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikelife)
. "$ROOT/tests/lib/ike.sh"
[ -f "$PLUGIN" ] || { t_fail plugin_built "$PLUGIN missing (make)"; t_exit; }
if ! ike_lab_up; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up
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
pcap=$TMP/soft.pcap
if ike start --mode transport --start start --rekey-bytes 400000 --life-bytes 800000 >"$TMP/soft.log" 2>&1 &&
	wait_for 20 both_up; then
	t_pass soft/child_sa_installed
	lab_capture_start "$pcap" 128
	head -c 6000000 /dev/urandom >"$TMP/payload"
	want=$(sha256sum <"$TMP/payload" | cut -d' ' -f1)
	got=$(lab_tcp_xfer "$TMP/payload" "$SA_B" 5301 "$SA_A")
	lab_capture_stop
	t_eq soft/tcp_transfer_intact "$got" "$want"
	spis=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --sas /dev/null --seq-only |
		$PY -c 'import json, sys; print(len(json.load(sys.stdin)["seq"]))')
	# 12 MB of ESP (data + acks' share) through SAs of at most 800 kB each
	if [ "$spis" -ge 8 ]; then t_pass soft/rekeyed_on_bytes
	else t_fail soft/rekeyed_on_bytes "only $spis SPIs on the wire"; fi
	t_eq soft/no_packet_hit_a_hard_limit "$(stat_of A tx_drop_limit) $(stat_of B rx_drop_limit) $(stat_of B tx_drop_limit) $(stat_of A rx_drop_limit)" "0 0 0 0"
	if grep -q "kernel-esptag: hard expire" "$STATE"/ike/*/charon.log; then
		t_fail soft/no_hard_expire "$(grep -h 'hard expire' "$STATE"/ike/*/charon.log | head -n 2)"
	else
		t_pass soft/no_hard_expire
	fi
	rm -f "$TMP/payload" "$pcap"
else
	t_fail soft/child_sa_installed "$(tail -n 3 "$TMP/soft.log")"
fi
ike stop >/dev/null 2>&1

# ---- hard, no rekey --------------------------------------------------------
for s in A B; do
	for d in out in; do
		L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir "$d" action discard ||
			t_fail "hard/base_policy_${s}_$d" "esptag policy add refused"
	done
done
pcap=$TMP/hard.pcap
if ike start --mode transport --start start --rekey-bytes 0 --life-bytes 200000 >"$TMP/hard.log" 2>&1 &&
	wait_for 20 both_up; then
	t_pass hard/child_sa_installed
	lab_capture_start "$pcap"
	L A ping -c 2 -i 0.2 -W 2 "$SA_B" >/dev/null 2>&1 && t_pass hard/ping_before_limit ||
		t_fail hard/ping_before_limit "ping failed"
	udp_burst 400
	gone() { ! child_up A && [ "$(ike_count A state)" = 0 ]; }
	if wait_for 20 gone; then
		t_pass hard/sa_dead_child_sa_deleted
	else
		t_fail hard/sa_dead_child_sa_deleted "charon: $(swan A --list-sas 2>&1 | grep -c INSTALLED) installed; esptagd $(ike_count A state) SAs"
	fi
	grep -q "kernel-esptag: hard expire" "$STATE/ike/A/charon.log" && t_pass hard/expire_reached_charon ||
		t_fail hard/expire_reached_charon "no hard expire in charon's log"
	if L A ping -c 3 -i 0.2 -W 1 "$SA_B" >/dev/null 2>&1; then
		t_fail hard/traffic_dropped_after "the ping passed"
	else
		t_pass hard/traffic_dropped_after
	fi
	udp_burst 20
	lab_capture_stop
	res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --esp-sa "$STATE/A.esp_sa" --ike \
		--hosts "$SA_A,$SA_B" --marker "$MARK_HEX")
	read -r esp good plain hits < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin); print(r["esp"], r["icv_good"], r["plain_ip"], r["marker_hits"])')
	t_eq hard/never_in_clear "plain $plain marker $hits" "plain 0 marker 0"
	# no more than the hard limit went out: 200 kB / ~1000-byte datagrams
	if [ "$esp" -gt 0 ] && [ "$esp" -le 210 ] && [ "$good" = "$esp" ]; then
		t_pass hard/limit_stopped_the_sa
	else
		t_fail hard/limit_stopped_the_sa "$esp ESP frames ($good decrypted), want 1..210"
	fi
else
	t_fail hard/child_sa_installed "$(tail -n 3 "$TMP/hard.log")"
fi
ike stop >/dev/null 2>&1
t_exit
