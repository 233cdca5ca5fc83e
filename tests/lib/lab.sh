# SPDX-License-Identifier: GPL-2.0-only
# Helpers on top of scripts/lab for the demo and the lab tests. Source it
# after setting LAB (instance name). Keys are generated per run, written to
# a 0600 file for tshark, and never printed.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LABSH="$ROOT/scripts/lab"
: "${LAB:?set LAB before sourcing tests/lib/lab.sh}"
export LAB
LAB_VERBOSE=${LAB_VERBOSE:-0}
. "$ROOT/tests/lib/wait.sh"

L() { "$LABSH" exec "$@"; }
# Run and show a command on a node (demo style).
LV() {
	local node=$1
	shift
	[ "$LAB_VERBOSE" = 1 ] && printf '  %s# %s\n' "$node" "$(printf '%q ' "$@" | sed -E 's/0x[0-9a-f]{40,}/0x<key+salt>/g')" >&2
	L "$node" "$@"
}

# Addresses per family and mode (the plan: scripts/lab.env): outer (SA
# endpoints) and inner (traffic).
. "$ROOT/scripts/lab.env"
lab_addrs() { # FAMILY MODE -> sets SA_A SA_B IN_A IN_B NET_A NET_B PLEN
	if [ "$1" = 6 ]; then
		SA_A=$LAB_IP6_A SA_B=$LAB_IP6_B PLEN=128
		if [ "$2" = tunnel ]; then
			IN_A=$LAB_IN6_A IN_B=$LAB_IN6_B NET_A=$LAB_INNET6_A NET_B=$LAB_INNET6_B
		else
			IN_A=$SA_A IN_B=$SA_B NET_A=$SA_A/128 NET_B=$SA_B/128
		fi
	else
		SA_A=$LAB_IP4_A SA_B=$LAB_IP4_B PLEN=32
		if [ "$2" = tunnel ]; then
			IN_A=$LAB_IN4_A IN_B=$LAB_IN4_B NET_A=$LAB_INNET4_A NET_B=$LAB_INNET4_B
		else
			IN_A=$SA_A IN_B=$SA_B NET_A=$SA_A/32 NET_B=$SA_B/32
		fi
	fi
}

# lab_udp_recv NODE OUT ADDR PORT COUNT TIMEOUT: tests/lib/udp_mark.py recv on
# NODE in the background (marks to OUT), returns once its socket is bound;
# its PID in UDP_PID.
lab_udp_recv() {
	local node=$1 out=$2
	shift 2
	L "$node" /usr/bin/python3 "$ROOT/tests/lib/udp_mark.py" recv "$@" >"$out" 2>"$out.ready" &
	UDP_PID=$!
	wait_ready "$out.ready"
}
# lab_udp_send NODE ADDR PORT COUNT [SRC]
lab_udp_send() { local node=$1; shift; L "$node" /usr/bin/python3 "$ROOT/tests/lib/udp_mark.py" send "$@"; }

randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# lab_sa_pair FAMILY MODE SPI_AB SPI_BA SASFILE [extra state args...]
# Installs, with the CLI, an SA per direction on both sites and the
# matching out/in protect policies. Appends "SPI FAMILY KEYSALT" lines to
# SASFILE for tshark.
lab_sa_pair() {
	local fam=$1 mode=$2 s1=$3 s2=$4 sasf=$5 k1 k2
	shift 5
	lab_addrs "$fam" "$mode"
	k1=$(randhex 20) k2=$(randhex 20)
	(umask 077; printf '%s %s %s\n%s %s %s\n' "$s1" "$fam" "$k1" "$s2" "$fam" "$k2" >>"$sasf")
	LV A esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$s1" mode "$mode" \
		aead 'rfc4106(gcm(aes))' "0x$k1" 128 "$@" dir out || return 1
	LV A esptag state add dev pf0 src "$SA_B" dst "$SA_A" proto esp spi "$s2" mode "$mode" \
		aead 'rfc4106(gcm(aes))' "0x$k2" 128 "$@" dir in || return 1
	LV B esptag state add dev pf0 src "$SA_A" dst "$SA_B" proto esp spi "$s1" mode "$mode" \
		aead 'rfc4106(gcm(aes))' "0x$k1" 128 "$@" dir in || return 1
	LV B esptag state add dev pf0 src "$SA_B" dst "$SA_A" proto esp spi "$s2" mode "$mode" \
		aead 'rfc4106(gcm(aes))' "0x$k2" 128 "$@" dir out || return 1
	LV A esptag policy add dev pf0 src "$NET_A" dst "$NET_B" dir out action protect spi "$s1" || return 1
	LV A esptag policy add dev pf0 src "$NET_B" dst "$NET_A" dir in action protect spi "$s2" || return 1
	LV B esptag policy add dev pf0 src "$NET_B" dst "$NET_A" dir out action protect spi "$s2" || return 1
	LV B esptag policy add dev pf0 src "$NET_A" dst "$NET_B" dir in action protect spi "$s1" || return 1
}

lab_flush() {
	local s
	for s in A B; do
		L "$s" esptag policy flush >/dev/null || return 1
		L "$s" esptag state flush >/dev/null || return 1
	done
}

# Start a wire capture in the background: lab_capture_start FILE [SNAPLEN]
lab_capture_start() {
	local n="et-$LAB-A-agent"
	# --immediate-mode: every frame reaches the file before the stop (the
	# default block buffering loses the last frames at SIGTERM); -B 32768: a
	# 32 MiB kernel buffer, so a loaded machine does not drop frames the
	# tests count.
	nsenter --net="/run/netns/$n" tcpdump --immediate-mode -B 32768 -i wire0 -s "${2:-0}" -U -w "$1" >/dev/null 2>"$1.err" &
	CAP_PID=$!
	wait_log "$1.err" "listening on"
}
lab_capture_stop() {
	sleep 0.3 # settle: frames still on their way through the agent get captured
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=
}

_lab_listening() { L "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; }
# TCP transfer of FILE from A to B's address DST, port PORT; prints the sha256
# that B received (30 s without progress ends the transfer).
lab_tcp_xfer() { # FILE DST PORT [SRC]
	local f=$1 dst=$2 port=$3 src=${4:-} out
	out=$(mktemp /tmp/et-xfer-XXXX)
	local lsn=TCP4-LISTEN
	[[ "$dst" == *:* ]] && lsn=TCP6-LISTEN
	L B socat -T 30 -u "$lsn:$port,reuseaddr" "OPEN:$out,creat,trunc" &
	local lp=$!
	wait_for 5 _lab_listening B "$port"
	if [[ "$dst" == *:* ]]; then dst="[$dst]"; fi
	L A socat -T 30 -u "OPEN:$f" "TCP:$dst:$port${src:+,bind=$([[ "$src" == *:* ]] && echo "[$src]" || echo "$src")}" ||
		{ kill "$lp" 2>/dev/null; rm -f "$out"; return 1; }
	wait "$lp"
	sha256sum <"$out" | cut -d' ' -f1
	rm -f "$out"
}

# For the lab tests: TMP, the lab torn down on exit, `scripts/lab up ARGS`
# as the check lab_up (a failure ends the test).
lab_down() { "$LABSH" down >/dev/null 2>&1; }
lab_test_up() { # TMP_TAG [lab up args]
	TMP=$(tmp_new "$1")
	shift
	trap 'lab_down; t_teardown' EXIT
	if ! "$LABSH" up "$@" >"$TMP/up.log" 2>&1; then
		t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
		t_exit
	fi
	t_pass lab_up
}
