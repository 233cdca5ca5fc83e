#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fail closed across the daemon's life, in the two-site lab: with an SA pair
# and protect policies in place and a fast ping A -> B (100 per second)
# running, the wire between the sites is captured while
#   (a) site A's esptagd gets SIGTERM and is started again,
#   (b) site A's esptagd gets SIGKILL and is started again,
#   (c) site A's esptag-agent is killed and started again (the daemon
#       re-installs its SAs),
#   (e) site A's outbound policy is re-pointed to a new SA (policy update),
#   (d) site A's esptagd stays stopped: the flow is still encrypted; and
#       while it is stopped its agent is killed and restarted: the flow is
#       dropped (the fresh agent drops unknown SA indices), never clear.
# Each case counts the clear-text ICMP frames of the protected flow on the
# wire (must be 0), then checks that traffic resumes encrypted: pings
# answered and ESP frames seen. At the end `scripts/lab down` (which stops
# the daemons and tears their data path down explicitly) leaves no pins.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
PY=/usr/bin/python3

TMP=$(tmp_new failclosed)
PING_PID=
lab_down() {
	[ -n "$PING_PID" ] && kill "$PING_PID" 2>/dev/null
	[ -n "${CAP_PID:-}" ] && kill "$CAP_PID" 2>/dev/null
	"$LABSH" down >/dev/null 2>&1
}
trap 'lab_down; t_teardown' EXIT

# Quick HELLO so that an agent restart is noticed within a second.
export DAEMON_ARGS="--hello-interval 200"
if ! "$LABSH" up >"$TMP/up.log" 2>&1; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up

A_IP=192.0.2.1 B_IP=192.0.2.2
NS_A=/run/netns/et-$LAB-A
# Frames of the protected flow on the wire: clear ICMP between the hosts, and
# ESP from A (the ESP header hides everything else).
count() { tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l; }
clear_icmp() { count "$1" "icmp and host $A_IP and host $B_IP"; }
esp_from_a() { count "$1" "ip proto 50 and src host $A_IP and dst host $B_IP"; }

