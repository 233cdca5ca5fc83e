// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet I/O of esptag-agent: one AF_PACKET socket per interface with
 * PACKET_VNET_HDR (GSO super-packets arrive whole, with gso_size and the
 * partial-checksum offsets), a TPACKET_V2 mmap'ed receive ring (the kernel
 * writes the virtio_net_hdr right before each frame in the ring, see
 * tpacket_rcv()), and sendmmsg() batches for transmission (a TX ring would
 * need one fixed-size frame slot per 64 KB super-packet).
 *
 * Why V2 and not V3: a V3 ring hands a block to user space only when it is
 * full or its retire timer (>= 1 ms) fires, so every frame and every config
 * request would wait up to a timer tick in each agent (measured: 1 ms per
 * config round trip). V2 hands over each frame at once; its slots are
 * fixed-size, so each slot holds a 64 KB super-packet.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "agent.h"
#include "io.h"

#define FRAME_SIZE (65u * 1024) /* 64 KB super-packet + tag + headers */
#define FRAMES_PER_BLOCK 4	/* block: 260 KB, a multiple of the page size */
#define BLOCK_SIZE (FRAME_SIZE * FRAMES_PER_BLOCK)
#define BLOCK_NR 64
#define FRAME_NR (FRAMES_PER_BLOCK * BLOCK_NR)

static int setopt(int fd, int level, int opt, const void *v, socklen_t l, const char *what)
{
	if (setsockopt(fd, level, opt, v, l) < 0) {
		agent_log(3, "setsockopt %s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

int agent_io_open(struct agent_io_port *p, const char *ifname)
{
	struct tpacket_req req;
	struct packet_mreq mr;
	struct sockaddr_ll sll;
	int one = 1, v2 = TPACKET_V2;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->name = ifname;
	p->ifindex = if_nametoindex(ifname);
	if (!p->ifindex) {
		agent_log(3, "interface %s: %s (run the agent in the namespace that holds it)",
			  ifname, strerror(errno));
		return -1;
	}
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		agent_log(3, "socket(AF_PACKET): %s (needs CAP_NET_RAW)", strerror(errno));
		return -1;
	}
	/* Options that must precede the ring, then the ring, then bind. */
	if (setopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one), "PACKET_VNET_HDR") ||
	    setopt(p->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2), "PACKET_VERSION") ||
	    setopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one),
		   "PACKET_IGNORE_OUTGOING"))
		goto fail;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_block_nr = BLOCK_NR;
	req.tp_frame_size = FRAME_SIZE;
	req.tp_frame_nr = FRAME_NR;
	if (setopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req), "PACKET_RX_RING"))
		goto fail;
	p->ring_sz = (size_t)BLOCK_SIZE * BLOCK_NR;
	p->ring = mmap(NULL, p->ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		agent_log(3, "mmap rx ring on %s: %s", ifname, strerror(errno));
		goto fail;
	}
	p->nframes = FRAME_NR;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		agent_log(3, "bind to %s: %s", ifname, strerror(errno));
		goto fail;
	}
	/* A bump in the wire sees every frame, whatever its destination. */
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = p->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr), "promiscuous"))
		goto fail;
	return 0;
fail:
	agent_io_close(p);
	return -1;
}

void agent_io_close(struct agent_io_port *p)
{
	if (p->ring)
		munmap(p->ring, p->ring_sz);
	p->ring = NULL;
	if (p->fd >= 0)
		close(p->fd); /* also drops the promiscuous membership */
	p->fd = -1;
}

int agent_io_send(struct agent_io_port *p, struct agent_pkt *pkts, unsigned int n)
{
	struct mmsghdr msg[AGENT_BATCH];
	struct iovec iov[AGENT_BATCH][2];
	unsigned int i, done = 0;
	int rc, dropped = 0;

	memset(msg, 0, sizeof(msg[0]) * n);
	for (i = 0; i < n; i++) {
		iov[i][0].iov_base = &pkts[i].vh;
		iov[i][0].iov_len = sizeof(pkts[i].vh);
		iov[i][1].iov_base = pkts[i].data;
		iov[i][1].iov_len = pkts[i].len;
		msg[i].msg_hdr.msg_iov = iov[i];
		msg[i].msg_hdr.msg_iovlen = 2;
	}
	while (done < n) {
		rc = sendmmsg(p->fd, msg + done, n - done, 0);
		if (rc > 0) {
			done += rc;
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		/* The frame at msg[done] was refused (e.g. EMSGSIZE: larger
		 * than the interface MTU). Skip it and go on. */
		agent_log(7, "send on %s: frame of %u bytes: %s", p->name, pkts[done].len,
			  strerror(errno));
		p->tx_errors++;
		dropped++;
		done++;
	}
	return dropped;
}

/*
 * Hand every frame of every ready block to fn. Frames the kernel untagged
 * (VLAN acceleration) get their 802.1Q/802.1ad tag back, so the agent sees
 * the frame as it was on the link.
 */
unsigned int agent_io_rx(struct agent_io_port *p, struct agent *a, uint8_t *scratch,
			 void (*fn)(struct agent *, uint8_t *, size_t,
				    const struct virtio_net_hdr *))
{
	unsigned int frames = 0;

	while (frames < p->nframes) {
		/* Frames are contiguous: a block holds exactly FRAMES_PER_BLOCK. */
		struct tpacket2_hdr *h = (void *)((uint8_t *)p->ring + (size_t)p->cur * FRAME_SIZE);
		uint8_t *data;
		struct virtio_net_hdr vh;
		size_t len;

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		data = (uint8_t *)h + h->tp_mac;
		len = h->tp_snaplen;
		memcpy(&vh, data - sizeof(vh), sizeof(vh));
		if (h->tp_snaplen != h->tp_len || h->tp_mac < sizeof(vh)) {
			/* Larger than a ring slot (e.g. a GSO packet above 64 KB). */
			agent_log(p->rx_truncated ? 7 : 4,
				  "%s: frame of %u bytes does not fit a ring slot; dropped",
				  p->name, h->tp_len);
			p->rx_truncated++;
		} else if (h->tp_status & TP_STATUS_VLAN_VALID) {
			uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid
										   : ETH_P_8021Q;

			if (len + 4 <= AGENT_SLOT && len >= 12) {
				memcpy(scratch, data, 12);
				scratch[12] = tpid >> 8;
				scratch[13] = tpid;
				scratch[14] = h->tp_vlan_tci >> 8;
				scratch[15] = h->tp_vlan_tci;
				memcpy(scratch + 16, data + 12, len - 12);
				if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
					vh.csum_start += 4;
				if (vh.hdr_len)
					vh.hdr_len += 4;
				fn(a, scratch, len + 4, &vh);
			}
		} else {
			fn(a, data, len, &vh);
		}
		frames++;
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		p->cur = (p->cur + 1) % p->nframes;
	}
	return frames;
}
