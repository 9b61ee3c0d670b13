// SPDX-License-Identifier: MIT
/* The floor of the one-hit-per-poll design: a USDT program that does nothing. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("usdt")
int empty_probe(struct pt_regs *ctx)
{
	return 0;
}
