// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag: command-line client of esptagd (docs/esptag.8).
 * Parses ip-xfrm-style commands (user/lib/ctl_cli.c), sends them over the
 * daemon's control socket (user/lib/ctl.h) and prints the answer as text or
 * JSON (-j). Keys are never printed.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <esptag/maps.h>
#include "ctl.h"
#include "ctl_cli.h"
#include "esptag_proto.h"
#include "version.h"

/* Exit codes (docs/esptag.8, EXIT STATUS). */
enum {
	EX_OK = 0,
	EX_USAGE = 1,	/* bad command line / batch file: nothing sent */
	EX_REFUSED = 2,	/* the daemon refused (not found, exists, wrong dev ...) */
	EX_AGENT = 3,	/* the agent refused (bad alg, duplicate, SAD full ...) */
	EX_TIMEOUT = 4,	/* the agent did not answer */
	EX_NODAEMON = 5,/* cannot talk to esptagd */
	EX_INTERNAL = 6,/* daemon-side failure (BPF map, internal) */
};

#define BATCH_CHUNK 8192

static bool json;
static const char *sock_opt;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: esptag [-j] [-s SOCKET] OBJECT COMMAND [ARGS]\n"
		"       esptag [-j] [-s SOCKET] -b FILE|-\n"
		"  state add dev DEV src ADDR dst ADDR proto esp spi SPI mode transport|tunnel\n"
		"            [reqid N] aead 'rfc4106(gcm(aes))' 0xKEYSALT 128 [replay-window N]\n"
		"            [esn] [vlan ID [vlan ID]] [limit time-hard SECONDS] dir in|out\n"
		"  state del dev DEV dst ADDR proto esp spi SPI [dir in|out]\n"
		"  state list | state flush\n"
		"  policy add|update dev DEV src PREFIX dst PREFIX dir in|out\n"
		"             action protect [spi SPI] [reqid N] | action bypass | action discard\n"
		"             [tmpl [src ADDR] [dst PEER] [proto esp] [spi SPI] [reqid N] [mode M]]\n"
		"  policy del dev DEV src PREFIX dst PREFIX dir in|out\n"
		"  policy list | policy flush\n"
		"  agent status | agent sa\n"
		"  stats | monitor\n"
		"  vf list | vf trust VF on|off | vf reset VF | vf del VF      (PF mode)\n"
		"  vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID] [trust on|off] [limit N]\n"
		"SOCKET: -s PATH, else $ESPTAG_SOCK, else /run/esptag/DEV.sock.\n"
		"esptag -V|--version: version, commit, libraries, protocol versions.\n");
}

static int exit_for(int status)
{
	switch (status) {
	case ESPTAG_CTL_OK:
		return EX_OK;
	case ESPTAG_CTL_E_AGENT:
	case ESPTAG_CTL_E_NOSPC:
		return EX_AGENT;
	case ESPTAG_CTL_E_TIMEOUT:
		return EX_TIMEOUT;
	case ESPTAG_CTL_E_BPF:
	case ESPTAG_CTL_E_INTERNAL:
		return EX_INTERNAL;
	default:
		return EX_REFUSED;
	}
}

/* Pick the socket: -s, $ESPTAG_SOCK, dev's default, or the only one. */
static int sock_path(const char *dev, char *out, size_t len)
{
	const char *env = getenv("ESPTAG_SOCK");
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (sock_opt || (env && *env)) {
		snprintf(out, len, "%s", sock_opt ? sock_opt : env);
		return 0;
	}
	if (dev && *dev)
		return esptag_ctl_sock_path(out, len, dev);
	d = opendir(ESPTAG_CTL_SOCK_DIR);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".sock")) {
			found++;
			snprintf(out, len, "%s/%s", ESPTAG_CTL_SOCK_DIR, de->d_name);
		}
	}
	if (d)
		closedir(d);
	if (found == 1)
		return 0;
	fprintf(stderr, "esptag: %s; give -s SOCKET or set ESPTAG_SOCK\n",
		found ? "several esptagd sockets in " ESPTAG_CTL_SOCK_DIR
		      : "no esptagd socket in " ESPTAG_CTL_SOCK_DIR " (is esptagd running?)");
	return -1;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "esptag: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "esptag: cannot connect to esptagd at %s: %s (is esptagd running? -s SOCKET)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send one request, read and validate the reply. Returns the CLI exit code;
 * on success *buf and *v hold the reply (caller frees *buf).
 */
