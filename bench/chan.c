/* SPDX-License-Identifier: MIT */
/*
 * chan: channel ping-pong. ping sends a number on one bounded channel (capacity 1) and
 * awaits the reply on another; pong echoes it back plus one. Ends by closing: ping
 * drops its sender, pong's receive fails with ASYNC_EPIPE and pong drops its own.
 * Reports ns per round trip (two sends, two receives, two task switches).
 */
#include "bench.h"

struct ping {
	struct async_frame frame;
	struct async_chan *tx, *rx;
	uint64_t rounds, i, out, in;
	struct async_send send;
	struct async_recv recv;
	int err;
};

static enum async_poll ping_poll(struct ping *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (f->i = 0; f->i < f->rounds; f->i++) {
		f->out = f->i;
		async_send_init(&f->send, f->tx, &f->out);
		ASYNC_AWAIT(f, cx, async_send, &f->send);
		async_recv_init(&f->recv, f->rx, &f->in);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
		if (f->send.result || f->recv.result || f->in != f->i + 1) {
			f->err = ASYNC_EIO;
			break;
		}
	}
	async_chan_sender_drop(f->tx);
	async_chan_receiver_drop(f->rx);
	ASYNC_RETURN(f);
}

struct pong {
	struct async_frame frame;
	struct async_chan *tx, *rx;
	uint64_t v, echoed;
	struct async_send send;
	struct async_recv recv;
};

static enum async_poll pong_poll(struct pong *f, struct async_cx *cx)
{
	ASYNC_BEGIN(f);
	for (;;) {
		async_recv_init(&f->recv, f->rx, &f->v);
		ASYNC_AWAIT(f, cx, async_recv, &f->recv);
		if (f->recv.result)
			break; /* closed: ping is done */
		f->v++;
		async_send_init(&f->send, f->tx, &f->v);
		ASYNC_AWAIT(f, cx, async_send, &f->send);
		f->echoed++;
	}
	async_chan_sender_drop(f->tx);
	async_chan_receiver_drop(f->rx);
	ASYNC_RETURN(f);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .name = "chan", .threads = 1, .iters = 1000000 };
	struct async_chan *there, *back;
	struct ping ping = { 0 };
	struct pong pong = { 0 };
	struct async_exec *exec;
	uint64_t t0, t1;

	bench_parse(&o, argc, argv,
		    "Two tasks echo a number --iters times over two bounded channels\n"
		    "(capacity 1); reports ns per round trip.");
	bench_check(&o, "create channel", async_chan_new(1, sizeof(uint64_t), &there));
	bench_check(&o, "create channel", async_chan_new(1, sizeof(uint64_t), &back));
	ping = (struct ping){ .tx = there, .rx = back, .rounds = o.iters };
	pong = (struct pong){ .tx = back, .rx = there };
	exec = bench_exec(&o);
	bench_check(&o, "spawn",
		    async_spawn(exec, "ping", ASYNC_POLL_FN(ping_poll), &ping, NULL, NULL));
	bench_check(&o, "spawn",
		    async_spawn(exec, "pong", ASYNC_POLL_FN(pong_poll), &pong, NULL, NULL));
	t0 = async_now_ns();
	bench_check(&o, "run", async_exec_run(exec));
	t1 = async_now_ns();
	async_exec_free(exec);
	if (ping.err || pong.echoed != o.iters) {
		fprintf(stderr, "chan: %llu of %llu round trips echoed correctly\n",
			(unsigned long long)pong.echoed, (unsigned long long)o.iters);
		return 1;
	}
	bench_report(&o, "chan_pingpong", (double)(t1 - t0) / o.iters, "roundtrip", o.iters,
		     "%llu round trips, capacity 1", (unsigned long long)o.iters);
	return 0;
}
