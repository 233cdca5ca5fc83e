// SPDX-License-Identifier: GPL-2.0-only
/* BPF_PROG_TEST_RUN helper: see bpf_test.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "bpf_test.h"
#include "test.h"

const char *bt_build_path(const char *rel)
{
	static char out[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;
	const char *b = getenv("BUILD");

	if (b && *b) {
		snprintf(out, sizeof(out), "%s/%s", b, rel);
		return out;
	}
	/* The binary is <build>/tests/test_x: the build dir is two levels up. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(out, sizeof(out), "build/%s", rel);
		return out;
	}
	exe[n] = 0;
	snprintf(out, sizeof(out), "%s/%s", dirname(dirname(exe)), rel);
	return out;
}

static int bpffs_ready(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, NULL)) {
		fprintf(stderr, "bpf_test: cannot mount bpffs on /sys/fs/bpf: %s (run scripts/bpffs as root)\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int silent_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int bt_open(struct bt_obj *o, const char *rel, const char *tag,
	    int (*rodata_init)(struct bpf_object *obj, void *arg), void *arg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	const char *path = bt_build_path(rel);
	int err;

	memset(o, 0, sizeof(*o));
	libbpf_set_print(silent_print);
	err = bpffs_ready();
	if (err)
		return err;
	snprintf(o->pin_dir, sizeof(o->pin_dir), "/sys/fs/bpf/et-%d-%s", (int)getpid(), tag);
	if (mkdir(o->pin_dir, 0700) && errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "bpf_test: mkdir %s: %s\n", o->pin_dir, strerror(errno));
		return err;
	}
	opts.pin_root_path = o->pin_dir;
	o->obj = bpf_object__open_file(path, &opts);
	if (!o->obj) {
		err = -errno;
		fprintf(stderr, "bpf_test: open %s: %s\n", path, strerror(errno));
		rmdir(o->pin_dir);
		return err;
	}
	/* libbpf 1.1 does not know SEC("tc/ingress") / SEC("tc/egress") (the
	 * names iproute2 selects programs by): they are TC classifiers. */
	{
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, o->obj)
			if (bpf_program__type(prog) == BPF_PROG_TYPE_UNSPEC &&
			    !strncmp(bpf_program__section_name(prog), "tc/", 3))
				bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	}
	if (rodata_init) {
		err = rodata_init(o->obj, arg);
		if (err)
			goto fail;
	}
	err = bpf_object__load(o->obj);
	if (err) {
		fprintf(stderr, "bpf_test: load %s: %s\n", path, strerror(-err));
		goto fail;
	}
	return 0;
fail:
	bpf_object__close(o->obj);
	o->obj = NULL;
	rmdir(o->pin_dir);
	return err;
}

void bt_close(struct bt_obj *o)
{
	if (!o->obj)
		return;
	bpf_object__unpin_maps(o->obj, NULL);
	bpf_object__close(o->obj);
	o->obj = NULL;
	rmdir(o->pin_dir);	/* fails while another object still pins there */
}

