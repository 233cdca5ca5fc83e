#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Virtualization in the lab, VEB switch: VF-to-VF frames are
# switched by the NIC switch and never meet the agent. `esptag vf list` says
# so; a protect policy toward a local VM fails closed (the tagged frame is
# dropped at the destination VF port, nothing arrives, nothing in clear);
# traffic without a protect policy bypasses in clear, as documented.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
lab_test_up veb --vms 2 --switch veb

cnt() { # SITE SECTION NAME
	L "$1" esptag stats | awk -v sec="$2:" -v n="$3" '
		/^[a-z ]+:$/ { s = ($0 == sec) } s && $1 == n { print $2; exit }'
}
UM="$ROOT/tests/lib/udp_mark.py"

L A esptag vf list >"$TMP/list"
t_check veb_list_says_bypass grep -q "bypasses the agent" "$TMP/list"
t_check veb_list_mode grep -q "mode veb" "$TMP/list"
t_eq veb_no_local_records "$(L A esptag -j vf list | /usr/bin/python3 -c 'import json,sys; print(any(v["local"] for v in json.load(sys.stdin)))')" False

# Without a policy: clear, switched locally (the documented VEB bypass).
L A-vm2 /usr/bin/python3 "$UM" recv 192.0.2.12 5555 3 2 >"$TMP/plain" 2>"$TMP/plain.ready" &
p=$!
wait_ready "$TMP/plain.ready"
L A-vm1 /usr/bin/python3 "$UM" send 192.0.2.12 5555 3
wait "$p"
t_eq veb_plain_bypasses "$(grep -c '^0x00000000$' "$TMP/plain")" 3

# With a protect policy: fail closed.
K=$(randhex 20)
L A-vm1 esptag state add dev vf0 src 192.0.2.11 dst 192.0.2.12 proto esp spi 0x2001 mode transport \
	aead 'rfc4106(gcm(aes))' "0x$K" 128 dir out >/dev/null &&
	L A-vm1 esptag policy add dev vf0 src 192.0.2.11/32 dst 192.0.2.12/32 dir out action protect spi 0x2001 >/dev/null &&
	L A-vm2 esptag state add dev vf0 src 192.0.2.11 dst 192.0.2.12 proto esp spi 0x2001 mode transport \
		aead 'rfc4106(gcm(aes))' "0x$K" 128 dir in >/dev/null &&
	L A-vm2 esptag policy add dev vf0 src 192.0.2.11/32 dst 192.0.2.12/32 dir in action protect spi 0x2001 >/dev/null
t_eq veb_sa_setup "$?" 0
m0=$(cnt A "data path" port_drop_meta) e0=$(cnt A agent tx_encrypted) h0=$(cnt A agent tx_hairpin)
tp0=$(cnt A-vm1 "data path" tx_protect)
nsenter --net="/run/netns/et-$LAB-A-vm2" tcpdump -i vf0 -U -w "$TMP/vm2.pcap" udp port 5555 >/dev/null 2>"$TMP/vm2.err" &
TD=$!
wait_log "$TMP/vm2.err" "listening on"
L A-vm2 /usr/bin/python3 "$UM" recv 192.0.2.12 5555 3 2 >"$TMP/prot" 2>"$TMP/prot.ready" &
p=$!
wait_ready "$TMP/prot.ready"
L A-vm1 /usr/bin/python3 "$UM" send 192.0.2.12 5555 3
wait "$p"
sleep 0.3 # settle: the capture must show nothing, and absence cannot be polled
kill "$TD" 2>/dev/null
wait "$TD" 2>/dev/null
t_eq veb_protect_sent_tagged "$(( $(cnt A-vm1 "data path" tx_protect) - tp0 ))" 3
t_eq veb_protect_nothing_arrives "$(grep -c '^0x' "$TMP/prot")" 0
t_eq veb_protect_dropped_at_vf_port "$(( $(cnt A "data path" port_drop_meta) - m0 ))" 3
t_eq veb_protect_no_clear_text_at_vm2 "$(tcpdump -r "$TMP/vm2.pcap" 2>/dev/null | wc -l)" 0
t_eq veb_agent_never_saw_it "$(( $(cnt A agent tx_encrypted) - e0 ))/$(( $(cnt A agent tx_hairpin) - h0 ))" 0/0
t_exit
