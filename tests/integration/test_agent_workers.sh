#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A multi-core agent (--cpus 2) never sends an IV twice: two workers share
# one outbound SA and each takes its wire numbers from the SA's IVDB
# (docs/protocol.md 2.5). Run with every way frames reach the workers:
#
#   ns h: eth0 (esptagd)  <-veth, 2 queues->  ns a: host0 [esptag-agent --cpus 2] wire0
#     <-veth, 2 queues->  ns p: wire1 (capture)
#
#   --io packet  AF_PACKET rings on both sides, one fan-out group per side
#   --io auto    AF_XDP on the wire side (one socket per queue), fan-out on
#                the host side (the agent offers TSO)
#   --io xdp     AF_XDP on both sides (TSO not offered); the host side's
#                queue is the sender's choice, and a veth picks it by a hash
#                of the frame, which cannot see through the metadata tag:
#                every tagged frame takes one queue, one worker (so this
#                run checks the IVs, not the spreading)
#
# Many UDP flows under one SA, so that both workers encrypt with it; the
# agent restarts between the runs (esptagd re-installs the SA above every
# number the old agent may have used). The capture on the peer must show
# every datagram once, encrypted, with no (SPI, IV) twice over all runs, and
# each worker's counters must show it encrypted some of them (AF_PACKET
# fan-out on the host side).
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require bpftool
DA_QUEUES=2
. "$ROOT/tests/lib/daemon_agent.sh"
W="$PY $ROOT/tests/integration/ivdb_wire.py"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
CAP=$TMP/wire.txt
N=3000

jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
wire() { $W check "$CAP" "${1:-0}"; }
nesp() { wire | jq_ 'd["esp"]'; }
restarts() { grep -c "after the agent restart" "$TMP/esptagd.log"; }
stop_pid() { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# send_flows N: N datagrams to 192.0.2.2:9 from 64 source ports in turn.
send_flows() {
	nsx "$H" $PY - "$1" <<'PY'
import socket, sys
socks = []
for i in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.1", 40000 + i))
    socks.append(s)
for i in range(int(sys.argv[1])):
    socks[i % 64].sendto(b"w" * 64, ("192.0.2.2", 9))
PY
}
# worker_ctr W C: counter C of worker W from a fresh SIGUSR1 dump.
dumps() { grep -c " counter tx_encrypted " "$TMP/agent.log"; }
worker_ctr() {
	local n0
	n0=$(dumps)
	kill -USR1 "$AGENT_PID"
	wait_for 3 eval '[ "$(dumps)" -gt "$n0" ]'
	# Only the last dump: a worker prints only its non-zero counters.
	awk -v w="$1" -v c="$2" '$2 == "epoch" {v = 0} $2 == "worker" && $3 == w && $5 == c {v = $6}
		END {print v + 0}' "$TMP/agent.log"
}

: >"$TMP/agent.log"
start_agent --cpus 2 --io packet
if ! { start_daemon && wait_for 5 is_up; }; then
	t_fail daemon_start "$(tail -5 "$TMP/esptagd.log")"
	# One worker, AF_XDP on the wire side: a frame whose VLAN tag the wire's
# veth carries in packet metadata (tc vlan push on the peer) reaches the
# host with its tag (the XDP program passes it to the AF_PACKET socket,
# which puts the tag back).
n0=$(restarts)
stop_pid "$AGENT_PID"
start_agent --cpus 1
wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up
wait_log "$TMP/agent.log" "wire wire0 (AF_XDP) workers 1" && t_pass one_worker_af_xdp ||
	t_fail one_worker_af_xdp "$(grep running: "$TMP/agent.log" | tail -1)"
nsx "$P" tc qdisc add dev wire1 clsact &&
	nsx "$P" tc filter add dev wire1 egress pref 1 bpf da obj "$BUILD/tests/progs/vlan_push.bpf.o" sec tc
t_eq vlan_push_attached "$?" 0
bg_start "$H" tcpdump -Z root --immediate-mode -i eth0 -U -n -e -c 1 -w "$TMP/vlan.pcap" \
	"vlan 42 and udp port 9" >/dev/null 2>"$TMP/vlan.err"
VPID=${T_PIDS[-1]}
wait_log "$TMP/vlan.err" "listening on"
nsx "$P" $PY -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"v" * 32, ("192.0.2.1", 9))'
wait_gone "$VPID" 3 && t_pass wire_vlan_tag_kept_through_af_xdp ||
	t_fail wire_vlan_tag_kept_through_af_xdp "no frame with VLAN 42 reached the host"
