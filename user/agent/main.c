// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag-agent: the software inline IPsec agent, a bump in the wire between
 * a host-side and a wire-side interface. See docs/esptag-agent.8.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <bpf/libbpf.h>
#include <openssl/crypto.h>
#include "notify.h"
#include "util.h"
#include "version.h"
#include <openssl/evp.h>
#include "agent.h"
#include "io.h"
#include "wrap.h"

/* Where the identity key lives unless --state-dir says otherwise. */
#define AGENT_STATE_DIR "/var/lib/esptag-agent"

static volatile sig_atomic_t stop, dump;

/* I/O choice (--io). */
enum io_choice { IO_AUTO, IO_PACKET, IO_XDP };

/* One worker: a thread on one CPU with its own sockets on both sides. */
struct worker {
	struct agent *a; /* the control context itself when there is one worker */
	struct agent own;
	struct agent_io_port ports[2];
	int cpu;
	uint16_t a_eth_meta; /* the metadata EtherType (fan-out program) */
	uint8_t *scratch; /* io.c's work space (a VLAN tag put back) */
	pthread_t thread;
	bool started;
	int rc;
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: esptag-agent --host IF --wire IF [options]\n"
		"Software inline IPsec agent (AES-GCM ESP) between a host-side and a wire-side\n"
		"interface. Config packets are taken from the host side only.\n"
		"\n"
		"  --host IF                 host-side interface (toward the NIC)\n"
		"  --wire IF                 wire-side interface\n"
		"  --capacity N              SAD size (default %u)\n"
		"  --port-limit N            SAs per port (default: the capacity)\n"
		"  --local-capacity N        hairpin addresses (default %u)\n"
		"  --cfg-ethertype HEX       config EtherType (default 0x%04x)\n"
		"  --meta-ethertype HEX      metadata EtherType (default 0x%04x)\n"
		"  --cpus N|LIST             workers: N (on the first N CPUs the agent may run\n"
		"                            on) or one per CPU of LIST (0,2-3; 1-1 is CPU 1);\n"
		"                            default: one per CPU the agent may run on\n"
		"  --io auto|xdp|packet      packet I/O: AF_XDP or AF_PACKET rings (default auto:\n"
		"                            AF_XDP on the wire side where it can, see the man page)\n"
		"  --rx-coalesce MTU         coalesce decrypted TCP segments of one flow into\n"
		"                            frames toward the host, each (with the metadata tag)\n"
		"                            at most MTU bytes: the host port's MTU (jumbo; the\n"
		"                            host needs esptagd --xdp-frags above a page); 0 or\n"
		"                            unset: one frame per ESP packet\n"
		"  --state-dir DIR           the identity key's directory (default\n"
		"                            $STATE_DIRECTORY, else %s)\n"
		"  --show-key                print the agent's public key and fingerprint\n"
		"                            (making the key if there is none) and exit\n"
		"  --allow-v1                also speak config protocol version 1 (SA keys\n"
		"                            in clear on the host port)\n"
		"  --test-drop-config PCT    test only: drop PCT%% of config requests\n"
		"  --features LIST           test only: announce only these features\n"
		"                            (comma list of tso,hairpin,esn,tunnel,ipv6; or none)\n"
		"  -v, --verbose             log debug messages\n"
		"  -q, --quiet               log warnings and errors only\n"
		"  -V, --version             version, commit, libraries, protocol versions\n"
		"  -h, --help                this text\n"
		"\n"
		"Signals: SIGUSR1 prints counters and per-SA statistics to stderr,\n"
		"SIGTERM/SIGINT stop cleanly (all key material is wiped).\n",
		AGENT_DEF_CAPACITY, AGENT_DEF_LOCALS, ESPTAG_ETH_P_CFG, ESPTAG_ETH_P_META,
		AGENT_STATE_DIR);
}

