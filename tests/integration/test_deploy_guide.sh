#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# docs/deploy.md, followed literally: its shell blocks marked
# <!-- test: host --> run on both hosts, <!-- test: hostA --> on host A,
# in order, with only the variables of its "vars" block replaced. Each host
# is a namespace; a veth pair stands in for the two physical NICs and the
# wire between them (the guide moves each end into the agent namespace it
# creates). Binaries come from build/bin.
# Asserts: every block succeeds, ping A -> B passes, the wire carries only
# ESP for the flow (no ICMP in clear), `esptag state list` on each host
# shows its two SAs, a DF ping of the guide's largest size (route MTU 1466)
# passes and one byte more does not leave the host, and without that route
# MTU such a packet is lost rather than sent. Then the other rows of the MTU
# table (IPv6 transport, IPv4 and IPv6 tunnel): the largest inner packet
# gives a 1514-byte ESP frame on the wire, no ICMP in clear.
# ET_GUIDE=FILE runs the same on another copy of the guide.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip "$(basename "$0")" "$BIN/$b not built"; exit 77; }
done
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3
GUIDE=${ET_GUIDE:-$ROOT/docs/deploy.md} # ET_GUIDE: another copy, to check the test itself
TMP=$(tmp_new deploy) || exit 1

# Extract the marked blocks: $TMP/blocks/NNN.TAG, in document order.
mkdir -p "$TMP/blocks"
awk -v dir="$TMP/blocks" '
	/^<!-- test: [A-Za-z]+ -->$/ { tag = $3; next }
	tag != "" && /^```sh$/ { n++; f = sprintf("%s/%03d.%s", dir, n, tag); inb = 1; next }
	inb && /^```$/ { inb = 0; tag = ""; close(f); next }
	inb { print > f; next }
	{ tag = "" }' "$GUIDE"
nblocks=$(ls "$TMP/blocks" | grep -vc '\.vars$')
if [ "$nblocks" -ge 6 ] && ls "$TMP/blocks" | grep -q '\.vars$'; then
	t_pass guide_has_marked_blocks
else
	t_fail guide_has_marked_blocks "$(ls "$TMP/blocks" | tr '\n' ' ')"
	t_exit
fi
# The test replaces exactly the variables the guide's vars block sets.
guide_vars=$(sed -n 's/^\([A-Z_]*\)=.*/\1/p' "$TMP/blocks/"*.vars | sort | tr '\n' ' ')
want_vars="AGENTNS AGENTPORT CONF HOSTPORT KEY_IN KEY_OUT LOCAL NIC PEER PINDIR PREFIXLEN SOCK SPI_IN SPI_OUT "
t_eq guide_vars_as_expected "$guide_vars" "$want_vars"

HA=$(ns_new hA) || exit 1
HB=$(ns_new hB) || exit 1
# The wire: "nic0" in each host namespace.
ip link add nic0 netns "$HA" type veth peer name nic0 netns "$HB"
KEY_AB=0x$(openssl rand -hex 20)
KEY_BA=0x$(openssl rand -hex 20)

# vars_for A|B: the test's values for the guide's variables.
vars_for() {
	local h=$1 local_ peer spi_out spi_in key_out key_in
	if [ "$h" = A ]; then
		local_=192.0.2.1 peer=192.0.2.2 spi_out=0x1001 spi_in=0x1002 key_out=$KEY_AB key_in=$KEY_BA
	else
		local_=192.0.2.2 peer=192.0.2.1 spi_out=0x1002 spi_in=0x1001 key_out=$KEY_BA key_in=$KEY_AB
	fi
	cat <<VARS
NIC=nic0
AGENTNS=et-$T_ID-ag$h
HOSTPORT=esp0
AGENTPORT=esp0a
LOCAL=$local_
PEER=$peer
PREFIXLEN=24
SPI_OUT=$spi_out
SPI_IN=$spi_in
KEY_OUT=$key_out
KEY_IN=$key_in
PINDIR=/sys/fs/bpf/et-$T_ID-pins$h
SOCK=$TMP/sock$h/esp0.sock
CONF=$TMP/etc$h/esptagd-esp0.conf
export ESPTAG_SOCK=$TMP/sock$h/esp0.sock
VARS
}
for h in A B; do
	t_register ns "et-$T_ID-ag$h"
	t_register pin "/sys/fs/bpf/et-$T_ID-pins$h"