static int transact(const char *dev, int op, const void *items, uint32_t count, size_t isz,
		    uint8_t **buf, struct esptag_ctl_view *v, uint32_t *err_index)
{
	struct esptag_ctl_hdr h;
	char path[256], err[256];
	ssize_t n;
	int fd;

	*buf = NULL;
	if (sock_path(dev, path, sizeof(path)))
		return EX_NODAEMON;
	fd = ctl_connect(path);
	if (fd < 0)
		return EX_NODAEMON;
	esptag_ctl_hdr_init(&h, op, false, 0, count, count * isz);
	if (esptag_ctl_write(fd, &h, items)) {
		fprintf(stderr, "esptag: sending to esptagd: %s\n", strerror(errno));
		close(fd);
		return EX_NODAEMON;
	}
	n = esptag_ctl_read(fd, buf);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "esptag: no reply from esptagd: %s\n",
			n ? strerror(errno) : "connection closed");
		return EX_NODAEMON;
	}
	if (esptag_ctl_decode(*buf, n, v, err, sizeof(err)) || !(v->hdr.flags & ESPTAG_CTL_F_REPLY) ||
	    v->hdr.op != op) {
		fprintf(stderr, "esptag: bad reply from esptagd: %s\n", err);
		esptag_ctl_free(*buf);
		*buf = NULL;
		return EX_NODAEMON;
	}
	if (err_index)
		*err_index = v->hdr.err_index;
	if (v->hdr.status) {
		fprintf(stderr, "esptag: %s: %.*s\n", esptag_ctl_op_str(op), (int)v->hdr.len,
			(const char *)v->payload);
		return exit_for(v->hdr.status);
	}
	return EX_OK;
}

/* ---- output ------------------------------------------------------------ */

static const char *addr_s(uint8_t fam, const uint8_t *a, char *b, size_t l)
{
	return esptag_addr_str(fam, a, b, l);
}

static const char *dir_s(int d)
{
	return d == ESPTAG_DIR_IN ? "in" : d == ESPTAG_DIR_OUT ? "out" : "any";
}

static const char *mode_s(int m)
{
	return m == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport";
}

