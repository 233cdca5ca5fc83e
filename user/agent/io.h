/* SPDX-License-Identifier: GPL-2.0-only */
/* AF_PACKET I/O of esptag-agent (io.c). */
#ifndef ESPTAG_AGENT_IO_H
#define ESPTAG_AGENT_IO_H

#include "agent.h"

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
};

int agent_io_open(struct agent_io_port *p, const char *ifname);
void agent_io_close(struct agent_io_port *p);
/* Send n frames (virtio_net_hdr + data). Returns how many were refused. */
int agent_io_send(struct agent_io_port *p, struct agent_pkt *pkts, unsigned int n);
unsigned int agent_io_rx(struct agent_io_port *p, struct agent *a, uint8_t *scratch,
			 void (*fn)(struct agent *, uint8_t *, size_t,
				    const struct virtio_net_hdr *));

#endif
