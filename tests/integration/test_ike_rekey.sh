#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# charon rekeys the CHILD_SA every few seconds (rekey_time 4 s: esptagd's
# soft expire events through kernel-esptag) while a TCP transfer and a 2 ms
# ping run between the sites: the transfer arrives intact, no ping is lost
# across a rekey, the wire carries no clear frame of the flow, and after
# the rekeys esptagd, its maps and the agent hold exactly the SAs charon
# lists (the old ones are gone; esptagd never held more than two
# generations at a time). Transport mode, IPv4, then tunnel mode, IPv6.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikerekey)
. "$ROOT/tests/lib/ike.sh"
ike_setup
SECS=22

# The most SAs esptagd at A held while the run went on (max_sas), and
# every agent SA index it used at A and B (idx_A, idx_B).
sa_indexes() { # SITE
	L "$1" esptag -j state list 2>/dev/null | $PY -c '
import json, sys
for s in json.load(sys.stdin):
    print(s["sa_index"])' 2>/dev/null
}
watch_sas() {
	local max=0 n
	: >"$TMP/idx_A"; : >"$TMP/idx_B"
	while [ -e "$TMP/watch" ]; do
		sa_indexes A >>"$TMP/idx_A"
		sa_indexes B >>"$TMP/idx_B"
		n=$(ike_count A state)
		[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$max" ] && max=$n
		echo "$max" >"$TMP/max_sas"
		sleep 0.5
	done
}
# map_stale SITE: the SA indexes the run used that esptag_sad still holds
# although no current SA has them (a full dump of the map is too slow).
map_stale() {
	local s=$1 cur i
	cur=" $(sa_indexes "$s" | tr '\n' ' ') "
	for i in $(sort -un "$TMP/idx_$s"); do
		[[ "$cur" == *" $i "* ]] && continue
		bpftool -j map lookup pinned "/sys/fs/bpf/esptag-$LAB-$s/esptag_sad" \
			key $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) $((i >> 24)) | sed '1s/^/[/; $s/$/]/' |
			$PY "$ROOT/tests/lib/map_nonempty.py" --count | grep -qx 0 || echo "$i"
	done | tr '\n' ' '
}

port=5200
for combo in "transport 4" "tunnel 6"; do
	read -r mode fam <<<"$combo"
	c="${mode}_v$fam"
	port=$((port + 1))
	lab_addrs "$fam" "$mode"
	opts=(--mode "$mode" --start start --rekey-time 4 --rand-time 1 --life-time 60)
	[ "$fam" = 6 ] && opts+=(--ipv6)
	if ! ike_up "$TMP/$c-start.log" "${opts[@]}"; then
		t_fail "$c/child_sa_installed" "$(tail -n 3 "$TMP/$c-start.log")"
		ike stop >/dev/null 2>&1
		continue
	fi
	first=$(swanctl_sas A)
	pcap="$TMP/$c.pcap"
	lab_capture_start "$pcap" 128
	touch "$TMP/watch"
	watch_sas &
	wpid=$!
	ping_opt=(); [ "$fam" = 6 ] && ping_opt=(-6)
	L A ping "${ping_opt[@]}" -q -i 0.002 -W 1 -w $((SECS + 2)) -c $((SECS * 400)) -I "$IN_A" "$IN_B" >"$TMP/$c-ping.log" 2>&1 &
	ppid=$!
	recv_sha "$port" "$fam"
	sent=$(send_paced "$IN_B" "$port" "$IN_A" "$SECS")
	wait "$RECV_PID"
	wait "$ppid"
	got=$(sha256sum <"$RECV_OUT" | cut -d' ' -f1)
	if [ -n "$sent" ] && [ "$got" = "$sent" ]; then
		t_pass "$c/tcp_transfer_intact"
	else
		t_fail "$c/tcp_transfer_intact" "sent '$sent', got '$got' ($(stat -c %s "$RECV_OUT") bytes)"
	fi
	rm -f "$RECV_OUT"
	read -r tx rx < <(awk '/packets transmitted/ { print $1, $4 }' "$TMP/$c-ping.log")
	if [ -n "$tx" ] && [ "$tx" -ge $((SECS * 300)) ] && [ "$tx" = "$rx" ]; then
		t_pass "$c/no_ping_lost"
	else
		t_fail "$c/no_ping_lost" "$(grep -E 'transmitted|rtt' "$TMP/$c-ping.log" | tr '\n' ' ')"
	fi
	lab_capture_stop
	rm -f "$TMP/watch"
	wait "$wpid"
	res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" --sas /dev/null --seq-only --ike \
		--hosts "$IN_A,$IN_B,$SA_A,$SA_B")
	read -r plain spis < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin); print(r["plain_ip"], len(r["seq"]))')
	t_eq "$c/no_clear_frame_of_the_flow" "$plain" 0
	# at least 4 rekeys: 2 new SPIs each, plus the first pair
	if [ "$spis" -ge 10 ]; then t_pass "$c/rekeyed_every_few_seconds"
	else t_fail "$c/rekeyed_every_few_seconds" "$spis SPIs on the wire in ${SECS}s, want >= 10"; fi
	max=$(cat "$TMP/max_sas" 2>/dev/null)
	if [ -n "$max" ] && [ "$max" -le 8 ]; then t_pass "$c/old_sas_removed_while_running"
	else t_fail "$c/old_sas_removed_while_running" "esptagd at A held up to '$max' SAs"; fi
	# Rekeys go on: between two of them esptagd, its maps and the agent
	# hold exactly what charon has (no old SA left behind).
	consistent() { # SITE
		local want
		want=$(charon_sas "$1")
		[ -n "$want" ] && [ "$(esptag_sas "$1")" = "$want" ] &&
			[ "$(esptag_sas "$1" agent)" = "$want" ] &&
			[ "$(charon_sas "$1")" = "$want" ]
	}
	for s in A B; do
		if wait_for 15 consistent "$s"; then
			t_pass "$c/esptagd_agent_hold_charons_sas_only_$s"
		else
			t_fail "$c/esptagd_agent_hold_charons_sas_only_$s" "charon '$(charon_sas "$s")' esptagd '$(esptag_sas "$s")' agent '$(esptag_sas "$s" agent)'"
		fi
		# (rekeys go on and reuse indexes: a leak stays, a race passes)
		no_stale() { [ -z "$(map_stale "$1")" ]; }
		if wait_for 10 no_stale "$s"; then
			t_pass "$c/maps_keep_no_old_sa_$s"
		else
			t_fail "$c/maps_keep_no_old_sa_$s" "esptag_sad still holds index(es) $(map_stale "$s")"
		fi
	done
	if [ "$(swanctl_sas A)" != "$first" ]; then t_pass "$c/sas_replaced"
	else t_fail "$c/sas_replaced" "still $first"; fi
	rm -f "$pcap"
	ike stop >/dev/null 2>&1
done
t_exit