t_exit
fi
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	$AEAD $K1 128 dir out &&
	E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x1000
t_eq setup_sa "$?" 0
bg_start "$P" $W capture wire1 "$CAP" >/dev/null 2>"$CAP.ready"
wait_ready "$CAP.ready" || t_fail capture_ready "packet socket did not start"

for io in packet auto xdp; do
	if [ "$io" != packet ]; then
		n0=$(restarts)
		stop_pid "$AGENT_PID"
		start_agent --cpus 2 --io "$io"
		wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up ||
			t_fail "${io}_reinstalled" "$(tail -3 "$TMP/esptagd.log")"
	fi
	case $io in
	packet) want="host host0 (AF_PACKET) wire wire0 (AF_PACKET) workers 2" ;;
	auto) want="host host0 (AF_PACKET) wire wire0 (AF_XDP) workers 2" ;;
	xdp) want="host host0 (AF_XDP) wire wire0 (AF_XDP) workers 2" ;;
	esac
	wait_log "$TMP/agent.log" "$want" && t_pass "${io}_io_chosen" ||
		t_fail "${io}_io_chosen" "$(grep running: "$TMP/agent.log" | tail -1)"
	n=$(nesp)
	send_flows "$N"
	wait_for 10 eval '[ "$(nesp)" -ge $((n + N)) ]'
	t_eq "${io}_all_encrypted" "$(wire "$n" | jq_ 'd["esp"]')" "$N"
	t_eq "${io}_no_iv_twice" "$(wire | jq_ 'd["dups"]')" "[]"
	t_eq "${io}_seq_is_iv" "$(wire | jq_ 'd["seq_mismatch"]')" "[]"
	w0=$(worker_ctr 0 tx_encrypted)
	w1=$(worker_ctr 1 tx_encrypted)
	spread=yes
	[ "$io" = xdp ] || { [ "$w0" -gt 0 ] && [ "$w1" -gt 0 ]; } || spread=no
	[ "$spread" = yes ] && [ $((w0 + w1)) -eq "$N" ] &&
		t_pass "${io}_both_workers_encrypt" ||
		t_fail "${io}_both_workers_encrypt" "worker 0: $w0, worker 1: $w1 of $N"
	t_eq "${io}_sum_is_total" "$(awk '$2 == "counter" && $3 == "tx_encrypted" {v = $4} END {print v + 0}' "$TMP/agent.log")" "$N"
done
# The systemd unit's capabilities (CAP_NET_RAW, CAP_IPC_LOCK: no CAP_BPF for
# the eBPF fan-out program): the same hash in classic BPF still spreads.
n0=$(restarts)
stop_pid "$AGENT_PID"
bg_start "$A" setpriv --bounding-set -all,+net_raw,+ipc_lock -- \
	"$BIN/esptag-agent" --host host0 --wire wire0 --cpus 2 --io packet >>"$TMP/agent.log" 2>&1
AGENT_PID=${T_PIDS[-1]}
wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up ||
	t_fail unitcaps_reinstalled "$(tail -3 "$TMP/esptagd.log")"
wait_log "$TMP/agent.log" "classic BPF instead" && t_pass unitcaps_classic_bpf_fanout ||
	t_fail unitcaps_classic_bpf_fanout "$(tail -3 "$TMP/agent.log")"
