# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the IKE tests (tests/integration/test_ike_*.sh): two lab sites,
# a charon per site with the kernel-esptag plugin (scripts/lab ike ...).
# Source after harness.sh (and TMP=$(tmp_new NAME)); sets LAB, sources
# tests/lib/lab.sh and tests/lib/swan.sh, brings the lab up (ike_setup) and
# takes it down on exit.
t_require_root
t_require tshark
t_require socat
. "$ROOT/tests/lib/swan.sh"
swan_require "$(basename "$0")"
LAB="t$T_ID"
. "$ROOT/tests/lib/lab.sh"
export BIN
STATE=/run/esptag-lab/$LAB
PLUGIN=$BUILD/libstrongswan-kernel-esptag.so
PY=/usr/bin/python3

# ike_lab_up [scripts/lab up options]: the lab with IPv6 and, when esptagd
# has it, its key log ($STATE/SITE.esp_sa) for tshark.
ike_lab_up() {
	local kl=()
	"$BIN/esptagd" --help 2>&1 | grep -q -- --keylog && kl=(--keylog)
	IKE_KEYLOG=${#kl[@]}
	trap '"$LABSH" down >/dev/null 2>&1; t_teardown' EXIT
	"$LABSH" up --ipv6 "${kl[@]}" "$@" >"$TMP/up.log" 2>&1
}
# ike_setup [scripts/lab up options]: the plugin is built and the lab is up
# (PASS lab_up), or FAIL and the test ends.
ike_setup() {
	[ -f "$PLUGIN" ] || { t_fail plugin_built "$PLUGIN missing (make)"; t_exit; }
	if ! ike_lab_up "$@"; then
		t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
		t_exit
	fi
	t_pass lab_up
}

ike() { "$LABSH" ike "$@"; }
# ike_up LOG [scripts/lab ike start options]: charons started (output in
# LOG) and a CHILD_SA installed at both sites within 20 s.
ike_up() {
	local log=$1
	shift
	ike start "$@" >"$log" 2>&1 && wait_for 20 both_up
}

# The SAs of a site as sorted "dir:spi" words (spi: 8 hex digits).
# swanctl_sas SITE: of the INSTALLED CHILD_SAs charon lists.
swanctl_sas() {
	swan "$1" --list-sas 2>/dev/null | awk '
		/INSTALLED/ { inst = 1; next } /, (REKEYED|DELETING|REKEYING|CREATED|ROUTED)/ { inst = 0 }
		inst && ($1 == "in" || $1 == "out") { s = $2; sub(/,$/, "", s); print $1 ":" s }' | sort | tr '\n' ' '
}
# charon_sas SITE: the SAs charon has in its backend: both of INSTALLED,
# REKEYING and REKEYED CHILD_SAs, the inbound one of DELETED/DELETING ones
# (charon deletes a rekeyed CHILD_SA's inbound SA a few seconds later).
charon_sas() {
	swan "$1" --list-sas 2>/dev/null | awk '
		/ reqid [0-9]+, / { st = $5; sub(/,$/, "", st); next }
		($1 == "in" || ($1 == "out" && st !~ /^DELET/)) && st != "" {
			s = $2; sub(/,$/, "", s); print $1 ":" s }' | sort | tr '\n' ' '
}
# esptag_sas SITE [state|agent]: of esptagd's SAD (state list) or the
# agent's (agent sa).
esptag_sas() {
	local what="state list"
	[ "${2:-state}" = agent ] && what="agent sa"
	L "$1" esptag -j $what 2>/dev/null | $PY -c '
import json, sys
for s in json.load(sys.stdin):
    print("%s:%08x" % (s["dir"], s["spi"]))' | sort | tr '\n' ' '
}
# mirror "in:a out:b" -> "in:b out:a" (the peer's view)
mirror() { tr ' ' '\n' <<<"$1" | sed -n 's/^in:/X:/; s/^out:/in:/; s/^X:/out:/; /./p' | sort | tr '\n' ' '; }

# ike_count SITE state|policy: how many esptagd holds.
ike_count() {
	L "$1" esptag -j "$2" list 2>&1 | $PY -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>&1
}

# ike_sas_agree NAME: swanctl == esptagd == agent at each site, and the
# sites mirror each other. Sets SAS_A.
ike_sas_agree() {
	local n=$1 sa sb ea eb aa ab
	sa=$(swanctl_sas A) sb=$(swanctl_sas B)
	ea=$(esptag_sas A) eb=$(esptag_sas B)
	aa=$(esptag_sas A agent) ab=$(esptag_sas B agent)
	SAS_A=$sa
	if [ -n "$sa" ] && [ "$sa" = "$ea" ] && [ "$ea" = "$aa" ] && [ "$sb" = "$eb" ] &&
		[ "$eb" = "$ab" ] && [ "$(mirror "$sa")" = "$sb" ]; then
		t_pass "$n/swanctl_esptagd_agent_agree"
	else
		t_fail "$n/swanctl_esptagd_agent_agree" "A swanctl '$sa' state '$ea' agent '$aa'; B swanctl '$sb' state '$eb' agent '$ab'"
	fi
}

# ike_wire_check NAME PCAP HOSTS MIN_ESP: the capture holds IKE and ESP
# only, every ESP frame known to the key log and decrypted by tshark with
# a good ICV, the marker nowhere.
ike_wire_check() {
	local n=$1 pcap=$2 hosts=$3 min=$4 res esp known good plain hits ike keys=()
	if [ "$IKE_KEYLOG" = 1 ]; then
		keys=(--esp-sa "$STATE/A.esp_sa")
	else
		: >"$TMP/no-keys"
		keys=(--sas "$TMP/no-keys")
	fi
	res=$($PY "$ROOT/tests/lib/espcheck.py" "$pcap" "${keys[@]}" --ike \
		--hosts "$hosts" --marker "$MARK_HEX")
	read -r esp known good plain hits ike < <(echo "$res" | $PY -c '
import json, sys; r = json.load(sys.stdin)
print(r["esp"], r["esp_known"], r["icv_good"], r["plain_ip"], r["marker_hits"], r["ike"])')
	if [ "$IKE_KEYLOG" != 1 ]; then
		t_fail "$n/tshark_decrypts_every_esp_frame" "esptagd has no --keylog"
	elif [ "$esp" -ge "$min" ] && [ "$known" = "$esp" ] && [ "$good" = "$esp" ]; then
		t_pass "$n/tshark_decrypts_every_esp_frame"
	else
		t_fail "$n/tshark_decrypts_every_esp_frame" "esp $esp (want >= $min) known $known icv_good $good"
	fi
	t_eq "$n/only_ike_and_esp_on_wire" "$plain" 0
	t_eq "$n/no_marker_on_wire" "$hits" 0
	IKE_FRAMES=$ike
}

# A payload with a recognisable marker, to look for on the wire.
ike_payload() {
	MARK_HEX=$(randhex 16)
	$PY -c "import sys; m=bytes.fromhex('$MARK_HEX'); sys.stdout.buffer.write((m + b'esptag-plaintext-marker ' * 40) * ${1:-300})" >"$TMP/payload"
	PAY_SUM=$(sha256sum <"$TMP/payload" | cut -d' ' -f1)
}

# send_paced DST PORT SRC SECS: A sends 32 KiB every 20 ms for SECS seconds
# (about 1.6 MB/s, so the transfer spans the rekeys); prints the sha256 of
# what it sent.
send_paced() {
	L A $PY -c '
import hashlib, os, socket, sys, time
dst, port, src, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.bind((src, 0)); s.connect((dst, port))
h = hashlib.sha256(); end = time.time() + secs
while time.time() < end:
    b = os.urandom(32768); s.sendall(b); h.update(b); time.sleep(0.02)
s.close(); print(h.hexdigest())' "$@"
}
recv_sha() { # PORT FAMILY -> sha256 of what B got (background: RECV_PID, RECV_OUT)
	local lsn=TCP4-LISTEN
	[ "$2" = 6 ] && lsn=TCP6-LISTEN
	RECV_OUT=$TMP/recv-$1
	L B socat -T 30 -u "$lsn:$1,reuseaddr" "OPEN:$RECV_OUT,creat,trunc" &
	RECV_PID=$!
	wait_for 5 _lab_listening B "$1"
}
