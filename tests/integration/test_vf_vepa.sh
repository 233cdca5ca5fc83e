#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Virtualization in the lab, VEPA switch: site A's esptagd in PF
# mode, a VF-mode esptagd in every VM, SAs only through the PF's mailboxes.
#  - VM1 -> VM2 is ESP through the agent's hairpin and arrives marked trusted;
#  - two VMs with the same (dst, proto, SPI) and different keys: each one's
#    traffic decrypts only with its own SA; a forged tag with the other VM's
#    SA index is refused by the agent (tx_drop_domain);
#  - an untrusted VM: state add refused; forged config frames and metadata
#    tags (fuzzed variants) are dropped at its port, the agent's SAD is
#    unchanged, nothing is encrypted or decrypted for it; trust on/off acts
#    on the next frame;
#  - a VM spoofing another VM's MAC is dropped at its port;
#  - a VM destroyed with 1,000 SAs: within 2 s the agent's SAD, the PF's
#    database and maps hold none of them;
#  - VF reset (CLI and the mailbox RESET of a restarting VF driver): the
#    answer comes only after the agent confirmed the removal (agent stopped:
#    no answer; agent continued: answer, SAD clean);
#  - 100 VM create/destroy cycles with SAs leak nothing.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
TMP=$(tmp_new vf)
STATE=/run/esptag-lab/$LAB
FR="/usr/bin/python3 $ROOT/tests/integration/vf_frames.py"
lab_down() { "$LABSH" down >/dev/null 2>&1; }
trap 'kill -CONT $(ip netns pids "et-$LAB-A-agent" 2>/dev/null) 2>/dev/null; lab_down; t_teardown' EXIT

if ! "$LABSH" up --vms 3 --untrusted vm3 --switch vepa >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up