static int parse_u32(const char *s, const char *what, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v < min || v > max) {
		fprintf(stderr, "esptag-agent: %s: '%s' is not a number in %u..%u\n", what, s, min,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

/* mlockall(MCL_FUTURE) under a finite RLIMIT_MEMLOCK would make later
 * allocations fail: only with CAP_IPC_LOCK or no limit. */
static bool can_lock_all(void)
{
	unsigned long long eff = 0;
	struct rlimit rl;
	char line[256];
	FILE *f;

	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur == RLIM_INFINITY)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ull << 14);	/* CAP_IPC_LOCK */
}

static int parse_features(const char *s, uint16_t *out)
{
	static const struct {
		const char *name;
		uint16_t bit;
	} names[] = {{"tso", ESPTAG_FEAT_TSO},	   {"hairpin", ESPTAG_FEAT_HAIRPIN},
		     {"esn", ESPTAG_FEAT_ESN},	   {"tunnel", ESPTAG_FEAT_TUNNEL},
		     {"ipv6", ESPTAG_FEAT_IPV6}};
	char buf[128], *tok, *save = NULL;
	uint16_t f = 0;

	if (!strcmp(s, "none")) {
		*out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			fprintf(stderr,
				"esptag-agent: --features: unknown feature '%s' (tso, hairpin, esn, tunnel, ipv6 or none)\n",
				tok);
			return -1;
		}
		f |= names[i].bit;
	}
	if (!f) {
		fprintf(stderr, "esptag-agent: --features: empty list (use none)\n");
		return -1;
	}
	*out = f;
	return 0;
}

/* libbpf's messages (a program that does not load without CAP_BPF, ...) at
 * debug level: the agent logs what it falls back to itself. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (log_level < 7)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	agent_log(7, "libbpf: %s", buf);
	return 0;
}

static void flush_side(struct agent *a, int side)
{
	struct agent_q *q = &a->q[side];
	struct agent_io_port *ports = a->io;

	agent_io_send(&ports[side], q->pkt, q->n);
	q->n = 0;
}

static void host_rx(struct agent *a, uint8_t *f, size_t len, const struct virtio_net_hdr *vh)
{
	agent_host_frame(a, f, len, vh);
}

static void wire_rx(struct agent *a, uint8_t *f, size_t len, const struct virtio_net_hdr *vh)
{
	agent_wire_frame(a, f, len, vh);
}

/* The command line. */
struct agent_cmdline {
	const char *host, *wire;
	const char *state_dir;
	char state_buf[4096];		/* $STATE_DIRECTORY's first entry */
	bool show_key;
	struct agent_opts o;
	int log_level; /* 0: the default */
	enum io_choice io;
	bool cpus_given;
	int ncpus;
	int cpus[CPU_SETSIZE];
};

/*
 * --cpus: a number N (the first N CPUs of the affinity mask) or a list of
 * CPUs and ranges (it has a comma or a dash). 0 on success.
 */
static int parse_cpus(const char *s, struct agent_cmdline *cl)
{
	cpu_set_t allowed, want;
	char buf[512], *tok, *save = NULL;
	uint32_t n, lo, hi, c;

	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		CPU_SET(0, &allowed);
	CPU_ZERO(&want);
	if (!strpbrk(s, ",-")) {
		if (parse_u32(s, "--cpus", 1, CPU_SETSIZE, &n))
			return -1;
		if ((int)n > CPU_COUNT(&allowed)) {
			fprintf(stderr, "esptag-agent: --cpus %u: only %d CPUs available\n", n,
				CPU_COUNT(&allowed));
			return -1;
		}
		for (c = 0; c < CPU_SETSIZE && CPU_COUNT(&want) < (int)n; c++)
			if (CPU_ISSET(c, &allowed))
				CPU_SET(c, &want);
	} else {
		snprintf(buf, sizeof(buf), "%s", s);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *dash = strchr(tok, '-');

			if (dash)
				*dash = 0;
			if (parse_u32(tok, "--cpus", 0, CPU_SETSIZE - 1, &lo) ||
			    parse_u32(dash ? dash + 1 : tok, "--cpus", lo, CPU_SETSIZE - 1, &hi))
				return -1;
			for (c = lo; c <= hi; c++) {
				if (!CPU_ISSET(c, &allowed)) {
					fprintf(stderr,
						"esptag-agent: --cpus: CPU %u is not one the agent may run on\n",
						c);
					return -1;
				}
				CPU_SET(c, &want);
			}
		}
		if (!CPU_COUNT(&want)) {
			fprintf(stderr, "esptag-agent: --cpus: empty list\n");
			return -1;
		}
	}
	cl->ncpus = 0;
	for (c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &want))
			cl->cpus[cl->ncpus++] = c;
	return 0;
}

