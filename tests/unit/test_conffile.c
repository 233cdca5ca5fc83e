// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd's configuration file reader (user/lib/conffile.c): options and
 * "policy add" lines in the esptag grammar; an error names FILE:LINE and
 * leaves nothing read; keys are refused and never echoed.
 */
#include <unistd.h>
#include "../lib/test.h"
#include "conffile.h"
#include <esptag/maps.h>

#define K128 "0x0102030405060708090a0b0c0d0e0f10a1a2a3a4"

static char path[64];
static struct conf cf;
static char err[1400];

static int rd(const char *text, const char *dev)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_conffile.%d", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		return -9;
	fputs(text, f);
	fclose(f);
	err[0] = 0;
	conf_free(&cf);
	int rc = conf_read(path, dev, &cf, err, sizeof(err));

	unlink(path);
	return rc;
}

/* err starts with "PATH:LINE: " */
static bool at_line(int line)
{
	char want[128];

	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	return !strncmp(err, want, strlen(want));
}

static void good(void)
{
	T_EQ(rd("# comment\n\nhello-interval = 500   # trailing\n"
		"adopt=yes\n"
		"policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1001\n"
		"  policy add dev eth0 src 2001:db8::/64 dst 2001:db8:1::/64 dir in action bypass\n",
		"eth0"), 0);
	T_EQ(cf.nopts, 2);
	T_ASSERT(!strcmp(cf.opts[0].key, "hello-interval") && !strcmp(cf.opts[0].val, "500"));
	T_EQ(cf.opts[0].line, 3);
	T_ASSERT(!strcmp(cf.opts[1].key, "adopt") && !strcmp(cf.opts[1].val, "yes"));
	T_EQ(cf.npols, 2);
	T_EQ(cf.pols[0].line, 5);
	T_ASSERT(!strcmp(cf.pols[0].c.dev, "eth0"));	/* dev filled in */
	T_EQ(cf.pols[0].c.action, ESPTAG_ACT_PROTECT);
	T_EQ(cf.pols[0].c.spi, 0x1001);
	T_EQ(cf.pols[0].c.dir, ESPTAG_DIR_OUT);
	T_EQ(cf.pols[1].line, 6);
	T_EQ(cf.pols[1].c.family, 6);
	T_EQ(cf.pols[1].c.action, ESPTAG_ACT_BYPASS);
}

static void dev_from_file(void)
{
	T_EQ(rd("policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass\ndev = p1\n",
		""), 0);
	T_ASSERT(!strcmp(cf.pols[0].c.dev, "p1"));
	T_EQ(rd("policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass\n", ""), -1);
	T_ASSERT(at_line(1));
	T_EQ(rd("policy add dev eth1 src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass\n",
		"eth0"), -1);
	T_ASSERT(at_line(1) && strstr(err, "eth1"));
}

static void bad_lines(void)
{
	static const struct {
		const char *text;
		int line;
	} v[] = {
		{ "a = 1\nnonsense\n", 2 },
		{ "a = 1\n= 2\n", 2 },
		{ "a = 1\nb =\n", 2 },
		{ "a = 1\na = 2\n", 2 },
		{ "Bad_Key = 1\n", 1 },
		{ "\n\npolicy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi nope\n", 3 },
		{ "policy del src 192.0.2.0/24 dst 192.0.2.2/32 dir out\n", 1 },
		{ "policy update src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass\n", 1 },
		{ "policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass\n"
		  "policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action discard\n", 2 },
		{ "policy add 'src 192.0.2.0/24\n", 1 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		T_EQ(rd(v[i].text, "eth0"), -1);
		if (!at_line(v[i].line))
			t_fail(__FILE__, __LINE__, "case %zu: '%s' does not name line %d", i, err,
			       v[i].line);
		T_EQ(cf.nopts + cf.npols, 0);	/* nothing read */
	}
}

static void keys_refused(void)
{
	static const char *const v[] = {
		"hello-interval = 100\naead = " K128 "\n",
		"hello-interval = 100\nkey=" K128 "\n",
		"hello-interval = 100\nstate add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 aead rfc4106(gcm(aes)) " K128 " 128 dir out\n",
		"hello-interval = 100\nsa add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 enc aes " K128 "\n",
		"hello-interval = 100\npolicy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 1 enc " K128 "\n",
	};
	static const char *const pasted[] = {	/* a key without a keyword: not echoed */
		"hello-interval = 100\n" K128 "\n",
		"hello-interval = 100\n" K128 " = 1\n",
		"hello-interval = 100\npolicy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action bypass " K128 "\n",
	};

	for (size_t i = 0; i < sizeof(pasted) / sizeof(pasted[0]); i++) {
		T_EQ(rd(pasted[i], "eth0"), -1);
		T_ASSERT(at_line(2) && !strstr(err, "0102030405"));
	}

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		T_EQ(rd(v[i], "eth0"), -1);
		T_ASSERT(at_line(2) && strstr(err, "keys never go in a configuration file"));
		T_ASSERT(!strstr(err, "0102030405"));
		T_EQ(cf.nopts + cf.npols, 0);
	}
}

static void compare(void)
{
	T_EQ(rd("policy add src 192.0.2.0/24 dst 192.0.2.2/32 dir out action protect spi 0x1001\n"
		"policy add src 192.0.2.0/24 dst 192.0.2.3/32 dir out action protect spi 0x1001\n",
		"eth0"), 0);
	struct esptag_ctl_policy a = cf.pols[0].c, b = cf.pols[1].c;

	T_ASSERT(!conf_pol_same_sel(&a, &b));
	b = a;
	b.spi = 0x1002;
	T_ASSERT(conf_pol_same_sel(&a, &b) && !conf_pol_same(&a, &b));
	b.spi = 0x1001;
	b.id = 7;
	b.sa_index = 3;
	T_ASSERT(conf_pol_same(&a, &b));
}

/* docs/esptagd.conf.example reads without error (tests run from the top). */
static void example(void)
{
	if (access("docs/esptagd.conf.example", R_OK)) {
		t_skip("docs/esptagd.conf.example not found from here");
		return;
	}
	conf_free(&cf);
	T_EQ(conf_read("docs/esptagd.conf.example", "eth0", &cf, err, sizeof(err)), 0);
	T_EQ(cf.nopts, 4);
	T_EQ(cf.npols, 4);
}

int main(void)
{
	T_RUN(good);
	T_RUN(dev_from_file);
	T_RUN(bad_lines);
	T_RUN(keys_refused);
	T_RUN(compare);
	T_RUN(example);
	conf_free(&cf);
	return t_done();
}