n=$(nesp)
send_flows "$N"
# (Not every frame need reach the wire here: without CAP_NET_ADMIN the
# socket buffers stay at the sysctl limits and a burst may overflow them.)
wait_for 10 eval '[ "$(nesp)" -ge $((n + N)) ]'
t_eq unitcaps_no_iv_twice "$(wire | jq_ 'd["dups"]')" "[]"
w0=$(worker_ctr 0 tx_encrypted)
w1=$(worker_ctr 1 tx_encrypted)
[ "$w0" -gt 0 ] && [ "$w1" -gt 0 ] && [ $((w0 + w1)) -eq "$N" ] &&
	t_pass unitcaps_both_workers_encrypt ||
	t_fail unitcaps_both_workers_encrypt "worker 0: $w0, worker 1: $w1 of $N"
t_eq nothing_in_clear "$(wire | jq_ 'd["plain"]')" 0
# Frames without a policy pass the agent once: a worker's socket in a
# fan-out group must not take the agent's own transmissions back in (the
# send-only socket's frames, GSO super-packets among them, would go round
# between host0 and wire0). One UDP GSO super-packet of 4 segments
# (UDP_SEGMENT), in bypass: on the wire it is one frame (AF_PACKET: the
# agent forwards it whole) or 4 (AF_XDP on the host side: the host's veth
# has no TSO then and cuts it), never more.
gso_send() {
	nsx "$H" $PY - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(17, 103, 1000)  # SOL_UDP, UDP_SEGMENT
s.sendto(sys.argv[1].encode().ljust(4000, b"."), ("203.0.113.9", 9))
PY
}
for io in packet xdp; do
	n0=$(restarts)
	stop_pid "$AGENT_PID"
	start_agent --cpus 2 --io "$io"
	wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up
	p0=$(wire | jq_ 'd["plain"]')
	gso_send "$io-gso"
	want=1
	[ "$io" = xdp ] && want=4
	wait_for 3 eval '[ "$(wire | jq_ '"'"'d["plain"]'"'"')" -ge $((p0 + want)) ]'
	sleep 1
	t_eq "${io}_bypass_frames_once" "$(($(wire | jq_ 'd["plain"]') - p0))" "$want"
done
# One worker, AF_XDP on the wire side: a frame whose VLAN tag the wire's
# veth carries in packet metadata (tc vlan push on the peer) reaches the
# host with its tag (the XDP program passes it to the AF_PACKET socket,
# which puts the tag back).
n0=$(restarts)
stop_pid "$AGENT_PID"
start_agent --cpus 1
wait_for 8 eval '[ "$(restarts)" -gt "$n0" ]' && wait_for 5 is_up
wait_log "$TMP/agent.log" "wire wire0 (AF_XDP) workers 1" && t_pass one_worker_af_xdp ||
	t_fail one_worker_af_xdp "$(grep running: "$TMP/agent.log" | tail -1)"
nsx "$P" tc qdisc add dev wire1 clsact &&
	nsx "$P" tc filter add dev wire1 egress pref 1 bpf da obj "$BUILD/tests/progs/vlan_push.bpf.o" sec tc
t_eq vlan_push_attached "$?" 0
bg_start "$H" tcpdump -Z root --immediate-mode -i eth0 -U -n -e -c 1 -w "$TMP/vlan.pcap" \
	"vlan 42 and udp port 9" >/dev/null 2>"$TMP/vlan.err"
VPID=${T_PIDS[-1]}
wait_log "$TMP/vlan.err" "listening on"
nsx "$P" $PY -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"v" * 32, ("192.0.2.1", 9))'
wait_gone "$VPID" 3 && t_pass wire_vlan_tag_kept_through_af_xdp ||
	t_fail wire_vlan_tag_kept_through_af_xdp "no frame with VLAN 42 reached the host"
t_exit
