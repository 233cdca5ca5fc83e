#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Keys that never travel in clear (config protocol version 2,
# docs/protocol.md 1.10), in the lab (site A: PF esptagd, VM vm1 with its
# own esptagd behind VF 1, the agent; site B the peer):
#  - capture of the host port (the agent's host side) and of the VM's
#    mailbox (a relay between the VM's esptagd and the PF's socket) while
#    the PF and the VM add SAs: no byte sequence of any key or salt is in
#    either, though every ADD_SA was captured (version 2, wrapped records);
#  - traffic through SAs added with wrapped keys decrypts on the wire, with
#    tshark and the keys given to the CLI (ICV checked);
#  - a PF test double that answers the VM's HELLO with its own agent key:
#    the VM's esptagd (--agent-key the real agent's fingerprint) refuses it
#    with a clear error, `state add` fails naming it, the double never gets
#    an ADD_SA; without --agent-key a VM's esptagd trusts no key at all.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
t_require tshark
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
TMP=$(tmp_new wrap)
STATE=/run/esptag-lab/$LAB
TAP="$ROOT/tests/integration/mbox_tap.py"
PIDS=()
lab_down() { "$LABSH" down >/dev/null 2>&1; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; lab_down; t_teardown' EXIT

if ! "$LABSH" up --vms 1 --switch vepa >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up
FPR=$("$BIN/esptag-agent" --show-key --state-dir "$STATE/A-agent-state" 2>/dev/null | awk '$1 == "fingerprint" {print $2}')
t_check agent_has_fingerprint test -n "$FPR"
t_check agent_key_file_0600 test "$(stat -c %a "$STATE/A-agent-state/agent-key.pem")" = 600
t_check pf_speaks_v2 grep -q "config protocol version 2, agent key $FPR" "$STATE/A-esptagd.log"
t_check vm_speaks_v2_pinned grep -q "config protocol version 2, agent key $FPR (as configured)" \
	"$STATE/A-vm1-esptagd.log"

aversion() { L "$1" esptag -j agent status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
t_eq pf_agent_status_version "$(aversion A)" 2
t_eq vm_agent_status_version "$(aversion A-vm1)" 2
VMNS=/run/netns/et-$LAB-A-vm1
VMPINS=/sys/fs/bpf/esptag-$LAB-A-vm1
VMSOCK=$STATE/A-vm1.sock
# vm_daemon MAILBOX LOG [options]: the VM's esptagd on another mailbox.
vm_daemon() {
	local mb=$1 log=$2
	shift 2
	"$LABSH" vm daemon-kill vm1 >/dev/null 2>&1
	sleep 0.3 # settle: the PF handles the killed VF driver's hang-up (it logs nothing to wait for)
	nsenter --net="$VMNS" "$BIN/esptagd" --vf --mailbox "$mb" --dev vf0 --pin-dir "$VMPINS" \
		--sock "$VMSOCK" "$@" >>"$log" 2>&1 &
	VMD=$!
	PIDS+=("$VMD")
	wait_for 10 test -S "$VMSOCK"
}
vm_stop() { kill "$VMD" 2>/dev/null; wait "$VMD" 2>/dev/null; rm -f "$VMSOCK"; }
sa_add() { # NODE DEV SRC DST SPI KEYHEX BITS DIR
	L "$1" esptag state add dev "$2" src "$3" dst "$4" proto esp spi "$5" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$6" "$7" dir "$8"
}

# ---- capture: host port and mailbox while the PF and the VM add SAs ---------------
/usr/bin/python3 "$TAP" relay "$TMP/vf1.tap" "$STATE/A-mbox/vf1.mbox" "$TMP/mbox.log" \
	2>"$TMP/relay.ready" &
PIDS+=($!)
wait_ready "$TMP/relay.ready"
vm_daemon "$TMP/vf1.tap" "$TMP/vm1.log" --agent-key "$FPR"
wait_for 10 _t_agent_status "et-$LAB-A-vm1" "$VMSOCK"
wait_for 10 grep -q "config protocol version 2" "$TMP/vm1.log"
nsenter --net="/run/netns/et-$LAB-A-agent" tcpdump -Z root --immediate-mode -i host0 -U -w "$TMP/host.pcap" \
	>/dev/null 2>"$TMP/host.err" &
PIDS+=($!)
CAPD=$!
wait_log "$TMP/host.err" "listening on"
KEYS="$TMP/keys" # one key+salt per line, hex (mode 0600, never printed)
(umask 077; : >"$KEYS")
K1=$(randhex 20) K2=$(randhex 36) K3=$(randhex 20) K4=$(randhex 36)
printf '%s\n' "$K1" "$K2" "$K3" "$K4" >>"$KEYS"
sa_add A pf0 192.0.2.1 198.51.100.7 0x7101 "$K1" 128 out >/dev/null &&
	sa_add A pf0 198.51.100.7 192.0.2.1 0x7102 "$K2" 128 in >/dev/null
t_eq pf_adds_ok $? 0
VMIP=$(L A-vm1 ip -4 -o addr show vf0 | awk '{print $4}' | cut -d/ -f1)
sa_add A-vm1 vf0 "$VMIP" 198.51.100.8 0x7201 "$K3" 128 out >/dev/null &&
	sa_add A-vm1 vf0 198.51.100.8 "$VMIP" 0x7202 "$K4" 128 in >/dev/null
t_eq vm_adds_ok $? 0
sleep 0.3 # settle: the last replies are on their way to the capture
kill -INT "$CAPD" 2>/dev/null
wait "$CAPD" 2>/dev/null
t_eq vm_sas_in_agent "$(L A esptag -j vf list | /usr/bin/python3 -c '
import json, sys
print([v["sas"] for v in json.load(sys.stdin) if v["vf"] == 1][0])')" 2
res=$(/usr/bin/python3 - "$TMP/host.pcap" "$TMP/mbox.log" "$KEYS" <<'EOF'
import json, struct, sys
pcap = open(sys.argv[1], "rb").read()
mbox = b"".join(bytes.fromhex(l.split()[1]) for l in open(sys.argv[2]) if " " in l)
keys = [bytes.fromhex(l.strip()) for l in open(sys.argv[3]) if l.strip()]
# Every 8-byte window of every key, and every salt (the last 4 bytes).
needles = []
for k in keys:
    key, salt = k[:-4], k[-4:]
    needles += [key[i:i + 8] for i in range(len(key) - 7)] + [salt]
# ADD_SA requests in the capture (frames: 24-byte pcap record header + 14 Ethernet).
adds, off = {}, 24
while off + 16 <= len(pcap):
    incl = struct.unpack("<I", pcap[off + 8:off + 12])[0]
    f = pcap[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(f) >= 30 and f[12:14] == b"\x88\xb5" and f[15] == 2 and not f[16] & 1:
        adds[f[14]] = adds.get(f[14], 0) + 1
vm_adds = sum(1 for l in open(sys.argv[2]) if l.startswith("vf>pf") and
              bytes.fromhex(l.split()[1])[24:26] == b"\x02\x02")
print(json.dumps(dict(host_hits=sum(n in pcap for n in needles),
                      mbox_hits=sum(n in mbox for n in needles),
                      host_adds=adds, vm_adds_v2=vm_adds, needles=len(needles))))
EOF
)
echo "INFO capture: $res"
jr() { echo "$res" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
t_eq host_port_captured_adds_v2 "$(jr 'r["host_adds"].get("2", 0) >= 4 and len(r["host_adds"]) == 1')" True
t_eq mailbox_captured_vm_adds_v2 "$(jr 'r["vm_adds_v2"]')" 2
t_eq no_key_bytes_on_host_port "$(jr 'r["host_hits"]')" 0
t_eq no_key_bytes_in_mailbox "$(jr 'r["mbox_hits"]')" 0

# ---- traffic through SAs added with wrapped keys decrypts on the wire ---------------
SAS="$TMP/sas"
lab_sa_pair 4 transport 0x7301 0x7302 "$SAS" >"$TMP/pair.log" 2>&1
t_eq wrapped_pair_installed $? 0
lab_addrs 4 transport
lab_capture_start "$TMP/wire.pcap"
L A ping -c 10 -i 0.1 -W 2 -I "$IN_A" "$IN_B" >"$TMP/ping.log" 2>&1
t_eq ping_through_wrapped_sas $? 0
lab_capture_stop
res=$(/usr/bin/python3 "$ROOT/tests/lib/espcheck.py" "$TMP/wire.pcap" --sas "$SAS" --hosts "$IN_A,$IN_B")
echo "INFO wire: $res"
read -r esp good plain < <(echo "$res" | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin); print(r["esp"], r["icv_good"], r["plain_ip"])')
[ "$esp" -ge 10 ] && [ "$good" = "$esp" ] && t_pass tshark_decrypts_wrapped_key_sas ||
	t_fail tshark_decrypts_wrapped_key_sas "esp $esp icv_good $good"
t_eq no_plaintext_on_wire "$plain" 0

# ---- a PF that substitutes its own agent key -------------------------------------
vm_stop
VMMAC=$(L A-vm1 ip -br link show vf0 | awk '{print $3}')
/usr/bin/python3 "$TAP" fake-pf "$TMP/fake.mbox" "$TMP/fake.log" "$VMMAC" "$(randhex 32)" \
	2>"$TMP/fake.ready" &
PIDS+=($!)
wait_ready "$TMP/fake.ready"
vm_daemon "$TMP/fake.mbox" "$TMP/vm1-fake.log" --agent-key "$FPR"
wait_log "$TMP/vm1-fake.log" "is not the configured agent key $FPR" 10
t_check substituted_key_logged grep -q "may have substituted its own key" "$TMP/vm1-fake.log"
out=$(L A-vm1 esptag state add dev vf0 src "$VMIP" dst 198.51.100.9 proto esp spi 0x7401 mode transport \
	aead 'rfc4106(gcm(aes))' "0x$(randhex 20)" 128 dir out 2>&1)
[ $? -ne 0 ] && t_pass substituted_key_state_add_refused || t_fail substituted_key_state_add_refused "$out"
echo "$out" | grep -q "not the configured agent key" && t_pass substituted_key_error_says_why ||
	t_fail substituted_key_error_says_why "$out"
t_eq substituted_key_nothing_installed "$(L A-vm1 esptag -j state list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 0
t_check substituted_key_saw_hello grep -q "^vf>pf" "$TMP/fake.log"
t_eq substituted_key_no_add_sa "$(grep -c '^ADD_SA' "$TMP/fake.log")" 0
t_eq substituted_key_no_leak "$(grep -c '^LEAKED' "$TMP/fake.log")" 0
# Without --agent-key a VM trusts no key: the same refusal, nothing sent.
vm_stop
vm_daemon "$TMP/fake.mbox" "$TMP/vm1-nopin.log"
wait_log "$TMP/vm1-nopin.log" "VF mode trusts only the agent key it was given" 10
L A-vm1 esptag state add dev vf0 src "$VMIP" dst 198.51.100.9 proto esp spi 0x7402 mode transport \
	aead 'rfc4106(gcm(aes))' "0x$(randhex 20)" 128 dir out >/dev/null 2>&1
[ $? -ne 0 ] && t_pass unpinned_vm_state_add_refused || t_fail unpinned_vm_state_add_refused "exit 0"
t_eq unpinned_vm_no_add_sa "$(grep -c '^ADD_SA' "$TMP/fake.log")" 0
vm_stop
t_exit
