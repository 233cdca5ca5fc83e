// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd: the daemon of one host port (docs/esptagd.8).
 * Loads/attaches (or adopts) the data path, owns the agent channel, keeps
 * the SA and policy databases, serves the control socket. This file is the
 * top of the layers (esptagd.h): options, start, the event loop, the stop.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "esptagd.h"
#include "notify.h"
#include "secmem.h"
#include "version.h"

/* How far the start got: what the stop has to undo. */
enum stage { STAGE_NONE, STAGE_BPF, STAGE_PF };

struct loop {
	int argc;
	char **argv;			/* re-read at a reload */
	int ep, lfd, rofd, sfd, tfd, afd;
	int lifefd;			/* the lifetime timer (ESPTAGD_LIFE_TICK_MS) */
	char ro_path[1100];
	sigset_t mask;
	uint64_t last_audit;
	bool stop, started;
	int rc;
};

static void daemon_config(struct daemon *d, const struct opts *o)
{
	snprintf(d->dev, sizeof(d->dev), "%s", o->dev);
	d->vf_mode = o->vf_mode;
	d->chan.ifindex = d->ifindex;
	d->chan.eth_p = o->co.eth_p_cfg;
	d->chan.port = o->port;
	d->chan.timeout_ms = o->tmo;
	d->chan.tries = o->tries;
	/* Periodic HELLO: a quicker verdict than a full retry ladder. */
	d->hello_tries = o->tries ? o->tries : 3;
	d->down_after = o->down_after ? o->down_after : 2;
	d->allow_v1 = o->allow_v1;
	d->have_fpr = o->have_fpr;
	memcpy(d->agent_fpr, o->agent_fpr, sizeof(d->agent_fpr));
	d->res_ttl_ns = (uint64_t)(o->spi_reserve_s ? o->spi_reserve_s : ESPTAG_SPI_RESERVE_S) *
			1000000000ull;
	d->seq_start = o->seq_start;
}

static void hello_timer(struct loop *lp, unsigned long ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 },
		.it_interval = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 },
	};

	timerfd_settime(lp->tfd, 0, &its, NULL);
}

static void epoll_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Control socket, signals, the HELLO timer, the agent channel: one epoll. */
static int loop_open(struct daemon *d, const struct opts *o, struct loop *lp)
{
	lp->lfd = ctl_listen(o->sock);
	if (lp->lfd < 0)
		return -1;
	if (o->ro_group) {
		snprintf(lp->ro_path, sizeof(lp->ro_path), "%s.ro", o->sock);
		lp->rofd = ctl_listen_ro(lp->ro_path, o->ro_group);
		if (lp->rofd < 0)
			return -1;
	}
	lp->sfd = signalfd(-1, &lp->mask, SFD_CLOEXEC);
	lp->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	lp->lifefd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	lp->ep = epoll_create1(EPOLL_CLOEXEC);
	if (lp->sfd < 0 || lp->tfd < 0 || lp->lifefd < 0 || lp->ep < 0)
		return -1;
	hello_timer(lp, o->hello_ms);
	{
		struct itimerspec its = {
			.it_value = { 0, ESPTAGD_LIFE_TICK_MS * 1000000L },
			.it_interval = { 0, ESPTAGD_LIFE_TICK_MS * 1000000L },
		};

		timerfd_settime(lp->lifefd, 0, &its, NULL);
	}
	epoll_add(lp->ep, lp->lfd);
	if (lp->rofd >= 0)
		epoll_add(lp->ep, lp->rofd);
	epoll_add(lp->ep, lp->sfd);
	epoll_add(lp->ep, lp->tfd);
	epoll_add(lp->ep, lp->lifefd);
	epoll_add(lp->ep, d->chan.fd);
	lp->afd = acquire_open(d);
	if (lp->afd >= 0)
		epoll_add(lp->ep, lp->afd);
	return 0;
}

