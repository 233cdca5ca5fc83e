#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The data path with plain iproute2 and bpftool, no daemon:
#  1. esptag_tx (tc egress) and, when built, esptag_rx (xdp) attached to a
#     host port with `tc filter ... obj` / `ip link ... xdp obj`, sharing one
#     set of pinned maps (TC_BPF_MNT points iproute2 at a private bpffs dir);
#  2. `bpftool map dump pinned` prints named fields;
#  3. an SA, a policy and the agent-up flag written by hand with bpftool:
#     a UDP datagram from the host's stack leaves the port with the ESP
#     header and the metadata tag (captured on the peer with a packet
#     socket); agent down -> dropped, never in clear; no policy -> clear;
#  4. esptag_port on a Linux bridge (the NIC switch), on a VF port (ingress
#     and egress) and the uplink (egress): an untrusted VF's frame reaches
#     the uplink wrapped (offload=0), config and spoofed frames do not,
#     trust flipped with bpftool takes effect on the next frame, config
#     toward the VF is dropped.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tc
t_require bpftool
[ -x /usr/bin/python3 ] || { t_skip "$(basename "$0")" "needs /usr/bin/python3"; exit 77; }
TX=$BUILD/bpf/esptag_tx.bpf.o RX=$BUILD/bpf/esptag_rx.bpf.o PORT=$BUILD/bpf/esptag_port.bpf.o
[ -f "$TX" ] && [ -f "$PORT" ] || { t_skip "$(basename "$0")" "build first (make)"; exit 77; }
"$ROOT/scripts/bpffs"
PY="/usr/bin/python3 $ROOT/tests/integration/iproute2_frames.py"

H=$(ns_new iprh) && P=$(ns_new iprp) && S=$(ns_new iprs) && V=$(ns_new iprv) && W=$(ns_new iprw) || exit 1
PIN=$(pin_dir_new ipr) || exit 1
G=$PIN/tc/globals
TMP=$(tmp_new) || exit 1
for n in $H $P $S $V $W; do
	# No IPv6: its link-local chatter would only add noise to captures.
	nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

HMAC=02:00:5e:00:53:01 PMAC=02:00:5e:00:53:0b
ip -n "$H" link add pA type veth peer name pB netns "$P"
ip -n "$H" link set pA address $HMAC
ip -n "$P" link set pB address $PMAC
ip -n "$H" addr add 192.0.2.1/24 dev pA
ip -n "$H" link set pA up
ip -n "$P" link set pB up
ip -n "$H" route add 198.51.100.0/24 dev pA
ip -n "$H" neigh add 198.51.100.7 lladdr $PMAC dev pA
ip -n "$H" neigh add 192.0.2.2 lladdr $PMAC dev pA
HIDX=$(ip -n "$H" -o link show pA | cut -d: -f1)

