/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SA lifetimes in the data path (esptag_sa.life, include/esptag/maps.h):
 * every packet passed under an SA is charged to its shared counters with
 * atomic fetch-and-add; a packet that would take the bytes or packets past
 * a hard limit is taken back out and dropped. Two CPUs racing at the very
 * limit may both be taken back (the later one sees the earlier one's
 * charge for an instant): a packet may then be dropped that would just
 * have fit, never one let through that does not.
 */
#ifndef ESPTAG_BPF_LIFE_H
#define ESPTAG_BPF_LIFE_H

#include "maps.h"
#include "cfg.h"

/* Charge packets/bytes to the SA's lifetime l (&sa->life of the esptag_sad
 * value the packet looked up): true if they fit its hard limits.
 * clock_ns: esptag_cfg's clock (struct cfg_view), 0 = none. */
static __always_inline bool life_charge(struct esptag_sa_life *l, __u64 packets, __u64 bytes,
					__u64 clock_ns)
{
	__u64 p, b, hp, hb, now;

	p = __sync_fetch_and_add(&l->packets, packets);
	b = __sync_fetch_and_add(&l->bytes, bytes);
	hp = l->hard_packets;
	hb = l->hard_bytes;
	if ((hp && p + packets > hp) || (hb && b + bytes > hb)) {
		__sync_fetch_and_add(&l->packets, -packets);
		__sync_fetch_and_add(&l->bytes, -bytes);
		__sync_fetch_and_add(&l->refused, 1);
		return false;
	}
	/* Use time is wanted to the second (XFRM's resolution): esptagd's
	 * clock (lib/cfg.h), stored only when it moved on, so that the shared
	 * line sees no extra store per packet. */
	now = use_clock(clock_ns);
	if (now - l->last_ns >= ESPTAG_LIFE_USE_NS)
		l->last_ns = now;
	return true;
}

/* Take back a charge whose packet was dropped after all. */
static __always_inline void life_uncharge(struct esptag_sa_life *l, __u64 packets, __u64 bytes)
{
	__sync_fetch_and_add(&l->packets, -packets);
	__sync_fetch_and_add(&l->bytes, -bytes);
}

#endif /* ESPTAG_BPF_LIFE_H */
