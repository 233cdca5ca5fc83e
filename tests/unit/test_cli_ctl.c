// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control-socket codec (user/lib/ctl.c, ctl_check.c, ctl_io.c): valid
 * messages decode to the same items, every malformed variant is rejected
 * with a reason, replies never carry keys, and the stream framing survives
 * short and lying peers.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include "../lib/test.h"
#include "ctl.h"
#include <esptag/maps.h>

static char err[256];

static struct esptag_ctl_sa good_sa(void)
{
	struct esptag_ctl_sa sa = {
		.dev = "eth0", .dir = ESPTAG_DIR_OUT, .family = 4, .mode = ESPTAG_MODE_TRANSPORT,
		.alg = ESPTAG_ALG_AES_GCM_128, .key_len = 16, .icv_len = 16, .spi = 0x1000,
		.sa_index = ESPTAG_SA_INDEX_NONE,
		.daddr = { 192, 0, 2, 2 }, .saddr = { 192, 0, 2, 1 },
		.key = { 1, 2, 3 }, .salt = { 9, 9, 9, 9 },
	};
	return sa;
}

/* header + n items into buf; returns the length */
static size_t build(uint8_t *buf, int op, bool reply, int status, const void *items, uint32_t n,
		    size_t isz)
{
	struct esptag_ctl_hdr h;

	esptag_ctl_hdr_init(&h, op, reply, status, n, n * isz);
	memcpy(buf, &h, sizeof(h));
	if (n)
		memcpy(buf + sizeof(h), items, n * isz);
	return sizeof(h) + n * isz;
}

static uint8_t buf[65536];

static void request_roundtrip(void)
{
	struct esptag_ctl_sa sa[3] = { good_sa(), good_sa(), good_sa() }, got;
	struct esptag_ctl_view v;
	size_t len;

	sa[1].spi = 0x2000;
	sa[2].family = 6;
	memset(sa[2].daddr, 0, 16);
	sa[2].daddr[0] = 0x20;
	sa[2].daddr[1] = 0x01;
	sa[2].daddr[2] = 0x0d;
	sa[2].daddr[3] = 0xb8;
	sa[2].daddr[15] = 1;
	len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, sa, 3, sizeof(sa[0]));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_EQ(v.hdr.count, 3);
	T_EQ(v.item_size, sizeof(struct esptag_ctl_sa));
	for (int i = 0; i < 3; i++) {
		esptag_ctl_item(&v, i, &got);
		T_MEMEQ(&got, sizeof(got), &sa[i], sizeof(sa[i]));
	}
	/* every truncation is rejected */
	for (size_t l = 0; l < len; l++)
		T_EQ(esptag_ctl_decode(buf, l, &v, err, sizeof(err)), -1);
	/* as is one byte too many */
	T_EQ(esptag_ctl_decode(buf, len + 1, &v, err, sizeof(err)), -1);
}

static void header_rejects(void)
{
	struct esptag_ctl_sa sa = good_sa();
	struct esptag_ctl_view v;
	struct esptag_ctl_hdr *h = (struct esptag_ctl_hdr *)buf;
	size_t len;

#define REJECT(mut, needle)                                                          \
	do {                                                                         \
		len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, sizeof(sa)); \
		mut;                                                                 \
		T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);         \
		if (!strstr(err, needle)) {                                          \
			t_fail(__FILE__, __LINE__, "'%s' lacks '%s'", err, needle);  \
			return;                                                      \
		}                                                                    \
	} while (0)
	REJECT(h->magic ^= 1, "bad magic");
	REJECT(h->version = 2, "version 2");
	REJECT(h->op = 0, "unknown operation");
	REJECT(h->op = ESPTAG_CTL_OP_MAX + 1, "unknown operation");
	REJECT(h->flags = 0x80, "unknown flags");
	REJECT(h->len += 1, "does not match");
	REJECT((h->count = 2), "do not make");
	REJECT((h->count = 0, h->len = 0, len = sizeof(*h)), "at least one item");
	REJECT(h->status = 1, "reply fields");
	REJECT(h->err_index = 3, "reply fields");
	REJECT(h->op = ESPTAG_CTL_EVENT, "not a request");
	REJECT(h->op = ESPTAG_CTL_STATE_LIST, "takes no items");
	REJECT(h->count = ESPTAG_CTL_MAX_ITEMS + 1, "");
