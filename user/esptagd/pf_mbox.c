// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: the VFs' mailboxes (listen, accept, read, send) and each VF's
 * reply cache, which answers a retransmitted request without running it again.
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
#include "esptagd.h"
#include "ctl_mbox.h"
#include "esptag_port_bpf.skel.h"

#include "pf.h"

/* ---- mailbox ---------------------------------------------------------------------- */

void mbox_send(struct pf_vf *v, int type, uint32_t seq, int status, const void *pl,
		      uint32_t plen)
{
	uint8_t buf[ESPTAG_MBOX_MAX];
	size_t n = esptag_mbox_build(buf, sizeof(buf), type, true, seq, status, pl, plen);

	if (v->cfd >= 0 && n && send(v->cfd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
		log_warn("pf: VF %u: mailbox reply lost: %s", v->c.vf, strerror(errno));
}

/* A config reply made by the PF itself (refusals). */
void cfg_refuse(struct pf_vf *v, uint32_t seq, const struct esptag_cfg_hdr *req,
		       uint8_t status, uint16_t err_index, const char *why)
{
	struct esptag_cfg_hdr h = *req;

	h.flags = (h.flags & ~ESPTAG_CFG_F_RETRY) | ESPTAG_CFG_F_REPLY;
	h.status = status;
	h.count = 0;
	h.length = 0;
	h.err_index = htons(err_index);
	h.port = htons(v->c.vf + 1);
	if (v->refused < 10 || v->refused % 1000 == 0)
		log_notice("pf: VF %u: %s refused (%u so far): %s", v->c.vf,
			   esptag_opcode_str(req->opcode), v->refused + 1, why);
	v->refused++;
	mbox_send(v, ESPTAG_MBOX_CFG, seq, 0, &h, sizeof(h));
}

/* ---- the VF's reply cache ------------------------------------------------------------ */

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

void vf_reset_reply(struct pf_vf *v, uint32_t seq, long removed)
{
	struct esptag_mbox_reset r = {
		.vf = v->c.vf,
		.port = v->c.vf + 1,
		.nvlans = v->c.nvlans,
		.trusted = !!(v->c.flags & ESPTAG_CTL_VF_TRUSTED),
		.limit = v->c.limit,
		.removed = removed < 0 ? 0 : removed,
	};

	memcpy(r.mac, v->c.mac, 6);
	r.vid[0] = v->c.vid[0];
	r.vid[1] = v->c.vid[1];
	if (removed < 0)
		mbox_send(v, ESPTAG_MBOX_RESET, seq, ESPTAG_CTL_E_TIMEOUT, NULL, 0);
	else
		mbox_send(v, ESPTAG_MBOX_RESET, seq, 0, &r, sizeof(r));
}

void mbox_close_conn(struct pf *p, struct pf_vf *v)
{
	if (v->cfd < 0)
		return;
	epoll_ctl(p->ep, EPOLL_CTL_DEL, v->cfd, NULL);
	close(v->cfd);
	v->cfd = -1;
}

void mbox_read(struct daemon *d, struct pf_vf *v)
{
	uint8_t buf[ESPTAG_MBOX_MAX + 1];
	struct esptag_mbox_view mv;
	char err[160];
	ssize_t n = recv(v->cfd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		log_info("pf: VF %u: mailbox closed by the VF", v->c.vf);
		mbox_close_conn(d->pf, v);
		return;
	}
	if (n < 0)
		return;
	if (esptag_mbox_decode(buf, n, &mv, err, sizeof(err)) ||
	    (mv.hdr.flags & ESPTAG_MBOX_F_REPLY)) {
		/* A VM controls these bytes: log the first few, then 1 in 1000. */
		if (v->bad < 10 || v->bad % 1000 == 0)
			log_warn("pf: VF %u: mailbox message rejected (%u so far): %s", v->c.vf,
				 v->bad + 1,
				 mv.hdr.flags & ESPTAG_MBOX_F_REPLY ? "a reply is not a request" : err);
		v->bad++;
		explicit_bzero(buf, sizeof(buf));
		return;
	}
	if (mv.hdr.type == ESPTAG_MBOX_CFG)
		vf_cfg(d, v, mv.hdr.seq, mv.payload, mv.hdr.len);
	else
		vf_reset_reply(v, mv.hdr.seq, vf_cleanup(d, v, "reset by the VF"));
	explicit_bzero(buf, sizeof(buf));
}

void mbox_accept(struct daemon *d, struct pf_vf *v)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warn("pf: VF %u: mailbox: refused uid %u", v->c.vf, cred.uid);
		close(fd);
		return;
	}
	/* One VF driver per mailbox: a new one replaces the old (VF restart). */
	mbox_close_conn(d->pf, v);
	v->cfd = fd;
	ev.data.fd = fd;
	epoll_ctl(d->pf->ep, EPOLL_CTL_ADD, fd, &ev);
	log_info("pf: VF %u: a VF driver connected to %s (pid %d)", v->c.vf, v->path, cred.pid);
}

int mbox_listen(struct pf *p, struct pf_vf *v)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	mode_t old;

	if (snprintf(v->path, sizeof(v->path), "%s/vf%u.mbox", p->mbox_dir, v->c.vf) >=
	    (int)sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, v->path);
	unlink(v->path);
	v->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->lfd < 0)
		return -1;
	old = umask(0177);
	if (bind(v->lfd, (struct sockaddr *)&sun, sizeof(sun)) || listen(v->lfd, 4)) {
		umask(old);
		log_err("pf: mailbox %s: %s", v->path, strerror(errno));
		close(v->lfd);
		v->lfd = -1;
		return -1;
	}
	umask(old);
	chmod(v->path, 0600);
	ev.data.fd = v->lfd;
	epoll_ctl(p->ep, EPOLL_CTL_ADD, v->lfd, &ev);
	return 0;
}
