#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installing and running esptag as a service:
#  - `make install DESTDIR=D PREFIX=/usr` lays out exactly the expected tree
#    (binaries, man pages, BPF objects, ABI headers, systemd units, example
#    agent configuration, the Wireshark dissector), with @SBINDIR@ filled into the units;
#  - the installed binaries run from there: -V/--version name the release
#    of file VERSION, the commit, libbpf/libxdp, the protocol versions;
#  - `systemd-analyze verify` finds nothing to say about the installed units
#    (installed to a real PREFIX, so their ExecStart= binaries exist);
#  - `make uninstall` with the same DESTDIR/PREFIX leaves no file and no
#    directory install created, and keeps a file it did not install;
#  - readiness (Type=notify): with $NOTIFY_SOCKET on a socket the test reads,
#    esptag-agent sends READY=1 only once its packet sockets are open, and
#    esptagd only once its data path is attached and `esptag agent status`
#    answers; both send STOPPING=1 on SIGTERM; each runs with no more
#    capabilities than its unit's CapabilityBoundingSet; esptagd's stop leaves
#    the data path attached (fail closed); `esptag agent status` shows the
#    daemon's version.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require make
PY=/usr/bin/python3
MA=$(${CC:-gcc} -print-multiarch 2>/dev/null)
REL=$(cat "$ROOT/VERSION")
TMP=$(tmp_new) || exit 1
MK=(make -C "$ROOT" --no-print-directory -s)
[ "$BUILD" = "$ROOT/build" ] || MK+=(BUILD="$BUILD")

# --- make install DESTDIR=... PREFIX=/usr: the tree ----------------------
D=$TMP/destdir
mkdir -p "$D"
if "${MK[@]}" install DESTDIR="$D" PREFIX=/usr >"$TMP/install.log" 2>&1; then
	t_pass install_runs
else
	t_fail install_runs "$(tail -5 "$TMP/install.log")"