#undef REJECT
}

static void sa_mutate(int i, struct esptag_ctl_sa *s)
{
	switch (i) {
	case 0:
		s->dir = 3;
		break;
	case 1:
		s->family = 5;
		break;
	case 2:
		s->mode = 0;
		break;
	case 3:
		s->alg = 3;
		break;
	case 4:
		s->key_len = 24;
		break;
	case 5:
		s->alg = ESPTAG_ALG_AES_GCM_256;
		break;
	case 6:
		s->icv_len = 12;
		break;
	case 7:
		s->sa_flags = 0x80;
		break;
	case 8:
		s->nvlans = 3;
		break;
	case 9:
		s->nvlans = 1; s->vid[0] = 4095;
		break;
	case 10:
		s->vid[1] = 7;
		break;
	case 11:
		s->spi = 255;
		break;
	case 12:
		s->replay_window = 2048;
		break;
	case 13:
		s->daddr[9] = 1;
		break;
	case 14:
		memset(s->daddr, 0, 16);
		break;
	case 15:
		s->key[20] = 1;
		break;
	case 16:
		memset(s->key, 0, 32);
		break;
	case 17:
		s->seq = 1;
		break;
	case 18:
		memset(s->dev, 'x', 16);
		break;
	case 19:
		s->dev[0] = 0;
		break;
	case 20:
		s->dev[6] = 'z';
		break;
	case 21:
		s->dev[1] = '/';
		break;
	}
}

static const char *const sa_needles[] = {
	"dir",
	"family",
	"mode",
	"unknown algorithm",
	"16-byte key",
	"32-byte key",
	"ICV",
	"flags",
	"VLAN",
	"4094",
	"unused VLAN",
	"reserved",
	"replay",
	"beyond 4",
	"dst address",
	"beyond the key",
	"key missing",
	"reply-only",
	"not terminated",
	"device name missing",
	"garbage",
	"bad character",
};

static void sa_item_rejects(void)
{
	struct esptag_ctl_view v;
	for (size_t i = 0; i < sizeof(sa_needles) / sizeof(sa_needles[0]); i++) {
		struct esptag_ctl_sa sa = good_sa();
		size_t len;

		sa_mutate(i, &sa);
		len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, sizeof(sa));
		if (esptag_ctl_decode(buf, len, &v, err, sizeof(err)) != -1 ||
		    !strstr(err, sa_needles[i])) {
			t_fail(__FILE__, __LINE__, "case %zu: got '%s', want '%s'", i, err,
			       sa_needles[i]);
			return;
		}
	}
}

static void replies_never_carry_keys(void)
{
	struct esptag_ctl_sa sa = good_sa();
	struct esptag_ctl_view v;
	size_t len;

	sa.sa_index = 4;
	len = build(buf, ESPTAG_CTL_STATE_LIST, true, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "key material"));
	memset(sa.key, 0, sizeof(sa.key));
	len = build(buf, ESPTAG_CTL_STATE_LIST, true, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1); /* salt still set */
	memset(sa.salt, 0, sizeof(sa.salt));
	len = build(buf, ESPTAG_CTL_STATE_LIST, true, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	/* empty listing */
	len = build(buf, ESPTAG_CTL_STATE_LIST, true, 0, NULL, 0, 0);
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_EQ(v.hdr.count, 0);
}

