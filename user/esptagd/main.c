// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd: the daemon of one host port (docs/esptagd.8).
 * Loads/attaches (or adopts) the data path, owns the agent channel, keeps
 * the SA and policy databases, serves the control socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include "esptagd.h"
#include "secmem.h"

/* ---- replies ------------------------------------------------------------- */

void reply_err(struct reply *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	/* printable ASCII only (the codec insists) */
	for (char *p = r->msg; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
}

int reply_add(struct reply *r, const void *item)
{
	if (r->count >= ESPTAG_CTL_MAX_ITEMS)
		return -1;
	if (r->count == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		uint8_t *n = realloc(r->items, ncap * r->isz);

		if (!n)
			return -1;
		r->items = n;
		r->cap = ncap;
	}
	memcpy(r->items + r->count * r->isz, item, r->isz);
	r->count++;
	return 0;
}

/* ---- monitor --------------------------------------------------------------- */

static void monitor_drop(struct daemon *d, int i)
{
	close(d->monitors[i]);
	d->monitors[i] = d->monitors[--d->nmon];
}

void monitor_event(struct daemon *d, int type, const struct esptag_ctl_sa *sa, uint64_t value,
		   uint64_t delta, uint16_t id)
{
	struct esptag_ctl_event e = { .type = type, .id = id, .value = value, .delta = delta };
	struct esptag_ctl_hdr h;
	struct timespec ts;
	uint8_t buf[sizeof(h) + sizeof(e)];

	if (!d->nmon)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	e.time_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (sa) {
		e.sa_index = sa->sa_index == ESPTAG_SA_INDEX_NONE ? 0 : sa->sa_index;
		e.spi = sa->spi;
		e.dir = sa->dir;
		e.family = sa->family;
		memcpy(e.daddr, sa->daddr, 16);
	}
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_EVENT, true, 0, 1, sizeof(e));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &e, sizeof(e));
	for (int i = d->nmon - 1; i >= 0; i--)
		if (send(d->monitors[i], buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(buf))
			monitor_drop(d, i);
}

void monitor_counters(struct daemon *d)
{
	for (uint32_t id = 0; id < ESPTAG_CNT_MAX; id++) {
		uint64_t v;

		if (percpu_sum_u64(d, M_STATS, id, &v))
			continue;
		if (d->have_last_cnt && v > d->last_cnt[id] && strstr(esptag_counter_str(id), "drop"))
			monitor_event(d, ESPTAG_EV_DROP, NULL, v, v - d->last_cnt[id], id);
		d->last_cnt[id] = v;
	}
	d->have_last_cnt = true;
}

/* The monitor's part in the agent link's events (link.c). */
static void monitor_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch)
{
	if (ev == LINK_EV_UP)
		monitor_event(d, ESPTAG_EV_AGENT_UP, NULL, 0, 0, 0);
	else if (ev == LINK_EV_DOWN)
		monitor_event(d, ESPTAG_EV_AGENT_DOWN, NULL, 0, 0, 0);
	else if (ev == LINK_EV_RESTARTED)
		monitor_event(d, ESPTAG_EV_AGENT_RESTARTED, NULL, d->reinstalled_last, d->caps.epoch, 0);
}

/* ---- control socket ---------------------------------------------------------- */

