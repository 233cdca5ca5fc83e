// SPDX-License-Identifier: GPL-2.0-only
/*
 * AF_XDP I/O of esptag-agent through libxdp's xsk API.
 *
 * One XDP program per interface (bpf/esptag_agent_xsk.bpf.c, attached in
 * driver mode), one AF_XDP socket per worker bound to the
 * worker's receive queue: zero-copy where the driver has it, copy mode
 * otherwise (veth). The socket sits next to the port's AF_PACKET socket
 * (io.c), which still takes what the XDP program passes up (frames with an
 * offloaded VLAN tag, multi-buffer frames) and sends what an AF_XDP
 * descriptor cannot carry (GSO super-packets, partial checksums, frames
 * larger than a umem frame or the MTU).
 *
 * UMEM: XSK_FRAMES frames of XSK_FRAME_SIZE bytes; the first XSK_RX_FRAMES
 * feed the fill ring (receive), the others are a stack of free transmit
 * frames, refilled from the completion ring. A received frame is handed to
 * the frame handler in place (the handlers build their output in the
 * worker's batch, never pointing into the input), then goes straight back
 * to the fill ring.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <linux/if_xdp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>
#include "agent.h"
#include "io.h"
#include "esptag_agent_xsk.skel.h"

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

#define XSK_FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
/* Receive: 4096 frames, as many as the TPACKET ring's slots, to ride out a
 * few milliseconds without CPU; transmit: 2048. 24 MB per socket. */
#define XSK_RX_FRAMES 4096u
#define XSK_TX_FRAMES 2048u
#define XSK_FRAMES (XSK_RX_FRAMES + XSK_TX_FRAMES)
#define XSK_BATCH 64u

struct agent_xdp {
	struct esptag_agent_xsk *skel;
	int ifindex;
	__u32 flags; /* XDP_FLAGS_* it is attached with */
};

struct agent_xsk {
	struct xsk_socket *xsk;
	struct xsk_umem *umem;
	void *area;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	uint64_t free_tx[XSK_FRAMES - XSK_RX_FRAMES];
	unsigned int nfree_tx;
	unsigned int queued;	  /* tx descriptors not submitted yet */
	unsigned int outstanding; /* submitted, not completed */
	bool zerocopy;
};

/* ETHTOOL_GCHANNELS (sysfs would show another namespace's devices under
 * nsenter --net). A device without channels has one queue. */
unsigned int agent_io_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	unsigned int n = 1;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0 && ch.rx_count + ch.combined_count > 0)
		n = ch.rx_count + ch.combined_count;
	close(fd);
	return n;
}

int agent_xdp_attach(struct agent_xdp **out, const char *ifname)
{
	/* Driver mode only: a device-bound program (the VLAN kfunc) cannot be
	 * attached in generic mode. A device without native XDP keeps TPACKET. */
	static const __u32 modes[] = {XDP_FLAGS_DRV_MODE};
	struct agent_xdp *x;
	unsigned int i;
	int err = -1;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	x->ifindex = if_nametoindex(ifname);
	if (!x->ifindex)
		goto fail;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]) && err; i++) {
		x->skel = esptag_agent_xsk__open();
		if (!x->skel)
			goto fail;
		/* Bound to the device: the VLAN kfunc is the driver's. */
		bpf_program__set_ifindex(x->skel->progs.esptag_xsk, x->ifindex);
		bpf_program__set_flags(x->skel->progs.esptag_xsk, BPF_F_XDP_DEV_BOUND_ONLY);
		err = esptag_agent_xsk__load(x->skel);
		if (!err) {
			err = bpf_xdp_attach(x->ifindex,
					     bpf_program__fd(x->skel->progs.esptag_xsk),
					     modes[i] | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
			x->flags = modes[i];
		}
		if (err) {
			agent_log(7, "%s: XDP program (%s mode): %s", ifname,
				  modes[i] == XDP_FLAGS_DRV_MODE ? "driver" : "generic",
				  strerror(-err));
			esptag_agent_xsk__destroy(x->skel);
			x->skel = NULL;
		}
	}
	if (err)
		goto fail;
	*out = x;
	return 0;
fail:
	free(x);
	return -1;
}

