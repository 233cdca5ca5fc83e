/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Rx mark of a decrypted, accepted frame (docs/rx.md):
 *   skb->mark = (skb->mark & ~mask) | ((trusted | sa_index << shift) & mask)
 * An SA index the settings cannot hold whole (bits shifted out of 32, outside
 * the mask, or over the trusted bits) would give it another SA's mark: the
 * frame is dropped and counted (rx_drop_mark) instead. esptagd refuses such
 * settings; this catches esptag_cfg written by hand.
 */
#ifndef ESPTAG_BPF_MARK_H
#define ESPTAG_BPF_MARK_H

#include <linux/pkt_cls.h>
#include "cfg.h"
#include "stats.h"

static __always_inline int rx_mark_set(struct __sk_buff *skb, const struct cfg_view *cfg,
				       __u32 sa_index)
{
	__u64 idx = (__u64)sa_index << (cfg->mark_shift & 31);

	if (idx > 0xffffffffull || (idx & ~(__u64)cfg->mark_mask) ||
	    (idx & cfg->mark_trusted) || !(cfg->mark_trusted & cfg->mark_mask)) {
		stat_inc(ESPTAG_CNT_RX_DROP_MARK);
		return TC_ACT_SHOT;
	}
	skb->mark = (skb->mark & ~cfg->mark_mask) | (cfg->mark_trusted & cfg->mark_mask) | (__u32)idx;
	return TC_ACT_UNSPEC;
}

#endif /* ESPTAG_BPF_MARK_H */