/* Does a daemon answer on the control socket path? */
static bool sock_live(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool live;
	int probe;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return false;
	live = !connect(probe, (struct sockaddr *)&sun, sizeof(sun));
	close(probe);
	return live;
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			log_err("cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	/* A live daemon on this socket? Then refuse rather than steal it. */
	if (sock_live(path)) {
		log_err("another esptagd already serves %s", path);
		return -1;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 64)) {
		umask(old);
		log_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	chmod(path, 0600);
	return fd;
}

static void ctl_serve(struct daemon *d, int lfd, int ep)
{
	struct timeval tmo = { .tv_sec = 5 };
	struct esptag_ctl_view v;
	struct esptag_ctl_hdr h;
	struct reply r = {};
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char err[256];
	uint8_t *buf = NULL;
	ssize_t n;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warn("control socket: refused uid %u", cred.uid);
		close(fd);
		return;
	}
	n = esptag_ctl_read(fd, &buf);
	if (n <= 0) {
		if (n < 0)
			log_warn("control socket: bad request: %s", strerror(errno));
		close(fd);
		return;
	}
	r.err_index = UINT32_MAX;
	snprintf(err, sizeof(err), "a reply is not a request");
	if (esptag_ctl_decode(buf, n, &v, err, sizeof(err)) || (v.hdr.flags & ESPTAG_CTL_F_REPLY)) {
		log_warn("control socket: rejected request: %s", err);
		reply_err(&r, ESPTAG_CTL_E_INVAL, "bad request: %s", err);
		h.op = n >= (ssize_t)sizeof(h) && buf[5] >= 1 && buf[5] <= ESPTAG_CTL_OP_MAX ? buf[5] : 1;
		esptag_ctl_hdr_init(&h, h.op, true, r.status, 0, strlen(r.msg));
		esptag_ctl_write(fd, &h, r.msg);
		goto done;
	}
	r.isz = esptag_ctl_item_size(v.hdr.op, true);
	log_debug("control: %s (%u items)", esptag_ctl_op_str(v.hdr.op), v.hdr.count);
	switch (v.hdr.op) {
	case ESPTAG_CTL_STATE_ADD:
		ctl_state_add(d, &v, &r);
		break;
	case ESPTAG_CTL_STATE_DEL:
		ctl_state_del(d, &v, &r);
		break;
	case ESPTAG_CTL_STATE_LIST:
		ctl_state_list(d, &r);
		break;
	case ESPTAG_CTL_STATE_FLUSH:
		ctl_state_flush(d, &r);
		break;
	case ESPTAG_CTL_POLICY_ADD:
		ctl_policy_add(d, &v, &r);
		break;
	case ESPTAG_CTL_POLICY_UPDATE:
		ctl_policy_update(d, &v, &r);
		break;
	case ESPTAG_CTL_POLICY_DEL:
		ctl_policy_del(d, &v, &r);
		break;
	case ESPTAG_CTL_POLICY_LIST:
		ctl_policy_list(d, &r);
		break;
	case ESPTAG_CTL_POLICY_FLUSH:
		ctl_policy_flush(d, &r);
		break;
	case ESPTAG_CTL_AGENT_STATUS:
		ctl_agent_status(d, &r);
		break;
	case ESPTAG_CTL_AGENT_SA:
		ctl_agent_sa(d, &r);
		break;
	case ESPTAG_CTL_STATS:
		ctl_stats(d, &r);
		break;
	case ESPTAG_CTL_VF_ADD:
	case ESPTAG_CTL_VF_DEL:
	case ESPTAG_CTL_VF_LIST:
	case ESPTAG_CTL_VF_TRUST:
	case ESPTAG_CTL_VF_RESET:
		pf_ctl(d, &v, &r);
		break;
	case ESPTAG_CTL_MONITOR:
		if (d->nmon == (int)(sizeof(d->monitors) / sizeof(d->monitors[0]))) {
			reply_err(&r, ESPTAG_CTL_E_NOSPC, "too many monitors");
			break;
		}
		esptag_ctl_hdr_init(&h, v.hdr.op, true, 0, 0, 0);
		if (!esptag_ctl_write(fd, &h, NULL)) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

			fcntl(fd, F_SETFL, O_NONBLOCK);
			d->monitors[d->nmon++] = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			fd = -1;
		}
		goto done;
	default:
		reply_err(&r, ESPTAG_CTL_E_INVAL, "operation %u is not a request", v.hdr.op);
	}
	if (r.status) {
		esptag_ctl_hdr_init(&h, v.hdr.op, true, r.status, 0, strlen(r.msg));
		h.agent_status = r.status == ESPTAG_CTL_E_AGENT ? r.agent_status : 0;
		h.err_index = r.err_index;
		esptag_ctl_write(fd, &h, r.msg);
	} else {
		esptag_ctl_hdr_init(&h, v.hdr.op, true, 0, r.count, r.count * r.isz);
		esptag_ctl_write(fd, &h, r.items);
	}
