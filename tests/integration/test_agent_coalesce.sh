#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Rx coalescing (esptag-agent --rx-coalesce): decrypted TCP segments of one
# flow reach the host as larger frames, and only in-order segments of one
# flow and SA are merged. The lab's host links at HOST_MTU=3400 (pf0 and
# the switch port facing it), both agents with --rx-coalesce 3400: two
# full-size segments per frame, and a frame still fits in one page, so
# esptag_rx stays the single-buffer XDP program. (A jumbo host link needs
# esptagd --xdp-frags; veth's multi-buffer XDP receive path warned and
# once corrupted memory on this test's kernel under bypass traffic, so the
# test does not depend on it: docs/deploy.md.)
#
# 1. A TCP transfer A -> B (4 MB, transport mode, IPv4): B's host capture
#    (pf0, after esptag_rx) shows frames above 1514 bytes, the sha256 of
#    what B received is what A sent, B's agent coalesced segments, and the
#    counters agree: B's SA counts every ESP packet B's agent decrypted
#    (packets), and B's esptag_rx accepted one frame per frame the agent
#    sent (rx_ok = decrypted - coalesced), no replay or tag drops.
# 2. Crafted TCP segments (a raw socket on A, through esptag_tx and A's
#    agent) while B's agent is stopped, so that they reach it in one batch:
#    a contiguous run of one flow merges; another flow, a gap, an
#    out-of-order segment and a contiguous segment under another SA (A's
#    policy switched to it) do not. Then the same over IPv6.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
t_require socat
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
export HOST_MTU=3400 AGENT_ARGS="--rx-coalesce 3400"
PY=/usr/bin/python3

lab_test_up coalesce --ipv6
STATE=/run/esptag-lab/$LAB
agent_pid() { # SITE: the site's esptag-agent (the process in its agent namespace)
	local p
	for p in $(ip netns pids "et-$LAB-$1-agent"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = esptag-agent ] && { echo "$p"; return; }
	done
}
APID=$(agent_pid B)
grep -q "rx-coalesce 3400" "$STATE/B-agent.log" && t_pass agent_coalesce_option ||
	t_fail agent_coalesce_option "$(grep running: "$STATE/B-agent.log" | tail -1)"

