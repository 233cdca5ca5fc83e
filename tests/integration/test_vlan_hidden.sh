#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Config (0x88B5) and metadata (0x88B6) EtherTypes behind VLAN tags never
# reach the wire, with the real esptag-agent on veth pairs:
#
#   ns h: eth0 (esptagd, esptag_tx)  <-veth->  ns a: host0 [esptag-agent] wire0  <-veth->  ns p: wire1 (capture)
#
# A VLAN tag between host and agent (a port VLAN, bridge tagging, tc vlan
# push) turns the daemon's config request, key inside, or a tagged frame of
# a protected flow into a frame the agent used to take as plain and forward.
#  1. agent alone: such frames sent from h, with the tags in the frame and
#     pushed by a tc filter (bpf_skb_vlan_push, what `tc ... action vlan
#     push` does) are dropped by the agent (tx_drop_vlan_hidden);
#  2. with esptagd: esptag_tx drops them before the agent sees them
#     (data-path tx_drop_vlan_hidden), the pushed tag in skb metadata
#     included.
# A capture on the wire side must hold none of them, and the VLAN-tagged
# IPv4 control frames sent alongside must be there.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tc
PUSH=$BUILD/tests/progs/vlan_push.bpf.o
[ -f "$PUSH" ] || { t_skip "$(basename "$0")" "build first (make)"; exit 77; }
# Host, agent and peer namespaces, the daemon's pins and socket.
. "$ROOT/tests/lib/daemon_agent.sh"

# send.py IF SRC DST KIND MARKER: one raw frame, MARKER in its payload.
# KIND: cfg1 / meta2 (0x88B5 behind 802.1Q, 0x88B6 behind 802.1ad +
# 802.1Q, in the frame), cfg0 / meta0 (untagged: a pushed tag hides them),
# ip1 / ip0 (IPv4 behind an 802.1Q tag / untagged: the control frames).
cat >"$TMP/send.py" <<'PYEOF'
import socket, struct, sys
ifname, src, dst, kind, marker = sys.argv[1:6]
mac = lambda m: bytes.fromhex(m.replace(":", ""))
q = lambda tpid, vid: struct.pack("!HH", tpid, vid)
tags = {"1": q(0x8100, 42), "2": q(0x88a8, 100) + q(0x8100, 200), "0": b""}[kind[-1]]
m = marker.encode()
def ipv4(payload):  # 192.0.2.1 -> 192.0.2.2, protocol 253 (experimentation)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, 253, 0,
                    bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    c = sum(struct.unpack("!10H", h))
    c = (c & 0xffff) + (c >> 16)
    c = (c & 0xffff) + (c >> 16)
    return h[:10] + struct.pack("!H", ~c & 0xffff) + h[12:] + payload
if kind.startswith("cfg"):
    # A config request header (version 1, ADD_SA) then the marker where a key would be.
    body = struct.pack("!HBBBBHIHHI", 0x88b5, 1, 2, 0, 0, 0, 0x1a2b3c03, 0, 1, 108) + m
elif kind.startswith("meta"):
    # A TX tag, offload=1, SA 0, sequence 1, over IPv4 plaintext.
    tag = struct.pack("!HBBBBBBHHHHIIIHH", 0x88b6, 1, 1, 1, 17, 0, 0, 34, 50, 0, 0, 0, 0, 1, 0, 0x0800)
    body = tag + ipv4(m)
else:
    body = struct.pack("!H", 0x0800) + ipv4(m)
f = mac(dst) + mac(src) + tags + body
f += b"\x00" * max(0, 60 - len(f))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
try:
    s.send(f)
except OSError:  # ENOBUFS: a tc program dropped it, which is the point
    pass
PYEOF
# capture.py IF OUT: every frame seen on IF, in hex, one a line, until killed.
cat >"$TMP/capture.py" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
out = open(sys.argv[2], "w", buffering=1)
print("ready", file=sys.stderr, flush=True)
while True:
    out.write(s.recv(65536).hex() + "\n")
