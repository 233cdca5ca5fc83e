/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksum helpers (RFC 1071, incremental update RFC 1624).
 * Values are used as they lie in the packet: the one's complement sum is
 * byte-order independent as long as both sides use the same order.
 */
#ifndef ESPTAG_BPF_CSUM_H
#define ESPTAG_BPF_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word. */
static __always_inline void csum_replace2(__sum16 *sum, __be16 from, __be16 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~from;
	s += to;
	*sum = ~csum_fold32(s);
}

/* Same for a 32-bit field. */
static __always_inline void csum_replace4(__sum16 *sum, __be32 from, __be32 to)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
	s += (to & 0xffff) + (to >> 16);
	*sum = ~csum_fold32(s);
}

/* Checksum of an option-less IPv4 header (check field taken as 0). */
static __always_inline __sum16 ipv4_csum20(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 s = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		if (i != 5)
			s += w[i];
	return ~csum_fold32(s);
}

#endif /* ESPTAG_BPF_CSUM_H */
