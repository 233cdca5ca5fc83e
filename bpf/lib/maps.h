/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every esptag BPF map, defined once. Each program includes this file, so
 * the definitions (type, key/value BTF, max_entries, flags) are identical in
 * every object: libbpf refuses to reuse a pin whose definition differs.
 * All maps are pinned by name; iproute2 pins them in /sys/fs/bpf/tc/globals,
 * esptagd under its own pin root (bpf_object_open_opts.pin_root_path).
 * Keys and values are the ABI structs of include/esptag/maps.h. No key
 * material is ever stored in any of them.
 */
#ifndef ESPTAG_BPF_MAPS_H
#define ESPTAG_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <esptag/maps.h>

/*
 * The per-SA maps are arrays indexed by the agent's SA index: the verifier
 * inlines their lookups and the cost does not grow with the number of SAs.
 * An unused slot is all zero (ESPTAG_SA_EMPTY); esptagd zeroes a slot's
 * state on install and on removal. max_entries may be raised before load
 * (bpf_map__set_max_entries) to the agent's capacity.
 */

/* Host mirror of the agent's SAD with each SA's shared state (Tx sequence,
 * Rx replay window, lifetime): agent SA index -> SA (no key). Mmapable, so
 * that esptagd changes an SA's description or limits with stores of those
 * fields alone, never overwriting what the data path counts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ESPTAG_SAD_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct esptag_sa);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_sad SEC(".maps");

/* Policy level 1: (dir, family, destination prefix) -> node. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct esptag_spd_key);
	__type(value, struct esptag_spd_node);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_spd SEC(".maps");

/* Policy level 2: (node, source prefix) -> action / SA index. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct esptag_spd_src_key);
	__type(value, struct esptag_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_spd_src SEC(".maps");

/* Host policies by exact (dir, family, src, dst): the same value as their
 * esptag_spd_src element, looked up before the LPM. Not preallocated: an
 * element a lookup holds is freed after an RCU grace period, never reused
 * at once for another policy's key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct esptag_spd_host_key);
	__type(value, struct esptag_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_spd_host SEC(".maps");

/* Runtime settings, one entry (agent up, mark bits, EtherTypes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct esptag_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_cfg SEC(".maps");

/* VF ports of the emulated NIC switch: switch-side ifindex -> trust, MAC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPTAG_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct esptag_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_ports SEC(".maps");

/* Data-path counters by enum esptag_counter, per CPU (no atomics). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ESPTAG_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_stats SEC(".maps");

/* Per-SA packets/bytes/drops, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ESPTAG_SAD_MAX);
	__type(key, __u32);
	__type(value, struct esptag_sa_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_sa_stats SEC(".maps");

/* Bypass sockets: socket cookie -> what it is (esptagd writes them). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPTAG_BYPASS_MAX);
	__type(key, __u64);
	__type(value, struct esptag_bypass);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_bypass SEC(".maps");

/* Trap policies: policy id -> acquire pending until (bpf_ktime_get_ns). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_acq_pend SEC(".maps");

/* Acquires from esptag_tx to esptagd. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ESPTAG_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_acquire SEC(".maps");

/* Per-policy use: policy id -> packets, last use, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__type(key, __u32);
	__type(value, struct esptag_pol_use);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_pol_use SEC(".maps");

/* Inbound policies' templates: policy id -> what the decrypting SA must be. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPTAG_SPD_MAX);
	__type(key, __u32);
	__type(value, struct esptag_pol_tmpl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} esptag_pol_tmpl SEC(".maps");

#endif /* ESPTAG_BPF_MAPS_H */
