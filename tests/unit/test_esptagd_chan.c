// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd's agent channel (user/esptagd/chan.c) against a fake agent: both
 * are AF_PACKET sockets on the loopback device of a private network
 * namespace. The fake agent queues its reply before chan_run() sends the
 * request; chan_run() then matches it by msg_id and opcode.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include "../lib/test.h"
#include "esptagd.h"

/* What chan.c needs from the rest of the daemon. */
int log_level = LOG_DEBUG_;
static unsigned int debug_lines;

void logm(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG_)
		debug_lines++;
	fprintf(stderr, "<%d>esptagd: ", prio);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct chan ch;
static int agent_fd = -1, lo_index;
static bool ready;

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!rc)
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return rc;
}

static void setup(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };

	if (unshare(CLONE_NEWNET) || lo_up()) {
		fprintf(stderr, "private network namespace: %s\n", strerror(errno));
		return;
	}
	lo_index = if_nametoindex("lo");
	ch.ifindex = lo_index;
	ch.timeout_ms = 100;
	ch.tries = 1;
	if (chan_open(&ch, "lo"))
		return;
	agent_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ESPTAG_ETH_P_CFG));
	sll.sll_protocol = htons(ESPTAG_ETH_P_CFG);
	sll.sll_ifindex = lo_index;
	if (agent_fd < 0 || bind(agent_fd, (struct sockaddr *)&sll, sizeof(sll)))
		return;
	ready = true;
}

/* A reply to t as the agent would send it, padded with zeros to plen
 * payload bytes (plen 0: no padding), sent from the fake agent. */
static int agent_reply(const struct txn *t, uint8_t status, size_t plen)
{
	uint8_t f[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD + 512] = {};
	struct esptag_cfg_builder b;
	struct esptag_rec_caps caps;
	uint16_t et = htons(ESPTAG_ETH_P_CFG);
	size_t len;

	memcpy(f, ch.mac, 6);
	memcpy(f + 6, ch.agent_mac, 6);
	memcpy(f + 12, &et, 2);
	esptag_cfg_begin(&b, f + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, t->opcode,
			 ESPTAG_CFG_F_REPLY, status, t->msg_id, 0);
	if (!status) {
		memset(&caps, 0, sizeof(caps));
		esptag_rec_init(&caps, ESPTAG_REC_CAPS, sizeof(caps));
		caps.version_min = caps.version_max = ESPTAG_PROTO_VERSION;
		caps.sad_capacity = caps.port_limit = htonl(16);
		caps.max_records = htons(8);
		caps.max_payload = htons(ESPTAG_CFG_MAX_PAYLOAD);
		esptag_cfg_add(&b, ESPTAG_REC_CAPS, &caps, sizeof(caps));
	}
	len = esptag_cfg_end(&b, status ? 0 : ESPTAG_ERR_INDEX_NONE);
	if (!len)
		return -1;
	if (plen > len)
		len = plen;
	len += ESPTAG_ETH_HLEN;
	return send(agent_fd, f, len, 0) == (ssize_t)len ? 0 : -1;
}

static struct txn *hello_txn(void)
{
	struct txn *t = calloc(1, sizeof(*t));
	struct esptag_cfg_builder b;
	struct esptag_rec_caps caps = {};

	if (!t)
		return NULL;
	chan_begin(&ch, t, &b, ESPTAG_OP_HELLO, 0);
	esptag_rec_init(&caps, ESPTAG_REC_CAPS, sizeof(caps));
	caps.version_min = caps.version_max = ESPTAG_PROTO_VERSION;
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &caps, sizeof(caps));
	if (chan_finish(&ch, t, &b)) {
		free(t);
		return NULL;
	}
	t->user = (void *)0x5a5a5a5a;
	t->first = 0xa5a5a5a5;
	t->n = 0x3c3c3c3c;
	return t;
}

/* A reply of exactly the largest payload (1500 bytes, zero padded) is
 * read; an error reply is taken even though its padding is odd. */
static void max_size_reply_taken(void)
{
	struct txn *t;
	uint64_t bad = ch.bad;

	if (!ready) {
		t_skip("needs root (a private network namespace and AF_PACKET)");
		return;
	}
	t = hello_txn();
	T_ASSERT(t);
	T_ASSERT(!agent_reply(t, ESPTAG_ST_BUSY, ESPTAG_CFG_MAX_PAYLOAD));
	T_EQ(chan_run(&ch, t, 1, 1), 0);
	T_EQ(t->state, TXN_DONE);
	T_EQ(t->rlen, ESPTAG_CFG_MAX_PAYLOAD);
	T_EQ(t->v.status, ESPTAG_ST_BUSY);
	T_EQ(ch.bad, bad);
	free(t);
}

/*
 * Replies longer than a config payload can be (up to the 64 bytes of slack
 * in the receive buffer, and far beyond: truncated there) are ignored and
 * counted as bad, with a debug line; the request then times out. Nothing
 * after the reply buffer is touched.
 */
