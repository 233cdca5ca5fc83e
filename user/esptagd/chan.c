// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent channel: config requests to the agent and their replies, over a
 * transport (struct chan_ops: the AF_PACKET socket of chan_pkt.c, or a VF's
 * mailbox to its PF, vf.c). Replies are matched by (msg_id, opcode) and must
 * carry F_REPLY. A request that is not answered in time is retransmitted
 * byte for byte (the agent answers duplicates from its reply cache), timeout
 * doubling, a bounded number of tries. Each request names its agent port.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "esptagd.h"
#include "secmem.h"

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

uint32_t chan_new_id(struct chan *c)
{
	uint32_t id = c->next_id++;

	return id ? id : c->next_id++;
}

void chan_begin(struct chan *c, struct txn *t, struct esptag_cfg_builder *b, uint8_t opcode,
		uint16_t port)
{
	uint16_t et = htons(c->eth_p);

	t->msg_id = chan_new_id(c);
	t->opcode = opcode;
	t->state = TXN_NEW;
	t->sent = 0;
	t->rlen = 0;
	memcpy(t->frame, c->agent_mac, 6);
	memcpy(t->frame + 6, c->mac, 6);
	memcpy(t->frame + 12, &et, 2);
	esptag_cfg_begin(b, t->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, opcode, 0, 0,
			 t->msg_id, port);
	/* HELLO is version 1 always; the rest speaks what HELLO found. */
	if (opcode != ESPTAG_OP_HELLO && c->version > ESPTAG_PROTO_VERSION)
		esptag_cfg_set_version(b, c->version);
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
	c->ops->send(c, t);
	t->sent++;
	t->state = TXN_SENT;
	t->deadline = now + (uint64_t)t->tmo_ms * 1000000ull;
}

/* Read every queued frame; attach replies to their transaction. */
static void chan_recv(struct chan *c, struct txn *t, size_t n)
{
	uint8_t buf[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD + 64];
	ssize_t len;

	for (;;) {
		struct esptag_cfg_hdr h;
		size_t plen;

		len = c->ops->recv(c, buf, sizeof(buf));
		if (len < 0)
			return;
		if (len == 0)
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
	return chan_run_prep(c, t, n, tries, NULL, NULL);
}

int chan_run_prep(struct chan *c, struct txn *t, size_t n, int tries,
		  int (*prep)(struct chan *c, struct txn *t, void *arg), void *arg)
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
			if (prep && prep(c, &t[next], arg)) {
				/* Nothing more goes out. */
				for (; next < n; next++, done++)
					t[next].state = TXN_TIMEOUT;
				break;
			}
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

void chan_drain(struct chan *c)
{
	c->ops->drain(c);
}
