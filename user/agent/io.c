// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet I/O of esptag-agent: one AF_PACKET socket per interface with
 * PACKET_VNET_HDR (GSO super-packets arrive whole, with gso_size and the
 * partial-checksum offsets), a TPACKET_V2 mmap'ed receive ring (the kernel
 * writes the virtio_net_hdr right before each frame in the ring, see
 * tpacket_rcv()), and a TPACKET_V2 transmit ring.
 *
 * Receive ring: RING_FRAMES slots of RING_FRAME_SIZE bytes, enough for any
 * frame of up to a 1500-byte MTU plus ESP, tags and headers. A frame that
 * does not fit a slot (a GSO super-packet, a jumbo frame) is not lost: with
 * PACKET_COPY_THRESH the kernel puts a reference to the whole skb on the
 * socket's receive queue and marks the (truncated) slot TP_STATUS_COPY, in
 * ring order; the agent then reads it with recvmsg() (virtio_net_hdr in
 * front, VLAN tag in PACKET_AUXDATA). A big receive buffer
 * (SO_RCVBUFFORCE) bounds how many of those may wait.
 *
 * Why V2 and not V3: a V3 ring hands a block to user space only when it is
 * full or its retire timer (>= 1 ms) fires, so every frame and every config
 * request would wait up to a timer tick in each agent (measured: 1 ms per
 * config round trip). V2 hands over each frame at once.
 *
 * Transmit ring: TX_FRAMES slots of RING_FRAME_SIZE bytes, one send() per
 * batch. A frame goes through the ring if it is not a GSO super-packet,
 * fits a slot and is at most MTU + Ethernet header long; its
 * virtio_net_hdr says hdr_len = the whole frame, so tpacket_snd() copies
 * it into the skb's linear part (no page references into the ring for a
 * veth to copy again). Any other frame (a super-packet, an over-MTU frame
 * the kernel must judge, a frame meeting a slot the kernel still holds)
 * goes out with sendmsg() on a second, send-only AF_PACKET socket (bound
 * with protocol 0, so it receives nothing; on a socket with a tx ring,
 * sendmsg() only flushes the ring), after the ring frames queued before
 * it, so the order of a batch is kept. PACKET_LOSS: a frame the kernel
 * refuses in the ring is skipped instead of stopping the ring.
 *
 * Why no PACKET_QDISC_BYPASS: it skips the device's packet taps, so a
 * capture on the agent's interfaces (tcpdump -i wire0, as the tests do)
 * would no longer see what the agent sends. *
 * Several workers: each has a port of its own on every interface; their
 * receiving sockets form one fan-out group per interface (io_fanout), so
 * every frame reaches one worker, chosen by flow. With AF_XDP (xsk.c) the
 * port also has an AF_XDP socket on the worker's queue, and this socket
 * keeps what AF_XDP cannot carry.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "io.h"
#include "esptag_agent_fanout.skel.h"

#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

/*
 * 2 KB slots: the kernel puts the frame at offset 76 (tpacket2_hdr,
 * sockaddr_ll, virtio_net_hdr), so frames of up to 1972 bytes fit.
 * 4096 slots (8 MB) ride out a few milliseconds without CPU.
 */
#define RING_FRAME_SIZE 2048u
#define RING_BLOCK_SIZE (1u << 16) /* 32 slots per block */
#define RING_FRAMES 4096u
#define RING_BLOCKS (RING_FRAMES / (RING_BLOCK_SIZE / RING_FRAME_SIZE))
#define TX_FRAMES 2048u
#define TX_BLOCKS (TX_FRAMES / (RING_BLOCK_SIZE / RING_FRAME_SIZE))
/* A tx slot: tpacket2_hdr (32 bytes), then virtio_net_hdr and frame. */
#define TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
#define TX_MAX_FRAME (RING_FRAME_SIZE - TX_DATA_OFF - sizeof(struct virtio_net_hdr))
/* Slot states the kernel still owns (the rest are timestamp flags). */
#define TX_BUSY (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING | TP_STATUS_WRONG_FORMAT)
/* Room for the skbs of a full tx ring (they hold socket send buffer). */
#define SNDBUF_BYTES (8 << 20)
#define MTU_REFRESH_NS 10000000u /* 10 ms */
/* Whole frames waiting on the receive queue (truesize accounting). */
#define RCVBUF_BYTES (32 << 20)