PYEOF
send() { nsx "$H" $PY "$TMP/send.py" eth0 "$HMAC" "$@"; }
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
on_wire() { grep -q "$(hexof "$1")" "$TMP/wire.txt"; }
# expect_absent NAME MARKER... / expect_present NAME MARKER...
expect_absent() {
	local n=$1 m bad=
	shift
	for m in "$@"; do on_wire "$m" && bad+=" $m"; done
	[ -z "$bad" ] && t_pass "$n" || t_fail "$n" "on the wire:$bad"
}
expect_present() {
	local n=$1 m bad=
	shift
	for m in "$@"; do on_wire "$m" || bad+=" $m"; done
	[ -z "$bad" ] && t_pass "$n" || t_fail "$n" "missing from the wire:$bad"
}
agent_dumps() { grep -c " counter $1 " "$TMP/agent.log"; }
agent_ctr() { # the agent's counter C from a fresh SIGUSR1 dump
	local n0
	n0=$(agent_dumps "$1")
	kill -USR1 "$AGENT_PID"
	wait_for 3 eval '[ "$(agent_dumps "$1")" -gt "$n0" ]'
	awk -v c="$1" '$2 == "counter" && $3 == c {v = $4} END {print v + 0}' "$TMP/agent.log"
}
dp_ctr() { E -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$1"; }
push_on() {
	nsx "$H" tc qdisc add dev eth0 clsact 2>/dev/null
	nsx "$H" tc filter add dev eth0 egress pref 1 bpf da obj "$PUSH" sec tc
}
push_off() { nsx "$H" tc filter del dev eth0 egress pref 1; }

bg_start "$P" bash -c "exec $PY $TMP/capture.py wire1 $TMP/wire.txt 2>$TMP/cap.err" >/dev/null
wait_ready "$TMP/cap.err" || t_fail capture_ready "packet socket did not start"
bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 --capacity 16 >>"$TMP/agent.log" 2>&1
AGENT_PID=${T_PIDS[-1]}
wait_log "$TMP/agent.log" "running:" || t_fail agent_start "$(tail -3 "$TMP/agent.log")"
AGENT=02:45:53:50:54:00

# ---- 1. the agent alone -----------------------------------------------------
send "$AGENT" cfg1 ET-A-CFG-Q
send "$AGENT" cfg2 ET-A-CFG-QINQ
send "$PMAC" meta1 ET-A-META-Q
send "$PMAC" meta2 ET-A-META-QINQ
send "$PMAC" ip1 ET-A-CONTROL-Q
if push_on; then
	send "$AGENT" cfg0 ET-A-CFG-PUSHED
	send "$PMAC" meta0 ET-A-META-PUSHED
	send "$PMAC" ip0 ET-A-CONTROL-PUSHED
	push_off
	pushed=1
else
	t_fail agent_vlan_push_filter "cannot attach $PUSH"
fi
# The agent handles frames in order: once the last one sent is on the wire,
# every earlier one has been forwarded or dropped.
wait_for 3 on_wire "$([ -n "$pushed" ] && echo ET-A-CONTROL-PUSHED || echo ET-A-CONTROL-Q)"
expect_absent agent_vlan_hidden_not_on_wire ET-A-CFG-Q ET-A-CFG-QINQ ET-A-META-Q ET-A-META-QINQ
expect_present agent_vlan_control_on_wire ET-A-CONTROL-Q
if [ -n "$pushed" ]; then
	expect_absent agent_pushed_not_on_wire ET-A-CFG-PUSHED ET-A-META-PUSHED
	expect_present agent_pushed_control_on_wire ET-A-CONTROL-PUSHED
	t_eq agent_counter_tx_drop_vlan_hidden "$(agent_ctr tx_drop_vlan_hidden)" 6
else
	t_eq agent_counter_tx_drop_vlan_hidden "$(agent_ctr tx_drop_vlan_hidden)" 4
fi
agent_before=$(agent_ctr tx_drop_vlan_hidden)

# ---- 2. esptagd and esptag_tx on the host port --------------------------------
bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
	--hello-interval 200 >>"$TMP/esptagd.log" 2>&1
if ! wait_agent_status "$H" "$SOCK"; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
send "$AGENT" cfg1 ET-H-CFG-Q
send "$AGENT" cfg2 ET-H-CFG-QINQ
send "$PMAC" meta1 ET-H-META-Q
send "$PMAC" meta2 ET-H-META-QINQ
send "$PMAC" ip1 ET-H-CONTROL-Q
wait_for 3 on_wire ET-H-CONTROL-Q
t_eq host_counter_tx_drop_vlan_hidden "$(dp_ctr tx_drop_vlan_hidden)" 4
t_eq host_drops_before_agent "$(agent_ctr tx_drop_vlan_hidden)" "$agent_before"
if push_on; then
	# The pushed tag lives in skb metadata: esptag_tx sees an untagged
	# 0x88B5 frame with skb->vlan_present.
	send "$AGENT" cfg0 ET-H-CFG-PUSHED
	wait_for 3 eval '[ "$(dp_ctr tx_drop_vlan_hidden)" -ge 5 ]'
	push_off
	# (The daemon's HELLOs sent meanwhile got the tag too: also dropped.)
	n=$(dp_ctr tx_drop_vlan_hidden)
	[ "$n" -ge 5 ] && t_pass host_counter_pushed || t_fail host_counter_pushed "got $n, want >= 5"
fi
expect_absent host_vlan_hidden_not_on_wire ET-H-CFG-Q ET-H-CFG-QINQ ET-H-META-Q ET-H-META-QINQ \
	ET-H-CFG-PUSHED
expect_present host_vlan_control_on_wire ET-H-CONTROL-Q
t_exit
