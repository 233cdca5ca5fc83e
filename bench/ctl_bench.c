// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark 7 through the control socket of esptagd (the API the esptag CLI
 * uses, user/lib/ctl.h): every STATE_ADD goes daemon -> agent (ADD_SA config
 * packets) -> agent's reply -> BPF maps -> reply to us.
 *
 *   ctl_bench SOCK DEV N BATCH SAMPLES SINGLES
 *
 * Per sample: N SAs added in STATE_ADD requests of BATCH SAs (rate in SAs/s),
 * then STATE_FLUSH of the port (the PF's SAD domain) timed. Then SINGLES adds
 * of one SA per request (a new connection each, like the CLI): per-add
 * latency percentiles. Prints JSON lines like bench_bpf. The keys are
 * throwaway values, a new one for every SA added (esptagd refuses a key it
 * has used before), and are never printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "ctl.h"
#include "ctl_cli.h"

static const char *sock_path;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A key of its own for each SA about to be added (bytes 8..15 count). */
static void fresh_keys(struct esptag_ctl_sa *sas, int k)
{
	static uint64_t ctr;

	for (int i = 0; i < k; i++) {
		ctr++;
		memcpy(sas[i].key + 8, &ctr, sizeof(ctr));
	}
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request, one reply; 0 or -1 (message on stderr). */
static int transact(int op, const void *items, uint32_t count, size_t isz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct esptag_ctl_hdr h;
	struct esptag_ctl_view v;
	char err[256];
	uint8_t *buf = NULL;
	ssize_t n;
	int fd, rc = -1;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "ctl_bench: cannot connect to %s: %s\n", sock_path, strerror(errno));
		goto out;
	}
	esptag_ctl_hdr_init(&h, op, false, 0, count, count * isz);
	if (esptag_ctl_write(fd, &h, items)) {
		fprintf(stderr, "ctl_bench: write: %s\n", strerror(errno));
		goto out;
	}
	n = esptag_ctl_read(fd, &buf);
	if (n <= 0 || esptag_ctl_decode(buf, n, &v, err, sizeof(err))) {
		fprintf(stderr, "ctl_bench: no/bad reply\n");
		goto out;
	}
	if (v.hdr.status) {
		fprintf(stderr, "ctl_bench: %s: %s: %.*s\n", esptag_ctl_op_str(op),
			esptag_ctl_status_str(v.hdr.status), (int)v.hdr.len, (const char *)v.payload);
		goto out;
	}
	rc = 0;
out:
	esptag_ctl_free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void print_samples(const char *what, const char *unit, const double *s, int n,
			  const char *extra)
{
	printf("{\"bench\":\"ctl\",\"what\":\"%s\",\"unit\":\"%s\",\"samples\":[", what, unit);
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", s[i]);
	printf("]%s%s}\n", extra ? "," : "", extra ? extra : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char line[512], err[256], *av[64], extra[256];
	struct esptag_cli_cmd tmpl;
	struct esptag_ctl_sa *sas;
	int n, batch, samples, singles, ac;
	double *rate, *flush, *lat;

	if (argc != 7 || (n = atoi(argv[3])) < 1 || (batch = atoi(argv[4])) < 1 ||
	    batch > ESPTAG_CTL_MAX_ITEMS || (samples = atoi(argv[5])) < 1 ||
	    (singles = atoi(argv[6])) < 1) {
		fprintf(stderr, "usage: ctl_bench SOCK DEV N BATCH SAMPLES SINGLES\n");
		return 2;
	}
	sock_path = argv[1];
	/* The template SA, through the CLI's own grammar. */
	snprintf(line, sizeof(line),
		 "state add dev %s src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode transport "
		 "aead 'rfc4106(gcm(aes))' 0x000102030405060708090a0b0c0d0e0f10111213 128 dir out",
		 argv[2]);
	ac = esptag_cli_split(line, av, 64);
	if (ac <= 0 || esptag_cli_parse(ac, av, &tmpl, err, sizeof(err))) {
		fprintf(stderr, "ctl_bench: template: %s\n", err);
		return 1;
	}
	sas = calloc(n > singles ? n : singles, sizeof(*sas));
	rate = calloc(samples, sizeof(double));
	flush = calloc(samples, sizeof(double));
	lat = calloc(singles, sizeof(double));
	if (!sas || !rate || !flush || !lat)
		return 1;
	for (int i = 0; i < (n > singles ? n : singles); i++) {
		sas[i] = tmpl.sa;
		sas[i].spi = 0x100000 + i;
	}
	if (transact(ESPTAG_CTL_STATE_FLUSH, NULL, 0, 0))
		return 1;
	for (int s = 0; s < samples; s++) {
		uint64_t t0 = now_ns(), t1;

		for (int i = 0; i < n; i += batch) {
			int k = n - i < batch ? n - i : batch;

			fresh_keys(&sas[i], k);
			if (transact(ESPTAG_CTL_STATE_ADD, &sas[i], k, sizeof(*sas)))
				return 1;
		}
		t1 = now_ns();
		rate[s] = n / ((t1 - t0) / 1e9);
		if (transact(ESPTAG_CTL_STATE_FLUSH, NULL, 0, 0))
			return 1;
		flush[s] = (now_ns() - t1) / 1e6;
	}
	for (int i = 0; i < singles; i++) {
		uint64_t t0;

		fresh_keys(&sas[i], 1);
		t0 = now_ns();
		if (transact(ESPTAG_CTL_STATE_ADD, &sas[i], 1, sizeof(*sas)))
			return 1;
		lat[i] = (now_ns() - t0) / 1e3;
	}
	if (transact(ESPTAG_CTL_STATE_FLUSH, NULL, 0, 0))
		return 1;
	explicit_bzero(sas, sizeof(*sas) * (n > singles ? n : singles));
	explicit_bzero(&tmpl, sizeof(tmpl));
	snprintf(extra, sizeof(extra), "\"sas\":%d,\"batch\":%d", n, batch);
	print_samples("api_batched_add", "SAs/s", rate, samples, extra);
	print_samples("flush", "ms", flush, samples, extra);
	qsort(lat, singles, sizeof(double), cmp_dbl);
	snprintf(extra, sizeof(extra), "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
		 lat[singles / 2], lat[(int)(singles * 0.99) < singles ? (int)(singles * 0.99) : singles - 1],
		 lat[singles - 1]);
	print_samples("single_add_latency", "us", lat, singles, extra);
	return 0;
}
