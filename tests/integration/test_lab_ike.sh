#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# scripts/lab with IKE: `up --ike` runs a charon per site (scripts/ike).
# With the libipsec backend (strongSwan's user-space ESP, tunnel mode):
# certificates, then PSK after `ike stop` / `ike start`; the CHILD_SA is up,
# both sites agree on its SPIs, ping between the inner addresses passes
# through it, the wire between the agents carries no clear ICMP. With the
# esptag backend (kernel-esptag, build/libstrongswan-kernel-esptag.so):
# trap policies, no SA before traffic, the first ping brings the CHILD_SA
# up, its SPIs are the SAs esptagd holds, `ike stop` removes them; then
# certificates in tunnel mode between the inner networks; IPv6 tunnel
# mode. Refusals leave nothing started; `down` with charon
# running leaves no charon, mount namespace or state behind.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
. "$ROOT/tests/lib/swan.sh"
swan_require lab_ike
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN

TMP=$(tmp_new labike)
lab_down() { "$LABSH" down >/dev/null 2>&1; }
trap 'lab_down; t_teardown' EXIT
STATE=/run/esptag-lab/$LAB
charon_pids() { cat "$STATE"/ike/*/charon.pid 2>/dev/null; }
# running PID: exists and is not a zombie (one ps: no race with the reaper)
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [[ "$st" != Z* ]]; }

# ping_through NAME: inner A -> inner B, wire captured: no clear ICMP.
ping_through() {
	local c=$1 pcap=$TMP/$1.pcap icmp esp
	lab_capture_start "$pcap"
	if L A ping -c 3 -i 0.2 -W 2 -I "$LAB_IN4_A" "$LAB_IN4_B" >"$TMP/$c-ping.log" 2>&1; then
		t_pass "$c/ping"
	else
		t_fail "$c/ping" "$(tail -n 2 "$TMP/$c-ping.log")"
	fi
	# The 3 requests and 3 replies (ESP, or ESP in UDP for libipsec) in the
	# capture before it stops.
	wait_for 3 eval '[ "$(tcpdump -n -r "$pcap" "esp or udp port 4500" 2>/dev/null | wc -l)" -ge 6 ]' 2>/dev/null
	lab_capture_stop
	icmp=$(tcpdump -n -r "$pcap" icmp 2>/dev/null | grep -c 'echo')
	esp=$(tcpdump -n -r "$pcap" "esp or udp port 4500" 2>/dev/null | wc -l)
	if [ "$icmp" = 0 ] && [ "$esp" -ge 6 ]; then
		t_pass "$c/wire_only_esp"
	else
		t_fail "$c/wire_only_esp" "clear echo frames $icmp, ESP frames $esp"
	fi
}

check_spis() { spis_agree "$1" A B; }

if ! "$LABSH" up --ipv6 --ike --backend libipsec --mode tunnel --auth cert >"$TMP/up.log" 2>&1; then
	t_fail libipsec_cert/lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass libipsec_cert/lab_up
if child_up A && child_up B; then t_pass libipsec_cert/child_sa_up; else t_fail libipsec_cert/child_sa_up "$("$LABSH" ike swanctl A --list-sas 2>&1 | tail -n 3)"; fi
"$LABSH" ike swanctl A --list-certs >"$TMP/certs" 2>&1
if grep -q "CN=esptag lab CA" "$TMP/certs" && grep -q "altNames:  *$LAB_IP4_A" "$TMP/certs"; then
	t_pass libipsec_cert/certificates_loaded
else
	t_fail libipsec_cert/certificates_loaded "$(head -n 5 "$TMP/certs")"
fi
check_spis libipsec_cert
ping_through libipsec_cert

old=$(charon_pids)
"$LABSH" ike stop >/dev/null 2>&1
left=""
for p in $old; do running "$p" && left+=" $p"; done
[ -e "$STATE/ike" ] && left+=" $STATE/ike"
[ -e "$STATE/ike-conf" ] && left+=" $STATE/ike-conf (keys)"
if [ -n "$old" ] && [ -z "$left" ]; then t_pass ike_stop_leaves_nothing; else t_fail ike_stop_leaves_nothing "pids '$old', left:$left"; fi

if "$LABSH" ike start --backend libipsec --mode tunnel --auth psk >"$TMP/psk.log" 2>&1 && child_up A; then
	t_pass libipsec_psk/child_sa_up
else
	t_fail libipsec_psk/child_sa_up "$(tail -n 5 "$TMP/psk.log")"
fi
check_spis libipsec_psk
ping_through libipsec_psk
"$LABSH" ike stop >/dev/null 2>&1

# Refused: transport mode and trap with kernel-libipsec; nothing started.
if ! "$LABSH" ike start --backend libipsec --mode transport >/dev/null 2>&1 &&
	! "$LABSH" ike start --backend libipsec --mode tunnel --start trap >/dev/null 2>&1 &&
	[ ! -e "$STATE/ike" ] && [ -z "$(charon_pids)" ]; then
	t_pass libipsec_refusals_start_nothing
else
	t_fail libipsec_refusals_start_nothing "something started: $(ls "$STATE/ike" 2>&1)"
fi

# The esptag backend: kernel-esptag drives each site's esptagd.
if [ -f "$BUILD/libstrongswan-kernel-esptag.so" ] || [ -f /usr/lib/ipsec/plugins/libstrongswan-kernel-esptag.so ]; then
	if "$LABSH" ike start >"$TMP/esptag.log" 2>&1; then
		t_pass esptag_psk/ike_start
		# trap: no SA until the first packet (which is dropped, fail closed).
		t_eq esptag_psk/no_sa_before_traffic "$(L A esptag state count 2>/dev/null | awk '{ print $NF }')" 0
		L A ping -c 1 -W 1 "$LAB_IP4_B" >/dev/null 2>&1
		if wait_for 20 child_up A; then t_pass esptag_psk/first_packet_brings_child_sa_up
		else t_fail esptag_psk/first_packet_brings_child_sa_up "$("$LABSH" ike swanctl A --list-sas 2>&1 | tail -n 3)"; fi
		check_spis esptag_psk
		st=$(L A esptag state list 2>&1)
		if [ -n "$SPI_IN" ] && grep -qi "spi 0x$SPI_IN" <<<"$st" && grep -qi "spi 0x$SPI_OUT" <<<"$st"; then
			t_pass esptag_psk/esptagd_holds_the_spis
		else
			t_fail esptag_psk/esptagd_holds_the_spis "want 0x$SPI_IN and 0x$SPI_OUT in: $(echo "$st" | grep -i spi | tr '\n' ' ')"
		fi
		if L A ping -c 3 -i 0.2 -W 2 "$LAB_IP4_B" >"$TMP/esptag-ping.log" 2>&1; then t_pass esptag_psk/ping
		else t_fail esptag_psk/ping "$(tail -n 2 "$TMP/esptag-ping.log")"; fi
	else
		t_fail esptag_psk/ike_start "$(tail -n 5 "$TMP/esptag.log")"
	fi
	"$LABSH" ike stop >/dev/null 2>&1
	t_eq esptag_psk/ike_stop_removes_sas "$(L A esptag state count 2>/dev/null | awk '{ print $NF }')" 0
	# Certificates, tunnel mode between the inner networks.
	if "$LABSH" ike start --auth cert --mode tunnel >"$TMP/esptag-cert.log" 2>&1; then
		t_pass esptag_cert_tunnel/ike_start
		L A ping -c 1 -W 1 -I "$LAB_IN4_A" "$LAB_IN4_B" >/dev/null 2>&1
		if wait_for 20 child_up A; then t_pass esptag_cert_tunnel/child_sa_up
		else t_fail esptag_cert_tunnel/child_sa_up "$("$LABSH" ike swanctl A --list-sas 2>&1 | tail -n 3)"; fi
		check_spis esptag_cert_tunnel
		st=$(L A esptag state list 2>&1)
		if [ -n "$SPI_OUT" ] && grep -qi "spi 0x$SPI_OUT .*mode tunnel" <<<"$st"; then
			t_pass esptag_cert_tunnel/esptagd_holds_tunnel_sa
		else
			t_fail esptag_cert_tunnel/esptagd_holds_tunnel_sa "want 0x$SPI_OUT mode tunnel in: $(echo "$st" | grep -i spi | tr '\n' ' ')"
		fi
		ping_through esptag_cert_tunnel
	else
		t_fail esptag_cert_tunnel/ike_start "$(tail -n 5 "$TMP/esptag-cert.log")"
	fi
	"$LABSH" ike stop >/dev/null 2>&1
	# IPv6, tunnel mode between the inner IPv6 networks.
	if "$LABSH" ike start --ipv6 --mode tunnel >"$TMP/esptag-v6.log" 2>&1; then
		L A ping -6 -c 1 -W 1 -I "$LAB_IN6_A" "$LAB_IN6_B" >/dev/null 2>&1
		if wait_for 20 child_up A && L A ping -6 -c 3 -i 0.2 -W 2 -I "$LAB_IN6_A" "$LAB_IN6_B" >"$TMP/v6-ping.log" 2>&1 &&
			"$LABSH" ike swanctl A --list-sas 2>/dev/null | grep -q "remote $LAB_INNET6_B"; then
			t_pass esptag_ipv6_tunnel/ping_through_child_sa
		else
			t_fail esptag_ipv6_tunnel/ping_through_child_sa "$(tail -n 2 "$TMP/v6-ping.log" 2>/dev/null)"
		fi
		check_spis esptag_ipv6_tunnel
	else
		t_fail esptag_ipv6_tunnel/ike_start "$(tail -n 5 "$TMP/esptag-v6.log")"
	fi
	"$LABSH" ike stop >/dev/null 2>&1
else
	t_skip esptag_backend "build/libstrongswan-kernel-esptag.so not built"
fi

# down with charon running: nothing left.
"$LABSH" ike start --backend libipsec --mode tunnel >/dev/null 2>&1 || "$LABSH" ike status >/dev/null 2>&1
old=$(charon_pids)
"$LABSH" down >/dev/null 2>&1
left=""
for p in $old; do running "$p" && left+=" charon $p"; done
[ -e "$STATE" ] && left+=" $STATE"
grep -l -- "$STATE" /proc/[0-9]*/mountinfo >/dev/null 2>&1 && left+=" a mount namespace holding $STATE"
if [ -n "$old" ] && [ -z "$left" ]; then t_pass down_with_charon_leaves_nothing; else t_fail down_with_charon_leaves_nothing "pids '$old', left:$left"; fi
t_exit
