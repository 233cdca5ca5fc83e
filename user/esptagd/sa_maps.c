// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's SAs in the per-SA maps: what an SA looks like in esptag_sad,
 * written and cleared through the SA mirror (user/lib/sa_mirror.h), which
 * keeps the order (state before the SA is usable, the SA unusable before its
 * state goes); its lifetime in its esptag_sad value (limits, use) and an SA
 * as a reply item.
 */
#include <errno.h>
#include <time.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "sa_mirror.h"

static struct esptag_sa_maps sa_maps(const struct daemon *d)
{
	return (struct esptag_sa_maps){
		.sad = d->bpf.map_fd[M_SAD], .sa_stats = d->bpf.map_fd[M_SA_STATS],
		.ncpus = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1,
		.map = d->bpf.sad, .map_n = d->bpf.sad_n,
	};
}

/* The SA's lifetime (in its esptag_sad value): its hard limits, the use it carries over
 * a re-install (zero for a new SA). */
static void life_value(const struct sa *sa, struct esptag_sa_life *l)
{
	*l = sa->keep;
	l->hard_bytes = sa->c.hard_bytes;
	l->hard_packets = sa->c.hard_packets;
}

static void sa_value(struct daemon *d, const struct sa *sa, struct esptag_sa *vp)
{
	memset(vp, 0, sizeof(*vp));
	vp->spi = htonl(sa->c.spi);
	vp->dir = sa->c.dir;
	vp->family = sa->c.family;
	vp->mode = sa->c.mode;
	vp->flags = ESPTAG_SAF_ALIVE;
	if (sa->c.sa_flags & ESPTAG_SA_F_ESN)
		vp->flags |= ESPTAG_SAF_ESN;
	if (sa->c.mode == ESPTAG_MODE_TUNNEL)
		vp->flags |= ESPTAG_SAF_TUNNEL;
	vp->ifindex = d->ifindex;
	memcpy(vp->local_mac, d->mac, 6);
	vp->nvlans = sa->c.nvlans;
	vp->icv_len = sa->c.icv_len;
	for (int i = 0; i < sa->c.nvlans; i++) {
		vp->vlan[i].tpid = htons(sa->c.nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		vp->vlan[i].tci = htons(sa->c.vid[i]);
	}
	memcpy(vp->saddr, sa->c.saddr, 16);
	memcpy(vp->daddr, sa->c.daddr, 16);
	vp->replay_window = sa->c.replay_window;
	vp->reqid = sa->c.reqid;
	vp->expires_ns = sa->expires_ns;
}

int map_install(struct daemon *d, const struct sa *sa, const struct esptag_seq *seq,
		const struct esptag_replay *rp)
{
	struct esptag_sa_maps m = sa_maps(d);
	struct esptag_sa_life l;
	struct esptag_sa v;
	int err;

	sa_value(d, sa, &v);
	life_value(sa, &l);
	err = esptag_sa_mirror_write_life(&m, sa->c.sa_index, &v, seq, rp, &l);
	if (err) {
		log_err("maps: cannot install SA index %u: %s", sa->c.sa_index, strerror(-err));
		errno = -err;
		return -1;
	}
	return 0;
}

int map_update_sa(struct daemon *d, const struct sa *sa)
{
	struct esptag_sa_maps m = sa_maps(d);
	struct esptag_sa v;
	int err;

	/* The description alone: the state the data path keeps stays. */
	sa_value(d, sa, &v);
	err = esptag_sa_mirror_update(&m, sa->c.sa_index, &v);
	if (err)
		errno = -err;
	return err ? -1 : 0;
}

void map_remove(struct daemon *d, uint32_t idx)
{
	struct esptag_sa_maps m = sa_maps(d);
	int err = esptag_sa_mirror_clear(&m, idx);

	if (err)
		log_err("maps: cannot clear SA index %u: %s", idx, strerror(-err));
}

void map_retire(struct daemon *d, uint32_t idx)
{
	struct esptag_sa_maps m = sa_maps(d);
	int err = esptag_sa_mirror_retire(&m, idx);

	if (err)
		log_err("maps: cannot clear SA index %u: %s", idx, strerror(-err));
}

/* The indices of the SAs of a set that have one. */
static uint32_t *indices(struct sa **v, size_t n, size_t *nk)
{
	uint32_t *k = malloc((n ? n : 1) * sizeof(*k));

	*nk = 0;
	for (size_t i = 0; k && i < n; i++)
		if (v[i]->c.sa_index != ESPTAG_SA_INDEX_NONE)
			k[(*nk)++] = v[i]->c.sa_index;
	return k;
}

void map_remove_many(struct daemon *d, struct sa **v, size_t n)
{
	struct esptag_sa_maps m = sa_maps(d);
	size_t nk;
	uint32_t *k = indices(v, n, &nk);
	int err;

	if (!k) {
		for (size_t i = 0; i < n; i++)
			if (v[i]->c.sa_index != ESPTAG_SA_INDEX_NONE)
				map_remove(d, v[i]->c.sa_index);
		return;
	}
	err = esptag_sa_mirror_clear_many(&m, k, nk);
	if (err)
		log_err("maps: cannot clear %zu SAs: %s", nk, strerror(-err));
	free(k);
}

/* Install n SAs (with their indices set); seq/rp: kept state or NULL. */
int map_install_many(struct daemon *d, struct sa **v, size_t n, const struct esptag_seq *seq,
		     const struct esptag_replay *rp)
{
	struct esptag_sa_maps m = sa_maps(d);
	size_t c = n ? n : 1, nk = 0;
	uint32_t *k = malloc(c * sizeof(*k));
	struct esptag_sa *sv = calloc(c, sizeof(*sv));
	struct esptag_seq *qv = seq ? calloc(c, sizeof(*qv)) : NULL;
	struct esptag_replay *rv = rp ? calloc(c, sizeof(*rv)) : NULL;
	struct esptag_sa_life *lv = calloc(c, sizeof(*lv));
	int err = -ENOMEM;

	if (!k || !sv || !lv || (seq && !qv) || (rp && !rv))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->c.sa_index == ESPTAG_SA_INDEX_NONE)
			continue;
		k[nk] = v[i]->c.sa_index;
		sa_value(d, v[i], &sv[nk]);
		life_value(v[i], &lv[nk]);
		if (qv)
			qv[nk] = seq[i];
		if (rv)
			rv[nk] = rp[i];
		nk++;
	}
	err = esptag_sa_mirror_write_many_life(&m, k, sv, qv, rv, lv, nk);
	if (err)
		log_err("maps: cannot install %zu SAs: %s", nk, strerror(-err));
