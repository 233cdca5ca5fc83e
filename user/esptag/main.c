// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag: command-line client of esptagd (docs/esptag.8).
 * Parses ip-xfrm-style commands (user/lib/ctl_cli.h), sends them over the
 * daemon's control socket (user/lib/ctl.h, conn.c) and prints the answer as
 * text or JSON (-j, print.c, print_status.c). Keys are never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "version.h"

#define BATCH_CHUNK 8192

bool cli_json;
struct json_w cli_jw;
bool cli_prom;
const char *cli_sock;
bool cli_stats;

static const char usage_state[] =
	"  state add dev DEV src ADDR dst ADDR proto esp spi SPI [mode transport|tunnel]\n"
	"            [reqid N] aead 'rfc4106(gcm(aes))' 0xKEYSALT 128 [replay-window N]\n"
	"            [flag esn | esn] [vlan ID [vlan ID]] [limit LIMIT]... dir in|out\n"
	"            (manual keying: labs and conformance only; every SA its own key)\n"
	"  state update [dev DEV] [src ADDR] dst ADDR proto esp spi SPI [dir in|out]\n"
	"            [limit LIMIT]... [replay-window N]\n"
	"  LIMIT := time-soft|time-hard SECONDS | byte-soft|byte-hard BYTES |\n"
	"           packet-soft|packet-hard PACKETS   (0 = none)\n"
	"  state allocspi [dev DEV] src PEER dst ADDR proto esp [min SPI max SPI] [reqid N]\n"
	"  state del dev DEV dst ADDR proto esp spi SPI [dir in|out]\n"
	"  state get [dev DEV] dst ADDR [proto esp] spi SPI [dir in|out]\n"
	"  state list|ls|show [dev DEV] | state count [dev DEV]\n"
	"  state flush|deleteall [dev DEV]\n";
static const char usage_policy[] =
	"  policy add|update dev DEV src PREFIX dst PREFIX dir in|out\n"
	"             action protect [spi SPI] [reqid N] | action bypass | action discard\n"
	"             [tmpl [src ADDR] [dst PEER] [proto esp] [spi SPI] [reqid N] [mode M]]\n"
	"  policy del|get dev DEV src PREFIX dst PREFIX dir in|out\n"
	"  policy list|ls|show [dev DEV] | policy flush|deleteall [dev DEV]\n";
static const char usage_agent[] = "  agent status [dev DEV] | agent sa [dev DEV]\n";
static const char usage_stats[] = "  stats [dev DEV] [-o prometheus]\n";
static const char usage_monitor[] = "  monitor [dev DEV]\n";
static const char usage_vf[] =
	"  vf list | vf trust VF on|off | vf reset VF | vf del VF   [dev DEV]   (PF mode)\n"
	"  vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID] [trust on|off] [limit N]\n";

/* The usage of one object (enum esptag_cli_obj), or of all. */
static void usage_of(FILE *f, int obj)
{
	const char *const parts[] = {
		[ESPTAG_CLI_OBJ_STATE] = usage_state,	  [ESPTAG_CLI_OBJ_POLICY] = usage_policy,
		[ESPTAG_CLI_OBJ_AGENT] = usage_agent,	  [ESPTAG_CLI_OBJ_VF] = usage_vf,
		[ESPTAG_CLI_OBJ_STATS] = usage_stats,	  [ESPTAG_CLI_OBJ_MONITOR] = usage_monitor,
	};

	if (obj > ESPTAG_CLI_OBJ_ALL && obj <= ESPTAG_CLI_OBJ_MONITOR) {
		fprintf(f, "Usage: esptag [-j [-p]] [-s] [--socket SOCKET]\n%s", parts[obj]);
		return;
	}
	fprintf(f,
		"Usage: esptag [-j [-p]|-o text|json|prometheus] [-s] [--socket SOCKET] OBJECT COMMAND [ARGS]\n"
		"       esptag [-j [-p]] [--socket SOCKET] -b FILE|-\n"
		"       esptag help [OBJECT] | esptag OBJECT help\n");
	for (int i = ESPTAG_CLI_OBJ_STATE; i <= ESPTAG_CLI_OBJ_MONITOR; i++)
		fputs(parts[i], f);
	fprintf(f, "  map [ list | sad | seq | replay | sa_stats | sa_life | spd | stats | cfg | ports ]\n"
		   "      [ dev DEV | pin DIR ]\n"
		   "      the pinned maps read directly: empty slots skipped, SPIs in host order\n");
	fprintf(f,
		"Objects and commands may be shortened to a unique prefix (st l = state list).\n"
		"-j: JSON output, -p: pretty-printed JSON (implies -j), -o prometheus: stats only.\n"
		"--textfile FILE (with -o prometheus stats): write FILE atomically (node_exporter).\n"
		"-s: statistics (state list, policy list: each SA's counters).\n"
		"SOCKET: --socket PATH, else $ESPTAG_SOCK, else /run/esptag/DEV.sock.\n"
		"esptag -V|--version: version, commit, libraries, protocol versions.\n");
}