int bt_prog_fd(const struct bt_obj *o, const char *prog_name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(o->obj, prog_name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

int bt_map_fd(const struct bt_obj *o, const char *map_name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, map_name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int bt_run(int prog_fd, const void *in, size_t len, const struct __sk_buff *skb,
	   struct bt_result *res)
{
	struct __sk_buff ctx;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = len,
		.data_out = res->out,
		.data_size_out = sizeof(res->out),
		.repeat = 1,
	);
	int err;

	if (skb) {
		ctx = *skb;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
		opts.ctx_out = &res->skb_out;
		opts.ctx_size_out = sizeof(res->skb_out);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	res->retval = opts.retval;
	res->out_len = opts.data_size_out;
	return 0;
}

int bt_counters(const struct bt_obj *o, uint64_t out[ESPTAG_CNT_MAX])
{
	int fd = bt_map_fd(o, "esptag_stats"), ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (fd < 0 || ncpu <= 0)
		return fd < 0 ? fd : ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < ESPTAG_CNT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

int bt_counters_reset(const struct bt_obj *o)
{
	int fd = bt_map_fd(o, "esptag_stats"), ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	int err = 0;

	if (fd < 0 || ncpu <= 0)
		return fd < 0 ? fd : ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < ESPTAG_CNT_MAX && !err; k++)
		if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
			err = -errno;
	free(v);
	return err;
}

int bt_sa_stats(const struct bt_obj *o, uint32_t sa_index, struct esptag_sa_stats *sum)
{
	int fd = bt_map_fd(o, "esptag_sa_stats"), ncpu = libbpf_num_possible_cpus();
	struct esptag_sa_stats *v;

	memset(sum, 0, sizeof(*sum));
	if (fd < 0 || ncpu <= 0)
		return fd < 0 ? fd : ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &sa_index, v)) {
		free(v);
		return errno == ENOENT ? 1 : -errno;
	}
	for (int c = 0; c < ncpu; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
		sum->drops += v[c].drops;
	}
	free(v);
	return 0;
}

bool bt_check_at(const char *file, int line, const struct bt_obj *o, int prog_fd,
		 const void *in, size_t len, const struct __sk_buff *skb,
		 const struct bt_expect *e, struct bt_result *res)
{
	static struct bt_result r;
	uint64_t before[ESPTAG_CNT_MAX], after[ESPTAG_CNT_MAX];
	long long want[ESPTAG_CNT_MAX] = { 0 };
	int err;

	if (bt_counters(o, before)) {
		t_fail(file, line, "cannot read esptag_stats");
		return false;
	}
	err = bt_run(prog_fd, in, len, skb, &r);
	if (err) {
		t_fail(file, line, "bpf_prog_test_run_opts: %s", strerror(-err));
		return false;
	}
	if (bt_counters(o, after)) {
		t_fail(file, line, "cannot read esptag_stats");
		return false;
	}
	if (r.retval != e->retval) {
		t_fail(file, line, "verdict %u, want %u", r.retval, e->retval);
		return false;
	}
	for (int i = 0; i < BT_CNT_MAXD && e->cnt[i].delta; i++)
		want[e->cnt[i].idx] += e->cnt[i].delta;
	for (int k = 0; k < ESPTAG_CNT_MAX; k++) {
		long long d = (long long)(after[k] - before[k]);

		if (d != want[k]) {
			t_fail(file, line, "counter %d moved by %lld, want %lld", k, d, want[k]);
			return false;
		}
	}
	if (e->out && (r.out_len != e->out_len || memcmp(r.out, e->out, e->out_len))) {
		t_hexdiff(r.out, r.out_len, e->out, e->out_len);
		t_fail(file, line, "output bytes differ (len %u, want %zu)", r.out_len, e->out_len);
		return false;
	}
	if (res)
		*res = r;
	return true;
}

/* ---------------------------------------------------------------------- */

size_t bt_put(struct bt_pkt *p, const void *src, size_t n)
{
	size_t off = p->len;

	if (p->len + n > sizeof(p->b)) {
		fprintf(stderr, "bt_put: packet overflow\n");
		abort();
	}
	if (src)
		memcpy(p->b + off, src, n);
	else
		memset(p->b + off, 0, n);
	p->len += n;
	return off;
}

void bt_insert(struct bt_pkt *p, size_t off, const void *src, size_t n)
{
	if (off > p->len || p->len + n > sizeof(p->b)) {
		fprintf(stderr, "bt_insert: bad offset or overflow\n");
		abort();
	}
	memmove(p->b + off + n, p->b + off, p->len - off);
	if (src)
		memcpy(p->b + off, src, n);
	else
		memset(p->b + off, 0, n);
	p->len += n;
}

size_t bt_l2(struct bt_pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     const struct esptag_vlan *vlans, int nvlans, uint16_t proto)
{
	struct bt_ethhdr eth;
	size_t off;

	memcpy(eth.dst, dst, 6);
	memcpy(eth.src, src, 6);
	eth.proto = nvlans > 0 ? vlans[0].tpid : htons(proto);
	off = bt_put(p, &eth, sizeof(eth));
	for (int i = 0; i < nvlans; i++) {
		struct bt_vlanhdr v = {
			.tci = vlans[i].tci,
			.proto = i + 1 < nvlans ? vlans[i + 1].tpid : htons(proto),
		};

		bt_put(p, &v, sizeof(v));
	}
	return off;
}

int bt_addr(const char *txt, uint8_t out[16], int *family)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, txt, out) == 1) {
		if (family)
			*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, txt, out) == 1) {
		if (family)
			*family = 6;
		return 0;
	}
	fprintf(stderr, "bt_addr: bad address %s\n", txt);
	abort();
}