static int setopt(int fd, int level, int opt, const void *v, socklen_t l, const char *what)
{
	if (setsockopt(fd, level, opt, v, l) < 0) {
		agent_log(3, "setsockopt %s: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/* Options that must precede the ring (packet options, buffer sizes). */
static int io_sock_opts(struct agent_io_port *p)
{
	int one = 1, v2 = TPACKET_V2, rcvbuf = RCVBUF_BYTES, sndbuf = SNDBUF_BYTES;

	if (setopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one), "PACKET_VNET_HDR") ||
	    setopt(p->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2), "PACKET_VERSION") ||
	    setopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one),
		   "PACKET_IGNORE_OUTGOING") ||
	    setopt(p->fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(one),
		   "PACKET_COPY_THRESH") ||
	    setopt(p->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one), "PACKET_AUXDATA") ||
	    setopt(p->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one), "PACKET_LOSS"))
		return -1;
	/* Root may exceed net.core.rmem_max; otherwise take what it allows. */
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf), "SO_RCVBUF"))
		return -1;
	if (setsockopt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0 &&
	    setopt(p->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf), "SO_SNDBUF"))
		return -1;
	return 0;
}

/* The receive and transmit rings, mapped together. */
static int io_rings(struct agent_io_port *p)
{
	struct tpacket_req req;
	size_t rx_sz;

	memset(&req, 0, sizeof(req));
	req.tp_block_size = RING_BLOCK_SIZE;
	req.tp_block_nr = RING_BLOCKS;
	req.tp_frame_size = RING_FRAME_SIZE;
	req.tp_frame_nr = RING_FRAMES;
	if (setopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req), "PACKET_RX_RING"))
		return -1;
	req.tp_block_nr = TX_BLOCKS;
	req.tp_frame_nr = TX_FRAMES;
	if (setopt(p->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req), "PACKET_TX_RING"))
		return -1;
	rx_sz = (size_t)RING_BLOCK_SIZE * RING_BLOCKS;
	p->ring_sz = rx_sz + (size_t)RING_BLOCK_SIZE * TX_BLOCKS;
	p->ring = mmap(NULL, p->ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		agent_log(3, "mmap rings on %s: %s", p->name, strerror(errno));
		return -1;
	}
	p->txring = (uint8_t *)p->ring + rx_sz;
	p->nframes = RING_FRAMES;
	return 0;
}

/* The send-only socket for frames that do not take the ring. */
static int io_open_txfd(struct agent_io_port *p, struct sockaddr_ll *sll)
{
	int one = 1, sndbuf = SNDBUF_BYTES;

	p->txfd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (p->txfd < 0) {
		agent_log(3, "socket(AF_PACKET): %s", strerror(errno));
		return -1;
	}
	p->has_txfd = true;
	sll->sll_protocol = 0;
	if (setopt(p->txfd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one), "PACKET_VNET_HDR"))
		return -1;
	if (setsockopt(p->txfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0 &&
	    setopt(p->txfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf), "SO_SNDBUF"))
		return -1;
	if (bind(p->txfd, (struct sockaddr *)sll, sizeof(*sll)) < 0) {
		agent_log(3, "bind to %s: %s", p->name, strerror(errno));
		return -1;
	}
	return 0;
}

int agent_fanout_prog(uint16_t eth_meta)
{
	static struct esptag_agent_fanout *skel;
	static bool failed;

	if (skel)
		return bpf_program__fd(skel->progs.esptag_fanout);
	if (failed)
		return -1;
	failed = true;
	skel = esptag_agent_fanout__open();
	if (!skel)
		return -1;
	skel->rodata->meta_ethertype = eth_meta;
	if (esptag_agent_fanout__load(skel)) {
		agent_log(6, "fan-out: the eBPF program does not load (CAP_BPF?): classic BPF "
			     "instead");
		esptag_agent_fanout__destroy(skel);
		skel = NULL;
		return -1;
	}
	return bpf_program__fd(skel->progs.esptag_fanout);
}

