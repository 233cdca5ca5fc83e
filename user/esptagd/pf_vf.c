// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: a VF's life events: a message on its mailbox (a config request,
 * or RESET), its switch port vanishing (netlink: a destroyed VM), and
 * forgetting it.
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

void vf_forget(struct daemon *d, struct pf_vf *v)
{
	struct pf *p = d->pf;
	uint32_t key = v->ifindex;

	mbox_close_conn(p, v);
	if (v->lfd >= 0) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, v->lfd, NULL);
		close(v->lfd);
		unlink(v->path);
	}
	bpf_map_delete_elem(d->bpf.map_fd[M_PORTS], &key);
	db_clear(d, v);
	free(v->sas);
	free(v->cache);
	memset(v, 0, sizeof(*v));
	v->lfd = v->cfd = -1;
}

void port_gone(struct daemon *d, int ifindex)
{
	struct pf *p = d->pf;

	for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
		struct pf_vf *v = &p->vf[i];

		if (!v->used || v->ifindex != ifindex)
			continue;
		log_notice("pf: VF %u: switch port %s vanished (VM destroyed): abandoned-SA cleanup",
			   v->c.vf, v->c.ifname);
		if (vf_cleanup(d, v, "port vanished") < 0)
			log_err("pf: VF %u: cleanup not confirmed; forgetting the VF anyway, the PF's audit of port %u is needed",
				v->c.vf, v->c.vf + 1);
		vf_local(d, v, false);
		vf_forget(d, v);
	}
}

void nl_read(struct daemon *d)
{
	uint8_t buf[16384];
	ssize_t n;

	while ((n = recv(d->pf->nl, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);

			if (h->nlmsg_type == RTM_DELLINK &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
				port_gone(d, ifi->ifi_index);
		}
	}
	if (n < 0 && errno == ENOBUFS) {
		/* Lost events: check every VF port still exists. */
		for (int i = 0; i <= ESPTAG_CTL_VF_MAX; i++) {
			char name[IF_NAMESIZE];

			if (d->pf->vf[i].used && !if_indextoname(d->pf->vf[i].ifindex, name))
				port_gone(d, d->pf->vf[i].ifindex);
		}
	}
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
