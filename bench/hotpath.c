/* SPDX-License-Identifier: MIT */
/*
 * Hot-path microbenchmark, no process boundaries: numbered lines already in memory go through
 * ctrlog_logger_feed() (framing, k8s-file formatting, the staged write to a tmpfs file) or
 * through the framer alone. Prints CPU ns per line and GB/s of input. Under
 * `valgrind --tool=callgrind`, run it twice with different --total and divide the difference
 * in instructions by the difference in lines (bench/run --callgrind does that).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctrlog/ctrlog.h"
#include "logger/logger-internal.h"

#define CHUNK (1u << 20)

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One MiB of numbered lines of line_size bytes (the last one may run into the next chunk,
 * as reads cut lines anywhere). */
static char *make_chunk(size_t line_size, uint64_t *ret_lines)
{
	char *buf = malloc(CHUNK);
	uint64_t n = 0;

	if (!buf)
		exit(1);
	for (size_t off = 0; off < CHUNK; n++) {
		char line[65536];
		int k = snprintf(line, sizeof(line), "seq=%012llu ", (unsigned long long)n);
		size_t len = line_size < (size_t)k + 1 ? (size_t)k + 1 : line_size;

		memset(line + k, 'x', len - (size_t)k - 1);
		line[len - 1] = '\n';
		if (len > CHUNK - off)
			len = CHUNK - off;
		memcpy(buf + off, line, len);
		off += len;
	}
	*ret_lines = n;
	return buf;
}

static int count_emit(void *ctx, const struct ctrlog_record *records, size_t n,
			 size_t n_partial)
{
	(void)records;
	(void)n_partial;
	*(uint64_t *)ctx += n;
	return 0;
}

static int run_framer(const char *chunk, uint64_t chunks, uint32_t max_line)
{
	struct ctrlog_framer f;
	uint64_t records = 0;
	char *buf = malloc(CHUNK + max_line);
	size_t held = 0;

	ctrlog_framer_init(&f, CTRLOG_STDOUT, max_line, count_emit, &records);
	for (uint64_t i = 0; i < chunks; i++) {
		memcpy(buf + held, chunk, CHUNK);
		if (ctrlog_framer_feed(&f, buf, held + CHUNK, &held) < 0)
			return 1;
	}
	free(buf);
	return records > 0 ? 0 : 1;
}

static int run_feed(const char *chunk, uint64_t chunks, const char *dir)
{
	struct ctrlog_config cfg;
	ctrlog_logger *l;
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/hotpath-%d.log", dir, (int)getpid());
	ctrlog_config_init(&cfg);
	cfg.log_path = path;
	/* Rotate every 64 MiB and keep nothing, so tmpfs holds at most one file. */
	cfg.max_size = 64u << 20;
	cfg.max_files = 0;
	cfg.compress_level = CTRLOG_COMPRESS_NONE;
	r = ctrlog_logger_new(&cfg, &l);
	if (r < 0) {
		fprintf(stderr, "hotpath: %s: %s\n", path, ctrlog_strerror(r));
		return 1;
	}
	for (uint64_t i = 0; i < chunks && r == 0; i++)
		r = ctrlog_logger_feed(l, CTRLOG_STDOUT, chunk, CHUNK);
	ctrlog_logger_free(l);
	unlink(path);
	return r < 0;
}

int main(int argc, char **argv)
{
	size_t line_size = 100;
	uint64_t total = 256u << 20, lines_per_chunk, chunks, start, ns;
	const char *mode = "feed", *dir = "/dev/shm";
	char *chunk;
	int r;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--line-size") == 0)
			line_size = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--total-mib") == 0)
			total = strtoull(argv[i + 1], NULL, 10) << 20;
		else if (strcmp(argv[i], "--mode") == 0)
			mode = argv[i + 1];
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else {
			fprintf(stderr, "hotpath: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (line_size < 20 || line_size > 65536 || total < CHUNK) {
		fprintf(stderr, "hotpath: --line-size must be 20..65536 and --total-mib at least 1\n");
		return 2;
	}
	chunk = make_chunk(line_size, &lines_per_chunk);
	chunks = total / CHUNK;
	start = cpu_ns();
	r = strcmp(mode, "framer") == 0 ? run_framer(chunk, chunks, CTRLOG_DEFAULT_MAX_LINE)
					: run_feed(chunk, chunks, dir);
	ns = cpu_ns() - start;
	if (r)
		return 1;
	printf("mode=%s line_size=%zu lines=%llu cpu_s=%.3f ns_per_line=%.2f gb_per_s=%.3f\n", mode,
	       line_size, (unsigned long long)(lines_per_chunk * chunks), ns / 1e9,
	       (double)ns / (double)(lines_per_chunk * chunks), (double)(chunks * CHUNK) / ns);
	free(chunk);
	return 0;
}
