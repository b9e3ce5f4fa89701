/* SPDX-License-Identifier: MIT */
/*
 * loadgen: the producer of the end-to-end benchmarks.
 *
 * Writes fixed-size numbered lines ("seq=%012llu " + 'x' padding + '\n') to
 * stdout and, optionally, a share of them to stderr, in large writes.  Each
 * stream counts its own lines from 1 so that verify can check each stream
 * on its own.  The output is a pure function of the options (including the
 * seed of --random-writes), which is what makes a run reproducible.
 *
 * It is linked statically so that it can run inside a busybox rootfs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

#define MAX_WRITE (256 * 1024 * 1024)

struct options {
	size_t line_size;
	unsigned long long total;
	size_t write_size;
	unsigned stderr_share;
	int random_writes;
	uint64_t seed;
};

/* One output stream: the line being produced and how far it got. */
struct stream {
	int fd;
	char *line;             /* current line, line_size bytes */
	size_t line_size;
	size_t off;             /* bytes of `line` already handed out */
	unsigned long long left; /* bytes still to produce on this stream */
	unsigned long long done; /* bytes produced so far */
	unsigned long long target;
};

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "loadgen: %s%s%s\n", msg, arg ? ": " : "",
		arg ? arg : "");
	exit(2);
}

static void usage(FILE *f)
{
	fputs("usage: loadgen [--line-size N] [--total BYTES] [--write-size N]\n"
	      "               [--stderr-share PERCENT] [--random-writes] [--seed N]\n"
	      "  lines are 'seq=%012llu ' + 'x' padding + '\\n'; each stream numbers\n"
	      "  its own lines from 1; BYTES take k/m/g/t suffixes (powers of 1024)\n",
	      f);
}

static size_t size_opt(const char *name, const char *arg, size_t min, size_t max)
{
	unsigned long long v;

	if (bench_parse_size(arg, &v) < 0 || v < min || v > max) {
		fprintf(stderr, "loadgen: bad %s '%s' (must be %zu..%zu)\n", name,
			arg, min, max);
		exit(2);
	}
	return (size_t)v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "line-size", required_argument, NULL, 'l' },
		{ "total", required_argument, NULL, 't' },
		{ "write-size", required_argument, NULL, 'w' },
		{ "stderr-share", required_argument, NULL, 'e' },
		{ "random-writes", no_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	*o = (struct options){ .line_size = 100, .total = 1ULL << 30,
			       .write_size = 1 << 20, .seed = 1 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->line_size = size_opt("--line-size", optarg, MIN_LINE, MAX_LINE); break;
		case 'w': o->write_size = size_opt("--write-size", optarg, 1, MAX_WRITE); break;
		case 't':
			if (bench_parse_size(optarg, &o->total) < 0)
				die("bad --total", optarg);
			break;
		case 'e':
			if (bench_parse_size(optarg, &v) < 0 || v > 100)
				die("bad --stderr-share (0..100)", optarg);
			o->stderr_share = (unsigned)v;
			break;
		case 'r': o->random_writes = 1; break;
		case 's':
			if (bench_parse_size(optarg, &v) < 0)
				die("bad --seed", optarg);
			o->seed = v ? v : 1; /* xorshift must not start at 0 */
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		die("unexpected argument", argv[optind]);
}

static void stream_init(struct stream *s, int fd, size_t line_size,
			unsigned long long lines)
{
	s->fd = fd;
	s->line_size = line_size;
	s->line = malloc(line_size);
	if (!s->line)
		die("out of memory", NULL);
	bench_line_first(s->line, line_size);
	s->off = 0;
	s->left = s->target = lines * line_size;
	s->done = 0;
}

/*
 * Copies the next n bytes of the stream into buf.  The line buffer is
 * rewritten in place (only the digits change), so producing a byte costs
 * about one memcpy whatever the line size.
 */
static void stream_fill(struct stream *s, char *buf, size_t n)
{
	while (n > 0) {
		size_t k;

		if (s->off == s->line_size) {
			bench_line_next(s->line);
			s->off = 0;
		}
		k = s->line_size - s->off;
		if (k > n)
			k = n;
		memcpy(buf, s->line + s->off, k);
		s->off += k;
		buf += k;
		n -= k;
	}
}

/* Writes all of buf, retrying after EINTR and short writes. */
static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "loadgen: write to fd %d: %s\n", fd,
				strerror(errno));
			exit(1);
		}
		buf += w;
		n -= (size_t)w;
	}
}

/* xorshift64: tiny, seeded and identical everywhere, unlike rand(). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/*
 * Picks the stream that is furthest behind its share, so stdout and stderr
 * interleave evenly over the run instead of one finishing first.
 */
static struct stream *pick_stream(struct stream *out, struct stream *err)
{
	if (err->left == 0)
		return out->left ? out : NULL;
	if (out->left == 0)
		return err;
	/*
	 * Doubles are exact enough here, and the choice only has to be
	 * deterministic, not perfectly fair.
	 */
	if ((double)out->done * (double)err->target <=
	    (double)err->done * (double)out->target)
		return out;
	return err;
}

int main(int argc, char **argv)
{
	struct options o;
	struct stream out, err, *s;
	unsigned long long lines, err_lines;
	uint64_t rng;
	char *buf;

	parse_options(argc, argv, &o);
	lines = o.total / o.line_size;
	err_lines = lines * o.stderr_share / 100;
	stream_init(&out, STDOUT_FILENO, o.line_size, lines - err_lines);
	stream_init(&err, STDERR_FILENO, o.line_size, err_lines);
	buf = malloc(o.write_size);
	if (!buf)
		die("out of memory", NULL);
	rng = o.seed;
	while ((s = pick_stream(&out, &err)) != NULL) {
		size_t n = o.write_size;

		if (o.random_writes)
			n = 1 + (size_t)(next_random(&rng) % o.write_size);
		if (n > s->left)
			n = (size_t)s->left;
		stream_fill(s, buf, n);
		write_all(s->fd, buf, n);
		s->left -= n;
		s->done += n;
	}
	free(buf);
	free(out.line);
	free(err.line);
	return 0;
}