static void mac_s(const uint8_t *m, char *b)
{
	sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void print_sa(const struct esptag_ctl_sa *sa, bool first)
{
	char s[64], d[64];

	addr_s(sa->family, sa->saddr, s, sizeof(s));
	addr_s(sa->family, sa->daddr, d, sizeof(d));
	if (json) {
		printf("%s{\"dev\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"proto\":\"esp\","
		       "\"spi\":%u,\"reqid\":%u,\"mode\":\"%s\",\"dir\":\"%s\","
		       "\"aead\":\"rfc4106(gcm(aes))\",\"key_bits\":%u,\"icv_bits\":%u,"
		       "\"replay_window\":%u,\"esn\":%s,\"vlans\":[",
		       first ? "" : ",", sa->dev, s, d, sa->spi, sa->reqid, mode_s(sa->mode),
		       dir_s(sa->dir), sa->key_len * 8, sa->icv_len * 8, sa->replay_window,
		       sa->sa_flags & ESPTAG_SA_F_ESN ? "true" : "false");
		for (int i = 0; i < sa->nvlans; i++)
			printf("%s%u", i ? "," : "", sa->vid[i]);
		printf("],\"sa_index\":%u,\"seq\":%" PRIu64 ",\"alive\":%s,\"nokey\":%s,"
		       "\"lifetime\":%u}",
		       sa->sa_index, sa->seq, sa->state & ESPTAG_CTL_SAS_ALIVE ? "true" : "false",
		       sa->state & ESPTAG_CTL_SAS_NOKEY ? "true" : "false", sa->lifetime);
		return;
	}
	printf("src %s dst %s\n", s, d);
	printf("\tdev %s proto esp spi 0x%08x reqid %u mode %s dir %s\n",
	       *sa->dev ? sa->dev : "-", sa->spi, sa->reqid, mode_s(sa->mode), dir_s(sa->dir));
	printf("\taead rfc4106(gcm(aes)) key-len %u icv-len %u", sa->key_len * 8,
	       sa->icv_len * 8);
	if (sa->dir == ESPTAG_DIR_IN)
		printf(" replay-window %u", sa->replay_window);
	if (sa->sa_flags & ESPTAG_SA_F_ESN)
		printf(" esn");
	for (int i = 0; i < sa->nvlans; i++)
		printf(" vlan %u", sa->vid[i]);
	printf("\n\tsa-index %u seq %" PRIu64, sa->sa_index, sa->seq);
	if (sa->lifetime)
		printf(" limit time-hard %u", sa->lifetime);
	if (sa->state & ESPTAG_CTL_SAS_ALIVE)
		printf(" alive");
	if (sa->state & ESPTAG_CTL_SAS_NOKEY)
		printf(" nokey");
	printf("\n");
}

static void print_sas(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_sa sa;

	if (json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &sa);
		print_sa(&sa, i == 0);
	}
	if (json)
		printf("]\n");
}

static void print_vfs(const struct esptag_ctl_view *v, bool list)
{
	struct esptag_ctl_vf f;
	char mac[20], a[64];
	bool veb = false;

	if (json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &f);
		mac_s(f.mac, mac);
		addr_s(f.family, f.addr, a, sizeof(a));
		veb |= f.mode == ESPTAG_CTL_SW_VEB;
		if (json) {
			printf("%s{\"vf\":%u,\"port\":%u,\"dev\":\"%s\",\"ifindex\":%u,"
			       "\"mac\":\"%s\",\"addr\":%s%s%s,\"trusted\":%s,\"connected\":%s,"
			       "\"local\":%s,\"sas\":%u,\"limit\":%u,\"mode\":\"%s\",\"vlans\":[",
			       i ? "," : "", f.vf, f.port, f.ifname, f.ifindex, mac,
			       f.family ? "\"" : "", f.family ? a : "null", f.family ? "\"" : "",
			       f.flags & ESPTAG_CTL_VF_TRUSTED ? "true" : "false",
			       f.flags & ESPTAG_CTL_VF_CONNECTED ? "true" : "false",
			       f.flags & ESPTAG_CTL_VF_LOCAL ? "true" : "false", f.sa_count, f.limit,
			       f.mode == ESPTAG_CTL_SW_VEPA ? "vepa" : "veb");
			for (int k = 0; k < f.nvlans; k++)
				printf("%s%u", k ? "," : "", f.vid[k]);
			printf("]}");
			continue;
		}
		printf("vf %u port %u dev %s mac %s", f.vf, f.port, f.ifname, mac);
		if (f.family)
			printf(" addr %s", a);
		for (int k = 0; k < f.nvlans; k++)
			printf(" vlan %u", f.vid[k]);
		printf("\n\ttrust %s sas %u limit %u mode %s%s%s\n",
		       f.flags & ESPTAG_CTL_VF_TRUSTED ? "on" : "off", f.sa_count, f.limit,
		       f.mode == ESPTAG_CTL_SW_VEPA ? "vepa" : "veb",
		       f.flags & ESPTAG_CTL_VF_CONNECTED ? " connected" : "",
		       f.flags & ESPTAG_CTL_VF_LOCAL ? " local-registered" : "");
	}
	if (json) {
		printf("]\n");
		return;
	}
	if (list && veb)
		printf("note: switch mode VEB: traffic between local VFs (and the PF) is switched by the NIC\n"
		       "      and bypasses the agent: it is never ESP-protected; protect policies toward\n"
		       "      local addresses fail closed (dropped at the VF port). Use VEPA for encrypted\n"
		       "      east-west traffic.\n");
}

