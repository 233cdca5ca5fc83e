#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# scripts/ike: two charons (Debian's charon-systemd, kernel-libipsec: ESP in
# user space over a TUN device) in two namespaces, each in its own mount
# namespace with its own strongswan.conf and VICI socket reached from the
# host. PSK and X.509 (certificates made by `scripts/ike conf` with pki),
# IPv4 and IPv6, tunnel mode: IKE_SA and CHILD_SA up with the AES-GCM-16
# proposals, the two sides agree on the SPIs, ping passes through the
# CHILD_SA (its counters move, the wire carries no clear ICMP), trap
# policies are installed with start_action trap; `scripts/ike stop`
# leaves no process, mount, TUN device, routing rule or file behind; bad
# input is refused with nothing started.
. "$(dirname "$0")/../lib/harness.sh"
t_require_root
t_require tcpdump
. "$ROOT/tests/lib/swan.sh"
swan_require ike_launcher
IKE="$ROOT/scripts/ike"
export IKE_RUN=/run/et-$T_ID-ike
TMP=$(tmp_new ike)
NA=$(ns_new ikea)
NB=$(ns_new ikeb)
IA=et-$T_ID-a IB=et-$T_ID-b
ike_down() { "$IKE" stop "$IA" >/dev/null 2>&1; "$IKE" stop "$IB" >/dev/null 2>&1; rm -rf "$IKE_RUN"; }
trap 'ike_down; t_teardown' EXIT
. "$ROOT/scripts/lab.env"

ip link add v0 netns "$NA" type veth peer name v0 netns "$NB"
for n in "$NA" "$NB"; do ip -n "$n" link set v0 up; done
ip -n "$NA" addr add "$LAB_IP4_A/24" dev v0
ip -n "$NB" addr add "$LAB_IP4_B/24" dev v0
ip -n "$NA" addr add "$LAB_IN4_A/32" dev v0
ip -n "$NB" addr add "$LAB_IN4_B/32" dev v0
ip -n "$NA" -6 addr add "$LAB_IP6_A/64" dev v0 nodad
ip -n "$NB" -6 addr add "$LAB_IP6_B/64" dev v0 nodad
ip -n "$NA" -6 addr add "$LAB_IN6_A/128" dev v0 nodad
ip -n "$NB" -6 addr add "$LAB_IN6_B/128" dev v0 nodad
wait_link_up "$NA" v0

# swanctl of instance NAME (spis, spis_agree); a CHILD_SA up here is a tunnel.
SWANCTL=("$IKE" swanctl)
child_up() { swan "$1" --list-sas 2>/dev/null | grep -q "INSTALLED, TUNNEL"; }
out_packets() { # NAME -> packets counted on the outbound SA
	"$IKE" swanctl "$1" --list-sas 2>/dev/null |
		awk '$1 == "out" { for (i = 2; i < NF; i++) if ($(i + 1) ~ /^packets/) { print $i; exit } }'
}

