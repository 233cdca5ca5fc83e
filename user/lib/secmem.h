/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Memory for key material: an anonymous private mapping locked in RAM
 * (never written to swap; locked page by page as it is first touched,
 * MLOCK_ONFAULT, so a large table costs only what is used) and left out of
 * core dumps (MADV_DONTDUMP). esptag_secmem_free() wipes it before
 * unmapping.
 */
#ifndef ESPTAG_SECMEM_H
#define ESPTAG_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * len bytes (rounded up to whole pages), zeroed. NULL if the mapping fails.
 * A failed mlock (RLIMIT_MEMLOCK without CAP_IPC_LOCK) does not fail the
 * allocation: *locked (if not NULL) says whether the lock took.
 */
void *esptag_secmem_alloc(size_t len, bool *locked);
/* Wipe (len bytes), unlock and unmap what esptag_secmem_alloc(len)
 * returned. NULL is ok. */
void esptag_secmem_free(void *p, size_t len);

/*
 * Zero the stack below the caller (ESPTAG_STACK_WIPE bytes): copies of key
 * material the compiler left in the frames of functions that returned.
 * Call it after handling a request that carried keys.
 */
#define ESPTAG_STACK_WIPE (64 * 1024)
void esptag_stack_wipe(void);

#endif
