/* SPDX-License-Identifier: MIT */
#include "probes.h"

#ifndef ASYNC_NO_PROBES
#define ASYNC__SEMAPHORE_DEF(name) \
	volatile unsigned short ASYNC__SEMAPHORE(name) __attribute__((section(".probes"), used));
ASYNC__PROBE_LIST(ASYNC__SEMAPHORE_DEF)
#endif