done:
	/* The request may have carried keys. */
	esptag_ctl_free(buf);
	if (r.items)
		explicit_bzero(r.items, r.cap * r.isz);
	free(r.items);
	if (fd >= 0)
		close(fd);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: esptagd --dev IF [--pin-dir DIR] [--sock PATH] [--port N]\n"
		"               [--adopt] [--no-attach] [--cleanup-on-exit] [--xdp-skb]\n"
		"               [--hello-interval MS] [--down-after N] [--timeout MS] [--tries N]\n"
		"               [--max-sas N] [--audit-interval S] [--cfg-ethertype HEX] [--meta-ethertype HEX]\n"
		"               [--mark-mask N --mark-trusted N [--mark-shift N]] [-v|--verbose]\n"
		"       PF mode: --pf [--mbox-dir DIR] [--uplink IF] [--switch veb|vepa]\n"
		"               [--vf-limit N] [--local ADDR]\n"
		"       VF mode: --vf --mailbox PATH\n"
		"       esptagd --teardown --dev IF [--pin-dir DIR] [--sock PATH] [--port N]\n"
		"               [--pf [--uplink IF]] [--vf]   (remove what a stopped daemon left)\n");
}

static volatile int stop;

/*
 * esptagd --teardown: the explicit act that removes what stopped daemons
 * left running on a port. In fail-closed order: the data path first drops
 * protect traffic (AGENT_UP cleared), the agent forgets the port's SAs (and
 * its VFs'), then the programs are detached and the pins removed.
 */
