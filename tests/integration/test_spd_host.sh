#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Host policies by exact match (esptagd + esptag-agent, tests/lib/daemon_agent.sh).
# A policy whose source and destination are full length (/32, /128) is also
# in esptag_spd_host, which esptag_tx looks in before the LPM. Every write of
# a host policy's value reaches that entry too, so the hash holds exactly the
# host policies of the LPM with their values (tests/lib/spd_host.py check),
# and the traffic follows:
#   - policy add: host policies (v4, v6, in, out) get an entry, a prefix one none;
#   - policy update protect SA1 -> bypass -> protect SA2, in place;
#   - the SA deleted (none: dropped) and added back;
#   - a policy following a reqid: the trap flag, then each newer SA;
#   - daemon killed and the hash tampered with (an entry of no policy, a
#     protect entry turned bypass, one removed): esptag map spd shows it, the
#     restarted daemon rebuilds the hash from the LPM, nothing goes in clear;
#   - policy del and flush take the entries with them;
#   - esptag_cfg's SPD_HOST flag (the data path looks in the hash only with
#     it) is set while a host policy exists.
. "$(dirname "$0")/../lib/harness.sh"
. "$ROOT/tests/lib/daemon_agent.sh"
K1=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
K2=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
K3=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4 # every SA its own key
K4=0x3132333435363738393a3b3c3d3e3f40d1d2d3d4
K5=0x4142434445464748494a4b4c4d4e4f50e1e2e3e4
K6=0x5152535455565758595a5b5c5d5e5f60f1f2f3f4
SH="$PY $ROOT/tests/lib/spd_host.py"
SEL="dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out"
SEL2="dev eth0 src 192.0.2.1/32 dst 198.51.100.7/32 dir out"
host_of() { $SH get "$PINS" "$1"; }	# "action sa_index flags" of policy ID's entry
# esptag_cfg's SPD_HOST (0x08): the data path looks in the hash only with it
host_flag() {
	bpftool -j map dump pinned "$PINS/esptag_cfg" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"]["flags"] & 8)'
}
# sent DST COUNTER: ping DST 5 times, print how much COUNTER moved
sent() {
	local c0 c1
	c0=$(dp "$2")
	nsx "$H" ping -q -c 5 -i 0.01 -W 0.01 "$1" >/dev/null 2>&1
	c1=$(dp "$2")
	echo $((c1 - c0))
}

start_agent --capacity 16
if ! start_daemon; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"

# --- add ------------------------------------------------------------------------
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5001 $AEAD $K1 128 dir out &&
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5002 $AEAD $K2 128 dir out &&
E policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action discard
t_eq prefix_policy_no_flag "$(host_flag)" 0
E policy add $SEL action protect spi 0x5001 &&
E policy add dev eth0 src 192.0.2.2/32 dst 192.0.2.1/32 dir in action bypass &&
E policy add dev eth0 src 2001:db8::1/128 dst 2001:db8::2/128 dir out action discard
t_eq setup_rc $? 0
t_eq host_policy_flag "$(host_flag)" 8
case "$("$BIN/esptag" map cfg pin "$PINS")" in
*" spd-host"*) t_pass map_cfg_spd_host ;;
*) t_fail map_cfg_spd_host "$("$BIN/esptag" map cfg pin "$PINS")" ;;
esac
S1=$(sa_index_of 192.0.2.2 0x5001)
S2=$(sa_index_of 192.0.2.2 0x5002)
ID=$(E -j policy get $SEL | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
t_eq add_hosts_only "$(spd_host_check)" "consistent 3"
t_eq add_entry_on_sa1 "$(host_of "$ID")" "2 $S1 0"
t_eq add_traffic_protected "$(sent 192.0.2.2 tx_protect)" 5

# --- update in place ------------------------------------------------------------
E policy update $SEL action bypass
t_eq update_bypass_entry "$(host_of "$ID")" "1 none 0"
t_eq update_bypass_consistent "$(spd_host_check)" "consistent 3"
t_eq update_bypass_traffic "$(sent 192.0.2.2 tx_bypass)" 5
E policy update $SEL action protect spi 0x5002
t_eq update_sa2_entry "$(host_of "$ID")" "2 $S2 0"
t_eq update_sa2_consistent "$(spd_host_check)" "consistent 3"
t_eq update_sa2_traffic "$(sent 192.0.2.2 tx_protect)" 5

# --- its SA goes and comes back -------------------------------------------------
E state del dev eth0 dst 192.0.2.2 proto esp spi 0x5002 dir out
t_eq sa_gone_entry "$(host_of "$ID")" "2 none 0"
t_eq sa_gone_consistent "$(spd_host_check)" "consistent 3"
t_eq sa_gone_dropped "$(sent 192.0.2.2 tx_drop_no_sa)" 5
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5002 $AEAD $K3 128 dir out
S2=$(sa_index_of 192.0.2.2 0x5002)
t_eq sa_back_entry "$(host_of "$ID")" "2 $S2 0"
t_eq sa_back_consistent "$(spd_host_check)" "consistent 3"

# --- a policy following a reqid: trap, then each newer SA -------------------------
E policy add $SEL2 tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 77 mode transport
ID2=$(E -j policy get $SEL2 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
t_eq trap_entry "$(host_of "$ID2")" "2 none 1"
t_eq trap_consistent "$(spd_host_check)" "consistent 4"
t_eq trap_traffic "$(sent 198.51.100.7 tx_drop_trap)" 5
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5003 reqid 77 mode transport $AEAD $K4 128 dir out
t_eq reqid_sa3_entry "$(host_of "$ID2")" "2 $(sa_index_of 192.0.2.2 0x5003) 1"
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5004 reqid 77 mode transport $AEAD $K5 128 dir out
t_eq reqid_sa4_entry "$(host_of "$ID2")" "2 $(sa_index_of 192.0.2.2 0x5004) 1"
t_eq reqid_consistent "$(spd_host_check)" "consistent 4"
t_eq reqid_traffic "$(sent 198.51.100.7 tx_protect)" 5

# --- esptag map spd ---------------------------------------------------------------
v=$("$BIN/esptag" map spd pin "$PINS")
case "$v" in
*"src 192.0.2.1/32 dst 192.0.2.2/32 dir out action protect spi 0x00005002 sa-index $S2 exact"*) t_pass map_view_exact ;;
*) t_fail map_view_exact "$v" ;;
esac
echo "$v" | grep "dst 198.51.100.0/24" | grep -q exact && t_fail map_view_prefix_not_exact "$v" ||
	t_pass map_view_prefix_not_exact