static void print_policy(const struct esptag_ctl_policy *p, bool first)
{
	char s[64], d[64], ts[64] = "", td[64] = "";

	addr_s(p->family, p->src, s, sizeof(s));
	addr_s(p->family, p->dst, d, sizeof(d));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_SRC)
		addr_s(p->tmpl_family, p->tmpl_src, ts, sizeof(ts));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_DST)
		addr_s(p->tmpl_family, p->tmpl_dst, td, sizeof(td));
	if (json) {
		printf("%s{\"id\":%u,\"dev\":\"%s\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\","
		       "\"dir\":\"%s\",\"action\":\"%s\"",
		       first ? "" : ",", p->id, p->dev, s, p->src_plen, d, p->dst_plen,
		       dir_s(p->dir), esptag_action_str(p->action));
		if (p->action == ESPTAG_ACT_PROTECT) {
			printf(",\"spi\":%u", p->spi);
			if (p->tmpl_flags & ESPTAG_CTL_TMPL_REQID)
				printf(",\"reqid\":%u", p->reqid);
			if (*ts)
				printf(",\"tmpl_src\":\"%s\"", ts);
			if (*td)
				printf(",\"tmpl_dst\":\"%s\"", td);
			if (p->tmpl_mode)
				printf(",\"tmpl_mode\":\"%s\"",
				       p->tmpl_mode == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport");
			if (p->sa_index != ESPTAG_SA_INDEX_NONE)
				printf(",\"sa_index\":%u", p->sa_index);
			else
				printf(",\"sa_index\":null");
		}
		printf("}");
		return;
	}
	printf("src %s/%u dst %s/%u dev %s dir %s action %s", s, p->src_plen, d, p->dst_plen,
	       *p->dev ? p->dev : "-", dir_s(p->dir), esptag_action_str(p->action));
	if (p->action == ESPTAG_ACT_PROTECT) {
		if (p->spi)
			printf(" spi 0x%08x", p->spi);
		if (p->tmpl_flags & ESPTAG_CTL_TMPL_REQID)
			printf(" reqid %u", p->reqid);
		if (*ts || *td || p->tmpl_mode) {
			printf(" tmpl");
			if (*ts)
				printf(" src %s", ts);
			if (*td)
				printf(" dst %s", td);
			if (p->tmpl_mode)
				printf(" mode %s",
				       p->tmpl_mode == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport");
		}
		if (p->dir == ESPTAG_DIR_OUT) {
			if (p->sa_index != ESPTAG_SA_INDEX_NONE)
				printf(" sa-index %u", p->sa_index);
			else
				printf(" sa-index none (fails closed)");
		}
	}
	printf(" id %u\n", p->id);
}

static void print_policies(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_policy p;

	if (json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &p);
		print_policy(&p, i == 0);
	}
	if (json)
		printf("]\n");
}

static const char *xdp_s(int m)
{
	switch (m) {
	case ESPTAG_XDP_DISPATCHER:
		return "dispatcher";
	case ESPTAG_XDP_SINGLE:
		return "single";
	case ESPTAG_XDP_ADOPTED:
		return "adopted";
	default:
		return "none";
	}
}