/* One option of the command line: 0, or the exit code. */
static int parse_opt(int c, struct agent_cmdline *cl)
{
	struct agent_opts *o = &cl->o;
	uint32_t v;

	switch (c) {
	case 'H':
		cl->host = optarg;
		return 0;
	case 'W':
		cl->wire = optarg;
		return 0;
	case 'c':
		return parse_u32(optarg, "--capacity", 1, 1u << 24, &o->capacity) ? ESPTAG_EXIT_USAGE : 0;
	case 'p':
		return parse_u32(optarg, "--port-limit", 1, 1u << 24, &o->port_limit) ? ESPTAG_EXIT_USAGE : 0;
	case 'l':
		return parse_u32(optarg, "--local-capacity", 1, 65535, &o->local_capacity) ? ESPTAG_EXIT_USAGE : 0;
	case 'C':
	case 'M':
		if (parse_u32(optarg, c == 'C' ? "--cfg-ethertype" : "--meta-ethertype", 0x0600,
			      0xffff, &v))
			return ESPTAG_EXIT_USAGE;
		if (c == 'C')
			o->eth_cfg = v;
		else
			o->eth_meta = v;
		return 0;
	case 'D':
		if (parse_u32(optarg, "--test-drop-config", 0, 100, &v))
			return ESPTAG_EXIT_USAGE;
		o->drop_pct = v;
		return 0;
	case 'F':
		if (parse_features(optarg, &o->features))
			return ESPTAG_EXIT_USAGE;
		o->set_features = true;
		return 0;
	case 'U':
		cl->cpus_given = true;
		return parse_cpus(optarg, cl) ? ESPTAG_EXIT_USAGE : 0;
	case 'I':
		if (!strcmp(optarg, "auto"))
			cl->io = IO_AUTO;
		else if (!strcmp(optarg, "xdp"))
			cl->io = IO_XDP;
		else if (!strcmp(optarg, "packet"))
			cl->io = IO_PACKET;
		else {
			fprintf(stderr, "esptag-agent: --io: '%s' is not auto, xdp or packet\n",
				optarg);
			return ESPTAG_EXIT_USAGE;
		}
		return 0;
	case 'S':
		cl->state_dir = optarg;
		return 0;
	case 'R':
		if (parse_u32(optarg, "--rx-coalesce", 0, 65535, &v))
			return ESPTAG_EXIT_USAGE;
		if (v && v < 1280) {
			fprintf(stderr, "esptag-agent: --rx-coalesce: %u is below 1280 (0: off)\n", v);
			return ESPTAG_EXIT_USAGE;
		}
		o->rx_coalesce = v;
		return 0;
	case 'K':
		cl->show_key = true;
		return 0;
	case '1':
		o->allow_v1 = true;
		return 0;
	case 'v':
		cl->log_level = 7;
		return 0;
	case 'q':
		cl->log_level = 4;
		return 0;
	default:
		usage(stderr);
		return ESPTAG_EXIT_USAGE;
	}
}

/*
 * Parse the command line into cl. Returns -1 to go on, else the exit code
 * (0 after --help).
 */