run_case() { # NAME AUTH FAMILY START
	local c=$1 auth=$2 fam=$3 start=$4 a b ina inb tsa tsb
	if [ "$fam" = 6 ]; then
		a=$LAB_IP6_A b=$LAB_IP6_B ina=$LAB_IN6_A inb=$LAB_IN6_B tsa=$LAB_INNET6_A tsb=$LAB_INNET6_B
	else
		a=$LAB_IP4_A b=$LAB_IP4_B ina=$LAB_IN4_A inb=$LAB_IN4_B tsa=$LAB_INNET4_A tsb=$LAB_INNET4_B
	fi
	local ca_before
	ca_before=$(ls -d /tmp/esptag-ike-ca-* 2>/dev/null | wc -l)
	if ! "$IKE" conf "$TMP/$c-a" "$TMP/$c-b" --a "$a" --b "$b" --auth "$auth" --mode tunnel \
		--ts-a "$tsa" --ts-b "$tsb" --start "$start" >"$TMP/$c-conf.log" 2>&1; then
		t_fail "$c/conf" "$(tail -n 3 "$TMP/$c-conf.log")"
		return
	fi
	t_pass "$c/conf"
	if [ "$auth" = cert ]; then
		# A CA and a certificate per peer, the CA's key gone.
		if openssl x509 -in "$TMP/$c-a/x509/A.pem" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$a" &&
			openssl verify -CAfile "$TMP/$c-b/x509ca/ca.pem" "$TMP/$c-a/x509/A.pem" >/dev/null 2>&1 &&
			[ "$(ls -d /tmp/esptag-ike-ca-* 2>/dev/null | wc -l)" = "$ca_before" ]; then
			t_pass "$c/certificates"
		else
			t_fail "$c/certificates" "A's certificate is not B's CA's for $a, or the CA directory stayed"
		fi
	fi
	if ! "$IKE" start "$IB" "$NB" "$TMP/$c-b" --backend libipsec >"$TMP/$c-startb.log" 2>&1 ||
		! "$IKE" start "$IA" "$NA" "$TMP/$c-a" --backend libipsec >"$TMP/$c-starta.log" 2>&1; then
		t_fail "$c/start" "$(cat "$TMP/$c-startb.log" "$TMP/$c-starta.log" | tail -n 5)"
		ike_down
		return
	fi
	t_pass "$c/start"
	local pa pb
	pa=$(cat "$IKE_RUN/$IA/charon.pid") pb=$(cat "$IKE_RUN/$IB/charon.pid")
	# Each charon: its own mount namespace with /run a tmpfs, the
	# instance directory bound into it; the host's mounts unchanged.
	if [ "$(readlink "/proc/$pa/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
		[ "$(stat -L -c %i "/proc/$pa/ns/net")" = "$(stat -L -c %i "/run/netns/$NA")" ] &&
		grep -q ' /run [^ ]* .*- tmpfs esptag-ike ' "/proc/$pa/mountinfo" &&
		! grep -q esptag-ike /proc/self/mountinfo; then
		t_pass "$c/own_mount_namespace"
	else
		t_fail "$c/own_mount_namespace" "charon $pa: mnt $(readlink "/proc/$pa/ns/mnt"), net $(readlink "/proc/$pa/ns/net")"
	fi
	local pcap=$TMP/$c.pcap
	nsx "$NA" tcpdump -i v0 -n -s 0 -U --immediate-mode -w "$pcap" >/dev/null 2>"$pcap.err" &
	local cap=$!
	wait_log "$pcap.err" "listening on"
	if [ "$start" = none ]; then
		"$IKE" swanctl "$IA" --initiate --child lab --timeout 20 >"$TMP/$c-init.log" 2>&1 ||
			t_fail "$c/initiate" "$(tail -n 3 "$TMP/$c-init.log")"
	else
		# trap: the first packet raises the acquire (it is dropped).
		nsx "$NA" ping -c 1 -W 1 -I "$ina" "$inb" >/dev/null 2>&1
	fi
	if wait_for 20 child_up "$IA" && wait_for 5 child_up "$IB"; then
		t_pass "$c/child_sa_up"
	else
		t_fail "$c/child_sa_up" "$("$IKE" swanctl "$IA" --list-sas 2>&1 | tail -n 5)"
	fi
	local sa sb
	"$IKE" swanctl "$IA" --list-sas >"$TMP/$c-sas" 2>&1
	if grep -q "AES_GCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519" "$TMP/$c-sas" &&
		grep -q "ESP:AES_GCM_16-128" "$TMP/$c-sas"; then
		t_pass "$c/proposals"
	else
		t_fail "$c/proposals" "$(grep -E 'AES|ESP' "$TMP/$c-sas" | tr '\n' ' ')"
	fi
	spis_agree "$c" "$IA" "$IB"
	local before after
	before=$(out_packets "$IA")
	if nsx "$NA" ping -c 3 -i 0.2 -W 2 -I "$ina" "$inb" >"$TMP/$c-ping.log" 2>&1; then
		t_pass "$c/ping"
	else
		t_fail "$c/ping" "$(tail -n 2 "$TMP/$c-ping.log")"
	fi
	after=$(out_packets "$IA")
	if [[ "$after" =~ ^[0-9]+$ && "${before:-0}" =~ ^[0-9]+$ ]] && [ "$((after - ${before:-0}))" -ge 3 ]; then
		t_pass "$c/ping_through_child_sa"
	else
		t_fail "$c/ping_through_child_sa" "outbound SA packets $before -> $after"
	fi
	# kernel-libipsec: ESP in UDP 4500 (non-ESP marker 0 = IKE, excluded).
	local icmp esp espf='udp port 4500 and udp[8:4] != 0'
	[ "$fam" = 6 ] && espf='udp port 4500 and ip6[48:4] != 0'
	esp_frames() { tcpdump -n -r "$pcap" "$espf" 2>/dev/null | wc -l; }
	# The 3 requests and 3 replies written out (-U) before the capture stops.
	wait_for 3 eval '[ "$(esp_frames)" -ge 6 ]' 2>/dev/null
	kill "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	icmp=$(tcpdump -n -r "$pcap" 'icmp or icmp6' 2>/dev/null | grep -c -E 'echo (request|reply)')
	esp=$(esp_frames)
	if [ "$icmp" = 0 ] && [ "$esp" -ge 6 ]; then
		t_pass "$c/wire_only_esp"
	else
		t_fail "$c/wire_only_esp" "clear echo frames $icmp, ESP-in-UDP frames $esp"
	fi
	# Stop: nothing left.
	"$IKE" stop "$IA" >/dev/null 2>&1
	"$IKE" stop "$IB" >/dev/null 2>&1
	local left=""
	alive_pid() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [[ "$st" != Z* ]]; }
	alive_pid "$pa" && left+=" charon A $pa"
	alive_pid "$pb" && left+=" charon B $pb"
	[ -e "$IKE_RUN/$IA" ] && left+=" $IKE_RUN/$IA"
	[ -e "$IKE_RUN/$IB" ] && left+=" $IKE_RUN/$IB"
	ip -n "$NA" link show ipsec0 >/dev/null 2>&1 && left+=" ipsec0 in A"
	ip -n "$NB" link show ipsec0 >/dev/null 2>&1 && left+=" ipsec0 in B"
	ip -n "$NA" rule | grep -q "lookup 220" && left+=" rule 220 in A"
	ip -n "$NA" -6 rule | grep -q "lookup 220" && left+=" rule6 220 in A"
	ip -n "$NA" route show table all | grep -q "table 220" && left+=" routes in table 220 of A"
	grep -l -- "$IKE_RUN/" /proc/[0-9]*/mountinfo >/dev/null 2>&1 && left+=" a mount namespace holding $IKE_RUN"
	if [ -z "$left" ]; then t_pass "$c/stop_leaves_nothing"; else t_fail "$c/stop_leaves_nothing" "$left"; fi
}