static void print_agent(const struct esptag_ctl_view *v)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} feats[] = { { ESPTAG_FEAT_TSO, "tso" }, { ESPTAG_FEAT_HAIRPIN, "hairpin" },
		      { ESPTAG_FEAT_ESN, "esn" }, { ESPTAG_FEAT_TUNNEL, "tunnel" },
		      { ESPTAG_FEAT_IPV6, "ipv6" } };
	struct esptag_ctl_agent a = {};
	char mac[32], amac[32];
	bool f1 = true;

	esptag_ctl_item(v, 0, &a);
	mac_s(a.mac, mac);
	mac_s(a.agent_mac, amac);
	if (json) {
		printf("{\"dev\":\"%s\",\"ifindex\":%u,\"mac\":\"%s\",\"port\":%u,"
		       "\"agent_mac\":\"%s\",\"reachable\":%s,\"port_up\":%s,\"epoch\":%" PRIu64
		       ",\"version\":%u,\"sad_capacity\":%u,\"sad_used\":%u,\"port_limit\":%u,"
		       "\"port_used\":%u,\"local_capacity\":%u,\"max_records\":%u,"
		       "\"max_payload\":%u,\"algorithms\":[",
		       a.dev, a.ifindex, mac, a.port, amac, a.reachable ? "true" : "false",
		       a.port_up ? "true" : "false", a.epoch, a.version, a.sad_capacity,
		       a.sad_used, a.port_limit, a.port_used, a.local_capacity, a.max_records,
		       a.max_payload);
		for (int alg = 1; alg <= 2; alg++)
			if (a.alg_mask & (1u << alg)) {
				printf("%s\"%s\"", f1 ? "" : ",", esptag_alg_str(alg));
				f1 = false;
			}
		printf("],\"features\":[");
		f1 = true;
		for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
			if (a.features & feats[i].bit) {
				printf("%s\"%s\"", f1 ? "" : ",", feats[i].name);
				f1 = false;
			}
		printf("],\"xdp\":\"%s\",\"hello_ok\":%u,\"hello_fail\":%u,", xdp_s(a.xdp_mode),
		       a.hello_ok, a.hello_fail);
		if (a.last_reply_ms == UINT32_MAX)
			printf("\"last_reply_ms\":null,");
		else
			printf("\"last_reply_ms\":%u,", a.last_reply_ms);
		printf("\"reinstalls\":%u,\"daemon_sas\":%u,\"nokey_sas\":%u,"
		       "\"daemon_version\":\"%s\"}\n", a.reinstalls, a.daemon_sas, a.nokey_sas,
		       *a.daemon_version ? a.daemon_version : "unknown");
		return;
	}
	printf("dev %s ifindex %u mac %s port %u xdp %s\n", a.dev, a.ifindex, mac, a.port,
	       xdp_s(a.xdp_mode));
	printf("daemon esptagd %s\n", *a.daemon_version ? a.daemon_version : "unknown");
	printf("agent %s reachable %s data-path %s\n", amac, a.reachable ? "yes" : "no",
	       a.port_up ? "up" : "down (protect traffic dropped)");
	printf("\tepoch 0x%016" PRIx64 " version %u\n", a.epoch, a.version);
	printf("\tsad %u/%u port %u/%u locals %u max-records %u max-payload %u\n", a.sad_used,
	       a.sad_capacity, a.port_used, a.port_limit, a.local_capacity, a.max_records,
	       a.max_payload);
	printf("\talgorithms");
	for (int alg = 1; alg <= 2; alg++)
		if (a.alg_mask & (1u << alg))
			printf(" %s", esptag_alg_str(alg));
	printf("\n\tfeatures");
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (a.features & feats[i].bit)
			printf(" %s", feats[i].name);
	printf("\n\thello ok %u fail %u last-reply ", a.hello_ok, a.hello_fail);
	if (a.last_reply_ms == UINT32_MAX)
		printf("never");
	else
		printf("%ums ago", a.last_reply_ms);
	printf(" reinstalls %u\n\tdaemon sas %u (without key %u)\n", a.reinstalls, a.daemon_sas,
	       a.nokey_sas);
}