static int run_teardown(struct daemon *d, const char *pin_dir, const char *sock,
			const char *uplink, bool pf_mode)
{
	uint16_t vfs[ESPTAG_CTL_VF_MAX + 1];
	struct txn *t = NULL;
	int nvf = 0, n = 0, rc = 0, bad;

	if (sock_live(sock)) {
		log_err("an esptagd serves %s: stop it first (a stop keeps the data path; --teardown then removes it)",
			sock);
		return 1;
	}
	if (bpf_open_leftover(d, pin_dir) > 0 && d->bpf.map_fd[M_CFG] >= 0)
		cfg_set_agent_up(d, false);
	if (pf_mode)
		nvf = pf_remove_leftover(d, uplink, vfs, ESPTAG_CTL_VF_MAX + 1);
	if (!d->vf_mode) {
		/* FLUSH_PORT of this port and of every VF port found, together. */
		t = calloc(nvf + 1, sizeof(*t));
		if (t && !chan_open(&d->chan, d->dev)) {
			for (int i = -1; i < nvf; i++) {
				struct esptag_cfg_builder b;

				chan_begin(&d->chan, &t[n], &b, ESPTAG_OP_FLUSH_PORT,
					   i >= 0 ? vfs[i] + 1 : d->chan.port);
				if (!chan_finish(&d->chan, &t[n], &b))
					n++;
			}
			bad = chan_run(&d->chan, t, n, 0);
			for (int i = 0; i < n; i++)
				bad += t[i].state == TXN_DONE && t[i].v.status;
			if (bad) {
				log_warn("teardown: the agent did not confirm FLUSH_PORT; its SAs of this port remain until the next esptagd removes them as orphans");
				rc = 1;
			} else {
				log_info("teardown: the agent removed the SAs of port %u%s", d->chan.port,
					 nvf ? " and of its VFs" : "");
			}
			chan_close(&d->chan);
		} else {
			log_warn("teardown: no agent channel on %s; the agent's SAs stay", d->dev);
			rc = 1;
		}
		free(t);
	}
	bpf_remove_leftover(d, pin_dir);
	unlink(sock);
	log_info("teardown of %s done: programs detached, pins in %s removed", d->dev, pin_dir);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "sock", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'P' },
		{ "adopt", no_argument, NULL, 'A' },
		{ "no-attach", no_argument, NULL, 'N' },
		{ "keep-pins", no_argument, NULL, 'K' },
		{ "xdp-skb", no_argument, NULL, 'S' },
		{ "hello-interval", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "tries", required_argument, NULL, 'R' },
		{ "max-sas", required_argument, NULL, 'M' },
		{ "audit-interval", required_argument, NULL, 'a' },
		{ "down-after", required_argument, NULL, 'D' },
		{ "cfg-ethertype", required_argument, NULL, 'C' },
		{ "meta-ethertype", required_argument, NULL, 'E' },
		{ "mark-mask", required_argument, NULL, 'm' },
		{ "mark-trusted", required_argument, NULL, 't' },
		{ "mark-shift", required_argument, NULL, 'x' },
		{ "pf", no_argument, NULL, 0x100 },
		{ "mbox-dir", required_argument, NULL, 0x101 },
		{ "uplink", required_argument, NULL, 0x102 },
		{ "switch", required_argument, NULL, 0x103 },
		{ "vf-limit", required_argument, NULL, 0x104 },
		{ "local", required_argument, NULL, 0x105 },
		{ "vf", no_argument, NULL, 0x106 },
		{ "mailbox", required_argument, NULL, 0x107 },
		{ "cleanup-on-exit", no_argument, NULL, 0x108 },
		{ "teardown", no_argument, NULL, 0x109 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct daemon dm;
	struct daemon *d = &dm;
	struct bpf_opts bo = {};
	struct cfg_opts co = { .eth_p_cfg = ESPTAG_ETH_P_CFG, .eth_p_meta = ESPTAG_ETH_P_META };
	unsigned long v;
	char pin_buf[1024], sock_buf[1024];
	const char *sock = NULL;
	unsigned long audit_s = 60;
	uint64_t last_audit = 0;
	unsigned long hello_ms = 1000, max_sas = ESPTAG_SAD_MAX, port = 0, tmo = 0, tries = 0;
	bool keep = false, cleanup = false, teardown = false, pf_mode = false;
	bool started = false, remove;
	struct pf_opts po = { .vf_limit = 1024 };
	const char *mailbox = NULL;
	char mbox_buf[1024];
	int opt, ep = -1, lfd = -1, sfd = -1, tfd = -1, rc = 1;
	sigset_t mask;
	char *end;

	log_init("esptagd");
	d->chan.fd = -1;
	while ((opt = getopt_long(argc, argv, "d:p:s:vh", lopts, NULL)) != -1) {
		errno = 0;
		switch (opt) {
		case 'd':
			if (strlen(optarg) >= sizeof(d->dev)) {
				fprintf(stderr, "esptagd: device name too long\n");
				return 2;
			}
			snprintf(d->dev, sizeof(d->dev), "%s", optarg);
			break;
		case 'p':
			bo.pin_dir = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'P':
			port = strtoul(optarg, &end, 0);
			if (*end || errno || port > 0xffff)
				goto badnum;
			break;
		case 'A':
			bo.adopt = true;
			break;
		case 'N':
			bo.no_attach = true;
			break;
		case 'K':
			keep = true;
			break;
		case 'S':
			bo.skb_mode = true;
			break;
		case 'H':
			hello_ms = strtoul(optarg, &end, 0);
			if (*end || errno || hello_ms < 50 || hello_ms > 600000)
				goto badnum;
			break;
		case 'T':
			tmo = strtoul(optarg, &end, 0);
			if (*end || errno || tmo < 1 || tmo > 60000)
				goto badnum;
			break;
		case 'R':
			tries = strtoul(optarg, &end, 0);
			if (*end || errno || tries < 1 || tries > 20)
				goto badnum;
			break;
		case 'M':
			max_sas = strtoul(optarg, &end, 0);
			if (*end || errno || max_sas < 1 || max_sas > ESPTAG_SAD_MAX)
				goto badnum;
			break;
		case 'D':
			d->down_after = strtoul(optarg, &end, 0);
			if (*end || errno || d->down_after < 1 || d->down_after > 100)
				goto badnum;
			break;
		case 'a':
			audit_s = strtoul(optarg, &end, 0);
			if (*end || errno || audit_s > 86400)
				goto badnum;
			break;
		case 'C':
		case 'E':
			v = strtoul(optarg, &end, 16);
			if (*end || errno || v < 0x0600 || v > 0xffff)
				goto badnum;
			*(opt == 'C' ? &co.eth_p_cfg : &co.eth_p_meta) = v;
			co.set_eth = true;
			break;
		case 'm':
		case 't':
		case 'x':
			v = strtoul(optarg, &end, 0);
			if (*end || errno || v > 0xffffffffu || (opt == 'x' && v > 31))
				goto badnum;
			*(opt == 'm' ? &co.mark_mask : opt == 't' ? &co.mark_trusted : &co.mark_shift) = v;
			co.set_mark = true;
			break;
		case 0x100:
			pf_mode = true;
			break;
		case 0x101:
			po.mbox_dir = optarg;
			break;
		case 0x102:
			po.uplink = optarg;
			break;
		case 0x103:
			if (strcmp(optarg, "veb") && strcmp(optarg, "vepa"))
				goto badnum;
			po.vepa = !strcmp(optarg, "vepa");
			break;
		case 0x104:
			v = strtoul(optarg, &end, 0);
			if (*end || errno || v < 1 || v > ESPTAG_SAD_MAX)
				goto badnum;
			po.vf_limit = v;
			break;
		case 0x105:
			if (esptag_addr_parse(optarg, &po.local_family, po.local_addr))
				goto badnum;
			break;
		case 0x106:
			d->vf_mode = true;
			break;
		case 0x107:
			mailbox = optarg;
			break;
		case 0x108:
			cleanup = true;
			break;
		case 0x109:
			teardown = true;
			break;
		case 'v':
			log_level = LOG_DEBUG_;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!*d->dev || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (pf_mode && d->vf_mode) {
		fprintf(stderr, "esptagd: --pf and --vf exclude each other\n");
		return 2;
	}
	if (keep && cleanup) {
		fprintf(stderr, "esptagd: --keep-pins and --cleanup-on-exit exclude each other\n");
		return 2;
	}
	if (teardown && (cleanup || keep || bo.adopt || bo.no_attach || mailbox)) {
		fprintf(stderr, "esptagd: --teardown takes --dev, --pin-dir, --sock, --port, --pf, --uplink, --vf and --cfg-ethertype only (programs attached by iproute2 are removed with iproute2)\n");
		return 2;
	}
	if (!teardown && d->vf_mode != !!mailbox) {
		fprintf(stderr, "esptagd: --vf needs --mailbox PATH (the socket the PF made for this VF), and --mailbox needs --vf\n");
		return 2;
	}
	if (!pf_mode && (po.mbox_dir || po.uplink || po.vepa || po.local_family)) {
		fprintf(stderr, "esptagd: --mbox-dir, --uplink, --switch and --local need --pf\n");
		return 2;
	}
	if (co.set_eth && co.eth_p_cfg == co.eth_p_meta) {
		fprintf(stderr, "esptagd: config and metadata EtherTypes must differ\n");
		return 2;
	}
	if (co.set_mark) {
		char why[256];

		/*
		 * Every SA index esptag_sad can hold needs a mark of its own:
		 * the agent picks the index (shared by every port), so the
		 * bound is the map's size, not --max-sas. Adopted maps are
		 * checked again with their real size (cfg_apply).
		 */
		if (esptag_mark_check(co.mark_mask, co.mark_trusted, co.mark_shift, ESPTAG_SAD_MAX,
				      why, sizeof(why))) {
			fprintf(stderr, "esptagd: %s\n", why);
			return 2;
		}
	}
	d->ifindex = if_nametoindex(d->dev);
	if (!d->ifindex) {
		log_err("no such device %s", d->dev);
		return 2;
	}
	if (!bo.pin_dir) {
		if (bo.adopt)
			snprintf(pin_buf, sizeof(pin_buf), "/sys/fs/bpf/tc/globals");
		else
			snprintf(pin_buf, sizeof(pin_buf), "/sys/fs/bpf/esptag/%s", d->dev);
		bo.pin_dir = pin_buf;
	}
	if (!sock) {
		esptag_ctl_sock_path(sock_buf, sizeof(sock_buf), d->dev);
		sock = sock_buf;
	}
	d->chan.ifindex = d->ifindex;
	d->chan.eth_p = co.eth_p_cfg;
	d->chan.port = port;
	d->chan.timeout_ms = tmo;
	d->chan.tries = tries;
	if (teardown)
		return run_teardown(d, bo.pin_dir, sock, pf_mode ? po.uplink : NULL, pf_mode);
	/* Before touching the data path: a live daemon there stays in charge. */
	if (sock_live(sock)) {
		log_err("another esptagd already serves %s", sock);
		return 1;
	}
	/* Periodic HELLO: a quicker verdict than a full retry ladder. */
	d->hello_tries = tries ? tries : 3;
	if (!d->down_after)
		d->down_after = 2;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (sad_init(d, max_sas) || spd_init(d)) {
		log_err("out of memory");
		goto out;
	}
	if (bpf_setup(d, &bo))
		goto out;
	if (cfg_apply(d, &co))
		goto out_bpf;
	spd_recover(d);
	if (d->vf_mode) {
		/* The re-initialisation request before anything else. */
		if (vf_open(d, mailbox) || vf_reset(d))
			goto out_bpf;
	} else if (chan_open(&d->chan, d->dev)) {
		goto out_bpf;
	}
	memcpy(d->mac, d->chan.mac, 6);
	lfd = ctl_listen(sock);
	if (lfd < 0)
		goto out_bpf;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0)
		goto out_bpf;
	{
		struct itimerspec its = {
			.it_value = { .tv_sec = hello_ms / 1000, .tv_nsec = (hello_ms % 1000) * 1000000 },
			.it_interval = { .tv_sec = hello_ms / 1000, .tv_nsec = (hello_ms % 1000) * 1000000 },
		};
		struct epoll_event ev = { .events = EPOLLIN };

		timerfd_settime(tfd, 0, &its, NULL);
		ev.data.fd = lfd;
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
		ev.data.fd = sfd;
		epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
		ev.data.fd = tfd;
		epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
		ev.data.fd = d->chan.fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, d->chan.fd, &ev);
	}
	if (pf_mode) {
		po.pin_dir = bo.pin_dir;
		if (!po.mbox_dir) {
			snprintf(mbox_buf, sizeof(mbox_buf), "%s/%s.vf", ESPTAG_CTL_SOCK_DIR, d->dev);
			po.mbox_dir = mbox_buf;
		}
		if (pf_init(d, &po, ep))
			goto out_pf;
	}
	/* Order matters: the SAs are reconciled or re-installed before the
	 * monitor hears of it, and before the PF resyncs its VFs. */
	link_subscribe(d, sad_link_event);
	link_subscribe(d, monitor_link_event);
	if (d->pf)
		link_subscribe(d, pf_link_event);
	log_info("esptagd on %s (ifindex %d, port %lu): control socket %s, pins %s", d->dev,
		 d->ifindex, port, sock, bo.pin_dir);
	link_tick(d);
	monitor_counters(d);
	log_info("ready");
	started = true;
	while (!stop) {
		struct epoll_event evs[16];
		int n;

		/* Requests and re-installs copy keys through the stack: zero what
		 * the last round of events left below this frame. */
		esptag_stack_wipe();
		n = epoll_wait(ep, evs, 16, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				ctl_serve(d, lfd, ep);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGHUP) {
					log_info("signal %u: exiting", si.ssi_signo);
					stop = 1;
				}
			} else if (fd == tfd) {
				uint64_t exp;

				if (read(tfd, &exp, sizeof(exp)) < 0)
					continue;
				link_tick(d);
				sad_expire_tick(d);
				monitor_counters(d);
				/* Periodic audit of the agent's SAD for orphans. */
				if (audit_s && now_ns() - last_audit >= audit_s * 1000000000ull) {
					if (last_audit)
						d->need_sweep = true;
					last_audit = now_ns();
				}
			} else if (fd == d->chan.fd) {
				chan_drain(&d->chan);
				if (d->chan.hup) {
					log_err("the PF closed this VF's mailbox (PF gone, or the VF was reset or deleted): exiting");
					stop = 1;
					rc = 3;
				}
			} else if (pf_event(d, fd)) {
				continue;
			} else {
				/* a monitor client went away (or wrote garbage) */
				for (int m = 0; m < d->nmon; m++)
					if (d->monitors[m] == fd) {
						epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
						monitor_drop(d, m);
						break;
					}
			}
		}
	}
	if (rc == 1)
		rc = 0;
