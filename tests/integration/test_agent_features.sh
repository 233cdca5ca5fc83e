#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The host honours the features an agent announces (CAPS features):
#
#   ns h: eth0 (esptagd)  <-veth->  ns a: host0 [esptag-agent] wire0 <-veth-> wire1
#
# An agent started with --features hairpin (no TSO, ESN, tunnel, IPv6):
# state add of an ESN, a tunnel-mode or an IPv6 SA is refused with a clear
# error and exit code 3, and nothing changes in the daemon or the agent; a
# plain IPv4 transport SA still goes in. esptagd sets ESPTAG_CFGF_NO_TSO, so
# a protected GSO super-packet (sent through a PACKET_VNET_HDR socket) is
# dropped by esptag_tx and counted as tx_drop_no_tso; the agent never sees
# it. Restarted with every feature, the agent gets the flag cleared again.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require bpftool
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip "$(basename "$0")" "$BIN/$b not built"; exit 77; }
done
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4 # every SA its own key
AEAD="aead rfc4106(gcm(aes))"

H=$(ns_new h) || exit 1
A=$(ns_new a) || exit 1
ip link add eth0 netns "$H" type veth peer name host0 netns "$A"
ip -n "$A" link add wire0 type veth peer name wire1
ip -n "$H" link set eth0 up
for i in host0 wire0 wire1; do ip -n "$A" link set "$i" up; done
ip -n "$H" addr add 192.0.2.1/24 dev eth0

