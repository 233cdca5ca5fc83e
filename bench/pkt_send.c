// SPDX-License-Identifier: GPL-2.0-only
/*
 * Load generator of benchmark 5: sends one Ethernet frame (given in hex) as
 * fast as it can through an AF_PACKET socket on IFNAME, in sendmmsg batches
 * of 64, for SECONDS, through the interface's egress path (qdisc and TC
 * programs: on the lab's pf0 the frame is a plain IP packet that esptag_tx
 * turns into a tagged one). Prints the number of frames sent. Several
 * frames (several flows, for a multi-core agent's fan-out) are sent in turn.
 *
 *   pkt_send IFNAME SECONDS HEXFRAME...
 */
#define MAX_FRAMES 64
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_FRAMES][9216];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct mmsghdr msg[64];
	struct iovec iov[MAX_FRAMES];
	size_t len = 0;
	uint8_t *frame = frames[0];
	int nf = 0;
	uint64_t sent = 0, end;
	double secs;
	int fd;

	if (argc < 4 || argc - 3 > MAX_FRAMES || (secs = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: pkt_send IFNAME SECONDS HEXFRAME...\n");
		return 2;
	}
	for (nf = 0; nf < argc - 3; nf++) {
		len = 0;
		for (const char *h = argv[3 + nf]; h[0] && h[1] && len < sizeof(frames[0]); h += 2)
			if (sscanf(h, "%2hhx", &frames[nf][len++]) != 1) {
				fprintf(stderr, "pkt_send: bad hex frame\n");
				return 2;
			}
		if (len < ETH_HLEN) {
			fprintf(stderr, "pkt_send: frame shorter than an Ethernet header\n");
			return 2;
		}
		iov[nf].iov_base = frames[nf];
		iov[nf].iov_len = len;
	}
	sll.sll_ifindex = if_nametoindex(argv[1]);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "pkt_send: no interface %s\n", argv[1]);
		return 1;
	}
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, frame, ETH_ALEN);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "pkt_send: socket: %s\n", strerror(errno));
		return 1;
	}
	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < 64; i++) {
		msg[i].msg_hdr.msg_name = &sll;
		msg[i].msg_hdr.msg_namelen = sizeof(sll);
		msg[i].msg_hdr.msg_iov = &iov[i % nf];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		int n = sendmmsg(fd, msg, 64, 0);

		if (n < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			fprintf(stderr, "pkt_send: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		sent += n;
	}
	printf("%llu\n", (unsigned long long)sent);
	close(fd);
	return 0;
}