# --- daemon killed, hash tampered with: rebuilt from the LPM ----------------------
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
rm -f "$SOCK"
$SH set "$PINS" out 192.0.2.1 203.0.113.9 bypass none 999 &&
$SH set "$PINS" out 192.0.2.1 192.0.2.2 bypass none "$ID" &&
$SH del "$PINS" out 192.0.2.1 198.51.100.7
t_eq tamper_rc $? 0
t_eq tampered_seen "$(spd_host_check | sort | cut -d' ' -f1 | tr '\n' ' ')" "differs extra missing "
v=$("$BIN/esptag" map spd pin "$PINS")
echo "$v" | grep -q "dst 192.0.2.2/32 dir out action protect .* exact-differs" &&
	echo "$v" | grep -q "999: src 192.0.2.1/32 dst 203.0.113.9/32 dir out action bypass exact-only" &&
	t_pass map_view_shows_tampering || t_fail map_view_shows_tampering "$v"
if start_daemon; then t_pass daemon_restart; else t_fail daemon_restart "$(tail -5 "$TMP/esptagd.log")"; fi
wait_for 5 is_up
t_eq restart_consistent "$(spd_host_check)" "consistent 4"
t_eq restart_flag "$(host_flag)" 8
t_eq restart_entry "$(host_of "$ID")" "2 $S2 0"
b0=$(dp tx_bypass)
t_eq restart_traffic_protected "$(sent 192.0.2.2 tx_protect)" 5
t_eq restart_nothing_in_clear "$(( $(dp tx_bypass) - b0 ))" 0
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x5005 reqid 77 mode transport $AEAD $K6 128 dir out
t_eq restart_reqid_follows "$(host_of "$ID2")" "2 $(sa_index_of 192.0.2.2 0x5005) 1"

# --- del, flush ---------------------------------------------------------------------
E policy del $SEL2
t_eq del_entry_gone "$(host_of "$ID2")" absent
t_eq del_consistent "$(spd_host_check)" "consistent 3"
E policy del dev eth0 src 2001:db8::1/128 dst 2001:db8::2/128 dir out
E policy del dev eth0 src 192.0.2.2/32 dst 192.0.2.1/32 dir in
t_eq host_left_flag "$(host_flag)" 8
E policy del $SEL
t_eq no_host_left_no_flag "$(host_flag)" 0
t_eq del_all_hosts_empty "$(spd_host_check)" "consistent 0"
E policy add $SEL action protect spi 0x5002
t_eq readd_flag "$(host_flag)" 8
E policy flush
t_eq flush_empty "$(spd_host_check)" "consistent 0"
t_eq flush_no_flag "$(host_flag)" 0
t_exit
