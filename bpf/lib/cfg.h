/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Runtime settings (esptag_cfg[0]) with their defaults applied. A missing
 * or zeroed entry means: agent down, default EtherTypes, and the Rx mark
 * defaults: mask 0x8000ffff (trusted bit 0x80000000 and the 16 bits of an SA
 * index below ESPTAG_SAD_MAX at shift 0); the other 15 bits of skb->mark
 * belong to whoever else sets them.
 */
#ifndef ESPTAG_BPF_CFG_H
#define ESPTAG_BPF_CFG_H

#include <bpf/bpf_endian.h>
#include "maps.h"

/*
 * Now for a use time (to the second): esptagd's clock in esptag_cfg, a
 * plain load; without it (no daemon wrote one) the coarse clock. A helper
 * call costs about as much as the rest of an SA's lifetime charge.
 */
static __always_inline __u64 use_clock(__u64 clock_ns)
{
	return clock_ns ? clock_ns : bpf_ktime_get_coarse_ns();
}

struct cfg_view {
	__u32 flags;		/* ESPTAG_CFGF_* */
	__be16 eth_p_cfg;	/* network order, ready to compare */
	__be16 eth_p_meta;
	__u32 mark_mask;
	__u32 mark_trusted;
	__u32 mark_shift;
	__u64 clock_ns;		/* esptag_cfg.clock_s in ns, 0 = none */
};

static __always_inline void cfg_load(struct cfg_view *v)
{
	__u32 zero = 0;
	struct esptag_cfg *c = bpf_map_lookup_elem(&esptag_cfg, &zero);

	v->flags = 0;
	v->eth_p_cfg = bpf_htons(ESPTAG_ETH_P_CFG);
	v->eth_p_meta = bpf_htons(ESPTAG_ETH_P_META);
	/* mark_mask 0 selects all three mark defaults (docs/rx.md). */
	v->mark_mask = ESPTAG_MARK_MASK_DEFAULT;
	v->mark_trusted = ESPTAG_MARK_TRUSTED_DEFAULT;
	v->mark_shift = 0;
	v->clock_ns = 0;
	if (!c)
		return;
	v->flags = c->flags;
	v->clock_ns = (__u64)c->clock_s * 1000000000ull;
	if (c->eth_p_cfg)
		v->eth_p_cfg = bpf_htons(c->eth_p_cfg);
	if (c->eth_p_meta)
		v->eth_p_meta = bpf_htons(c->eth_p_meta);
	if (c->mark_mask) {
		v->mark_mask = c->mark_mask;
		v->mark_trusted = c->mark_trusted;
		v->mark_shift = c->mark_shift & 31;
	}
}

#endif /* ESPTAG_BPF_CFG_H */
