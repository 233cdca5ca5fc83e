#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptagd + esptag CLI against a real esptag-agent on veth pairs:
#
#   ns h: eth0 (esptagd, XDP + tc)  <-veth->  ns a: host0 [esptag-agent] wire0  <-veth->  ns p: wire1
#
# Checks that the daemon's SA database, the agent's SAD (esptag agent sa) and
# the pinned maps agree after every step; bad input changes nothing anywhere;
# an unreachable agent makes protect traffic fail closed (nothing reaches the
# wire); an agent restart re-installs SAs by itself with their sequence
# numbers kept; a daemon killed with SIGKILL or stopped with SIGTERM leaves the
# data path running and a restarted one reconciles; esptagd --teardown and
# --cleanup-on-exit remove everything; 10,000 SAs go in and out through the CLI.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require bpftool
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip "$(basename "$0")" "$BIN/$b not built"; exit 77; }
done
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
K3=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4 # every SA its own key
K4=0x3132333435363738393a3b3c3d3e3f40d1d2d3d4
K5=0x4142434445464748494a4b4c4d4e4f50e1e2e3e4
AEAD="aead rfc4106(gcm(aes))"

# $(...) runs the harness helpers in a subshell: register for teardown here.
H=$(ns_new h) || exit 1
A=$(ns_new a) || exit 1
P=$(ns_new p) || exit 1
ip link add eth0 netns "$H" type veth peer name host0 netns "$A"
ip -n "$A" link add wire0 type veth peer name wire1 netns "$P"
for n in "$H" "$A" "$P"; do
	nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$H" link set eth0 up
ip -n "$A" link set host0 up
ip -n "$A" link set wire0 up
ip -n "$P" link set wire1 up
ip -n "$H" addr add 192.0.2.1/24 dev eth0
ip -n "$P" addr add 192.0.2.2/24 dev wire1
# Static neighbours: no ARP on the wire, so its packet counter is exact.
PMAC=$(ip -n "$P" -br link show wire1 | awk '{print $3}')
HMAC=$(ip -n "$H" -br link show eth0 | awk '{print $3}')
ip -n "$H" neigh replace 192.0.2.2 lladdr "$PMAC" dev eth0 nud permanent
ip -n "$P" neigh replace 192.0.2.1 lladdr "$HMAC" dev wire1 nud permanent

PINS=$(pin_dir_new pins) || exit 1
TMP=$(tmp_new) || exit 1
SOCK=$TMP/esptagd.sock