/*
 * The same hash as bpf/esptag_agent_fanout.bpf.c in classic BPF, for
 * PACKET_FANOUT_CBPF: no CAP_BPF needed (the systemd unit does not grant
 * it). Offsets count from the MAC header (SKF_LL_OFF). Untagged IPv4:
 * addresses and the first word after the IP header; IPv6: addresses'
 * words and the first word after the fixed header; Tx-tagged: words 3 and
 * 4 of the IP header, and the ports (transport; GSO: at esp_off, else
 * payload_off) or words 3 and 4 of the inner IP header (tunnel). Then the
 * same mix. Anything else: 0.
 */
#define LL(k) ((uint32_t)(SKF_LL_OFF + (k)))
#define TAGT (ESPTAG_META_LEN) /* tag bytes before the untagged offsets */
static struct sock_filter fanout_cbpf[] = {
	/*  0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, LL(12)),
	/*  1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ESPTAG_ETH_P_META, 23, 0), /* -> 25 */
	/*  2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 11),		 /* -> 14 */
	/*  3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(26)),
	/*  4 */ BPF_STMT(BPF_ST, 0),
	/*  5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(30)),
	/*  6 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/*  7 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/*  8 */ BPF_STMT(BPF_ST, 0),
	/*  9 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, LL(14)),
	/* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_IND, LL(14)),
	/* 11 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 12 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 13 */ BPF_STMT(BPF_JMP | BPF_JA, 37), /* -> 51 */
	/* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86DD, 0, 46), /* -> 61 */
	/* 15 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(34)),
	/* 16 */ BPF_STMT(BPF_ST, 0),
	/* 17 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(50)),
	/* 18 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 19 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 20 */ BPF_STMT(BPF_ST, 0),
	/* 21 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(54)),
	/* 22 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 23 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 24 */ BPF_STMT(BPF_JMP | BPF_JA, 26), /* -> 51 */
	/* tagged */
	/* 25 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, LL(15)), /* kind */
	/* 26 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ESPTAG_META_TX, 0, 34), /* -> 61 */
	/* 27 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(TAGT + 14 + 12)),
	/* 28 */ BPF_STMT(BPF_ST, 0),
	/* 29 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LL(TAGT + 14 + 16)),
	/* 30 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 31 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 32 */ BPF_STMT(BPF_ST, 0),
	/* 33 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, LL(16)), /* flags */
	/* 34 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, ESPTAG_META_F_GSO, 0, 2), /* -> 37 */
	/* 35 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, LL(20)), /* esp_off */
	/* 36 */ BPF_STMT(BPF_JMP | BPF_JA, 1), /* -> 38 */
	/* 37 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, LL(22)), /* payload_off */
	/* 38 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
	/* 39 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, LL(17)), /* next_hdr */
	/* 40 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 3, 0),  /* -> 44 */
	/* 41 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 41, 2, 0), /* -> 44 */
	/* 42 */ BPF_STMT(BPF_LD | BPF_W | BPF_IND, LL(TAGT)), /* ports */
	/* 43 */ BPF_STMT(BPF_JMP | BPF_JA, 5), /* -> 49 */
	/* 44 */ BPF_STMT(BPF_LD | BPF_W | BPF_IND, LL(TAGT + 12)),
	/* 45 */ BPF_STMT(BPF_ST, 1),
	/* 46 */ BPF_STMT(BPF_LD | BPF_W | BPF_IND, LL(TAGT + 16)),
	/* 47 */ BPF_STMT(BPF_LDX | BPF_MEM, 1),
	/* 48 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 49 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 50 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* mix */
	/* 51 */ BPF_STMT(BPF_ST, 0),
	/* 52 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
	/* 53 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 54 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 55 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x45d9f3b),
	/* 56 */ BPF_STMT(BPF_ST, 0),
	/* 57 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
	/* 58 */ BPF_STMT(BPF_LDX | BPF_MEM, 0),
	/* 59 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	/* 60 */ BPF_STMT(BPF_RET | BPF_A, 0),
	/* 61 */ BPF_STMT(BPF_RET | BPF_K, 0),
};

