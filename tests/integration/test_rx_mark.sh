#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# esptag_rx (XDP) and esptag_rx_mark (tc ingress) live on a veth pair, both
# attached with plain iproute2 and sharing their maps through the pin path
# (TC_BPF_MNT). The peer plays the agent: it sends, through a packet socket,
# UDP datagrams as the agent delivers them (Rx tag, ESP header + IV, trailer,
# ICV) and in clear. A UDP socket with SO_RCVMARK reads the skb->mark each
# datagram reaches the stack with, so the mark is observed by the kernel,
# not by our programs. Counters are read back with bpftool.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tc
t_require bpftool
[ -x /usr/bin/python3 ] || { t_skip "$(basename "$0")" "needs /usr/bin/python3"; exit 77; }
OBJ=$BUILD/bpf/esptag_rx.bpf.o
[ -f "$OBJ" ] || { t_skip "$(basename "$0")" "build first (make)"; exit 77; }
"$ROOT/scripts/bpffs"
PY="/usr/bin/python3 $ROOT/tests/integration/rx_frames.py"

H=$(ns_new rxh) && A=$(ns_new rxa) || exit 1
PIN=$(pin_dir_new rx) || exit 1
G=$PIN/tc/globals
TMP=$(tmp_new) || exit 1
MAC=02:00:5e:00:00:01
# No IPv6: its link-local chatter would count as plain traffic.
nsx "$H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx "$A" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$H" link add p0 type veth peer name a0 netns "$A"
ip -n "$H" link set p0 address $MAC
ip -n "$H" addr add 192.0.2.1/24 dev p0
ip -n "$H" link set p0 up
ip -n "$A" link set a0 up
IFX=$(ip -n "$H" -o link show p0 | cut -d: -f1)

export TC_BPF_MNT=$PIN
t_check iproute2_xdp_attach nsx "$H" ip link set dev p0 xdp obj "$OBJ" sec xdp
nsx "$H" tc qdisc add dev p0 clsact
t_check iproute2_tc_attach nsx "$H" tc filter add dev p0 ingress bpf da obj "$OBJ" sec tc
unset TC_BPF_MNT
t_eq maps_pinned "$(ls "$G" 2>/dev/null | grep -c '^esptag_')" 13

bpftool map update pinned "$G/esptag_sad" key hex 05 00 00 00 \
	value hex $($PY sa 5 0x5005 $MAC 192.0.2.1 "$IFX")
# esptag_sad is an array (every slot is dumped): look the one slot up.
dump=$(bpftool map lookup pinned "$G/esptag_sad" key hex 05 00 00 00)
if grep -q '"local_mac"' <<<"$dump" && grep -q '"replay_window": 64' <<<"$dump"; then
	t_pass sad_dump_named_fields
else
	t_fail sad_dump_named_fields "$dump"
fi

cnt() { # cnt NAME: esptag_stats[ESPTAG_CNT_NAME] summed over CPUs
	local i
	i=$($PY counter "$1")
	bpftool -j map lookup pinned "$G/esptag_stats" key $i 0 0 0 | $PY sum
}
send() { nsx "$A" $PY send a0 $MAC 192.0.2.2 192.0.2.1 4789 "$@"; }
setcfg() { bpftool map update pinned "$G/esptag_cfg" key 0 0 0 0 value hex $($PY cfg "$@"); }

bg_start "$H" bash -c "exec $PY recv 192.0.2.1 4789 3 >$TMP/rx 2>$TMP/rx.err" >/dev/null
wait_ready "$TMP/rx.err"

send one 5 0x5005 1			# decrypted by SA 5: default mark
send replayed 5 0x5005 1		# same sequence number: replay drop
send plain				# clear, no policy: passes, no mark
send authfail 5 0x5005 2 1		# agent: ICV failed
setcfg 0x00ff0000 0x00800000 16		# esptag owns bits 16..23
send two 5 0x5005 2
# Inbound policy: clear text from 192.0.2.2 to 192.0.2.0/24 must be protected.
bpftool map update pinned "$G/esptag_spd" $($PY spd 192.0.2.0 24 1)
bpftool map update pinned "$G/esptag_spd_src" $($PY spdsrc 1 192.0.2.2 32 protect)
send three				# clear where policy says protect: dropped
send four 5 0x5005 3			# decrypted: still accepted

wait "${T_PIDS[0]}"
got=$(cat "$TMP/rx")
want=$(printf '%s\n' "one 0x80000005" "plain 0x0" "two 0x850000" "four 0x850000")
t_eq delivered_with_marks "$(echo $got)" "$(echo $want)"
t_eq counter_rx_ok "$(cnt RX_OK)" 3
t_eq counter_rx_replay "$(cnt RX_DROP_REPLAY)" 1
t_eq counter_rx_auth "$(cnt RX_DROP_AUTH)" 1
t_eq counter_rx_policy "$(cnt RX_DROP_POLICY)" 1
t_eq counter_rx_plain "$(cnt RX_PLAIN)" 1

# Jumbo MTU: veth refuses a single-buffer XDP program when the peer's MTU
# does not fit a page ("Peer MTU is too large to set XDP"); the xdp.frags
# entry point of the same object attaches and handles multi-buffer frames
# (the trailer sits in a fragment).
JH=$(ns_new jh) && JA=$(ns_new ja) || exit 1
nsx "$JH" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx "$JA" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$JH" link add p0 mtu 9000 type veth peer name a0 mtu 9000 netns "$JA"
ip -n "$JH" link set p0 address $MAC
ip -n "$JH" addr add 192.0.2.1/24 dev p0
ip -n "$JH" link set p0 up
ip -n "$JA" link set a0 up
JIFX=$(ip -n "$JH" -o link show p0 | cut -d: -f1)
export TC_BPF_MNT=$PIN	# same maps as above
if nsx "$JH" ip link set dev p0 xdp obj "$OBJ" sec xdp 2>/dev/null; then
	t_fail jumbo_single_buffer_refused "sec xdp attached with peer MTU 9000"
else
	t_pass jumbo_single_buffer_refused
fi
t_check jumbo_frags_attach nsx "$JH" ip link set dev p0 xdp obj "$OBJ" sec xdp.frags
nsx "$JH" tc qdisc add dev p0 clsact
nsx "$JH" tc filter add dev p0 ingress bpf da obj "$OBJ" sec tc
unset TC_BPF_MNT
bpftool map update pinned "$G/esptag_sad" key hex 06 00 00 00 \
	value hex $($PY sa 6 0x6006 $MAC 192.0.2.1 "$JIFX")
setcfg 0 0 0			# default mark again
bpftool map delete pinned "$G/esptag_spd_src" $($PY spdsrc 1 192.0.2.2 32 protect | sed 's/ value.*//')
jsend() { nsx "$JA" $PY send a0 $MAC 192.0.2.2 192.0.2.1 4789 "$@"; }
ok_before=$(cnt RX_OK)
bg_start "$JH" bash -c "exec $PY recv 192.0.2.1 4789 3 >$TMP/jrx 2>$TMP/jrx.err" >/dev/null
wait_ready "$TMP/jrx.err"
jsend jumbo:8000 6 0x6006 1
jsend small 6 0x6006 2
wait "${T_PIDS[1]}"
t_eq jumbo_delivered_with_mark "$(echo $(cat "$TMP/jrx"))" "jumbo/8000 0x80000006 small 0x80000006"
t_eq jumbo_counter_rx_ok "$(( $(cnt RX_OK) - ok_before ))" 2
t_exit
