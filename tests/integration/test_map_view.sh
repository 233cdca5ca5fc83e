#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptag map: the pinned maps as an operator reads them, against a running
# esptagd + esptag-agent, compared with what bpftool reads from the same pins:
#  - `map sad` lists exactly the SAs the daemon holds (no empty slot of the
#    65536), each at its sa_index, with the SPI in host order (bpftool shows
#    the network-order value: checked to be the byte swap), dir, mode,
#    addresses, reqid;
#  - `map seq` the outbound SA's counter, `map sa_stats` the per-CPU sums
#    equal to the SA's counters of `esptag -j stats` after known traffic;
#  - `map spd` the policy with its SA index, `map stats` a counter by name
#    equal to the summed per-CPU value, `map cfg` the agent-up flag;
#  - `map list` the maps and their use; -j/-p parse strictly;
#  - dev without pins: exit 5 and a message; an unknown view: exit 1.
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4
K2=0x3132333435363738393a3b3c3d3e3f40d1d2d3d4
STRICT='import json,sys
def bad(x): raise ValueError("not JSON: " + x)
json.load(sys.stdin, parse_constant=bad)'

start_agent
start_daemon

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1a2b3c4d reqid 7 mode transport \
	$AEAD $K1 128 dir out || t_fail setup "state add out"
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode transport \
	$AEAD $K2 128 replay-window 64 dir in || t_fail setup "state add in"
E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x1a2b3c4d ||
	t_fail setup "policy add"
M() { nsx "$H" "$BIN/esptag" "$@"; }

# --- sad: only the daemon's SAs, SPI in host order ---------------------------------
j=$(M -j map sad pin "$PINS")
$PY -c "$STRICT" <<<"$j" && t_pass map_sad_json || t_fail map_sad_json "$j"
t_eq map_sad_count "$($PY -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$j")" 2
want=$(E -j state list | $PY -c 'import json,sys
print(sorted((s["sa_index"], s["spi"], s["dir"]) for s in json.load(sys.stdin)))')
got=$($PY -c 'import json,sys
print(sorted((s["index"], s["spi"], s["dir"]) for s in json.load(sys.stdin)))' <<<"$j")
t_eq map_sad_matches_state_list "$got" "$want"
out_idx=$(E -j state get dst 192.0.2.2 spi 0x1a2b3c4d dir out | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["sa_index"])')
line=$(M map sad pin "$PINS" | grep "^$out_idx: ")
case "$line" in
"$out_idx: spi 0x1a2b3c4d dir out mode transport src 192.0.2.1 dst 192.0.2.2 reqid 7 alive") t_pass map_sad_text ;;
*) t_fail map_sad_text "$line" ;;
esac
bt=$(bpftool -j map lookup pinned "$PINS/esptag_sad" \
	key $((out_idx & 255)) $((out_idx >> 8 & 255)) $((out_idx >> 16 & 255)) $((out_idx >> 24 & 255)) |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["spi"])')
# bpftool: the network-order bytes 1a 2b 3c 4d read as a little-endian number
t_eq bpftool_shows_swapped "$bt" $((0x4d3c2b1a))
empty=$(bpftool -j map dump pinned "$PINS/esptag_sad" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$empty" -gt 1000 ] && t_pass bpftool_dumps_every_slot || t_fail bpftool_dumps_every_slot "$empty"

# --- traffic, then seq / sa_stats / stats -------------------------------------------
nsx "$H" ping -c 5 -i 0.05 -W 1 192.0.2.2 >/dev/null 2>&1
seq=$(M -j map seq pin "$PINS" | $PY -c "import json,sys
print([(s['spi'], s['next'] >= 6) for s in json.load(sys.stdin) if s['index'] == $out_idx])")
t_eq map_seq_next "$seq" "[(439041101, True)]"
st=$(M -j map sa_stats pin "$PINS" | $PY -c "import json,sys
print([(s['packets'], s['bytes']) for s in json.load(sys.stdin) if s['index'] == $out_idx])")
want=$(E -j stats | $PY -c "import json,sys
d = json.load(sys.stdin)
print([(s['packets'], s['bytes']) for s in d['sa'] if s['sa_index'] == $out_idx and s['dir'] == 'out'])")
t_eq map_sa_stats_equal_stats "$st" "$want"
case "$st" in "[(0, 0)]" | "[]") t_fail map_sa_stats_counted "$st" ;; *) t_pass map_sa_stats_counted ;; esac
# sa_life (in esptag_sad): the exact use of the SA equals what state get reports
lf=$(M -j map sa_life pin "$PINS" | $PY -c "import json,sys
print([(s['packets'], s['bytes']) for s in json.load(sys.stdin) if s['index'] == $out_idx])")
want=$(E -j state get dst 192.0.2.2 spi 0x1a2b3c4d dir out 2>/dev/null | $PY -c "import json,sys
print([(s['current']['packets'], s['current']['bytes']) for s in json.load(sys.stdin)])")
t_eq map_sa_life_equals_state_get "$lf" "$want"
case "$lf" in "[(0, 0)]" | "[]") t_fail map_sa_life_counted "$lf" ;; *) t_pass map_sa_life_counted ;; esac
tp=$(M -j map stats pin "$PINS" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("tx_protect", 0))')
t_eq map_stats_tx_protect "$tp" "$(dp tx_protect)"

# --- spd, cfg, list --------------------------------------------------------------------
pol=$(M map spd pin "$PINS")
case "$pol" in
*"src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x1a2b3c4d sa-index $out_idx"*) t_pass map_spd ;;
*) t_fail map_spd "$pol" ;;
esac
t_eq map_cfg_agent_up "$(M -j map cfg pin "$PINS" | $PY -c 'import json,sys; print(json.load(sys.stdin)["agent_up"])')" True
l=$(M -j -p map list pin "$PINS")
$PY -c "$STRICT" <<<"$l" && t_pass map_list_json || t_fail map_list_json "$l"
t_eq map_list_sad_used "$($PY -c 'import json,sys
print([m["used"] for m in json.load(sys.stdin)["maps"] if m["name"] == "esptag_sad"])' <<<"$l")" "[2]"
# esptag_stats has a fixed number of slots, more than there are counters, so a
# build with new counters reuses an older build's pin (an upgrade in place)
t_eq stats_slots_fixed "$($PY -c 'import json,sys
print([m["max_entries"] for m in json.load(sys.stdin)["maps"] if m["name"] == "esptag_stats"])' <<<"$l")" "[256]"
ncnt=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$BUILD/esptag_counters.json")
[ "$ncnt" -gt 40 ] && [ "$ncnt" -lt 256 ] && t_pass counters_below_slots || t_fail counters_below_slots "$ncnt"
# every esptag_* pin of the directory, the same set bpffs holds
t_eq map_list_every_pin "$($PY -c 'import json,sys
print(" ".join(m["name"] for m in json.load(sys.stdin)["maps"]))' <<<"$l")" "$(ls "$PINS" | grep '^esptag_' | sort | tr '\n' ' ' | sed 's/ $//')"
t_eq map_prefix "$(M map sa pin "$PINS" 2>&1 | head -c 40)" "esptag: map: ambiguous 'sa' (list, sad, "

# --- errors ------------------------------------------------------------------------------
M map sad dev esptag-no-such-dev >/dev/null 2>&1
t_eq map_no_pins_exit "$?" 5
M map nosuchview pin "$PINS" >/dev/null 2>&1
t_eq map_unknown_view_exit "$?" 1
t_exit
