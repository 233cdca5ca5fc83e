// SPDX-License-Identifier: GPL-2.0-only
/*
 * make bench, BPF side: esptag_rx / esptag_tx against bare programs, run in
 * the same process, interleaved sample by sample.
 *
 *   bench_bpf prog    [-n CALLS] [-s SAMPLES]   benchmarks 1 and 2 (+ helper count)
 *   bench_bpf scale   [-n CALLS] [-s SAMPLES] [-N BIG] [-M CAPACITY]   benchmark 3
 *                     (map capacity defaults to BIG; -M: a different one)
 *   bench_bpf live    -i IFINDEX [-r REPEAT] [-s SAMPLES]   benchmark 4
 *   bench_bpf churn   -i IFINDEX [-r REPEAT] [-s SAMPLES] [-c RATE]   benchmark 8
 *   bench_bpf mapfill [-N SAS] [-s SAMPLES]       raw map baseline of benchmark 7
 *
 * Every measurement is one JSON line on stdout:
 *   {"bench":"rx","what":"esptag_rx","unit":"ns","samples":[...], ...}
 * The driver (scripts/bench) turns them into build/bench/results.json.
 *
 * How per-packet cost is measured (benchmarks 1-3): BPF_PROG_TEST_RUN with
 * repeat=1 and a fresh frame every call (the Rx frame gets the next sequence
 * number, so anti-replay takes its normal "fresh" path; repeat > 1 would run
 * the program on its own output). The kernel's reported duration (ktime
 * around the program run, not the syscall) is recorded per call; a sample is
 * the median of CALLS calls. The bare program goes through the identical
 * call, so both include the same fixed timer overhead; the bare program's
 * cost with repeat=100000 (overhead amortised) is reported beside it.
 *
 * Live frames (4, 8): bench_live_rx (bench/progs/bench_live.bpf.c) restores
 * the template frame with a fresh sequence number and tail-calls the program
 * under test; pps = frames / wall time of the BPF_PROG_RUN call.
 *
 * Pins go under /sys/fs/bpf/et-<pid>-bench*; whatever is left there is
 * removed on every exit (an error, SIGTERM/SIGINT/SIGHUP, the end).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../tests/lib/test.h"
#include "../tests/lib/bpf_test.h"
#include "sa_mirror.h"
#include "bench_bare.skel.h"
#include "bench_live.skel.h"
#include "bench_count.skel.h"

#define BENCH_LIVE_LEN	160		/* bench_live.bpf.c */
#define UDP_PAYLOAD	54		/* makes the Rx wire frame BENCH_LIVE_LEN bytes */
#define OFF_META_SA	28		/* tagged frame: esptag_meta.sa_index */
#define OFF_META_SEQ	36
#define OFF_ESP_SPI	64
#define OFF_ESP_SEQ	68
#define OFF_ESP_IV	72