run_case psk4 psk 4 none
run_case cert4 cert 4 none
run_case psk6 psk 6 none

# start_action trap: both charons install the trap policy (the CHILD_SA is
# ROUTED). kernel-libipsec drops a trapped packet without raising an
# acquire, so the first-packet negotiation is tested with esptag.
"$IKE" conf "$TMP/trap-a" "$TMP/trap-b" --a "$LAB_IP4_A" --b "$LAB_IP4_B" --mode tunnel \
	--ts-a "$LAB_INNET4_A" --ts-b "$LAB_INNET4_B" --start trap >/dev/null 2>&1
"$IKE" start "$IB" "$NB" "$TMP/trap-b" --backend libipsec >/dev/null 2>&1
"$IKE" start "$IA" "$NA" "$TMP/trap-a" --backend libipsec >/dev/null 2>&1
trapped() { "$IKE" swanctl "$1" --list-pols 2>/dev/null | grep -q "^lab/lab, TUNNEL"; }
if trapped "$IA" && trapped "$IB" && ! "$IKE" swanctl "$IA" --list-sas 2>/dev/null | grep -q ESTABLISHED; then
	t_pass trap/policies_installed_nothing_negotiated
else
	t_fail trap/policies_installed_nothing_negotiated "$("$IKE" swanctl "$IA" --list-pols 2>&1 | head -n 3)"
