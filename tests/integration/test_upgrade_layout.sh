#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# An esptagd started over pins of the older per-SA layout (an SA's sequence
# in esptag_seq, its window in esptag_replay, its lifetime in esptag_sa_life,
# an 80-byte esptag_sad) refuses them with an error that says what to do,
# and changes nothing: the pinned sequence stays as it was (taking the pins
# over would start the SA's numbers again under the same key). esptagd
# --teardown removes the old pins (names of the old layout too); the next
# esptagd starts on fresh maps. docs/operations.md, Upgrades.
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"

le32() { $PY -c 'import struct,sys; print(" ".join("%d" % b for b in struct.pack("<I", int(sys.argv[1]))))' "$1"; }
# The old layout's maps, as a running data path of that build left them.
bpftool map create "$PINS/esptag_sad" type array key 4 value 80 entries 65536 name esptag_sad
bpftool map create "$PINS/esptag_seq" type array key 4 value 16 entries 65536 name esptag_seq
bpftool map create "$PINS/esptag_replay" type array key 4 value 144 entries 65536 name esptag_replay
bpftool map create "$PINS/esptag_sa_life" type array key 4 value 48 entries 65536 name esptag_sa_life flags 1024
t_eq old_pins_made "$(ls "$PINS" | grep -c '^esptag_')" 4
# SA 3: outbound SPI 0x1003, alive; 1000 is its next sequence number.
bpftool map update pinned "$PINS/esptag_sad" key $(le32 3) value $($PY -c '
import sys; sys.path.insert(0, sys.argv[1])
import etlib
print(" ".join("%d" % b for b in etlib.map_sa(0x1003, 2, 1, 1, "02:00:5e:00:53:01", None, "192.0.2.2", 0)[:80]))' "$ROOT/tests/lib")
bpftool map update pinned "$PINS/esptag_seq" key $(le32 3) value $($PY -c 'import struct; print(" ".join("%d" % b for b in struct.pack("<QQ", 1000, 900)))')
seq3() {
	bpftool -j map lookup pinned "$PINS/esptag_seq" key $(le32 3) 2>/dev/null |
		$PY -c 'import json,struct,sys; print(*struct.unpack("<QQ", bytes(int(x, 16) for x in json.load(sys.stdin)["value"])))'
}
t_eq old_seq_written "$(seq3)" "1000 900"

start_agent --capacity 16
start_daemon
kill -0 "$DAEMON_PID" 2>/dev/null && t_fail old_pins_refused "esptagd took pins of the older layout over" ||
	t_pass old_pins_refused
t_check refusal_says_why grep -q "older esptag data path" "$TMP/esptagd.log"
t_check refusal_says_what_to_do grep -q "esptagd --teardown" "$TMP/esptagd.log"
t_eq old_seq_untouched "$(seq3)" "1000 900"
t_eq old_sad_untouched "$(bpftool -j map show pinned "$PINS/esptag_sad" | $PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])')" 80
# --adopt (iproute2's programs and pins) refuses them too.
nsx "$H" "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK.adopt" --adopt >"$TMP/adopt.log" 2>&1 &
ADOPT_PID=$!
wait_for 5 eval '! kill -0 '"$ADOPT_PID"' 2>/dev/null'
kill "$ADOPT_PID" 2>/dev/null
wait "$ADOPT_PID" 2>/dev/null
t_check adopt_refused grep -q "older esptag data path" "$TMP/adopt.log"
t_eq old_seq_untouched_by_adopt "$(seq3)" "1000 900"

# The way through: --teardown removes the old pins, then a fresh start.
nsx "$H" "$BIN/esptagd" --teardown --dev eth0 --pin-dir "$PINS" --sock "$SOCK" >"$TMP/teardown.log" 2>&1
t_eq teardown_rc $? 0
t_eq old_pins_gone "$(ls "$PINS" 2>/dev/null | grep -c '^esptag_')" 0
start_daemon
t_check new_daemon_runs kill -0 "$DAEMON_PID"
wait_for 8 is_up && t_pass new_daemon_up || t_fail new_daemon_up "$(tail -3 "$TMP/esptagd.log")"
t_eq new_sad_value_size "$(bpftool -j map show pinned "$PINS/esptag_sad" | $PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])')" 288
t_eq no_old_state_maps "$(ls "$PINS" | grep -c '^esptag_seq$\|^esptag_replay$\|^esptag_sa_life$')" 0
t_exit
