#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end in the lab: two sites, real agents, esptagd + CLI.
# IPv4 and IPv6, transport and tunnel: ping and TCP pass, the wire carries
# only ESP (no plaintext, tshark decrypts every frame with a good ICV), the
# receiver's skb mark names the SA that decrypted it. TSO: 50 MB intact with
# unique increasing ESP sequence numbers per SA on the wire.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tshark
t_require socat
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN

lab_test_up e2e --ipv6

# A payload with a recognisable marker, to look for on the wire.
MARK_HEX=$(randhex 16)
python3 -c "import sys; m=bytes.fromhex('$MARK_HEX'); sys.stdout.buffer.write((m + b'esptag-plaintext-marker ' * 40) * 300)" >"$TMP/payload"
PAY_SUM=$(sha256sum <"$TMP/payload" | cut -d' ' -f1)

# The mark esptag_rx_mark sets: trusted bit | SA index (defaults).
sa_index_of() { # SITE SPI DIR -> agent SA index from `esptag state list -j`
	L "$1" esptag -j state list | /usr/bin/python3 -c '
import json, sys
spi, d = int(sys.argv[1], 0), sys.argv[2]
for s in json.load(sys.stdin):
    if int(str(s.get("spi")), 0) == spi and s.get("dir") == d:
        print(s.get("sa_index", s.get("sa-index"))); break' "$2" "$3"
}

spi=0x100
for fam in 4 6; do
	for mode in transport tunnel; do
		c="v${fam}_$mode"
		spi=$((spi + 0x10))
		s1=$(printf '0x%x' $((spi + 1))) s2=$(printf '0x%x' $((spi + 2)))
		SAS="$TMP/sas-$c"
		lab_flush
		if ! lab_sa_pair "$fam" "$mode" "$s1" "$s2" "$SAS" 2>"$TMP/sa-$c.log"; then
			t_fail "$c/sa_install" "$(tail -n 3 "$TMP/sa-$c.log")"
			continue
		fi
		lab_addrs "$fam" "$mode"
		pcap="$TMP/wire-$c.pcap"
		lab_capture_start "$pcap"
		ping_opt=(); [ "$fam" = 6 ] && ping_opt=(-6)
		if L A ping "${ping_opt[@]}" -c 3 -i 0.2 -W 2 -I "$IN_A" "$IN_B" >"$TMP/ping-$c.log" 2>&1; then
			t_pass "$c/ping"
		else
			t_fail "$c/ping" "$(tail -n 2 "$TMP/ping-$c.log")"
		fi
		got=$(lab_tcp_xfer "$TMP/payload" "$IN_B" 5001 "$IN_A")
		t_eq "$c/tcp_transfer_intact" "$got" "$PAY_SUM"
		# skb mark on the receiver: trusted | index of B's inbound SA.
		idx=$(sa_index_of B "$s1" in)
		lab_udp_recv B "$TMP/mark-$c" "$IN_B" 5002 3 3
		lab_udp_send A "$IN_B" 5002 3 "$IN_A"
		wait "$UDP_PID"
		want=$(printf '0x%08x' $((0x80000000 | ${idx:-0})))
		marks=$(sort -u <"$TMP/mark-$c" | tr '\n' ' ' | sed 's/ $//')
		if [ -n "$idx" ] && [ "$marks" = "$want" ] && [ "$(grep -c 0x "$TMP/mark-$c")" = 3 ]; then
			t_pass "$c/receiver_mark_names_sa"
		else
			t_fail "$c/receiver_mark_names_sa" "marks '$marks', want '$want' (SA index '${idx}')"
		fi
		lab_capture_stop
		res=$(/usr/bin/python3 "$ROOT/tests/lib/espcheck.py" "$pcap" --sas "$SAS" \
			--marker "$MARK_HEX" --hosts "$IN_A,$IN_B,$SA_A,$SA_B")
		echo "$c: $res"
		read -r esp known good plain hits < <(echo "$res" | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin)
print(r["esp"], r["esp_known"], r["icv_good"], r["plain_ip"], r["marker_hits"])')
		if [ "$esp" -ge 50 ] && [ "$known" = "$esp" ] && [ "$good" = "$esp" ]; then
			t_pass "$c/tshark_decrypts_every_esp_frame"
		else
			t_fail "$c/tshark_decrypts_every_esp_frame" "esp $esp known $known icv_good $good"
		fi
		t_eq "$c/no_plaintext_ip_on_wire" "$plain" 0
		t_eq "$c/no_marker_on_wire" "$hits" 0
	done
done

# TSO: 50 MB, checksum compared, sequence numbers per SA on the wire.
lab_flush
SAS="$TMP/sas-tso"
if lab_sa_pair 4 transport 0x501 0x502 "$SAS" 2>"$TMP/sa-tso.log"; then
	tso=$(L A ethtool -k pf0 | awk '/tcp-segmentation-offload/ {print $2}')
	t_eq tso/enabled_on_pf0 "$tso" on
	head -c 50000000 /dev/urandom >"$TMP/big"
	want=$(sha256sum <"$TMP/big" | cut -d' ' -f1)
	before=$(L A esptag -j stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["tx_protect_gso"])' 2>/dev/null || echo 0)
	lab_capture_start "$TMP/tso.pcap" 96
	got=$(lab_tcp_xfer "$TMP/big" 192.0.2.2 5003 192.0.2.1)
	lab_capture_stop
	t_eq tso/50MB_transfer_intact "$got" "$want"
	after=$(L A esptag -j stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"]["tx_protect_gso"])' 2>/dev/null || echo 0)
	if [ "$((after - before))" -gt 0 ]; then
		t_pass tso/super_packets_reached_agent
	else
		t_fail tso/super_packets_reached_agent "tx_protect_gso $before -> $after"
	fi
	res=$(/usr/bin/python3 "$ROOT/tests/lib/espcheck.py" "$TMP/tso.pcap" --sas "$SAS" --seq-only --hosts 192.0.2.1,192.0.2.2)
	ok=$(echo "$res" | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin); s = r["seq"].get("0x00000501", {})
print(int(s.get("n", 0) > 30000 and s["unique"] and s["increasing"] and r["plain_ip"] == 0), s.get("n", 0), s.get("unique"), s.get("increasing"), r["plain_ip"])')
	set -- $ok
	if [ "$1" = 1 ]; then
		t_pass tso/wire_seq_unique_increasing
	else
		t_fail tso/wire_seq_unique_increasing "n=$2 unique=$3 increasing=$4 plain=$5"
	fi
	rm -f "$TMP/big" "$TMP/tso.pcap"
else
	t_fail tso/sa_install "$(tail -n 3 "$TMP/sa-tso.log")"
fi
t_exit
