#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two charons drive their sites' esptagd through the kernel-esptag plugin:
# IKE_SA and CHILD_SA negotiated with PSK and with X.509 certificates, in
# transport and tunnel mode, over IPv4 and IPv6. The SPIs swanctl lists are
# the SAs esptagd and the agent hold at both sites; ping and a TCP transfer
# pass, and swanctl shows the bytes esptag counted; the wire between the sites carries IKE and ESP only, and tshark
# decrypts every ESP frame with a good ICV from esptagd's key log. charon
# stopped: its SAs and policies are gone from esptagd.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikeneg)
. "$ROOT/tests/lib/ike.sh"
ike_setup
ike_payload

port=5100
for combo in "psk transport 4" "cert tunnel 4" "psk tunnel 6" "cert transport 6"; do
	read -r auth mode fam <<<"$combo"
	c="${auth}_${mode}_v$fam"
	port=$((port + 1))
	lab_addrs "$fam" "$mode"
	opts=(--auth "$auth" --mode "$mode" --start start)
	[ "$fam" = 6 ] && opts+=(--ipv6)
	if ! ike start "${opts[@]}" >"$TMP/$c-start.log" 2>&1; then
		t_fail "$c/ike_start" "$(tail -n 3 "$TMP/$c-start.log")"
		continue
	fi
	if wait_for 20 both_up; then
		t_pass "$c/child_sa_installed"
	else
		t_fail "$c/child_sa_installed" "$(swan A --list-sas 2>&1 | tail -n 4 | tr '\n' ' ')"
		ike stop >/dev/null 2>&1
		continue
	fi
	ike_sas_agree "$c"
	# both directions' policies name charon's CHILD_SA (reqid, mode, peers)
	tmpl=$(L A esptag -j policy list | $PY -c '
import json, sys
print(" ".join(sorted("%s:%s:%s:%s" % (p["dir"], p.get("reqid"), p.get("tmpl_mode"), p.get("tmpl_dst"))
                      for p in json.load(sys.stdin))))')
	t_eq "$c/policies_name_the_child_sa" "$tmpl" "in:1:$mode:$SA_A out:1:$mode:$SA_B"
	pcap="$TMP/$c.pcap"
	lab_capture_start "$pcap"
	ping_opt=(); [ "$fam" = 6 ] && ping_opt=(-6)
	if L A ping "${ping_opt[@]}" -c 3 -i 0.2 -W 2 -I "$IN_A" "$IN_B" >"$TMP/$c-ping.log" 2>&1; then
		t_pass "$c/ping"
	else
		t_fail "$c/ping" "$(tail -n 2 "$TMP/$c-ping.log")"
	fi
	got=$(lab_tcp_xfer "$TMP/payload" "$IN_B" "$port" "$IN_A")
	t_eq "$c/tcp_transfer_intact" "$got" "$PAY_SUM"
	lab_capture_stop
	# query_sa: charon's counters of A's outbound SA come from esptagd
	outb=$(swan A --list-sas 2>/dev/null | awk '$1 == "out" { gsub(/,/, "", $3); print $3; exit }')
	if [ -n "$outb" ] && [ "$outb" -ge "$(stat -c %s "$TMP/payload")" ]; then
		t_pass "$c/swanctl_shows_esptags_byte_counts"
	else
		t_fail "$c/swanctl_shows_esptags_byte_counts" "out SA: '$outb' bytes"
	fi
	ike_wire_check "$c" "$pcap" "$IN_A,$IN_B,$SA_A,$SA_B" 50
	rm -f "$pcap"
	# Stopping charon deletes what it installed.
	ike stop >/dev/null 2>&1
	left="A: $(ike_count A state) SAs, $(ike_count A policy) policies;"
	left+=" B: $(ike_count B state) SAs, $(ike_count B policy) policies"
	t_eq "$c/charon_stop_removes_its_sas_and_policies" "$left" "A: 0 SAs, 0 policies; B: 0 SAs, 0 policies"
done
t_exit
