#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Bypass sockets (ESPTAG_CTL_BYPASS_SOCKET, an IKE daemon's bypass_socket),
# in the two-site lab: a transport SA pair and protect policies covering
# everything between the sites' addresses, both ways.
#   - a UDP socket pair (port 500 on both sites) registered with each
#     site's esptagd by socket cookie exchanges datagrams in clear both
#     ways: every answer arrives, the capture between the sites shows them
#     as plain UDP, tx_bypass_socket and rx_bypass_socket count them;
#   - an unregistered pair (port 4501) between the same hosts still goes
#     as ESP (no plain UDP of that port on the wire);
#   - plaintext from the registered socket of B to the unregistered port
#     4501 of A is dropped at A (rx_drop_policy), A's socket never sees it;
#   - ping between the sites stays ESP;
#   - the request needs the read-write socket: refused (E_PERM) on the
#     read-only one (--ro-group); a cookie of 0 is refused (bad request);
#   - at most 64 sockets: when full, the entries of closed sockets are
#     removed first; 64 open ones and a 65th is refused (E_NOSPC).
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
PY=/usr/bin/python3
UDP="$PY $ROOT/tests/integration/udp_peer.py"
TMP=$(tmp_new bypass)
STATE=/run/esptag-lab/$LAB
ECHO_PIDS=()
lab_down() {
	for p in "${ECHO_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	"$LABSH" down >/dev/null 2>&1
}
trap 'lab_down; t_teardown' EXIT
export DAEMON_ARGS="--ro-group root"
if ! "$LABSH" up >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
A_IP=192.0.2.1 B_IP=192.0.2.2
lab_sa_pair 4 transport 0x5001 0x5002 "$TMP/sas" >/dev/null
t_eq sa_pair_and_protect_policies $? 0
dp() { L "$1" esptag -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$2"; }
# plain_udp PCAP PORT: frames on the wire that are UDP (not ESP) to or from PORT
plain_udp() { tcpdump -n -r "$1" "udp and port $2" 2>/dev/null | wc -l; }
esp_frames() { tcpdump -n -r "$1" "ip proto 50" 2>/dev/null | wc -l; }
echo_start() { # echo_start SITE PORT OUT [--register SOCK]
	local site=$1 port=$2 out=$3 addr
	shift 3
	[ "$site" = A ] && addr=$A_IP || addr=$B_IP
	L "$site" $UDP echo "$addr" "$port" "$@" >"$out" 2>"$out.ready" &
	ECHO_PIDS+=($!)
	wait_log "$out.ready" "ready"
}

# --- the request: privilege and bad input ------------------------------------------
r=$(L A $UDP register "$STATE/A.sock.ro")
case "$r" in
"status 9 "*) t_pass read_only_socket_refused ;;	# ESPTAG_CTL_E_PERM
*) t_fail read_only_socket_refused "$r" ;;
esac
r=$(L A $PY -c '
import sys; sys.path.insert(0, sys.argv[2]); import etlib, struct
st, m = etlib.ctl_request(sys.argv[1], etlib.CTL_OP["BYPASS_SOCKET"], struct.pack("=QBBHI", 0, 4, 17, 500, 0), 1)
print(st, m.decode())' "$STATE/A.sock" "$ROOT/tests/lib")
case "$r" in
"1 "*cookie*) t_pass cookie_0_refused ;;	# ESPTAG_CTL_E_INVAL
*) t_fail cookie_0_refused "$r" ;;
esac

# --- registered pair: clear both ways; unregistered pair: ESP --------------------
echo_start B 500 "$TMP/b500" --register "$STATE/B.sock"
t_eq b_registered $? 0
echo_start B 4501 "$TMP/b4501"
echo_start A 4501 "$TMP/a4501"
lab_capture_start "$TMP/wire.pcap" || t_fail capture "tcpdump did not start"
txa0=$(dp A tx_bypass_socket) rxa0=$(dp A rx_bypass_socket)
txb0=$(dp B tx_bypass_socket) rxb0=$(dp B rx_bypass_socket)
r1=$(L A $UDP send $A_IP 500 $B_IP 500 20 --register "$STATE/A.sock" 2>&1)
r2=$(L A $UDP send $A_IP 4502 $B_IP 4501 20 2>&1)
L A ping -q -c 5 -i 0.05 -W 1 $B_IP >"$TMP/ping" 2>&1
lab_capture_stop
t_eq registered_pair_answers "$r1" "sent 20 answered 20"
t_eq unregistered_pair_answers "$r2" "sent 20 answered 20"
t_eq registered_pair_plain_on_wire "$(plain_udp "$TMP/wire.pcap" 500)" 40
t_eq unregistered_pair_never_plain "$(plain_udp "$TMP/wire.pcap" 4501)" 0
e=$(esp_frames "$TMP/wire.pcap")
[ "$e" -eq 50 ] && t_pass unregistered_and_ping_as_esp || t_fail unregistered_and_ping_as_esp "esp frames $e"
t_check ping_answered grep -q " 0% packet loss" "$TMP/ping"
t_eq a_tx_bypass_socket "$(($(dp A tx_bypass_socket) - txa0))" 20
t_eq a_rx_bypass_socket "$(($(dp A rx_bypass_socket) - rxa0))" 20
t_eq b_tx_bypass_socket "$(($(dp B tx_bypass_socket) - txb0))" 20
t_eq b_rx_bypass_socket "$(($(dp B rx_bypass_socket) - rxb0))" 20

# --- clear from B's registered socket to A's unregistered port: dropped ----------
: >"$TMP/a4501"
lab_capture_start "$TMP/wire2.pcap" || t_fail capture "tcpdump did not start"
d0=$(dp A rx_drop_policy)
# (a fresh registered socket of B: port 500 is the echo's)
r3=$(L B $UDP send $B_IP 501 $A_IP 4501 10 --register "$STATE/B.sock" 2>&1)
lab_capture_stop
d1=$(dp A rx_drop_policy)
t_eq plaintext_to_unregistered_unanswered "$r3" "sent 10 answered 0"
t_eq plaintext_left_b_in_clear "$(plain_udp "$TMP/wire2.pcap" 4501)" 10
t_eq plaintext_dropped_at_a "$((d1 - d0))" 10
t_eq a_unregistered_socket_got_nothing "$(grep -c "from $B_IP" "$TMP/a4501")" 0

# --- the map is bounded; closed sockets' entries make room ---------------------------
# A holds one entry of a closed socket (the sender above): 64 open sockets
# fit once it is pruned, the 65th is refused (E_NOSPC); closed, they make room.
r=$(L A $UDP fill "$STATE/A.sock" 65)
t_eq bounded_65th_refused "$(echo "$r" | head -1)" "ok 64 refused 1 status 7"
t_eq closed_sockets_pruned "$(echo "$r" | tail -1)" "after close status 0"
t_exit
