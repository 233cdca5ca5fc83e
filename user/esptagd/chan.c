// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent channel: config frames (EtherType 0x88B5) on an AF_PACKET socket
 * bound to the host port. Requests go to the agent's well-known MAC; replies
 * are matched by (msg_id, opcode) and must carry F_REPLY. A request that is
 * not answered in time is retransmitted byte for byte (the agent answers
 * duplicates from its reply cache), timeout doubling, a bounded number of
 * tries.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include "esptagd.h"
#include "ctl_mbox.h"
#include "secmem.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static const uint8_t agent_mac[6] = ESPTAG_AGENT_MAC_INIT;

int chan_open(struct chan *c, const char *dev)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr = {};
	int one = 1, rcvbuf = 4 << 20;

	if (!c->eth_p)
		c->eth_p = ESPTAG_ETH_P_CFG;
	c->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(c->eth_p));
	if (c->fd < 0) {
		log_err("agent channel: AF_PACKET socket: %s (needs CAP_NET_RAW)", strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(c->fd, SIOCGIFHWADDR, &ifr)) {
		log_err("agent channel: %s: no MAC address: %s", dev, strerror(errno));
		goto fail;
	}
	memcpy(c->mac, ifr.ifr_hwaddr.sa_data, 6);
	memcpy(c->agent_mac, agent_mac, 6);
	sll.sll_protocol = htons(c->eth_p);
	sll.sll_ifindex = c->ifindex;
	if (bind(c->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		log_err("agent channel: bind to %s: %s", dev, strerror(errno));
		goto fail;
	}
	setsockopt(c->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (getrandom(&c->next_id, sizeof(c->next_id), 0) != sizeof(c->next_id))
		c->next_id = (uint32_t)now_ns();
	if (!c->timeout_ms)
		c->timeout_ms = ESPTAG_CFG_TIMEOUT_MS;
	if (!c->tries)
		c->tries = ESPTAG_CFG_TRIES;
	if (!c->window)
		c->window = 64;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

void chan_close(struct chan *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	esptag_secmem_free(c->ktx, c->ktx_n * sizeof(*c->ktx));
	c->ktx = NULL;
	c->ktx_n = 0;
}

struct txn *chan_key_txns(struct chan *c, size_t n)
{
	if (!n)
		n = 1;
	if (n > c->ktx_n) {
		size_t want = n < 4 ? 4 : n;
		bool locked;
		struct txn *t = esptag_secmem_alloc(want * sizeof(*t), &locked);

		if (!t)
			return NULL;
		if (!locked)
			log_warn("cannot lock ADD_SA frames in memory (%s): keys may be swapped out",
				 strerror(errno));
		esptag_secmem_free(c->ktx, c->ktx_n * sizeof(*c->ktx));
		c->ktx = t;
		c->ktx_n = want;
	}
	memset(c->ktx, 0, n * sizeof(*c->ktx));
	return c->ktx;
}

void chan_key_txns_wipe(struct chan *c, size_t n)
{
	if (c->ktx)
		explicit_bzero(c->ktx, (n < c->ktx_n ? n : c->ktx_n) * sizeof(*c->ktx));
}

void chan_begin(struct chan *c, struct txn *t, struct esptag_cfg_builder *b, uint8_t opcode)
{
	uint16_t et = htons(c->eth_p);

	t->msg_id = c->next_id++;
	if (!t->msg_id)
		t->msg_id = c->next_id++;
	t->opcode = opcode;
	t->state = TXN_NEW;
	t->sent = 0;
	t->rlen = 0;
	memcpy(t->frame, c->agent_mac, 6);
	memcpy(t->frame + 6, c->mac, 6);
	memcpy(t->frame + 12, &et, 2);
	esptag_cfg_begin(b, t->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, opcode, 0, 0,
			 t->msg_id, c->port);
}

int chan_finish(struct chan *c, struct txn *t, struct esptag_cfg_builder *b)
{
	size_t len = esptag_cfg_end(b, ESPTAG_ERR_INDEX_NONE);

	if (!len || b->overflow)
		return -1;
	t->flen = ESPTAG_ETH_HLEN + len;
	if (t->flen < 60) {
		memset(t->frame + t->flen, 0, 60 - t->flen);
		t->flen = 60;
	}
	return 0;
}

static void txn_send(struct chan *c, struct txn *t, uint64_t now)
{
	if (t->sent) {
		/* F_RETRY is informational; the agent matches on msg_id. */
		t->frame[ESPTAG_ETH_HLEN + 2] |= ESPTAG_CFG_F_RETRY;
		c->retries++;
		t->tmo_ms *= 2;
	} else {
		t->tmo_ms = c->timeout_ms;
	}
	if (c->mbox) {
		/* VF mode: the config payload goes to the PF through the mailbox. */
		uint8_t m[ESPTAG_MBOX_MAX];
		size_t ml = esptag_mbox_build(m, sizeof(m), ESPTAG_MBOX_CFG, false, t->msg_id, 0,
					      t->frame + ESPTAG_ETH_HLEN,
					      t->flen - ESPTAG_ETH_HLEN);

		if (send(c->fd, m, ml, MSG_NOSIGNAL) < 0)
			log_debug("mailbox: send: %s", strerror(errno));
		explicit_bzero(m, ml);
	} else if (send(c->fd, t->frame, t->flen, 0) < 0 && errno != EAGAIN && errno != ENOBUFS)
		log_debug("agent channel: send: %s", strerror(errno));
	t->sent++;
	t->state = TXN_SENT;
	t->deadline = now + (uint64_t)t->tmo_ms * 1000000ull;
}

/* Read every queued frame; attach replies to their transaction. */
static void chan_recv(struct chan *c, struct txn *t, size_t n)
{
	uint8_t buf[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD + 64];
	struct sockaddr_ll sll;
	socklen_t sl;
	ssize_t len;

	for (;;) {
		struct esptag_cfg_hdr h;
		size_t plen;

		sl = sizeof(sll);
		if (c->mbox) {
			len = mbox_recv_cfg(c, buf, sizeof(buf));
			if (len == 0)
				continue;
			sll.sll_pkttype = PACKET_HOST;
		} else {
			len = recvfrom(c->fd, buf, sizeof(buf), MSG_DONTWAIT,
				       (struct sockaddr *)&sll, &sl);
		}
		if (len < 0)
			return;
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if ((size_t)len < ESPTAG_ETH_HLEN + sizeof(h)) {
			c->bad++;
			continue;
		}
		memcpy(&h, buf + ESPTAG_ETH_HLEN, sizeof(h));
		if (!(h.flags & ESPTAG_CFG_F_REPLY) || memcmp(buf, c->mac, 6))
			continue; /* a request (ours looped back, or someone else's) */
		plen = len - ESPTAG_ETH_HLEN;
		if (plen > sizeof(t->reply)) {
			/* Longer than any payload the protocol allows: not ours. */
			log_debug("agent channel: %zu-byte %s reply (msg_id %u) ignored: over %zu bytes",
				  plen, esptag_opcode_str(h.opcode), ntohl(h.msg_id),
				  sizeof(t->reply));
			c->bad++;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			struct txn *x = &t[i];

			if (x->state != TXN_SENT || x->msg_id != ntohl(h.msg_id) ||
			    x->opcode != h.opcode)
				continue;
			memcpy(x->reply, buf + ESPTAG_ETH_HLEN, plen);
			x->rlen = plen;
			if (esptag_cfg_decode(x->reply, plen, &x->v) && !h.status) {
				/* An OK reply we cannot read: wait for a retry. */
				log_warn("agent channel: malformed %s reply (msg_id %u) ignored",
					 esptag_opcode_str(h.opcode), x->msg_id);
				c->bad++;
				break;
			}
			/* Error replies are taken even if the record area is odd. */
			x->v.status = h.status;
			x->v.err_index = ntohs(h.err_index);
			x->v.flags = h.flags;
			x->state = TXN_DONE;
			c->replies++;
			c->last_reply_ns = now_ns();
			break;
		}
	}
}

int chan_run(struct chan *c, struct txn *t, size_t n, int tries)
{
	size_t next = 0, active = 0, done = 0;
	int timeouts = 0;

	if (!tries)
		tries = c->tries;
	for (size_t i = 0; i < n; i++)
		t[i].max_tries = tries;
	while (done < n) {
		uint64_t now = now_ns(), soonest = UINT64_MAX;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int ms;

		while (active < (size_t)c->window && next < n) {
			txn_send(c, &t[next++], now);
			active++;
		}
		for (size_t i = 0; i < next; i++) {
			if (t[i].state != TXN_SENT)
				continue;
			if (t[i].deadline <= now) {
				if (t[i].sent >= t[i].max_tries) {
					t[i].state = TXN_TIMEOUT;
					c->timeouts++;
					timeouts++;
					active--;
					done++;
					continue;
				}
				txn_send(c, &t[i], now);
			}
			if (t[i].deadline < soonest)
				soonest = t[i].deadline;
		}
		if (done == n)
			break;
		ms = soonest == UINT64_MAX ? 0 : (int)((soonest - now + 999999) / 1000000);
		if (poll(&pfd, 1, ms) > 0) {
			size_t before = 0, after = 0;

			for (size_t i = 0; i < next; i++)
				before += t[i].state == TXN_DONE;
			chan_recv(c, t, next);
			for (size_t i = 0; i < next; i++)
				after += t[i].state == TXN_DONE;
			done += after - before;
			active -= after - before;
		}
	}
	return timeouts;
}

/* VF mode: one mailbox message; a CFG reply is returned as a frame (our MAC
 * as destination, as the agent would send it). 0 = not a config reply
 * (consumed), -1 = nothing more (or the PF went away: c->hup). */
ssize_t mbox_recv_cfg(struct chan *c, uint8_t *buf, size_t cap)
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

void chan_drain(struct chan *c)
{
	uint8_t buf[2048];

	if (c->mbox) {
		uint8_t f[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD];

		while (mbox_recv_cfg(c, f, sizeof(f)) >= 0)
			;
		return;
	}
	while (recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}
