#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptagd --config FILE: options and policies from a file, checked as a
# whole before anything is applied, and re-applied on SIGHUP.
#  1. a bad line at start: "FILE:LINE: ..." and exit 2, nothing pinned or
#     attached; a file with a key (option, keyword or state line) is refused
#     and the key is not echoed.
#  2. a valid file: its options (log-level) and policies are applied.
#  3. SIGHUP with a changed policy set (one re-pointed to another SA, one
#     added, one removed) under a 2 ms ping with a wire capture: no clear
#     frame, every echo request out as ESP (none dropped by the reload),
#     first under SA1 then SA2, the re-pointed policy keeps its id (an
#     in-place update), the list equals the new file plus the CLI's policy;
#     an option that needs a restart is warned about.
#  4. SIGHUP with an invalid file: the error names the line, nothing changes.
#  5. a policy added with esptag survives every reload.
#  6. a restart over the pins: the file takes over the recovered policies it
#     names (updated in place), the others stay as if added with esptag.
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
SUMMARY="$PY $ROOT/tests/lib/wire_summary.py --from 192.0.2.1"
CONF=$TMP/esptagd.conf

# run_bad FILE: esptagd with FILE in the foreground; its stderr in $TMP/bad.err.
run_bad() {
	nsx "$H" timeout 10 "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" \
		--config "$1" >"$TMP/bad.err" 2>&1
}
nothing_attached() {
	[ -z "$(ls -A "$PINS")" ] && ! ip -n "$H" link show eth0 | grep -q xdp &&
		! nsx "$H" tc filter show dev eth0 egress 2>/dev/null | grep -q bpf
}
# pols: the policy list as sorted "dir src dst action [spi]" lines.
pols() {
	E -j policy list | $PY -c '
import json, sys
for p in sorted(json.load(sys.stdin), key=lambda p: (p["dir"], p["src"], p["dst"])):
    print(p["dir"], p["src"], p["dst"], p["action"], hex(p["spi"]) if "spi" in p else "")' |
		sed 's/ $//'
}
drops() { # drops: "name=N ..." of the non-zero data-path drop counters
	local j n v out=
	j=$(bpftool -j map dump pinned "$PINS/esptag_stats")
	for n in $($PY "$ROOT/tests/lib/counters.py" drops); do
		v=$(echo "$j" | $PY "$ROOT/tests/lib/counters.py" sum "$n")
		[ "$v" != 0 ] && out+="$n=$v "
	done
	echo "$out"
}
pol_id() { # pol_id DST: the id of the outbound policy to DST
	E -j policy list | $PY -c '
import json, sys
print([p["id"] for p in json.load(sys.stdin) if p["dst"] == sys.argv[1]][0])' "$1"
}

# --- 1. bad files at start ----------------------------------------------------
cat >"$CONF.bad" <<'X'
# a comment, then a blank line

policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi nonsense
X
run_bad "$CONF.bad"
rc=$?
t_eq bad_line_exit_2 "$rc" 2
grep -q "$CONF.bad:3: " "$TMP/bad.err" && t_pass bad_line_named ||
	t_fail bad_line_named "$(cat "$TMP/bad.err")"
nothing_attached && t_pass bad_file_nothing_attached ||
	t_fail bad_file_nothing_attached "$(ls "$PINS"; ip -n "$H" link show eth0)"
printf 'hello-interval = 200\nno-such-option = 1\n' >"$CONF.bad"
run_bad "$CONF.bad"
rc=$?
[ "$rc" = 2 ] && grep -q "$CONF.bad:2: unknown option 'no-such-option'" "$TMP/bad.err" &&
	t_pass unknown_option_refused || t_fail unknown_option_refused "rc $rc $(cat "$TMP/bad.err")"
keys_ok=1
for l in "aead = $K1" \
	"state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2001 $AEAD $K1 128 dir out" \
	"policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x2001 key $K1"; do
	printf 'log-level = info\n%s\n' "$l" >"$CONF.bad"
	run_bad "$CONF.bad"
	rc=$?
	if [ "$rc" != 2 ] || ! grep -q "$CONF.bad:2: .*keys never go in a configuration file" "$TMP/bad.err" ||
		grep -q "${K1#0x}" "$TMP/bad.err" || ! nothing_attached; then
		keys_ok=0
		t_fail key_line_refused "rc $rc for '${l%% *}...': $(cat "$TMP/bad.err")"
	fi
done
[ $keys_ok = 1 ] && t_pass key_line_refused

# --- 2. a valid file ------------------------------------------------------------
cat >"$CONF" <<'X'
# esptagd test configuration
log-level = notice     # no info lines
policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x2001
policy add src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass
policy add dev eth0 src 192.0.2.2/32 dst 192.0.2.1/32 dir in action bypass
X
start_agent --capacity 16
if ! start_daemon --config "$CONF"; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"
want="in 192.0.2.2/32 192.0.2.1/32 bypass
out 192.0.2.0/24 192.0.2.2/32 protect 0x2001
out 192.0.2.0/24 198.51.100.0/24 bypass"
t_eq file_policies_applied "$(pols)" "$want"
grep -q ": ready$" "$TMP/esptagd.log" && t_fail file_log_level_applied "info line logged" ||
	t_pass file_log_level_applied

E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2001 $AEAD $K1 128 dir out &&
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x2002 $AEAD $K2 128 dir out &&
E policy add dev eth0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out action discard
t_eq setup_rc $? 0
ID1=$(pol_id 192.0.2.2/32)
S2=$(sa_index_of 192.0.2.2 0x2002)

