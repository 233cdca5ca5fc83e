#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptag -o prometheus stats and esptagd's read-only socket (--ro-group),
# with esptagd + esptag-agent (tests/lib/daemon_agent.sh):
#   - the output parses with prometheus_client's parser; every counter equals
#     `esptag -j stats` of the same quiet moment (data path, agent, per SA;
#     two outbound SAs sharing an SPI summed into one series; the config
#     channel counters, moved by the stats requests, lie between the two); agent_up and
#     sas are gauges; no label but dev/reason/spi/dir, no sa_index, no key;
#   - `esptag -o prometheus stats` and `esptag stats -o prometheus` agree;
#     -o prometheus with another command is a usage error (exit 1);
#   - SOCK.ro is mode 0660, group --ro-group; an unprivileged user (uid
#     65534, group nogroup) reads stats/state list through it, is refused
#     state add, policy add and state flush (exit 2, "read-write control
#     socket", nothing changed) and cannot connect to the read-write socket
#     (exit 5).
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
	{ t_skip "$(basename "$0")" "needs python3-prometheus-client"; exit 77; }
t_require setpriv
KA=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
KB=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
KC=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4
CHECK="$PY $ROOT/tests/integration/prom_check.py"
chmod 0711 "$TMP"	# the unprivileged user reaches SOCK.ro by its path

start_agent --capacity 16
if ! start_daemon --ro-group nogroup; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"

# Two outbound SAs sharing SPI 0x1000 (two peers), one inbound SA.
E state add dev eth0 src 192.0.2.1 dst 198.51.100.2 proto esp spi 0x1000 mode tunnel $AEAD "$KA" 128 dir out &&
E state add dev eth0 src 192.0.2.1 dst 203.0.113.2 proto esp spi 0x1000 mode tunnel $AEAD "$KB" 128 dir out &&
E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2000 mode transport $AEAD "$KC" 128 dir in &&
E policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action protect spi 0x1000 tmpl dst 198.51.100.2 &&
E policy add dev eth0 src 192.0.2.0/24 dst 203.0.113.0/24 dir out action protect spi 0x1000 tmpl dst 203.0.113.2 &&
E policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out action discard
t_eq setup_rc $? 0
nsx "$H" ping -q -c 4 -i 0.05 -W 0.1 198.51.100.9 >/dev/null 2>&1
nsx "$H" ping -q -c 3 -i 0.05 -W 0.1 203.0.113.9 >/dev/null 2>&1
nsx "$H" ping -q -c 2 -i 0.05 -W 0.1 192.0.2.2 >/dev/null 2>&1
sleep 0.3

# json, prometheus, json again, without traffic (only the config channel
# counters of the stats requests themselves move; prom_check.py).
snap() { # snap ESPTAG-ARGS...: sets rc_prom; files $TMP/j1 $TMP/p $TMP/j2
	E -j stats >"$TMP/j1"
	"$@" >"$TMP/p"
	rc_prom=$?
	E -j stats >"$TMP/j2"
}
snap E stats -o prometheus
t_eq prom_rc "$rc_prom" 0
r=$($CHECK "$TMP/p" "$TMP/j1" "$TMP/j2" "$KA" "$KB" "$KC" 2>&1)
t_eq prom_parses_and_equals_json_stats "$r" ok
grep -q '^esptag_sa_packets_total{dev="eth0",spi="0x00001000",dir="out"} [1-9]' "$TMP/p" &&
	t_pass shared_spi_one_series_with_traffic || t_fail shared_spi_one_series_with_traffic "$(grep esptag_sa_packets "$TMP/p")"
grep -q '^esptag_drops_total{dev="eth0",reason="[a-z_]*"} [1-9]' "$TMP/p" &&
	t_pass a_drop_reason_counted || t_fail a_drop_reason_counted "$(grep ^esptag_drops "$TMP/p")"
grep -q '^# TYPE esptag_drops_total counter$' "$TMP/p" && grep -q '^# HELP esptag_agent_up ' "$TMP/p" &&
	t_pass help_and_type_lines || t_fail help_and_type_lines

