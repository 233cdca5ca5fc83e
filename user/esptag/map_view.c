// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag map: the pinned BPF maps of an esptagd instance as an operator
 * wants to read them. The per-SA maps are arrays with every slot present
 * (an unused one all zero), and esptag_sad holds the SPI in network byte
 * order as on the wire, so `bpftool map dump` prints 65536 slots with
 * byte-swapped SPIs. This view reads the same pins (no daemon needed),
 * skips the empty slots, sums per-CPU values and prints SPIs in host order.
 *
 *   esptag map [list] [dev DEV | pin DIR]      the maps, their sizes and use
 *   esptag map MAP [dev DEV | pin DIR]         the non-empty entries of MAP:
 *        sad, seq, replay, sa_stats, sa_life, spd, stats, cfg, ports
 * seq, replay and sa_life are views of the esptag_sad values (each SA's Tx
 * sequence, Rx replay window and lifetime live there), named after the maps
 * that held them in earlier builds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <esptag/maps.h>
#include "cli.h"
#include "esptag_proto.h"

struct map_ctx {
	char dir[512];
};

static bool is_dir_with_sad(const char *dir)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/esptag_sad", dir);
	return !stat(p, &st);
}

/* The pin directory: pin DIR, or esptagd's default for dev (its own
 * directory, else iproute2's tc globals when esptagd adopted those). */
static int find_dir(struct map_ctx *c, const char *dev, const char *pin)
{
	if (pin) {
		snprintf(c->dir, sizeof(c->dir), "%s", pin);
		if (!is_dir_with_sad(c->dir)) {
			fprintf(stderr, "esptag: no esptag maps pinned in %s\n", c->dir);
			return -1;
		}
		return 0;
	}
	if (!dev) {
		fprintf(stderr, "esptag: map needs dev DEV or pin DIR\n");
		return -1;
	}
	snprintf(c->dir, sizeof(c->dir), "/sys/fs/bpf/esptag/%s", dev);
	if (is_dir_with_sad(c->dir))
		return 0;
	snprintf(c->dir, sizeof(c->dir), "/sys/fs/bpf/tc/globals");
	if (is_dir_with_sad(c->dir))
		return 0;
	fprintf(stderr, "esptag: no esptag maps pinned for %s (/sys/fs/bpf/esptag/%s, "
		"/sys/fs/bpf/tc/globals); is esptagd running, is bpffs mounted?\n", dev, dev);
	return -1;
}