MAC_B=02:00:00:0b:00:01
vm_mac() { printf '02:00:00:0a:01:%02x' "$1"; }
# Counters from `esptag stats` of a site: section (data path|agent) and name.
cnt() { # SITE SECTION NAME
	L "$1" esptag stats | awk -v sec="$2:" -v n="$3" '
		/^[a-z ]+:$/ { s = ($0 == sec) } s && $1 == n { print $2; exit }'
}
dp() { cnt A "data path" "$1"; }
ag() { cnt A agent "$1"; }
jget() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
sad_used() { L A esptag -j agent status | jget sad_used; }
vf_sas() { # VF -> the PF's count, or "gone"
	L A esptag -j vf list | /usr/bin/python3 -c '
import json, sys
for v in json.load(sys.stdin):
    if v["vf"] == int(sys.argv[1]): print(v["sas"]); break
else: print("gone")' "$1"
}
# Entries of the PF's esptag_sad (its own SAs + the VF SAs' domain entries).
# (an array: only non-empty slots count)
pf_sad_entries() { bpftool -j map dump pinned "/sys/fs/bpf/esptag-$LAB-A/esptag_sad" | /usr/bin/python3 "$ROOT/tests/lib/map_nonempty.py" --count; }
jget_len() { /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
sa_index_of() { # NODE SPI DIR
	L "$1" esptag -j state list | /usr/bin/python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["spi"] == int(sys.argv[1], 0) and s["dir"] == sys.argv[2]: print(s["sa_index"]); break' "$2" "$3"
}
key() { randhex 20; }
sa_add() { # NODE SRC DST SPI KEY DIR
	L "$1" esptag state add dev "$([ "${1#A-vm}" != "$1" ] && echo vf0 || echo pf0)" src "$2" dst "$3" \
		proto esp spi "$4" mode transport aead 'rfc4106(gcm(aes))' "0x$5" 128 dir "$6"
}

# ---- VEPA: VM1 -> VM2 through the agent's hairpin, marked trusted ---------
K=$(key)
sa_add A-vm1 192.0.2.11 192.0.2.12 0x2001 "$K" out >/dev/null &&
	L A-vm1 esptag policy add dev vf0 src 192.0.2.11/32 dst 192.0.2.12/32 dir out action protect spi 0x2001 >/dev/null &&
	sa_add A-vm2 192.0.2.11 192.0.2.12 0x2001 "$K" in >/dev/null &&
	L A-vm2 esptag policy add dev vf0 src 192.0.2.11/32 dst 192.0.2.12/32 dir in action protect spi 0x2001 >/dev/null
t_eq vepa_sa_setup "$?" 0
IDX2=$(sa_index_of A-vm2 0x2001 in)
hp0=$(ag tx_hairpin)
lab_udp_recv A-vm2 "$TMP/marks" 192.0.2.12 5555 5 3
lab_udp_send A-vm1 192.0.2.12 5555 5
wait "$UDP_PID"
want=$(printf '0x%08x' $((0x80000000 | IDX2)))
t_eq vepa_hairpin_received "$(grep -c "^$want\$" "$TMP/marks")" 5
t_eq vepa_hairpin_counted "$(( $(ag tx_hairpin) - hp0 ))" 5
t_eq vepa_vf_list_local "$(L A esptag -j vf list | /usr/bin/python3 -c 'import json,sys; print(all(v["local"] and v["mode"]=="vepa" for v in json.load(sys.stdin)))')" True

# ---- agent restart: the VF drivers re-install, the PF resyncs, hairpin again --
s1=$(vf_sas 1) s2=$(vf_sas 2)
"$LABSH" agent stop A >/dev/null 2>&1
"$LABSH" agent start A >/dev/null 2>&1
vfs_reinstalled() {
	local r1 r2 up
	r1=$(L A-vm1 esptag -j agent status | jget reinstalls)
	r2=$(L A-vm2 esptag -j agent status | jget reinstalls)
	up=$(L A-vm2 esptag -j agent status | jget port_up)
	[ "$r1" -ge 1 ] && [ "$r2" -ge 1 ] && [ "$up" = True ] && [ "$(vf_sas 1)" = "$s1" ] &&
		[ "$(vf_sas 2)" = "$s2" ] && [ "$(sad_used)" = "$((s1 + s2))" ]
}
ok=0
wait_for 10 vfs_reinstalled && ok=1
t_eq agent_restart_vfs_reinstalled "$ok" 1
t_eq agent_restart_locals_back "$(L A esptag -j vf list | /usr/bin/python3 -c 'import json,sys; print(all(v["local"] for v in json.load(sys.stdin)))')" True
IDX2=$(sa_index_of A-vm2 0x2001 in)
lab_udp_recv A-vm2 "$TMP/marks" 192.0.2.12 5555 3 3
lab_udp_send A-vm1 192.0.2.12 5555 3
wait "$UDP_PID"
t_eq agent_restart_hairpin_again "$(grep -c "^$(printf '0x%08x' $((0x80000000 | IDX2)))\$" "$TMP/marks")" 3

# ---- same (dst, proto, SPI), two VMs, two keys ------------------------------
K1=$(key) K2=$(key)
for v in 1 2; do L "A-vm$v" ip neigh replace 192.0.2.2 lladdr "$MAC_B" dev vf0 nud permanent; done
sa_add A-vm1 192.0.2.11 192.0.2.2 0x3000 "$K1" out >/dev/null; r1=$?
sa_add A-vm2 192.0.2.12 192.0.2.2 0x3000 "$K2" out >/dev/null; r2=$?
t_eq same_spi_two_domains_accepted "$r1$r2" 00
for v in 1 2; do
	L "A-vm$v" esptag policy add dev vf0 src "192.0.2.1$v/32" dst 192.0.2.2/32 dir out action protect spi 0x3000 >/dev/null
done
I1=$(sa_index_of A-vm1 0x3000 out) I2=$(sa_index_of A-vm2 0x3000 out)
t_check same_spi_distinct_indices [ -n "$I1" ] && [ -n "$I2" ] && [ "$I1" != "$I2" ]
# B decrypts with K1 only: VM1's datagrams arrive, VM2's fail the ICV.
b_recv() { # KEY -> received count; 3 datagrams from each VM
	L B esptag state flush >/dev/null; L B esptag policy flush >/dev/null
	sa_add B 192.0.2.11 192.0.2.2 0x3000 "$1" in >/dev/null
	L B esptag policy add dev pf0 src 192.0.2.0/24 dst 192.0.2.2/32 dir in action protect spi 0x3000 >/dev/null
	lab_udp_recv B "$TMP/b" 192.0.2.2 6000 6 2
	lab_udp_send A-vm1 192.0.2.2 6000 3
	lab_udp_send A-vm2 192.0.2.2 6000 3
	wait "$UDP_PID"
	grep -c '^0x8' "$TMP/b"
}
af0=$(cnt B agent rx_auth_fail)
t_eq same_spi_key1_decrypts_vm1_only "$(b_recv "$K1")" 3
t_eq same_spi_key1_vm2_auth_fail "$(( $(cnt B agent rx_auth_fail) - af0 ))" 3
af0=$(cnt B agent rx_auth_fail)
t_eq same_spi_key2_decrypts_vm2_only "$(b_recv "$K2")" 3
t_eq same_spi_key2_vm1_auth_fail "$(( $(cnt B agent rx_auth_fail) - af0 ))" 3
# VM2 (trusted, so its tags reach the agent) forges a tag with VM1's index.
dd0=$(ag tx_drop_domain) enc0=$(ag tx_encrypted)
L A-vm2 $FR tag vf0 "$(vm_mac 2)" "$MAC_B" "$I1" 192.0.2.12 192.0.2.2
wait_for 3 eval '[ "$(ag tx_drop_domain)" -gt "$dd0" ]'
t_eq foreign_index_refused "$(( $(ag tx_drop_domain) - dd0 ))" 1
t_eq foreign_index_not_encrypted "$(( $(ag tx_encrypted) - enc0 ))" 0

# ---- untrusted VM3 -----------------------------------------------------------
out=$(sa_add A-vm3 192.0.2.13 192.0.2.2 0x4000 "$(key)" out 2>&1); rc=$?
t_check untrusted_state_add_refused [ "$rc" -ne 0 ]
t_check untrusted_refusal_says_why grep -q "trust" <<<"$out"
t_eq untrusted_no_sa_in_vm "$(L A-vm3 esptag -j state list | jget_len)" 0
u0=$(sad_used) c0=$(dp port_drop_config) m0=$(dp port_drop_meta) e0=$(ag tx_encrypted) d0=$(ag rx_decrypted) cr0=$(ag cfg_rx)
v0=$(dp port_drop_vlan_hidden)
read -r ncfg nmeta nhidden < <(L A-vm3 $FR forge vf0 "$(vm_mac 3)" 400 7)
forged_dropped() {
	[ $(( $(dp port_drop_config) - c0 )) -ge "$ncfg" ] && [ $(( $(dp port_drop_meta) - m0 )) -ge "$nmeta" ] &&
		[ $(( $(dp port_drop_vlan_hidden) - v0 )) -ge "$nhidden" ]
}
wait_for 3 forged_dropped
t_eq untrusted_forged_sad_unchanged "$(sad_used)" "$u0"
t_eq untrusted_config_dropped_at_port "$(( $(dp port_drop_config) - c0 ))" "$ncfg"
t_eq untrusted_tags_dropped_at_port "$(( $(dp port_drop_meta) - m0 ))" "$nmeta"
# Config and tags behind a VLAN tag (veth hands the tag over in skb metadata).
t_eq untrusted_vlan_hidden_dropped_at_port "$(( $(dp port_drop_vlan_hidden) - v0 ))" "$nhidden"
t_eq untrusted_nothing_encrypted "$(( $(ag tx_encrypted) - e0 ))" 0
t_eq untrusted_nothing_decrypted "$(( $(ag rx_decrypted) - d0 ))" 0
# Only the daemons' own config reached the agent (HELLOs, stats): well under
# what was forged.
t_check untrusted_no_config_reached_agent [ $(( $(ag cfg_rx) - cr0 )) -lt 40 ]
# Its ordinary frames are wrapped (offload=0) and bypass the agent.
w0=$(dp port_wrap) b0=$(ag tx_bypass)
L A-vm3 ping -c 2 -i 0.2 -W 1 192.0.2.2 >/dev/null 2>&1
t_check untrusted_plain_wrapped [ $(( $(dp port_wrap) - w0 )) -ge 2 ]
t_check untrusted_plain_bypassed [ $(( $(ag tx_bypass) - b0 )) -ge 2 ]
# Trust flips act on the next frame: one well-formed TX tag naming VM1's SA
# (another domain) each time; dropped at the port while untrusted, reaching
# the agent (which refuses the foreign index) while trusted. port_pass also
# counts the other VMs' frames, so the verdicts are read from
# port_drop_meta and the agent's tx_drop_domain.
verdict() { echo "$(( $(dp port_drop_meta) - m0 ))/$(( $(ag tx_drop_domain) - dd0 ))"; }
# tagm: send the tag, return once one of the two counters moved.
tagm() {
	L A-vm3 $FR tag vf0 "$(vm_mac 3)" "$MAC_B" "$I1" 192.0.2.13 192.0.2.2
	wait_for 3 eval '[ "$(verdict)" != 0/0 ]'
}
m0=$(dp port_drop_meta) dd0=$(ag tx_drop_domain)
tagm
t_eq trust_off_tag_dropped_at_port "$(verdict)" 1/0
L A esptag vf trust 3 on
m0=$(dp port_drop_meta) dd0=$(ag tx_drop_domain)
tagm
t_eq trust_on_tag_reaches_agent_which_refuses "$(verdict)" 0/1
L A esptag vf trust 3 off
m0=$(dp port_drop_meta) dd0=$(ag tx_drop_domain)
tagm
t_eq trust_off_again_dropped_at_port "$(verdict)" 1/0

# ---- spoofed source MAC ----------------------------------------------------------
s0=$(dp port_drop_spoof)
L A-vm1 $FR spoof vf0 "$(vm_mac 2)" "$MAC_B" 192.0.2.12 192.0.2.2 5
wait_for 3 eval '[ $(( $(dp port_drop_spoof) - s0 )) -ge 5 ]'
t_eq spoofed_mac_dropped "$(( $(dp port_drop_spoof) - s0 ))" 5

# ---- VM destroyed holding 1,000 SAs ----------------------------------------------
base_used=$(sad_used) base_pf=$(pf_sad_entries) before1=$(vf_sas 1)
for i in $(seq 1 1000); do
	printf 'state add dev vf0 src 192.0.2.11 dst 203.0.113.%d proto esp spi %d mode transport aead rfc4106(gcm(aes)) 0x%s 128 dir out\n' \
		$((i % 250 + 1)) $((0x10000 + i)) "$(printf '%08x%024x%08x' "$i" 1 2)"
done >"$TMP/1000.batch"
L A-vm1 esptag -b "$TMP/1000.batch" >/dev/null
t_eq destroy_1000_added "$(( $(vf_sas 1) - before1 ))" 1000
t_eq destroy_1000_in_agent "$(( $(sad_used) - base_used ))" 1000
t_eq destroy_1000_in_pf_map "$(( $(pf_sad_entries) - base_pf ))" 1000
want_used=$(( base_used - before1 )) want_pf=$(( base_pf - before1 ))
t0=$(date +%s%N)
"$LABSH" vm del vm1 >/dev/null 2>&1
ok=0
while [ $(( $(date +%s%N) - t0 )) -lt 2000000000 ]; do
	if [ "$(sad_used)" = "$want_used" ] && [ "$(vf_sas 1)" = gone ] &&
		[ "$(pf_sad_entries)" = "$want_pf" ]; then
		ok=1
		break
	fi
	sleep 0.05 # poll interval of a timed loop: it measures how long cleanup takes
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# destroyed VM cleaned up in ${ms} ms"
t_eq destroy_1000_clean_within_2s "$ok" 1
t_check destroy_vm_pins_gone [ ! -e "/sys/fs/bpf/esptag-$LAB-A-vm1" ]
t_check destroy_port_entry_gone sh -c "! bpftool map dump pinned /sys/fs/bpf/esptag-$LAB-A/esptag_ports | grep -q '0x02 0x00 0x00 0x0a 0x01 0x01'"

# ---- VF reset: the answer only after the agent confirmed -----------------------------
for i in $(seq 1 50); do
	printf 'state add dev vf0 src 192.0.2.12 dst 203.0.113.%d proto esp spi %d mode transport aead rfc4106(gcm(aes)) 0x%s 128 dir out\n' \
		"$i" $((0x20000 + i)) "$(printf '%08x%024x%08x' "$i" 3 4)"
done >"$TMP/50.batch"
L A-vm2 esptag -b "$TMP/50.batch" >/dev/null
n2=$(vf_sas 2)
u_before=$(sad_used)
AGENT_PID=$(ip netns pids "et-$LAB-A-agent" | head -n 1)
t_check agent_pid_is_agent grep -q esptag-agent "/proc/$AGENT_PID/cmdline"
kill -STOP "$AGENT_PID"
( L A esptag vf reset 2 >"$TMP/reset.out" 2>&1; date +%s%N >"$TMP/reset.done" ) &
RSP=$!
sleep 1 # the test's point: a stopped agent holds the answer back this long
t_check reset_waits_for_agent [ ! -e "$TMP/reset.done" ]
t_cont=$(date +%s%N)
kill -CONT "$AGENT_PID"
wait "$RSP"
t_check reset_answered_after_agent [ "$(cat "$TMP/reset.done" 2>/dev/null || echo 0)" -gt "$t_cont" ]
t_check reset_reports_removed grep -q "$n2 SAs removed" "$TMP/reset.out"
t_eq reset_agent_sad_clean "$(sad_used)" "$(( u_before - n2 ))"
t_eq reset_pf_db_clean "$(vf_sas 2)" 0
# The reset VF driver gave up its mailbox; a VF driver that starts again
# asks for resources (RESET) and waits for the PF's confirmed cleanup.
"$LABSH" vm daemon-kill vm2 >/dev/null 2>&1
"$LABSH" vm daemon-start vm2 >/dev/null 2>&1
L A-vm2 esptag -b "$TMP/50.batch" >/dev/null
t_eq mbox_reset_sas_held "$(vf_sas 2)" 50
u_before=$(sad_used)
"$LABSH" vm daemon-kill vm2 >/dev/null 2>&1      # no goodbye: SAs abandoned
t_eq mbox_reset_abandoned_still_there "$(sad_used)" "$u_before"
kill -STOP "$AGENT_PID"
( "$LABSH" vm daemon-start vm2 >/dev/null 2>&1; date +%s%N >"$TMP/start.done" ) &
SP=$!
sleep 1 # the test's point: a stopped agent holds the VF driver back this long
t_check mbox_reset_vf_waits [ ! -e "$TMP/start.done" ] && [ ! -S "$STATE/A-vm2.sock" ]
t_cont=$(date +%s%N)
kill -CONT "$AGENT_PID"
wait "$SP"
t_check mbox_reset_vf_ready_after_agent [ "$(cat "$TMP/start.done" 2>/dev/null || echo 0)" -gt "$t_cont" ]
t_eq mbox_reset_agent_clean "$(sad_used)" "$(( u_before - 50 ))"
t_check mbox_reset_vf_log grep -q "the PF removed 50 SAs" "$STATE/A-vm2-esptagd.log"

# ---- 100 create/destroy cycles leak nothing ----------------------------------------------
PF_PID=$(cat "$STATE/A-esptagd.pid")
fd0=$(ls /proc/"$PF_PID"/fd | wc -l) u0=$(sad_used) p0=$(pf_sad_entries)
ports0=$(bpftool -j map dump pinned "/sys/fs/bpf/esptag-$LAB-A/esptag_ports" | jget_len)
fail=0
for c in $(seq 1 100); do
	"$LABSH" vm add vm4 >/dev/null 2>&1 || { fail=1; break; }
	sa_add A-vm4 192.0.2.14 192.0.2.2 $((0x5000 + c)) "$(key)" out >/dev/null || { fail=2; break; }
	sa_add A-vm4 192.0.2.2 192.0.2.14 $((0x6000 + c)) "$(key)" in >/dev/null || { fail=3; break; }
	"$LABSH" vm del vm4 >/dev/null 2>&1 || { fail=4; break; }
done
t_eq cycles_100_ran "$fail" 0
cycles_clean() { [ "$(sad_used)" = "$u0" ] && [ "$(vf_sas 4)" = gone ]; }
ok=0
wait_for 2 cycles_clean && ok=1
t_eq cycles_agent_sad_back "$ok/$(sad_used)" "1/$u0"
t_eq cycles_pf_map_back "$(pf_sad_entries)" "$p0"
t_eq cycles_ports_back "$(bpftool -j map dump pinned "/sys/fs/bpf/esptag-$LAB-A/esptag_ports" | jget_len)" "$ports0"
t_eq cycles_pf_fds_back "$(ls /proc/"$PF_PID"/fd | wc -l)" "$fd0"
pgrep -a -f "esptagd .*$LAB" >"$TMP/procs"
t_eq cycles_no_vm4_process "$(grep -c "A-vm4" "$TMP/procs")" 0
t_eq cycles_daemons_left "$(grep -c -- "--sock" "$TMP/procs")/$(cat "$TMP/procs" | wc -l)" 4/4
t_check cycles_pf_alive kill -0 "$PF_PID"
t_check cycles_no_vm_pins [ ! -e "/sys/fs/bpf/esptag-$LAB-A-vm4" ]
t_check cycles_no_vm_ns [ ! -e "/run/netns/et-$LAB-A-vm4" ]
t_check cycles_no_mailbox [ ! -e "$STATE/A-mbox/vf4.mbox" ]

# ---- per-VF SA limit ------------------------------------------------------------------------
VF_ADD_ARGS="limit 5" "$LABSH" vm add vm5 >/dev/null 2>&1
for i in 1 2 3 4 5; do sa_add A-vm5 192.0.2.15 192.0.2.2 $((0x7000 + i)) "$(key)" out >/dev/null || break; done
t_eq limit_five_accepted "$(vf_sas 5)" 5
u0=$(sad_used)
out=$(sa_add A-vm5 192.0.2.15 192.0.2.2 0x7006 "$(key)" out 2>&1); rc=$?
t_eq limit_sixth_refused_exit "$rc" 3
t_check limit_refusal_says_why grep -q "quota" <<<"$out"
t_eq limit_agent_unchanged "$(sad_used)" "$u0"
t_eq limit_vf_unchanged "$(vf_sas 5)/$(L A-vm5 esptag -j state list | jget_len)" 5/5

# ---- the VF's identity is its mailbox, never the message ---------------------------------
# (a hostile driver takes VF 5's mailbox: it claims port 0 and the PF's MAC;
# its keys are wrapped, so the PF cannot rewrite the domain: the PF refuses a
# foreign MAC, the agent a key wrapped for port 0, BAD_RECORD both)
read -r st1 st2 st port mac < <(/usr/bin/python3 "$ROOT/tests/integration/mbox_client.py" identity \
	"$STATE/A-mbox/vf5.mbox" 02:00:00:0a:00:01)
t_eq mbox_identity_from_socket "$st1 $st2 $st $port $mac" "4 4 0 6 $(vm_mac 5)"
t_eq mbox_reset_cleaned_before "$(sad_used)" "$(( u0 - 5 ))"
t_check mbox_claim_not_in_pf_port sh -c "! '$BIN/esptag' -s '$STATE/A.sock' agent sa | grep -q 0x00007777"
t_eq mbox_garbage_pf_survives "$(/usr/bin/python3 "$ROOT/tests/integration/mbox_client.py" garbage \
	"$STATE/A-mbox/vf5.mbox" 600 3)" alive
t_check mbox_garbage_pf_alive kill -0 "$PF_PID"
t_eq mbox_garbage_log_bounded "$(grep -c "VF 5: mailbox message rejected" "$STATE/A-esptagd.log")" 10
t_eq mbox_garbage_sad_unchanged "$(sad_used)" "$(( u0 - 5 ))"
t_exit