static int parse_cmdline(int argc, char **argv, struct agent_cmdline *cl)
{
	static const struct option lo[] = {{"host", required_argument, NULL, 'H'},
					   {"wire", required_argument, NULL, 'W'},
					   {"capacity", required_argument, NULL, 'c'},
					   {"port-limit", required_argument, NULL, 'p'},
					   {"local-capacity", required_argument, NULL, 'l'},
					   {"cfg-ethertype", required_argument, NULL, 'C'},
					   {"meta-ethertype", required_argument, NULL, 'M'},
					   {"test-drop-config", required_argument, NULL, 'D'},
					   {"features", required_argument, NULL, 'F'},
					   {"cpus", required_argument, NULL, 'U'},
					   {"io", required_argument, NULL, 'I'},
					   {"state-dir", required_argument, NULL, 'S'},
					   {"rx-coalesce", required_argument, NULL, 'R'},
					   {"show-key", no_argument, NULL, 'K'},
					   {"allow-v1", no_argument, NULL, '1'},
					   {"verbose", no_argument, NULL, 'v'},
					   {"quiet", no_argument, NULL, 'q'},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	int c, rc;

	ESPTAG_VERSION_OPT(argc, argv, "esptag-agent");
	memset(cl, 0, sizeof(*cl));
	while ((c = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return ESPTAG_EXIT_OK;
		}
		rc = parse_opt(c, cl);
		if (rc)
			return rc;
	}
	/* systemd's StateDirectory= (the first one), else the default. */
	if (!cl->state_dir) {
		const char *sd = getenv("STATE_DIRECTORY");
		size_t n = sd ? strcspn(sd, ":") : 0;

		if (n && n < sizeof(cl->state_buf)) {
			memcpy(cl->state_buf, sd, n);
			cl->state_buf[n] = 0;
			cl->state_dir = cl->state_buf;
		} else {
			cl->state_dir = AGENT_STATE_DIR;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "esptag-agent: unexpected argument '%s' (see --help)\n", argv[optind]);
		return ESPTAG_EXIT_USAGE;
	}
	if (cl->show_key)
		return -1;
	if (!cl->host || !cl->wire) {
		fprintf(stderr,
			"esptag-agent: --host IF and --wire IF are required (see --help)\n");
		return ESPTAG_EXIT_USAGE;
	}
	if (!strcmp(cl->host, cl->wire)) {
		fprintf(stderr, "esptag-agent: --host and --wire must be different interfaces\n");
		return ESPTAG_EXIT_USAGE;
	}
	if (cl->o.eth_cfg && cl->o.eth_meta && cl->o.eth_cfg == cl->o.eth_meta) {
		fprintf(stderr, "esptag-agent: config and metadata EtherTypes must differ\n");
		return ESPTAG_EXIT_USAGE;
	}
	if (cl->o.port_limit && cl->o.capacity && cl->o.port_limit > cl->o.capacity)
		cl->o.port_limit = cl->o.capacity;
	if (!cl->ncpus) {
		/* Default: one worker per CPU of the affinity mask. */
		cpu_set_t allowed;
		int c;

		cl->ncpus = 0;
		CPU_ZERO(&allowed);
		if (sched_getaffinity(0, sizeof(allowed), &allowed))
			CPU_SET(0, &allowed);
		for (c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed))
				cl->cpus[cl->ncpus++] = c;
	}
	return -1;
}

/*
 * The AES key schedules live in OpenSSL's cipher contexts on the ordinary
 * heap (the SAD itself is locked and left out of dumps): no core dumps and
 * no ptrace by other processes of the same user, and, when locking cannot
 * run into RLIMIT_MEMLOCK, every page locked in RAM as it is first touched.
 */