out:
	free(k);
	free(sv);
	free(qv);
	free(rv);
	free(lv);
	if (err)
		errno = -err;
	return err ? -1 : 0;
}

uint64_t map_seq(struct daemon *d, const struct sa *sa)
{
	uint32_t idx = sa->c.sa_index;

	const struct esptag_sa *v;

	if (!d->bpf.sad || idx >= d->bpf.sad_n)
		return 0;
	v = &d->bpf.sad[idx];
	if (sa->c.dir == ESPTAG_DIR_OUT)
		return __atomic_load_n(&v->seq.next, __ATOMIC_RELAXED);
	return ESPTAG_REPLAY_TOP(__atomic_load_n(&v->replay.top, __ATOMIC_RELAXED));
}

/*
 * esptag_sad through its mapping (the map is BPF_F_MMAPABLE): the data path
 * counts into an SA's lifetime and advances its sequence and replay window
 * with atomics, so esptagd reads them with atomic loads and changes a
 * running SA's hard limits with atomic stores of those two fields alone. A
 * bpf_map_update_elem of the whole value would write back state read a
 * moment earlier and lose what the data path did in between (a sequence
 * number used twice, a hard limit no longer exact).
 */
int life_map_open(struct daemon *d)
{
	uint32_t n;
	struct esptag_sa *p = esptag_sa_mirror_map(d->bpf.map_fd[M_SAD], &n);

	if (!p) {
		log_err("esptag_sad: cannot map it: %s%s", strerror(errno),
			errno == EPROTO ? " (not this build's layout: remove the old pins, esptagd --teardown)" : "");
		return -1;
	}
	d->bpf.sad = p;
	d->bpf.sad_n = n;
	return 0;
}

void life_map_close(struct daemon *d)
{
	esptag_sa_mirror_unmap(d->bpf.sad, d->bpf.sad_n);
	d->bpf.sad = NULL;
	d->bpf.sad_n = 0;
}

bool life_read(struct daemon *d, uint32_t idx, struct esptag_sa_life *out)
{
	struct esptag_sa_life *l;

	memset(out, 0, sizeof(*out));
	if (!d->bpf.sad || idx >= d->bpf.sad_n)
		return false;
	l = &d->bpf.sad[idx].life;
	out->hard_bytes = __atomic_load_n(&l->hard_bytes, __ATOMIC_RELAXED);
	out->hard_packets = __atomic_load_n(&l->hard_packets, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&l->bytes, __ATOMIC_RELAXED);
	out->packets = __atomic_load_n(&l->packets, __ATOMIC_RELAXED);
	out->last_ns = __atomic_load_n(&l->last_ns, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&l->refused, __ATOMIC_RELAXED);
	return true;
}

void life_set_limits(struct daemon *d, uint32_t idx, uint64_t hard_bytes, uint64_t hard_packets)
{
	struct esptag_sa_life *l;

	if (!d->bpf.sad || idx >= d->bpf.sad_n)
		return;
	l = &d->bpf.sad[idx].life;
	__atomic_store_n(&l->hard_bytes, hard_bytes, __ATOMIC_RELEASE);
	__atomic_store_n(&l->hard_packets, hard_packets, __ATOMIC_RELEASE);
}

/* CLOCK_REALTIME seconds of a CLOCK_MONOTONIC instant in the past. */
static uint64_t mono_to_real_s(uint64_t mono_ns)
{
	struct timespec rt;
	uint64_t now = now_ns(), ago = now > mono_ns ? now - mono_ns : 0;
	uint64_t real_ns;

	clock_gettime(CLOCK_REALTIME, &rt);
	real_ns = (uint64_t)rt.tv_sec * 1000000000ull + rt.tv_nsec;
	return (real_ns > ago ? real_ns - ago : 0) / 1000000000ull;
}

void life_fill(struct daemon *d, const struct sa *sa, struct esptag_ctl_sa *out)
{
	struct esptag_sa_life l;

	if (sa->c.sa_index == ESPTAG_SA_INDEX_NONE || !life_read(d, sa->c.sa_index, &l))
		return;
	out->cur_bytes = l.bytes;
	out->cur_packets = l.packets;
	out->use_time = l.last_ns ? mono_to_real_s(l.last_ns) : 0;
}

void sa_reply_item(struct daemon *d, const struct sa *sa, struct esptag_ctl_sa *out)
{
	*out = sa->c;
	explicit_bzero(out->key, sizeof(out->key));
	explicit_bzero(out->salt, sizeof(out->salt));
	out->state = ESPTAG_CTL_SAS_ALIVE | (sa->has_key ? 0 : ESPTAG_CTL_SAS_NOKEY);
	out->seq = map_seq(d, sa);
	life_fill(d, sa, out);
}
