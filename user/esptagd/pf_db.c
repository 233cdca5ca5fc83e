// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode, bottom layer: the database of each VF's SAs with their domain
 * entries in esptag_sad, and each VF's reply cache (which answers a
 * retransmitted request without running it again).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl_mbox.h"
#include "esptag_port_bpf.skel.h"
#include "pf.h"

/*
 * The PF's esptag_sad also holds a domain entry for every VF SA: index ->
 * local_mac/VLANs/ifindex of the VF, flags without ALIVE so the PF's own
 * data path never uses it. esptag_port_out reads it to let an RX tag
 * reach a VF only for an SA of that VF's domain.
 */
void map_domain(struct daemon *d, const struct pf_vf *v, const struct esptag_rec_sa *r)
{
	struct esptag_sa m = {
		.spi = r->spi, .dir = r->dir, .family = r->family, .mode = r->mode,
		.ifindex = v->ifindex, .nvlans = r->nvlans, .icv_len = r->icv_len,
	};
	uint32_t idx = ntohl(r->sa_index);

	memcpy(m.local_mac, v->c.mac, 6);
	memcpy(m.vlan, r->vlan, sizeof(m.vlan));
	memcpy(m.saddr, r->saddr, 16);
	memcpy(m.daddr, r->daddr, 16);
	if (bpf_map_update_elem(d->bpf.map_fd[M_SAD], &idx, &m, BPF_ANY))
		log_err("pf: VF %u: esptag_sad domain entry %u: %s", v->c.vf, idx, strerror(errno));
}

/* esptag_sad is an array: an empty (all-zero) slot is no SA. */
static void map_undomain(struct daemon *d, uint32_t idx)
{
	struct esptag_sa zero = {};

	if (bpf_map_update_elem(d->bpf.map_fd[M_SAD], &idx, &zero, BPF_ANY) && errno != E2BIG)
		log_err("pf: esptag_sad domain entry %u: cannot clear: %s", idx, strerror(errno));
}

/* ---- the VF's SAs -------------------------------------------------------------- */

void db_clear(struct daemon *d, struct pf_vf *v)
{
	for (size_t i = 0; i < v->nsa; i++)
		map_undomain(d, v->sas[i].idx);
	v->nsa = 0;
}

int db_add(struct pf_vf *v, const struct esptag_rec_sa *r)
{
	struct vf_sa s = { .idx = ntohl(r->sa_index), .spi = ntohl(r->spi), .dir = r->dir,
			   .family = r->family };

	memcpy(s.daddr, r->daddr, 16);
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == s.idx) {	/* re-added after an agent restart */
			v->sas[i] = s;
			return 0;
		}
	if (v->nsa == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 64;
		struct vf_sa *n = realloc(v->sas, nc * sizeof(*n));

		if (!n)
			return -1;
		v->sas = n;
		v->cap = nc;
	}
	v->sas[v->nsa++] = s;
	return 0;
}

void db_del(struct daemon *d, struct pf_vf *v, uint32_t idx)
{
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == idx) {
			map_undomain(d, idx);
			v->sas[i] = v->sas[--v->nsa];
			return;
		}
}

/*
 * A request's identity: SHA-256 over its header (F_RETRY masked: a
 * retransmission sets it) and its declared records. -1 when it cannot be
 * made: the request is then never answered from the cache.
 */
int req_digest(const uint8_t *pl, size_t plen, uint8_t out[32])
{
	struct esptag_cfg_hdr h;
	size_t n = plen;
	unsigned int len = 32;
	EVP_MD_CTX *c;
	int ok;

	if (plen < sizeof(h))
		return -1;
	memcpy(&h, pl, sizeof(h));
	if (sizeof(h) + ntohs(h.length) <= plen)
		n = sizeof(h) + ntohs(h.length);
	h.flags &= ~ESPTAG_CFG_F_RETRY;
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, &h, sizeof(h)) &&
	     EVP_DigestUpdate(c, pl + sizeof(h), n - sizeof(h)) && EVP_DigestFinal_ex(c, out, &len);
	EVP_MD_CTX_free(c);
	return ok && len == 32 ? 0 : -1;
}

struct vf_cache_ent *vf_cache_find(struct pf_vf *v, uint32_t msg_id, uint8_t opcode,
				   const uint8_t *digest)
{
	for (int i = 0; v->cache && i < VF_CACHE_SIZE; i++) {
		struct vf_cache_ent *e = &v->cache[i];

		if (e->used && e->msg_id == msg_id && e->opcode == opcode &&
		    !CRYPTO_memcmp(e->digest, digest, 32))
			return e;
	}
	return NULL;
}

/* Remember the answer to a VF request (reply NULL: the agent did not
 * answer pf_id; a retransmission by the VF is then sent under pf_id again,
 * byte for byte, so that the agent's own cache answers it if it executed
 * the first). e: the entry of that request already, or NULL. */
void vf_cache_put(struct pf_vf *v, struct vf_cache_ent *e, uint32_t msg_id, uint8_t opcode,
		  const uint8_t *digest, uint32_t pf_id, const uint8_t *reply, size_t len)
{
	if (!v->cache || len > sizeof(e->reply))
		return;
	if (!e) {
		e = &v->cache[v->cache_next];
		v->cache_next = (v->cache_next + 1) % VF_CACHE_SIZE;
	}
	e->used = true;
	e->answered = reply != NULL;
	e->pf_id = pf_id;
	e->msg_id = msg_id;
	e->opcode = opcode;
	memcpy(e->digest, digest, 32);
	if (reply)
		memcpy(e->reply, reply, len);
	e->len = reply ? len : 0;
}

void vf_cache_clear(struct pf_vf *v)
{
	if (v->cache)
		memset(v->cache, 0, VF_CACHE_SIZE * sizeof(*v->cache));
	v->cache_next = 0;
}

bool db_has(const struct pf_vf *v, uint32_t idx)
{
	for (size_t i = 0; i < v->nsa; i++)
		if (v->sas[i].idx == idx)
			return true;
	return false;
}