/* Start everything; returns how far it got (STAGE_PF: running). */
static enum stage start(struct daemon *d, const struct opts *o, struct loop *lp)
{
	if (sad_init(d, o->max_sas) || spd_init(d)) {
		log_err("out of memory");
		return STAGE_NONE;
	}
	if (bpf_setup(d, &o->bo))
		return STAGE_NONE;
	if (life_map_open(d) || cfg_apply(d, &o->co))
		return STAGE_BPF;
	if (key_seen_init(d) || keylog_open(d, o->keylog))
		return STAGE_BPF;
	spd_recover(d);
	bypass_flag_sync(d);
	cfg_clock_tick(d, false);
	if (d->vf_mode) {
		/* The re-initialisation request before anything else. */
		if (vf_open(d, o->mailbox) || vf_reset(d))
			return STAGE_BPF;
	} else if (chan_open(&d->chan, d->dev)) {
		return STAGE_BPF;
	}
	memcpy(d->mac, d->chan.mac, 6);
	if (loop_open(d, o, lp))
		return STAGE_BPF;
	if (o->pf_mode && pf_init(d, &o->po, lp->ep))
		return STAGE_PF;
	/* Order matters: the SAs are reconciled or re-installed before the
	 * monitor hears of it, and before the PF resyncs its VFs. */
	link_subscribe(d, sad_link_event);
	link_subscribe(d, monitor_link_event);
	if (d->pf)
		link_subscribe(d, pf_link_event);
	log_info("esptagd on %s (ifindex %d, port %lu): control socket %s, pins %s", d->dev,
		 d->ifindex, o->port, o->sock, o->bo.pin_dir);
	if (*o->conf.path)
		conf_sync(d, &o->conf, true);
	link_tick(d);
	monitor_counters(d);
	log_info("ready");
	lp->started = true;
	return STAGE_PF;
}

static void on_timer(struct daemon *d, const struct opts *o, struct loop *lp)
{
	uint64_t exp;

	if (read(lp->tfd, &exp, sizeof(exp)) < 0)
		return;
	link_tick(d);
	monitor_counters(d);
	/* Periodic audit of the agent's SAD for orphans. */
	if (o->audit_s && now_ns() - lp->last_audit >= o->audit_s * 1000000000ull) {
		if (lp->last_audit)
			d->need_sweep = true;
		lp->last_audit = now_ns();
	}
}

/*
 * SIGHUP: read the command line and the file again. An invalid file changes
 * nothing (the error, with its line, is logged). Otherwise the options that
 * can change at run time take effect, the others are warned about, and the
 * policy set becomes the file's (conf_sync).
 */
static void reload(struct daemon *d, struct opts *o, struct loop *lp)
{
	static struct opts n;

	if (opts_parse(&n, lp->argc, lp->argv, true) >= 0)
		goto out;
	if (!*n.conf.path) {
		if (*o->conf.path)
			log_err("reload: %s is gone; the running configuration is unchanged",
				o->conf.path);
		else
			log_notice("reload: no configuration file (--config FILE, or %s/esptagd-%s.conf)",
				   ESPTAG_CONF_DIR, d->dev);
		goto out;
	}
	log_level = n.log_level;
	log_info("reload: %s", n.conf.path);
	opts_restart_warn(o, &n);
	if (n.hello_ms != o->hello_ms)
		hello_timer(lp, n.hello_ms);
	o->hello_ms = n.hello_ms;
	o->tmo = n.tmo;
	o->tries = n.tries;
	o->down_after = n.down_after;
	o->audit_s = n.audit_s;
	o->log_level = n.log_level;
	/* As chan_open() and daemon_config() had them: 0 is the default. */
	d->chan.timeout_ms = o->tmo ? o->tmo : ESPTAG_CFG_TIMEOUT_MS;
	d->chan.tries = o->tries ? o->tries : ESPTAG_CFG_TRIES;
	d->hello_tries = o->tries ? o->tries : 3;
	d->down_after = o->down_after ? o->down_after : 2;
	conf_sync(d, &n.conf, false);
	/* The file's policies now; its options stay with o (strings point there). */
	free(o->conf.pols);
	o->conf.pols = n.conf.pols;
	o->conf.npols = n.conf.npols;
	n.conf.pols = NULL;
out:
	conf_free(&n.conf);
}

static void on_event(struct daemon *d, struct opts *o, struct loop *lp, int fd)
{
	struct signalfd_siginfo si;

	if (fd == lp->lfd || fd == lp->rofd) {
		ctl_serve(d, fd, lp->ep, fd == lp->rofd);
	} else if (fd == lp->sfd) {
		if (read(lp->sfd, &si, sizeof(si)) != sizeof(si))
			return;
		if (si.ssi_signo == SIGHUP) {
			reload(d, o, lp);
		} else {
			log_info("signal %u: exiting", si.ssi_signo);
			lp->stop = true;
		}
	} else if (fd == lp->tfd) {
		on_timer(d, o, lp);
	} else if (fd == lp->lifefd) {
		uint64_t exp;

		if (read(lp->lifefd, &exp, sizeof(exp)) > 0) {
			cfg_clock_tick(d, false);
			sad_life_tick(d);
		}
	} else if (fd == lp->afd) {
		acquire_poll(d);
	} else if (fd == d->chan.fd) {
		chan_drain(&d->chan);
		if (d->chan.hup) {
			log_err("the PF closed this VF's mailbox (PF gone, or the VF was reset or deleted): exiting");
			lp->stop = true;
			lp->rc = ESPTAG_EXIT_GONE;
		}
	} else if (!pf_event(d, fd)) {
		/* a monitor client went away (or wrote garbage) */
		for (int m = 0; m < d->nmon; m++)
			if (d->monitors[m] == fd) {
				epoll_ctl(lp->ep, EPOLL_CTL_DEL, fd, NULL);
				monitor_drop(d, m);
				break;
			}
	}
}