agent_ctr() { # NAME: B's agent counter, from a fresh SIGUSR1 dump
	local n0
	n0=$(grep -c " counter rx_decrypted " "$STATE/B-agent.log")
	kill -USR1 "$APID"
	wait_for 3 eval '[ "$(grep -c " counter rx_decrypted " "$STATE/B-agent.log")" -gt "$n0" ]'
	awk -v c="$1" '$2 == "counter" && $3 == c {v = $4} END {print v + 0}' "$STATE/B-agent.log"
}
dpB() { # COUNTER: B's data-path counter
	L B esptag -j stats 2>/dev/null | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(d["datapath"].get(sys.argv[1], 0))' "$1"
}
sa_packets() { # SPI: packets of B's inbound SA
	L B esptag -j -s state list | $PY -c '
import json, sys
for s in json.load(sys.stdin):
    if s["dir"] == "in" and int(str(s["spi"]), 0) == int(sys.argv[1], 0):
        print(s["stats"]["packets"])' "$1"
}
# pcap_frames FILE: "len sport tcpseq paylen flags csum" per TCP frame from
# A; csum: ok or bad (the TCP checksum over the captured bytes), "-" when
# the capture has only the headers.
pcap_frames() {
	$PY - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off = 24
while off + 16 <= len(d):
    _, _, caplen, wirelen = struct.unpack("<IIII", d[off:off + 16])
    f = d[off + 16:off + 16 + caplen]
    off += 16 + caplen
    if len(f) < 74:
        continue
    if f[12:14] == b"\x08\x00" and f[23] == 6:
        hl = (f[14] & 15) * 4
        pl = struct.unpack(">H", f[16:18])[0] - hl
    elif f[12:14] == b"\x86\xdd" and f[20] == 6:
        hl = 40
        pl = struct.unpack(">H", f[18:20])[0]
    else:
        continue
    t = 14 + hl
    thl = (f[t + 12] >> 4) * 4
    sport = struct.unpack(">H", f[t:t + 2])[0]
    seq = struct.unpack(">I", f[t + 4:t + 8])[0]
    ck = "-"
    if caplen == wirelen:
        seg = f[t:t + pl]
        ph = (f[26:34] if hl != 40 else f[22:54]) + struct.pack(">HH", 6, pl)
        b = ph + seg + (b"\0" if len(seg) & 1 else b"")
        v = sum(struct.unpack(">%dH" % (len(b) // 2), b))
        while v >> 16:
            v = (v & 0xffff) + (v >> 16)
        ck = "ok" if v == 0xffff else "bad"
    print(wirelen, sport, seq, pl - thl, f[t + 13], ck)
PY
}
capB_start() { # FILE SNAPLEN FILTER...
	local f=$1 sl=$2
	shift 2
	nsenter --net="/run/netns/et-$LAB-B" tcpdump -Z root --immediate-mode -B 32768 -i pf0 \
		-s "$sl" -U -w "$f" "$@" >/dev/null 2>"$f.err" &
	CAPB=$!
	T_PIDS+=("$CAPB")
	wait_log "$f.err" "listening on"
}
capB_stop() {
	sleep 0.3
	kill -INT "$CAPB" 2>/dev/null
	wait "$CAPB" 2>/dev/null
}

# --- 1. a TCP transfer A -> B ------------------------------------------------
lab_sa_pair 4 transport 0x201 0x202 "$TMP/sas" >"$TMP/sa.log" 2>&1
t_eq sa_pair_rc $? 0
lab_addrs 4 transport
head -c 4000000 /dev/urandom >"$TMP/data"
want=$(sha256sum <"$TMP/data" | cut -d' ' -f1)
capB_start "$TMP/host.pcap" 128 tcp and src host "$SA_A"
got=$(lab_tcp_xfer "$TMP/data" "$SA_B" 7000)
capB_stop
t_eq transfer_sha256 "$got" "$want"
pcap_frames "$TMP/host.pcap" >"$TMP/frames.txt"
big=$(awk '$1 > 1514' "$TMP/frames.txt" | wc -l)
[ "$big" -gt 0 ] && t_pass host_gets_frames_above_1514 ||
	t_fail host_gets_frames_above_1514 "largest: $(sort -n "$TMP/frames.txt" | tail -1)"
max=$(sort -n "$TMP/frames.txt" | tail -1 | cut -d' ' -f1)
[ "${max:-0}" -le 9014 ] && t_pass frames_within_mtu || t_fail frames_within_mtu "$max"
dec=$(agent_ctr rx_decrypted)
coal=$(agent_ctr rx_coalesced)
[ "$coal" -gt 0 ] && t_pass agent_coalesced || t_fail agent_coalesced "rx_coalesced $coal"
t_eq host_sa_packets_equal_agent_decrypted "$(sa_packets 0x201)" "$dec"
t_eq host_rx_ok_equal_agent_frames "$(dpB rx_ok)" "$((dec - coal))"
t_eq no_replay_or_tag_drops "$(( $(dpB rx_drop_replay) + $(dpB rx_drop_old) + $(dpB rx_drop_tag) ))" 0

# --- 2. crafted segments in one batch ----------------------------------------
# Flow X port 5001 -> 6001, flow Y from port 5002; 100 bytes of payload
# each, only ACK set. The last one goes out under another SA (A's policy
# switched to it), contiguous with the one before.
crafted() { # FAMILY SPI_FIRST
	local fam=$1 s=$2 s1 s2 s3 c=v$1
	s1=$(printf '0x%x' "$s") s2=$(printf '0x%x' $((s + 1))) s3=$(printf '0x%x' $((s + 2)))
	lab_flush
	lab_sa_pair "$fam" transport "$s1" "$s2" "$TMP/sas" >>"$TMP/sa.log" 2>&1
	lab_addrs "$fam" transport
	# A second SA A -> B for the switch.
	k3=$(randhex 20)
	L A esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$s3" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$k3" 128 dir out >>"$TMP/sa.log" 2>&1 &&
	L B esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$s3" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$k3" 128 dir in >>"$TMP/sa.log" 2>&1
	t_eq "$c/sas_rc" $? 0
	local dec0 coal0
	dec0=$(agent_ctr rx_decrypted)
	coal0=$(agent_ctr rx_coalesced)
	capB_start "$TMP/crafted-$c.pcap" 0 tcp and '(src port 5001 or src port 5002)'
	kill -STOP "$APID"
	L A $PY - "$fam" "$SA_A" "$SA_B" "$NET_A" "$NET_B" "$s3" <<'PY'
import socket, struct, subprocess, sys
fam, sa, sb, net_a, net_b, s3 = sys.argv[1:7]
af = socket.AF_INET if fam == "4" else socket.AF_INET6
src, dst = socket.inet_pton(af, sa), socket.inet_pton(af, sb)
def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def seg(sport, seq, flags=0x10):
    pay = bytes([seq & 255]) * 100
    h = struct.pack("!HHIIBBHHH", sport, 6001, seq, 7, 5 << 4, flags, 4096, 0, 0)
    if fam == "4":
        ph = src + dst + struct.pack("!BBH", 0, 6, len(h) + len(pay))
    else:
        ph = src + dst + struct.pack("!I3xB", len(h) + len(pay), 6)
    c = csum(ph + h + pay)
    return h[:16] + struct.pack("!H", c) + h[18:] + pay
s = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.bind((sa, 0))
for sport, seq in ((5001, 1000), (5001, 1100), (5001, 1200),   # merged: 1000 + 300
                   (5002, 1000),                              # another flow
                   (5001, 1300),                              # contiguous, but Y came between
                   (5001, 1500),                              # a gap
                   (5001, 1400),                              # out of order
                   (5002, 1100), (5002, 1200)):               # Y again: merged
    s.sendto(seg(sport, seq), (sb, 0))
subprocess.run(["esptag", "policy", "update", "dev", "pf0", "src", net_a, "dst", net_b, "dir",
                "out", "action", "protect", "spi", s3], check=True)
s.sendto(seg(5002, 1300), (sb, 0))                            # next in order, other SA
PY
	t_eq "$c/crafted_sent" $? 0
	kill -CONT "$APID"
	capB_stop
	# Sorted: what is merged with what, not the order of delivery.
	pcap_frames "$TMP/crafted-$c.pcap" >"$TMP/crafted-$c.all"
	awk '{print $2, $3, $4}' "$TMP/crafted-$c.all" | sort >"$TMP/crafted-$c.txt"
	t_eq "$c/crafted_tcp_checksums" "$(awk '{print $6}' "$TMP/crafted-$c.all" | sort -u)" ok
	t_eq "$c/crafted_frames_at_host" "$(cat "$TMP/crafted-$c.txt")" \
		"$(printf '%s\n' "5001 1000 300" "5002 1000 100" "5001 1300 100" "5001 1500 100" \
			"5001 1400 100" "5002 1100 200" "5002 1300 100" | sort)"
	t_eq "$c/crafted_decrypted" "$(( $(agent_ctr rx_decrypted) - dec0 ))" 10
	t_eq "$c/crafted_coalesced" "$(( $(agent_ctr rx_coalesced) - coal0 ))" 3
	t_eq "$c/crafted_sa_packets" "$(sa_packets "$s1") $(sa_packets "$s3")" "9 1"
	t_eq "$c/no_replay_or_tag_drops" "$(( $(dpB rx_drop_replay) + $(dpB rx_drop_old) + $(dpB rx_drop_tag) ))" 0
}
crafted 4 0x300
crafted 6 0x310
t_exit