PINS=$(pin_dir_new pins) || exit 1
TMP=$(tmp_new) || exit 1
SOCK=$TMP/esptagd.sock
E() { nsx "$H" "$BIN/esptag" --socket "$SOCK" "$@"; }
reachable() { E -j agent status 2>/dev/null | grep -q '"reachable":true'; }
cfg_flags() { bpftool -j map dump pinned "$PINS/esptag_cfg" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"])'; }
no_tso_set() { [ $(($(cfg_flags) & 2)) = 2 ]; }
no_tso_clear() { [ $(($(cfg_flags) & 2)) = 0 ]; }
dp() { E -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$1"; }
agent_ctr() { E -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["agent"][sys.argv[1]])' "$1"; }
counts() { # daemon SAs, agent SAs
	echo "$(E -j state list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" \
	     "$(E -j agent sa | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"
}

start_agent() {
	bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 --capacity 64 "$@" \
		>>"$TMP/agent.log" 2>&1
	AGENT_PID=${T_PIDS[-1]}
}
start_agent --features hairpin
bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
	--hello-interval 200 >"$TMP/esptagd.log" 2>&1
DAEMON_PID=${T_PIDS[-1]}
if ! wait_for 10 reachable; then
	t_fail setup "esptagd/agent not up: $(tail -3 "$TMP/esptagd.log") $(tail -3 "$TMP/agent.log")"
	t_exit
fi
E agent status | grep -q "features hairpin$" && t_pass agent_announces_fewer_features ||
	t_fail agent_announces_fewer_features "$(E agent status | grep features)"

# --- refusals ------------------------------------------------------------------
# refused NAME WANT_TEXT STATE-ADD-ARGS...: exit code 3, message, nothing changed.
refused() {
	local name=$1 want=$2 rc before after
	shift 2
	before=$(counts)
	E state add "$@" >"$TMP/out" 2>&1
	rc=$?
	after=$(counts)
	if [ $rc != 3 ]; then
		t_fail "$name" "exit code $rc, want 3: $(cat "$TMP/out")"
	elif ! grep -q "$want" "$TMP/out"; then
		t_fail "$name" "message lacks '$want': $(cat "$TMP/out")"
	elif [ "$before" != "$after" ]; then
		t_fail "$name" "SAs (daemon agent) changed: $before -> $after"
	else
		t_pass "$name"
	fi
}
refused esn_sa_refused "the agent does not support esn SAs" \
	dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 mode transport \
	$AEAD $K2 128 esn dir out
refused tunnel_sa_refused "the agent does not support tunnel SAs" \
	dev eth0 src 192.0.2.1 dst 203.0.113.9 proto esp spi 0x1002 mode tunnel \
	$AEAD $K1 128 dir out
refused ipv6_sa_refused "the agent does not support ipv6 SAs" \
	dev eth0 src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1003 mode transport \
	$AEAD $K1 128 dir out
refused ipv6_tunnel_esn_sa_refused "the agent does not support esn,tunnel,ipv6 SAs" \
	dev eth0 src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1004 mode tunnel \
	$AEAD $K1 128 esn dir in
t_eq counts_after_refusals "$(counts)" "0 0"

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	$AEAD $K1 128 dir out
t_eq plain_v4_transport_sa_taken "$?/$(counts)" "0/1 1"

# --- GSO super-packets ----------------------------------------------------------
wait_for 5 no_tso_set && t_pass cfg_no_tso_set || t_fail cfg_no_tso_set "esptag_cfg.flags $(cfg_flags)"
grep -q "ethtool -K eth0 tso off gso off" "$TMP/esptagd.log" && t_pass daemon_logs_advice ||
	t_fail daemon_logs_advice "no ethtool advice in the log"
E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1000
t_eq policy_add_rc $? 0
PMAC=$(ip -n "$A" -br link show host0 | awk '{print $3}')
nsx "$H" ip neigh replace 192.0.2.2 lladdr "$PMAC" dev eth0 nud permanent

# One TCP super-packet of 3000 payload bytes, MSS 1000, through a
# PACKET_VNET_HDR socket (gso_type TCPV4, partial checksum).
gso_send() {
	nsx "$H" $PY - "$(ip -n "$H" -br link show eth0 | awk '{print $3}')" "$PMAC" <<'EOF'
import socket, struct, sys
src, dst = (bytes.fromhex(m.replace(":", "")) for m in sys.argv[1:3])
payload = bytes(3000)
tcp = struct.pack("!HHIIBBHHH", 40000, 5001, 1, 0, 5 << 4, 0x18, 65535, 0, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0,
                 socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"))
s = sum(struct.unpack("!10H", ip))
s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
# pseudo-header sum in the TCP checksum field (CHECKSUM_PARTIAL)
ph = socket.inet_aton("192.0.2.1") + socket.inet_aton("192.0.2.2") + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
s = sum(struct.unpack("!6H", ph)); s = (s & 0xffff) + (s >> 16)
tcp = tcp[:16] + struct.pack("!H", s) + tcp[18:]
frame = dst + src + b"\x08\x00" + ip + tcp + payload
# virtio_net_hdr: flags NEEDS_CSUM, gso_type TCPV4, hdr_len, gso_size, csum_start, csum_offset
vh = struct.pack("=BBHHHH", 1, 1, 54, 1000, 34, 16)
sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sk.setsockopt(263, 15, 1)  # SOL_PACKET, PACKET_VNET_HDR
sk.bind(("eth0", 0))
try:
    sk.send(vh + frame)
except OSError as e:  # a drop at tc egress comes back as ENOBUFS
    if e.errno != 105:
        raise
EOF
}
seg0=$(agent_ctr tx_segments)
enc0=$(agent_ctr tx_encrypted)
drop0=$(dp tx_drop_no_tso)
gso_send
t_eq gso_send_rc $? 0
wait_for 3 eval '[ "$(dp tx_drop_no_tso)" -gt "$drop0" ]'
t_eq gso_dropped_counted "$(($(dp tx_drop_no_tso) - drop0))" 1
t_eq gso_never_reached_agent "$(($(agent_ctr tx_segments) - seg0))/$(($(agent_ctr tx_encrypted) - enc0))" 0/0

# --- an agent with every feature: the flag goes ----------------------------------
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
start_agent
wait_for 10 no_tso_clear && t_pass cfg_no_tso_cleared || t_fail cfg_no_tso_cleared "esptag_cfg.flags $(cfg_flags)"
wait_for 10 reachable
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 mode transport \
	$AEAD $K2 128 esn dir out
t_eq esn_sa_taken_by_full_agent $? 0

# --- restarted with fewer features: what it cannot do is not re-installed ------
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
start_agent --features hairpin
reinstalled() { [ "$(counts)" = "1 1" ]; }
wait_for 10 reinstalled && t_pass esn_sa_not_reinstalled ||
	t_fail esn_sa_not_reinstalled "SAs (daemon agent): $(counts)"
E -j state list | grep -q '"spi":4096' && t_pass plain_sa_reinstalled ||
	t_fail plain_sa_reinstalled "$(E state list)"
kill -0 "$DAEMON_PID" 2>/dev/null &&
	t_pass daemon_alive || t_fail daemon_alive "esptagd exited"
t_exit
