#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# esptag on a port that other BPF users share (docs/rx.md "Sharing the port"):
#  - a foreign XDP program (native or generic mode) is never replaced:
#    esptagd refuses with a message naming it (name, id, mode) and saying what
#    to do, exits non-zero, and the program stays attached (same id);
#    esptag's own program left by a stopped daemon is taken over;
#  - --xdp-priority reaches libxdp (the run priority it reports; the default
#    is esptag_rx's XDP_RUN_CONFIG, 10), --xdp-frags attaches
#    esptag_rx_frags, --tc-prio sets the filters' priority, bad values exit 2;
#  - tc egress ordering with direct-action filters: a filter before
#    esptag_tx (lower prio number) returning TC_ACT_OK sends protected
#    traffic out in clear (the rule documented), one before it returning
#    TC_ACT_UNSPEC or one after it does not break protection (ESP on the wire);
#    --teardown --tc-prio removes filters at that priority;
#  - a mark set before esptag_rx_mark (tc ingress, bit 0x00040000, outside
#    the default mask 0x8000ffff) survives esptag's Rx (SO_RCVMARK).
. "$(dirname "$0")/../lib/harness.sh"
t_require tc
t_require tcpdump
COBJ=$BUILD/tests/progs/coexist_test.bpf.o
ROBJ=$BUILD/bpf/esptag_rx.bpf.o
[ -f "$COBJ" ] && [ -f "$ROBJ" ] || { t_skip "$(basename "$0")" "build first (make)"; exit 77; }
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4