done
hostns() { if [ "$1" = A ]; then echo "$HA"; else echo "$HB"; fi; }

# run_block A|B FILE: the block, literally, after the variables, in the
# host's namespace (nsenter: the pins are seen), PATH with build/bin first.
# Background jobs it starts are registered for the teardown.
run_block() {
	local h=$1 f=$2 ns rc
	ns=$(hostns "$h")
	{
		echo "set -e"
		vars_for "$h"
		cat "$f"
		echo "jobs -p >>'$TMP/pids'"
	} >"$TMP/run-$h-$(basename "$f").sh"
	echo "== host $h: $(basename "$f")" >>"$TMP/log-$h"
	nsx "$ns" env PATH="$BIN:$PATH" timeout 60 bash "$TMP/run-$h-$(basename "$f").sh" \
		>>"$TMP/log-$h" 2>&1
	rc=$?
	[ -f "$TMP/pids" ] && while read -r p; do t_register pid "$p"; done <"$TMP/pids"
	: >"$TMP/pids"
	return $rc
}

CAP_STARTED=0
ok=1
for f in "$TMP/blocks/"*; do
	tag=${f##*.}
	case $tag in
	vars) continue ;;
	host) hosts="A B" ;;
	hostA) hosts=A ;;
	hostB) hosts=B ;;
	*) t_fail "block_$(basename "$f")" "unknown tag $tag"; ok=0; continue ;;
	esac
	# Once both sides are up (before the keys): capture on A's wire side.
	if [ "$CAP_STARTED" = 0 ] && grep -q 'state add' "$f"; then
		: >"$TMP/tcpdump.err"
		bg_start "et-$T_ID-agA" tcpdump -Z root --immediate-mode -i nic0 -U -n \
			-w "$TMP/wire.pcap" >/dev/null 2>>"$TMP/tcpdump.err"
		CAP_PID=${T_PIDS[-1]}
		wait_log "$TMP/tcpdump.err" "listening on"
		CAP_STARTED=1
	fi
	for h in $hosts; do
		if run_block "$h" "$f"; then
			t_pass "guide_block_$(basename "$f")_host$h"
		else
			t_fail "guide_block_$(basename "$f")_host$h" "$(tail -n 5 "$TMP/log-$h")"
			ok=0
		fi
	done
	[ "$ok" = 1 ] || break