static void harden_process(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		agent_log(4, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	if (!can_lock_all() || mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))
		agent_log(4, "cannot lock all memory (needs CAP_IPC_LOCK): the cipher contexts "
			     "may be swapped out");
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Move frames between the two interfaces of worker w until a signal or an
 * error. Returns the exit code. */
static int worker_loop(struct worker *w, bool dumps)
{
	struct agent *a = w->a;
	struct pollfd pfd[4];
	int n = 0, side, i;

	for (side = 0; side < 2; side++) {
		pfd[n].fd = w->ports[side].fd;
		pfd[n++].events = POLLIN;
		if (w->ports[side].mode == AGENT_IO_XDP) {
			pfd[n].fd = agent_xsk_fd(&w->ports[side]);
			pfd[n++].events = POLLIN;
		}
	}
	while (!stop) {
		int r = poll(pfd, n, 1000);

		if (r < 0 && errno != EINTR) {
			agent_log(3, "poll: %s", strerror(errno));
			break;
		}
		if (dumps && dump) {
			dump = 0;
			agent_dump_stats(a, stderr);
		}
		for (i = 0; i < n; i++)
			if (pfd[i].revents & (POLLERR | POLLNVAL))
				break;
		if (i < n) {
			agent_log(3, "interface gone (socket error); stopping");
			break;
		}
		/* Workers read the SAD under sadlock; a config frame takes it
		 * for writing in between two frames (agent_cfg_from_worker). */
		if (a->sadlock)
			pthread_rwlock_rdlock(a->sadlock);
		/* Drain both rings even without POLLIN: blocks retire on a timer. */
		agent_io_rx(&w->ports[AGENT_HOST], a, w->scratch, host_rx);
		agent_flush_all(a);
		agent_io_rx(&w->ports[AGENT_WIRE], a, w->scratch, wire_rx);
		agent_flush_all(a);
		if (a->sadlock)
			pthread_rwlock_unlock(a->sadlock);
	}
	return stop ? 0 : 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = worker_loop(w, false);
	stop = 1; /* one worker failing stops them all */
	return NULL;
}

/*
 * The sockets of every worker on one side. AF_XDP (one socket per worker,
 * worker i on receive queue i) when chosen and possible, else AF_PACKET
 * rings, in one fan-out group when there are several workers. Returns 0,
 * or -1 when a choice forced by --io cannot be had.
 */
static int open_side(struct worker *ws, int n, int side, const char *name, bool want_xdp,
		     bool forced, struct agent_xdp **xdp)
{
	unsigned int queues = agent_io_rx_queues(name);
	struct agent_fanout fo = {0, -1, ws[0].a_eth_meta};
	int i;

	if (want_xdp && (unsigned int)n > queues) {
		agent_log(forced ? 3 : 6,
			  "%s: %u receive queue(s) for %d workers: AF_XDP needs one per worker%s",
			  name, queues, n, forced ? "" : "; AF_PACKET fan-out instead");
		if (forced)
			return -1;
		want_xdp = false;
	}
	if (want_xdp && agent_xdp_attach(xdp, name)) {
		agent_log(forced ? 3 : 6, "%s: cannot attach the AF_XDP program%s", name,
			  forced ? "" : "; AF_PACKET rings instead");
		if (forced)
			return -1;
		want_xdp = false;
	}
	if (n > 1)
		fo.prog_fd = agent_fanout_prog(ws[0].a_eth_meta);
	for (i = 0; i < n; i++)
		if (agent_io_open(&ws[i].ports[side], name, n > 1 ? &fo : NULL))
			return -1;
	for (i = 0; want_xdp && i < n; i++) {
		if (!agent_xsk_open(&ws[i].ports[side], *xdp, i))
			continue;
		if (forced)
			return -1;
		/* Auto: all or none of the workers on AF_XDP. */
		while (i-- > 0)
			agent_xsk_close(&ws[i].ports[side]);
		agent_xdp_detach(*xdp);
		*xdp = NULL;
		agent_log(6, "%s: AF_PACKET rings", name);
		want_xdp = false;
	}
	return 0;
}

static void close_ports(struct worker *ws, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		agent_io_close(&ws[i].ports[AGENT_HOST]);
		agent_io_close(&ws[i].ports[AGENT_WIRE]);
	}
}

