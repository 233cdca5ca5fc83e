#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A VF driver that replays its own msg_ids through the PF's mailbox (site A
# esptagd in PF mode, the real esptag-agent, VEPA; the VM's own esptagd is
# stopped and a scripted driver, mbox_client.py, takes VF 1's mailbox):
#  - ADD_SA X, DEL_SA, the PF's own SA takes the freed index, ADD_SA X
#    replayed byte for byte: the PF's esptag_sad slot is unchanged and its
#    protected traffic to B still passes; a VF reset (FLUSH_PORT of the VF)
#    afterwards leaves the PF's slot and traffic alone;
#  - DEL_SA replayed after the index went to another SA of the VF: the VF
#    never holds more SAs in the agent than its limit (2), and the PF's count
#    is the agent's;
#  - the same msg_id with another request is executed, not answered with the
#    other request's reply;
#  - HELLO and GET_STATS show the VF only its own port: sad_used is its own
#    use, agent-wide counters are refused, another domain's SA has no stats;
#    in the VM, esptag agent status and esptag stats show only its own.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
TMP=$(tmp_new vfr)
STATE=/run/esptag-lab/$LAB
MB="/usr/bin/python3 $ROOT/tests/integration/mbox_client.py"
lab_down() { "$LABSH" down >/dev/null 2>&1; }
trap 'lab_down; t_teardown' EXIT

if ! VF_ADD_ARGS="limit 2" "$LABSH" up --vms 1 --switch vepa >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up
"$LABSH" vm daemon-kill vm1 >/dev/null 2>&1
MBOX="$STATE/A-mbox/vf1.mbox"
# mbox_client wraps the VF's keys for its domain: the VF's MAC.
VF_MAC=$(L A esptag -j vf list | /usr/bin/python3 -c '
import json, sys
print([v["mac"] for v in json.load(sys.stdin) if v["vf"] == 1][0])')
export VF_MAC
sleep 0.3 # settle: the PF handles the killed VF driver's hang-up (it logs nothing to wait for)

jget() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
sad_used() { L A esptag -j agent status | jget sad_used; }
vf_sas() { L A esptag -j vf list | /usr/bin/python3 -c '
import json, sys
for v in json.load(sys.stdin):
    if v["vf"] == 1: print(v["sas"]); break
else: print("gone")'; }
sa_index_of() { # NODE SPI DIR
	L "$1" esptag -j state list | /usr/bin/python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["spi"] == int(sys.argv[1], 0) and s["dir"] == sys.argv[2]: print(s["sa_index"]); break' "$2" "$3"
}
# The PF's esptag_sad slot IDX: the SA's description (the first 80 bytes;
# the state after it moves with the traffic), as bytes.
slot() { bpftool -j map lookup pinned "/sys/fs/bpf/esptag-$LAB-A/esptag_sad" key $(printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))) 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; print("".join(x[2:] for x in json.load(sys.stdin)["value"][:80]))'; }
# The PF's SA IDX: its next Tx sequence number (never goes back).
slot_seq() { bpftool -j map lookup pinned "/sys/fs/bpf/esptag-$LAB-A/esptag_sad" key $(printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))) 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["seq"]["next"])'; }
sa_add() { # NODE DEV SRC DST SPI KEY DIR
	L "$1" esptag state add dev "$2" src "$3" dst "$4" proto esp spi "$5" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$6" 128 dir "$7"
}
# 4 datagrams A -> B on the PF's protected flow: how many B decrypted.
pf_flow() {
	lab_udp_recv B "$TMP/b" 192.0.2.2 6100 4 2
	lab_udp_send A 192.0.2.2 6100 4
	wait "$UDP_PID"
	grep -c '^0x8' "$TMP/b"
}

KX=$(randhex 20) KP=$(randhex 20)

# ---- replayed ADD_SA must not take over the PF's slot ------------------------------
read -r st IX < <($MB add "$MBOX" 0x1001 0x9001 198.51.100.7 "$KX")
t_eq replay_add_first "$st" 0
read -r st di < <($MB del "$MBOX" 0x1002 "$IX")
t_eq replay_del_first "$st $di" "0 $IX"
# The PF's own protected flow to B; its out SA takes the index just freed.
sa_add A pf0 192.0.2.1 192.0.2.2 0x9100 "$KP" out >/dev/null &&
	L A esptag policy add dev pf0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x9100 >/dev/null &&
	sa_add B pf0 192.0.2.1 192.0.2.2 0x9100 "$KP" in >/dev/null &&
	L B esptag policy add dev pf0 src 192.0.2.1/32 dst 192.0.2.2/32 dir in action protect spi 0x9100 >/dev/null