static void error_replies(void)
{
	struct esptag_ctl_hdr h;
	struct esptag_ctl_view v;
	const char *msg = "agent refused: duplicate";
	size_t len;

	esptag_ctl_hdr_init(&h, ESPTAG_CTL_STATE_ADD, true, ESPTAG_CTL_E_AGENT, 0, strlen(msg));
	h.agent_status = ESPTAG_ST_DUPLICATE;
	h.err_index = 0;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), msg, strlen(msg));
	len = sizeof(h) + strlen(msg);
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_EQ(v.hdr.status, ESPTAG_CTL_E_AGENT);
	T_EQ(v.hdr.agent_status, ESPTAG_ST_DUPLICATE);
	buf[sizeof(h) + 3] = '\n';
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	buf[sizeof(h) + 3] = 'x';
	((struct esptag_ctl_hdr *)buf)->agent_status = ESPTAG_ST_MAX + 1;
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	((struct esptag_ctl_hdr *)buf)->agent_status = 0;
	((struct esptag_ctl_hdr *)buf)->status = ESPTAG_CTL_E_MAX + 1;
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	((struct esptag_ctl_hdr *)buf)->status = ESPTAG_CTL_E_NOENT;
	((struct esptag_ctl_hdr *)buf)->agent_status = ESPTAG_ST_DUPLICATE;
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1); /* agent status without E_AGENT */
	/* a successful reply must not carry error fields */
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_STATE_DEL, true, 0, 0, 0);
	h.err_index = 0;
	memcpy(buf, &h, sizeof(h));
	T_EQ(esptag_ctl_decode(buf, sizeof(h), &v, err, sizeof(err)), -1);
}

static void policy_items(void)
{
	struct esptag_ctl_policy p = {
		.dev = "eth0", .dir = ESPTAG_DIR_OUT, .family = 4, .action = ESPTAG_ACT_PROTECT,
		.src_plen = 24, .dst_plen = 32, .spi = 0x1000, .src = { 192, 0, 2, 0 },
		.dst = { 198, 51, 100, 1 },
	};
	struct esptag_ctl_view v;
	size_t len;

	len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, &p, 1, sizeof(p));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	p.src[3] = 1; /* host bits */
	len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, &p, 1, sizeof(p));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	p.src[3] = 0;
	p.dst_plen = 33;
	len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, &p, 1, sizeof(p));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	p.dst_plen = 32;
	p.spi = 0;
	len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, &p, 1, sizeof(p));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	p.action = ESPTAG_ACT_BYPASS;
	p.spi = 5000;
	len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, &p, 1, sizeof(p));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	p.spi = 0;
	{
		struct esptag_ctl_policy two[2] = { p, p };

		len = build(buf, ESPTAG_CTL_POLICY_ADD, false, 0, two, 2, sizeof(p));
		T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
		T_ASSERT(strstr(err, "exactly one"));
	}
}

/* The template that names an outbound protect policy's SA. */
static void policy_tmpl_items(void)
{
	struct esptag_ctl_policy p = {
		.dev = "eth0", .dir = ESPTAG_DIR_OUT, .family = 4, .action = ESPTAG_ACT_PROTECT,
		.src_plen = 24, .dst_plen = 24, .spi = 0x1000, .src = { 192, 0, 2, 0 },
		.dst = { 198, 51, 100, 0 }, .tmpl_family = 4, .tmpl_flags = ESPTAG_CTL_TMPL_DST,
		.tmpl_dst = { 203, 0, 113, 2 },
	};
	struct esptag_ctl_policy q;
	struct esptag_ctl_view v;
	size_t len;

#define POL_DECODES(op, want)                                                           \
	do {                                                                            \
		len = build(buf, op, false, 0, &q, 1, sizeof(q));                       \
		T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), want);          \
	} while (0)
	q = p;
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, 0);
	POL_DECODES(ESPTAG_CTL_POLICY_UPDATE, 0);
	q.spi = 0;	/* neither spi nor reqid */
	POL_DECODES(ESPTAG_CTL_POLICY_UPDATE, -1);
	q.tmpl_flags |= ESPTAG_CTL_TMPL_REQID;
	q.reqid = 7;	/* reqid alone names the SA */
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, 0);
	q = p;
	q.reqid = 7;	/* reqid without its flag */
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.tmpl_dst[4] = 1;	/* IPv4 with bytes beyond 4 */
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.tmpl_family = 0;
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.tmpl_flags = 0;	/* address without its flag */
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.tmpl_flags = 0x80;
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.tmpl_mode = 9;
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, -1);
	q = p;
	q.dir = ESPTAG_DIR_IN;	/* a template on an inbound protect policy: checked on Rx */
	q.spi = 0;
	POL_DECODES(ESPTAG_CTL_POLICY_ADD, 0);
	q = p;
	q.action = ESPTAG_ACT_BYPASS;
	q.spi = 0;
	POL_DECODES(ESPTAG_CTL_POLICY_UPDATE, -1);
	T_ASSERT(strstr(err, "SA of a protect policy only"));
	{
		struct esptag_ctl_policy two[2] = { p, p };

		len = build(buf, ESPTAG_CTL_POLICY_UPDATE, false, 0, two, 2, sizeof(p));
		T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
		T_ASSERT(strstr(err, "exactly one"));
	}
	T_ASSERT(!strcmp(esptag_ctl_op_str(ESPTAG_CTL_POLICY_UPDATE), "policy update"));
	T_ASSERT(!strcmp(esptag_ctl_event_str(ESPTAG_EV_POLICY_UPDATED), "policy-updated"));