/*
 * Join the fan-out group fo (a new one, with a kernel-chosen unique id, when
 * fo->id is 0). The group's program (or the kernel's flow hash) spreads
 * frames over its sockets by flow, so a flow stays on one worker and in
 * order.
 */
static int io_fanout(struct agent_io_port *p, struct agent_fanout *fo)
{
	/* A group receives through its own hook, which ignores the socket's
	 * PACKET_IGNORE_OUTGOING: without the group's flag every worker would
	 * get the frames the agent sends back (a bypass frame would circle
	 * between the two interfaces for ever). A kernel without the flag
	 * refuses it: fan-out fails and the agent does not start. */
	int v = ((fo->prog_fd >= 0 ? PACKET_FANOUT_EBPF : PACKET_FANOUT_CBPF) |
		 PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16;
	struct sock_fprog cbpf = {sizeof(fanout_cbpf) / sizeof(fanout_cbpf[0]), fanout_cbpf};
	socklen_t l = sizeof(v);

	if (!fo->id)
		v |= PACKET_FANOUT_FLAG_UNIQUEID << 16;
	else
		v |= fo->id & 0xffff;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_FANOUT, &v, sizeof(v)) < 0) {
		agent_log(3, "PACKET_FANOUT on %s: %s%s", p->name, strerror(errno),
			  errno == EINVAL ? " (a kernel without PACKET_FANOUT_FLAG_IGNORE_OUTGOING "
					    "cannot spread over workers: run with --cpus 1)"
					  : "");
		return -1;
	}
	if (fo->id)
		return 0;
	if (getsockopt(p->fd, SOL_PACKET, PACKET_FANOUT, &v, &l) < 0) {
		agent_log(3, "getsockopt PACKET_FANOUT: %s", strerror(errno));
		return -1;
	}
	fo->id = (v & 0xffff) | 0x10000; /* non-zero even for group 0 */
	if (fo->prog_fd >= 0)
		return setopt(p->fd, SOL_PACKET, PACKET_FANOUT_DATA, &fo->prog_fd,
			      sizeof(fo->prog_fd), "PACKET_FANOUT_DATA");
	fanout_cbpf[1].k = fo->eth_meta;
	return setopt(p->fd, SOL_PACKET, PACKET_FANOUT_DATA, &cbpf, sizeof(cbpf),
		      "PACKET_FANOUT_DATA (classic BPF)");
}

int agent_io_open(struct agent_io_port *p, const char *ifname, struct agent_fanout *fanout)
{
	struct packet_mreq mr;
	struct sockaddr_ll sll;

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
	if (io_sock_opts(p) || io_rings(p))
		goto fail;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		agent_log(3, "bind to %s: %s", ifname, strerror(errno));
		goto fail;
	}
	if (fanout && io_fanout(p, fanout))
		goto fail;
	if (io_open_txfd(p, &sll))
		goto fail;
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
	agent_xsk_close(p);
	if (p->ring)
		munmap(p->ring, p->ring_sz);
	p->ring = NULL;
	p->txring = NULL;
	if (p->has_txfd)
		close(p->txfd);
	p->has_txfd = false;
	if (p->fd >= 0)
		close(p->fd); /* also drops the promiscuous membership */
	p->fd = -1;
}

