// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SA table: SAs (keys included) in one mlocked array left out of core
 * dumps, found by key (family, dir, SPI, dst, VLANs) or by the agent's SA
 * index through two hash chains. Keys are zeroed when an SA goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include "esptagd.h"

int sad_init(struct daemon *d, size_t cap)
{
	d->sa_cap = cap;
	d->sa_bytes = cap * sizeof(struct sa);
	d->sas = mmap(NULL, d->sa_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->sas == MAP_FAILED) {
		d->sas = NULL;
		return -1;
	}
	madvise(d->sas, d->sa_bytes, MADV_DONTDUMP);
	if (mlock(d->sas, d->sa_bytes))
		log_warn("cannot mlock the SA table (%s): keys may be swapped out", strerror(errno));
	d->sa_free = malloc(cap * sizeof(uint32_t));
	d->hsize = 1;
	while (d->hsize < cap)
		d->hsize <<= 1;
	d->hkey = calloc(d->hsize, sizeof(uint32_t));
	d->hidx = calloc(d->hsize, sizeof(uint32_t));
	if (!d->sa_free || !d->hkey || !d->hidx)
		return -1;
	for (size_t i = 0; i < cap; i++)
		d->sa_free[i] = cap - 1 - i;
	d->nfree = cap;
	return 0;
}

void sad_free(struct daemon *d)
{
	if (d->sas) {
		explicit_bzero(d->sas, d->sa_bytes);
		munlock(d->sas, d->sa_bytes);
		munmap(d->sas, d->sa_bytes);
	}
	free(d->sa_free);
	free(d->hkey);
	free(d->hidx);
}

static uint32_t key_hash(uint8_t family, uint8_t dir, uint32_t spi, const uint8_t *daddr,
			 uint8_t nvlans, const uint16_t *vid)
{
	uint32_t h = 2166136261u;
	uint8_t buf[32];

	buf[0] = family;
	buf[1] = dir;
	memcpy(buf + 2, &spi, 4);
	memcpy(buf + 6, daddr, 16);
	buf[22] = nvlans;
	memcpy(buf + 23, vid, 4);
	for (int i = 0; i < 27; i++)
		h = (h ^ buf[i]) * 16777619u;
	return h;
}

static uint32_t sa_hash(const struct esptag_ctl_sa *c)
{
	return key_hash(c->family, c->dir, c->spi, c->daddr, c->nvlans, c->vid);
}

static bool same_key(const struct esptag_ctl_sa *a, const struct esptag_ctl_sa *b)
{
	return a->family == b->family && a->dir == b->dir && a->spi == b->spi &&
	       !memcmp(a->daddr, b->daddr, 16) && a->nvlans == b->nvlans &&
	       !memcmp(a->vid, b->vid, sizeof(a->vid));
}

struct sa *sad_find(struct daemon *d, const struct esptag_ctl_sa *c)
{
	for (uint32_t s = d->hkey[sa_hash(c) & (d->hsize - 1)]; s; s = d->sas[s - 1].hnext)
		if (same_key(&d->sas[s - 1].c, c))
			return &d->sas[s - 1];
	return NULL;
}

struct sa *sad_by_index(struct daemon *d, uint32_t idx)
{
	uint32_t h = (idx * 2654435761u) & (d->hsize - 1);

	for (uint32_t s = d->hidx[h]; s; s = d->sas[s - 1].inext)
		if (d->sas[s - 1].c.sa_index == idx)
			return &d->sas[s - 1];
	return NULL;
}

void link_idx(struct daemon *d, struct sa *sa)
{
	uint32_t h = (sa->c.sa_index * 2654435761u) & (d->hsize - 1);

	sa->inext = d->hidx[h];
	d->hidx[h] = sa - d->sas + 1;
}

static void unlink_chain(struct daemon *d, uint32_t *head, struct sa *sa, bool idx)
{
	uint32_t me = sa - d->sas + 1;

	for (uint32_t *p = head; *p; p = idx ? &d->sas[*p - 1].inext : &d->sas[*p - 1].hnext) {
		if (*p == me) {
			*p = idx ? sa->inext : sa->hnext;
			return;
		}
	}
}

void unlink_idx(struct daemon *d, struct sa *sa)
{
	if (sa->c.sa_index == ESPTAG_SA_INDEX_NONE)
		return;
	unlink_chain(d, &d->hidx[(sa->c.sa_index * 2654435761u) & (d->hsize - 1)], sa, true);
	sa->inext = 0;
}

struct sa *sa_new(struct daemon *d, const struct esptag_ctl_sa *c, bool has_key)
{
	struct sa *sa;
	uint32_t h;

	if (!d->nfree)
		return NULL;
	sa = &d->sas[d->sa_free[--d->nfree]];
	memset(sa, 0, sizeof(*sa));
	sa->c = *c;
	sa->used = true;
	sa->has_key = has_key;
	if (!has_key) {
		explicit_bzero(sa->c.key, sizeof(sa->c.key));
		explicit_bzero(sa->c.salt, sizeof(sa->c.salt));
	}
	h = sa_hash(c) & (d->hsize - 1);
	sa->hnext = d->hkey[h];
	d->hkey[h] = sa - d->sas + 1;
	if (sa->c.sa_index != ESPTAG_SA_INDEX_NONE)
		link_idx(d, sa);
	d->sa_count++;
	d->vlan_sas += sa->c.nvlans > 0;
	return sa;
}

void sa_release(struct daemon *d, struct sa *sa)
{
	unlink_chain(d, &d->hkey[sa_hash(&sa->c) & (d->hsize - 1)], sa, false);
	unlink_idx(d, sa);
	d->vlan_sas -= sa->c.nvlans > 0;
	explicit_bzero(sa, sizeof(*sa));
	d->sa_free[d->nfree++] = sa - d->sas;
	d->sa_count--;
}