fi
LIBMA=usr/lib${MA:+/$MA}
sort >"$TMP/want" <<EOT
usr
usr/include
usr/include/esptag
usr/include/esptag/maps.h
usr/include/esptag/wire.h
usr/lib
usr/lib/systemd
usr/lib/systemd/system
usr/lib/systemd/system/esptag-agent@.service
usr/lib/systemd/system/esptag-metrics@.service
usr/lib/systemd/system/esptag-metrics@.timer
usr/lib/systemd/system/esptagd@.service
$( [ -n "$MA" ] && echo "$LIBMA")
$LIBMA/bpf
$LIBMA/bpf/esptag
$LIBMA/bpf/esptag/esptag_port.bpf.o
$LIBMA/bpf/esptag/esptag_rx.bpf.o
$LIBMA/bpf/esptag/esptag_tx.bpf.o
usr/sbin
usr/sbin/esptag
usr/sbin/esptag-agent
usr/sbin/esptagd
usr/share
usr/share/esptag
usr/share/esptag/agent.conf.example
usr/share/esptag/installed-dirs
usr/share/esptag/wireshark
usr/share/esptag/wireshark/esptag.lua
usr/share/man
usr/share/man/man8
usr/share/man/man8/esptag-agent.8
usr/share/man/man8/esptag.8
usr/share/man/man8/esptagd.8
EOT
sed -i '/^$/d' "$TMP/want"
(cd "$D" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$TMP/got"
if diff -u "$TMP/want" "$TMP/got" >"$TMP/tree.diff"; then
	t_pass install_tree
else
	t_fail install_tree "$(head -20 "$TMP/tree.diff" | tr '\n' ' ')"
fi
t_eq install_modes "$(stat -c '%a' "$D/usr/sbin/esptagd" "$D/usr/share/man/man8/esptagd.8" \
	"$D/usr/lib/systemd/system/esptagd@.service" | tr '\n' ' ')" "755 644 644 "
t_eq units_sbindir "$(grep -h '^ExecStart=' "$D"/usr/lib/systemd/system/*.service | sort | tr '\n' '|')" \
	'ExecStart=/usr/sbin/esptag --socket /run/esptag/%i.sock -o prometheus --textfile ${TEXTFILE_DIR}/esptag-%i.prom stats|ExecStart=/usr/sbin/esptag-agent --host ${HOST_IF} --wire ${WIRE_IF} --state-dir ${STATE_DIRECTORY} $AGENT_OPTS|ExecStart=/usr/sbin/esptagd --dev %I|'
t_check bpf_objects_are_bpf sh -c "file -b '$D/$LIBMA/bpf/esptag/esptag_tx.bpf.o' | grep -q 'eBPF'"

# --- the installed binaries run, and tell their version ------------------
for b in esptagd esptag esptag-agent; do
	for opt in -V --version; do
		out=$("$D/usr/sbin/$b" "$opt" 2>&1)
		rc=$?
		first=$(echo "$out" | head -1)
		if [ "$rc" = 0 ] && [ "$first" = "$b $REL" ] &&
			echo "$out" | grep -Eq '^git ([0-9a-f]{7,}(-dirty)?|unknown)$' &&
			echo "$out" | grep -Eq '^libxdp ' &&
			echo "$out" | grep -Eq '^config protocol [0-9]+(\.\.[0-9]+)?, metadata [0-9]+, control protocol [0-9]+$'; then
			t_pass "version_${b}_$opt"
		else
			t_fail "version_${b}_$opt" "rc $rc: $(echo "$out" | tr '\n' '|')"
		fi
	done
done
t_check version_esptagd_libbpf sh -c "'$D/usr/sbin/esptagd' -V | grep -Eq '^libbpf [0-9]+\.[0-9]+ \(built with [0-9]+\.[0-9]+\)$'"
# -V wins over everything else, and nothing is started.
t_eq version_before_other_options "$("$D/usr/sbin/esptagd" --dev et-nonexistent0 -V | head -1)" "esptagd $REL"

# --- systemd-analyze verify on the installed units -----------------------
if command -v systemd-analyze >/dev/null; then
	# A real prefix (no DESTDIR), so verify finds the ExecStart= binaries.
	PFX=$TMP/prefix
	"${MK[@]}" install PREFIX="$PFX" >>"$TMP/install.log" 2>&1
	U=$PFX/lib/systemd/system
	mkdir -p "$TMP/inst"
	cp "$U/esptagd@.service" "$TMP/inst/esptagd@eth0.service"
	cp "$U/esptag-agent@.service" "$TMP/inst/esptag-agent@site1.service"
	cp "$U/esptag-metrics@.service" "$TMP/inst/esptag-metrics@eth0.service"
	cp "$U/esptag-metrics@.timer" "$TMP/inst/esptag-metrics@eth0.timer"
	for u in "$U/esptagd@.service" "$U/esptag-agent@.service" \
		"$TMP/inst/esptagd@eth0.service" "$TMP/inst/esptag-agent@site1.service" \
		"$TMP/inst/esptag-metrics@eth0.service" "$TMP/inst/esptag-metrics@eth0.timer"; do
		out=$(systemd-analyze verify --man=no "$u" 2>&1)
		rc=$?
		if [ "$rc" = 0 ] && [ -z "$out" ]; then
			t_pass "verify_$(basename "$u")"
		else
			t_fail "verify_$(basename "$u")" "rc $rc: $(echo "$out" | tr '\n' '|')"
		fi
	done
	# The check can fail: a unit with a mistake is reported.
	sed 's/^Type=notify/Type=notifyy/' "$U/esptagd@.service" >"$TMP/inst/broken@.service"
	t_check verify_reports_mistakes sh -c "systemd-analyze verify --man=no '$TMP/inst/broken@.service' 2>&1 | grep -q notifyy"
	"${MK[@]}" uninstall PREFIX="$PFX" >>"$TMP/install.log" 2>&1
	t_eq uninstall_prefix_gone "$(ls -A "$PFX" 2>&1 | head -3)" "ls: cannot access '$PFX': No such file or directory"
else
	t_skip systemd_analyze_verify "systemd-analyze not installed (package systemd)"
fi

# --- make uninstall: nothing left; a foreign file stays ------------------
D2=$TMP/destdir2
mkdir -p "$D2"
"${MK[@]}" install DESTDIR="$D2" PREFIX=/usr >>"$TMP/install.log" 2>&1
echo keep >"$D2/usr/sbin/other-tool"
"${MK[@]}" uninstall DESTDIR="$D2" PREFIX=/usr >>"$TMP/install.log" 2>&1
t_eq uninstall_keeps_foreign "$(cd "$D2" && find . -mindepth 1 | sort | tr '\n' ' ')" "./usr ./usr/sbin ./usr/sbin/other-tool "
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=/usr >>"$TMP/install.log" 2>&1
t_eq uninstall_leaves_nothing "$(cd "$D" && find . -mindepth 1 | wc -l)" 0
t_check uninstall_kept_destdir test -d "$D"
# A second install into a tree where it already was, then uninstall: the
# directories of the first one are still known and removed.
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >>"$TMP/install.log" 2>&1
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >>"$TMP/install.log" 2>&1
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=/usr >>"$TMP/install.log" 2>&1
t_eq reinstall_uninstall_leaves_nothing "$(cd "$D" && find . -mindepth 1 | wc -l)" 0

# --- readiness and stop notifications ------------------------------------
t_require bpftool
for b in esptagd esptag esptag-agent; do
	[ -x "$BIN/$b" ] || { t_skip readiness "$BIN/$b not built"; t_exit; }
done
. "$ROOT/tests/lib/daemon_agent.sh"
# The capabilities of a unit, as setpriv's --bounding-set list.
unit_caps() {
	sed -n 's/^CapabilityBoundingSet=//p' "$ROOT/systemd/$1" |
		tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g; s/^/-all,/'
}
# notify_start NAME CHECK: a listener on $TMP/NAME.notify; output in $TMP/NAME.out.
notify_start() {
	"$PY" "$ROOT/tests/integration/notify_listen.py" "$TMP/$1.notify" "$2" 30 \
		>"$TMP/$1.out" 2>"$TMP/$1.err" &
	t_register pid $!
	eval "${1}_LISTENER=$!"
	wait_ready "$TMP/$1.err"
}
# check_ready NAME PID: READY=1 from PID, once, and CHECK passed when it came.
check_ready() {
	local name=$1 pid=$2 lpid
	eval "lpid=\$${name}_LISTENER"
	if wait_log "$TMP/$name.out" "^check " 10 && grep -q "^msg $pid READY=1" "$TMP/$name.out" &&
		grep -qx "check 0" "$TMP/$name.out"; then
		t_pass "${name}_ready_when_serving"
	else
		t_fail "${name}_ready_when_serving" "$(tr '\n' '|' <"$TMP/$name.out")"
	fi
	t_eq "${name}_ready_once" "$(grep -c 'READY=1' "$TMP/$name.out")" 1
}

# The agent: READY=1 once its packet sockets are open (ss lists them, bound
# to host0 and to wire0).
SS="nsenter --net=/run/netns/$A ss -0 -a -p"
notify_start agent "$SS | grep -q ':host0 .*esptag-agent' && $SS | grep -q ':wire0 .*esptag-agent'" ||
	t_fail agent_listener "not ready"
bg_start "$A" env NOTIFY_SOCKET="$TMP/agent.notify" setpriv --bounding-set "$(unit_caps esptag-agent@.service.in)" -- \
	"$BIN/esptag-agent" --host host0 --wire wire0 --state-dir "$TMP/agent-state" >>"$TMP/agent.log" 2>&1
AGENT_PID=${T_PIDS[-1]}
check_ready agent "$AGENT_PID"
# CAP_NET_RAW (13) and CAP_IPC_LOCK (14) only.
t_eq agent_caps_bounded "$(awk '/^CapEff/ {print $2}' /proc/$AGENT_PID/status)" 0000000000006000

# The daemon: READY=1 once the XDP program is on eth0 and the control socket
# answers `esptag agent status`.
notify_start daemon "ip -n $H -d link show eth0 | grep -q xdp && [ -S $SOCK ] && nsenter --net=/run/netns/$H $BIN/esptag --socket $SOCK agent status"
bg_start "$H" env NOTIFY_SOCKET="$TMP/daemon.notify" setpriv --bounding-set "$(unit_caps esptagd@.service.in)" -- \
	"$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" --hello-interval 200 >>"$TMP/esptagd.log" 2>&1
DAEMON_PID=${T_PIDS[-1]}
check_ready daemon "$DAEMON_PID"
# CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK (12-14), CAP_SYS_ADMIN (21),
# CAP_BPF (39) only.
t_eq daemon_caps_bounded "$(awk '/^CapEff/ {print $2}' /proc/$DAEMON_PID/status)" 0000008000207000
wait_for 10 is_up
t_check daemon_agent_up_with_unit_caps is_up
ver=$(E -j agent status | $PY -c 'import json,sys; print(json.load(sys.stdin)["daemon_version"])')
t_eq status_daemon_version "$ver" "$REL (git $("$BIN/esptagd" -V | sed -n 's/^git //p'))"
t_check status_text_daemon_version sh -c "nsenter --net=/run/netns/$H $BIN/esptag --socket $SOCK agent status | grep -qx 'daemon esptagd $REL (git .*)'"

# SIGTERM: STOPPING=1 from each; esptagd's stop leaves the data path attached.
kill -TERM "$DAEMON_PID"
wait_gone "$DAEMON_PID" 10
wait "$daemon_LISTENER" 2>/dev/null
t_check daemon_stopping_on_sigterm grep -q "^msg $DAEMON_PID STOPPING=1" "$TMP/daemon.out"
t_check daemon_stop_leaves_data_path sh -c "ip -n $H -d link show eth0 | grep -q xdp"
kill -TERM "$AGENT_PID"
wait_gone "$AGENT_PID" 10
wait "$agent_LISTENER" 2>/dev/null
t_check agent_stopping_on_sigterm grep -q "^msg $AGENT_PID STOPPING=1" "$TMP/agent.out"
nsx "$H" "$BIN/esptagd" --teardown --dev eth0 --pin-dir "$PINS" --sock "$SOCK" >>"$TMP/esptagd.log" 2>&1
t_exit
