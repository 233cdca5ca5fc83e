#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What esptag cannot carry, kernel-esptag refuses with a line in charon's
# log, and nothing is left in esptagd: charon and its peer agree on
# AES-CBC with HMAC-SHA-256, ChaCha20-Poly1305, AES-GCM with an 8- or
# 12-byte ICV, AES-GCM-192; the CHILD_SA is not installed, esptagd holds
# no SA (the SPI charon allocated is released).
. "$(dirname "$0")/../lib/harness.sh"
TMP=$(tmp_new ikeref)
. "$ROOT/tests/lib/ike.sh"
ike_setup
lab_addrs 4 transport
refused() { cat "$STATE"/ike/[AB]/charon.log 2>/dev/null | grep -q "kernel-esptag: refusing SA"; }
for esp in aes128-sha256 chacha20poly1305 aes128gcm8 aes256gcm12 aes192gcm16; do
	# scripts/ike writes AES-GCM-16 proposals only: both peers' swanctl.conf
	# are changed to agree on $esp, then A initiates.
	if ! ike start --mode transport --start none >"$TMP/$esp.log" 2>&1; then
		t_fail "$esp/ike_start" "$(tail -n 3 "$TMP/$esp.log")"
		continue
	fi
	for s in B A; do
		sed -i "s/esp_proposals = .*/esp_proposals = $esp/" "$STATE/ike-conf/$s/swanctl.conf"
		swan "$s" --load-conns >>"$TMP/$esp.log" 2>&1
	done
	swan A --initiate --child lab --timeout 10 >>"$TMP/$esp.log" 2>&1
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
	ike stop >/dev/null 2>&1
done
t_exit
