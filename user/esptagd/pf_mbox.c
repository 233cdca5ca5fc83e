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