snap E -o prometheus stats
r=$($CHECK "$TMP/p" "$TMP/j1" "$TMP/j2" "$KA" "$KB" "$KC" 2>&1)
t_eq global_option_form "$r" ok
E -o prometheus state list >/dev/null 2>&1
t_eq prom_other_command_usage_error $? 1

# Textfile collector: --textfile writes a temporary file next to FILE and
# renames it over FILE (0644); nothing on stdout, no temporary file left.
mkdir -p "$TMP/textfile"
echo stale >"$TMP/textfile/esptag.prom"
out=$(E -o prometheus --textfile "$TMP/textfile/esptag.prom" stats)
t_eq textfile_rc $? 0
t_eq textfile_stdout_empty "$out" ""
t_check textfile_written grep -q '^esptag_agent_up{dev="eth0"} 1$' "$TMP/textfile/esptag.prom"
t_eq textfile_mode "$(stat -c %a "$TMP/textfile/esptag.prom")" 644
t_eq textfile_no_tmp_left "$(ls "$TMP/textfile")" esptag.prom
r=$($PY -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as p
print(sum(1 for f in p(open(sys.argv[1]).read()) for s in f.samples))' "$TMP/textfile/esptag.prom")
[ "${r:-0}" -gt 10 ] && t_pass textfile_parses || t_fail textfile_parses "$r"
# a failure (no daemon behind the socket) leaves the previous file as it was
cp "$TMP/textfile/esptag.prom" "$TMP/prev.prom"
nsx "$H" "$BIN/esptag" --socket "$TMP/no-such.sock" -o prometheus --textfile "$TMP/textfile/esptag.prom" stats 2>/dev/null
t_eq textfile_fail_exit $? 5
t_check textfile_fail_keeps_previous cmp -s "$TMP/prev.prom" "$TMP/textfile/esptag.prom"
t_eq textfile_fail_no_tmp_left "$(ls "$TMP/textfile")" esptag.prom
E --textfile "$TMP/textfile/x.prom" stats >/dev/null 2>&1
t_eq textfile_needs_prometheus $? 1

# --- the read-only socket -------------------------------------------------------
t_eq ro_socket_mode_group "$(stat -c '%a %G' "$SOCK.ro")" "660 nogroup"
t_eq rw_socket_mode "$(stat -c '%a' "$SOCK")" 600
NB() { nsx "$H" setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/esptag" "$@"; }
nsa=$(E -j state list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
npol=$(E -j policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
snap NB -s "$SOCK.ro" -o prometheus stats
t_eq nobody_reads_stats_rc "$rc_prom" 0
r=$($CHECK "$TMP/p" "$TMP/j1" "$TMP/j2" "$KA" "$KB" "$KC" 2>&1)
t_eq nobody_prom_equals_json "$r" ok
n=$(NB -s "$SOCK.ro" -j state list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq nobody_state_list "$n" "$nsa"
out=$(NB -s "$SOCK.ro" state add dev eth0 src 192.0.2.1 dst 198.51.100.3 proto esp spi 0x3000 \
	mode tunnel $AEAD "$KA" 128 dir out 2>&1)
t_eq nobody_state_add_refused_rc $? 2
case "$out" in *"read-write control socket"*) t_pass nobody_state_add_message ;;
*) t_fail nobody_state_add_message "$out" ;; esac
NB -s "$SOCK.ro" policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir in action bypass >/dev/null 2>&1
t_eq nobody_policy_add_refused_rc $? 2
NB -s "$SOCK.ro" state flush >/dev/null 2>&1
t_eq nobody_state_flush_refused_rc $? 2
NB -s "$SOCK.ro" monitor >/dev/null 2>&1
t_eq nobody_monitor_refused_rc $? 2
out=$(NB -s "$SOCK" stats 2>&1)
t_eq nobody_rw_socket_rc $? 5
case "$out" in *"ermission denied"*) t_pass nobody_rw_socket_message ;;
*) t_fail nobody_rw_socket_message "$out" ;; esac
n=$(E -j state list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
m=$(E -j policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
t_eq refused_requests_change_nothing "$n/$m" "$nsa/$npol"
t_exit