static void usage(FILE *f)
{
	usage_of(f, ESPTAG_CLI_OBJ_ALL);
}

/* --textfile FILE: where run_prom writes (stdout if NULL). */
static const char *cli_textfile;

/*
 * --textfile FILE: point stdout at a temporary file next to FILE (same
 * directory, so the rename is atomic: node_exporter's textfile collector
 * never reads a half-written file). tmp receives its name.
 */
static int textfile_open(char *tmp, size_t len)
{
	int fd;

	if ((size_t)snprintf(tmp, len, "%s.tmp.XXXXXX", cli_textfile) >= len) {
		fprintf(stderr, "esptag: --textfile: path too long\n");
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "esptag: --textfile %s: %s\n", cli_textfile, strerror(errno));
		return -1;
	}
	/* Readable by the collector: 0644 like the files node_exporter expects. */
	if (fchmod(fd, 0644) || fflush(stdout) || dup2(fd, STDOUT_FILENO) < 0) {
		fprintf(stderr, "esptag: --textfile %s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return 0;
}

/* Rename the finished temporary file over FILE, or remove it on failure
 * (the previous FILE stays). */
static int textfile_close(const char *tmp, int rc)
{
	if (rc == ESPTAG_EXIT_OK && fsync(STDOUT_FILENO)) {
		fprintf(stderr, "esptag: --textfile %s: %s\n", tmp, strerror(errno));
		rc = ESPTAG_EXIT_INTERNAL;
	}
	if (rc == ESPTAG_EXIT_OK && rename(tmp, cli_textfile)) {
		fprintf(stderr, "esptag: --textfile: rename to %s: %s\n", cli_textfile,
			strerror(errno));
		rc = ESPTAG_EXIT_INTERNAL;
	}
	if (rc != ESPTAG_EXIT_OK)
		unlink(tmp);
	return rc;
}

/* stats -o prometheus: the statistics and the agent status, one text. */
static int run_prom(const char *dev)
{
	char tmp[4096] = "";
	struct esptag_ctl_view sv, av;
	uint8_t *sbuf = NULL, *abuf = NULL;
	uint32_t ei;
	int rc;

	rc = cli_transact(dev, ESPTAG_CTL_STATS, NULL, 0, 0, &sbuf, &sv, &ei);
	if (rc == ESPTAG_EXIT_OK)
		rc = cli_transact(dev, ESPTAG_CTL_AGENT_STATUS, NULL, 0, 0, &abuf, &av, &ei);
	if (rc == ESPTAG_EXIT_OK && cli_textfile && textfile_open(tmp, sizeof(tmp))) {
		tmp[0] = 0;
		rc = ESPTAG_EXIT_INTERNAL;
	}
	if (rc == ESPTAG_EXIT_OK && !av.hdr.count) {
		fprintf(stderr, "esptag: empty agent status reply\n");
		rc = ESPTAG_EXIT_INTERNAL;
	}
	if (rc == ESPTAG_EXIT_OK && cli_print_prom(&sv, &av))
		rc = ESPTAG_EXIT_INTERNAL;
	esptag_ctl_free(sbuf);
	esptag_ctl_free(abuf);
	if (rc == ESPTAG_EXIT_OK && (fflush(stdout) || ferror(stdout))) {
		fprintf(stderr, "esptag: writing the output: %s\n", strerror(errno));
		rc = ESPTAG_EXIT_INTERNAL;
	}
	if (cli_textfile && tmp[0])
		rc = textfile_close(tmp, rc);
	return rc;
}

/* state list -s, policy list -s: the SAs (policies) with the counters of
 * their SA (stats reply, matched by sa_index within this run). */
static int print_with_stats(const char *dev, int op, const struct esptag_ctl_view *v)
{
	struct esptag_ctl_view sv;
	uint8_t *sbuf = NULL;
	uint32_t ei;
	int rc;

	rc = cli_transact(dev, ESPTAG_CTL_STATS, NULL, 0, 0, &sbuf, &sv, &ei);
	if (rc == ESPTAG_EXIT_OK && op == ESPTAG_CTL_STATE_LIST)
		cli_print_sas(v, &sv);
	else if (rc == ESPTAG_EXIT_OK)
		cli_print_policies(v, &sv);
	esptag_ctl_free(sbuf);
	return rc;
}

/* The daemon's device when the command did not name it (the request item
 * needs it): from its agent status. */
static int daemon_dev(struct esptag_cli_cmd *c, char *dev)
{
	struct esptag_ctl_agent a = {};
	struct esptag_ctl_view v;
	uint8_t *buf = NULL;
	uint32_t ei;
	int rc;

	if (*c->dev) {
		snprintf(dev, ESPTAG_CTL_DEV_LEN, "%s", c->dev);
		return ESPTAG_EXIT_OK;
	}
	rc = cli_transact(c->dev, ESPTAG_CTL_AGENT_STATUS, NULL, 0, 0, &buf, &v, &ei);
	if (rc == ESPTAG_EXIT_OK && v.hdr.count)
		esptag_ctl_item(&v, 0, &a);
	esptag_ctl_free(buf);
	if (rc == ESPTAG_EXIT_OK && !*a.dev)
		rc = ESPTAG_EXIT_INTERNAL;
	snprintf(dev, ESPTAG_CTL_DEV_LEN, "%s", a.dev);
	return rc;
}

/* STATE_GET of one SA (id with dir set): exit code; *found, *sa. */
static int sa_get_one(const char *dev, const struct esptag_ctl_sa_id *id, struct esptag_ctl_sa *sa,
		      bool *found, bool quiet)
{
	struct esptag_ctl_view v;
	uint8_t *buf = NULL;
	uint32_t ei;
	int rc;

	*found = false;
	rc = cli_transact_q(dev, ESPTAG_CTL_STATE_GET, id, 1, sizeof(*id), &buf, &v, &ei, quiet);
	if (rc == ESPTAG_EXIT_OK && v.hdr.count) {
		esptag_ctl_item(&v, 0, sa);
		*found = true;
	}
	esptag_ctl_free(buf);
	return rc;
}

/* state get: STATE_GET, in both directions when dir is unset. */
static int run_get(struct esptag_cli_cmd *c, const char *dev)
{
	struct esptag_ctl_sa found[2];
	struct esptag_ctl_sa_id id = c->id;
	uint32_t n = 0;

	snprintf(id.dev, sizeof(id.dev), "%s", dev);
	for (uint8_t dir = ESPTAG_DIR_IN; dir <= ESPTAG_DIR_OUT; dir++) {
		bool got;
		int rc;

		if (c->id.dir && c->id.dir != dir)
			continue;
		id.dir = dir;
		rc = sa_get_one(c->dev, &id, &found[n], &got, true);
		if (rc != ESPTAG_EXIT_OK && rc != ESPTAG_EXIT_REFUSED)
			return rc;
		n += got;
	}
	return cli_print_sa_get(found, n, &c->id);
}

/* state update: the SA as it is, with the given limits / window. */
static int run_update(struct esptag_cli_cmd *c, const char *dev)
{
	struct esptag_ctl_sa_id id = { .family = c->sa.family, .proto = ESPTAG_IPPROTO_ESP,
				       .spi = c->sa.spi };
	struct esptag_ctl_sa cur, other;
	struct esptag_ctl_view v;
	uint8_t *buf = NULL;
	uint32_t ei;
	bool got = false, got2 = false;
	int rc;

	snprintf(id.dev, sizeof(id.dev), "%s", dev);
	memcpy(id.daddr, c->sa.daddr, 16);
	id.dir = c->sa.dir ? c->sa.dir : ESPTAG_DIR_IN;
	rc = sa_get_one(c->dev, &id, &cur, &got, true);
	if (!c->sa.dir) {
		id.dir = ESPTAG_DIR_OUT;
		rc = sa_get_one(c->dev, &id, got ? &other : &cur, &got2, true);
		if (got && got2) {
			fprintf(stderr, "esptag: dst and spi name an SA in each direction: add dir in or dir out\n");
			return ESPTAG_EXIT_CLI_USAGE;
		}
		got |= got2;
	}
	if (!got) {
		if (rc == ESPTAG_EXIT_OK || rc == ESPTAG_EXIT_REFUSED) {
			fprintf(stderr, "esptag: no such SA (dst, spi%s); nothing was changed\n",
				c->sa.dir ? ", dir" : "");
			return ESPTAG_EXIT_REFUSED;
		}
		return rc;
	}
	if ((c->upd & ESPTAG_CLI_UPD_REPLAY) && cur.dir == ESPTAG_DIR_OUT && c->sa.replay_window) {
		fprintf(stderr, "esptag: replay-window applies to dir in SAs only; nothing was changed\n");
		return ESPTAG_EXIT_CLI_USAGE;
	}
	esptag_cli_update_merge(c, &cur);
	snprintf(cur.dev, sizeof(cur.dev), "%s", dev);
	rc = cli_transact(c->dev, ESPTAG_CTL_STATE_UPDATE, &cur, 1, sizeof(cur), &buf, &v, &ei);
	if (rc == ESPTAG_EXIT_OK && v.hdr.count) {
		esptag_ctl_item(&v, 0, &cur);
		cli_print_sa_get(&cur, 1, NULL);
	}
	esptag_ctl_free(buf);
	return rc;
}

/* state allocspi: print the reservation as ip xfrm state allocspi does. */
static int run_allocspi(struct esptag_cli_cmd *c, const char *dev)
{
	struct esptag_ctl_spi q = c->spi;
	struct esptag_ctl_view v;
	uint8_t *buf = NULL;
	uint32_t ei;
	int rc;

	snprintf(q.dev, sizeof(q.dev), "%s", dev);
	rc = cli_transact(c->dev, ESPTAG_CTL_STATE_ALLOCSPI, &q, 1, sizeof(q), &buf, &v, &ei);
	if (rc == ESPTAG_EXIT_OK && v.hdr.count) {
		esptag_ctl_item(&v, 0, &q);
		cli_print_allocspi(&q);
	}
	esptag_ctl_free(buf);
	return rc;
}

static int run_sa_verb(struct esptag_cli_cmd *c)
{
	char dev[ESPTAG_CTL_DEV_LEN];
	int rc = daemon_dev(c, dev);

	if (rc != ESPTAG_EXIT_OK)
		return rc;
	if (c->verb == ESPTAG_CLI_GET)
		return run_get(c, dev);
	if (c->verb == ESPTAG_CLI_UPDATE)
		return run_update(c, dev);
	return run_allocspi(c, dev);
}

/* -o FORMAT; 0, -1 unknown. */
static int set_output(const char *f)
{
	cli_json = !strcmp(f, "json");
	cli_prom = !strcmp(f, "prometheus");
	if (cli_json || cli_prom || !strcmp(f, "text"))
		return 0;
	fprintf(stderr, "esptag: unknown output format '%s' (text, json, prometheus)\n", f);
	return -1;
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

	if (c->help) {
		usage_of(stdout, c->help);
		return ESPTAG_EXIT_OK;
	}
	if (c->op == ESPTAG_CTL_MONITOR)
		return cli_monitor(c->dev);
	if (cli_prom)
		return run_prom(c->dev);
	if (c->verb == ESPTAG_CLI_GET || c->verb == ESPTAG_CLI_UPDATE ||
	    c->verb == ESPTAG_CLI_ALLOCSPI)
		return run_sa_verb(c);
	isz = esptag_ctl_item_size(c->op, false);
	if (isz) {
		items = calloc(count, isz);
		if (!items)
			return ESPTAG_EXIT_INTERNAL;
		for (uint32_t i = 0; i < count; i++)
			memcpy((uint8_t *)items + i * isz, &cmds[i].sa, isz);
	}
	rc = cli_transact(c->dev, c->op, items, isz ? count : 0, isz, &buf, &v, &err_index);
	if (items) {
		explicit_bzero(items, count * isz);
		free(items);
	}
	if (rc != ESPTAG_EXIT_OK) {
		if (count > 1 && err_index < count)
			fprintf(stderr, "esptag: the failing item is number %u of this group; none of the group was applied\n",
				err_index + 1);
		esptag_ctl_free(buf);
		return rc;
	}
	if (c->verb == ESPTAG_CLI_COUNT) {
		rc = cli_print_sa_count(&v);
		esptag_ctl_free(buf);
		return rc;
	}
	switch (c->op) {
	case ESPTAG_CTL_STATE_LIST:
	case ESPTAG_CTL_POLICY_LIST:
		if (cli_stats) {
			rc = print_with_stats(c->dev, c->op, &v);
			esptag_ctl_free(buf);
			return rc;
		}
		if (c->op == ESPTAG_CTL_STATE_LIST)
			cli_print_sas(&v, NULL);
		else
			cli_print_policies(&v, NULL);
		break;
	case ESPTAG_CTL_POLICY_GET:
		cli_print_policies(&v, NULL);
		break;
	case ESPTAG_CTL_AGENT_SA:
		cli_print_sas(&v, NULL);
		break;
	case ESPTAG_CTL_AGENT_STATUS:
		cli_print_agent(&v);
		break;
	case ESPTAG_CTL_STATS:
		cli_print_stats(&v);
		break;
	case ESPTAG_CTL_VF_LIST:
	case ESPTAG_CTL_VF_ADD:
		cli_print_vfs(&v, c->op == ESPTAG_CTL_VF_LIST);
		break;
	case ESPTAG_CTL_VF_RESET:
		cli_print_vf_reset(&v);
		break;
	default:
		break;
	}
	esptag_ctl_free(buf);
	return ESPTAG_EXIT_OK;
}

/* The commands of a batch file and the line each came from. */
struct batch {
	struct esptag_cli_cmd *cmds;
	size_t *lines;
	size_t n, cap;
};

static int batch_grow(struct batch *b)
{
	size_t ncap = b->cap ? b->cap * 2 : 256;
	struct esptag_cli_cmd *nc = calloc(ncap, sizeof(*nc));
	size_t *nl = realloc(b->lines, ncap * sizeof(*nl));

	if (!nc || !nl) {
		free(nc);
		return -1;
	}
	b->lines = nl;
	if (b->cmds) {
		memcpy(nc, b->cmds, b->n * sizeof(*nc));
		explicit_bzero(b->cmds, b->n * sizeof(*b->cmds));
		free(b->cmds);
	}
	b->cmds = nc;
	b->cap = ncap;
	return 0;
}

/* Parse every line of f into b; nothing is sent. Returns the exit code. */
static int batch_read(FILE *f, const char *file, struct batch *b)
{
	size_t lineno = 0, linecap = 0;
	char *line = NULL, *argv[64], err[256];
	int rc = ESPTAG_EXIT_OK, argc;

	while (getline(&line, &linecap, f) >= 0) {
		lineno++;
		argc = esptag_cli_split(line, argv, 64);
		if (argc == 0)
			continue;
		if (b->n == b->cap && batch_grow(b)) {
			rc = ESPTAG_EXIT_INTERNAL;
			break;
		}
		if (argc < 0) {
			fprintf(stderr, "esptag: %s:%zu: unterminated quote or too many words\n", file,
				lineno);
			rc = ESPTAG_EXIT_CLI_USAGE;
			break;
		}
		if (esptag_cli_parse(argc, argv, &b->cmds[b->n], err, sizeof(err))) {
			fprintf(stderr, "esptag: %s:%zu: %s (nothing was sent)\n", file, lineno, err);
			rc = ESPTAG_EXIT_CLI_USAGE;
			break;
		}
		if (b->cmds[b->n].op == ESPTAG_CTL_MONITOR) {
			fprintf(stderr, "esptag: %s:%zu: monitor cannot be batched\n", file, lineno);
			rc = ESPTAG_EXIT_CLI_USAGE;
			break;
		}
		b->lines[b->n++] = lineno;
	}
	if (line)
		explicit_bzero(line, linecap);
	free(line);
	return rc;
}

/* Run the commands; consecutive state add (or del) lines for one dev
 * travel together. */
static int batch_send(const char *file, struct batch *b)
{
	int rc = ESPTAG_EXIT_OK;

	for (size_t i = 0; i < b->n;) {
		struct esptag_cli_cmd *cmds = b->cmds;
		size_t j = i + 1;

		if (cmds[i].op == ESPTAG_CTL_STATE_ADD || cmds[i].op == ESPTAG_CTL_STATE_DEL)
			while (j < b->n && j - i < BATCH_CHUNK && cmds[j].op == cmds[i].op &&
			       !strcmp(cmds[j].dev, cmds[i].dev))
				j++;
		rc = run(&cmds[i], j - i);
		if (rc) {
			fprintf(stderr, "esptag: %s: stopped at the group of lines %zu-%zu\n", file,
				b->lines[i], b->lines[j - 1]);
			return rc;
		}
		i = j;
	}
	return rc;
}

static int batch(const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	struct batch b = {0};
	int rc;

	if (!f) {
		fprintf(stderr, "esptag: cannot open %s: %s\n", file, strerror(errno));
		return ESPTAG_EXIT_CLI_USAGE;
	}
	rc = batch_read(f, file, &b);
	if (rc == ESPTAG_EXIT_OK)
		rc = batch_send(file, &b);
	if (b.cmds) {
		explicit_bzero(b.cmds, b.cap * sizeof(*b.cmds));
		free(b.cmds);
	}
	free(b.lines);
	if (f != stdin)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct esptag_cli_cmd cmd;
	const char *batch_file = NULL;
	char err[256];
	bool pretty = false;
	int opt, rc;

	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ "stats", no_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "textfile", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};

	ESPTAG_VERSION_OPT(argc, argv, "esptag");
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+jpsb:o:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			cli_json = true;
			break;
		case 'p':
			pretty = cli_json = true;
			break;
		case 'S':
			cli_sock = optarg;
			break;
		case 's':
			/* The old "-s PATH" (the socket), for one release. */
			if (optind < argc && !strcmp(argv[optind - 1], "-s") &&
			    esptag_cli_s_is_socket(argv[optind])) {
				fprintf(stderr, "esptag: '-s PATH' is deprecated, use --socket PATH; -s now means statistics\n");
				cli_sock = argv[optind++];
				break;
			}
			cli_stats = true;
			break;
		case 'b':
			batch_file = optarg;
			break;
		case 'T':
			cli_textfile = optarg;
			break;
		case 'o':
			if (set_output(optarg))
				return ESPTAG_EXIT_CLI_USAGE;
			break;
		case 'h':
			usage(stdout);
			return ESPTAG_EXIT_OK;
		default:
			usage(stderr);
			return ESPTAG_EXIT_CLI_USAGE;
		}
	}
	json_init(&cli_jw, stdout, pretty);
	if (batch_file) {
		if (cli_prom) {
			fprintf(stderr, "esptag: -o prometheus is for the stats command, not -b\n");
			return ESPTAG_EXIT_CLI_USAGE;
		}
		if (optind != argc) {
			fprintf(stderr, "esptag: -b takes no command on the command line\n");
			return ESPTAG_EXIT_CLI_USAGE;
		}
		return batch(batch_file);
	}
	/* esptag map: the pins, read directly (no control socket). */
	if (optind < argc && strlen(argv[optind]) >= 1 && !strncmp(argv[optind], "map", strlen(argv[optind])) &&
	    strncmp(argv[optind], "monitor", strlen(argv[optind]))) {
		if (cli_prom) {
			fprintf(stderr, "esptag: -o prometheus is for the stats command only\n");
			return ESPTAG_EXIT_CLI_USAGE;
		}
		return cli_map_main(argc - optind, argv + optind);
	}
	/* "stats -o FORMAT": the option may follow the command too. */
	if (argc - optind == 3 && !strcmp(argv[optind], "stats") &&
	    (!strcmp(argv[optind + 1], "-o") || !strcmp(argv[optind + 1], "--output"))) {
		if (set_output(argv[optind + 2]))
			return ESPTAG_EXIT_CLI_USAGE;
		argc -= 2;
	}
	if (esptag_cli_parse(argc - optind, argv + optind, &cmd, err, sizeof(err))) {
		fprintf(stderr, "esptag: %s\n", err);
		return ESPTAG_EXIT_CLI_USAGE;
	}
	if (cli_textfile && (!cli_prom || cmd.op != ESPTAG_CTL_STATS)) {
		fprintf(stderr, "esptag: --textfile FILE goes with -o prometheus stats\n");
		esptag_cli_cmd_clear(&cmd);
		return ESPTAG_EXIT_CLI_USAGE;
	}
	if (cli_prom && cmd.op != ESPTAG_CTL_STATS) {
		fprintf(stderr, "esptag: -o prometheus is for the stats command only\n");
		esptag_cli_cmd_clear(&cmd);
		return ESPTAG_EXIT_CLI_USAGE;
	}
	rc = run(&cmd, 1);
	esptag_cli_cmd_clear(&cmd);
	return rc;
}