/* Send one frame with sendmsg(); the kernel judges it (MTU, GSO). */
static int send_one(struct agent_io_port *p, struct agent_pkt *pk)
{
	struct iovec iov[2] = {{&pk->vh, sizeof(pk->vh)}, {pk->data, pk->len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	while (sendmsg(p->txfd, &msg, 0) < 0) {
		if (errno == EINTR)
			continue;
		/* Refused (e.g. EMSGSIZE: larger than the interface MTU). */
		agent_log(7, "send on %s: frame of %u bytes: %s", p->name, pk->len,
			  strerror(errno));
		p->tx_errors++;
		return 1;
	}
	return 0;
}

static struct tpacket2_hdr *tx_slot(struct agent_io_port *p, unsigned int i)
{
	return (void *)(p->txring + (size_t)(i % TX_FRAMES) * RING_FRAME_SIZE);
}

static uint32_t tx_status(struct tpacket2_hdr *h)
{
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

/*
 * Hand the frames queued in the ring (the slot before tx_cur is the last)
 * to the kernel. A non-blocking send() stops early when the send buffer is
 * full; a blocking one then finishes the job. A frame the device drops
 * (e.g. a full backlog) stays queued and is tried again; after a few
 * tries the rest waits for the next batch (counted as a tx error).
 */
static void tx_kick(struct agent_io_port *p)
{
	struct tpacket2_hdr *last = tx_slot(p, p->tx_cur + TX_FRAMES - 1);
	int tries, err = 0;

	for (tries = 0; tries < 4 && (tx_status(last) & TP_STATUS_SEND_REQUEST); tries++)
		if (send(p->fd, NULL, 0, tries ? 0 : MSG_DONTWAIT) < 0 && errno != EINTR &&
		    errno != EAGAIN)
			err = errno;
	if (tx_status(last) & TP_STATUS_SEND_REQUEST) {
		agent_log(7, "send (ring) on %s: %s", p->name, strerror(err ? err : EAGAIN));
		p->tx_errors++;
	}
}

/* Frames above MTU + Ethernet header go to sendmsg(), which refuses
 * them as before (the ring does not check the MTU with vnet headers).
 * The MTU is read again every MTU_REFRESH_NS (an ioctl costs ~0.5 us,
 * as much as a frame when batches are small). */
static void io_mtu(struct agent_io_port *p)
{
	struct ifreq ifr;
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	if (!p->mtu_at || now - p->mtu_at >= MTU_REFRESH_NS) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->name);
		if (ioctl(p->fd, SIOCGIFMTU, &ifr) == 0)
			p->mtu = ifr.ifr_mtu;
		p->mtu_at = now ? now : 1;
	}
}

static int packet_send(struct agent_io_port *p, struct agent_pkt *pkts, unsigned int n)
{
	unsigned int i, queued = 0;
	int dropped = 0;

	for (i = 0; i < n; i++) {
		struct agent_pkt *pk = &pkts[i];
		struct tpacket2_hdr *h = tx_slot(p, p->tx_cur);
		struct virtio_net_hdr vh = pk->vh;
		uint8_t *d;

		if (pk->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE || pk->len > TX_MAX_FRAME ||
		    pk->len > (uint32_t)p->mtu + ETH_HLEN || pk->len < ETH_HLEN ||
		    (tx_status(h) & TX_BUSY)) {
			if (queued)
				tx_kick(p);
			queued = 0;
			dropped += send_one(p, pk);
			continue;
		}
		vh.hdr_len = pk->len; /* all of it into the skb's linear part */
		d = (uint8_t *)h + TX_DATA_OFF;
		memcpy(d, &vh, sizeof(vh));
		memcpy(d + sizeof(vh), pk->data, pk->len);
		h->tp_len = sizeof(vh) + pk->len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		p->tx_cur = (p->tx_cur + 1) % TX_FRAMES;
		queued++;
	}
	if (queued)
		tx_kick(p);
	return dropped;
}

/*
 * AF_XDP mode: frames a descriptor can carry go through the AF_XDP
 * socket, the others (GSO, partial checksum, large) through the AF_PACKET
 * path, each run after the runs before it, so a batch keeps its order.
 */
int agent_io_send(struct agent_io_port *p, struct agent_pkt *pkts, unsigned int n)
{
	unsigned int i = 0, j;
	int dropped = 0;

	io_mtu(p);
	if (p->mode != AGENT_IO_XDP)
		return packet_send(p, pkts, n);
	while (i < n) {
		for (; i < n && agent_xsk_fits(p, &pkts[i]); i++)
			agent_xsk_queue(p, &pkts[i]);
		agent_xsk_kick(p);
		for (j = i; j < n && !agent_xsk_fits(p, &pkts[j]); j++)
			;
		if (j > i)
			dropped += packet_send(p, pkts + i, j - i);
		i = j;
	}
	return dropped;
}

/*
 * Give fn the frame as it was on the link: a tag the kernel took off
 * (VLAN acceleration) goes back in front of the EtherType. data may point
 * into scratch + 4 (the copy path); the result is built in scratch.
 */
static void deliver(struct agent *a, uint8_t *scratch, uint8_t *data, size_t len,
		    struct virtio_net_hdr *vh, uint32_t status, uint16_t tci, uint16_t tpid,
		    void (*fn)(struct agent *, uint8_t *, size_t, const struct virtio_net_hdr *))
{
	if (!(status & TP_STATUS_VLAN_VALID)) {
		fn(a, data, len, vh);
		return;
	}
	if (!(status & TP_STATUS_VLAN_TPID_VALID))
		tpid = ETH_P_8021Q;
	if (len + 4 > AGENT_SLOT || len < 12)
		return;
	if (data == scratch + 4) {
		memmove(scratch, data, 12); /* the rest stays where it is */
	} else {
		memcpy(scratch, data, 12);
		memcpy(scratch + 16, data + 12, len - 12);
	}
	scratch[12] = tpid >> 8;
	scratch[13] = tpid;
	scratch[14] = tci >> 8;
	scratch[15] = tci;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		vh->csum_start += 4;
	if (vh->hdr_len)
		vh->hdr_len += 4;
	fn(a, scratch, len + 4, vh);
}

/*
 * The frame of a TP_STATUS_COPY slot: the whole skb waits on the receive
 * queue (in ring order). Read it into scratch + 4 (room for a VLAN tag).
 */
static void rx_copy(struct agent_io_port *p, struct agent *a, uint8_t *scratch,
		    void (*fn)(struct agent *, uint8_t *, size_t,
			       const struct virtio_net_hdr *))
{
	union {
		struct cmsghdr h;
		uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct tpacket_auxdata aux = {0};
	struct virtio_net_hdr vh;
	struct iovec iov[2] = {{&vh, sizeof(vh)}, {scratch + 4, AGENT_SLOT - 4}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(p->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(vh)) {
		agent_log(7, "%s: copied frame missing from the queue: %s", p->name,
			  n < 0 ? strerror(errno) : "short read");
		p->rx_truncated++;
		return;
	}
	n -= sizeof(vh);
	if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > AGENT_SLOT - 4) {
		agent_log(p->rx_truncated ? 7 : 4, "%s: frame of %zd bytes is too large; dropped",
			  p->name, n);
		p->rx_truncated++;
		return;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
		    c->cmsg_len >= CMSG_LEN(sizeof(aux)))
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
	deliver(a, scratch, scratch + 4, n, &vh, aux.tp_status, aux.tp_vlan_tci,
		aux.tp_vlan_tpid, fn);
}

/*
 * Hand every ready frame of the ring to fn, in arrival order.
 */
unsigned int agent_io_rx(struct agent_io_port *p, struct agent *a, uint8_t *scratch,
			 agent_rx_fn fn)
{
	unsigned int frames = 0;

	if (p->mode == AGENT_IO_XDP)
		frames = agent_xsk_rx(p, a, fn);

	for (unsigned int slots = 0; slots < p->nframes; slots++) {
		/* Slots are contiguous: a block holds a whole number of them. */
		struct tpacket2_hdr *h =
		    (void *)((uint8_t *)p->ring + (size_t)p->cur * RING_FRAME_SIZE);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		struct virtio_net_hdr vh;

		if (!(status & TP_STATUS_USER))
			break;
		if (status & TP_STATUS_COPY) {
			rx_copy(p, a, scratch, fn);
		} else if (h->tp_snaplen != h->tp_len || h->tp_mac < sizeof(vh)) {
			/* Too large for a slot, and the receive queue was full. */
			agent_log(p->rx_truncated ? 7 : 4,
				  "%s: frame of %u bytes does not fit a ring slot; dropped",
				  p->name, h->tp_len);
			p->rx_truncated++;
		} else {
			uint8_t *data = (uint8_t *)h + h->tp_mac;

			memcpy(&vh, data - sizeof(vh), sizeof(vh));
			deliver(a, scratch, data, h->tp_snaplen, &vh, status, h->tp_vlan_tci,
				h->tp_vlan_tpid, fn);
		}
		frames++;
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		p->cur = (p->cur + 1) % p->nframes;
	}
	return frames;
}
