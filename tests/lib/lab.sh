# SPDX-License-Identifier: GPL-2.0-only
# Helpers on top of scripts/lab for the demo and the lab tests. Source it
# after setting LAB (instance name). Keys are generated per run, written to
# a 0600 file for tshark, and never printed.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LABSH="$ROOT/scripts/lab"
: "${LAB:?set LAB before sourcing tests/lib/lab.sh}"
export LAB
LAB_VERBOSE=${LAB_VERBOSE:-0}

L() { "$LABSH" exec "$@"; }
# Run and show a command on a node (demo style).
LV() {
	local node=$1
	shift
	[ "$LAB_VERBOSE" = 1 ] && printf '  %s# %s\n' "$node" "$(printf '%q ' "$@" | sed -E 's/0x[0-9a-f]{40,}/0x<key+salt>/g')" >&2
	L "$node" "$@"
}

# Addresses per family and mode: outer (SA endpoints) and inner (traffic).
lab_addrs() { # FAMILY MODE -> sets SA_A SA_B IN_A IN_B NET_A NET_B PLEN
	if [ "$1" = 6 ]; then
		SA_A=2001:db8:1::1 SA_B=2001:db8:1::2 PLEN=128
		if [ "$2" = tunnel ]; then
			IN_A=2001:db8:a::1 IN_B=2001:db8:b::1 NET_A=2001:db8:a::/64 NET_B=2001:db8:b::/64
		else
			IN_A=$SA_A IN_B=$SA_B NET_A=$SA_A/128 NET_B=$SA_B/128
		fi
	else
		SA_A=192.0.2.1 SA_B=192.0.2.2 PLEN=32
		if [ "$2" = tunnel ]; then
			IN_A=198.51.100.1 IN_B=203.0.113.1 NET_A=198.51.100.0/24 NET_B=203.0.113.0/24
		else
			IN_A=$SA_A IN_B=$SA_B NET_A=$SA_A/32 NET_B=$SA_B/32
		fi
	fi
}

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
	nsenter --net="/run/netns/$n" tcpdump -i wire0 -s "${2:-0}" -U -w "$1" >/dev/null 2>&1 &
	CAP_PID=$!
	for _ in $(seq 50); do [ -s "$1" ] && break; sleep 0.05; done
	sleep 0.2
}
lab_capture_stop() {
	sleep 0.3
	kill "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=
}

# TCP transfer of FILE from A to B's address DST, port PORT; prints the sha256
# that B received.
lab_tcp_xfer() { # FILE DST PORT [SRC]
	local f=$1 dst=$2 port=$3 src=${4:-} out
	out=$(mktemp /tmp/et-xfer-XXXX)
	local lsn=TCP4-LISTEN
	[[ "$dst" == *:* ]] && lsn=TCP6-LISTEN
	L B socat -u "$lsn:$port,reuseaddr" "OPEN:$out,creat,trunc" &
	local lp=$!
	sleep 0.3
	if [[ "$dst" == *:* ]]; then dst="[$dst]"; fi
	L A socat -u "OPEN:$f" "TCP:$dst:$port${src:+,bind=$([[ "$src" == *:* ]] && echo "[$src]" || echo "$src")}" ||
		{ kill "$lp" 2>/dev/null; rm -f "$out"; return 1; }
	wait "$lp"
	sha256sum <"$out" | cut -d' ' -f1
	rm -f "$out"
}