static int open_map(const struct map_ctx *c, const char *name, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", c->dir, name);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -1;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static const char *family_addr(uint8_t family, const uint8_t a[16], char *buf, size_t len)
{
	if (family != 4 && family != 6)
		return "-";
	return esptag_addr_str(family, a, buf, len);
}

/* One esptag_sad slot. */
static void print_sad(uint32_t idx, const struct esptag_sa *sa)
{
	char s[64], d[64], mac[24];
	uint32_t spi = ntohl(sa->spi);

	cli_mac_s(sa->local_mac, mac);
	family_addr(sa->family, sa->saddr, s, sizeof(s));
	family_addr(sa->family, sa->daddr, d, sizeof(d));
	if (cli_json) {
		struct json_w *w = &cli_jw;

		json_obj(w);
		json_ku64(w, "index", idx);
		json_ku64(w, "spi", spi);
		json_kstr(w, "dir", cli_dir_s(sa->dir));
		json_ku64(w, "family", sa->family);
		json_kstr(w, "mode", cli_mode_s(sa->mode));
		json_kbool(w, "alive", sa->flags & ESPTAG_SAF_ALIVE);
		json_kbool(w, "esn", sa->flags & ESPTAG_SAF_ESN);
		json_ku64(w, "ifindex", sa->ifindex);
		json_kstr(w, "local_mac", mac);
		json_key(w, "vlans");
		json_arr(w);
		for (int i = 0; i < sa->nvlans && i < 2; i++)
			json_u64(w, ntohs(sa->vlan[i].tci) & 0xfff);
		json_end(w);
		json_kstr(w, "src", s);
		json_kstr(w, "dst", d);
		json_ku64(w, "replay_window", sa->replay_window);
		json_ku64(w, "reqid", sa->reqid);
		json_ku64(w, "expires_ns", sa->expires_ns);
		json_end(w);
		return;
	}
	printf("%u: spi 0x%08x dir %s mode %s src %s dst %s reqid %u%s%s\n", idx, spi,
	       cli_dir_s(sa->dir), cli_mode_s(sa->mode), s, d,
	       sa->reqid, sa->flags & ESPTAG_SAF_ALIVE ? " alive" : " not-alive",
	       sa->flags & ESPTAG_SAF_ESN ? " esn" : "");
	printf("\tifindex %u local-mac %s", sa->ifindex, mac);
	for (int i = 0; i < sa->nvlans && i < 2; i++)
		printf(" vlan %u", ntohs(sa->vlan[i].tci) & 0xfff);
	if (sa->dir == ESPTAG_DIR_IN)
		printf(" replay-window %u", sa->replay_window);
	if (sa->expires_ns)
		printf(" expires-ns %" PRIu64, (uint64_t)sa->expires_ns);
	printf("\n");
}

/* The SPI of slot idx in esptag_sad (0 if none), for the other per-SA views. */
static uint32_t sad_spi(int sad_fd, uint32_t idx, uint8_t *dir)
{
	struct esptag_sa sa;

	*dir = 0;
	if (sad_fd < 0 || bpf_map_lookup_elem(sad_fd, &idx, &sa) || ESPTAG_SA_EMPTY(&sa))
		return 0;
	*dir = sa.dir;
	return ntohl(sa.spi);
}

static void entry_head(uint32_t idx, uint32_t spi, uint8_t dir)
{
	if (cli_json) {
		json_obj(&cli_jw);
		json_ku64(&cli_jw, "index", idx);
		json_ku64(&cli_jw, "spi", spi);
		json_kstr(&cli_jw, "dir", cli_dir_s(dir));
	} else {
		printf("%u: spi 0x%08x dir %s", idx, spi, cli_dir_s(dir));
	}
}

static void entry_u64(const char *k, uint64_t v)
{
	if (cli_json)
		json_ku64(&cli_jw, k, v);
	else
		printf(" %s %" PRIu64, k, v);
}

static void entry_end(void)
{
	if (cli_json)
		json_end(&cli_jw);
	else
		printf("\n");
}

/* The per-SA arrays: every non-empty slot. */
static int view_array(const struct map_ctx *c, const char *which)
{
	struct bpf_map_info info, sinfo;
	int ncpu = libbpf_num_possible_cpus();
	int fd, sad_fd = -1, rc = ESPTAG_EXIT_OK;
	char name[64];
	uint8_t *val;
	size_t vsz;

	/* The SA's state, in its esptag_sad value: where in it, how big. */
	size_t soff = 0, ssz = 0;

	if (!strcmp(which, "seq")) {
		soff = offsetof(struct esptag_sa, seq);
		ssz = sizeof(struct esptag_seq);
	} else if (!strcmp(which, "replay")) {
		soff = offsetof(struct esptag_sa, replay);
		ssz = sizeof(struct esptag_replay);
	} else if (!strcmp(which, "sa_life")) {
		soff = offsetof(struct esptag_sa, life);
		ssz = sizeof(struct esptag_sa_life);
	}
	snprintf(name, sizeof(name), "esptag_%s", ssz ? "sad" : which);
	fd = open_map(c, name, &info);
	if (fd < 0) {
		fprintf(stderr, "esptag: %s/%s: %s\n", c->dir, name, strerror(errno));
		return ESPTAG_EXIT_INTERNAL;
	}
	if (ssz && info.value_size != sizeof(struct esptag_sa)) {
		fprintf(stderr, "esptag: %s/esptag_sad: value size %u, not this build's %zu (an older layout: esptag_%s is a map of its own there)\n",
			c->dir, info.value_size, sizeof(struct esptag_sa), which);
		close(fd);
		return ESPTAG_EXIT_INTERNAL;
	}
	if (strcmp(which, "sad") && !ssz)
		sad_fd = open_map(c, "esptag_sad", &sinfo);
	vsz = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		vsz = ((info.value_size + 7) & ~7u) * (size_t)(ncpu > 0 ? ncpu : 1);
	val = calloc(1, vsz + sizeof(struct esptag_replay));
	if (!val) {
		close(fd);
		if (sad_fd >= 0)
			close(sad_fd);
		return ESPTAG_EXIT_INTERNAL;
	}
	if (cli_json)
		json_arr(&cli_jw);
	for (uint32_t idx = 0; idx < info.max_entries; idx++) {
		uint8_t dir;
		uint32_t spi;

		if (bpf_map_lookup_elem(fd, &idx, val))
			continue;
		if (!strcmp(which, "sad")) {
			struct esptag_sa *sa = (struct esptag_sa *)val;

			if (!ESPTAG_SA_EMPTY(sa))
				print_sad(idx, sa);
			continue;
		}
		if (ssz) {
			const struct esptag_sa *sa = (const void *)val;

			if (all_zero(val + soff, ssz))
				continue;
			spi = ntohl(sa->spi);
			dir = sa->dir;
		} else {
			if (all_zero(val, vsz))
				continue;
			spi = sad_spi(sad_fd, idx, &dir);
		}
		entry_head(idx, spi, dir);
		if (!strcmp(which, "seq")) {
			const struct esptag_seq *q = (const void *)(val + soff);

			entry_u64("next", q->next);
			entry_u64("base", q->base);
		} else if (!strcmp(which, "replay")) {
			const struct esptag_replay *r = (const void *)(val + soff);

			entry_u64("top", ESPTAG_REPLAY_TOP(r->top));
		} else if (!strcmp(which, "sa_life")) {
			const struct esptag_sa_life *l = (const void *)(val + soff);

			entry_u64("hard_bytes", l->hard_bytes);
			entry_u64("hard_packets", l->hard_packets);
			entry_u64("bytes", l->bytes);
			entry_u64("packets", l->packets);
			entry_u64("last_ns", l->last_ns);
			entry_u64("refused", l->refused);
		} else {	/* sa_stats, per CPU: the sum */
			size_t step = (info.value_size + 7) & ~7u;
			uint64_t p = 0, b = 0, d = 0;

			for (int cpu = 0; cpu < ncpu; cpu++) {
				const struct esptag_sa_stats *s = (const void *)(val + cpu * step);

				p += s->packets;
				b += s->bytes;
				d += s->drops;
			}
			entry_u64("packets", p);
			entry_u64("bytes", b);
			entry_u64("drops", d);
		}
		entry_end();
	}
	if (cli_json) {
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
	free(val);
	close(fd);
	if (sad_fd >= 0)
		close(sad_fd);
	return rc;
}

static const char *action_s(int a)
{
	return esptag_action_str(a);
}

/* One policy line of view_spd; exact: its host entry in esptag_spd_host
 * (-1 none, 0 it holds another value, 1 the same), exact_only: an entry of
 * esptag_spd_host without its policy in the LPM. */
static void print_pol(const struct esptag_policy *pol, uint8_t dir, const char *sbuf,
		      unsigned splen, const char *dbuf, unsigned dplen, int exact, bool exact_only)
{
	char pfx[80];

	if (cli_json) {
		struct json_w *w = &cli_jw;

		json_obj(w);
		json_ku64(w, "id", pol->id);
		json_kstr(w, "dir", cli_dir_s(dir));
		snprintf(pfx, sizeof(pfx), "%s/%u", sbuf, splen);
		json_kstr(w, "src", pfx);
		snprintf(pfx, sizeof(pfx), "%s/%u", dbuf, dplen);
		json_kstr(w, "dst", pfx);
		json_kstr(w, "action", action_s(pol->action));
		json_ku64(w, "spi", ntohl(pol->spi));
		if (pol->action == ESPTAG_ACT_PROTECT && dir == ESPTAG_DIR_OUT)
			json_ku64(w, "sa_index", pol->sa_index);
		json_kstr(w, "lookup", exact_only ? "exact-only" : exact > 0 ? "exact" :
			  exact == 0 ? "exact-differs" : "lpm");
		json_end(w);
		return;
	}
	printf("%u: src %s/%u dst %s/%u dir %s action %s", pol->id, sbuf, splen, dbuf, dplen,
	       cli_dir_s(dir), action_s(pol->action));
	if (pol->spi)
		printf(" spi 0x%08x", ntohl(pol->spi));
	if (pol->action == ESPTAG_ACT_PROTECT && dir == ESPTAG_DIR_OUT)
		printf(" sa-index %u", pol->sa_index);
	if (exact_only)
		printf(" exact-only (esptag_spd_host, not in the LPM)");
	else if (exact > 0)
		printf(" exact");
	else if (exact == 0)
		printf(" exact-differs (esptag_spd_host holds another value)");
	printf("\n");
}

/*
 * esptag_spd_src: the policies (source level of the two-level LPM), with the
 * destination of their node from esptag_spd. A host policy found by exact
 * match (esptag_spd_host holds the same value) is marked "exact"; entries of
 * esptag_spd_host that disagree with the LPM are shown as such.
 */
static int view_spd(const struct map_ctx *c)
{
	struct bpf_map_info info, ninfo;
	struct esptag_spd_key nk, *nkp = NULL;
	struct esptag_spd_node node;
	struct esptag_spd_src_key k, *kp = NULL;
	struct esptag_policy pol;
	int fd, nfd;
	/* node id -> destination prefix */
	struct dst { uint32_t id; struct esptag_spd_key key; } *dsts = NULL;
	size_t ndst = 0, cap = 0, nseen = 0, seen_cap = 0;
	struct esptag_spd_host_key hk, *hkp = NULL, *seen = NULL;
	struct bpf_map_info hinfo;
	int hfd;

	/* Absent in pins of an older build: every policy is in the LPM only. */
	hfd = open_map(c, "esptag_spd_host", &hinfo);
	fd = open_map(c, "esptag_spd_src", &info);
	nfd = open_map(c, "esptag_spd", &ninfo);
	if (fd < 0 || nfd < 0) {
		fprintf(stderr, "esptag: %s: esptag_spd/esptag_spd_src: %s\n", c->dir,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		if (nfd >= 0)
			close(nfd);
		if (hfd >= 0)
			close(hfd);
		return ESPTAG_EXIT_INTERNAL;
	}
	while (!bpf_map_get_next_key(nfd, nkp, &nk)) {
		nkp = &nk;
		if (bpf_map_lookup_elem(nfd, &nk, &node))
			continue;
		if (ndst == cap) {
			void *n = realloc(dsts, (cap = cap ? cap * 2 : 64) * sizeof(*dsts));

			if (!n)
				break;
			dsts = n;
		}
		dsts[ndst].id = node.id;
		dsts[ndst++].key = nk;
	}
	if (cli_json)
		json_arr(&cli_jw);
	while (!bpf_map_get_next_key(fd, kp, &k)) {
		char sbuf[64], dbuf[64] = "-";
		uint8_t dir = 0, family = 0;
		unsigned dplen = 0, splen = k.prefixlen - 32, full;
		struct esptag_policy hv;
		int exact = -1;

		kp = &k;
		if (bpf_map_lookup_elem(fd, &k, &pol))
			continue;
		for (size_t i = 0; i < ndst; i++) {
			if (dsts[i].id != k.node)
				continue;
			dir = dsts[i].key.dir;
			family = dsts[i].key.family;
			dplen = dsts[i].key.prefixlen - 32;
			family_addr(family, dsts[i].key.daddr, dbuf, sizeof(dbuf));
		}
		family_addr(family, k.saddr, sbuf, sizeof(sbuf));
		full = family == 4 ? 32 : 128;
		if (hfd >= 0 && (family == 4 || family == 6) && splen == full && dplen == full) {
			for (size_t i = 0; i < ndst; i++)
				if (dsts[i].id == k.node) {
					memset(&hk, 0, sizeof(hk));
					hk.dir = dir;
					hk.family = family;
					memcpy(hk.saddr, k.saddr, 16);
					memcpy(hk.daddr, dsts[i].key.daddr, 16);
					break;
				}
			if (!bpf_map_lookup_elem(hfd, &hk, &hv)) {
				exact = !memcmp(&hv, &pol, sizeof(pol));
				if (nseen == seen_cap) {
					void *n = realloc(seen, (seen_cap = seen_cap ? seen_cap * 2 : 64) *
								sizeof(*seen));

					if (n)
						seen = n;
				}
				if (nseen < seen_cap)
					seen[nseen++] = hk;
			}
		}
		print_pol(&pol, dir, sbuf, splen, dbuf, dplen, exact, false);
	}
	/* Host entries without their policy in the LPM (none in a consistent SPD). */
	while (hfd >= 0 && !bpf_map_get_next_key(hfd, hkp, &hk)) {
		char sbuf[64], dbuf[64];
		bool found = false;

		hkp = &hk;
		for (size_t i = 0; i < nseen && !found; i++)
			found = !memcmp(&seen[i], &hk, sizeof(hk));
		if (found || bpf_map_lookup_elem(hfd, &hk, &pol))
			continue;
		family_addr(hk.family, hk.saddr, sbuf, sizeof(sbuf));
		family_addr(hk.family, hk.daddr, dbuf, sizeof(dbuf));
		print_pol(&pol, hk.dir, sbuf, hk.family == 4 ? 32 : 128, dbuf,
			  hk.family == 4 ? 32 : 128, 1, true);
	}
	if (cli_json) {
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
	free(dsts);
	free(seen);
	if (hfd >= 0)
		close(hfd);
	close(fd);
	close(nfd);
	return ESPTAG_EXIT_OK;
}

/* esptag_stats: the non-zero counters by name, summed over CPUs. */
static int view_stats(const struct map_ctx *c)
{
	struct bpf_map_info info;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	int fd;

	fd = open_map(c, "esptag_stats", &info);
	if (fd < 0 || ncpu <= 0) {
		fprintf(stderr, "esptag: %s/esptag_stats: %s\n", c->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ESPTAG_EXIT_INTERNAL;
	}
	v = calloc(ncpu, sizeof(*v));
	if (cli_json)
		json_obj(&cli_jw);
	for (uint32_t i = 0; v && i < info.max_entries; i++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			sum += v[cpu];
		if (!sum)
			continue;
		if (cli_json)
			json_ku64(&cli_jw, i < ESPTAG_CNT_MAX ? esptag_counter_str(i) : "?", sum);
		else
			printf("%-28s %" PRIu64 "\n", i < ESPTAG_CNT_MAX ? esptag_counter_str(i) : "?",
			       sum);
	}
	if (cli_json) {
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
	free(v);
	close(fd);
	return ESPTAG_EXIT_OK;
}

static int view_cfg(const struct map_ctx *c)
{
	struct bpf_map_info info;
	struct esptag_cfg cfg = {};
	uint32_t k = 0;
	int fd = open_map(c, "esptag_cfg", &info);

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &cfg)) {
		fprintf(stderr, "esptag: %s/esptag_cfg: %s\n", c->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ESPTAG_EXIT_INTERNAL;
	}
	close(fd);
	if (cli_json) {
		struct json_w *w = &cli_jw;

		json_obj(w);
		json_ku64(w, "flags", cfg.flags);
		json_kbool(w, "agent_up", cfg.flags & ESPTAG_CFGF_AGENT_UP);
		json_kbool(w, "no_tso", cfg.flags & ESPTAG_CFGF_NO_TSO);
		json_kbool(w, "spd_host", cfg.flags & ESPTAG_CFGF_SPD_HOST);
		json_kbool(w, "in_tmpl", cfg.flags & ESPTAG_CFGF_IN_TMPL);
		json_kbool(w, "bypass", cfg.flags & ESPTAG_CFGF_BYPASS);
		json_ku64(w, "mark_mask", cfg.mark_mask);
		json_ku64(w, "mark_trusted", cfg.mark_trusted);
		json_ku64(w, "mark_shift", cfg.mark_shift);
		json_ku64(w, "eth_p_cfg", cfg.eth_p_cfg);
		json_ku64(w, "eth_p_meta", cfg.eth_p_meta);
		json_ku64(w, "clock_s", cfg.clock_s);
		json_end(w);
		json_done(w);
		return ESPTAG_EXIT_OK;
	}
	printf("flags 0x%x%s%s%s%s%s mark-mask 0x%08x mark-trusted 0x%08x mark-shift %u "
	       "eth-p-cfg 0x%04x eth-p-meta 0x%04x\n", cfg.flags,
	       cfg.flags & ESPTAG_CFGF_AGENT_UP ? " agent-up" : "",
	       cfg.flags & ESPTAG_CFGF_NO_TSO ? " no-tso" : "",
	       cfg.flags & ESPTAG_CFGF_SPD_HOST ? " spd-host" : "",
	       cfg.flags & ESPTAG_CFGF_IN_TMPL ? " in-tmpl" : "",
	       cfg.flags & ESPTAG_CFGF_BYPASS ? " bypass" : "", cfg.mark_mask, cfg.mark_trusted,
	       cfg.mark_shift, cfg.eth_p_cfg, cfg.eth_p_meta);
	return ESPTAG_EXIT_OK;
}

static int view_ports(const struct map_ctx *c)
{
	struct bpf_map_info info;
	struct esptag_port p;
	uint32_t k, *kp = NULL;
	int fd = open_map(c, "esptag_ports", &info);
	char mac[24];

	if (fd < 0) {
		fprintf(stderr, "esptag: %s/esptag_ports: %s\n", c->dir, strerror(errno));
		return ESPTAG_EXIT_INTERNAL;
	}
	if (cli_json)
		json_arr(&cli_jw);
	while (!bpf_map_get_next_key(fd, kp, &k)) {
		kp = &k;
		if (bpf_map_lookup_elem(fd, &k, &p))
			continue;
		cli_mac_s(p.mac, mac);
		if (cli_json) {
			json_obj(&cli_jw);
			json_ku64(&cli_jw, "ifindex", k);
			json_ku64(&cli_jw, "vf", p.vf);
			json_kstr(&cli_jw, "mac", mac);
			json_kbool(&cli_jw, "trusted", p.flags & ESPTAG_PORTF_TRUSTED);
			json_kbool(&cli_jw, "spoofchk", p.flags & ESPTAG_PORTF_SPOOFCHK);
			json_end(&cli_jw);
		} else {
			printf("ifindex %u vf %u mac %s%s%s\n", k, p.vf, mac,
			       p.flags & ESPTAG_PORTF_TRUSTED ? " trusted" : "",
			       p.flags & ESPTAG_PORTF_SPOOFCHK ? " spoofchk" : "");
		}
	}
	if (cli_json) {
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
	close(fd);
	return ESPTAG_EXIT_OK;
}

/* Entries in use: non-empty slots of an array, keys of the others. */
static uint32_t used_entries(int fd, const struct bpf_map_info *info)
{
	int ncpu = libbpf_num_possible_cpus();
	uint8_t key[64], *kp = NULL, *val;
	uint32_t n = 0;
	size_t vsz = info->value_size;

	if (info->type == BPF_MAP_TYPE_PERCPU_ARRAY || info->type == BPF_MAP_TYPE_PERCPU_HASH)
		vsz = ((vsz + 7) & ~7u) * (size_t)(ncpu > 0 ? ncpu : 1);
	if (info->type != BPF_MAP_TYPE_ARRAY && info->type != BPF_MAP_TYPE_PERCPU_ARRAY) {
		if (info->key_size > sizeof(key))
			return 0;
		while (!bpf_map_get_next_key(fd, kp, key)) {
			kp = key;
			n++;
		}
		return n;
	}
	val = calloc(1, vsz);
	for (uint32_t i = 0; val && i < info->max_entries; i++)
		if (!bpf_map_lookup_elem(fd, &i, val) && !all_zero(val, vsz))
			n++;
	free(val);
	return n;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every esptag_* map pinned in the directory (iproute2's globals hold others'
 * maps too), sorted by name. */
static int view_list(const struct map_ctx *c)
{
	DIR *d = opendir(c->dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "esptag: %s: %s\n", c->dir, strerror(errno));
		return ESPTAG_EXIT_INTERNAL;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "esptag_", 7))
			continue;
		if (n == cap) {
			char **m = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*names));

			if (!m)
				break;
			names = m;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	if (cli_json) {
		json_obj(&cli_jw);
		json_kstr(&cli_jw, "pin_dir", c->dir);
		json_key(&cli_jw, "maps");
		json_arr(&cli_jw);
	} else {
		printf("pinned in %s\n", c->dir);
	}
	for (size_t i = 0; i < n; i++) {
		struct bpf_map_info info;
		int fd = open_map(c, names[i], &info);
		uint32_t used;

		if (fd < 0)
			continue;
		/* A ring buffer has no entries to count. */
		used = info.type == BPF_MAP_TYPE_RINGBUF ? 0 : used_entries(fd, &info);
		close(fd);
		if (cli_json) {
			json_obj(&cli_jw);
			json_kstr(&cli_jw, "name", names[i]);
			json_ku64(&cli_jw, "id", info.id);
			json_ku64(&cli_jw, "max_entries", info.max_entries);
			json_ku64(&cli_jw, "used", used);
			json_end(&cli_jw);
		} else {
			printf("%-16s id %-6u max %-8u used %u\n", names[i], info.id,
			       info.max_entries, used);
		}
	}
	if (cli_json) {
		json_end(&cli_jw);
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ESPTAG_EXIT_OK;
}

static void map_usage(FILE *f)
{
	fprintf(f, "Usage: esptag map [ list | sad | seq | replay | sa_stats | sa_life | spd | stats | cfg |\n"
		   "                    ports ]\n"
		   "                  [ dev DEV | pin DIR ]\n"
		   "The pinned maps of an esptagd instance without the empty slots of the per-SA\n"
		   "arrays, per-CPU values summed, SPIs in host order (bpftool shows esptag_sad's\n"
		   "network-order SPI byte-swapped). Reads the pins: needs root, not the daemon.\n");
}

static bool prefix_of(const char *arg, const char *word)
{
	return *arg && !strncmp(arg, word, strlen(arg));
}

int cli_map_main(int argc, char **argv)
{
	static const char *const views[] = { "list", "sad", "seq", "replay", "sa_stats",
					     "spd", "stats", "cfg", "ports", "help", "sa_life" };
	const char *view = "list", *dev = NULL, *pin = NULL;
	struct map_ctx c;
	int i = 1;

	if (i < argc) {
		int hit = -1, hits = 0;

		for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
			if (!strcmp(argv[i], views[v])) {
				hit = v;
				hits = 1;
				break;
			}
			if (prefix_of(argv[i], views[v])) {
				hit = v;
				hits++;
			}
		}
		if (hits == 1) {
			view = views[hit];
			i++;
		} else if (strcmp(argv[i], "dev") && strcmp(argv[i], "pin")) {
			fprintf(stderr, "esptag: map: %s '%s' (list, sad, seq, replay, sa_stats, "
				"sa_life, spd, stats, cfg, ports or help)\n", hits ? "ambiguous" : "unknown",
				argv[i]);
			return ESPTAG_EXIT_CLI_USAGE;
		}
	}
	if (!strcmp(view, "help")) {
		map_usage(stdout);
		return ESPTAG_EXIT_OK;
	}
	for (; i < argc; i += 2) {
		if (i + 1 >= argc) {
			fprintf(stderr, "esptag: map: '%s' needs a value\n", argv[i]);
			return ESPTAG_EXIT_CLI_USAGE;
		}
		if (!strcmp(argv[i], "dev"))
			dev = argv[i + 1];
		else if (!strcmp(argv[i], "pin"))
			pin = argv[i + 1];
		else {
			fprintf(stderr, "esptag: map: unknown argument '%s'\n", argv[i]);
			map_usage(stderr);
			return ESPTAG_EXIT_CLI_USAGE;
		}
	}
	if (dev && pin) {
		fprintf(stderr, "esptag: map: dev and pin exclude each other\n");
		return ESPTAG_EXIT_CLI_USAGE;
	}
	if (find_dir(&c, dev, pin))
		return ESPTAG_EXIT_NODAEMON;
	if (!strcmp(view, "list"))
		return view_list(&c);
	if (!strcmp(view, "spd"))
		return view_spd(&c);
	if (!strcmp(view, "stats"))
		return view_stats(&c);
	if (!strcmp(view, "cfg"))
		return view_cfg(&c);
	if (!strcmp(view, "ports"))
		return view_ports(&c);
	return view_array(&c, view);
}