out_pf:
	pf_exit(d, cleanup || (!started && d->bpf.fresh));
	if (cleanup && !d->chan.hup && d->chan.fd >= 0 && sad_flush_agent(d))
		log_warn("exit: the agent did not confirm FLUSH_PORT; its SAs of port %lu remain", port);
out_bpf:
	/*
	 * Fail closed: unless --cleanup-on-exit asked for it, a stop (and a
	 * failed start over a data path already running) leaves the programs
	 * attached, the maps pinned and the agent's SAs in place: protect
	 * traffic stays encrypted, or is dropped, never sent in clear. The next
	 * esptagd adopts it; esptagd --teardown removes it.
	 */
	remove = cleanup || (!started && d->bpf.fresh);
	if (!remove)
		log_notice("exit: data path left running on %s (programs attached, maps pinned in %s, agent SAs kept); "
			   "the next esptagd takes it over, esptagd --teardown removes it",
			   d->dev, bo.pin_dir);
	bpf_teardown(d, !remove, bo.pin_dir);
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(sock);
	}
	for (int m = 0; m < d->nmon; m++)
		close(d->monitors[m]);
	chan_close(&d->chan);
	sad_free(d);
	spd_free(d);
	if (ep >= 0)
		close(ep);
	return rc;
badnum:
	{
		const char *name = "?";

		for (const struct option *o = lopts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		fprintf(stderr, "esptagd: bad value '%s' for --%s\n", optarg, name);
	}
	return 2;
}
