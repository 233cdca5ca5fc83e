// SPDX-License-Identifier: GPL-2.0-only
/* Locked, no-dump memory for key material (secmem.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "secmem.h"

static size_t pages(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return len ? (len + pg - 1) / pg * pg : pg;
}

void *esptag_secmem_alloc(size_t len, bool *locked)
{
	size_t sz = pages(len);
	void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return NULL;
	/* Before anything is written into it. */
	madvise(p, sz, MADV_DONTDUMP);
	ok = !mlock2(p, sz, MLOCK_ONFAULT) || (errno == EINVAL && !mlock(p, sz));
	if (locked)
		*locked = ok;
	return p;
}

void esptag_secmem_free(void *p, size_t len)
{
	size_t sz = pages(len);

	if (!p)
		return;
	explicit_bzero(p, len);
	munlock(p, sz);
	munmap(p, sz);
}

__attribute__((noinline)) void esptag_stack_wipe(void)
{
	uint8_t area[ESPTAG_STACK_WIPE];

	explicit_bzero(area, sizeof(area));
	/* Keep the call from becoming a tail call that reuses our frame. */
	__asm__ volatile("" : : "r"(area) : "memory");
}
