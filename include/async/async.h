/* SPDX-License-Identifier: MIT */
/* libasync: an async runtime for C whose state machines async-inspect can see. */
#ifndef ASYNC_ASYNC_H
#define ASYNC_ASYNC_H

#include "abi.h"
#include "combinators.h"
#include "error.h"
#include "exec.h"
#include "future.h"
#include "net.h"
#include "sync.h"
#include "time.h"

#endif /* ASYNC_ASYNC_H */