# --- 3. reload: re-point, add, remove under a 2 ms ping --------------------------
cat >"$CONF" <<'X'
log-level = info
max-sas = 1000
policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x2002
policy add src 192.0.2.2/32 dst 192.0.2.1/32 dir in action bypass
policy add src 192.0.2.0/24 dst 198.51.100.7/32 dir out action discard
X
capture_start "$TMP/hup.pcap" || t_fail capture "tcpdump did not start"
b0=$(dp tx_bypass)
d0=$(drops)
nsx "$H" ping -q -c 400 -i 0.002 -W 0.01 192.0.2.2 >/dev/null 2>&1 &
PING=$!
sleep 0.4 # pacing: the ping runs on SA 1 before the reload
kill -HUP "$DAEMON_PID"
wait "$PING"
capture_stop
b1=$(dp tx_bypass)
want="in 192.0.2.2/32 192.0.2.1/32 bypass
out 192.0.2.0/24 192.0.2.2/32 protect 0x2002
out 192.0.2.0/24 198.51.100.7/32 discard
out 192.0.2.0/24 203.0.113.0/24 discard"
wait_for 5 eval '[ "$(pols)" = "$want" ]'
t_eq reload_policy_list_is_new_file "$(pols)" "$want"
t_eq reload_updates_in_place "$(pol_id 192.0.2.2/32)" "$ID1"
t_eq reload_repoints_sa "$(spd_src_sa_index "$ID1")" "$S2"
s=$($SUMMARY "$TMP/hup.pcap")
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["plain_icmp"] == 0 and s["plain_ip"] == 0, "clear frames on the wire"' &&
	t_pass reload_no_clear_frame || t_fail reload_no_clear_frame "$s"
t_eq reload_no_bypass "$((b1 - b0))" 0
echo "$s" | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert [x[0] for x in s["spi_order"]] == ["0x2001", "0x2002"], s["spi_order"]
assert s["esp"] == 400, s["esp"]' &&
	t_pass reload_no_drop_sa1_then_sa2 ||
	t_fail reload_no_drop_sa1_then_sa2 "$s drops before: $d0 after: $(drops)"
grep -q "max-sas changed in $CONF: it takes effect only when esptagd is restarted" "$TMP/esptagd.log" &&
	t_pass reload_warns_restart_option || t_fail reload_warns_restart_option "$(tail -5 "$TMP/esptagd.log")"
grep -q "reload: $CONF" "$TMP/esptagd.log" && t_pass reload_log_level_applied ||
	t_fail reload_log_level_applied "no info line after log-level = info"

# --- 4. reload with an invalid file: nothing changes ------------------------------
before=$(E -j policy list)
cp "$CONF" "$CONF.good"
printf 'log-level = debug\npolicy add src 192.0.2.0/24 dst 192.0.2.9/32 dir sideways action bypass\n' >"$CONF"
kill -HUP "$DAEMON_PID"
wait_log "$TMP/esptagd.log" "$CONF:2: " || true
grep -q "reload: $CONF:2: .*the running configuration is unchanged" "$TMP/esptagd.log" &&
	t_pass bad_reload_names_line || t_fail bad_reload_names_line "$(tail -3 "$TMP/esptagd.log")"
printf 'policy add src 192.0.2.0/24 dst 192.0.2.9/32 dir out action bypass\nenc = %s\n' "$K1" >"$CONF"
kill -HUP "$DAEMON_PID"
wait_log "$TMP/esptagd.log" "$CONF:2: .*keys never go" || true
grep -q "$CONF:2: .*keys never go" "$TMP/esptagd.log" && ! grep -q "${K1#0x}" "$TMP/esptagd.log" &&
	t_pass key_reload_refused || t_fail key_reload_refused "$(tail -3 "$TMP/esptagd.log")"
t_eq bad_reload_changes_nothing "$(E -j policy list)" "$before"
kill -0 "$DAEMON_PID" && t_pass bad_reload_daemon_runs || t_fail bad_reload_daemon_runs "esptagd exited"

# --- 5. CLI policies survive; the file does not take them over --------------------
cp "$CONF.good" "$CONF"
echo "policy add src 192.0.2.0/24 dst 203.0.113.0/24 dir out action bypass" >>"$CONF"
kill -HUP "$DAEMON_PID"
wait_log "$TMP/esptagd.log" "was added with esptag: left as it is" || true
t_eq cli_policy_survives "$(pols | grep 203.0.113)" "out 192.0.2.0/24 203.0.113.0/24 discard"
: >"$CONF"
kill -HUP "$DAEMON_PID"
wait_for 5 eval '[ "$(pols)" = "out 192.0.2.0/24 203.0.113.0/24 discard" ]'
t_eq empty_file_leaves_cli_policy "$(pols)" "out 192.0.2.0/24 203.0.113.0/24 discard"

# --- 6. restart over the pins: the file claims the recovered policies it names ----
cat >"$CONF" <<'X'
policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x2001
X
E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x2002
ID1=$(pol_id 192.0.2.2/32)
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
if ! start_daemon --config "$CONF"; then
	t_fail restart "esptagd did not come up again: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
want="out 192.0.2.0/24 192.0.2.2/32 protect 0x2001
out 192.0.2.0/24 203.0.113.0/24 discard"
t_eq restart_file_claims_recovered "$(pols)" "$want"
t_eq restart_claim_updates_in_place "$(pol_id 192.0.2.2/32)" "$ID1"
: >"$CONF"
kill -HUP "$DAEMON_PID"
wait_for 5 eval '[ "$(pols)" = "out 192.0.2.0/24 203.0.113.0/24 discard" ]'
t_eq restart_claimed_policy_is_the_files "$(pols)" "out 192.0.2.0/24 203.0.113.0/24 discard"
t_exit
