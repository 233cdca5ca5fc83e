// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data path's configuration (esptag_cfg: the AGENT_UP gate, flags,
 * EtherTypes, mark settings) and its counters, read and written through the
 * map fds bpf.c opened.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "esptagd.h"

bool cfg_agent_up(struct daemon *d)
{
	struct esptag_cfg c = {};
	__u32 k = 0;

	if (bpf_map_lookup_elem(d->bpf.map_fd[M_CFG], &k, &c))
		return false;
	return c.flags & ESPTAG_CFGF_AGENT_UP;
}

int cfg_set_flag(struct daemon *d, uint32_t flag, bool on)
{
	struct esptag_cfg c = {};
	__u32 k = 0;

	if (bpf_map_lookup_elem(d->bpf.map_fd[M_CFG], &k, &c))
		memset(&c, 0, sizeof(c));
	if (!!(c.flags & flag) == on)
		return 0;
	if (on)
		c.flags |= flag;
	else
		c.flags &= ~flag;
	if (bpf_map_update_elem(d->bpf.map_fd[M_CFG], &k, &c, BPF_ANY)) {
		log_err("esptag_cfg: cannot update: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The data path's clock for use times (esptag_cfg.clock_s): CLOCK_MONOTONIC
 * seconds, written when the second moves on (called every lifetime tick and
 * at start-up), so that the programs stamp last use with a load instead of
 * a clock helper call per packet. stop: 0, the programs read the clock
 * themselves while no daemon keeps it (a data path left running).
 */
void cfg_clock_tick(struct daemon *d, bool stop)
{
	struct esptag_cfg c = {};
	struct timespec ts;
	__u32 k = 0, s = 0;

	if (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (__u32)ts.tv_sec;
	}
	if (d->bpf.map_fd[M_CFG] < 0 || bpf_map_lookup_elem(d->bpf.map_fd[M_CFG], &k, &c) ||
	    c.clock_s == s)
		return;
	c.clock_s = s;
	if (bpf_map_update_elem(d->bpf.map_fd[M_CFG], &k, &c, BPF_ANY))
		log_err("esptag_cfg: cannot update the clock: %s", strerror(errno));
}

int cfg_set_agent_up(struct daemon *d, bool up)
{
	struct esptag_cfg c = {};
	__u32 k = 0;

	if (bpf_map_lookup_elem(d->bpf.map_fd[M_CFG], &k, &c))
		memset(&c, 0, sizeof(c));
	if (up)
		c.flags |= ESPTAG_CFGF_AGENT_UP;
	else
		c.flags &= ~ESPTAG_CFGF_AGENT_UP;
	if (bpf_map_update_elem(d->bpf.map_fd[M_CFG], &k, &c, BPF_ANY)) {
		log_err("esptag_cfg: cannot update: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int cfg_apply(struct daemon *d, const struct cfg_opts *o)
{
	struct esptag_cfg c = {};
	__u32 k = 0;

	if (!o->set_eth && !o->set_mark)
		return 0;
	if (bpf_map_lookup_elem(d->bpf.map_fd[M_CFG], &k, &c))
		memset(&c, 0, sizeof(c));
	if (o->set_eth) {
		c.eth_p_cfg = o->eth_p_cfg;
		c.eth_p_meta = o->eth_p_meta;
	}
	if (o->set_mark) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		char why[256];

		/* The mark must hold every index esptag_sad can (an adopted
		 * map has the size its creator gave it). */
		if (bpf_obj_get_info_by_fd(d->bpf.map_fd[M_SAD], &info, &len)) {
			log_err("esptag_sad: cannot read its size: %s", strerror(errno));
			return -1;
		}
		if (esptag_mark_check(o->mark_mask, o->mark_trusted, o->mark_shift,
				      info.max_entries, why, sizeof(why))) {
			log_err("esptag_cfg not changed: %s (esptag_sad has %u slots)", why,
				info.max_entries);
			return -1;
		}
		c.mark_mask = o->mark_mask;
		c.mark_trusted = o->mark_trusted;
		c.mark_shift = o->mark_shift;
	}
	if (bpf_map_update_elem(d->bpf.map_fd[M_CFG], &k, &c, BPF_ANY)) {
		log_err("esptag_cfg: cannot update: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int percpu_sum_u64(struct daemon *d, int map, uint32_t key, uint64_t *out)
{
	uint64_t v[d->bpf.ncpus > 0 ? d->bpf.ncpus : 1];

	*out = 0;
	if (bpf_map_lookup_elem(d->bpf.map_fd[map], &key, v))
		return -1;
	for (int i = 0; i < d->bpf.ncpus; i++)
		*out += v[i];
	return 0;
}

int sa_stats_sum(struct daemon *d, uint32_t idx, struct esptag_sa_stats *out)
{
	struct esptag_sa_stats v[d->bpf.ncpus > 0 ? d->bpf.ncpus : 1];

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(d->bpf.map_fd[M_SA_STATS], &idx, v))
		return -1;
	for (int i = 0; i < d->bpf.ncpus; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->drops += v[i].drops;
	}
	return 0;
}

/*
 * The per-SA maps are arrays indexed by the agent's SA index: an index at or
 * beyond max_entries cannot be mirrored (its install fails cleanly, E2BIG).
 */
void bpf_sad_slots_check(struct daemon *d, uint32_t capacity)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (d->bpf.map_fd[M_SAD] < 0 || bpf_obj_get_info_by_fd(d->bpf.map_fd[M_SAD], &info, &len))
		return;
	if (capacity > info.max_entries)
		log_warn("agent SAD capacity %u exceeds the %u slots of esptag_sad: SAs the agent puts at index %u or above cannot be installed",
			 capacity, info.max_entries, info.max_entries);
}
