#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# VF mode: an agent restart never makes a VM's outbound SA reuse a wire
# sequence number / IV (docs/protocol.md 2.5). The VM's esptagd (VF mode)
# re-installs its SA through the PF's mailbox. Frames whose host sequence
# numbers were taken in one order reach the agent in another (an HTB class
# on the VM's vf0 holds one back), so the agent's IVDB runs ahead of the
# VM's counter; after the agent restart every ESP frame of the SA seen on
# the wire (captured at site B's agent) still has a distinct (SPI, IV), and
# traffic flows again.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tc
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
export VF_DAEMON_ARGS="--hello-interval 200"
TMP=$(tmp_new vfiv)
STATE=/run/esptag-lab/$LAB
PY=/usr/bin/python3
W="$PY $ROOT/tests/integration/ivdb_wire.py"
CAP=$TMP/wire.txt
lab_down() { "$LABSH" down >/dev/null 2>&1; }
trap 'lab_down; t_teardown' EXIT

if ! "$LABSH" up --vms 1 --switch veb >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up

send() { L A-vm1 $W send 192.0.2.2 "$1" "$2"; }	# PRIO TEXT
wire() { $W check "$CAP" "${1:-0}"; }
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
nesp() { wire | jq_ 'd["esp"]'; }
# wire_esp_ge N [TIMEOUT=3]: the capture holds at least N ESP frames.
wire_esp_ge() { wait_for "${2:-3}" eval '[ "$(nesp)" -ge '"$1"' ]'; }
vm_port_up() { [ "$(L A-vm1 esptag -j agent status 2>/dev/null | jq_ 'd["port_up"]')" = True ]; }
restarts() { grep -c "after the agent restart" "$STATE/A-vm1-esptagd.log"; }
reorder() {
	L A-vm1 $W drain vf0 0x10002	# class 1:2 now owes ~0.7 s
	local n0
	n0=$(nesp)
	send 0x10002 "$1-a"		# stamped n, waits in class 1:2
	send 0 "$1-b"			# stamped n + 1, reaches the agent first
	wire_esp_ge $((n0 + 2)) 5	# a, released by class 1:2, is out too
	send 0 "$1-c"
	wire_esp_ge $((n0 + 3))
}

K=$(randhex 20)
L A-vm1 ip neigh replace 192.0.2.2 lladdr 02:00:00:0b:00:01 dev vf0 nud permanent &&
	L A-vm1 esptag state add dev vf0 src 192.0.2.11 dst 192.0.2.2 proto esp spi 0x3001 \
		mode transport aead 'rfc4106(gcm(aes))' "0x$K" 128 dir out >/dev/null &&
	L A-vm1 esptag policy add dev vf0 src 192.0.2.11/32 dst 192.0.2.2/32 dir out \
		action protect spi 0x3001 >/dev/null
t_eq vf_sa_setup "$?" 0
L A-vm1 tc qdisc add dev vf0 root handle 1: htb default 1 &&
	L A-vm1 tc class add dev vf0 parent 1: classid 1:1 htb rate 1gbit &&
	L A-vm1 tc class add dev vf0 parent 1: classid 1:2 htb rate 16kbit ceil 16kbit \
		burst 100 cburst 100
t_eq vf_setup_qdisc "$?" 0
nsenter --net="/run/netns/et-$LAB-B-agent" $W capture wire0 "$CAP" 2>"$CAP.ready" &
t_register pid $!
wait_ready "$CAP.ready" || t_fail capture_ready "packet socket did not start"

reorder g1
t_eq vf_reordered_frames_renumbered "$(wire | jq_ 'd["ivs"]')" "[2, 3, 4]"

n0=$(restarts)
"$LABSH" agent stop A && "$LABSH" agent start A
wait_for 10 eval '[ "$(restarts)" -gt "$n0" ]' && t_pass vf_sa_reinstalled ||
	t_fail vf_sa_reinstalled "$(tail -3 "$STATE/A-vm1-esptagd.log")"
wait_for 5 vm_port_up
n=$(nesp)
send 0 g2-d
send 0 g2-e
wire_esp_ge $((n + 2))
t_eq vf_no_iv_reuse_after_restart "$(wire | jq_ 'd["dups"]')" "[]"
t_eq vf_restart_ivs_above_old_agent "$(wire "$n" | jq_ 'd["ivs"]')" "[7, 8]"
t_eq vf_nothing_in_clear "$(wire | jq_ 'd["plain"]')" 0
t_exit
