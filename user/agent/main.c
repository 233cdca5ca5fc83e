// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag-agent: the software inline IPsec agent, a bump in the wire between
 * a host-side and a wire-side interface. See docs/esptag-agent.8.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
static struct agent_io_port ports[2];

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

static void flush_side(struct agent *a, int side)
{
	struct agent_q *q = &a->q[side];

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
};

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
	case 'S':
		cl->state_dir = optarg;
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
					   {"state-dir", required_argument, NULL, 'S'},
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

/* Move frames between the two interfaces until a signal or an error.
 * Returns the exit code. */
static int run_loop(struct agent *a, uint8_t *scratch)
{
	struct pollfd pfd[2];

	pfd[0].fd = ports[AGENT_HOST].fd;
	pfd[1].fd = ports[AGENT_WIRE].fd;
	pfd[0].events = pfd[1].events = POLLIN;
	while (!stop) {
		int n = poll(pfd, 2, 1000);

		if (n < 0 && errno != EINTR) {
			agent_log(3, "poll: %s", strerror(errno));
			break;
		}
		if (dump) {
			dump = 0;
			agent_dump_stats(a, stderr);
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL) ||
		    pfd[1].revents & (POLLERR | POLLNVAL)) {
			agent_log(3, "interface gone (socket error); stopping");
			break;
		}
		/* Drain both rings even without POLLIN: blocks retire on a timer. */
		agent_io_rx(&ports[AGENT_HOST], a, scratch, host_rx);
		agent_flush_all(a);
		agent_io_rx(&ports[AGENT_WIRE], a, scratch, wire_rx);
		agent_flush_all(a);
	}
	return stop ? 0 : 1;
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
	uint8_t *scratch;
	int rc;

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
	cl.o.id_key = identity(cl.state_dir, false);
	if (!cl.o.id_key)
		return ESPTAG_EXIT_FAIL;
	if (agent_init(&a, &cl.o, flush_side)) {
		agent_log(3, "out of memory for a SAD of %u entries", cl.o.capacity);
		return 1;
	}
	scratch = malloc(AGENT_SLOT);
	if (!scratch)
		goto out;
	ports[AGENT_HOST].fd = ports[AGENT_WIRE].fd = -1;
	if (agent_io_open(&ports[AGENT_HOST], cl.host) ||
	    agent_io_open(&ports[AGENT_WIRE], cl.wire))
		goto out;
	agent_log(6, "running: host %s wire %s capacity %u port-limit %u epoch %016llx versions %u..%u%s%s",
		  cl.host, cl.wire, a.capacity, a.port_limit, (unsigned long long)a.epoch,
		  a.version_min, ESPTAG_PROTO_VERSION_MAX,
		  a.drop_pct ? " (test: dropping config requests)" : "",
		  a.features != AGENT_FEATURES ? " (test: announcing fewer features)" : "");
	esptag_notify_ready("forwarding");
	rc = run_loop(&a, scratch);
	esptag_notify_stopping();
	agent_log(6, "stopping");
out:
	agent_io_close(&ports[AGENT_HOST]);
	agent_io_close(&ports[AGENT_WIRE]);
	if (scratch) {
		OPENSSL_cleanse(scratch, AGENT_SLOT);
		free(scratch);
	}
	/* Deletes every SA: EVP contexts freed (cleansed), records wiped. */
	agent_fini(&a);
	return rc;
}
