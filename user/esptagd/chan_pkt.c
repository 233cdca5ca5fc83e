// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet transport of the agent channel: config frames (EtherType
 * 0x88B5) on an AF_PACKET socket bound to the host port, sent to the
 * agent's well-known MAC.
 */
#include <errno.h>
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

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static void pkt_send(struct chan *c, const struct txn *t)
{
	if (send(c->fd, t->frame, t->flen, 0) < 0 && errno != EAGAIN && errno != ENOBUFS)
		log_debug("agent channel: send: %s", strerror(errno));
}

/* One frame: its length, 0 for one to skip (our own, looped), -1 none. */
static ssize_t pkt_recv(struct chan *c, uint8_t *buf, size_t cap)
{
	struct sockaddr_ll sll;
	socklen_t sl = sizeof(sll);
	ssize_t len = recvfrom(c->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&sll, &sl);

	if (len < 0)
		return -1;
	if (sll.sll_pkttype == PACKET_OUTGOING)
		return 0;
	return len;
}

static void pkt_drain(struct chan *c)
{
	uint8_t buf[2048];

	while (recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static const struct chan_ops pkt_ops = {
	.name = "packet",
	.send = pkt_send,
	.recv = pkt_recv,
	.drain = pkt_drain,
};

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
	c->ops = &pkt_ops;
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

