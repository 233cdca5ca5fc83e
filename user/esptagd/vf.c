// SPDX-License-Identifier: GPL-2.0-only
/*
 * VF mode (esptagd --vf --mailbox PATH): the daemon of a VM's VF. It loads
 * and attaches the VM's own Tx/Rx programs and maps like any esptagd, but it
 * has no config channel of its own: every config request goes to the PF
 * through the mailbox (ctl_mbox.h), which forwards it to the agent in the
 * VF's SAD domain and answers with the agent's reply. The SA database, maps
 * and control socket work as on a PF.
 *
 * On start the VF asks the PF for its resources (RESET, the talk's
 * re-initialisation request): the PF removes whatever SAs a previous life of
 * this VF left in the agent before it answers, so the VF starts clean.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "esptagd.h"
#include "ctl_mbox.h"

/* The PF answers after the agent did (its own retries take up to ~3 s). */
#define VF_TIMEOUT_MS	4000
#define VF_RESET_MS	20000

/* The mailbox transport: a config request goes to the PF as a CFG message. */
static void vf_mbox_send(struct chan *c, const struct txn *t)
{
	uint8_t m[ESPTAG_MBOX_MAX];
	size_t ml = esptag_mbox_build(m, sizeof(m), ESPTAG_MBOX_CFG, false, t->msg_id, 0,
				      t->frame + ESPTAG_ETH_HLEN, t->flen - ESPTAG_ETH_HLEN);

	if (send(c->fd, m, ml, MSG_NOSIGNAL) < 0)
		log_debug("mailbox: send: %s", strerror(errno));
	explicit_bzero(m, ml);
}

/* VF mode: one mailbox message; a CFG reply is returned as a frame (our MAC
 * as destination, as the agent would send it). 0 = not a config reply
 * (consumed), -1 = nothing more (or the PF went away: c->hup). */
static ssize_t vf_mbox_recv(struct chan *c, uint8_t *buf, size_t cap)
{
	uint8_t m[ESPTAG_MBOX_MAX + 1];
	struct esptag_mbox_view v;
	char err[160];
	ssize_t n = recv(c->fd, m, sizeof(m), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		c->hup = true;
		return -1;
	}
	if (n < 0)
		return -1;
	if (esptag_mbox_decode(m, n, &v, err, sizeof(err)) || !(v.hdr.flags & ESPTAG_MBOX_F_REPLY) ||
	    v.hdr.type != ESPTAG_MBOX_CFG || ESPTAG_ETH_HLEN + v.hdr.len > cap) {
		c->bad++;
		log_warn("mailbox: message from the PF ignored: %s",
			 v.hdr.type == ESPTAG_MBOX_CFG ? err : "not a config reply");
		return 0;
	}
	memcpy(buf, c->mac, 6);
	memcpy(buf + 6, c->agent_mac, 6);
	buf[12] = c->eth_p >> 8;
	buf[13] = c->eth_p & 0xff;
	memcpy(buf + ESPTAG_ETH_HLEN, v.payload, v.hdr.len);
	return ESPTAG_ETH_HLEN + v.hdr.len;
}

static void vf_mbox_drain(struct chan *c)
{
	uint8_t f[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD];

	while (vf_mbox_recv(c, f, sizeof(f)) >= 0)
		;
}

static const struct chan_ops mbox_ops = {
	.name = "mailbox",
	.send = vf_mbox_send,
	.recv = vf_mbox_recv,
	.drain = vf_mbox_drain,
};

int vf_open(struct daemon *d, const char *mailbox)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct chan *c = &d->chan;
	struct ifreq ifr = {};
	int fd;

	if (strlen(mailbox) >= sizeof(sun.sun_path)) {
		log_err("mailbox path too long: %s", mailbox);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->dev);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		log_err("%s: no MAC address: %s", d->dev, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	memcpy(c->mac, ifr.ifr_hwaddr.sa_data, 6);
	memcpy(c->agent_mac, (const uint8_t[6])ESPTAG_AGENT_MAC_INIT, 6);
	strcpy(sun.sun_path, mailbox);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun))) {
		log_err("mailbox %s: %s (is the PF's esptagd running and the VF added with esptag vf add?)",
			mailbox, strerror(errno));
		return -1;
	}
	c->ops = &mbox_ops;
	if (!c->eth_p)
		c->eth_p = ESPTAG_ETH_P_CFG;
	if (getrandom(&c->next_id, sizeof(c->next_id), 0) != sizeof(c->next_id))
		c->next_id = (uint32_t)now_ns();
	if (!c->timeout_ms)
		c->timeout_ms = VF_TIMEOUT_MS;
	if (!c->tries)
		c->tries = 1;
	if (!c->window)
		c->window = 64;
	return 0;
}

/* The re-initialisation request: returns once the PF confirmed. */
int vf_reset(struct daemon *d)
{
	struct chan *c = &d->chan;
	uint8_t m[ESPTAG_MBOX_MAX + 1];
	struct esptag_mbox_view v;
	struct esptag_mbox_reset r;
	uint32_t seq;
	uint64_t end = now_ns() + VF_RESET_MS * 1000000ull;
	char err[160];
	size_t ml;

	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint32_t)now_ns();
	ml = esptag_mbox_build(m, sizeof(m), ESPTAG_MBOX_RESET, false, seq, 0, NULL, 0);
	if (send(c->fd, m, ml, MSG_NOSIGNAL) != (ssize_t)ml) {
		log_err("mailbox: cannot send the reset request: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= end) {
			log_err("mailbox: the PF did not answer the reset request");
			return -1;
		}
		if (poll(&p, 1, (end - now) / 1000000 + 1) <= 0)
			continue;
		n = recv(c->fd, m, sizeof(m), MSG_DONTWAIT);
		if (n == 0) {
			log_err("mailbox: the PF closed the mailbox");
			return -1;
		}
		if (n < 0)
			continue;
		if (esptag_mbox_decode(m, n, &v, err, sizeof(err))) {
			log_warn("mailbox: bad message from the PF: %s", err);
			continue;
		}
		if (v.hdr.type != ESPTAG_MBOX_RESET || !(v.hdr.flags & ESPTAG_MBOX_F_REPLY) ||
		    v.hdr.seq != seq)
			continue;	/* a late config reply of a previous life */
		break;
	}
	if (v.hdr.status) {
		log_err("mailbox: the PF could not clean this VF's SAs up (%s)",
			esptag_ctl_status_str(v.hdr.status));
		return -1;
	}
	memcpy(&r, v.payload, sizeof(r));
	c->port = r.port;
	d->vf_num = r.vf;
	d->vf_limit = r.limit;
	/* The domain the PF assigned: a wrapped SA names it itself (the PF
	 * cannot rewrite a wrapped record). */
	memcpy(d->vf_mac, r.mac, 6);
	d->vf_nvlans = r.nvlans <= 2 ? r.nvlans : 0;
	d->vf_vid[0] = r.vid[0];
	d->vf_vid[1] = r.vid[1];
	log_info("VF %u (agent port %u, %s, SA limit %u): the PF removed %u SAs of a previous life",
		 r.vf, r.port, r.trusted ? "trusted" : "untrusted: the PF will refuse SAs", r.limit,
		 r.removed);
	if (memcmp(r.mac, c->mac, 6))
		log_warn("%s's MAC differs from the one the PF assigned to VF %u: its frames will be dropped at the switch port",
			 d->dev, r.vf);
	return 0;
}