t_eq pf_flow_setup "$?" 0
IP=$(sa_index_of A 0x9100 out)
t_eq pf_sa_took_freed_index "$IP" "$IX"
S0=$(slot "$IP")
Q0=$(slot_seq "$IP")
t_check pf_slot_present [ -n "$S0" ] && [ "${S0//0/}" != "" ]
t_eq pf_flow_before "$(pf_flow)" 4
# The VF replays ADD_SA X under its old msg_id, byte for byte.
read -r st ri < <($MB add "$MBOX" 0x1001 0x9001 198.51.100.7 "$KX")
echo "# replayed ADD_SA answered: status $st index $ri"
t_eq replay_add_pf_slot_unchanged "$(slot "$IP")" "$S0"
t_eq replay_add_vf_holds_nothing "$(vf_sas)" 0
t_eq replay_add_pf_flow_passes "$(pf_flow)" 4
# FLUSH_PORT of the VF (vf reset): the PF's slot and flow stay.
L A esptag vf reset 1 >/dev/null 2>&1
t_eq vf_reset_pf_slot_unchanged "$(slot "$IP")" "$S0"
t_check pf_seq_never_back [ "$(slot_seq "$IP")" -gt "$Q0" ]
t_eq vf_reset_pf_sa_in_agent "$(L A esptag agent sa | grep -c 0x00009100)" 1
t_eq vf_reset_pf_flow_passes "$(pf_flow)" 4

# ---- a reused msg_id with another request is a new request --------------------------
read -r st IA < <($MB add "$MBOX" 0x2001 0x9201 198.51.100.8 "$KX")
read -r st2 IB < <($MB add "$MBOX" 0x2001 0x9202 198.51.100.8 "$KX")
t_eq reused_id_other_request_executed "$st/$st2/$([ "$IA" != "$IB" ] && echo distinct)" 0/0/distinct
t_eq reused_id_vf_holds_two "$(vf_sas)" 2
L A esptag vf reset 1 >/dev/null 2>&1

# ---- replayed DEL_SA must not lift the VF's SA limit (2) -------------------------------
u0=$(sad_used)
for k in 1 2 3 4; do
	read -r st i1 < <($MB add "$MBOX" $((0x3000 + k * 16)) $((0x9300 + k)) 198.51.100.9 "$KX")
	[ "$st" = 0 ] || continue
	$MB del "$MBOX" $((0x3001 + k * 16)) "$i1" >/dev/null
	# another SA of the VF takes the index...
	$MB add "$MBOX" $((0x3002 + k * 16)) $((0x9400 + k)) 198.51.100.9 "$KX" >/dev/null
	# ...and the old DEL_SA is replayed.
	$MB del "$MBOX" $((0x3001 + k * 16)) "$i1" >/dev/null
done
held=$(( $(sad_used) - u0 ))
echo "# VF holds $held SAs in the agent, the PF counts $(vf_sas)"
t_check replay_del_quota_holds [ "$held" -le 2 ]
t_eq replay_del_pf_count_is_agents "$(vf_sas)" "$held"

# ---- HELLO and GET_STATS: the VF's own port only -----------------------------------------
read -r st used pused plimit < <($MB hello "$MBOX" 0x4001)
echo "# HELLO to the VF: sad_used $used port_used $pused port_limit $plimit (agent: $(sad_used))"
t_eq hello_ok "$st" 0
t_eq hello_sad_used_is_own_port "$used" "$pused"
t_eq hello_port_used "$pused" "$held"
t_check hello_port_limit_is_vf_limit [ "$plimit" -le 2 ]
read -r st n < <($MB stats "$MBOX" 0x4002)
t_eq stats_agent_wide_refused "$st/$n" 10/0
read -r st n < <($MB stats "$MBOX" 0x4003 "$IP")
t_eq stats_foreign_sa_refused "$st/$n" 8/0
L A esptag vf reset 1 >/dev/null 2>&1
read -r st VI < <($MB add "$MBOX" 0x4004 0x9501 198.51.100.10 "$KX")
read -r st n < <($MB stats "$MBOX" 0x4005 "$VI")
t_eq stats_own_sa_answered "$st/$n" 0/1
# The VM's own esptagd: its agent view is its port.
"$LABSH" vm daemon-start vm1 >/dev/null 2>&1
sa_add A-vm1 vf0 192.0.2.11 192.0.2.2 0x9601 "$KX" out >/dev/null
t_eq vm_state_add "$?" 0
t_eq vm_agent_status_own_use "$(L A-vm1 esptag -j agent status | jget sad_used)" 1
t_check vm_agent_status_not_agent_wide [ "$(sad_used)" -gt 1 ]
t_eq vm_stats_own_only "$(L A-vm1 esptag -j stats | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print("agent" in s, len(s["sa"]), all("agent" in x for x in s["sa"]))')" "False 1 True"
t_exit
