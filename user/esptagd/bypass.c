// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bypass sockets (BYPASS_SOCKET, an IKE daemon's bypass_socket): the
 * socket's cookie goes into esptag_bypass, where esptag_tx (the packet's
 * socket) and esptag_rx (the socket a plaintext UDP packet a protect
 * policy covers would be delivered to) find it.
 *
 * The kernel never reuses a cookie, so the entry of a closed socket matches
 * nothing; it only takes a slot. The map holds ESPTAG_BYPASS_MAX entries:
 * when it is full, the cookies of sockets that no longer exist (no UDP
 * socket of this network namespace has them, sock_diag) are removed first.
 *
 * esptag_cfg's BYPASS flag is set before the first entry is written and
 * stays set while the map may have entries (bypass_flag_sync at start-up):
 * without it the programs skip the socket lookup, and a packet of a bypass
 * socket is treated like any other (protected or dropped, never leaked).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <bpf/bpf.h>
#include "esptagd.h"

/* Add the cookies of this namespace's UDP sockets of family af to set. */
static int udp_cookies(int af, uint64_t *set, size_t cap, size_t *n)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = af, .sdiag_protocol = IPPROTO_UDP, .idiag_states = ~0u },
	};
	uint8_t buf[16384];
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		goto out;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (len <= 0)
			goto out;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (*n < cap)
				set[(*n)++] = (uint64_t)m->id.idiag_cookie[1] << 32 |
					      m->id.idiag_cookie[0];
		}
	}
out:
	close(fd);
	return rc;
}

/* Remove the entries of closed sockets; returns how many, -1 if unknown. */
static int prune(struct daemon *d)
{
	size_t cap = 65536, n = 0;
	uint64_t *live = calloc(cap, sizeof(*live));
	uint64_t key, next, stale[ESPTAG_BYPASS_MAX];
	int fd = d->bpf.map_fd[M_BYPASS], ns = 0;
	bool more;

	if (!live || udp_cookies(AF_INET, live, cap, &n) || udp_cookies(AF_INET6, live, cap, &n) ||
	    n == cap) {
		free(live);
		return -1;
	}
	for (more = !bpf_map_get_next_key(fd, NULL, &key); more && ns < ESPTAG_BYPASS_MAX;
	     more = !bpf_map_get_next_key(fd, &key, &next), key = next) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = live[i] == key;
		if (!found)
			stale[ns++] = key;
	}
	free(live);
	for (int i = 0; i < ns; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	return ns;
}

/* Start-up: the flag matches the pinned map (set if it has any entry; a
 * data path of a build without the flag left entries behind unflagged). */
void bypass_flag_sync(struct daemon *d)
{
	int fd = d->bpf.map_fd[M_BYPASS];
	uint64_t key;

	if (fd < 0)
		return;
	cfg_set_flag(d, ESPTAG_CFGF_BYPASS, !bpf_map_get_next_key(fd, NULL, &key));
}

void ctl_bypass_socket(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)
{
	struct esptag_ctl_bypass b;
	struct esptag_bypass e = {};
	int fd = d->bpf.map_fd[M_BYPASS], n;

	esptag_ctl_item(v, 0, &b);
	if (fd < 0) {
		reply_err(r, ESPTAG_CTL_E_BPF,
			  "the attached programs have no esptag_bypass map (an older build): restart esptagd without --adopt");
		return;
	}
	if (!b.cookie) {
		reply_err(r, ESPTAG_CTL_E_INVAL, "socket cookie 0 names no socket");
		return;
	}
	e.family = b.family;
	e.proto = b.proto;
	e.port = b.port;
	if (cfg_set_flag(d, ESPTAG_CFGF_BYPASS, true)) {
		reply_err(r, ESPTAG_CTL_E_BPF, "cannot set the bypass flag in esptag_cfg");
		return;
	}
	if (!bpf_map_update_elem(fd, &b.cookie, &e, BPF_ANY))
		goto done;
	if (errno != E2BIG && errno != ENOSPC) {
		reply_err(r, ESPTAG_CTL_E_BPF, "cannot write esptag_bypass: %s", strerror(errno));
		return;
	}
	n = prune(d);
	if (n > 0)
		log_info("bypass sockets: removed %d entries of closed sockets", n);
	if (bpf_map_update_elem(fd, &b.cookie, &e, BPF_ANY)) {
		reply_err(r, ESPTAG_CTL_E_NOSPC,
			  "%u bypass sockets are registered and open (esptag_bypass is full); nothing was changed",
			  ESPTAG_BYPASS_MAX);
		return;
	}
done:
	log_info("bypass socket: cookie %llu (%s, port %u): its packets pass in clear both ways",
		 (unsigned long long)b.cookie, b.family == 4 ? "IPv4" : "IPv6", b.port);
}
