/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Security policy lookup over the two-level LPM (include/esptag/maps.h):
 * esptag_spd finds the most specific destination prefix with rules (a node),
 * esptag_spd_src the most specific source prefix inside that node. When no
 * source rule of the node matches, the parent node (next shorter destination
 * prefix with rules) is tried, at most ESPTAG_SPD_DEPTH levels: this is
 * "most specific destination first, then most specific source".
 *
 * Host policies (full-length source and destination) are found first by
 * exact match in esptag_spd_host: the most specific selector possible, so
 * a hit is the LPM's answer, at a cost that does not grow with the number
 * of policies. A miss walks the LPM as above. Only with host set (esptag_cfg
 * ESPTAG_CFGF_SPD_HOST: the hash has entries); the LPM holds every policy,
 * so skipping the hash never changes a decision.
 */
#ifndef ESPTAG_BPF_SPD_H
#define ESPTAG_BPF_SPD_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "cfg.h"

/* Policy for (dir, family, daddr, saddr); addresses are 16 bytes (IPv4 in
 * the first 4, rest 0). NULL when no rule matches. */
static __always_inline struct esptag_policy *
spd_lookup(__u8 dir, __u8 family, const __u8 *daddr, const __u8 *saddr, __u32 host)
{
	__u32 alen = family == 4 ? 32 : 128;
	struct esptag_spd_key dk = {
		.prefixlen = 32 + alen, .dir = dir, .family = family,
	};
	struct esptag_spd_src_key sk = { .prefixlen = 32 + alen };
	struct esptag_spd_host_key hk = { .dir = dir, .family = family };
	struct esptag_spd_node *node;
	struct esptag_policy *pol;
	int i;

	if (host) {
		__builtin_memcpy(hk.saddr, saddr, 16);
		__builtin_memcpy(hk.daddr, daddr, 16);
		pol = bpf_map_lookup_elem(&esptag_spd_host, &hk);
		if (pol)
			return pol;
	}
	__builtin_memcpy(dk.daddr, daddr, 16);
	__builtin_memcpy(sk.saddr, saddr, 16);
	node = bpf_map_lookup_elem(&esptag_spd, &dk);
	for (i = 0; i < ESPTAG_SPD_DEPTH; i++) {
		__u32 parent;

		if (!node)
			return NULL;
		sk.node = node->id;
		pol = bpf_map_lookup_elem(&esptag_spd_src, &sk);
		if (pol)
			return pol;
		parent = node->parent;
		if (parent == ESPTAG_SPD_NODE_NONE ||
		    node->parent_prefixlen >= dk.prefixlen)
			return NULL;
		dk.prefixlen = node->parent_prefixlen;
		node = bpf_map_lookup_elem(&esptag_spd, &dk);
		if (node && node->id != parent)
			return NULL;	/* inconsistent tree: no rule */
	}
	return NULL;
}

/* Count a frame a policy decided and stamp its time (esptag policy get);
 * clock_ns: esptag_cfg's clock (lib/cfg.h), 0 = none. */
static __always_inline void spd_use(const struct esptag_policy *pol, __u64 clock_ns)
{
	__u32 id = pol->id;
	struct esptag_pol_use *u = bpf_map_lookup_elem(&esptag_pol_use, &id);
	__u64 now;

	if (!u)
		return;		/* no entry: esptagd did not create one */
	u->packets++;
	/* Seconds are what is asked for: esptagd's clock, stored only when
	 * it moved on. */
	now = use_clock(clock_ns);
	if (now - u->last_ns >= ESPTAG_LIFE_USE_NS)
		u->last_ns = now;
}

#endif /* ESPTAG_BPF_SPD_H */