xdp_id() { ip -n "$H" -j link show eth0 | $PY -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp", {})
print(x.get("prog", {}).get("id") or (x.get("attached") or [{}])[0].get("prog", {}).get("id", 0))'; }
prog_name() { bpftool -j prog show id "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["name"])'; }

# --- a foreign XDP program is never replaced ----------------------------------
# refused_by NAME MODE_WORD: esptagd exits non-zero, names the program, its id
# and mode, says what to do; the program stays; nothing else was applied.
refused_by() {
	local name=$1 mode=$2 id out rc
	id=$(xdp_id)
	out=$(nsx "$H" timeout 10 "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		t_fail "${name}_exit" "exit $rc: $out"
	else
		t_pass "${name}_exit"
	fi
	if grep -q "'foreign_pass' (id $id, $mode mode)" <<<"$out" && grep -q "xdp off" <<<"$out" &&
	   grep -q "xdp-loader load" <<<"$out"; then
		t_pass "${name}_message"
	else
		t_fail "${name}_message" "$out"
	fi
	t_eq "${name}_still_attached" "$(xdp_id)" "$id"
	if nsx "$H" tc filter show dev eth0 egress | grep -q esptag || [ -n "$(ls -A "$PINS")" ]; then
		t_fail "${name}_nothing_applied" "$(nsx "$H" tc filter show dev eth0 egress; ls -A "$PINS")"
	else
		t_pass "${name}_nothing_applied"
	fi
}
nsx "$H" ip link set dev eth0 xdpdrv obj "$COBJ" sec xdp
t_eq foreign_native_attached "$(prog_name "$(xdp_id)")" foreign_pass
refused_by foreign_native native
nsx "$H" ip link set dev eth0 xdpdrv off
nsx "$H" ip link set dev eth0 xdpgeneric obj "$COBJ" sec xdp
refused_by foreign_generic "generic (skb)"
nsx "$H" ip link set dev eth0 xdpgeneric off

# --- options: bad values exit 2 -----------------------------------------------
bad_opt() {
	local name=$1 rc
	shift
	nsx "$H" timeout 10 "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" "$@" \
		>"$TMP/bad.out" 2>&1
	rc=$?
	t_eq "$name" "$rc" 2
}
bad_opt xdp_priority_not_a_number --xdp-priority high
bad_opt xdp_priority_negative --xdp-priority -1
bad_opt tc_prio_zero --tc-prio 0
bad_opt tc_prio_too_big --tc-prio 65536
bad_opt tc_prio_with_adopt --adopt --tc-prio 5
bad_opt xdp_frags_with_no_attach --no-attach --xdp-frags

# --- --xdp-frags, --xdp-priority, --tc-prio -----------------------------------
stop_daemon() { kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; }
start_daemon --xdp-frags --cleanup-on-exit
t_eq xdp_frags_attached "$(prog_name "$(xdp_id)")" esptag_rx_frags
grep -q "esptag_rx_frags run priority 10," "$TMP/esptagd.log" && t_pass xdp_run_config_default ||
	t_fail xdp_run_config_default "$(grep -i priority "$TMP/esptagd.log")"
stop_daemon
t_eq cleanup_detached_xdp "$(xdp_id)" 0

start_agent --capacity 16
start_daemon --xdp-priority 7 --tc-prio 0x20
t_eq xdp_rx_attached "$(prog_name "$(xdp_id)")" esptag_rx
grep -q "esptag_rx run priority 7," "$TMP/esptagd.log" && t_pass xdp_priority_reaches_libxdp ||
	t_fail xdp_priority_reaches_libxdp "$(grep -i priority "$TMP/esptagd.log")"
nsx "$H" tc filter show dev eth0 egress | grep -q "pref 32 bpf.*esptag_tx" && t_pass tc_prio_egress ||
	t_fail tc_prio_egress "$(nsx "$H" tc filter show dev eth0 egress)"
nsx "$H" tc filter show dev eth0 ingress | grep -q "pref 32 bpf.*esptag_rx_mark" &&
	t_pass tc_prio_ingress || t_fail tc_prio_ingress "$(nsx "$H" tc filter show dev eth0 ingress)"
# A restart takes over esptag's own program (a stop keeps the data path).
old=$(xdp_id)
stop_daemon
t_eq stop_keeps_xdp "$(xdp_id)" "$old"
start_daemon --tc-prio 0x20
new=$(xdp_id)
if [ "$new" != "$old" ] && [ "$(prog_name "$new")" = esptag_rx ] && kill -0 "$DAEMON_PID"; then
	t_pass restart_takes_over_own_xdp
else
	t_fail restart_takes_over_own_xdp "old $old new $new: $(tail -5 "$TMP/esptagd.log")"
fi
wait_for 10 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"

# --- tc egress ordering --------------------------------------------------------
AEAD="aead rfc4106(gcm(aes))"
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode transport \
	reqid 1 $AEAD $K1 128 dir out &&
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode transport \
	reqid 2 $AEAD $K2 128 replay-window 128 dir in &&
E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1000
t_eq protect_policy_added $? 0

# on_wire NAME: send 5 datagrams to the peer; print "ESP CLEAR" frame counts.
on_wire() {
	capture_start "$TMP/$1.pcap"
	nsx "$H" $PY "$ROOT/tests/lib/udp_mark.py" send 192.0.2.2 5000 5 >/dev/null 2>&1
	capture_stop
	echo "$(tcpdump -r "$TMP/$1.pcap" -n esp 2>/dev/null | wc -l)" \
		"$(tcpdump -r "$TMP/$1.pcap" -n 'udp port 5000' 2>/dev/null | wc -l)"
}
other_filter() { # other_filter PREF SEC
	nsx "$H" tc filter add dev eth0 egress pref "$1" handle 0x77 bpf da obj "$COBJ" sec tc \
		program "$2"
}
other_filter_del() { nsx "$H" tc filter del dev eth0 egress pref "$1" handle 0x77 bpf; }
t_eq tc_alone_protected "$(on_wire alone)" "5 0"
other_filter 0x40 tc_unspec
t_eq tc_after_unspec_protected "$(on_wire after_unspec)" "5 0"
other_filter_del 0x40
other_filter 0x40 tc_ok
t_eq tc_after_ok_protected "$(on_wire after_ok)" "5 0"
other_filter_del 0x40
other_filter 1 tc_unspec
t_eq tc_before_unspec_protected "$(on_wire before_unspec)" "5 0"
other_filter_del 1
# The rule: a filter before esptag_tx that ends the chain bypasses it.
other_filter 1 tc_ok
t_eq tc_before_ok_bypasses "$(on_wire before_ok)" "0 5"
other_filter_del 1
t_eq tc_removed_protected "$(on_wire removed)" "5 0"
# A stop keeps the data path; --teardown with the same --tc-prio removes it.
stop_daemon
nsx "$H" "$BIN/esptagd" --teardown --dev eth0 --pin-dir "$PINS" --sock "$SOCK" --tc-prio 0x20 \
	>>"$TMP/esptagd.log" 2>&1
if nsx "$H" tc filter show dev eth0 egress | grep -q esptag ||
   nsx "$H" tc filter show dev eth0 ingress | grep -q esptag || [ "$(xdp_id)" != 0 ]; then
	t_fail teardown_tc_prio "$(nsx "$H" tc filter show dev eth0 egress; xdp_id)"
else
	t_pass teardown_tc_prio
fi

# --- a mark set before esptag_rx_mark survives (iproute2, SO_RCVMARK) ---------
RX=$(ns_new rxh) && RA=$(ns_new rxa) || exit 1
RPIN=$(pin_dir_new rx) || exit 1
FR="/usr/bin/python3 $ROOT/tests/integration/rx_frames.py"
MAC=02:00:5e:00:00:01
for n in "$RX" "$RA"; do
	nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$RX" link add p0 type veth peer name a0 netns "$RA"
ip -n "$RX" link set p0 address $MAC
ip -n "$RX" addr add 192.0.2.1/24 dev p0
ip -n "$RX" link set p0 up
ip -n "$RA" link set a0 up
IFX=$(ip -n "$RX" -o link show p0 | cut -d: -f1)
export TC_BPF_MNT=$RPIN
nsx "$RX" ip link set dev p0 xdp obj "$ROBJ" sec xdp
nsx "$RX" tc qdisc add dev p0 clsact
nsx "$RX" tc filter add dev p0 ingress pref 1 bpf da obj "$COBJ" sec tc program tc_mark
nsx "$RX" tc filter add dev p0 ingress pref 10 bpf da obj "$ROBJ" sec tc
unset TC_BPF_MNT
G=$RPIN/tc/globals
bpftool map update pinned "$G/esptag_sad" key hex 05 00 00 00 \
	value hex $($FR sa 5 0x5005 $MAC 192.0.2.1 "$IFX")
bg_start "$RX" bash -c "exec /usr/bin/python3 $ROOT/tests/integration/rx_frames.py recv 192.0.2.1 4789 2 >$TMP/rx 2>$TMP/rx.err" >/dev/null
wait_ready "$TMP/rx.err"
nsx "$RA" $FR send a0 $MAC 192.0.2.2 192.0.2.1 4789 one 5 0x5005 1
nsx "$RA" $FR send a0 $MAC 192.0.2.2 192.0.2.1 4789 plain
wait "${T_PIDS[-1]}"
t_eq rx_mark_keeps_other_bits "$(echo $(cat "$TMP/rx"))" "one 0x80040005 plain 0x40000"
t_exit