static void print_stats(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_stat s;
	int section = 0;
	bool first = true;

	if (json)
		printf("{");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &s);
		if (s.kind != section) {
			if (json)
				printf("%s\"%s\":%s", section ? (section == ESPTAG_STAT_SA ? "]," : "},") : "",
				       s.kind == ESPTAG_STAT_DP ? "datapath" :
				       s.kind == ESPTAG_STAT_AGENT ? "agent" : "sa",
				       s.kind == ESPTAG_STAT_SA ? "[" : "{");
			else
				printf("%s:\n", s.kind == ESPTAG_STAT_DP ? "data path" :
						s.kind == ESPTAG_STAT_AGENT ? "agent" : "sa");
			section = s.kind;
			first = true;
		}
		if (s.kind == ESPTAG_STAT_DP || s.kind == ESPTAG_STAT_AGENT) {
			const char *name = s.kind == ESPTAG_STAT_DP ? esptag_counter_str(s.id)
								    : esptag_agent_counter_str(s.id);
			if (json)
				printf("%s\"%s\":%" PRIu64, first ? "" : ",", name, s.value);
			else
				printf("\t%-28s %" PRIu64 "\n", name, s.value);
		} else if (json) {
			printf("%s{\"sa_index\":%u,\"spi\":%u,\"dir\":\"%s\",\"packets\":%" PRIu64
			       ",\"bytes\":%" PRIu64 ",\"drops\":%" PRIu64,
			       first ? "" : ",", s.sa_index, s.spi, dir_s(s.dir), s.packets, s.bytes,
			       s.drops);
			if (s.agent_ok)
				printf(",\"agent\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
				       ",\"auth_fail\":%" PRIu64 ",\"domain_reject\":%" PRIu64
				       ",\"seq\":%" PRIu64 "}",
				       s.agent_packets, s.agent_bytes, s.auth_fail, s.domain_reject,
				       s.agent_seq);
			printf("}");
		} else {
			printf("\tsa-index %u spi 0x%08x dir %s packets %" PRIu64 " bytes %" PRIu64
			       " drops %" PRIu64 "\n",
			       s.sa_index, s.spi, dir_s(s.dir), s.packets, s.bytes, s.drops);
			if (s.agent_ok)
				printf("\t\tagent packets %" PRIu64 " bytes %" PRIu64 " auth-fail %" PRIu64
				       " domain-reject %" PRIu64 " seq %" PRIu64 "\n",
				       s.agent_packets, s.agent_bytes, s.auth_fail, s.domain_reject,
				       s.agent_seq);
		}
		first = false;
	}
	if (json)
		printf("%s}\n", section == ESPTAG_STAT_SA ? "]" : section ? "}" : "");
}

static void print_event(const struct esptag_ctl_event *e)
{
	char d[64], ts[32];
	time_t t = e->time_ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (e->family)
		addr_s(e->family, e->daddr, d, sizeof(d));
	if (json) {
		printf("{\"time\":\"%s.%03uZ\",\"event\":\"%s\"", ts, (unsigned)(e->time_ms % 1000),
		       esptag_ctl_event_str(e->type));
		if (e->type == ESPTAG_EV_DROP)
			printf(",\"counter\":\"%s\",\"value\":%" PRIu64 ",\"delta\":%" PRIu64,
			       esptag_counter_str(e->id), e->value, e->delta);
		else if (e->type == ESPTAG_EV_AGENT_RESTARTED)
			printf(",\"epoch\":%" PRIu64 ",\"reinstalled\":%" PRIu64, e->delta, e->value);
		else if (e->spi || e->sa_index)
			printf(",\"sa_index\":%u,\"spi\":%u,\"dir\":\"%s\"", e->sa_index, e->spi,
			       dir_s(e->dir));
		if (e->family)
			printf(",\"dst\":\"%s\"", d);
		printf("}\n");
	} else {
		printf("[%s.%03uZ] %s", ts, (unsigned)(e->time_ms % 1000),
		       esptag_ctl_event_str(e->type));
		if (e->type == ESPTAG_EV_DROP)
			printf(" %s %" PRIu64 " (+%" PRIu64 ")", esptag_counter_str(e->id), e->value,
			       e->delta);
		else if (e->type == ESPTAG_EV_AGENT_RESTARTED)
			printf(" epoch 0x%016" PRIx64 " reinstalled %" PRIu64, e->delta, e->value);
		else if (e->spi || e->sa_index)
			printf(" sa-index %u spi 0x%08x dir %s", e->sa_index, e->spi, dir_s(e->dir));
		if (e->family)
			printf(" dst %s", d);
		printf("\n");
	}
	fflush(stdout);
}

