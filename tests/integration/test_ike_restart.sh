#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Restarts under a running charon (kernel-esptag):
#  - esptagd restarted: it adopts the SAs charon installed (same SPIs in
#    esptagd and the agent), the plugin reconnects its event connection,
#    traffic goes on, and the next rekey (an IKE exchange through the
#    bypass sockets, new SAs through esptagd) works;
#  - the agent restarted: traffic resumes, and no ESP sequence number (the
#    IV) is used twice on any SA across the restart;
#  - charon started while esptagd is down: once esptagd is up, the plugin
#    registers charon's IKE sockets and IKE passes esptagd's base policies.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikerst)
. "$ROOT/tests/lib/ike.sh"
ike_setup
lab_addrs 4 tunnel
pings() { L A ping -c "${1:-3}" -i 0.2 -W 2 -I "$IN_A" "$IN_B" >"$TMP/ping.log" 2>&1; }
if ! ike_up "$TMP/start.log" --mode tunnel --start start; then
	t_fail child_sa_installed "$(tail -n 3 "$TMP/start.log")"
	t_exit
fi
t_pass child_sa_installed
pcap=$TMP/wire.pcap
lab_capture_start "$pcap" 128
pings && t_pass ping_before || t_fail ping_before "$(tail -n 2 "$TMP/ping.log")"

# ---- esptagd restarted ---------------------------------------------------
before=$(esptag_sas A)
connects() { grep -c "kernel-esptag: receiving events of esptagd" "$STATE/ike/A/charon.log"; }
n0=$(connects)
"$LABSH" daemon stop A
"$LABSH" daemon start A
t_eq esptagd_restart/sas_adopted "$(esptag_sas A)" "$before"
t_eq esptagd_restart/agent_keeps_them "$(esptag_sas A agent)" "$before"
reconnected() { [ "$(connects)" -gt "$n0" ]; }
wait_for 10 reconnected && t_pass esptagd_restart/plugin_reconnected ||
	t_fail esptagd_restart/plugin_reconnected "$(connects) connections logged"
pings && t_pass esptagd_restart/traffic_goes_on || t_fail esptagd_restart/traffic_goes_on "$(tail -n 2 "$TMP/ping.log")"
old=$(swanctl_sas A)
swan A --rekey --child lab >"$TMP/rekey.log" 2>&1
rekeyed() { local now; now=$(swanctl_sas A); [ -n "$now" ] && [ "$now" != "$old" ] && [ "$(charon_sas A)" = "$(esptag_sas A)" ]; }
if wait_for 20 rekeyed; then
	t_pass esptagd_restart/next_rekey_works
else
	t_fail esptagd_restart/next_rekey_works "swanctl '$(swanctl_sas A)' (was '$old'), esptagd '$(esptag_sas A)': $(tail -n 2 "$TMP/rekey.log" | tr '\n' ' ')"
fi
pings && t_pass esptagd_restart/traffic_after_rekey || t_fail esptagd_restart/traffic_after_rekey "$(tail -n 2 "$TMP/ping.log")"

# ---- agent restarted -----------------------------------------------------
"$LABSH" agent stop A
"$LABSH" agent start A
if wait_for 20 pings 1; then
	t_pass agent_restart/traffic_resumes
else
	t_fail agent_restart/traffic_resumes "$(tail -n 2 "$TMP/ping.log")"
fi
pings 10 && t_pass agent_restart/traffic_steady || t_fail agent_restart/traffic_steady "$(tail -n 2 "$TMP/ping.log")"
lab_capture_stop
res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --sas /dev/null --seq-only --ike --hosts "$SA_A,$SA_B,$IN_A,$IN_B")
read -r ok plain < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin)
print(int(bool(r["seq"]) and all(s["unique"] for s in r["seq"].values())), r["plain_ip"])')
t_eq agent_restart/no_sequence_number_used_twice "$ok" 1
t_eq no_clear_frame "$plain" 0
ike stop >/dev/null 2>&1

# ---- charon started while esptagd is down ----------------------------------
# Under esptagd's base policies (out discard, in protect) IKE passes only
# through registered bypass sockets: charon's are registered once the
# plugin reaches esptagd.
for s in A B; do
	L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir out action discard &&
		L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir in action protect ||
		t_fail "base_policies_$s" "esptag policy add refused"
done
"$LABSH" daemon stop A
if ike start --mode transport --start none >"$TMP/early.log" 2>&1; then
	"$LABSH" daemon start A
	t_eq charon_first/esptagd_keeps_its_policies "$(ike_count A policy)" 2
	connected() { grep -q "kernel-esptag: receiving events of esptagd" "$STATE/ike/A/charon.log"; }
	wait_for 10 connected || true
	swan A --initiate --child lab --timeout 15 >>"$TMP/early.log" 2>&1
	if both_up; then
		t_pass charon_first/ike_passes_once_esptagd_is_up
	else
		t_fail charon_first/ike_passes_once_esptagd_is_up "$(tail -n 2 "$TMP/early.log" | tr '\n' ' ')"
	fi
	L A ping -c 2 -i 0.2 -W 2 "$SA_B" >/dev/null 2>&1 && t_pass charon_first/ping ||
		t_fail charon_first/ping "ping failed"
else
	t_fail charon_first/ike_start "$(tail -n 3 "$TMP/early.log")"
	"$LABSH" daemon start A
fi
ike stop >/dev/null 2>&1
t_exit