done
sleep 0.2 # settle: frames still on their way through the agent get captured
[ "$CAP_STARTED" = 1 ] && { kill -INT "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; }
[ "$ok" = 1 ] || { cat "$TMP/log-A" "$TMP/log-B" | tail -n 30; t_exit; }

# Independent checks, on what the guide built.
EA() { nsx "$HA" "$BIN/esptag" --socket "$TMP/sockA/esp0.sock" "$@"; }
EB() { nsx "$HB" "$BIN/esptag" --socket "$TMP/sockB/esp0.sock" "$@"; }
t_check ping_A_to_B nsx "$HA" ping -c 2 -i 0.2 -W 2 192.0.2.2
t_check ping_B_to_A nsx "$HB" ping -c 2 -i 0.2 -W 2 192.0.2.1
t_check df_ping_max_1466_passes nsx "$HA" ping -c 1 -W 2 -M do -s 1438 192.0.2.2
t_check df_ping_max_1466_passes_B_to_A nsx "$HB" ping -c 1 -W 2 -M do -s 1438 192.0.2.1
if nsx "$HA" ping -c 1 -W 2 -M do -s 1439 192.0.2.2 >"$TMP/ping1467" 2>&1; then
	t_fail df_ping_1467_refused "a 1467-byte DF ping got through"
else
	grep -q "too long" "$TMP/ping1467" && t_pass df_ping_1467_refused ||
		t_fail df_ping_1467_refused "$(cat "$TMP/ping1467")"
fi
# Without the guide's route MTU a 1467-byte DF packet leaves the host (link
# MTU 1530), is encrypted to 1504 bytes and the agent's send on the NIC
# fails: no reply (and nothing in clear, the capture above is over).
nsx "$HA" ip route del 192.0.2.2/32
if nsx "$HA" ping -c 1 -W 1 -M do -s 1439 192.0.2.2 >/dev/null 2>&1; then
	t_fail without_route_mtu_1467_lost "a 1467-byte packet crossed a 1500 wire"
else
	t_pass without_route_mtu_1467_lost
fi
nsx "$HA" ip route add 192.0.2.2/32 dev esp0 mtu 1466

sas() { # the SAs of a host: "dir spi" pairs, sorted
	"$@" -j state list | $PY -c '
import json, sys
print(" ".join(sorted("%s:0x%x" % (s["dir"], int(str(s["spi"]), 0)) for s in json.load(sys.stdin))))'
}
t_eq state_list_A "$(sas EA)" "in:0x1002 out:0x1001"
t_eq state_list_B "$(sas EB)" "in:0x1001 out:0x1002"

# The wire, A's NIC: ESP both ways, no ICMP between the two hosts.
if [ -s "$TMP/wire.pcap" ]; then
	esp=$(tcpdump -nr "$TMP/wire.pcap" 'esp and host 192.0.2.1 and host 192.0.2.2' 2>/dev/null | wc -l)
	icmp=$(tcpdump -nr "$TMP/wire.pcap" 'icmp and host 192.0.2.1 and host 192.0.2.2' 2>/dev/null | wc -l)
	if [ "$esp" -ge 6 ]; then t_pass wire_carries_esp; else t_fail wire_carries_esp "$esp ESP frames"; fi
	t_eq wire_no_clear_icmp "$icmp" 0
	# "greater N" is length >= N: no frame above 14 + 1500 bytes, and the
	# largest ping's request took exactly 1500 bytes of IP.
	big=$(tcpdump -nr "$TMP/wire.pcap" 'greater 1515' 2>/dev/null | wc -l)
	t_eq wire_no_frame_above_1500 "$big" 0
	full=$(tcpdump -nr "$TMP/wire.pcap" -e 'esp and src 192.0.2.1' 2>/dev/null | grep -c 'length 1514:')
	if [ "$full" -ge 1 ]; then t_pass wire_max_ping_is_1500_bytes_of_ip; else t_fail wire_max_ping_is_1500_bytes_of_ip "no 1514-byte ESP frame from A"; fi
else
	t_fail wire_capture "empty capture: $(cat "$TMP/tcpdump.err")"
fi
# The other rows of the guide's MTU table, on the same two hosts (esptag
# commands as in the guide, addresses of this test): at the table's largest
# inner packet a DF ping passes and its ESP request is exactly 1500 bytes of
# IP on the wire (1514-byte frame).
# mtu_case NAME FAM MODE SPI_AB SPI_BA OUT_A OUT_B IN_A IN_B LARGEST
#   OUT_*: the SA endpoints, IN_*: the ping's addresses (= OUT_* in transport).
AMAC=$(nsx "$HA" cat /sys/class/net/esp0/address)
BMAC=$(nsx "$HB" cat /sys/class/net/esp0/address)
mtu_case() {
	local c=$1 fam=$2 mode=$3 s_ab=$4 s_ba=$5 oa=$6 ob=$7 ia=$8 ib=$9 max=${10}
	local plen=32 hdr=20 E n
	# new keys for every case: esptagd refuses a key it has added before
	local kab=0x$(openssl rand -hex 20) kba=0x$(openssl rand -hex 20)
	[ "$fam" = 6 ] && plen=128 hdr=40
	for h in A B; do
		if [ $h = A ]; then E=EA n=$HA; else E=EB n=$HB; fi
		local lo_o=$oa pe_o=$ob lo_i=$ia pe_i=$ib out=$s_ab in=$s_ba kout=$kab kin=$kba mac=$BMAC
		[ $h = B ] && lo_o=$ob pe_o=$oa lo_i=$ib pe_i=$ia out=$s_ba in=$s_ab kout=$kba kin=$kab mac=$AMAC
		{
			if [ "$fam" = 6 ]; then
				nsx "$n" ip addr add "$lo_o/64" dev esp0 nodad 2>/dev/null || true
				nsx "$n" ip -6 neigh replace "$pe_o" lladdr "$mac" dev esp0 nud permanent
			fi
			if [ "$mode" = tunnel ]; then
				nsx "$n" ip addr add "$lo_i/$plen" dev lo
				nsx "$n" ip route add "$pe_i/$plen" via "$pe_o" dev esp0 src "$lo_i" mtu "$max"
			else
				nsx "$n" ip route replace "$pe_i/$plen" dev esp0 mtu "$max"
			fi
			$E state add dev esp0 src "$lo_o" dst "$pe_o" proto esp spi "$out" mode "$mode" \
				aead 'rfc4106(gcm(aes))' "$kout" 128 dir out &&
			$E state add dev esp0 src "$pe_o" dst "$lo_o" proto esp spi "$in" mode "$mode" \
				aead 'rfc4106(gcm(aes))' "$kin" 128 dir in &&
			$E policy add dev esp0 src "$lo_i/$plen" dst "$pe_i/$plen" dir out action protect \
				tmpl src "$lo_o" dst "$pe_o" proto esp spi "$out" mode "$mode" &&
			$E policy add dev esp0 src "$pe_i/$plen" dst "$lo_i/$plen" dir in action protect
		} >>"$TMP/case-$c.log" 2>&1 || { t_fail "$c/setup" "$(tail -n 3 "$TMP/case-$c.log")"; return; }
	done
	: >"$TMP/tcpdump-$c.err"
	bg_start "et-$T_ID-agA" tcpdump -Z root --immediate-mode -i nic0 -U -n \
		-w "$TMP/wire-$c.pcap" >/dev/null 2>>"$TMP/tcpdump-$c.err"
	local cap=${T_PIDS[-1]}
	wait_log "$TMP/tcpdump-$c.err" "listening on"
	local p=(ping); [ "$fam" = 6 ] && p=(ping -6)
	t_check "$c/df_ping_$max" nsx "$HA" "${p[@]}" -c 1 -W 2 -M do -I "$ia" -s $((max - hdr - 8)) "$ib"
	if nsx "$HA" "${p[@]}" -c 1 -W 1 -M do -I "$ia" -s $((max - hdr - 7)) "$ib" >/dev/null 2>&1; then
		t_fail "$c/df_ping_$((max + 1))_refused" "got through"
	else
		t_pass "$c/df_ping_$((max + 1))_refused"
	fi
	sleep 0.2 # settle: frames on their way through the agent get captured
	kill -INT "$cap" 2>/dev/null; wait "$cap" 2>/dev/null
	local full clear
	full=$(tcpdump -nr "$TMP/wire-$c.pcap" -e "esp and src $oa" 2>/dev/null | grep -c 'length 1514:')
	clear=$(tcpdump -nr "$TMP/wire-$c.pcap" "(icmp or icmp6) and host $ib" 2>/dev/null | wc -l)
	if [ "$full" -ge 1 ]; then t_pass "$c/esp_frame_is_1514"; else t_fail "$c/esp_frame_is_1514" "no 1514-byte ESP frame from A"; fi
	t_eq "$c/no_clear_icmp" "$clear" 0
}
mtu_case v6_transport 6 transport 0x2001 0x2002 2001:db8::1 2001:db8::2 2001:db8::1 2001:db8::2 1466
mtu_case v4_tunnel 4 tunnel 0x3001 0x3002 192.0.2.1 192.0.2.2 198.51.100.1 203.0.113.1 1446
mtu_case v6_tunnel 6 tunnel 0x4001 0x4002 2001:db8::1 2001:db8::2 2001:db8:a::1 2001:db8:b::1 1426
t_exit
