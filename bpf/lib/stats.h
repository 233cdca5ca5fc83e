/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-CPU counters: esptag_stats by enum esptag_counter, esptag_sa_stats per
 * SA index. Per-CPU values need no atomics; user space sums over the CPUs.
 */
#ifndef ESPTAG_BPF_STATS_H
#define ESPTAG_BPF_STATS_H

#include "maps.h"

/*
 * The programs run as a sequence of always-inline stages with one exit: a
 * stage returns STAGE_NEXT to go on, or the counter (enum esptag_counter)
 * that ends the frame's path (a drop reason or a pass), and the single exit
 * counts it and derives the verdict from it.
 */
#define STAGE_NEXT	ESPTAG_CNT_MAX

static __always_inline void stat_inc(__u32 cnt)
{
	__u64 *v = bpf_map_lookup_elem(&esptag_stats, &cnt);

	if (v)
		*v += 1;
}

/* Account one packet of len bytes (or one drop) to SA sa_index. */
static __always_inline void sa_stat_add(__u32 sa_index, __u64 packets,
					__u64 bytes, __u64 drops)
{
	struct esptag_sa_stats *s = bpf_map_lookup_elem(&esptag_sa_stats, &sa_index);

	if (!s)
		return;		/* index beyond the array */
	s->packets += packets;
	s->bytes += bytes;
	s->drops += drops;
}

#endif /* ESPTAG_BPF_STATS_H */