ast() { L A esptag -j agent status 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1" 2>/dev/null; }
port_up() { [ "$(ast port_up)" = True ]; }
reinstalled() { [ "$(ast reinstalls)" -ge "$1" ] 2>/dev/null && port_up; }

# A fresh SA pair for each case: an SA adopted without key after a daemon
# restart cannot be re-installed by a later agent restart, and no key is
# ever used again with a restarted sequence number.
SPI=0x7000
fresh_sas() { # case
	SPI=$((SPI + 0x10))
	lab_flush >/dev/null 2>&1
	lab_sa_pair 4 transport "$(printf '0x%x' $((SPI + 1)))" "$(printf '0x%x' $((SPI + 2)))" \
		"$TMP/sas" >"$TMP/sa-$1.log" 2>&1
}

# The fast ping runs in A's namespace (nsenter execs ping: $! is ping).
ping_start() { # logfile
	nsenter --net="$NS_A" ping -n -i 0.01 -W 1 -w 120 "$B_IP" >"$1" 2>&1 &
	PING_PID=$!
}
ping_stop() {
	kill -INT "$PING_PID" 2>/dev/null
	wait "$PING_PID" 2>/dev/null
	PING_PID=
}
sent() { sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$1"; }

# resumed CASE: after the event, 50 pings are answered (at least 45) and
# carried as ESP (the capture may miss a few frames), none in clear.
resumed() {
	local c=$1 got esp clr
	lab_capture_start "$TMP/$c-after.pcap"
	nsenter --net="$NS_A" ping -n -q -c 50 -i 0.01 -W 1 "$B_IP" >"$TMP/$c-after.ping" 2>&1
	lab_capture_stop
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/$c-after.ping")
	esp=$(esp_from_a "$TMP/$c-after.pcap")
	clr=$(clear_icmp "$TMP/$c-after.pcap")
	if [ "${got:-0}" -ge 45 ] && [ "$esp" -ge 30 ] && [ "$clr" = 0 ]; then
		t_pass "$c/resumes_encrypted"
	else
		t_fail "$c/resumes_encrypted" "answered ${got:-0}/50, ESP from A $esp, clear ICMP $clr"
	fi
}

# event_case CASE CMD...: capture and fast ping around CMD (the event).
event_case() {
	local c=$1 n clr esp
	shift
	if ! fresh_sas "$c"; then
		t_fail "$c/sa_install" "$(tail -n 3 "$TMP/sa-$c.log")"
		return
	fi
	lab_capture_start "$TMP/$c.pcap"
	ping_start "$TMP/$c.ping"
	sleep 0.5 # pacing: the fast ping runs before ...
	"$@"
	sleep 0.5 # ... and after the event
	ping_stop
	lab_capture_stop
	n=$(sent "$TMP/$c.ping")
	clr=$(clear_icmp "$TMP/$c.pcap")
	esp=$(esp_from_a "$TMP/$c.pcap")
	echo "INFO $c: $n pings sent, $esp ESP frames from A, $clr clear ICMP frames on the wire"
	[ "${n:-0}" -ge 100 ] && t_pass "$c/fast_ping_ran" || t_fail "$c/fast_ping_ran" "only ${n:-0} sent"
	t_eq "$c/no_clear_icmp_on_wire" "$clr" 0
	resumed "$c"
}

# (a) SIGTERM, what a service manager sends, then a new esptagd.
term_restart() {
	"$LABSH" daemon stop A
	sleep 1 # the test's point: a second with no daemon under the fast ping
	"$LABSH" daemon start A >/dev/null
	wait_for 5 port_up
}
event_case a_sigterm_restart term_restart
grep -q "data path left running" "/run/esptag-lab/$LAB/A-esptagd.log" &&
	t_pass a_sigterm_restart/exit_says_left_running ||
	t_fail a_sigterm_restart/exit_says_left_running "$(grep -i exit "/run/esptag-lab/$LAB/A-esptagd.log" | tail -n 2)"
n=$(L A esptag -j state list | $PY -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if "nokey" in str(s)))' 2>/dev/null)
t_eq a_sigterm_restart/sas_adopted "${n:-0}" 2

# (b) SIGKILL (a crash), then a new esptagd.
kill_restart() {
	"$LABSH" daemon kill A
	sleep 1 # the test's point: a second with no daemon under the fast ping
	"$LABSH" daemon start A >/dev/null
	wait_for 5 port_up
}
event_case b_sigkill_restart kill_restart

# (c) the agent dies and comes back; the daemon re-installs its SAs.
agent_restart() {
	local r0
	r0=$(ast reinstalls)
	kill -9 "$(cat "/run/esptag-lab/$LAB/A-agent.pid")"
	sleep 1 # the test's point: a second with no agent under the fast ping
	"$LABSH" agent start A
	wait_for 10 reinstalled $((r0 + 1))
}
event_case c_agent_restart agent_restart
t_check c_agent_restart/daemon_reinstalled port_up

# (e) re-pointing A's outbound policy to another SA (a new key toward the
# same peer) while the fast ping runs: one in-place update, never clear.
SPI_E=
repoint() {
	local k
	SPI_E=$(printf '0x%x' $((SPI + 3)))
	k=$(randhex 20)
	(umask 077; printf '%s 4 %s\n' "$SPI_E" "$k" >>"$TMP/sas")
	LV A esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$SPI_E" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$k" 128 dir out >"$TMP/e-sa.log" 2>&1 &&
	LV B esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$SPI_E" mode transport \
		aead 'rfc4106(gcm(aes))' "0x$k" 128 dir in >>"$TMP/e-sa.log" 2>&1 &&
	sleep 1 && # pacing: pings on the old SA, then the update under them ...
	LV A esptag policy update dev pf0 src "$NET_A" dst "$NET_B" dir out action protect \
		spi "$SPI_E" >>"$TMP/e-sa.log" 2>&1 &&
	sleep 0.5 # ... and pings on the new SA
}
event_case e_policy_repoint repoint
# After the update every ESP frame from A carries the new SPI.
spis=$(tcpdump -n -r "$TMP/e_policy_repoint-after.pcap" "ip proto 50 and src host $A_IP" 2>/dev/null |
	sed -n 's/.*ESP(spi=\(0x[0-9a-f]*\),.*/\1/p' | sort -u | tr '\n' ' ')
t_eq e_policy_repoint/new_spi_after "$spis" "$(printf '0x%08x ' "$SPI_E")"

# (d) no daemon: the data path goes on encrypting with the agent up ...
if fresh_sas d; then
	"$LABSH" daemon stop A
	lab_capture_start "$TMP/d.pcap"
	ping_start "$TMP/d.ping"
	sleep 2 # pacing: two seconds of fast ping with no daemon
	ping_stop
	lab_capture_stop
	n=$(sent "$TMP/d.ping")
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/d.ping")
	esp=$(esp_from_a "$TMP/d.pcap")
	clr=$(clear_icmp "$TMP/d.pcap")
	echo "INFO d: no daemon: $n pings sent, ${got:-0} answered, $esp ESP frames from A, $clr clear"
	t_eq d_no_daemon/no_clear_icmp_on_wire "$clr" 0
	[ "${got:-0}" -ge 100 ] && [ "$esp" -ge 60 ] && t_pass d_no_daemon/still_encrypted ||
		t_fail d_no_daemon/still_encrypted "answered ${got:-0}, ESP from A $esp"
	# ... and if the agent dies meanwhile, protect traffic is dropped, not clear.
	lab_capture_start "$TMP/d2.pcap"
	ping_start "$TMP/d2.ping"
	sleep 0.5 # pacing: ping, agent killed, ping, agent back, ping
	kill -9 "$(cat "/run/esptag-lab/$LAB/A-agent.pid")"
	sleep 0.5 # (pacing, as above)
	"$LABSH" agent start A
	sleep 1.5 # (pacing, as above)
	ping_stop
	lab_capture_stop
	clr=$(clear_icmp "$TMP/d2.pcap")
	t_eq d_no_daemon_agent_restart/no_clear_icmp_on_wire "$clr" 0
	# After the restart the fresh agent knows no SA: nothing leaves A.
	lab_capture_start "$TMP/d3.pcap"
	nsenter --net="$NS_A" ping -n -q -c 50 -i 0.01 -W 1 "$B_IP" >"$TMP/d3.ping" 2>&1
	lab_capture_stop
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/d3.ping")
	esp=$(esp_from_a "$TMP/d3.pcap")
	clr=$(clear_icmp "$TMP/d3.pcap")
	[ "${got:-0}" = 0 ] && [ "$esp" = 0 ] && [ "$clr" = 0 ] && t_pass d_no_daemon_agent_restart/dropped ||
		t_fail d_no_daemon_agent_restart/dropped "answered ${got:-0}, ESP from A $esp, clear $clr"
	# The next daemon finds stale map entries (the agent lost them): its
	# policies drop until SAs are added again; then traffic resumes.
	"$LABSH" daemon start A >/dev/null
	wait_for 5 port_up
	if fresh_sas d-after; then
		resumed d_no_daemon_agent_restart
	else
		t_fail d_no_daemon_agent_restart/sa_install "$(tail -n 3 "$TMP/sa-d-after.log")"
	fi
else
	t_fail d_no_daemon/sa_install "$(tail -n 3 "$TMP/sa-d.log")"
fi

# The explicit teardown leaves nothing behind.
"$LABSH" down >"$TMP/down.log" 2>&1
t_eq lab_down_rc $? 0
left=$(ls -d "/sys/fs/bpf/esptag-$LAB-"* 2>/dev/null; ip netns list | awk '{print $1}' | grep "^et-$LAB-")
t_eq lab_down_leaves_nothing "$left" ""
[ -n "${ET_DEBUG:-}" ] && cp -r "$TMP" "$ET_DEBUG"
t_exit