uint16_t bt_csum(const void *buf, size_t len, uint32_t init)
{
	const uint8_t *b = buf;
	uint32_t s = init;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

size_t bt_ipv4(struct bt_pkt *p, const char *saddr, const char *daddr, uint8_t proto)
{
	struct bt_ipv4hdr h = {
		.ver_ihl = 0x45, .ttl = 64, .protocol = proto,
		.id = htons(0x1234), .frag_off = htons(0x4000),
	};
	uint8_t a[16];

	bt_addr(saddr, a, NULL);
	memcpy(h.saddr, a, 4);
	bt_addr(daddr, a, NULL);
	memcpy(h.daddr, a, 4);
	return bt_put(p, &h, sizeof(h));
}

void bt_ipv4_finish(struct bt_pkt *p, size_t off)
{
	struct bt_ipv4hdr *h = (struct bt_ipv4hdr *)(p->b + off);
	size_t hl = (h->ver_ihl & 0xf) * 4;

	h->tot_len = htons(p->len - off);
	h->check = 0;
	h->check = bt_csum(h, hl, 0);
}

size_t bt_ipv6(struct bt_pkt *p, const char *saddr, const char *daddr, uint8_t nexthdr)
{
	struct bt_ipv6hdr h = {
		.ver_tc_flow = htonl(6u << 28), .nexthdr = nexthdr, .hop_limit = 64,
	};

	bt_addr(saddr, h.saddr, NULL);
	bt_addr(daddr, h.daddr, NULL);
	return bt_put(p, &h, sizeof(h));
}

void bt_ipv6_finish(struct bt_pkt *p, size_t off)
{
	struct bt_ipv6hdr *h = (struct bt_ipv6hdr *)(p->b + off);

	h->payload_len = htons(p->len - off - sizeof(*h));
}

size_t bt_tcp(struct bt_pkt *p, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags)
{
	struct bt_tcphdr t = {
		.sport = htons(sport), .dport = htons(dport), .seq = htonl(seq),
		.doff_res = 5 << 4, .flags = flags, .window = htons(65535),
	};

	return bt_put(p, &t, sizeof(t));
}

size_t bt_udp(struct bt_pkt *p, uint16_t sport, uint16_t dport)
{
	struct bt_udphdr u = { .sport = htons(sport), .dport = htons(dport) };

	return bt_put(p, &u, sizeof(u));
}

void bt_udp_finish(struct bt_pkt *p, size_t off)
{
	struct bt_udphdr *u = (struct bt_udphdr *)(p->b + off);

	u->len = htons(p->len - off);
}

size_t bt_esp(struct bt_pkt *p, uint32_t spi, uint64_t seq)
{
	struct bt_esphdr e = { .spi = htonl(spi), .seq = htonl((uint32_t)seq) };

	for (int i = 0; i < 8; i++)
		e.iv[i] = (uint8_t)(seq >> (56 - 8 * i));
	return bt_put(p, &e, sizeof(e));
}

size_t bt_payload(struct bt_pkt *p, size_t n, uint8_t seed)
{
	size_t off = bt_put(p, NULL, n);

	for (size_t i = 0; i < n; i++)
		p->b[off + i] = (uint8_t)(i + seed);
	return off;
}

void bt_meta_insert(struct bt_pkt *p, const struct esptag_meta *m)
{
	struct esptag_meta t = *m;
	uint16_t inner;

	memcpy(&inner, p->b + 12, 2);
	t.tpid = htons(ESPTAG_ETH_P_META);
	t.inner_proto = inner;
	/* The tag's last two bytes replace the frame's EtherType in place. */
	bt_insert(p, 12, &t, ESPTAG_META_LEN);
	memcpy(p->b + 12 + ESPTAG_META_LEN, &inner, 2);
}

struct esptag_sa_maps bt_sa_maps(const struct bt_obj *o)
{
	int n = libbpf_num_possible_cpus();

	return (struct esptag_sa_maps){
		.sad = bt_map_fd(o, "esptag_sad"), .sa_stats = bt_map_fd(o, "esptag_sa_stats"),
		.ncpus = n > 0 ? n : 1,
	};
}
