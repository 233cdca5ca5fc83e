/* SPDX-License-Identifier: GPL-2.0-only */
/* Packet I/O of esptag-agent (io.c): AF_PACKET rings, AF_XDP (xsk.c). */
#ifndef ESPTAG_AGENT_IO_H
#define ESPTAG_AGENT_IO_H

#include "agent.h"

enum agent_io_mode {
	AGENT_IO_PACKET = 0, /* TPACKET rings only */
	AGENT_IO_XDP = 1,    /* AF_XDP socket, TPACKET for what it cannot carry */
};

struct agent_xsk; /* xsk.c */
struct agent_xdp; /* xsk.c: the XDP program of one interface */

typedef void (*agent_rx_fn)(struct agent *, uint8_t *, size_t, const struct virtio_net_hdr *);

struct agent_io_port {
	const char *name;
	int fd;
	int ifindex;
	void *ring; /* rx ring, then tx ring */
	size_t ring_sz;
	unsigned int nframes, cur;
	uint8_t *txring;
	unsigned int tx_cur;
	int txfd;	/* sendmsg() socket: a socket with a tx ring only sends its ring */
	bool has_txfd;
	int mtu;
	uint64_t mtu_at; /* CLOCK_MONOTONIC_COARSE ns of the last MTU read */
	uint64_t tx_errors, rx_truncated;
	enum agent_io_mode mode;
	struct agent_xsk *xsk; /* AGENT_IO_XDP */
};

/* An AF_PACKET fan-out group: id 0 until the first socket made it; the
 * group's eBPF program (agent_fanout_prog), or -1 for the same hash in
 * classic BPF (io.c), which needs the metadata EtherType. */
struct agent_fanout {
	int id;
	int prog_fd;
	uint16_t eth_meta;
};

/*
 * Open the port of one worker on ifname. fanout: NULL, or the fan-out group
 * every worker's socket on ifname joins.
 */
int agent_io_open(struct agent_io_port *p, const char *ifname, struct agent_fanout *fanout);
/* The fan-out program (bpf/esptag_agent_fanout.bpf.c) for metadata
 * EtherType eth_meta: its fd, or -1 (then classic BPF). */
int agent_fanout_prog(uint16_t eth_meta);
void agent_io_close(struct agent_io_port *p);
/* Send n frames (virtio_net_hdr + data). Returns how many were refused. */
int agent_io_send(struct agent_io_port *p, struct agent_pkt *pkts, unsigned int n);
unsigned int agent_io_rx(struct agent_io_port *p, struct agent *a, uint8_t *scratch,
			 agent_rx_fn fn);

/* xsk.c: AF_XDP. The interface's XDP program (one per interface, shared by
 * the workers' sockets), then one socket per queue. */
int agent_xdp_attach(struct agent_xdp **x, const char *ifname);
void agent_xdp_detach(struct agent_xdp *x);
/* Number of receive queues of ifname (sysfs), at least 1. */
unsigned int agent_io_rx_queues(const char *ifname);
/* Add an AF_XDP socket on queue q to the open port p (mode XDP on success). */
int agent_xsk_open(struct agent_io_port *p, struct agent_xdp *x, unsigned int q);
void agent_xsk_close(struct agent_io_port *p);
/* Frames ready on the socket, handed to fn; frames to send through it. */
unsigned int agent_xsk_rx(struct agent_io_port *p, struct agent *a, agent_rx_fn fn);
/* Whether the frame can go through the socket (else: AF_PACKET). */
bool agent_xsk_fits(const struct agent_io_port *p, const struct agent_pkt *pk);
void agent_xsk_queue(struct agent_io_port *p, const struct agent_pkt *pk);
void agent_xsk_kick(struct agent_io_port *p);
int agent_xsk_fd(const struct agent_io_port *p);

#endif