static int monitor(const char *dev)
{
	struct esptag_ctl_hdr h;
	struct esptag_ctl_view v;
	struct esptag_ctl_event e;
	char path[256], err[256];
	uint8_t *buf;
	ssize_t n;
	int fd;

	if (sock_path(dev, path, sizeof(path)))
		return EX_NODAEMON;
	fd = ctl_connect(path);
	if (fd < 0)
		return EX_NODAEMON;
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_MONITOR, false, 0, 0, 0);
	if (esptag_ctl_write(fd, &h, NULL))
		goto lost;
	for (bool first = true;; first = false) {
		n = esptag_ctl_read(fd, &buf);
		if (n <= 0)
			goto lost;
		if (esptag_ctl_decode(buf, n, &v, err, sizeof(err))) {
			fprintf(stderr, "esptag: bad message from esptagd: %s\n", err);
			esptag_ctl_free(buf);
			close(fd);
			return EX_NODAEMON;
		}
		if (v.hdr.status) {
			fprintf(stderr, "esptag: monitor: %.*s\n", (int)v.hdr.len, (const char *)v.payload);
			esptag_ctl_free(buf);
			close(fd);
			return exit_for(v.hdr.status);
		}
		if (!first && v.hdr.op == ESPTAG_CTL_EVENT) {
			esptag_ctl_item(&v, 0, &e);
			print_event(&e);
		}
		esptag_ctl_free(buf);
	}
lost:
	fprintf(stderr, "esptag: monitor: connection to esptagd lost\n");
	close(fd);
	return EX_NODAEMON;
}

/* Run one parsed command (or a group of count STATE_ADD/STATE_DEL ones). */
static int run(struct esptag_cli_cmd *cmds, uint32_t count)
{
	struct esptag_cli_cmd *c = &cmds[0];
	struct esptag_ctl_view v;
	uint32_t err_index = UINT32_MAX;
	uint8_t *buf = NULL;
	void *items = NULL;
	size_t isz = 0;
	int rc;

	if (c->op == ESPTAG_CTL_MONITOR)
		return monitor(c->dev);
	isz = esptag_ctl_item_size(c->op, false);
	if (isz) {
		items = calloc(count, isz);
		if (!items)
			return EX_INTERNAL;
		for (uint32_t i = 0; i < count; i++)
			memcpy((uint8_t *)items + i * isz, &cmds[i].sa, isz);
	}
	rc = transact(c->dev, c->op, items, isz ? count : 0, isz, &buf, &v, &err_index);
	if (items) {
		explicit_bzero(items, count * isz);
		free(items);
	}
	if (rc != EX_OK) {
		if (count > 1 && err_index < count)
			fprintf(stderr, "esptag: the failing item is number %u of this group; none of the group was applied\n",
				err_index + 1);
		esptag_ctl_free(buf);
		return rc;
	}
	switch (c->op) {
	case ESPTAG_CTL_STATE_LIST:
	case ESPTAG_CTL_AGENT_SA:
		print_sas(&v);
		break;
	case ESPTAG_CTL_POLICY_LIST:
		print_policies(&v);
		break;
	case ESPTAG_CTL_AGENT_STATUS:
		print_agent(&v);
		break;
	case ESPTAG_CTL_STATS:
		print_stats(&v);
		break;
	case ESPTAG_CTL_VF_LIST:
	case ESPTAG_CTL_VF_ADD:
		print_vfs(&v, c->op == ESPTAG_CTL_VF_LIST);
		break;
	case ESPTAG_CTL_VF_RESET:
		if (v.hdr.count) {
			struct esptag_ctl_vf f;

			esptag_ctl_item(&v, 0, &f);
			if (json)
				printf("{\"vf\":%u,\"removed\":%u}\n", f.vf, f.sa_count);
			else
				printf("vf %u reset: %u SAs removed from the agent\n", f.vf, f.sa_count);
		}
		break;
	default:
		break;
	}
	esptag_ctl_free(buf);
	return EX_OK;
}