fi
ike_down

# Bad input: refused, nothing started or written.
if ! "$IKE" conf "$TMP/bad-a" "$TMP/bad-b" --a "$LAB_IP4_A" --b "$LAB_IP4_B" --esp aes128-sha256 >/dev/null 2>"$TMP/bad.err" &&
	grep -q "only AES-GCM" "$TMP/bad.err" && [ ! -e "$TMP/bad-a/swanctl.conf" ]; then
	t_pass conf_refuses_non_gcm
else
	t_fail conf_refuses_non_gcm "$(cat "$TMP/bad.err")"
fi
if ! "$IKE" conf "$TMP/bad-a" "$TMP/bad-b" --a "$LAB_IP4_A" --b "$LAB_IP6_B" >/dev/null 2>&1 &&
	[ ! -e "$TMP/bad-a/swanctl.conf" ]; then
	t_pass conf_refuses_mixed_families
else
	t_fail conf_refuses_mixed_families "accepted an IPv4 and an IPv6 peer"
fi
mkdir -p "$TMP/empty"
if ! "$IKE" start "$IA" "et-$T_ID-nosuchns" "$TMP/empty" --backend libipsec >/dev/null 2>&1 &&
	[ ! -e "$IKE_RUN/$IA" ]; then
	t_pass start_refuses_missing_netns
else
	t_fail start_refuses_missing_netns "started, or left $IKE_RUN/$IA"
fi
"$IKE" conf "$TMP/bl-a" "$TMP/bl-b" --a "$LAB_IP4_A" --b "$LAB_IP4_B" >/dev/null 2>&1
sed -i 's/esp_proposals = .*/esp_proposals = aes128gcm16-nosuchalg/' "$TMP/bl-a/swanctl.conf"
if ! "$IKE" start "$IA" "$NA" "$TMP/bl-a" --backend libipsec >/dev/null 2>"$TMP/bl.err" &&
	[ ! -e "$IKE_RUN/$IA" ] && ! pgrep -f "$IKE_RUN/$IA" >/dev/null; then
	t_pass start_refuses_bad_config_and_cleans_up
else
	t_fail start_refuses_bad_config_and_cleans_up "$(tail -n 3 "$TMP/bl.err")"
fi
# A kernel-esptag that does not load (here: a plugin with no features, so
# charon unloads it) must not leave kernel-netlink serving kernel-ipsec
# (the kernel's XFRM) in its place: start refuses, nothing left running.
if command -v gcc >/dev/null; then
	cat >"$TMP/nofeat.c" <<'EOF'
#include <stdlib.h>
struct plugin { char *(*get_name)(void *); int (*get_features)(void *, void **);
	int (*reload)(void *); void (*destroy)(void *); };
static char *gn(void *p) { return "kernel-esptag"; }
static int gf(void *p, void **f) { *f = NULL; return 0; }
static void ds(void *p) { free(p); }
struct plugin *kernel_esptag_plugin_create(void)
{
	struct plugin *p = calloc(1, sizeof(*p));
	p->get_name = gn; p->get_features = gf; p->destroy = ds;
	return p;
}
EOF
	gcc -shared -fPIC -o "$TMP/libstrongswan-kernel-esptag.so" "$TMP/nofeat.c"
	mkdir -p "$TMP/esprun"
	if ! "$IKE" start "$IA" "$NA" "$TMP/bl-a" --backend esptag --esptag-run "$TMP/esprun" \
		--plugin "$TMP/libstrongswan-kernel-esptag.so" >/dev/null 2>"$TMP/nofeat.err" &&
		grep -q "kernel-esptag not loaded" "$TMP/nofeat.err" && [ ! -e "$IKE_RUN/$IA" ] &&
		! pgrep -f "$IKE_RUN/$IA" >/dev/null; then
		t_pass start_refuses_when_kernel_esptag_does_not_load
	else
		t_fail start_refuses_when_kernel_esptag_does_not_load "$(tail -n 3 "$TMP/nofeat.err")"
	fi
fi
t_exit