#undef POL_DECODES
}

static void stream_framing(void)
{
	struct esptag_ctl_sa sa = good_sa();
	struct esptag_ctl_hdr h;
	struct esptag_ctl_view v;
	uint8_t *got;
	int sv[2];
	ssize_t n;

	T_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_STATE_ADD, false, 0, 1, sizeof(sa));
	T_EQ(esptag_ctl_write(sv[0], &h, &sa), 0);
	n = esptag_ctl_read(sv[1], &got);
	T_EQ(n, sizeof(h) + sizeof(sa));
	T_EQ(esptag_ctl_decode(got, n, &v, err, sizeof(err)), 0);
	free(got);
	/* a header that announces more than the limit */
	h.len = ESPTAG_CTL_MAX_LEN + 1;
	T_EQ(write(sv[0], &h, sizeof(h)), sizeof(h));
	errno = 0;
	T_EQ(esptag_ctl_read(sv[1], &got), -1);
	T_EQ(errno, EPROTO);
	T_ASSERT(got == NULL);
	/* a peer that closes mid-payload */
	h.len = sizeof(sa);
	T_EQ(write(sv[0], &h, sizeof(h)), sizeof(h));
	T_EQ(write(sv[0], &sa, 10), 10);
	close(sv[0]);
	T_EQ(esptag_ctl_read(sv[1], &got), -1);
	/* clean EOF */
	T_EQ(esptag_ctl_read(sv[1], &got), 0);
	close(sv[1]);
}

/*
 * A read that fails mid-payload wipes what it got before freeing it: the
 * same-size block the allocator hands out next (glibc reuses the block just
 * freed) holds none of the key bytes that were read.
 */
static void read_error_wipes(void)
{
	static const uint8_t key[16] = { 0xc3, 0x5a, 0x17, 0xe9, 0x42, 0x8d, 0x6b, 0xf0,
					 0x2e, 0x91, 0x7c, 0xd4, 0x08, 0xb6, 0x53, 0xaf };
	struct esptag_ctl_sa sa = good_sa();
	struct esptag_ctl_hdr h;
	size_t total = sizeof(h) + 4 * sizeof(sa);
	uint8_t *got = (uint8_t *)1, *probe, *again;
	int sv[2];

	memcpy(sa.key, key, sizeof(key));
	T_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_STATE_ADD, false, 0, 4, 4 * sizeof(sa));
	T_EQ(write(sv[0], &h, sizeof(h)), sizeof(h));
	T_EQ(write(sv[0], &sa, sizeof(sa)), sizeof(sa));	/* 1 of 4, then EOF */
	close(sv[0]);
	explicit_bzero(&sa, sizeof(sa));
	probe = malloc(total);
	T_ASSERT(probe);
	free(probe);
	errno = 0;
	T_EQ(esptag_ctl_read(sv[1], &got), -1);
	T_EQ(errno, EPROTO);
	T_ASSERT(got == NULL);
	close(sv[1]);
	again = malloc(total);
	T_ASSERT(again);
	if (again != probe) {
		free(again);
		t_skip("the allocator did not hand the freed block out again");
		return;
	}
	{
		/* Fresh malloc memory: read it through volatile, byte by byte. */
		const volatile uint8_t *m = again;
		uint8_t copy[sizeof(h) + 4 * sizeof(sa)];

		for (size_t i = 0; i < total; i++)
			copy[i] = m[i];
		free(again);
		T_ASSERT(!memmem(copy, total, key, sizeof(key)));
	}
}