static int batch(const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	struct esptag_cli_cmd *cmds = NULL;
	size_t n = 0, cap = 0, lineno = 0, linecap = 0;
	size_t *lines = NULL;
	char *line = NULL, *argv[64], err[256];
	int rc = EX_OK, argc;

	if (!f) {
		fprintf(stderr, "esptag: cannot open %s: %s\n", file, strerror(errno));
		return EX_USAGE;
	}
	while (getline(&line, &linecap, f) >= 0) {
		lineno++;
		argc = esptag_cli_split(line, argv, 64);
		if (argc == 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct esptag_cli_cmd *nc = calloc(ncap, sizeof(*nc));
			size_t *nl = realloc(lines, ncap * sizeof(*nl));

			if (!nc || !nl) {
				free(nc);
				rc = EX_INTERNAL;
				goto out;
			}
			lines = nl;
			if (cmds) {
				memcpy(nc, cmds, n * sizeof(*nc));
				explicit_bzero(cmds, n * sizeof(*cmds));
				free(cmds);
			}
			cmds = nc;
			cap = ncap;
		}
		if (argc < 0) {
			fprintf(stderr, "esptag: %s:%zu: unterminated quote or too many words\n", file,
				lineno);
			rc = EX_USAGE;
			goto out;
		}
		if (esptag_cli_parse(argc, argv, &cmds[n], err, sizeof(err))) {
			fprintf(stderr, "esptag: %s:%zu: %s (nothing was sent)\n", file, lineno, err);
			rc = EX_USAGE;
			goto out;
		}
		if (cmds[n].op == ESPTAG_CTL_MONITOR) {
			fprintf(stderr, "esptag: %s:%zu: monitor cannot be batched\n", file, lineno);
			rc = EX_USAGE;
			goto out;
		}
		lines[n++] = lineno;
	}
	explicit_bzero(line, linecap);
	/* Consecutive state add (or del) lines for one dev travel together. */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		if (cmds[i].op == ESPTAG_CTL_STATE_ADD || cmds[i].op == ESPTAG_CTL_STATE_DEL)
			while (j < n && j - i < BATCH_CHUNK && cmds[j].op == cmds[i].op &&
			       !strcmp(cmds[j].dev, cmds[i].dev))
				j++;
		rc = run(&cmds[i], j - i);
		if (rc) {
			fprintf(stderr, "esptag: %s: stopped at the group of lines %zu-%zu\n", file,
				lines[i], lines[j - 1]);
			goto out;
		}
		i = j;
	}
out:
	if (cmds) {
		explicit_bzero(cmds, cap * sizeof(*cmds));
		free(cmds);
	}
	free(lines);
	if (line)
		explicit_bzero(line, linecap);
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct esptag_cli_cmd cmd;
	const char *batch_file = NULL;
	char err[256];
	int opt, rc;

	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};

	ESPTAG_VERSION_OPT(argc, argv, "esptag");
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+js:b:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'b':
			batch_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (batch_file) {
		if (optind != argc) {
			fprintf(stderr, "esptag: -b takes no command on the command line\n");
			return EX_USAGE;
		}
		return batch(batch_file);
	}
	if (optind < argc && !strcmp(argv[optind], "help")) {
		usage(stdout);
		return EX_OK;
	}
	if (esptag_cli_parse(argc - optind, argv + optind, &cmd, err, sizeof(err))) {
		fprintf(stderr, "esptag: %s\n", err);
		return EX_USAGE;
	}
	rc = run(&cmd, 1);
	esptag_cli_cmd_clear(&cmd);
	return rc;
}
