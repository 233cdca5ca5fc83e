#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `bpftool btf dump file` on every built BPF object shows the shared ABI
# structs of include/esptag/maps.h with their field names, so
# `bpftool map dump` prints named fields. Every BPF object of the tree
# (programs, test, bench and agent-test programs) declares one licence, "GPL".
. "$(dirname "$0")/../lib/harness.sh"
t_require bpftool

# struct -> fields that must be named in BTF, straight from maps.h.
declare -A WANT=(
	[esptag_sa]="spi dir family mode flags ifindex local_mac nvlans vlan saddr daddr replay_window expires_ns seq life replay"
	[esptag_seq]="next base"
	[esptag_policy]="action spi sa_index id"
	[esptag_spd_key]="prefixlen dir family daddr"
	[esptag_spd_host_key]="dir family saddr daddr"
	[esptag_replay]="unused top bitmap"
	[esptag_cfg]="flags mark_mask mark_trusted mark_shift eth_p_cfg eth_p_meta"
	[esptag_sa_stats]="packets bytes drops"
	[esptag_sa_life]="hard_bytes hard_packets bytes packets last_ns refused"
	[esptag_port]="flags mac vf"
	[esptag_vlan]="tpid tci"
)
# The data path's objects share the maps; the agent's own programs
# (esptag_agent_*: its AF_XDP redirect and fan-out) use none of them.
DP_OBJS=()
for o in "$BUILD"/bpf/*.bpf.o; do
	case $(basename "$o") in esptag_agent_*) ;; *) DP_OBJS+=("$o") ;; esac
done
t_eq data_path_objects "$(for o in "${DP_OBJS[@]}"; do basename "$o"; done | tr '\n' ' ')" \
	"esptag_port.bpf.o esptag_rx.bpf.o esptag_tx.bpf.o "
for o in "${DP_OBJS[@]}"; do
	n=$(basename "$o" .bpf.o)
	dump=$(bpftool btf dump file "$o" 2>&1) || { t_fail "$n/btf_dump" "$dump"; continue; }
	for s in "${!WANT[@]}"; do
		# Members follow the STRUCT line, indented, as "'name' type_id=...".
		body=$(echo "$dump" | awk -v s="STRUCT '$s'" '
			index($0, s) { on = 1; next }
			on && /^\[/ { exit }
			on { print }')
		if [ -z "$body" ]; then
			t_fail "$n/$s" "STRUCT '$s' not in BTF"
			continue
		fi
		missing=""
		for f in ${WANT[$s]}; do
			echo "$body" | grep -q "'$f' type_id=" || missing="$missing $f"
		done
		if [ -z "$missing" ]; then t_pass "$n/$s"; else t_fail "$n/$s" "fields missing:$missing"; fi
	done
done
# Program and map names as bpftool and tc show them: the kernel keeps 15
# characters (BPF_OBJ_NAME_LEN - 1), so a longer name shows truncated.
for o in "$BUILD"/bpf/*.bpf.o; do
	n=$(basename "$o" .bpf.o)
	long=$(bpftool btf dump file "$o" 2>/dev/null |
		sed -n "s/^\[[0-9]*\] \(FUNC\|VAR\) '\([^']*\)'.*linkage=global.*/\2/p" |
		grep -v '^LICENSE$\|^_' | awk 'length($0) > 15' | tr '\n' ' ')
	t_eq "names_fit_15/$n" "$long" ""
done
for o in "$BUILD"/bpf/*.bpf.o "$BUILD"/tests/progs/*.bpf.o "$BUILD"/bench/progs/*.bpf.o \
	"$BUILD"/tests/agent/*.bpf.o; do
	[ -e "$o" ] || continue
	lic=$(readelf -p license "$o" 2>/dev/null | sed -n 's/^ *\[ *0\] *//p')
	t_eq "license/$(basename "$o" .bpf.o)" "$lic" GPL
done
t_exit