static void oversize_reply_ignored(void)
{
	static const size_t sizes[] = { ESPTAG_CFG_MAX_PAYLOAD + 1, ESPTAG_CFG_MAX_PAYLOAD + 64,
					ESPTAG_CFG_MAX_PAYLOAD + 300 };

	if (!ready) {
		t_skip("needs root (a private network namespace and AF_PACKET)");
		return;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t bad = ch.bad, replies = ch.replies;
		unsigned int dbg = debug_lines;
		struct txn *t = hello_txn();

		T_ASSERT(t);
		/* An error reply: the old code took these whatever their length. */
		T_ASSERT(!agent_reply(t, ESPTAG_ST_BUSY, sizes[i]));
		T_EQ(chan_run(&ch, t, 1, 1), 1);
		T_EQ(t->state, TXN_TIMEOUT);
		T_EQ(t->rlen, 0);
		T_EQ(ch.bad, bad + 1);
		T_EQ(ch.replies, replies);
		T_ASSERT(debug_lines > dbg);
		T_ASSERT(t->user == (void *)0x5a5a5a5a);
		T_EQ(t->first, 0xa5a5a5a5);
		T_EQ(t->n, 0x3c3c3c3c);
		free(t);

		/* The channel still works: a normal OK reply is taken. */
		t = hello_txn();
		T_ASSERT(t);
		T_ASSERT(!agent_reply(t, ESPTAG_ST_OK, 0));
		T_EQ(chan_run(&ch, t, 1, 1), 0);
		T_EQ(t->state, TXN_DONE);
		T_EQ(t->v.status, ESPTAG_ST_OK);
		T_EQ(ch.replies, replies + 1);
		free(t);
	}
}

/* chan_run_prep's builder: a HELLO for t; fails for the index in fail_at.
 * Records, per call, how many replies the channel had taken by then. */
struct prep_log {
	unsigned int calls, fail_at;
	uint64_t replies_seen[4];
};

static int prep_hello(struct chan *c, struct txn *t, void *arg)
{
	struct prep_log *l = arg;
	struct esptag_cfg_builder b;
	struct esptag_rec_caps caps = {};

	l->replies_seen[l->calls] = c->replies;
	if (l->calls++ == l->fail_at)
		return -1;
	chan_begin(c, t, &b, ESPTAG_OP_HELLO, 0);
	esptag_rec_init(&caps, ESPTAG_REC_CAPS, sizeof(caps));
	caps.version_min = caps.version_max = ESPTAG_PROTO_VERSION;
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &caps, sizeof(caps));
	return chan_finish(c, t, &b);
}

/* Requests sent to the fake agent since the last call (its socket also
 * sees the channel's own frames). */
static unsigned int requests_seen(void)
{
	uint8_t f[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD + 64];
	unsigned int n = 0;
	ssize_t len;

	while ((len = recv(agent_fd, f, sizeof(f), MSG_DONTWAIT)) > 0)
		if (len >= ESPTAG_ETH_HLEN + 16 && !(f[ESPTAG_ETH_HLEN + 2] & ESPTAG_CFG_F_REPLY))
			n++;
	return n;
}

/*
 * chan_run_prep builds each request right before it first goes out: with
 * one request in flight, the second is built only after the first was
 * answered. A request that cannot be built stops the run: it and the ones
 * after it are never sent.
 */
static void prep_builds_lazily(void)
{
	struct txn t[3] = {};
	struct prep_log l = { .fail_at = 99 };
	uint64_t replies = ch.replies;
	int window = ch.window;

	if (!ready) {
		t_skip("needs root (a private network namespace and AF_PACKET)");
		return;
	}
	requests_seen();
	ch.window = 1;
	/* The first request's reply waits in the channel's socket (msg_ids
	 * are sequential); the second request gets none. */
	{
		struct txn r = { .opcode = ESPTAG_OP_HELLO, .msg_id = ch.next_id };

		T_ASSERT(!agent_reply(&r, ESPTAG_ST_OK, 0));
	}
	T_EQ(chan_run_prep(&ch, t, 2, 1, prep_hello, &l), 1);
	T_EQ(l.calls, 2);
	T_EQ(t[0].state, TXN_DONE);
	T_EQ(t[1].state, TXN_TIMEOUT);
	T_EQ(l.replies_seen[0], replies);
	T_EQ(l.replies_seen[1], replies + 1);	/* built after the first reply */
	T_EQ(requests_seen(), 2);
	/* The second of three cannot be built: only the first goes out. */
	memset(t, 0, sizeof(t));
	memset(&l, 0, sizeof(l));
	l.fail_at = 1;
	ch.window = 3;
	T_EQ(chan_run_prep(&ch, t, 3, 1, prep_hello, &l), 1);	/* the first times out */
	T_EQ(l.calls, 2);
	T_EQ(t[0].state, TXN_TIMEOUT);
	T_EQ(t[0].sent, 1);
	T_EQ(t[1].state, TXN_TIMEOUT);
	T_EQ(t[1].sent, 0);
	T_EQ(t[2].state, TXN_TIMEOUT);
	T_EQ(t[2].sent, 0);
	T_EQ(requests_seen(), 1);
	ch.window = window;
}

int main(void)
{
	if (geteuid() == 0)
		setup();
	T_RUN(max_size_reply_taken);
	T_RUN(oversize_reply_ignored);
	T_RUN(prep_builds_lazily);
	chan_close(&ch);
	if (agent_fd >= 0)
		close(agent_fd);
	return t_done();
}