void agent_xdp_detach(struct agent_xdp *x)
{
	if (!x)
		return;
	if (x->skel) {
		bpf_xdp_detach(x->ifindex, x->flags, NULL);
		esptag_agent_xsk__destroy(x->skel);
	}
	free(x);
}

static int xsk_bind(struct agent_io_port *p, struct agent_xsk *s, struct agent_xdp *x,
		    unsigned int q, __u16 bind_flags)
{
	struct xsk_socket_config cfg = {
	    .rx_size = XSK_RX_FRAMES,
	    .tx_size = XSK_TX_FRAMES,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .xdp_flags = x->flags,
	    .bind_flags = bind_flags,
	};

	return xsk_socket__create(&s->xsk, p->name, q, s->umem, &s->rx, &s->tx, &cfg);
}

int agent_xsk_open(struct agent_io_port *p, struct agent_xdp *x, unsigned int q)
{
	struct xsk_umem_config ucfg = {
	    .fill_size = XSK_RX_FRAMES,
	    .comp_size = XSK_TX_FRAMES,
	    .frame_size = XSK_FRAME_SIZE,
	    .frame_headroom = 0,
	};
	size_t sz = (size_t)XSK_FRAMES * XSK_FRAME_SIZE;
	struct agent_xsk *s;
	unsigned int i;
	__u32 idx;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->area = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->area == MAP_FAILED) {
		s->area = NULL;
		goto fail;
	}
	err = xsk_umem__create(&s->umem, s->area, sz, &s->fq, &s->cq, &ucfg);
	if (err) {
		agent_log(4, "%s: AF_XDP umem: %s", p->name, strerror(-err));
		goto fail;
	}
	/* Zero-copy where the driver has it, else copy mode. */
	s->zerocopy = true;
	err = xsk_bind(p, s, x, q, XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP);
	if (err) {
		s->zerocopy = false;
		err = xsk_bind(p, s, x, q, XDP_COPY | XDP_USE_NEED_WAKEUP);
	}
	if (err) {
		agent_log(4, "%s: AF_XDP socket on queue %u: %s", p->name, q, strerror(-err));
		goto fail;
	}
	err = xsk_socket__update_xskmap(s->xsk, bpf_map__fd(x->skel->maps.esptag_xsks));
	if (err) {
		agent_log(4, "%s: AF_XDP socket map: %s", p->name, strerror(-err));
		goto fail;
	}
	if (xsk_ring_prod__reserve(&s->fq, XSK_RX_FRAMES, &idx) != XSK_RX_FRAMES)
		goto fail;
	for (i = 0; i < XSK_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&s->fq, idx + i) = (uint64_t)i * XSK_FRAME_SIZE;
	xsk_ring_prod__submit(&s->fq, XSK_RX_FRAMES);
	for (i = 0; i < XSK_FRAMES - XSK_RX_FRAMES; i++)
		s->free_tx[i] = (uint64_t)(XSK_RX_FRAMES + i) * XSK_FRAME_SIZE;
	s->nfree_tx = XSK_FRAMES - XSK_RX_FRAMES;
	p->xsk = s;
	p->mode = AGENT_IO_XDP;
	agent_log(6, "%s: AF_XDP on queue %u (%s)", p->name, q,
		  s->zerocopy ? "zero-copy" : "copy mode");
	return 0;
fail:
	if (s->xsk)
		xsk_socket__delete(s->xsk);
	if (s->umem)
		xsk_umem__delete(s->umem);
	if (s->area)
		munmap(s->area, sz);
	free(s);
	return -1;
}

void agent_xsk_close(struct agent_io_port *p)
{
	struct agent_xsk *s = p->xsk;

	if (!s)
		return;
	xsk_socket__delete(s->xsk);
	xsk_umem__delete(s->umem);
	munmap(s->area, (size_t)XSK_FRAMES * XSK_FRAME_SIZE);
	free(s);
	p->xsk = NULL;
	p->mode = AGENT_IO_PACKET;
}

int agent_xsk_fd(const struct agent_io_port *p)
{
	return xsk_socket__fd(p->xsk->xsk);
}

