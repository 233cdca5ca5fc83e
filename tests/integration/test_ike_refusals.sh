#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What esptag cannot carry, kernel-esptag refuses with a line in charon's
# log, and nothing is left in esptagd: charon and its peer agree on
# AES-CBC with HMAC-SHA-256, ChaCha20-Poly1305, AES-GCM with an 8- or
# 12-byte ICV, AES-GCM-192; the CHILD_SA is not installed, esptagd holds
# no SA (the SPI charon allocated is released) and nothing of the test's
# traffic crosses the wire in clear.
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikeref)
. "$ROOT/tests/lib/ike.sh"
[ -f "$PLUGIN" ] || { t_fail plugin_built "$PLUGIN missing (make)"; t_exit; }
if ! ike_lab_up; then
	t_fail lab_up "$(tail -n 5 "$TMP/up.log")"
	t_exit
fi
t_pass lab_up
lab_addrs 4 transport
for s in A B; do
	for d in out in; do
		L "$s" esptag policy add dev pf0 src "$LAB_NET4" dst "$LAB_NET4" dir "$d" action discard ||
			t_fail "base_policy_${s}_$d" "esptag policy add refused"
	done
done
refused() { cat "$STATE"/ike/[AB]/charon.log 2>/dev/null | grep -q "kernel-esptag: refusing SA"; }
for esp in aes128-sha256 chacha20poly1305 aes128gcm8 aes256gcm12 aes192gcm16; do
	if ! ike start --mode transport --start start --esp "$esp" >"$TMP/$esp.log" 2>&1; then
		t_fail "$esp/ike_start" "$(tail -n 3 "$TMP/$esp.log")"
		continue
	fi
	if wait_for 20 refused; then
		t_pass "$esp/refused_in_charons_log"
		grep -h "kernel-esptag: refusing SA" "$STATE"/ike/[AB]/charon.log | head -n 1 | sed "s/^/  /"
	else
		t_fail "$esp/refused_in_charons_log" "$(grep -h kernel-esptag "$STATE"/ike/[AB]/charon.log | tail -n 2 | tr "\n" " ")"
	fi
	if child_up A || child_up B; then
		t_fail "$esp/no_child_sa" "a CHILD_SA is installed"
	else
		t_pass "$esp/no_child_sa"
	fi
	nothing() { [ "$(ike_count A state)" = 0 ] && [ "$(ike_count B state)" = 0 ]; }
	wait_for 10 nothing && t_pass "$esp/nothing_in_esptagd" ||
		t_fail "$esp/nothing_in_esptagd" "A $(esptag_sas A), B $(esptag_sas B)"
	if L A ping -c 2 -i 0.2 -W 1 "$SA_B" >/dev/null 2>&1; then
		t_fail "$esp/traffic_dropped" "the ping passed"
	else
		t_pass "$esp/traffic_dropped"
	fi
	ike stop >/dev/null 2>&1
done
t_exit
