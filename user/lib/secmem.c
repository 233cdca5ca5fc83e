// SPDX-License-Identifier: GPL-2.0-only
/* Locked, no-dump memory for key material (secmem.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "secmem.h"

/* LeakSanitizer does not scan anonymous mappings: pointers kept there
 * (the agent's EVP contexts) would look leaked in sanitizer builds. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SECMEM_LSAN 1
#endif
#endif
#if !defined(SECMEM_LSAN) && defined(__SANITIZE_ADDRESS__)
#define SECMEM_LSAN 1
#endif
#ifdef SECMEM_LSAN
#include <sanitizer/lsan_interface.h>
#endif

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
#ifdef SECMEM_LSAN
	__lsan_register_root_region(p, sz);
#endif
	return p;
}

void esptag_secmem_free(void *p, size_t len)
{
	size_t sz = pages(len);

	if (!p)
		return;
	explicit_bzero(p, len);
#ifdef SECMEM_LSAN
	__lsan_unregister_root_region(p, sz);
#endif
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
