// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's SAs in the per-SA maps: what an SA looks like in esptag_sad,
 * written and cleared through the SA mirror (user/lib/sa_mirror.h), which
 * keeps the order (state before the SA, the SA before its state on removal).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "esptagd.h"
#include "sa_mirror.h"

static struct esptag_sa_maps sa_maps(const struct daemon *d)
{
	return (struct esptag_sa_maps){
		.sad = d->bpf.map_fd[M_SAD], .seq = d->bpf.map_fd[M_SEQ],
		.replay = d->bpf.map_fd[M_REPLAY], .sa_stats = d->bpf.map_fd[M_SA_STATS],
		.ncpus = d->bpf.ncpus > 0 ? d->bpf.ncpus : 1,
	};
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
	struct esptag_sa v;
	int err;

	sa_value(d, sa, &v);
	err = esptag_sa_mirror_write(&m, sa->c.sa_index, &v, seq, rp);
	if (err) {
		log_err("maps: cannot install SA index %u: %s", sa->c.sa_index, strerror(-err));
		errno = -err;
		return -1;
	}
	return 0;
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
	int err = -ENOMEM;

	if (!k || !sv || (seq && !qv) || (rp && !rv))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->c.sa_index == ESPTAG_SA_INDEX_NONE)
			continue;
		k[nk] = v[i]->c.sa_index;
		sa_value(d, v[i], &sv[nk]);
		if (qv)
			qv[nk] = seq[i];
		if (rv)
			rv[nk] = rp[i];
		nk++;
	}
	err = esptag_sa_mirror_write_many(&m, k, sv, qv, rv, nk);
	if (err)
		log_err("maps: cannot install %zu SAs: %s", nk, strerror(-err));
out:
	free(k);
	free(sv);
	free(qv);
	free(rv);
	if (err)
		errno = -err;
	return err ? -1 : 0;
}

uint64_t map_seq(struct daemon *d, const struct sa *sa)
{
	uint32_t idx = sa->c.sa_index;

	if (sa->c.dir == ESPTAG_DIR_OUT) {
		struct esptag_seq s;

		if (!bpf_map_lookup_elem(d->bpf.map_fd[M_SEQ], &idx, &s))
			return s.next;
	} else {
		struct esptag_replay r;

		if (!bpf_map_lookup_elem(d->bpf.map_fd[M_REPLAY], &idx, &r))
			return r.top;
	}
	return 0;
}