/* Random corruption never crashes and anything accepted re-validates. */
static void mutation_smoke(void)
{
	struct esptag_ctl_sa sa[2] = { good_sa(), good_sa() };
	struct esptag_ctl_view v;
	unsigned int seed = 12345, accepted = 0;
	uint8_t orig[512];
	size_t len;

	sa[1].spi = 0x3000;
	len = build(orig, ESPTAG_CTL_STATE_ADD, false, 0, sa, 2, sizeof(sa[0]));
	for (int it = 0; it < 200000; it++) {
		size_t l = len;

		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + it % 4; k++)
			buf[rand_r(&seed) % len] ^= 1u << (rand_r(&seed) % 8);
		if (it % 7 == 0)
			l = rand_r(&seed) % (len + 1);
		if (esptag_ctl_decode(buf, l, &v, err, sizeof(err)) == 0) {
			accepted++;
			T_EQ(v.hdr.len + sizeof(struct esptag_ctl_hdr), l);
			for (uint32_t i = 0; i < v.hdr.count; i++) {
				struct esptag_ctl_sa s;

				esptag_ctl_item(&v, i, &s);
				T_EQ(esptag_ctl_sa_check(&s, true, NULL, 0), 0);
			}
		}
	}
	/* flips inside key bytes etc. stay valid: some must be accepted */
	T_ASSERT(accepted > 0);
}

/* The agent status reply carries the daemon's version; a reply of an older
 * daemon (104 bytes, no version) still decodes, with the version empty. */
/* The IKE daemon's items: allocspi, get, update; lifetimes; events. */
static void ike_items(void)
{
	struct esptag_ctl_spi q = { .dev = "eth0", .family = 4, .proto = 50,
				    .daddr = { 192, 0, 2, 1 }, .saddr = { 192, 0, 2, 2 } };
	struct esptag_ctl_sa_id id = { .dev = "eth0", .dir = ESPTAG_DIR_IN, .family = 4,
				       .proto = 50, .spi = 0x1000, .daddr = { 192, 0, 2, 1 } };
	struct esptag_ctl_sa sa = good_sa(), up;
	struct esptag_ctl_event e = { .type = ESPTAG_EV_SA_SOFT_EXPIRED, .id = ESPTAG_LIMIT_BYTES,
				      .spi = 0x1000, .dir = ESPTAG_DIR_IN, .family = 4,
				      .reqid = 7 };
	struct esptag_ctl_view v;
	size_t len;

	/* allocspi: request without SPI, range sane; reply with one */
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, false, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	q.min = 0x100;
	q.max = 0x1ff;
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, false, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	q.min = 0x200;
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, false, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "SPI range"));
	q.min = q.max = 0;
	q.spi = 0x1234;
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, false, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "spi set in a request"));
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, true, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	q.spi = 0;
	len = build(buf, ESPTAG_CTL_STATE_ALLOCSPI, true, 0, &q, 1, sizeof(q));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	/* get: one sa_id; the reply one SA with current use, never a key */
	len = build(buf, ESPTAG_CTL_STATE_GET, false, 0, &id, 1, sizeof(id));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	len = build(buf, ESPTAG_CTL_STATE_GET, true, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "key material"));
	up = sa;
	memset(up.key, 0, sizeof(up.key));
	memset(up.salt, 0, sizeof(up.salt));
	up.cur_bytes = 1000;
	up.cur_packets = 10;
	up.add_time = 1700000000;
	up.use_time = 1700000005;
	len = build(buf, ESPTAG_CTL_STATE_GET, true, 0, &up, 1, sizeof(up));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	/* update: limits, no key, no current use */
	up.cur_bytes = up.cur_packets = up.add_time = up.use_time = 0;
	up.hard_packets = 100;
	up.soft_packets = 80;
	len = build(buf, ESPTAG_CTL_STATE_UPDATE, false, 0, &up, 1, sizeof(up));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	up.key[0] = 1;
	len = build(buf, ESPTAG_CTL_STATE_UPDATE, false, 0, &up, 1, sizeof(up));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "does not change keys"));
	up.key[0] = 0;
	up.cur_bytes = 5;
	len = build(buf, ESPTAG_CTL_STATE_UPDATE, false, 0, &up, 1, sizeof(up));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "reply-only"));
	/* an add request carries lifetimes but no current use */
	sa.hard_bytes = 1 << 20;
	sa.soft_time = 30;
	sa.lifetime = 60;
	len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	sa.use_time = 1;
	len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "reply-only"));
	sa.use_time = 0;
	sa.reserved2 = 1;
	len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, sizeof(sa));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "reserved"));
	/* the old 128-byte SA is not an SA any more */
	sa.reserved2 = 0;
	len = build(buf, ESPTAG_CTL_STATE_ADD, false, 0, &sa, 1, ESPTAG_CTL_SA_V1_SIZE);
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	/* an expire event carries the SA's identity */
	len = build(buf, ESPTAG_CTL_EVENT, true, 0, &e, 1, sizeof(e));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_ASSERT(!strcmp(esptag_ctl_event_str(ESPTAG_EV_SA_SOFT_EXPIRED), "sa-soft-expired"));
}