/* The identity key (made on the first start); NULL after logging why. */
static EVP_PKEY *identity(const char *dir, bool quiet_new)
{
	uint8_t pub[ESPTAG_X25519_LEN], fpr[ESPTAG_FPR_LEN];
	char err[512], fs[ESPTAG_FPR_STRLEN];
	bool created;
	EVP_PKEY *k = esptag_identity_load(dir, true, &created, err, sizeof(err));

	if (!k) {
		agent_log(3, "identity key: %s", err);
		return NULL;
	}
	if (err[0])
		agent_log(4, "identity key: %s", err);
	if (esptag_x25519_pub(k, pub) || esptag_key_fingerprint(pub, fpr)) {
		EVP_PKEY_free(k);
		return NULL;
	}
	esptag_fpr_str(fpr, fs);
	if (created || !quiet_new)
		agent_log(6, "%s identity key %s/%s, fingerprint %s",
			  created ? "new" : "using", dir, ESPTAG_AGENT_KEY_FILE, fs);
	return k;
}

/* --show-key: what an operator copies into a VM's esptagd configuration. */
static int show_key(const char *dir)
{
	uint8_t pub[ESPTAG_X25519_LEN], fpr[ESPTAG_FPR_LEN];
	char fs[ESPTAG_FPR_STRLEN];
	EVP_PKEY *k = identity(dir, true);

	if (!k)
		return ESPTAG_EXIT_FAIL;
	esptag_x25519_pub(k, pub);
	esptag_key_fingerprint(pub, fpr);
	esptag_fpr_str(fpr, fs);
	printf("public-key ");
	for (int i = 0; i < ESPTAG_X25519_LEN; i++)
		printf("%02x", pub[i]);
	printf("\nfingerprint %s\n", fs);
	EVP_PKEY_free(k);
	return ESPTAG_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct agent_cmdline cl;
	static struct agent a;
	static pthread_rwlock_t sadlock;
	pthread_rwlockattr_t la;
	struct agent_xdp *xdp[2] = {NULL, NULL};
	struct worker *ws = NULL;
	sigset_t sigs, old;
	bool host_xdp;
	int rc, i, n;

	log_init("esptag-agent");
	rc = parse_cmdline(argc, argv, &cl);
	if (rc >= 0)
		return rc;
	rc = ESPTAG_EXIT_FAIL;
	if (cl.log_level)
		log_level = cl.log_level;
	if (cl.show_key)
		return show_key(cl.state_dir);
	harden_process();
	install_signals();
	libbpf_set_print(libbpf_log);
	cl.o.id_key = identity(cl.state_dir, false);
	if (!cl.o.id_key)
		return ESPTAG_EXIT_FAIL;
	if (agent_init(&a, &cl.o, flush_side)) {
		agent_log(3, "out of memory for a SAD of %u entries", cl.o.capacity);
		return 1;
	}
	n = cl.ncpus;
	ws = calloc(n, sizeof(*ws));
	if (!ws)
		goto out;
	for (i = 0; i < n; i++) {
		ws[i].ports[0].fd = ws[i].ports[1].fd = -1;
		ws[i].cpu = cl.cpus[i];
		ws[i].a_eth_meta = a.eth_meta;
		ws[i].scratch = malloc(AGENT_SLOT);
		if (!ws[i].scratch)
			goto out;
	}
	/*
	 * An XDP program on a veth takes TSO from its peer (the kernel then
	 * cuts tagged super-packets as if they were plain TCP): the host side
	 * takes AF_XDP only when forced, and then the agent does not offer TSO.
	 */
	host_xdp = cl.io == IO_XDP || (cl.io == IO_AUTO && !(a.features & ESPTAG_FEAT_TSO));
	if (host_xdp && (a.features & ESPTAG_FEAT_TSO)) {
		agent_log(4, "--io xdp: AF_XDP on the host side, TSO not offered");
		a.features &= ~ESPTAG_FEAT_TSO;
	}
	if (open_side(ws, n, AGENT_HOST, cl.host, host_xdp, cl.io == IO_XDP, &xdp[AGENT_HOST]) ||
	    open_side(ws, n, AGENT_WIRE, cl.wire, cl.io != IO_PACKET, cl.io == IO_XDP,
		      &xdp[AGENT_WIRE]))
		goto out;
	if (n > 1) {
		pthread_rwlockattr_init(&la);
		/* A waiting config writer stops new readers: no starvation. */
		pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&sadlock, &la);
		for (i = 0; i < n; i++) {
			if (agent_worker_init(&ws[i].own, &a, &sadlock))
				goto out;
			ws[i].a = &ws[i].own;
			ws[i].a->io = ws[i].ports;
		}
	} else {
		ws[0].a = &a;
		a.io = ws[0].ports;
	}
	agent_log(6, "running: host %s (%s) wire %s (%s) workers %d capacity %u port-limit %u "
		     "epoch %016llx versions %u..%u rx-coalesce %u%s%s",
		  cl.host, ws[0].ports[AGENT_HOST].mode == AGENT_IO_XDP ? "AF_XDP" : "AF_PACKET",
		  cl.wire, ws[0].ports[AGENT_WIRE].mode == AGENT_IO_XDP ? "AF_XDP" : "AF_PACKET", n,
		  a.capacity, a.port_limit, (unsigned long long)a.epoch, a.version_min,
		  ESPTAG_PROTO_VERSION_MAX, a.rx_coalesce,
		  a.drop_pct ? " (test: dropping config requests)" : "",
		  a.features != AGENT_FEATURES ? " (announcing fewer features)" : "");
	esptag_notify_ready("forwarding");
	if (n == 1) {
		cpu_set_t set;

		/* --cpus named the CPU: run there (by default: where we may). */
		CPU_ZERO(&set);
		CPU_SET(ws[0].cpu, &set);
		if (cl.cpus_given && sched_setaffinity(0, sizeof(set), &set))
			agent_log(4, "cannot pin the worker to CPU %d", ws[0].cpu);
		rc = worker_loop(&ws[0], true);
	} else {
		/* Signals go to this thread only: workers block them. */
		sigfillset(&sigs);
		pthread_sigmask(SIG_BLOCK, &sigs, &old);
		for (i = 0; i < n; i++) {
			if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])) {
				agent_log(3, "cannot start worker %d", i);
				stop = 1;
				break;
			}
			ws[i].started = true;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		for (i = 0; i < n && ws[i].started; i++) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(ws[i].cpu, &set);
			if (pthread_setaffinity_np(ws[i].thread, sizeof(set), &set))
				agent_log(4, "cannot pin worker %d to CPU %d", i, ws[i].cpu);
		}
		while (!stop) {
			poll(NULL, 0, 200);
			if (dump) {
				dump = 0;
				pthread_rwlock_wrlock(&sadlock);
				agent_dump_stats(&a, stderr);
				pthread_rwlock_unlock(&sadlock);
			}
		}
		rc = 0;
		for (i = 0; i < n; i++) {
			if (!ws[i].started)
				continue;
			pthread_join(ws[i].thread, NULL);
			if (ws[i].rc)
				rc = ws[i].rc;
		}
	}
	esptag_notify_stopping();
	agent_log(6, "stopping");
out:
	if (ws) {
		close_ports(ws, n);
		agent_xdp_detach(xdp[AGENT_HOST]);
		agent_xdp_detach(xdp[AGENT_WIRE]);
		if (n > 1)
			for (i = 0; i < n; i++)
				if (ws[i].a == &ws[i].own)
					agent_worker_fini(&ws[i].own);
		for (i = 0; i < n; i++) {
			if (ws[i].scratch)
				OPENSSL_cleanse(ws[i].scratch, AGENT_SLOT);
			free(ws[i].scratch);
		}
		free(ws);
	}
	/* Deletes every SA: EVP contexts freed (cleansed), records wiped. */
	agent_fini(&a);
	return rc;
}
