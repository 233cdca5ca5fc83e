#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# esptagd --keylog FILE: off unless asked; refused through a symbolic link
# or on a file others can read; created 0600; one Wireshark esp_sa line per
# SA added, with which tshark decrypts every ESP frame of a capture with a
# good ICV (the file copied as the esp_sa table, and one line given as
# -o uat:esp_sa:LINE). The configuration file's `keylog = FILE` works too.
. "$(dirname "$0")/../lib/harness.sh"
t_require tcpdump
t_require tshark
. "$ROOT/tests/lib/daemon_agent.sh"
key() { printf '0x%08x%024x%08x' "$1" "$(($1 * 7919))" "$(($1 + 1))"; }
jq_() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
run_daemon() { # ARGS: a short foreground run that must fail at start
	nsx "$H" timeout 10 "$BIN/esptagd" --dev eth0 --pin-dir "$PINS" --sock "$SOCK" "$@" >"$TMP/fg.log" 2>&1
}

start_agent --capacity 16
# --- refusals ---------------------------------------------------------------------
ln -s "$TMP/target" "$TMP/link"
run_daemon --keylog "$TMP/link"
rc=$?
[ $rc -ne 0 ] && grep -q "symbolic link" "$TMP/fg.log" && [ ! -e "$TMP/target" ] &&
	t_pass symlink_refused || t_fail symlink_refused "rc $rc $(cat "$TMP/fg.log")"
: >"$TMP/open" && chmod 0644 "$TMP/open"
run_daemon --keylog "$TMP/open"
rc=$?
[ $rc -ne 0 ] && grep -q "mode 0600" "$TMP/fg.log" && t_pass readable_file_refused ||
	t_fail readable_file_refused "rc $rc $(cat "$TMP/fg.log")"

# --- a key log -----------------------------------------------------------------------
if ! start_daemon --keylog "$TMP/keys"; then
	t_fail daemon_start "esptagd did not come up: $(tail -5 "$TMP/esptagd.log")"
	t_exit
fi
wait_for 5 is_up || t_fail agent_up "esptag_cfg AGENT_UP not set"
t_eq created_0600_root "$(stat -c '%a %u' "$TMP/keys")" "600 0"
t_eq empty_before_sas "$(wc -l <"$TMP/keys")" 0
E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6001 $AEAD "$(key 1)" 128 dir out &&
	E state add dev eth0 src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x6002 $AEAD "$(key 2)" 128 dir in &&
	E policy add dev eth0 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x6001
t_eq setup $? 0
t_eq one_line_per_sa "$(wc -l <"$TMP/keys")" 2
want="\"IPv4\",\"192.0.2.1\",\"192.0.2.2\",\"0x00006001\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"$(key 1)\",\"NULL\",\"\""
grep -qxF "$want" "$TMP/keys" &&
	t_pass esp_sa_line_format || t_fail esp_sa_line_format "$(sed 's/0x[0-9a-f]\{16,\}/0xKEY/' "$TMP/keys")"
capture_start "$TMP/k.pcap" || t_fail capture "tcpdump did not start"
nsx "$H" ping -q -c 10 -i 0.05 -W 0.05 192.0.2.2 >/dev/null 2>&1
capture_stop
r=$($PY "$ROOT/tests/lib/espcheck.py" "$TMP/k.pcap" --esp-sa "$TMP/keys")
[ "$(jq_ 'd["esp"]' <<<"$r")" -ge 10 ] && [ "$(jq_ 'd["icv_good"] == d["esp"] == d["esp_known"]' <<<"$r")" = True ] &&
	t_pass tshark_decrypts_every_frame || t_fail tshark_decrypts_every_frame "$r"
line=$(grep 0x00006001 "$TMP/keys")
cfg=$(mktemp -d "$TMP/ws.XXXX")
good=$(XDG_CONFIG_HOME=$cfg HOME=$cfg tshark -n -r "$TMP/k.pcap" -o esp.enable_encryption_decode:TRUE \
	-o esp.enable_authentication_check:TRUE -o "uat:esp_sa:$line" -Y 'esp.icv_good == 1' 2>/dev/null | wc -l)
[ "$good" -ge 10 ] && t_pass tshark_uat_option_decrypts || t_fail tshark_uat_option_decrypts "$good frames"
grep -q "$(key 1 | cut -c3-20)" "$TMP/esptagd.log" && t_fail no_key_in_log "key in the log" || t_pass no_key_in_log
grep -rq keylog "$ROOT/systemd" && t_fail not_in_units "keylog in systemd/" || t_pass not_in_units

# --- from the configuration file -------------------------------------------------------
kill "$DAEMON_PID"; wait_gone "$DAEMON_PID"
printf 'keylog = %s\n' "$TMP/keys2" >"$TMP/esptagd.conf"
if start_daemon --config "$TMP/esptagd.conf"; then
	E state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x6003 $AEAD "$(key 3)" 128 dir out
	t_eq config_keylog "$(stat -c %a "$TMP/keys2" 2>/dev/null) $(grep -c 0x00006003 "$TMP/keys2" 2>/dev/null)" "600 1"
else
	t_fail config_keylog "esptagd with keylog in its file did not start: $(tail -3 "$TMP/esptagd.log")"
fi
t_exit