static void agent_status_version(void)
{
	struct esptag_ctl_agent a = { .dev = "eth0" }, got;
	struct esptag_ctl_view v;
	size_t len;

	snprintf(a.daemon_version, sizeof(a.daemon_version), "0.9.0 (git 0123456789ab)");
	len = build(buf, ESPTAG_CTL_AGENT_STATUS, true, 0, &a, 1, sizeof(a));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_EQ(v.item_size, 136);
	memset(&got, 0, sizeof(got));
	esptag_ctl_item(&v, 0, &got);
	T_ASSERT(strcmp(got.daemon_version, "0.9.0 (git 0123456789ab)") == 0);

	len = build(buf, ESPTAG_CTL_AGENT_STATUS, true, 0, &a, 1, ESPTAG_CTL_AGENT_V1_SIZE);
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), 0);
	T_EQ(v.item_size, ESPTAG_CTL_AGENT_V1_SIZE);
	memset(&got, 0, sizeof(got));
	esptag_ctl_item(&v, 0, &got);
	T_ASSERT(strcmp(got.dev, "eth0") == 0);
	T_ASSERT(strcmp(got.daemon_version, "") == 0);

	/* other sizes are still wrong */
	len = build(buf, ESPTAG_CTL_AGENT_STATUS, true, 0, &a, 1, 120);
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	/* the version is printable and terminated */
	a.daemon_version[3] = '\n';
	len = build(buf, ESPTAG_CTL_AGENT_STATUS, true, 0, &a, 1, sizeof(a));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "printable") != NULL);
	memset(a.daemon_version, 'x', sizeof(a.daemon_version));
	len = build(buf, ESPTAG_CTL_AGENT_STATUS, true, 0, &a, 1, sizeof(a));
	T_EQ(esptag_ctl_decode(buf, len, &v, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "terminated") != NULL);
}

int main(void)
{
	T_RUN(request_roundtrip);
	T_RUN(header_rejects);
	T_RUN(sa_item_rejects);
	T_RUN(replies_never_carry_keys);
	T_RUN(error_replies);
	T_RUN(policy_items);
	T_RUN(policy_tmpl_items);
	T_RUN(stream_framing);
	T_RUN(read_error_wipes);
	T_RUN(mutation_smoke);
	T_RUN(agent_status_version);
	T_RUN(ike_items);
	return t_done();
}