static void run(struct daemon *d, struct opts *o, struct loop *lp)
{
	lp->rc = ESPTAG_EXIT_OK;
	while (!lp->stop) {
		struct epoll_event evs[16];
		int n;

		/* Requests and re-installs copy keys through the stack: zero what
		 * the last round of events left below this frame. */
		esptag_stack_wipe();
		n = epoll_wait(lp->ep, evs, 16, -1);
		for (int i = 0; i < n; i++)
			on_event(d, o, lp, evs[i].data.fd);
	}
}

static void stop(struct daemon *d, const struct opts *o, struct loop *lp, enum stage st)
{
	bool remove = o->cleanup || (!lp->started && d->bpf.fresh);

	if (st >= STAGE_PF) {
		pf_exit(d, remove);
		if (o->cleanup && !d->chan.hup && d->chan.fd >= 0 && sad_flush_agent(d))
			log_warn("exit: the agent did not confirm FLUSH_PORT; its SAs of port %lu remain",
				 o->port);
	}
	/*
	 * Fail closed: unless --cleanup-on-exit asked for it, a stop (and a
	 * failed start over a data path already running) leaves the programs
	 * attached, the maps pinned and the agent's SAs in place: protect
	 * traffic stays encrypted, or is dropped, never sent in clear. The next
	 * esptagd adopts it; esptagd --teardown removes it.
	 */
	if (st >= STAGE_BPF) {
		if (!remove)
			log_notice("exit: data path left running on %s (programs attached, maps pinned in %s, agent SAs kept); "
				   "the next esptagd takes it over, esptagd --teardown removes it",
				   d->dev, o->bo.pin_dir);
		if (!remove)
			cfg_clock_tick(d, true);	/* nobody keeps it now */
		life_map_close(d);
		bpf_teardown(d, !remove, o->bo.pin_dir);
	}
	if (lp->lfd >= 0) {
		close(lp->lfd);
		unlink(o->sock);
	}
	if (lp->rofd >= 0) {
		close(lp->rofd);
		unlink(lp->ro_path);
	}
	for (int m = 0; m < d->nmon; m++)
		close(d->monitors[m]);
	acquire_close(d);
	chan_close(&d->chan);
	sad_free(d);
	spd_free(d);
	key_seen_free(d);
	keylog_close(d);
	free(d->res);
	if (lp->lifefd >= 0)
		close(lp->lifefd);
	if (lp->ep >= 0)
		close(lp->ep);
}

int main(int argc, char **argv)
{
	static struct daemon dm;
	static struct opts o;
	struct daemon *d = &dm;
	struct loop lp = { .ep = -1, .lfd = -1, .rofd = -1, .sfd = -1, .tfd = -1, .afd = -1,
			   .lifefd = -1, .rc = ESPTAG_EXIT_FAIL };
	enum stage st;
	int rc;

	ESPTAG_VERSION_OPT(argc, argv, "esptagd");
	log_init("esptagd");
	d->chan.fd = -1;
	d->keylog_fd = -1;
	rc = opts_parse(&o, argc, argv, false);
	if (rc >= 0)
		return rc;
	log_level = o.log_level;
	lp.argc = argc;
	lp.argv = argv;
	d->ifindex = if_nametoindex(o.dev);
	if (!d->ifindex) {
		log_err("no such device %s", o.dev);
		return ESPTAG_EXIT_USAGE;
	}
	daemon_config(d, &o);
	if (o.teardown)
		return run_teardown(d, &o);
	/* Before touching the data path: a live daemon there stays in charge. */
	if (sock_live(o.sock)) {
		log_err("another esptagd already serves %s", o.sock);
		return ESPTAG_EXIT_FAIL;
	}
	sigemptyset(&lp.mask);
	sigaddset(&lp.mask, SIGTERM);
	sigaddset(&lp.mask, SIGINT);
	sigaddset(&lp.mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &lp.mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	st = start(d, &o, &lp);
	if (lp.started) {
		esptag_notify_ready("serving");
		run(d, &o, &lp);
		esptag_notify_stopping();
	}
	stop(d, &o, &lp, st);
	conf_free(&o.conf);
	return lp.rc;
}
