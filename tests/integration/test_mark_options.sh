#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptagd refuses Rx mark settings under which two SAs would share a mark
# (docs/rx.md): the SA index bits, for every index esptag_sad can hold
# (65536 slots: 16 bits), must fit the mask without touching the trusted
# bits. A refused setting exits 2 with a message naming the option and
# applies nothing (no program attached, no map pinned); a narrowed setting
# that fits (17 of the 32 bits) is written to esptag_cfg as given.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require bpftool
[ -x "$BIN/esptagd" ] || { t_skip "$(basename "$0")" "$BIN/esptagd not built"; exit 77; }
"$ROOT/scripts/bpffs"
PY=/usr/bin/python3

H=$(ns_new h) || exit 1
ip -n "$H" link add eth0 type veth peer name peer0
ip -n "$H" link set eth0 up
ip -n "$H" link set peer0 up
PINS=$(pin_dir_new pins) || exit 1
TMP=$(tmp_new) || exit 1

# refused NAME OPTION_IN_MESSAGE ARGS...: exit 2, message, nothing applied.
refused() {
	local name=$1 opt=$2 out rc
	shift 2
	out=$(nsx "$H" timeout 10 "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" \
		--sock "$TMP/s.sock" "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		t_fail "$name" "exit $rc, want 2: $out"
	elif ! grep -q -- "$opt" <<<"$out"; then
		t_fail "$name" "message does not name $opt: $out"
	elif [ -n "$(ls -A "$PINS" 2>/dev/null)" ] ||
	     nsx "$H" tc filter show dev eth0 egress | grep -q bpf ||
	     ip -n "$H" link show eth0 | grep -q xdp; then
		t_fail "$name" "something was applied: $(ls -A "$PINS") $(nsx "$H" tc filter show dev eth0 egress)"
	else
		t_pass "$name"
	fi
}

# The old docs/rx.md example: SAs 5, 133 and 261 would share 0x00850000,
# SA 128 would carry SA 0's mark.
refused mark_example_refused --mark-mask --mark-mask 0x00ff0000 --mark-trusted 0x00800000 --mark-shift 16
# 16 index bits at shift 8 are bits 8..23, and bit 23 is the trusted bit.
refused mark_trusted_overlap_refused --mark-trusted \
	--mark-mask 0x00ffffff --mark-trusted 0x00800000 --mark-shift 8
# --max-sas bounds this daemon's SAs, not the index the agent picks.
refused mark_max_sas_no_help --mark-mask --max-sas 128 \
	--mark-mask 0x00ff0000 --mark-trusted 0x00800000 --mark-shift 16
# Index bits shifted out of 32 bits.
refused mark_shifted_out_refused --mark-mask --mark-mask 0xffffffff --mark-trusted 0x00000001 \
	--mark-shift 24
refused mark_trusted_outside_refused --mark-trusted --mark-mask 0xffff0000 \
	--mark-trusted 0x00000001 --mark-shift 16

# 16 index bits at shift 8 and the trusted bit 24 in a 17-bit mask: accepted
# and written as given.
bg_start "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$TMP/s.sock" \
	--mark-mask 0x01ffff00 --mark-trusted 0x01000000 --mark-shift 8 >"$TMP/d.log" 2>&1
pid=${T_PIDS[-1]}
cfg=
# mark_cfg_set: esptagd wrote its mark fields (in $cfg), or it exited.
mark_cfg_set() {
	kill -0 "$pid" 2>/dev/null || return 0
	cfg=$(bpftool -j map dump pinned "$PINS/esptag_cfg" 2>/dev/null | $PY -c '
import json, sys
v = json.load(sys.stdin)[0]["formatted"]["value"]
print("%#x %#x %d" % (v["mark_mask"], v["mark_trusted"], v["mark_shift"]))' 2>/dev/null) && [ -n "$cfg" ] &&
		[ "$cfg" != "0x0 0x0 0" ]
}
wait_for 10 mark_cfg_set
t_eq mark_narrowed_accepted "$cfg" "0x1ffff00 0x1000000 8"
kill -0 "$pid" 2>/dev/null && t_pass mark_narrowed_daemon_runs ||
	t_fail mark_narrowed_daemon_runs "$(tail -3 "$TMP/d.log")"
t_exit