unsigned int agent_xsk_rx(struct agent_io_port *p, struct agent *a, agent_rx_fn fn)
{
	struct agent_xsk *s = p->xsk;
	unsigned int n, i, total = 0;
	__u32 idx_rx, idx_fq;

	do {
		n = xsk_ring_cons__peek(&s->rx, XSK_BATCH, &idx_rx);
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, idx_rx + i);

			fn(a, xsk_umem__get_data(s->area, d->addr), d->len, NULL);
		}
		/* Every frame goes straight back: the handlers copied what they keep. */
		/* Never fails: at most XSK_RX_FRAMES frames circulate, the
		 * fill ring holds them all. */
		while (xsk_ring_prod__reserve(&s->fq, n, &idx_fq) != n)
			;
		for (i = 0; i < n; i++)
			*xsk_ring_prod__fill_addr(&s->fq, idx_fq + i) =
			    xsk_umem__extract_addr(xsk_ring_cons__rx_desc(&s->rx, idx_rx + i)->addr) &
			    ~(uint64_t)(XSK_FRAME_SIZE - 1);
		xsk_ring_prod__submit(&s->fq, n);
		xsk_ring_cons__release(&s->rx, n);
		total += n;
	} while (total < XSK_RX_FRAMES / 2);
	if (xsk_ring_prod__needs_wakeup(&s->fq))
		recvfrom(xsk_socket__fd(s->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
	return total;
}

/* Transmit frames the kernel is done with go back on the free stack. */
static void xsk_complete(struct agent_xsk *s)
{
	__u32 idx;
	unsigned int n, i;

	n = xsk_ring_cons__peek(&s->cq, XSK_TX_FRAMES, &idx);
	for (i = 0; i < n; i++)
		s->free_tx[s->nfree_tx++] = *xsk_ring_cons__comp_addr(&s->cq, idx + i);
	if (n)
		xsk_ring_cons__release(&s->cq, n);
	s->outstanding -= n;
}

bool agent_xsk_fits(const struct agent_io_port *p, const struct agent_pkt *pk)
{
	return pk->vh.gso_type == VIRTIO_NET_HDR_GSO_NONE &&
	       !(pk->vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && pk->len <= XSK_FRAME_SIZE &&
	       pk->len <= (uint32_t)p->mtu + 14 && pk->len >= 14;
}

/*
 * Send what is queued. In copy mode one sendto() sends at most a small
 * batch (32 frames in Linux's generic transmit path): go on until the
 * kernel has completed every frame handed over, or makes no progress
 * (a full device queue) a few times in a row.
 */
void agent_xsk_kick(struct agent_io_port *p)
{
	struct agent_xsk *s = p->xsk;
	unsigned int before, stuck = 0;

	if (s->queued) {
		xsk_ring_prod__submit(&s->tx, s->queued);
		s->outstanding += s->queued;
		s->queued = 0;
	}
	while (s->outstanding && stuck < 4) {
		before = s->outstanding;
		if (sendto(xsk_socket__fd(s->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR)
			break;
		xsk_complete(s);
		stuck = s->outstanding < before ? 0 : stuck + 1;
	}
}

void agent_xsk_queue(struct agent_io_port *p, const struct agent_pkt *pk)
{
	struct agent_xsk *s = p->xsk;
	struct xdp_desc *d;
	__u32 idx;

	if (!s->nfree_tx)
		xsk_complete(s);
	if (!s->nfree_tx) {
		agent_xsk_kick(p);
		if (!s->nfree_tx) {
			p->tx_errors++;
			return;
		}
	}
	if (xsk_ring_prod__reserve(&s->tx, 1, &idx) != 1) {
		agent_xsk_kick(p);
		if (xsk_ring_prod__reserve(&s->tx, 1, &idx) != 1) {
			p->tx_errors++;
			return;
		}
	}
	d = xsk_ring_prod__tx_desc(&s->tx, idx);
	d->addr = s->free_tx[--s->nfree_tx];
	d->len = pk->len;
	d->options = 0;
	memcpy(xsk_umem__get_data(s->area, d->addr), pk->data, pk->len);
	s->queued++;
}