E() { nsx "$H" "$BIN/esptag" --socket "$SOCK" "$@"; }
start_agent() {
	bg_start "$A" "$BIN/esptag-agent" --host host0 --wire wire0 "$@" >>"$TMP/agent.log" 2>&1
	AGENT_PID=${T_PIDS[-1]}
}
stop_pid() { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# Ready once the control socket answers `esptag agent status`; stop
# waiting early if esptagd exited.
daemon_answers_or_died() { _t_agent_status "$H" "$SOCK" || ! kill -0 "$DAEMON_PID" 2>/dev/null; }
start_daemon() {
	bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
		--hello-interval 200 "$@" >>"$TMP/esptagd.log" 2>&1
	DAEMON_PID=${T_PIDS[-1]}
	wait_for 10 daemon_answers_or_died
	_t_agent_status "$H" "$SOCK"
}
cfg_up() { bpftool -j map dump pinned "$PINS/esptag_cfg" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"] & 1)'; }
is_up() { [ "$(cfg_up)" = 1 ]; }
is_down() { [ "$(cfg_up)" = 0 ]; }
dp() { # dp COUNTER: data-path counter straight from the pinned per-CPU map
	bpftool -j map dump pinned "$PINS/esptag_stats" | $PY "$ROOT/tests/lib/counters.py" sum "$1"
}
agent_ctr() { E -j stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["agent"][sys.argv[1]])' "$1"; }
wire_rx() { ip -n "$P" -s -j link show wire1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
ping_peer() { nsx "$H" ping -q -c "${1:-5}" -i 0.05 -W 0.2 192.0.2.2 >/dev/null 2>&1; true; }

# Non-empty slots of a per-SA array map (unused slots are all zero).
NONEMPTY="$PY $ROOT/tests/lib/map_nonempty.py"
# agree: daemon (state list), agent (agent sa) and esptag_sad hold exactly
# the same SAs (index, SPI, dir); the sequence in an esptag_sad value is set
# for exactly the outbound SAs, a replay window only for inbound ones (a
# fresh window is all zero, like an unused slot). Only non-empty slots of
# the arrays count. Prints the count.
agree() {
	E -j state list >"$TMP/st.json" || return 1
	E -j agent sa >"$TMP/ag.json" || return 1
	bpftool -j map dump pinned "$PINS/esptag_sad" | $NONEMPTY >"$TMP/sad.json" || return 1
	$PY - "$TMP" <<'EOF'
import json, socket, sys
d = sys.argv[1]
ld = lambda f: [e.get("formatted", e) for e in json.load(open(f"{d}/{f}"))]
st = {(s["sa_index"], s["spi"], s["dir"]) for s in ld("st.json")}
ag = {(s["sa_index"], s["spi"], s["dir"]) for s in ld("ag.json")}
def nz(v):
    if isinstance(v, dict): return any(nz(x) for x in v.values())
    if isinstance(v, list): return any(nz(x) for x in v)
    return bool(v)
sad = ld("sad.json")
mp = {(e["key"], socket.ntohl(e["value"]["spi"]), "in" if e["value"]["dir"] == 1 else "out")
      for e in sad if e["value"]["spi"] or e["value"]["flags"]}
seq = {e["key"] for e in sad if nz(e["value"]["seq"])}
rp = {e["key"] for e in sad if nz(e["value"]["replay"])}
out = {i for i, _, dr in st if dr == "out"}
inn = {i for i, _, dr in st if dr == "in"}
bad = []
if st != ag: bad.append(f"daemon vs agent: {sorted(st ^ ag)[:5]}")
if st != mp: bad.append(f"daemon vs esptag_sad: {sorted(st ^ mp)[:5]}")
if seq != out: bad.append(f"esptag_sad seq vs out SAs: {sorted(seq ^ out)[:5]}")
if not rp <= inn: bad.append(f"esptag_sad replay state of no in SA: {sorted(rp - inn)[:5]}")
if bad:
    print("; ".join(bad)); sys.exit(1)
print(len(st))
EOF
}
# check_agree NAME WANT_COUNT
check_agree() {
	local got
	if got=$(agree); then t_eq "$1" "$got" "$2"; else t_fail "$1" "$got"; fi
}

# ---------------------------------------------------------------------------
start_agent --capacity 16
if ! start_daemon --audit-interval 1; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
t_pass daemon_start
wait_for 5 is_up && t_pass agent_up_at_start || t_fail agent_up_at_start "esptag_cfg AGENT_UP not set"
E agent status >"$TMP/status.txt"
grep -q 'reachable yes' "$TMP/status.txt" && grep -q 'sad 0/16' "$TMP/status.txt" &&
	t_pass agent_status || t_fail agent_status "$(cat "$TMP/status.txt")"
sock_mode=$(stat -c %a "$SOCK")
t_eq control_socket_mode_0600 "$sock_mode" 600

# --- state add: the three views agree ---------------------------------------
E -j monitor >"$TMP/monitor.json" 2>&1 &
MON_PID=$!
T_PIDS+=("$MON_PID")
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	reqid 1 $AEAD $K1 128 dir out &&
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode transport \
	reqid 2 $AEAD $K2 128 replay-window 128 dir in
t_eq state_add_rc $? 0
check_agree state_add_agree 2
E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1000
t_eq policy_add_rc $? 0
E -j policy list | $PY -c 'import json,sys; p=json.load(sys.stdin); assert len(p)==1 and p[0]["sa_index"] is not None' &&
	t_pass policy_resolves_sa || t_fail policy_resolves_sa "$(E policy list)"
# keys never leave the daemon: not in JSON, not in text, not in the log
if E -j state list | grep -qi '0102030405\|a1a2a3a4' || E state list | grep -qi '0102030405' ||
	E -j agent sa | grep -qi '0102030405' || grep -qi '0102030405\|a1a2a3a4' "$TMP/esptagd.log"; then
	t_fail no_keys_in_output "key bytes found"
else
	t_pass no_keys_in_output
fi
bpftool map dump pinned "$PINS/esptag_sad" | grep -qi '01 02 03 04 05 06' &&
	t_fail no_keys_in_maps "key bytes in esptag_sad" || t_pass no_keys_in_maps

# --- bad input: a clear error and nothing changed anywhere --------------------
bad() { # bad NAME WANT_RC NEEDLE CMD...
	local name=$1 want=$2 needle=$3 rc
	shift 3
	E "$@" 2>"$TMP/err.txt" >/dev/null
	rc=$?
	if [ "$rc" != "$want" ] || ! grep -q -- "$needle" "$TMP/err.txt"; then
		t_fail "$name" "rc $rc (want $want), stderr: $(cat "$TMP/err.txt")"
		return
	fi
	t_pass "$name"
}
bad bad_key_length 1 "20 bytes for AES-128" state add dev eth0 src 192.0.2.1 dst 192.0.2.2 \
	proto esp spi 0x1001 $AEAD 0x0102030405060708090a0b0c0d0e0f10a1a2 128 dir out
bad unknown_algorithm 1 "unknown algorithm" state add dev eth0 src 192.0.2.1 dst 192.0.2.2 \
	proto esp spi 0x1001 aead 'rfc4309(ccm(aes))' $K1 128 dir out
bad bad_prefix 1 "host bits" policy add dev eth0 src 192.0.2.1/24 dst 192.0.2.2/32 dir out action bypass
bad duplicate_spi 2 "already exists" state add dev eth0 src 192.0.2.1 dst 192.0.2.2 \
	proto esp spi 0x1000 $AEAD $K2 128 dir out
bad wrong_dev 2 "manages eth0" state add dev eth9 src 192.0.2.1 dst 192.0.2.2 \
	proto esp spi 0x1003 $AEAD $K2 128 dir out
bad del_unknown 2 "no SA" state del dev eth0 dst 192.0.2.2 proto esp spi 0x7777
# Full agent SAD: 15 more do not fit in 16 with 2 used. The first frame (13
# SAs) is accepted by the agent, the second refused: the daemon must take the
# first 13 back, so that nothing is left anywhere.
for i in $(seq 1 15); do
	printf 'state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi %d %s 0x%08x%024xa1a2a3a4 128 dir out\n' \
		$((0x3000 + i)) "$AEAD" "$((0x3000 + i))" "$i"
done >"$TMP/full.batch"
E -b "$TMP/full.batch" 2>"$TMP/err.txt"
rc=$?
[ "$rc" = 3 ] && grep -Eq "SAD is full|quota in the agent is used up" "$TMP/err.txt" && t_pass agent_sad_full_error ||
	t_fail agent_sad_full_error "rc $rc: $(cat "$TMP/err.txt")"
check_agree bad_input_changed_nothing 2
E -j agent status | $PY -c 'import json,sys; a=json.load(sys.stdin); assert a["sad_used"]==2, a' &&
	t_pass agent_sad_rolled_back || t_fail agent_sad_rolled_back "$(E agent status)"

# --- protect traffic goes to the agent and comes out as ESP -------------------
p0=$(dp tx_protect) e0=$(agent_ctr tx_encrypted) w0=$(wire_rx)
ping_peer 5
p1=$(dp tx_protect) e1=$(agent_ctr tx_encrypted) w1=$(wire_rx)
[ $((p1 - p0)) -ge 5 ] && [ $((e1 - e0)) -ge 5 ] && [ $((w1 - w0)) -ge 5 ] &&
	t_pass protect_traffic_encrypted || t_fail protect_traffic_encrypted \
	"tx_protect +$((p1 - p0)), agent tx_encrypted +$((e1 - e0)), wire +$((w1 - w0))"
seq_before=$(E -j state list | $PY -c 'import json,sys; print([s["seq"] for s in json.load(sys.stdin) if s["dir"]=="out"][0])')
[ "$seq_before" -ge 6 ] && t_pass tx_sequence_advanced || t_fail tx_sequence_advanced "seq $seq_before"
E -j stats | $PY -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sa"] if x["dir"] == "out"][0]
assert s["packets"] >= 5 and s["agent"]["packets"] >= 5 and s["agent"]["seq"] >= 6, s' &&
	t_pass per_sa_stats || t_fail per_sa_stats "$(E stats | tail -4)"

# --- an orphan in the agent (a raw ADD_SA nobody asked the daemon for) is swept -
# (a version 2 ADD_SA, its key wrapped for the agent's key as any requester's)
nsx "$H" $PY - "$ROOT/tests/lib" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import etlib
c = etlib.CfgClient("eth0")
r = c.add_sa([etlib.rec_sa(etlib.DIR_OUT, "192.0.2.9", 0x6666, bytes(range(1, 17)), b"salt",
                           c.mac, saddr="192.0.2.1")])
assert r is not None and r.status == 0 and c.version == 2, (r, c.version)
EOF
wait_for 5 grep -q "removed 1 orphan SAs from the agent" "$TMP/esptagd.log" &&
	t_pass orphan_swept || t_fail orphan_swept "no sweep in the log"
check_agree orphan_sweep_agree 2
# ... and SAs the agent lost behind our back (a foreign FLUSH_PORT on our port)
# come back under new indices with their sequence numbers.
nsx "$H" $PY - "$HMAC" <<'EOF'
import socket, struct, sys
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
hdr = struct.pack("!BBBBIHHHH", 2, 4, 0, 0, 0x0badcaff, 0, 0, 0, 0xffff)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send((bytes.fromhex("024553505400") + mac + b"\x88\xb5" + hdr).ljust(60, b"\0"))
EOF
wait_for 5 grep -q "the agent lost 2 of our SAs" "$TMP/esptagd.log" &&
	t_pass lost_sas_detected || t_fail lost_sas_detected "no re-install in the log"
wait_for 3 agree >/dev/null
check_agree lost_sas_reinstalled 2
E -j state list | $PY -c '
import json, sys
out = [s for s in json.load(sys.stdin) if s["dir"] == "out"][0]
assert out["seq"] >= int(sys.argv[1]), out' "$seq_before" &&
	t_pass lost_sas_keep_sequence || t_fail lost_sas_keep_sequence "$(E state list)"

# --- IPv6 SAs and policies next to the IPv4 ones; a hard lifetime ----------------
E state add dev eth0 src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x4000 mode tunnel \
	$AEAD $K4 128 esn dir out &&
E state add dev eth0 src 2001:db8::2 dst 2001:db8::1 proto esp spi 0x4001 mode tunnel \
	$AEAD $K5 128 replay-window 1024 esn dir in &&
E policy add dev eth0 src 2001:db8::/64 dst 2001:db8::2/128 dir out action protect spi 0x4000 &&
E policy add dev eth0 src 2001:db8::/32 dst 2001:db8::/32 dir in action protect
t_eq ipv6_add_rc $? 0
check_agree ipv6_agree 4
E state add dev eth0 src 192.0.2.1 dst 192.0.2.3 proto esp spi 0x5000 $AEAD $K3 128 \
	limit time-hard 1 dir out
t_eq lifetime_add_rc $? 0
sa_5000_gone() { E -j state list | $PY -c 'import json,sys; sys.exit(any(s["spi"] == 0x5000 for s in json.load(sys.stdin)))'; }
wait_for 5 sa_5000_gone
check_agree lifetime_expired_everywhere 4
E state del dev eth0 dst 2001:db8::2 proto esp spi 0x4000 && E state del dev eth0 dst 2001:db8::1 proto esp spi 0x4001 &&
E policy del dev eth0 src 2001:db8::/64 dst 2001:db8::2/128 dir out &&
E policy del dev eth0 src 2001:db8::/32 dst 2001:db8::/32 dir in
t_eq ipv6_del_rc $? 0
check_agree ipv6_deleted 2
n=$(bpftool -j map dump pinned "$PINS/esptag_spd" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq policy_nodes_removed "$n" 1
# Nested destinations: each node's parent is the next shorter prefix with
# rules; removing the middle one re-links its child to the grandparent.
spd_parents() { # prints "plen:parent_plen" per node, sorted
	bpftool -j map dump pinned "$PINS/esptag_spd" | $PY -c '
import json, sys
nodes = [e["formatted"] for e in json.load(sys.stdin)]
ids = {n["value"]["id"]: n["key"]["prefixlen"] - 32 for n in nodes}
out = []
for n in nodes:
    v = n["value"]
    par = "-" if not v["parent"] else ids[v["parent"]]
    if v["parent"] and v["parent_prefixlen"] - 32 != par:
        par = "bad"
    out.append((n["key"]["prefixlen"] - 32, str(par)))
print(" ".join("%d:%s" % x for x in sorted(out)))'
}
E policy add dev eth0 src 0.0.0.0/0 dst 198.51.0.0/16 dir out action discard &&
E policy add dev eth0 src 0.0.0.0/0 dst 198.51.100.0/24 dir out action bypass &&
E policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.7/32 dir out action discard
t_eq nested_policy_add_rc $? 0
t_eq spd_parent_links "$(spd_parents)" "16:- 24:16 32:- 32:24"
E policy del dev eth0 src 0.0.0.0/0 dst 198.51.100.0/24 dir out
t_eq spd_relink_on_delete "$(spd_parents)" "16:- 32:- 32:16"
E policy del dev eth0 src 0.0.0.0/0 dst 198.51.0.0/16 dir out &&
E policy del dev eth0 src 192.0.2.0/24 dst 198.51.100.7/32 dir out
t_eq nested_policy_del_rc $? 0
t_eq spd_back_to_one_node "$(spd_parents)" "32:-"

# --- agent unreachable: port down, protect traffic dropped, nothing in clear ---
stop_pid "$AGENT_PID" KILL
wait_for 5 is_down && t_pass agent_killed_port_down || t_fail agent_killed_port_down "AGENT_UP still set"
d0=$(dp tx_drop_agent_down) p0=$(dp tx_protect)
ping_peer 5
d1=$(dp tx_drop_agent_down) p1=$(dp tx_protect)
[ $((d1 - d0)) -ge 5 ] && [ "$p1" = "$p0" ] && t_pass agent_down_drops_protect ||
	t_fail agent_down_drops_protect "drop_agent_down +$((d1 - d0)), tx_protect +$((p1 - p0))"
# An agent that forwards traffic but never answers config: still fail closed,
# and the wire sees nothing at all (no plaintext, no ESP).
start_agent --capacity 16 --test-drop-config 100
sleep 1 # the test's point: the port stays down for a while (absence cannot be polled)
is_down && t_pass deaf_agent_stays_down || t_fail deaf_agent_stays_down "port came up"
w0=$(wire_rx) d0=$(dp tx_drop_agent_down)
ping_peer 5
w1=$(wire_rx) d1=$(dp tx_drop_agent_down)
[ "$w1" = "$w0" ] && [ $((d1 - d0)) -ge 5 ] && t_pass nothing_sent_in_clear ||
	t_fail nothing_sent_in_clear "wire +$((w1 - w0)) frames, drop_agent_down +$((d1 - d0))"
stop_pid "$AGENT_PID" KILL

# --- agent restarted: SAs re-installed without any command --------------------
start_agent --capacity 16
wait_for 8 is_up && t_pass agent_restart_port_up || t_fail agent_restart_port_up "still down"
check_agree agent_restart_reinstalled 2
E -j state list | $PY -c '
import json, sys
out = [s for s in json.load(sys.stdin) if s["dir"] == "out"][0]
assert out["seq"] >= int(sys.argv[1]), out' "$seq_before" &&
	t_pass reinstall_keeps_sequence || t_fail reinstall_keeps_sequence "$(E state list)"
E -j policy list | $PY -c 'import json,sys; p=json.load(sys.stdin); assert p[0]["sa_index"] is not None' &&
	t_pass reinstall_policy_follows || t_fail reinstall_policy_follows "$(E policy list)"
e0=$(agent_ctr tx_encrypted)
ping_peer 5
e1=$(agent_ctr tx_encrypted)
[ $((e1 - e0)) -ge 5 ] && t_pass traffic_resumes_after_agent_restart ||
	t_fail traffic_resumes_after_agent_restart "agent tx_encrypted +$((e1 - e0))"
monitor_events() {
	grep -q '"agent-down"' "$TMP/monitor.json" && grep -q '"agent-restarted"' "$TMP/monitor.json" &&
		grep -q '"sa-added"' "$TMP/monitor.json" && grep -q '"tx_drop_agent_down"' "$TMP/monitor.json" &&
		grep -q '"sa-expired"' "$TMP/monitor.json" && grep -q '"policy-removed"' "$TMP/monitor.json"
}
wait_for 3 monitor_events &&
	t_pass monitor_events || t_fail monitor_events "$(head -c 600 "$TMP/monitor.json")"

# --- daemon killed: the data path keeps going; restart reconciles --------------
stop_pid "$DAEMON_PID" KILL
p0=$(dp tx_protect) w0=$(wire_rx)
ping_peer 5
p1=$(dp tx_protect) w1=$(wire_rx)
[ $((p1 - p0)) -ge 5 ] && [ $((w1 - w0)) -ge 5 ] && t_pass datapath_runs_without_daemon ||
	t_fail datapath_runs_without_daemon "tx_protect +$((p1 - p0)), wire +$((w1 - w0))"
rm -f "$SOCK"
if start_daemon; then t_pass daemon_restart; else t_fail daemon_restart "$(tail -5 "$TMP/esptagd.log")"; fi
wait_for 5 is_up
check_agree daemon_restart_reconciled 2
E -j state list | $PY -c 'import json,sys; s=json.load(sys.stdin); assert all(x["nokey"] for x in s), s' &&
	t_pass restarted_daemon_marks_nokey || t_fail restarted_daemon_marks_nokey "$(E state list)"
[ "$(E -j policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] &&
	t_pass policies_recovered || t_fail policies_recovered "$(E policy list)"
p0=$(dp tx_protect)
ping_peer 3
p1=$(dp tx_protect)
[ $((p1 - p0)) -ge 3 ] && t_pass traffic_after_daemon_restart || t_fail traffic_after_daemon_restart "+$((p1 - p0))"

# --- 10,000 SAs through the CLI ----------------------------------------------
E state flush
t_eq flush_rc $? 0
check_agree flush_agree 0
agent_epoch() { E -j agent status | $PY -c 'import json,sys; print(json.load(sys.stdin)["epoch"])'; }
new_epoch() { local e; e=$(agent_epoch) && [ -n "$e" ] && [ "$e" != "$1" ]; }
ep0=$(agent_epoch)
stop_pid "$AGENT_PID" KILL
start_agent --capacity 20000
# AGENT_UP may never have dropped: wait until the daemon has seen the new
# agent (epoch), else its re-install could run in the middle of the adds.
wait_for 8 new_epoch "$ep0" || t_fail agent_restart_seen "epoch still $ep0"
wait_for 8 is_up
$PY - "$TMP/10k.batch" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        d = "out" if i % 2 else "in"
        w = "" if d == "out" else " replay-window 64"
        f.write(f"state add dev eth0 src 192.0.2.1 dst 198.51.100.{i % 250 + 1} proto esp "
                f"spi {0x10000 + i} mode transport aead 'rfc4106(gcm(aes))' "
                f"0x{i:08x}0102030405060708a1a2a3a4{i:08x} 128{w} dir {d}\n")
EOF
t0=$(date +%s%N)
E -b "$TMP/10k.batch"
t_eq add_10k_rc $? 0
echo "INFO 10000 SAs added through CLI, daemon, agent and maps in $((($(date +%s%N) - t0) / 1000000)) ms (not a timed test)"
check_agree add_10k_agree 10000
$PY - "$TMP/del.batch" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(0, 10000, 2):
        f.write(f"state del dev eth0 dst 198.51.100.{i % 250 + 1} proto esp spi {0x10000 + i} dir in\n")
EOF
E -b "$TMP/del.batch"
t_eq del_5k_rc $? 0
check_agree del_5k_agree 5000
t0=$(date +%s%N)
E state flush
t_eq flush_10k_rc $? 0
echo "INFO flush of 5000 SAs in $((($(date +%s%N) - t0) / 1000000)) ms"
check_agree flush_10k_agree 0
n=$(bpftool -j map dump pinned "$PINS/esptag_sa_stats" | $NONEMPTY --count)
t_eq flush_10k_no_sa_stats_left "$n" 0
E -j agent status | $PY -c 'import json,sys; a=json.load(sys.stdin); assert a["sad_used"]==0 and a["daemon_sas"]==0, a' &&
	t_pass flush_10k_no_leak || t_fail flush_10k_no_leak "$(E agent status)"

# --- a stop keeps the data path (fail closed); --teardown removes it -------------
nsx "$H" "$BIN/esptagd" --teardown --dev eth0 --pin-dir "$PINS" --sock "$SOCK" >>"$TMP/teardown.log" 2>&1
t_eq teardown_refused_while_daemon_serves $? 1
stop_pid "$DAEMON_PID" TERM
[ -e "$PINS/esptag_sad" ] && ip -n "$H" link show eth0 | grep -q 'xdp' &&
	tc -n "$H" filter show dev eth0 egress 2>/dev/null | grep -q esptag_tx &&
	t_pass stop_keeps_datapath || t_fail stop_keeps_datapath "pins, XDP or tc egress gone"
[ ! -e "$SOCK" ] && t_pass stop_removes_socket || t_fail stop_removes_socket "socket left"
nsx "$H" "$BIN/esptagd" --teardown --dev eth0 --pin-dir "$PINS" --sock "$SOCK" >>"$TMP/teardown.log" 2>&1
t_eq teardown_rc $? 0
left=""
[ -e "$SOCK" ] && left+=" socket"
[ -e "$PINS" ] && left+=" pins($(ls "$PINS" | tr '\n' ' '))"
ip -n "$H" link show eth0 | grep -q 'xdp' && left+=" xdp"
tc -n "$H" filter show dev eth0 egress 2>/dev/null | grep -q bpf && left+=" tc-egress"
tc -n "$H" filter show dev eth0 ingress 2>/dev/null | grep -q bpf && left+=" tc-ingress"
tc -n "$H" qdisc show dev eth0 | grep -q clsact && left+=" clsact"
[ -z "$left" ] && t_pass teardown_leaves_nothing || t_fail teardown_leaves_nothing "left behind:$left"

# --- lossy config channel: retransmissions carry the day; stop and restart ---
stop_pid "$AGENT_PID" KILL
mkdir -p "$PINS"
start_agent --capacity 1000 --test-drop-config 30
if start_daemon --tries 8 --keep-pins; then
	wait_for 10 is_up
	$PY - "$TMP/lossy.batch" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(f"state add dev eth0 src 192.0.2.1 dst 203.0.113.{i % 200 + 1} proto esp "
                f"spi {0x20000 + i} aead 'rfc4106(gcm(aes))' 0x{i + 1:032x}a1a2a3a4 128 dir out\n")
EOF
	E -b "$TMP/lossy.batch"
	t_eq lossy_channel_add_rc $? 0
	check_agree lossy_channel_agree 200
	dropped=$(agent_ctr cfg_dropped)
	[ "$dropped" -gt 0 ] && t_pass lossy_channel_really_lossy || t_fail lossy_channel_really_lossy "cfg_dropped $dropped"
	stop_pid "$DAEMON_PID" TERM
	[ -e "$PINS/esptag_sad" ] && ip -n "$H" link show eth0 | grep -q xdp &&
		t_pass keep_pins_keeps_datapath || t_fail keep_pins_keeps_datapath "pins or XDP gone"
	if start_daemon --tries 8 --cleanup-on-exit; then
		wait_for 10 is_up
		check_agree keep_pins_restart_agree 200
		n=$(E -j agent sa | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
		stop_pid "$DAEMON_PID" TERM
		[ ! -e "$PINS" ] && ! ip -n "$H" link show eth0 | grep -q xdp &&
			! tc -n "$H" filter show dev eth0 egress 2>/dev/null | grep -q bpf &&
			t_pass cleanup_on_exit_removes_all || t_fail cleanup_on_exit_removes_all "pins or programs left"
		grep -q "the agent did not confirm FLUSH_PORT" "$TMP/esptagd.log" &&
			t_fail cleanup_on_exit_flushes_agent "FLUSH_PORT of $n SAs unconfirmed" ||
			t_pass cleanup_on_exit_flushes_agent
	else
		t_fail keep_pins_restart "$(tail -5 "$TMP/esptagd.log")"
	fi
else
	t_fail lossy_channel_daemon_start "$(tail -5 "$TMP/esptagd.log")"
fi

# --- other EtherTypes: agent, daemon and data path agree on 0x88b7/0x88b8 -------
stop_pid "$AGENT_PID" KILL
mkdir -p "$PINS"
start_agent --capacity 16 --cfg-ethertype 0x88b7 --meta-ethertype 0x88b8
if start_daemon --cfg-ethertype 0x88b7 --meta-ethertype 0x88b8 --cleanup-on-exit; then
	wait_for 5 is_up
	E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 $AEAD $K1 128 dir out &&
		E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1000
	t_eq ethertype_add_rc $? 0
	e0=$(agent_ctr tx_encrypted)
	ping_peer 5
	e1=$(agent_ctr tx_encrypted)
	[ $((e1 - e0)) -ge 5 ] && t_pass ethertypes_configurable || t_fail ethertypes_configurable "agent +$((e1 - e0))"
	stop_pid "$DAEMON_PID" TERM
else
	t_fail ethertype_daemon_start "$(tail -5 "$TMP/esptagd.log")"
fi
stop_pid "$AGENT_PID" KILL

# --- --adopt: programs and maps attached by iproute2 ----------------------------
ADOPT=$(pin_dir_new adopt) || exit 1
export TC_BPF_MNT=$ADOPT
nsx "$H" tc qdisc replace dev eth0 clsact &&
	nsx "$H" tc filter add dev eth0 egress bpf da obj "$BUILD/bpf/esptag_tx.bpf.o" sec tc &&
	nsx "$H" ip link set dev eth0 xdp obj "$BUILD/bpf/esptag_rx.bpf.o" sec xdp
t_eq adopt_iproute2_attach $? 0
unset TC_BPF_MNT
PINS=$ADOPT/tc/globals
start_agent --capacity 16
if start_daemon --adopt --cleanup-on-exit; then
	wait_for 5 is_up
	E -j agent status | $PY -c 'import json,sys; assert json.load(sys.stdin)["xdp"] == "adopted"' &&
		t_pass adopt_mode_reported || t_fail adopt_mode_reported "$(E agent status | head -2)"
	E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 $AEAD $K1 128 dir out &&
		E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1000
	t_eq adopt_add_rc $? 0
	check_agree adopt_agree 1
	p0=$(dp tx_protect) e0=$(agent_ctr tx_encrypted)
	ping_peer 5
	p1=$(dp tx_protect) e1=$(agent_ctr tx_encrypted)
	[ $((p1 - p0)) -ge 5 ] && [ $((e1 - e0)) -ge 5 ] && t_pass adopt_traffic_encrypted ||
		t_fail adopt_traffic_encrypted "tx_protect +$((p1 - p0)), agent +$((e1 - e0))"
	E policy flush
	stop_pid "$DAEMON_PID" TERM
	n=$(bpftool -j map dump pinned "$PINS/esptag_sad" | $NONEMPTY --count)
	ip -n "$H" link show eth0 | grep -q xdp && nsx "$H" tc filter show dev eth0 egress | grep -q bpf &&
		[ "$n" = 0 ] && t_pass adopt_exit_leaves_programs || t_fail adopt_exit_leaves_programs "sad entries $n or programs gone"
else
	t_fail adopt_daemon_start "$(tail -5 "$TMP/esptagd.log")"
fi
nsx "$H" ip link set dev eth0 xdp off
nsx "$H" tc qdisc del dev eth0 clsact

[ -n "${ET_DEBUG:-}" ] && cp -r "$TMP" "$ET_DEBUG"
t_exit