static const uint8_t mac_us[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mac_peer[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x99 };
#define V4_US		"192.0.2.1"
#define V4_PEER		"203.0.113.5"
#define V4_TX_SRC	"192.0.2.1"
#define V4_TX_DST	"192.0.2.2"
#define V6_TX_SRC	"2001:db8::1"

static int opt_calls = 2000, opt_samples = 7, opt_ifindex, opt_rate = 10000;
static uint32_t opt_big = 1u << 20, opt_repeat = 1000000, opt_cap;
static int ncpus;		/* libbpf_num_possible_cpus(): one per-CPU value each */

/*
 * Everything pinned lives under /sys/fs/bpf/et-<pid>-<tag> (bt_open). On
 * every exit (die, a signal, a normal end) whatever is still there is
 * unpinned: a bench that stops half-way leaves no pins behind.
 */
static void unpin_all(void)
{
	char prefix[32], dir[384], path[768];
	struct dirent *e, *f;
	DIR *root, *d;

	snprintf(prefix, sizeof(prefix), "et-%d-", (int)getpid());
	root = opendir("/sys/fs/bpf");
	if (!root)
		return;
	while ((e = readdir(root))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(dir, sizeof(dir), "/sys/fs/bpf/%s", e->d_name);
		d = opendir(dir);
		if (d) {
			while ((f = readdir(d)))
				if (f->d_name[0] != '.') {
					snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
					unlink(path);
				}
			closedir(d);
		}
		rmdir(dir);
	}
	closedir(root);
}

static void on_signal(int sig)
{
	exit(128 + sig);	/* runs unpin_all (atexit) */
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_bpf: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void pin_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		die("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One JSON line: samples plus optional extra "key":value text. */
static void emit(const char *bench, const char *what, const char *unit, const double *s, int n,
		 const char *extra)
{
	printf("{\"bench\":\"%s\",\"what\":\"%s\",\"unit\":\"%s\",\"samples\":[", bench, what, unit);
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", s[i]);
	printf("]%s%s}\n", extra && *extra ? "," : "", extra ? extra : "");
	fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* Frames and map entries                                                  */

/* The frame the agent hands the host for an IPv4 transport SA: UDP payload
 * of UDP_PAYLOAD bytes, ESP header, decrypted trailer, ICV, Rx tag. */
static void rx_frame(struct bt_pkt *p, uint32_t sa_index, uint32_t spi, uint64_t seq)
{
	struct bt_udphdr u = { htons(40000), htons(4789), htons(8 + UDP_PAYLOAD), 0 };
	struct esptag_meta m = { 0 };
	size_t ip, pad = (4 - (8 + UDP_PAYLOAD + 2) % 4) % 4, trailer;
	uint8_t b;

	p->len = 0;
	bt_l2(p, mac_us, mac_peer, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(p, V4_PEER, V4_US, ESPTAG_IPPROTO_ESP);
	bt_esp(p, spi, seq);
	bt_put(p, &u, sizeof(u));
	bt_payload(p, UDP_PAYLOAD, 7);
	for (size_t i = 1; i <= pad; i++) {
		b = (uint8_t)i;
		bt_put(p, &b, 1);
	}
	b = (uint8_t)pad;
	bt_put(p, &b, 1);
	b = IPPROTO_UDP;
	bt_put(p, &b, 1);
	for (int i = 0; i < ESPTAG_ICV_LEN; i++)
		bt_put(p, "\xc5", 1);
	trailer = pad + 2 + ESPTAG_ICV_LEN;
	bt_ipv4_finish(p, ip);
	m.version = ESPTAG_META_VERSION;
	m.kind = ESPTAG_META_RX;
	m.next_hdr = IPPROTO_UDP;
	m.result = ESPTAG_RES_OK;
	m.esp_off = htons(ip + 20);
	m.payload_off = htons(ip + 20 + sizeof(struct esptag_esp_hdr));
	m.trailer_len = htons(trailer);
	m.sa_index = htonl(sa_index);
	m.seq_lo = htonl((uint32_t)seq);
	bt_meta_insert(p, &m);
}

/* Point a tagged Rx frame at another SA / sequence number in place. */
static void rx_patch(uint8_t *f, uint32_t sa_index, uint32_t spi, uint64_t seq)
{
	uint32_t v;
	uint64_t iv = __builtin_bswap64(seq);

	v = htonl(sa_index);
	memcpy(f + OFF_META_SA, &v, 4);
	v = htonl((uint32_t)seq);
	memcpy(f + OFF_META_SEQ, &v, 4);
	memcpy(f + OFF_ESP_SEQ, &v, 4);
	memcpy(f + OFF_ESP_IV, &iv, 8);
	v = htonl(spi);
	memcpy(f + OFF_ESP_SPI, &v, 4);
}

static void tx_frame4(struct bt_pkt *p)
{
	size_t ip, u;

	p->len = 0;
	bt_l2(p, mac_peer, mac_us, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(p, V4_TX_SRC, V4_TX_DST, IPPROTO_UDP);
	u = bt_udp(p, 40000, 4789);
	bt_payload(p, UDP_PAYLOAD, 3);
	bt_udp_finish(p, u);
	bt_ipv4_finish(p, ip);
}

/* IPv6 destination of SA i in the scaling runs: 2001:db8:1::<i>. */
static void tx_dst6(uint8_t a[16], uint32_t i)
{
	bt_addr("2001:db8:1::", a, NULL);
	a[12] = i >> 24;
	a[13] = i >> 16;
	a[14] = i >> 8;
	a[15] = i;
}

static void tx_frame6(struct bt_pkt *p)
{
	size_t ip, u;

	p->len = 0;
	bt_l2(p, mac_peer, mac_us, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(p, V6_TX_SRC, "2001:db8:1::", IPPROTO_UDP);
	u = bt_udp(p, 40000, 4789);
	bt_payload(p, UDP_PAYLOAD, 3);
	bt_udp_finish(p, u);
	bt_ipv6_finish(p, ip);
}
#define OFF_TX6_DST	(14 + 24)

struct maps {
	int sad, stats, spd, spd_src, spd_host, cfg, pol_use;
	int out_family;			/* of outbound SAs: 4 (default) or 6 */
	struct esptag_sa *sad_map;	/* esptag_sad mapped, as esptagd has it */
	uint32_t sad_n;
};

static void maps_of(const struct bt_obj *o, struct maps *m)
{
	m->sad = bt_map_fd(o, "esptag_sad");
	m->stats = bt_map_fd(o, "esptag_sa_stats");
	m->spd = bt_map_fd(o, "esptag_spd");
	m->spd_src = bt_map_fd(o, "esptag_spd_src");
	m->spd_host = bt_map_fd(o, "esptag_spd_host");
	m->cfg = bt_map_fd(o, "esptag_cfg");
	m->pol_use = bt_map_fd(o, "esptag_pol_use");
	m->out_family = 4;
	if (m->sad < 0 || m->stats < 0 || m->spd < 0 ||
	    m->spd_src < 0 || m->spd_host < 0 || m->cfg < 0 || m->pol_use < 0)
		die("object lacks an esptag map");
	m->sad_map = esptag_sa_mirror_map(m->sad, &m->sad_n);
	if (!m->sad_map)
		die("esptag_sad: cannot map it: %s", strerror(errno));
}

static void maps_free(struct maps *m)
{
	esptag_sa_mirror_unmap(m->sad_map, m->sad_n);
	m->sad_map = NULL;
}

static void sa_value(const struct maps *m, struct esptag_sa *sa, uint8_t dir, uint32_t spi)
{
	memset(sa, 0, sizeof(*sa));
	sa->spi = htonl(spi);
	sa->dir = dir;
	sa->family = dir == ESPTAG_DIR_OUT && m->out_family == 6 ? 6 : 4;
	sa->mode = ESPTAG_MODE_TRANSPORT;
	sa->flags = ESPTAG_SAF_ALIVE;
	sa->icv_len = ESPTAG_ICV_LEN;
	memcpy(sa->local_mac, mac_us, 6);
	if (dir == ESPTAG_DIR_IN) {
		sa->replay_window = 64;
		bt_addr(V4_US, sa->daddr, NULL);
		bt_addr(V4_PEER, sa->saddr, NULL);
	}
}

static uint32_t spi_of(uint32_t idx)
{
	return 0x10000 + idx;
}

/* The per-SA maps of an object, for the SA mirror (user/lib/sa_mirror.h). */
static struct esptag_sa_maps sa_maps(const struct maps *m)
{
	return (struct esptag_sa_maps){ .sad = m->sad, .sa_stats = m->stats, .ncpus = ncpus,
					.map = m->sad_map, .map_n = m->sad_n };
}

/* One SA the way esptagd mirrors an agent-confirmed SA: the SAD entry, its
 * sequence (out) or replay (in) state, zeroed per-SA counters. */
static int sa_install_one(const struct maps *m, uint8_t dir, uint32_t idx)
{
	struct esptag_sa_maps sm = sa_maps(m);
	struct esptag_sa sa;

	sa_value(m, &sa, dir, spi_of(idx));
	return esptag_sa_mirror_write(&sm, idx, &sa, NULL, NULL);
}

/*
 * Install SAs lo..hi-1 like sa_install_one. Batched (the bench's set-up is
 * not what is measured) unless single is set (then it is: the raw baseline
 * of benchmark 7, one bpf_map_update_elem per map and SA).
 */
static int sa_install(const struct maps *m, uint8_t dir, uint32_t lo, uint32_t hi, bool single)
{
	enum { CHUNK = 16384 };
	struct esptag_sa_maps sm = sa_maps(m);
	uint32_t *keys;
	struct esptag_sa *sas;
	int err = 0;

	if (single) {
		for (uint32_t i = lo; i < hi; i++)
			if ((err = sa_install_one(m, dir, i)))
				return err;
		return 0;
	}
	keys = calloc(CHUNK, sizeof(*keys));
	sas = calloc(CHUNK, sizeof(*sas));
	if (!keys || !sas)
		die("out of memory");
	for (uint32_t base = lo; base < hi && !err; base += CHUNK) {
		uint32_t n = hi - base < CHUNK ? hi - base : CHUNK;

		for (uint32_t i = 0; i < n; i++) {
			keys[i] = base + i;
			sa_value(m, &sas[i], dir, spi_of(base + i));
		}
		err = esptag_sa_mirror_write_many(&sm, keys, sas, NULL, NULL, n);
	}
	free(keys);
	free(sas);
	return err;
}

/* The per-SA maps are arrays: removing an SA writes zeroed slots (as esptagd). */
static int sa_remove(const struct maps *m, uint32_t idx)
{
	struct esptag_sa_maps sm = sa_maps(m);

	return esptag_sa_mirror_clear(&sm, idx);
}

/* The policy's zeroed esptag_pol_use entry (per CPU), as esptagd creates
 * one for every policy: the programs count into it. */
static int pol_use_add(const struct maps *m, uint32_t id)
{
	static struct esptag_pol_use *z;
	int err = 0;

	if (!z && !(z = calloc(ncpus, sizeof(*z))))
		return -ENOMEM;
	if (bpf_map_update_elem(m->pol_use, &id, z, BPF_ANY))
		err = -errno;
	return err;
}

/* Policy: destination node id -> one source rule (0/0) with action. */
static int policy_add(const struct maps *m, uint8_t dir, int family, const uint8_t daddr[16],
		      int dplen, uint32_t node, uint32_t sa_index)
{
	struct esptag_spd_key k = { .prefixlen = 32 + dplen, .dir = dir, .family = family };
	struct esptag_spd_node v = { .id = node };
	struct esptag_spd_src_key sk = { .prefixlen = 32, .node = node };
	struct esptag_policy p = { .action = ESPTAG_ACT_PROTECT, .spi = htonl(spi_of(sa_index)),
				   .sa_index = sa_index, .id = node };

	memcpy(k.daddr, daddr, 16);
	if (pol_use_add(m, node) || bpf_map_update_elem(m->spd, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(m->spd_src, &sk, &p, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * A host policy (src/128 -> dst/128, what an IKE daemon installs for
 * transport mode) the way esptagd writes one: its destination node and
 * source element in the LPM, then its esptag_spd_host entry.
 */
static int host_policy_add(const struct maps *m, uint8_t dir, const uint8_t saddr[16],
			   const uint8_t daddr[16], uint32_t node, uint32_t sa_index)
{
	struct esptag_spd_key k = { .prefixlen = 32 + 128, .dir = dir, .family = 6 };
	struct esptag_spd_node v = { .id = node };
	struct esptag_spd_src_key sk = { .prefixlen = 32 + 128, .node = node };
	struct esptag_spd_host_key hk = { .dir = dir, .family = 6 };
	struct esptag_policy p = { .action = ESPTAG_ACT_PROTECT, .spi = htonl(spi_of(sa_index)),
				   .sa_index = sa_index, .id = node };

	memcpy(k.daddr, daddr, 16);
	memcpy(sk.saddr, saddr, 16);
	memcpy(hk.saddr, saddr, 16);
	memcpy(hk.daddr, daddr, 16);
	if (pol_use_add(m, node) || bpf_map_update_elem(m->spd, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(m->spd_src, &sk, &p, BPF_ANY) ||
	    bpf_map_update_elem(m->spd_host, &hk, &p, BPF_ANY))
		return -errno;
	return 0;
}

/* esptag_cfg as esptagd keeps it: flags and its clock (clock_s). */
static int cfg_flags(const struct maps *m, uint32_t flags)
{
	struct esptag_cfg c = { .flags = flags, .clock_s = (uint32_t)(now_ns() / 1000000000ull) };
	uint32_t zero = 0;

	return bpf_map_update_elem(m->cfg, &zero, &c, BPF_ANY);
}

static int cfg_up(const struct maps *m)
{
	return cfg_flags(m, ESPTAG_CFGF_AGENT_UP);
}

/* Resize the SA maps (and the SPD tries) before load. */
static int set_max(struct bpf_object *obj, void *arg)
{
	uint32_t n = *(uint32_t *)arg;
	static const char *const sa_maps[] = { "esptag_sad", "esptag_sa_stats" };
	/* per-policy maps, by policy id */
	static const char *const pol_maps[] = { "esptag_pol_use", "esptag_acq_pend",
						"esptag_pol_tmpl" };
	struct bpf_map *m;

	for (size_t i = 0; i < sizeof(sa_maps) / sizeof(sa_maps[0]); i++)
		if ((m = bpf_object__find_map_by_name(obj, sa_maps[i])) &&
		    bpf_map__set_max_entries(m, n))
			return -EINVAL;
	for (size_t i = 0; i < sizeof(pol_maps) / sizeof(pol_maps[0]); i++)
		if ((m = bpf_object__find_map_by_name(obj, pol_maps[i])) &&
		    bpf_map__set_max_entries(m, n + 16))
			return -EINVAL;
	if ((m = bpf_object__find_map_by_name(obj, "esptag_spd")) && bpf_map__set_max_entries(m, n + 16))
		return -EINVAL;
	if ((m = bpf_object__find_map_by_name(obj, "esptag_spd_src")) &&
	    bpf_map__set_max_entries(m, n + 16))
		return -EINVAL;
	if ((m = bpf_object__find_map_by_name(obj, "esptag_spd_host")) &&
	    bpf_map__set_max_entries(m, n + 16))
		return -EINVAL;
	return 0;
}

static void open_obj(struct bt_obj *o, const char *rel, const char *tag, uint32_t max)
{
	if (bt_open(o, rel, tag, max ? set_max : NULL, &max))
		die("cannot load %s (run make; scripts/bpffs)", rel);
}

/* ---------------------------------------------------------------------- */
/* repeat=1 timing                                                         */

struct runner {
	int fd;
	bool xdp;
	uint8_t *frame;
	size_t len;
	uint32_t want;			/* expected verdict */
	/* per call: choose the SA and patch the frame (NULL: frame as is) */
	void (*next)(struct runner *r, uint64_t i);
	void *arg;
};

static uint8_t out_buf[BT_PKT_MAX + 4096];

static uint32_t run_once(struct runner *r, uint32_t *retval)
{
	struct xdp_md xctx = { .data = 0, .data_end = r->len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = r->frame, .data_size_in = r->len,
		    .data_out = out_buf, .data_size_out = sizeof(out_buf), .repeat = 1);

	if (r->xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	if (bpf_prog_test_run_opts(r->fd, &o))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	*retval = o.retval;
	return o.duration;
}

/*
 * One sample: mean kernel duration (ns) of opt_calls calls, without the
 * fastest and slowest 10% (interrupts; the clock ticks in steps of ~10 ns
 * here, so a plain median would be quantised).
 */
static double sample(struct runner *r, uint64_t *ctr)
{
	double *d = calloc(opt_calls, sizeof(*d)), med;
	uint32_t rv;

	for (int i = 0; i < opt_calls; i++) {
		if (r->next)
			r->next(r, (*ctr)++);
		d[i] = run_once(r, &rv);
		if (rv != r->want)
			die("unexpected verdict %u (want %u) on call %d", rv, r->want, i);
	}
	qsort(d, opt_calls, sizeof(*d), cmp_dbl);
	{
		int lo = opt_calls / 10, hi = opt_calls - opt_calls / 10;
		double sum = 0;

		for (int i = lo; i < hi; i++)
			sum += d[i];
		med = sum / (hi - lo);
	}
	free(d);
	return med;
}

/* Bare program's cost with the timer overhead amortised over many runs. */
static double amortised(int fd, bool xdp, const uint8_t *frame, size_t len)
{
	struct xdp_md xctx = { .data = 0, .data_end = len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = out_buf, .data_size_out = sizeof(out_buf), .repeat = 100000);
	double v[5];

	if (xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	for (int i = 0; i < 5; i++) {
		o.data_size_out = sizeof(out_buf);
		if (bpf_prog_test_run_opts(fd, &o))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		v[i] = o.duration;
	}
	return median(v, 5);
}

/* Rx frames: the next sequence number of one hot SA. */
struct rx_hot {
	uint32_t sa;
	uint64_t seq;
};

static void rx_next_hot(struct runner *r, uint64_t i)
{
	struct rx_hot *h = r->arg;

	rx_patch(r->frame, h->sa, spi_of(h->sa), ++h->seq);
}

/* ---------------------------------------------------------------------- */
/* prog: benchmarks 1 and 2                                                */

static void count_helpers(int tx_fd, struct bt_pkt *tx)
{
	struct bench_count *c;
	uint32_t rv;
	struct runner r = { .fd = tx_fd, .frame = tx->b, .len = tx->len };
	const int n = 1000;
	char cmd[128], line[512], extra[256];
	struct bpf_prog_info info = { 0 };
	uint32_t ilen = sizeof(info);
	int sites_adj = -1, sites_ch = -1;
	FILE *f;

	/* Call sites in the verified program (what it could do). */
	if (!bpf_obj_get_info_by_fd(tx_fd, &info, &ilen)) {
		snprintf(cmd, sizeof(cmd), "bpftool prog dump xlated id %u 2>/dev/null", info.id);
		f = popen(cmd, "r");
		if (f) {
			sites_adj = sites_ch = 0;
			while (fgets(line, sizeof(line), f)) {
				sites_adj += !!strstr(line, "bpf_skb_adjust_room");
				sites_ch += !!strstr(line, "bpf_skb_change_head");
			}
			pclose(f);
		}
	}
	/* Calls made per packet (what it does), counted by fentry probes
	 * where the kernel allows tracing programs. */
	libbpf_set_print(NULL);
	c = bench_count__open();
	if (!c) {
		snprintf(extra, sizeof(extra), "\"error\":\"fentry counters unavailable\","
			 "\"sites_adjust_room\":%d,\"sites_change_head\":%d", sites_adj, sites_ch);
		emit("tx_helpers", "per_packet", "calls", NULL, 0, extra);
		return;
	}
	c->rodata->target_tgid = getpid();
	if (bench_count__load(c) || bench_count__attach(c)) {
		bench_count__destroy(c);
		snprintf(extra, sizeof(extra), "\"error\":\"fentry attach failed\","
			 "\"sites_adjust_room\":%d,\"sites_change_head\":%d", sites_adj, sites_ch);
		emit("tx_helpers", "per_packet", "calls", NULL, 0, extra);
		return;
	}
	c->bss->n_adjust_room = c->bss->n_change_head = 0;
	for (int i = 0; i < n; i++) {
		run_once(&r, &rv);
		if (rv != TC_ACT_OK)
			die("tx verdict %u", rv);
	}
	{
		double per = (double)(c->bss->n_adjust_room + c->bss->n_change_head) / n;

		snprintf(extra, sizeof(extra),
			 "\"packets\":%d,\"adjust_room\":%llu,\"change_head\":%llu,"
			 "\"sites_adjust_room\":%d,\"sites_change_head\":%d",
			 n, (unsigned long long)c->bss->n_adjust_room,
			 (unsigned long long)c->bss->n_change_head, sites_adj, sites_ch);
		emit("tx_helpers", "per_packet", "calls", &per, 1, extra);
	}
	bench_count__destroy(c);
	libbpf_set_print(NULL);
}

static void cmd_prog(void)
{
	struct bt_obj rx, tx;
	struct maps m;
	struct bench_bare *bare = bench_bare__open_and_load();
	struct bt_pkt rxf, txf;
	struct rx_hot hot = { .sa = 7, .seq = 0 };
	uint8_t node_addr[16];
	uint64_t ctr = 0;
	double s_bx[64], s_rx[64], s_bt[64], s_tx[64], am_x, am_t;
	char extra[256];
	uint64_t before[ESPTAG_CNT_MAX], after[ESPTAG_CNT_MAX];

	if (!bare)
		die("cannot load bench_bare");
	open_obj(&rx, "bpf/esptag_rx.bpf.o", "bench", 0);
	open_obj(&tx, "bpf/esptag_tx.bpf.o", "bench", 0);	/* shares the pinned maps */
	maps_of(&rx, &m);
	if (sa_install(&m, ESPTAG_DIR_IN, hot.sa, hot.sa + 1, false) ||
	    sa_install(&m, ESPTAG_DIR_OUT, 8, 9, false) || cfg_up(&m))
		die("SA install: %s", strerror(errno));
	/* Inbound: 192.0.2.1/32 must arrive protected. Outbound: 192.0.2.2/32 protect SA 8. */
	bt_addr(V4_US, node_addr, NULL);
	if (policy_add(&m, ESPTAG_DIR_IN, 4, node_addr, 32, 1, hot.sa))
		die("policy: %s", strerror(errno));
	bt_addr(V4_TX_DST, node_addr, NULL);
	if (policy_add(&m, ESPTAG_DIR_OUT, 4, node_addr, 32, 2, 8))
		die("policy: %s", strerror(errno));

	rx_frame(&rxf, hot.sa, spi_of(hot.sa), 1);
	tx_frame4(&txf);
	struct runner r_bx = { bpf_program__fd(bare->progs.bare_xdp_pass), true, rxf.b, rxf.len,
			       XDP_PASS, NULL, NULL };
	struct runner r_rx = { bt_prog_fd(&rx, "esptag_rx"), true, rxf.b, rxf.len, XDP_PASS,
			       rx_next_hot, &hot };
	struct runner r_bt = { bpf_program__fd(bare->progs.bare_tc), false, txf.b, txf.len,
			       TC_ACT_OK, NULL, NULL };
	struct runner r_tx = { bt_prog_fd(&tx, "esptag_tx"), false, txf.b, txf.len, TC_ACT_OK,
			       NULL, NULL };

	/* The frames take the paths we mean to measure. */
	bt_counters(&rx, before);
	sample(&r_rx, &ctr);
	sample(&r_tx, &ctr);
	bt_counters(&rx, after);
	if (after[ESPTAG_CNT_RX_OK] - before[ESPTAG_CNT_RX_OK] != (uint64_t)opt_calls ||
	    after[ESPTAG_CNT_TX_PROTECT] - before[ESPTAG_CNT_TX_PROTECT] != (uint64_t)opt_calls)
		die("frames did not take the rx_ok / tx_protect paths (%llu, %llu of %d)",
		    (unsigned long long)(after[ESPTAG_CNT_RX_OK] - before[ESPTAG_CNT_RX_OK]),
		    (unsigned long long)(after[ESPTAG_CNT_TX_PROTECT] - before[ESPTAG_CNT_TX_PROTECT]),
		    opt_calls);
	for (int s = 0; s < opt_samples; s++) {
		s_bx[s] = sample(&r_bx, &ctr);
		s_rx[s] = sample(&r_rx, &ctr);
		s_bt[s] = sample(&r_bt, &ctr);
		s_tx[s] = sample(&r_tx, &ctr);
	}
	am_x = amortised(r_bx.fd, true, rxf.b, rxf.len);
	am_t = amortised(r_bt.fd, false, txf.b, txf.len);
	snprintf(extra, sizeof(extra), "\"frame_len\":%zu,\"calls_per_sample\":%d", rxf.len, opt_calls);
	emit("rx", "bare_xdp_pass", "ns", s_bx, opt_samples, extra);
	emit("rx", "esptag_rx", "ns", s_rx, opt_samples, extra);
	emit("rx", "bare_xdp_pass_amortised", "ns", &am_x, 1, "\"repeat\":100000");
	snprintf(extra, sizeof(extra), "\"frame_len\":%zu,\"calls_per_sample\":%d", txf.len, opt_calls);
	emit("tx", "bare_tc", "ns", s_bt, opt_samples, extra);
	emit("tx", "esptag_tx", "ns", s_tx, opt_samples, extra);
	emit("tx", "bare_tc_amortised", "ns", &am_t, 1, "\"repeat\":100000");
	count_helpers(r_tx.fd, &txf);
	libbpf_set_print(NULL);	/* the second bt_close finds the shared pins gone */

	maps_free(&m);
	bt_close(&tx);
	bt_close(&rx);
	bench_bare__destroy(bare);
}

/* ---------------------------------------------------------------------- */
/* scale: benchmark 3                                                      */

struct rx_set {
	uint32_t n;			/* SAs installed: 0..n-1 */
	bool uniform;			/* else the hot set: 1024 SAs spread over n */
	bool contiguous;		/* hot set = SAs 0..1023 (installed first) */
	uint32_t *seq;			/* per SA */
	uint64_t rng;
};

static uint32_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 11);
}

static uint32_t pick(struct rx_set *s, uint64_t i)
{
	if (s->uniform)
		return rng_next(&s->rng) % s->n;
	if (s->contiguous)
		return (uint32_t)(i % 1024);
	return (uint32_t)((i % 1024) * (s->n / 1024));
}

static void rx_next_set(struct runner *r, uint64_t i)
{
	struct rx_set *s = r->arg;
	uint32_t sa = pick(s, i);

	rx_patch(r->frame, sa, spi_of(sa), ++s->seq[sa]);
}

static void tx_next_set(struct runner *r, uint64_t i)
{
	struct rx_set *s = r->arg;
	uint8_t a[16];

	tx_dst6(a, pick(s, i));
	memcpy(r->frame + OFF_TX6_DST, a, 16);
}

struct scale_env {
	struct bt_obj rx, tx;
	struct maps mr, mt;
	uint32_t n;
	double t_install;
};

static void scale_setup(struct scale_env *e, uint32_t n, const char *tag_rx, const char *tag_tx)
{
	uint8_t a[16], src[16];
	uint64_t t0 = now_ns();

	e->n = n;
	open_obj(&e->rx, "bpf/esptag_rx.bpf.o", tag_rx, opt_cap ? opt_cap : opt_big);
	open_obj(&e->tx, "bpf/esptag_tx.bpf.o", tag_tx, opt_cap ? opt_cap : opt_big);
	maps_of(&e->rx, &e->mr);
	maps_of(&e->tx, &e->mt);
	e->mt.out_family = 6;
	if (sa_install(&e->mr, ESPTAG_DIR_IN, 0, n, false) ||
	    sa_install(&e->mt, ESPTAG_DIR_OUT, 0, n, false) ||
	    /* host policies exist: esptag_spd_host is looked at (as esptagd sets it) */
	    cfg_flags(&e->mt, ESPTAG_CFGF_AGENT_UP | ESPTAG_CFGF_SPD_HOST))
		die("installing %u SAs: %s", n, strerror(errno));
	/* Every outbound SA has its host policy:
	 * 2001:db8::1/128 -> 2001:db8:1::<i>/128 protect SA i. */
	bt_addr(V6_TX_SRC, src, NULL);
	for (uint32_t i = 0; i < n; i++) {
		tx_dst6(a, i);
		if (host_policy_add(&e->mt, ESPTAG_DIR_OUT, src, a, i + 1, i))
			die("policy %u: %s", i, strerror(errno));
	}
	e->t_install = (now_ns() - t0) / 1e9;
}

static void scale_close(struct scale_env *e)
{
	maps_free(&e->mr);
	maps_free(&e->mt);
	bt_close(&e->tx);
	bt_close(&e->rx);
}

static void cmd_scale(void)
{
	static struct scale_env small, big;
	struct bt_pkt rxf, txf;
	uint32_t *seq = calloc(opt_big, sizeof(*seq));
	/* The hot set spread over the big SAD (the case of the target), the
	 * same sizes with uniform picks, and a diagnostic: a hot set of the
	 * first 1024 SAs installed (adjacent in memory) in the big SAD. */
	struct rx_set sets[5] = {
		{ 1024, false, false, seq, 1 }, { opt_big, false, false, seq, 1 },
		{ 1024, true, false, seq, 88172645463325252ull },
		{ opt_big, true, false, seq, 88172645463325252ull },
		{ opt_big, false, true, seq, 1 },
	};
	static const char *const names[5] = { "1k_hot", "big_hot", "1k_uniform", "big_uniform",
					       "big_hot_adjacent" };
	double srx[5][64], stx[5][64];
	uint64_t ctr = 0;
	char extra[256];

	if (!seq)
		die("out of memory");
	if (opt_big < 2048 || (opt_cap && opt_cap < opt_big))
		die("scale needs -N >= 2048 and -M >= -N");
	scale_setup(&small, 1024, "bench-rx-1k", "bench-tx-1k");
	scale_setup(&big, opt_big, "bench-rx-big", "bench-tx-big");
	rx_frame(&rxf, 0, spi_of(0), 1);
	tx_frame6(&txf);
	for (int s = 0; s < opt_samples; s++)
		for (int k = 0; k < 5; k++) {
			struct scale_env *e = sets[k].n == 1024 ? &small : &big;
			struct runner rr = { bt_prog_fd(&e->rx, "esptag_rx"), true, rxf.b, rxf.len,
					     XDP_PASS, rx_next_set, &sets[k] };
			struct runner rt = { bt_prog_fd(&e->tx, "esptag_tx"), false, txf.b, txf.len,
					     TC_ACT_OK, tx_next_set, &sets[k] };

			srx[k][s] = sample(&rr, &ctr);
			stx[k][s] = sample(&rt, &ctr);
		}
	for (int k = 0; k < 5; k++) {
		snprintf(extra, sizeof(extra), "\"sas\":%u,\"map_max_entries\":%u,\"install_s\":%.2f",
			 sets[k].n, opt_cap ? opt_cap : opt_big, (sets[k].n == 1024 ? &small : &big)->t_install);
		emit("scale_rx", names[k], "ns", srx[k], opt_samples, extra);
		emit("scale_tx", names[k], "ns", stx[k], opt_samples, extra);
	}
	scale_close(&big);
	scale_close(&small);
	free(seq);
}

/* ---------------------------------------------------------------------- */
/* live frames: benchmarks 4 and 8                                         */

struct live_env {
	struct bt_obj rx;
	struct maps m;
	struct bench_bare *bare;
	struct bench_live *live;
	struct bt_pkt f;
	uint32_t hot;
};

static void live_setup(struct live_env *e)
{
	uint32_t zero = 0;
	uint8_t a[16];

	e->hot = 7;
	e->bare = bench_bare__open_and_load();
	e->live = bench_live__open();
	if (!e->bare || !e->live)
		die("cannot open the bench programs");
	e->live->rodata->ncpus = ncpus;
	if (bench_live__load(e->live))
		die("cannot load bench_live");
	open_obj(&e->rx, "bpf/esptag_rx.bpf.o", "bench-live", 0);
	maps_of(&e->rx, &e->m);
	if (sa_install(&e->m, ESPTAG_DIR_IN, e->hot, e->hot + 1, false))
		die("SA install: %s", strerror(errno));
	bt_addr(V4_US, a, NULL);
	if (policy_add(&e->m, ESPTAG_DIR_IN, 4, a, 32, 1, e->hot))
		die("policy: %s", strerror(errno));
	rx_frame(&e->f, e->hot, spi_of(e->hot), 1);
	if (e->f.len != BENCH_LIVE_LEN)
		die("template frame is %zu bytes, bench_live.bpf.c expects %d", e->f.len,
		    BENCH_LIVE_LEN);
	if (bpf_map_update_elem(bpf_map__fd(e->live->maps.bench_tmpl), &zero, e->f.b, BPF_ANY))
		die("template: %s", strerror(errno));
}

static void live_close(struct live_env *e)
{
	maps_free(&e->m);
	bt_close(&e->rx);
	bench_live__destroy(e->live);
	bench_bare__destroy(e->bare);
}

/* Run repeat live frames through fd; returns pps. Target via the front end
 * when target_fd >= 0. */
static double live_run(struct live_env *e, int fd, int target_fd)
{
	struct xdp_md ctx = { .data = 0, .data_end = e->f.len, .ingress_ifindex = opt_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = e->f.b, .data_size_in = e->f.len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = opt_repeat,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	uint32_t zero = 0;
	uint64_t t0;

	if (target_fd >= 0 &&
	    bpf_map_update_elem(bpf_map__fd(e->live->maps.bench_jmp), &zero, &target_fd, BPF_ANY))
		die("prog array: %s", strerror(errno));
	t0 = now_ns();
	if (bpf_prog_test_run_opts(fd, &o))
		die("live frames run: %s (ifindex %d)", strerror(errno), opt_ifindex);
	return opt_repeat / ((now_ns() - t0) / 1e9);
}

static uint64_t rx_ok(struct live_env *e)
{
	uint64_t c[ESPTAG_CNT_MAX];

	if (bt_counters(&e->rx, c))
		die("counters");
	return c[ESPTAG_CNT_RX_OK];
}

static void cmd_live(void)
{
	struct live_env e;
	double s_drop[64], s_fdrop[64], s_fpass[64], s_rx[64];
	uint64_t ok0, ok1;
	char extra[256];
	int front;

	live_setup(&e);
	front = bpf_program__fd(e.live->progs.bench_live_rx);
	ok0 = rx_ok(&e);
	for (int s = 0; s < opt_samples; s++) {
		s_drop[s] = live_run(&e, bpf_program__fd(e.bare->progs.bare_xdp_drop), -1);
		s_fdrop[s] = live_run(&e, front, bpf_program__fd(e.bare->progs.bare_xdp_drop));
		s_fpass[s] = live_run(&e, front, bpf_program__fd(e.bare->progs.bare_xdp_pass));
		s_rx[s] = live_run(&e, front, bt_prog_fd(&e.rx, "esptag_rx"));
	}
	ok1 = rx_ok(&e);
	snprintf(extra, sizeof(extra), "\"frames_per_sample\":%u,\"frame_len\":%d", opt_repeat,
		 BENCH_LIVE_LEN);
	emit("live", "bare_xdp_drop", "pps", s_drop, opt_samples, extra);
	emit("live", "front_xdp_drop", "pps", s_fdrop, opt_samples, extra);
	emit("live", "front_xdp_pass", "pps", s_fpass, opt_samples, extra);
	snprintf(extra, sizeof(extra), "\"frames_per_sample\":%u,\"frame_len\":%d,"
		 "\"rx_ok\":%llu,\"frames\":%llu", opt_repeat, BENCH_LIVE_LEN,
		 (unsigned long long)(ok1 - ok0), (unsigned long long)opt_repeat * opt_samples);
	emit("live", "front_esptag_rx", "pps", s_rx, opt_samples, extra);
	live_close(&e);
}

/* Churn: paced SA adds and removes (raw map operations, what esptagd does
 * after the agent's reply) on another CPU. */
static atomic_int churn_on, churn_quit;
static atomic_ullong churn_ops;

static void *churn_thread(void *arg)
{
	struct live_env *e = arg;
	/* Agent indices are below its capacity (the per-SA maps are arrays of
	 * ESPTAG_SAD_MAX slots): churn over 40000..59999, away from the hot 7. */
	const uint32_t base = 40000, span = 20000;
	uint32_t next_add = 0, next_del = 0;
	uint64_t t, tick = 1000000;	/* 1 ms */
	int per_tick = opt_rate / 1000 / 2;	/* adds, and as many removes */

	pin_cpu(ncpus > 1 ? 1 : 0);
	if (per_tick < 1)
		per_tick = 1;
	/* Keep span/2 SAs installed: remove the oldest as new ones arrive. */
	for (; next_add < span / 2; next_add++)
		if (sa_install(&e->m, ESPTAG_DIR_IN, base + next_add, base + next_add + 1, true))
			die("churn install: %s", strerror(errno));
	t = now_ns();
	while (!churn_quit) {
		if (!churn_on) {
			usleep(1000);
			t = now_ns();
			continue;
		}
		for (int i = 0; i < per_tick; i++) {
			uint32_t a = base + next_add++ % span, d = base + next_del++ % span;

			sa_install_one(&e->m, ESPTAG_DIR_IN, a);
			sa_remove(&e->m, d);
			churn_ops += 2;
		}
		/* Sleep, not spin: a spinning thread would slow its sibling
		 * hyperthread, which is not what churn costs. */
		t += tick;
		{
			struct timespec ts = { t / 1000000000ull, t % 1000000000ull };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	return NULL;
}

static void cmd_churn(void)
{
	struct live_env e;
	double s_st[64], s_ch[64], rate[64];
	pthread_t th;
	int front, rx;
	uint64_t ops0, t0, ok0, ok1;
	char extra[256];

	live_setup(&e);
	front = bpf_program__fd(e.live->progs.bench_live_rx);
	rx = bt_prog_fd(&e.rx, "esptag_rx");
	if (pthread_create(&th, NULL, churn_thread, &e))
		die("pthread_create");
	usleep(200000);
	ok0 = rx_ok(&e);
	for (int s = 0; s < opt_samples; s++) {
		churn_on = 0;
		usleep(20000);
		s_st[s] = live_run(&e, front, rx);
		churn_on = 1;
		usleep(20000);
		ops0 = churn_ops;
		t0 = now_ns();
		s_ch[s] = live_run(&e, front, rx);
		rate[s] = (churn_ops - ops0) / ((now_ns() - t0) / 1e9);
	}
	churn_quit = 1;
	pthread_join(th, NULL);
	ok1 = rx_ok(&e);
	snprintf(extra, sizeof(extra), "\"frames_per_sample\":%u,\"rx_ok\":%llu,\"frames\":%llu",
		 opt_repeat, (unsigned long long)(ok1 - ok0),
		 (unsigned long long)opt_repeat * opt_samples * 2);
	emit("churn", "steady", "pps", s_st, opt_samples, extra);
	emit("churn", "churn", "pps", s_ch, opt_samples, extra);
	emit("churn", "churn_ops_per_s", "ops/s", rate, opt_samples, NULL);
	live_close(&e);
}

/* ---------------------------------------------------------------------- */
/* mapfill: raw baseline of benchmark 7                                    */

static void cmd_mapfill(void)
{
	struct bt_obj tx;
	struct maps m;
	double s[64];
	uint32_t n = opt_big;

	open_obj(&tx, "bpf/esptag_tx.bpf.o", "bench-fill", 0);
	maps_of(&tx, &m);
	for (int i = 0; i < opt_samples; i++) {
		uint64_t t0 = now_ns();

		if (sa_install(&m, ESPTAG_DIR_OUT, 1, n + 1, true))
			die("map update: %s", strerror(errno));
		s[i] = n / ((now_ns() - t0) / 1e9);
		for (uint32_t k = 1; k <= n; k++)
			sa_remove(&m, k);
	}
	emit("mapfill", "raw_map_update", "SAs/s", s, opt_samples,
	     "\"maps_per_sa\":2,\"note\":\"esptag_sa_stats + esptag_sad (its state in the value, flags then stored through the mapping), one bpf_map_update_elem each\"");
	maps_free(&m);
	bt_close(&tx);
}

int main(int argc, char **argv)
{
	const char *cmd;
	int c;

	if (argc < 2)
		die("usage: bench_bpf prog|scale|live|churn|mapfill [-n CALLS] [-s SAMPLES] "
		    "[-N SAS] [-i IFINDEX] [-r REPEAT] [-c RATE]");
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "n:s:N:M:i:r:c:")) != -1) {
		switch (c) {
		case 'n': opt_calls = atoi(optarg); break;
		case 's': opt_samples = atoi(optarg); break;
		case 'N': opt_big = strtoul(optarg, NULL, 0); break;
		case 'M': opt_cap = strtoul(optarg, NULL, 0); break;
		case 'i': opt_ifindex = atoi(optarg); break;
		case 'r': opt_repeat = strtoul(optarg, NULL, 0); break;
		case 'c': opt_rate = atoi(optarg); break;
		default: die("bad option");
		}
	}
	if (opt_calls < 1 || opt_samples < 1 || opt_samples > 64 || opt_big < 1 ||
	    opt_repeat < 1 || opt_rate < 1000)
		die("option out of range (samples 1..64, -c >= 1000)");
	/* A per-CPU map value is one element per possible CPU (not online). */
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 1)
		die("cannot count CPUs");
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(unpin_all);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	/* The measuring thread runs on CPU 0 (the churn thread on CPU 1). */
	pin_cpu(0);
	if (!strcmp(cmd, "prog"))
		cmd_prog();
	else if (!strcmp(cmd, "scale"))
		cmd_scale();
	else if (!strcmp(cmd, "live") || !strcmp(cmd, "churn")) {
		if (opt_ifindex <= 0)
			die("%s needs -i IFINDEX (a veth in this network namespace)", cmd);
		if (!strcmp(cmd, "live"))
			cmd_live();
		else
			cmd_churn();
	} else if (!strcmp(cmd, "mapfill"))
		cmd_mapfill();
	else
		die("unknown command '%s'", cmd);
	return 0;
}
