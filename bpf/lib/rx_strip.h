/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * esptag_rx's strip of an accepted tagged frame: the headers that stay
 * (MACs, VLAN tags, EtherType and, in transport mode, the IP header) move
 * forward over the tag and the ESP header (+ the outer IP header in tunnel
 * mode), then the head goes. Trusted, SA n is handed to esptag_rx_mark in
 * the XDP metadata area.
 */
#ifndef ESPTAG_BPF_RX_STRIP_H
#define ESPTAG_BPF_RX_STRIP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "parse.h"

#define RX_HDR_MAX	144	/* EtherType + VLANs + IP header we move, bytes */
#define RX_MOVE_MAX	50	/* largest block rx_move() copies */
#define RX_MACS_LEN	(2 * ETH_ALEN)	/* destination + source MAC */
/* In a tagged frame: the EtherType (the tag's inner_proto) after MACs + tag. */
#define RX_ETYPE_OFF	(RX_MACS_LEN + ESPTAG_META_LEN)	/* 42 */
#define RX_GAP_MASK	0xff	/* gap <= 128 + 16 (IP header + ESP): tells the verifier */

/*
 * Move [RX_ETYPE_OFF, RX_ETYPE_OFF + n) (the frame's EtherType, VLAN tags
 * and, in transport mode, the IP header) and the MAC addresses forward over
 * the removed bytes (the 30-byte tag, then gap bytes right after the
 * block). n is a constant here: plain 16-bit loads and stores, no helper
 * call, no stack buffer (the usual header stacks). The block moves to higher addresses, so it is
 * copied from its end; the MACs go last, over the block's old place.
 */
static __always_inline int rx_move(struct xdp_md *ctx, const int n, __u32 gap)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u16 *src = data + RX_ETYPE_OFF, *dst, *mdst, *macs = data;
	int i;

	gap &= RX_GAP_MASK;
	mdst = data + ESPTAG_META_LEN + gap;
	/* Keep clang from rebuilding mdst + 6 from data and gap after the
	 * check: the verifier knows the range of this very register. */
	asm volatile("" : "+r"(mdst));
	dst = mdst + ETH_ALEN;		/* data + RX_ETYPE_OFF + gap */
	if ((void *)src + n > end || (void *)dst + n > end)
		return -1;
	/* Fully unrolled: n is a constant, the condition folds away. */
#pragma unroll
	for (i = RX_MOVE_MAX / 2 - 1; i >= 0; i--)
		if (i < n / 2)
			dst[i] = src[i];
#pragma unroll
	for (i = ETH_ALEN - 1; i >= 0; i--)
		mdst[i] = macs[i];
	return 0;
}

/* Same for any keep (IPv4 options, IPv6 extension headers): helpers. */
static __always_inline int rx_move_any(struct xdp_md *ctx, __u32 keep, __u32 gap,
				       __u8 *buf, __u8 *macs)
{
	__u64 k = keep - 2;

	/* 2 <= keep <= RX_HDR_MAX, in the register the helpers get. */
	bound_mask(k, 0xff);
	if (k > RX_HDR_MAX - 2)
		return -1;
	k += 2;
	if (bpf_xdp_load_bytes(ctx, 0, macs, RX_MACS_LEN) ||
	    bpf_xdp_load_bytes(ctx, RX_ETYPE_OFF, buf, k) ||
	    bpf_xdp_store_bytes(ctx, RX_ETYPE_OFF + gap, buf, k) ||
	    bpf_xdp_store_bytes(ctx, ESPTAG_META_LEN + gap, macs, RX_MACS_LEN))
		return -1;
	return 0;
}

/* 2 + 4 * VLANs (+ 20 IPv4 / 40 IPv6 header in transport mode). */
#define RX_MOVE_CASE(n)	case n: err = rx_move(ctx, n, gap); break

/* Close the gaps and drop the head. Returns 0 or -1. */
static __always_inline int rx_strip_head(struct xdp_md *ctx, __u32 keep, __u32 gap)
{
	__u8 buf[RX_HDR_MAX], macs[RX_MACS_LEN];
	int err;

	switch (keep) {
	RX_MOVE_CASE(2);
	RX_MOVE_CASE(6);
	RX_MOVE_CASE(10);
	RX_MOVE_CASE(22);
	RX_MOVE_CASE(26);
	RX_MOVE_CASE(30);
	RX_MOVE_CASE(42);
	RX_MOVE_CASE(46);
	RX_MOVE_CASE(50);
	default:
		err = rx_move_any(ctx, keep, gap, buf, macs);
	}
	if (err)
		return -1;
	return bpf_xdp_adjust_head(ctx, ESPTAG_META_LEN + gap) ? -1 : 0;
}

/* Hand "trusted, SA sa_index" to the tc companion through XDP metadata. */
static __always_inline void rx_set_meta(struct xdp_md *ctx, __u32 sa_index)
{
	struct esptag_xdp_meta *m;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return;		/* no metadata support: passes untrusted */
	m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(m + 1) > data)
		return;
	m->magic = ESPTAG_XDP_META_MAGIC;
	m->sa_index = sa_index;
}

#endif /* ESPTAG_BPF_RX_STRIP_H */