cnt() { # cnt NAME: esptag_stats[ESPTAG_CNT_NAME] summed over the CPUs
	bpftool -j map lookup pinned "$G/esptag_stats" key $($PY counter "$1") | $PY sum
}
# capture NS IFACE SECONDS OUT: packet-socket capture in the background
# (harness-tracked PID); returns once the socket is bound.
capture() {
	rm -f "$4" "$4.ready"
	bg_start "$1" $PY cap "$2" "$3" >"$4" 2>"$4.ready"
	wait_ready "$4.ready"
}
wait_capture() { local p=${T_PIDS[-1]}; wait "$p" 2>/dev/null; }
map_update() { # map_update MAP "KEYHEX|VALUEHEX"
	bpftool map update pinned "$G/$1" key hex ${2%|*} value hex ${2#*|}
}

# --- 1. attach with iproute2 -------------------------------------------------
export TC_BPF_MNT=$PIN
nsx "$H" tc qdisc add dev pA clsact
t_check iproute2_tc_attach_tx nsx "$H" tc filter add dev pA egress bpf da obj "$TX" sec tc
if [ -f "$RX" ]; then
	t_check iproute2_xdp_attach_rx nsx "$H" ip link set dev pA xdp obj "$RX" sec xdp
else
	t_skip iproute2_xdp_attach_rx "no $RX"
fi
unset TC_BPF_MNT
# esptag_sad holds each SA with its sequence, replay window and lifetime: 13 maps.
t_eq maps_pinned_by_name "$(ls "$G" 2>/dev/null | grep -c '^esptag_')" 13
if [ -f "$RX" ]; then
	# The two programs use the same pinned esptag_sad (same map id).
	sad_id=$(bpftool -j map show pinned "$G/esptag_sad" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	ids=$(bpftool -j prog show | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") in ("esptag_tx", "esptag_rx"):
        print(p["name"], " ".join(str(i) for i in p.get("map_ids", [])))')
	shared=$(grep -c " .*\b$sad_id\b" <<<"$ids")
	if [ "$shared" -ge 2 ]; then t_pass tx_rx_share_pinned_maps; else
		t_fail tx_rx_share_pinned_maps "esptag_sad id $sad_id, programs: $ids"; fi
fi

# --- 2. manual SA and policy, named dumps -------------------------------------
SA=7 SPI=0x00001007
bpftool map update pinned "$G/esptag_sad" key hex $($PY u32 $SA) \
	value hex $($PY sa $SPI 2 4 1 0x01 $HMAC 0.0.0.0 0.0.0.0 "$HIDX")
map_update esptag_spd "$($PY spd 2 198.51.100.0 24 1)"
map_update esptag_spd_src "$($PY spdsrc 1 192.0.2.0 24 2 $SA)"
bpftool map update pinned "$G/esptag_cfg" key hex 00 00 00 00 value hex $($PY cfg 0x1)

# esptag_sad is an array (every slot is dumped): look the one slot up.
dump=$(bpftool map lookup pinned "$G/esptag_sad" key hex $($PY u32 $SA))
if grep -q '"spi": ' <<<"$dump" && grep -q '"local_mac": ' <<<"$dump" &&
   grep -q '"expires_ns": 0' <<<"$dump" && grep -q '"ifindex": '"$HIDX" <<<"$dump"; then
	t_pass bpftool_dump_sad_named_fields
else
	t_fail bpftool_dump_sad_named_fields "$dump"
fi
dump=$(bpftool map dump pinned "$G/esptag_spd_src")
if grep -q '"prefixlen": 56' <<<"$dump" && grep -q '"action": 2' <<<"$dump" &&
   grep -q '"sa_index": 7' <<<"$dump"; then
	t_pass bpftool_dump_policy_named_fields
else
	t_fail bpftool_dump_policy_named_fields "$dump"
fi
dump=$(bpftool map dump pinned "$G/esptag_cfg")
if grep -q '"flags": 1' <<<"$dump" && grep -q '"eth_p_meta": 0' <<<"$dump"; then
	t_pass bpftool_dump_cfg_named_fields
else
	t_fail bpftool_dump_cfg_named_fields "$dump"
fi

# --- 3. daemon-less Tx --------------------------------------------------------
send_udp() { nsx "$H" bash -c "printf %s '$2' >/dev/udp/$1/4000"; }

before=$(cnt TX_PROTECT)
capture "$P" pB 1.5 "$TMP/tx.hex" || t_fail capture_ready "packet socket did not start"
send_udp 198.51.100.7 esptag-hello
wait_capture
frame=$(grep '^'"${PMAC//:/}${HMAC//:/}"'88b6' "$TMP/tx.hex" | head -n1)
# dst src | 88b6 v1 TX flags=OFFLOAD nh=17 res 0 | esp_off 34 payload_off 50
# trailer 0 mss 0 | sa 7 | seq_hi 0 seq_lo 1 | reserved2 | inner 0800 | IPv4 ...
want_tag="${PMAC//:/}${HMAC//:/}88b60101011100000022003200000000000000070000000000000001"
want_tag+="00000800"
if [ "${frame:0:88}" == "$want_tag" ]; then
	t_pass tx_metadata_tag
else
	t_fail tx_metadata_tag "got ${frame:0:88}, want $want_tag"
fi
# IPv4 after the tag: protocol 50 (byte 9), then ESP SPI, seq 1, IV = 1.
ip_hdr=${frame:88:40}
esp=${frame:128:32}
if [ "${ip_hdr:18:2}" == "32" ] && [ "$esp" == "00001007000000010000000000000001" ]; then
	t_pass tx_esp_header
else
	t_fail tx_esp_header "ip $ip_hdr esp $esp"
fi
# The payload is still clear text: encrypting it is the agent's job.
hello=$(printf %s esptag-hello | od -An -tx1 | tr -d ' \n')
if [[ "$frame" == *"$hello"* ]]; then t_pass tx_payload_for_agent; else
	t_fail tx_payload_for_agent "$frame"; fi
t_eq tx_protect_counted "$(( $(cnt TX_PROTECT) - before ))" 1
sa_pk=$(bpftool -j map lookup pinned "$G/esptag_sa_stats" key hex $($PY u32 $SA) |
	/usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
j = j[0] if isinstance(j, list) else j
print(sum(v["value"]["packets"] for v in j["formatted"]["values"]))')
t_eq tx_sa_stats_packets "$sa_pk" 1

# Agent down: protect fails closed.
bpftool map update pinned "$G/esptag_cfg" key hex 00 00 00 00 value hex $($PY cfg 0x0)
before=$(cnt TX_DROP_AGENT_DOWN)
capture "$P" pB 1.5 "$TMP/down.hex" || t_fail capture_ready "packet socket did not start"
send_udp 198.51.100.7 must-not-leak
wait_capture
leak=$(printf %s must-not-leak | od -An -tx1 | tr -d ' \n')
if grep -q "$leak" "$TMP/down.hex"; then t_fail agent_down_fail_closed "frame left the port"
else t_pass agent_down_fail_closed; fi
t_eq agent_down_counted "$(( $(cnt TX_DROP_AGENT_DOWN) - before ))" 1

# No policy for 192.0.2.2: clear text, untagged.
before=$(cnt TX_BYPASS)
capture "$P" pB 1.5 "$TMP/byp.hex" || t_fail capture_ready "packet socket did not start"
send_udp 192.0.2.2 in-the-clear
wait_capture
clear=$(printf %s in-the-clear | od -An -tx1 | tr -d ' \n')
if grep "^${PMAC//:/}${HMAC//:/}0800" "$TMP/byp.hex" | grep -q "$clear"; then
	t_pass bypass_untagged
else
	t_fail bypass_untagged "$(cat "$TMP/byp.hex")"
fi
t_eq bypass_counted "$(( $(cnt TX_BYPASS) - before ))" 1

# A TCP GSO super-packet (packet socket with a virtio_net_hdr: gso_size 1000,
# gso_segs 0) leaves whole, with only the tag: OFFLOAD|GSO, mss, and
# ceil(3500 / 1000) = 4 sequence numbers reserved.
bpftool map update pinned "$G/esptag_cfg" key hex 00 00 00 00 value hex $($PY cfg 0x1)
before=$(cnt TX_PROTECT_GSO)
capture "$P" pB 2 "$TMP/gso.hex" || t_fail capture_ready "packet socket did not start"
nsx "$H" $PY sendgso pA $PMAC $HMAC 192.0.2.1 198.51.100.7 1000 3500
send_udp 198.51.100.7 after-gso
wait_capture
gso=$(grep '^'"${PMAC//:/}${HMAC//:/}"'88b6010103' "$TMP/gso.hex" | head -n1)
after=$(grep '^'"${PMAC//:/}${HMAC//:/}"'88b6010101' "$TMP/gso.hex" | head -n1)
# flags 03, next_hdr 06, esp_off = payload_off = 34, trailer 0, mss 1000, SA 7
if [ "${gso:24:40}" == "88b60101030600000022002200000"'3e8'"00000007" ] &&
   [ "$(( ${#gso} / 2 ))" -eq $((14 + 30 + 40 + 3500)) ]; then
	t_pass gso_super_packet_tagged_whole
else
	t_fail gso_super_packet_tagged_whole "len $(( ${#gso} / 2 )) tag ${gso:24:64}"
fi
gseq=$((16#${gso:64:16})) aseq=$((16#${after:64:16}))
t_eq gso_reserves_segment_seqs "$(( aseq - gseq ))" 4
t_eq gso_counted "$(( $(cnt TX_PROTECT_GSO) - before ))" 1

# --- 4. esptag_port on a VF port of the NIC switch ----------------------------
VMAC=02:00:5e:00:53:02 EVIL=02:00:5e:00:53:66 AGENT=02:45:53:50:54:00
ip -n "$S" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$S" link add vs0 type veth peer name vf0 netns "$V"
ip -n "$S" link add up0 type veth peer name uw0 netns "$W"
ip -n "$V" link set vf0 address $VMAC
for d in br0 vs0 up0; do ip -n "$S" link set $d up; done
ip -n "$S" link set vs0 master br0
ip -n "$S" link set up0 master br0
ip -n "$V" link set vf0 up
ip -n "$W" link set uw0 up
VSIDX=$(ip -n "$S" -o link show vs0 | cut -d: -f1)
export TC_BPF_MNT=$PIN
nsx "$S" tc qdisc add dev vs0 clsact
nsx "$S" tc qdisc add dev up0 clsact
t_check iproute2_tc_attach_port_from_vf nsx "$S" tc filter add dev vs0 ingress bpf da obj "$PORT" sec tc
t_check iproute2_tc_attach_port_to_vf nsx "$S" tc filter add dev vs0 egress bpf da obj "$PORT" sec classifier
t_check iproute2_tc_attach_port_uplink nsx "$S" tc filter add dev up0 egress bpf da obj "$PORT" sec classifier
unset TC_BPF_MNT
bpftool map update pinned "$G/esptag_ports" key hex $($PY u32 "$VSIDX") value hex $($PY port 0x2 $VMAC 0)

vm_send() { nsx "$V" $PY send vf0 "$1" "$2" "$3" "$4"; }
# Test frames use the OUI-extended EtherType 88b7: a bridge with
# br_netfilter drops frames that claim IPv4 but are not.

msg=$(printf %s vm-frame-1 | od -An -tx1 | tr -d ' \n')
capture "$W" uw0 2 "$TMP/port.hex" || t_fail capture_ready "packet socket did not start"
vm_send $PMAC $VMAC 88b7 vm-frame-1
vm_send $AGENT $VMAC 88b5 vm-config
vm_send $PMAC $EVIL 88b7 vm-spoofed
wait_capture
# dst src | 88b6 v1 TX flags 0 ... sa_index ffffffff ... | inner 0800 | payload
# tpid ver kind | flags nh result reserved | esp_off payload_off trailer mss
# | sa_index | seq_hi seq_lo | reserved2 | inner_proto
want="${PMAC//:/}${VMAC//:/}88b6""0101""00000000""0000000000000000"
want+="ffffffff""0000000000000000""0000""88b7$msg"
if grep -q "^$want" "$TMP/port.hex"; then t_pass port_untrusted_wrapped; else
	t_fail port_untrusted_wrapped "$(cat "$TMP/port.hex")"; fi
cfgmsg=$(printf %s vm-config | od -An -tx1 | tr -d ' \n')
spoof=$(printf %s vm-spoofed | od -An -tx1 | tr -d ' \n')
if grep -q -e "$cfgmsg" -e "$spoof" "$TMP/port.hex"; then
	t_fail port_config_and_spoof_dropped "reached the uplink"
else
	t_pass port_config_and_spoof_dropped
fi
t_eq port_counters "$(cnt PORT_WRAP) $(cnt PORT_DROP_CONFIG) $(cnt PORT_DROP_SPOOF)" "1 1 1"

# The PF trusts the VF: the very next frame passes unwrapped.
bpftool map update pinned "$G/esptag_ports" key hex $($PY u32 "$VSIDX") value hex $($PY port 0x3 $VMAC 0)
msg=$(printf %s vm-frame-2 | od -An -tx1 | tr -d ' \n')
capture "$W" uw0 1.5 "$TMP/trust.hex" || t_fail capture_ready "packet socket did not start"
vm_send $PMAC $VMAC 88b7 vm-frame-2
wait_capture
if grep -q "^${PMAC//:/}${VMAC//:/}88b7$msg" "$TMP/trust.hex"; then t_pass port_trust_flip; else
	t_fail port_trust_flip "$(cat "$TMP/trust.hex")"; fi

# Config frames never reach a VM.
capture "$V" vf0 1.5 "$TMP/tovf.hex" || t_fail capture_ready "packet socket did not start"
nsx "$W" $PY send uw0 $VMAC $AGENT 88b5 to-the-vm
nsx "$W" $PY send uw0 $VMAC $PMAC 88b7 plain-to-vm
wait_capture
tovm=$(printf %s to-the-vm | od -An -tx1 | tr -d ' \n')
plain=$(printf %s plain-to-vm | od -An -tx1 | tr -d ' \n')
if ! grep -q "$tovm" "$TMP/tovf.hex" && grep -q "$plain" "$TMP/tovf.hex"; then
	t_pass port_config_toward_vf_dropped
else
	t_fail port_config_toward_vf_dropped "$(cat "$TMP/tovf.hex")"
fi
t_eq port_config_toward_vf_counted "$(cnt PORT_DROP_CONFIG)" 2

# --- 5. end to end, no daemon ---------------------------------------------------
AGENT=$BIN/esptag-agent
if [ ! -x "$AGENT" ] || [ ! -f "$RX" ]; then
	t_skip e2e_manual_sa "needs $AGENT and $RX (make)"
	t_exit
fi
EA=$(ns_new iprea) && EB=$(ns_new ipreb) && XA=$(ns_new iprxa) && XB=$(ns_new iprxb) || exit 1
PINA=$(pin_dir_new ipra) && PINB=$(pin_dir_new iprb) || exit 1
for n in $EA $EB $XA $XB; do
	nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
MA=02:00:5e:00:53:a1 MB=02:00:5e:00:53:b1
ip -n "$EA" link add pa type veth peer name host0 netns "$XA"
ip -n "$EB" link add pb type veth peer name host0 netns "$XB"
ip -n "$XA" link add wire0 type veth peer name wire0 netns "$XB"
ip -n "$EA" link set pa address $MA
ip -n "$EB" link set pb address $MB
ip -n "$EA" addr add 192.0.2.1/24 dev pa
ip -n "$EB" addr add 192.0.2.2/24 dev pb
ip -n "$EA" neigh add 192.0.2.2 lladdr $MB dev pa
ip -n "$EB" neigh add 192.0.2.1 lladdr $MA dev pb
ip -n "$EA" link set pa up
ip -n "$EB" link set pb up
for n in $XA $XB; do ip -n "$n" link set host0 up; ip -n "$n" link set wire0 up; done
PIA=$(ip -n "$EA" -o link show pa | cut -d: -f1) PIB=$(ip -n "$EB" -o link show pb | cut -d: -f1)
for side in A B; do
	if [ $side = A ]; then ns=$EA dev=pa pin=$PINA
	else ns=$EB dev=pb pin=$PINB; fi
	export TC_BPF_MNT=$pin
	nsx "$ns" tc qdisc add dev $dev clsact
	nsx "$ns" tc filter add dev $dev egress bpf da obj "$TX" sec tc &&
		nsx "$ns" ip link set dev $dev xdp obj "$RX" sec xdp &&
		nsx "$ns" tc filter add dev $dev ingress bpf da obj "$RX" sec tc ||
		t_fail e2e_attach_$side "iproute2 attach failed"
	unset TC_BPF_MNT
done
GA=$PINA/tc/globals GB=$PINB/tc/globals
bg_start "$XA" "$AGENT" --host host0 --wire wire0 >/dev/null 2>"$TMP/agent-a.log"
bg_start "$XB" "$AGENT" --host host0 --wire wire0 >/dev/null 2>"$TMP/agent-b.log"
wait_log "$TMP/agent-a.log" "running:" && wait_log "$TMP/agent-b.log" "running:"

# The SA pair in the agents, through the data path's config channel.
# The key exists only here and in the agents: never in a BPF map.
add_sa() { # add_sa NS IFACE DIR LOCALMAC -> the agent's SA index
	nsx "$1" /usr/bin/python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import etlib
key = bytes(range(0x40, 0x50)); salt = bytes([1, 2, 3, 4])
c = etlib.CfgClient(sys.argv[2])
r = c.add_sa([etlib.rec_sa(int(sys.argv[3]), "192.0.2.2", 0x4242, key, salt, sys.argv[4],
                           saddr="192.0.2.1")])
if r is None or r.status:
    sys.exit("ADD_SA failed: %r" % (r,))
print(etlib.parse_sa(r.recs(etlib.REC_SA)[0])["sa_index"])' "$ROOT/tests/lib" "$2" "$3" "$4"
}
IA=$(add_sa "$EA" pa 2 $MA) IB=$(add_sa "$EB" pb 1 $MB)
if [[ "$IA" =~ ^[0-9]+$ ]] && [[ "$IB" =~ ^[0-9]+$ ]]; then t_pass e2e_agent_add_sa_via_data_path
else t_fail e2e_agent_add_sa_via_data_path "A: $IA B: $IB"; t_exit; fi

# The same SAs mirrored by hand, with the indices the agents gave.
bpftool map update pinned "$GA/esptag_sad" key hex $($PY u32 "$IA") \
	value hex $($PY sa 0x4242 2 4 1 0x01 $MA 192.0.2.1 192.0.2.2 "$PIA")
K=$($PY spd 2 192.0.2.2 32 1)
bpftool map update pinned "$GA/esptag_spd" key hex ${K%|*} value hex ${K#*|}
K=$($PY spdsrc 1 192.0.2.1 32 2 "$IA")
bpftool map update pinned "$GA/esptag_spd_src" key hex ${K%|*} value hex ${K#*|}
# Inbound: window 64 (bytes 60-61 of struct esptag_sa, little endian).
v=$($PY sa 0x4242 1 4 1 0x01 $MB 192.0.2.1 192.0.2.2 "$PIB" | sed 's/ /\n/g' |
	awk 'NR == 61 { print "40"; next } { print }' | tr '\n' ' ')
bpftool map update pinned "$GB/esptag_sad" key hex $($PY u32 "$IB") value hex $v
for g in $GA $GB; do
	bpftool map update pinned "$g/esptag_cfg" key hex 00 00 00 00 value hex $($PY cfg 0x1)
done

capture "$XB" wire0 3 "$TMP/wire.hex" || t_fail capture_ready "packet socket did not start"
rm -f "$TMP/recv.ready"
bg_start "$EB" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 4000)); s.settimeout(3)
print("ready", file=sys.stderr, flush=True)
try:
    print(s.recv(2000).decode(errors="replace"), flush=True)
except socket.timeout:
    pass' >"$TMP/recv.txt" 2>"$TMP/recv.ready"
wait_ready "$TMP/recv.ready"
nsx "$EA" bash -c "printf %s secret-across-the-wire >/dev/udp/192.0.2.2/4000"
wait "${T_PIDS[-1]}" 2>/dev/null
# (bg_start prints the PID first)
t_eq e2e_datagram_delivered "$(tail -n1 "$TMP/recv.txt")" secret-across-the-wire
wait "${T_PIDS[-2]}" 2>/dev/null
sec=$(printf %s secret-across-the-wire | od -An -tx1 | tr -d ' \n')
esp_frames=$(grep -c '^'"${MB//:/}${MA//:/}"'0800.\{18\}32.\{4\}c0000201c0000202'"00004242" "$TMP/wire.hex")
if [ "$esp_frames" -ge 1 ] && ! grep -q "$sec" "$TMP/wire.hex"; then
	t_pass e2e_wire_carries_esp_only
else
	t_fail e2e_wire_carries_esp_only "ESP frames $esp_frames; $(cat "$TMP/wire.hex")"
fi
t_eq e2e_host_counters "$(G=$GA cnt TX_PROTECT) $(G=$GB cnt RX_OK)" "1 1"
t_exit
