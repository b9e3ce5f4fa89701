/* SPDX-License-Identifier: MIT */
/*
 * rotate/zstd_seekable.c: rotated logs compressed into zstd's seekable format with ctrlog's frame
 * time metadata. Guards issue 4's acceptance check (the seek table's frame sizes add up to the
 * file, decoding frame k alone yields exactly its slice, `zstd -d` restores the bytes) and the
 * reader's promise that a corrupt file is refused with -EBADMSG instead of crashing.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader(), to check what each frame declares */
#include <zstd.h>

#include "formats/k8s-file.h"
#include "rotate/zstd_seekable.h"

/* ---- helpers: temp dir, files, generated logs ---- */

struct ctx {
	char dir[64];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/ctrlog-zst-XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	int r = nftw(c->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	free(c);
	return r;
}

static const char *path_in(const struct ctx *c, const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", c->dir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len > 0)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	struct stat st;
	uint8_t *p;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*ret_len = (size_t)st.st_size;
	return p;
}

/* A generated k8s-file log and where each record starts, with its time (or "unparsable"). */
struct log {
	uint8_t *p;
	size_t len, cap;
	size_t n, ncap;
	size_t *off;
	int64_t *ns;
	bool *valid;
	uint64_t rng;
};

#define PREFIX_LEN 41 /* "2026-11-27T09:43:42.123456789Z stdout F " */

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	l->rng = 0x9E3779B97F4A7C15ULL;
}

static void log_free(struct log *l)
{
	free(l->p);
	free(l->off);
	free(l->ns);
	free(l->valid);
}

static uint64_t rnd(struct log *l)
{
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return l->rng;
}

static void log_reserve(struct log *l, size_t more)
{
	if (l->len + more > l->cap) {
		l->cap = (l->len + more) * 2;
		l->p = realloc(l->p, l->cap);
		assert_non_null(l->p);
	}
	if (l->n == l->ncap) {
		l->ncap = l->ncap ? 2 * l->ncap : 256;
		l->off = realloc(l->off, l->ncap * sizeof(*l->off));
		l->ns = realloc(l->ns, l->ncap * sizeof(*l->ns));
		l->valid = realloc(l->valid, l->ncap * sizeof(*l->valid));
		assert_true(l->off && l->ns && l->valid);
	}
}

static int64_t base_ns(void)
{
	struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 27, .tm_hour = 9,
		         .tm_min = 43, .tm_sec = 42 };

	return (int64_t)timegm(&tm) * 1000000000 + 123456789;
}

static void format_time(int64_t ns, char out[40])
{
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 21, ".%09dZ", (int)(ns % 1000000000));
}

/*
 * Appends a record of total bytes (at least PREFIX_LEN + 1) whose content is any byte but '\n'
 * (NUL and '\r' included). With valid_time false the prefix is not a time.
 */
static void log_add(struct log *l, size_t total, bool valid_time)
{
	int64_t ns = base_ns() + (int64_t)l->n * 1000003;
	char prefix[64];
	char t[40];

	assert_true(total > PREFIX_LEN);
	log_reserve(l, total);
	format_time(ns, t);
	snprintf(prefix, sizeof(prefix), "%s %s F ", valid_time ? t : "not-a-time-at-all-xxxxxxxxxxxx",
	         l->n % 3 ? "stdout" : "stderr");
	l->off[l->n] = l->len;
	l->ns[l->n] = ns;
	l->valid[l->n] = valid_time;
	l->n++;
	memcpy(l->p + l->len, prefix, PREFIX_LEN);
	l->len += PREFIX_LEN;
	for (size_t i = PREFIX_LEN; i + 1 < total; i++) {
		uint8_t b = (uint8_t)rnd(l);
		l->p[l->len++] = b == '\n' ? 'x' : b;
	}
	l->p[l->len++] = '\n';
}

static size_t rnd_size(struct log *l, size_t lo, size_t hi)
{
	return lo + (size_t)(rnd(l) % (hi - lo + 1));
}

/* Compresses data into the file "name" and returns its path. */
static const char *compress_to(const struct ctx *c, const char *name, const void *data, size_t len,
                               int level, size_t frame_max)
{
	const char *in = path_in(c, "in.log"), *out = path_in(c, name);
	int in_fd, out_fd;

	write_file(in, data, len);
	in_fd = open(in, O_RDONLY | O_CLOEXEC);
	out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(in_fd >= 0 && out_fd >= 0);
	assert_int_equal(ctrlog_zst_compress_fd(in_fd, out_fd, level, frame_max), 0);
	close(in_fd);
	assert_int_equal(close(out_fd), 0);
	return out;
}

/* Decodes a whole file with the streaming decoder. Returns its result. */
static int stream_decode(const struct ctx *c, const char *zst, uint8_t **ret, size_t *ret_len)
{
	const char *out = path_in(c, "stream.out");
	int in_fd = open(zst, O_RDONLY | O_CLOEXEC);
	int out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int r;

	assert_true(in_fd >= 0 && out_fd >= 0);
	r = ctrlog_zst_decompress_fd(in_fd, out_fd);
	close(in_fd);
	close(out_fd);
	if (r == 0 && ret)
		*ret = read_file(out, ret_len);
	return r;
}

static void assert_stream_equals(const struct ctx *c, const char *zst, const void *data, size_t len)
{
	uint8_t *got;
	size_t got_len;

	assert_int_equal(stream_decode(c, zst, &got, &got_len), 0);
	assert_int_equal(got_len, len);
	if (len)
		assert_memory_equal(got, data, len);
	free(got);
}

/* The index of the record starting at off (which must exist). */
static size_t record_at(const struct log *l, size_t off)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->off[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	assert_true(lo < l->n);
	assert_int_equal(l->off[lo], off);
	return lo;
}

static size_t record_len(const struct log *l, size_t i)
{
	return (i + 1 < l->n ? l->off[i + 1] : l->len) - l->off[i];
}

/* Each data frame declares its content size and carries a checksum. */
static void assert_frame_header(int fd, const struct ctrlog_zst_frame_info *fi)
{
	uint8_t head[ZSTD_FRAMEHEADERSIZE_MAX];
	ZSTD_frameHeader zfh;
	size_t want = fi->comp_size < sizeof(head) ? (size_t)fi->comp_size : sizeof(head);

	assert_int_equal(pread(fd, head, want, (off_t)fi->comp_offset), (ssize_t)want);
	assert_int_equal(ZSTD_getFrameHeader(&zfh, head, want), 0);
	assert_int_equal(zfh.frameType, ZSTD_frame);
	assert_int_equal(zfh.frameContentSize, fi->decomp_size);
	assert_int_equal(zfh.checksumFlag, 1);
}

static void expect_times(const struct log *l, size_t first, size_t last, int64_t *ret_first,
                         int64_t *ret_last)
{
	*ret_first = l->valid[first] ? l->ns[first] : CTRLOG_ZST_TIME_MIN;
	*ret_last = l->valid[last] ? l->ns[last] : CTRLOG_ZST_TIME_MAX;
}

/*
 * Checks everything the format promises about a compressed log: frames tile the file and the
 * input, each decodes alone to its slice, cuts are at record boundaries, frames are filled
 * greedily up to frame_max, the metadata times are right, the trailer has the documented size,
 * and the streaming decoder restores the input.
 */
static void verify(const struct ctx *c, const char *zst, const struct log *l, size_t frame_max)
{
	struct ctrlog_zst *z = NULL;
	struct stat st;
	uint64_t comp = 0, decomp = 0;
	size_t n, prev_len = 0;
	int fd = open(zst, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	n = ctrlog_zst_frame_count(z);
	for (size_t k = 0; k < n; k++) {
		struct ctrlog_zst_frame_info fi;
		uint8_t *buf;
		size_t len = SIZE_MAX, first, last;
		int64_t want_first, want_last;

		assert_int_equal(ctrlog_zst_frame_info(z, k, &fi), 0);
		assert_int_equal(fi.comp_offset, comp);
		assert_int_equal(fi.decomp_offset, decomp);
		assert_true(fi.decomp_size > 0);
		assert_frame_header(fd, &fi);
		buf = malloc((size_t)fi.decomp_size);
		assert_non_null(buf);
		assert_int_equal(ctrlog_zst_read_frame(z, k, buf, (size_t)fi.decomp_size, &len), 0);
		assert_int_equal(len, fi.decomp_size);
		assert_true(decomp + len <= l->len);
		assert_memory_equal(buf, l->p + decomp, len);

		/* Cut at record boundaries; over frame_max only for one record alone. */
		first = record_at(l, (size_t)decomp);
		if (decomp + len < l->len)
			last = record_at(l, (size_t)decomp + len) - 1;
		else
			last = l->n - 1;
		if (len > frame_max)
			assert_int_equal(first, last);
		/* Greedy: the previous frame had no room for this frame's first record. */
		if (k > 0 && prev_len <= frame_max)
			assert_true(prev_len + record_len(l, first) > frame_max);
		expect_times(l, first, last, &want_first, &want_last);
		assert_int_equal(fi.first_ns, want_first);
		assert_int_equal(fi.last_ns, want_last);

		free(buf);
		comp += fi.comp_size;
		decomp += len;
		prev_len = len;
	}
	assert_int_equal(decomp, l->len);
	/* What follows the data frames: the metadata frame and the seek table, nothing else. */
	assert_int_equal((uint64_t)st.st_size - comp,
	                 (8 + 12 + 16 * n) + (8 + 8 * (n + 1) + 9));
	ctrlog_zst_close(z);
	close(fd);
	assert_stream_equals(c, zst, l->p, l->len);
}

static void roundtrip(const struct ctx *c, const struct log *l, int level, size_t frame_max)
{
	const char *zst = compress_to(c, "out.zst", l->p, l->len, level, frame_max);

	verify(c, zst, l, frame_max ? frame_max : CTRLOG_ZST_FRAME_DEFAULT);
}

static bool have_zstd_cli(void)
{
	return system("command -v zstd >/dev/null 2>&1") == 0;
}

/* ---- tests ---- */

static void test_record_time(void **state)
{
	static const struct {
		const char *s;
		int r;
		int64_t secs, frac; /* seconds after 2026-11-27T09:43:42Z, ns */
	} cases[] = {
		{ "2026-11-27T09:43:42.123456789Z stdout F x", 0, 0, 123456789 },
		{ "2026-11-27T09:43:42.123456789Z", 0, 0, 123456789 },
		{ "2026-11-27T09:43:42.1Z ", 0, 0, 100000000 },
		{ "2026-11-27T09:43:42Z stdout", 0, 0, 0 },
		{ "2026-11-27t09:43:42.5z", 0, 0, 500000000 },
		{ "2026-11-27T11:43:42.000001+02:00 stderr P y", 0, 0, 1000 },
		{ "2026-11-27T04:13:42.123-05:30", 0, 0, 123000000 },
		{ "2026-11-28T09:43:42-00:00", 0, 86400, 0 },
		{ "2026-11-27T09:43:42.1234567890Z", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42.Z", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42.1", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42.1Zx", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42+0200", -EINVAL, 0, 0 },
		{ "2026-11-27T09:43:42+24:00", -EINVAL, 0, 0 },
		{ "2026-13-27T09:43:42Z", -EINVAL, 0, 0 },
		{ "2026-02-29T09:43:42Z", -EINVAL, 0, 0 },
		{ "2026-11-27T24:00:00Z", -EINVAL, 0, 0 },
		{ "2026-11-27T09:60:00Z", -EINVAL, 0, 0 },
		{ "2026-11-27 09:43:42Z", -EINVAL, 0, 0 },
		{ "2026/11/27T09:43:42Z", -EINVAL, 0, 0 },
		{ "-026-11-27T09:43:42Z", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ "1677-01-01T00:00:00Z", -ERANGE, 0, 0 },
		{ "2263-01-01T00:00:00Z", -ERANGE, 0, 0 },
	};
	int64_t base = base_ns() - 123456789, ns = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = ctrlog_k8s_parse_time(cases[i].s, strlen(cases[i].s), &ns);

		if (r != cases[i].r)
			fail_msg("%s: got %d, want %d", cases[i].s, r, cases[i].r);
		if (r == 0)
			assert_int_equal(ns, base + cases[i].secs * 1000000000 + cases[i].frac);
	}

	/* Leap days, the epoch, before it, and len stopping the parse before the zone. */
	assert_int_equal(ctrlog_k8s_parse_time("2024-02-29T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ns, (int64_t)1709164800 * 1000000000);
	assert_int_equal(ctrlog_k8s_parse_time("2000-02-29T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ctrlog_k8s_parse_time("1900-02-29T00:00:00Z", 20, &ns), -EINVAL);
	assert_int_equal(ctrlog_k8s_parse_time("1970-01-01T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(ctrlog_k8s_parse_time("1969-12-31T23:59:59.5Z", 22, &ns), 0);
	assert_int_equal(ns, -500000000);
	ns = 42;
	assert_int_equal(ctrlog_k8s_parse_time("2026-11-27T09:43:42Z", 19, &ns), -EINVAL);
	assert_int_equal(ns, 42);
}

static void test_roundtrip_many_records(void **state)
{
	struct log l;

	log_init(&l);
	for (int i = 0; i < 20000; i++)
		log_add(&l, rnd_size(&l, PREFIX_LEN + 1, 400), true);
	roundtrip(*state, &l, 1, 8192);
	log_free(&l);
}

static void test_roundtrip_default_frame(void **state)
{
	struct log l;
	struct ctrlog_zst *z = NULL;
	const char *zst;
	int fd;

	log_init(&l);
	while (l.len < (7u << 19))
		log_add(&l, rnd_size(&l, 60, 300), true);
	roundtrip(*state, &l, 0, 0);

	zst = path_in(*state, "out.zst");
	fd = open(zst, O_RDONLY | O_CLOEXEC);
	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_count(z), 4);
	ctrlog_zst_close(z);
	close(fd);
	log_free(&l);
}

/* Records and frames whose sizes fall exactly on, just under and just over frame_max. */
static void test_sizes_around_frame_max(void **state)
{
	static const size_t F = 4096;
	static const size_t sizes[] = { 4095, 4096, 4097, 100, 4096, 2048, 2048, 2047, 2049,
		                        4097, 8192, 42, 4096, 1000, 3096, 3095, 1001, 50 };
	struct log l;

	log_init(&l);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		log_add(&l, sizes[i], true);
	roundtrip(*state, &l, 3, F);
	log_free(&l);
}

static void test_empty_input(void **state)
{
	struct ctrlog_zst *z = NULL;
	struct ctrlog_zst_frame_info fi;
	struct log l;
	const char *zst;
	int fd;

	log_init(&l);
	roundtrip(*state, &l, 1, 0);
	zst = path_in(*state, "out.zst");
	fd = open(zst, O_RDONLY | O_CLOEXEC);
	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_count(z), 0);
	assert_int_equal(ctrlog_zst_frame_info(z, 0, &fi), -ERANGE);
	ctrlog_zst_close(z);
	close(fd);
	log_free(&l);
}

/*
 * One record far larger than the read buffer (frame_max + 64 KiB) so its length is found by
 * reading ahead, one larger than frame_max that still fits the buffer, and small ones around.
 */
static void test_huge_records(void **state)
{
	struct log l;

	log_init(&l);
	for (int i = 0; i < 50; i++)
		log_add(&l, rnd_size(&l, 50, 200), true);
	log_add(&l, 5u << 20, true);
	log_add(&l, 100, true);
	log_add(&l, 50000, true);
	for (int i = 0; i < 50; i++)
		log_add(&l, rnd_size(&l, 50, 200), true);
	log_add(&l, (3u << 20) + 7, true);
	roundtrip(*state, &l, 1, 4096);
	log_free(&l);
}

static void test_single_huge_record(void **state)
{
	struct log l;

	log_init(&l);
	log_add(&l, 3u << 20, true);
	roundtrip(*state, &l, 1, 65536);
	log_free(&l);
}

/* The last record has no '\n' (a file cut short): the bytes still come back exactly. */
static void test_no_trailing_newline(void **state)
{
	struct ctrlog_zst *z = NULL;
	struct ctrlog_zst_frame_info fi;
	struct log l;
	const char *zst;
	int fd;

	log_init(&l);
	for (int i = 0; i < 300; i++)
		log_add(&l, rnd_size(&l, 50, 150), true);
	l.len--;
	zst = compress_to(*state, "out.zst", l.p, l.len, 1, 1024);
	assert_stream_equals(*state, zst, l.p, l.len);
	fd = open(zst, O_RDONLY | O_CLOEXEC);
	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_info(z, ctrlog_zst_frame_count(z) - 1, &fi), 0);
	assert_int_equal(fi.decomp_offset + fi.decomp_size, l.len);
	assert_int_equal(fi.last_ns, l.ns[l.n - 1]);
	ctrlog_zst_close(z);
	close(fd);
	log_free(&l);
}

/* Records without a parsable time give the "unknown" sentinels, so no reader skips them. */
static void test_unparsable_times(void **state)
{
	struct log l;

	log_init(&l);
	for (int i = 0; i < 400; i++)
		log_add(&l, rnd_size(&l, 50, 150), i % 7 != 0 && i % 11 != 0);
	roundtrip(*state, &l, 1, 1024);
	log_free(&l);
}

/* A clock stepping back inside a frame makes its times unknown. */
static void test_times_backwards(void **state)
{
	static const char data[] = "2026-11-27T09:43:42.5Z stdout F b\n"
	                           "2026-11-27T09:43:41Z stdout F a\n";
	struct ctrlog_zst *z = NULL;
	struct ctrlog_zst_frame_info fi;
	const char *zst = compress_to(*state, "out.zst", data, sizeof(data) - 1, 1, 0);
	int fd = open(zst, O_RDONLY | O_CLOEXEC);

	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_info(z, 0, &fi), 0);
	assert_true(fi.first_ns == CTRLOG_ZST_TIME_MIN && fi.last_ns == CTRLOG_ZST_TIME_MAX);
	ctrlog_zst_close(z);
	close(fd);
}

static void test_levels(void **state)
{
	static const int levels[] = { -5, 1, 19 };
	struct log l;

	log_init(&l);
	for (int i = 0; i < 500; i++)
		log_add(&l, rnd_size(&l, 50, 150), true);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		roundtrip(*state, &l, levels[i], 2000);
	log_free(&l);
}

/* Compression starts at the input's current offset and leaves that offset where it was. */
static void test_input_offset(void **state)
{
	const struct ctx *c = *state;
	struct log l, tail;
	const char *in = path_in(c, "in.log"), *out = path_in(c, "out.zst");
	int in_fd, out_fd;

	log_init(&l);
	for (int i = 0; i < 100; i++)
		log_add(&l, rnd_size(&l, 50, 150), true);
	write_file(in, l.p, l.len);
	in_fd = open(in, O_RDONLY | O_CLOEXEC);
	out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_int_equal(lseek(in_fd, (off_t)l.off[40], SEEK_SET), (off_t)l.off[40]);
	assert_int_equal(ctrlog_zst_compress_fd(in_fd, out_fd, 1, 512), 0);
	assert_int_equal(lseek(in_fd, 0, SEEK_CUR), (off_t)l.off[40]);
	close(in_fd);
	close(out_fd);

	tail = l;
	tail.p = l.p + l.off[40];
	tail.len = l.len - l.off[40];
	tail.n = l.n - 40;
	tail.off = malloc(tail.n * sizeof(*tail.off));
	assert_non_null(tail.off);
	for (size_t i = 0; i < tail.n; i++)
		tail.off[i] = l.off[40 + i] - l.off[40];
	tail.ns = l.ns + 40;
	tail.valid = l.valid + 40;
	verify(c, out, &tail, 512);
	free(tail.off);
	log_free(&l);
}

static void test_bad_args(void **state)
{
	const struct ctx *c = *state;
	static const char rec[] = "2026-11-27T09:43:42Z stdout F x\n";
	const char *zst = compress_to(c, "out.zst", rec, sizeof(rec) - 1, 1, 0);
	struct ctrlog_zst *z = NULL;
	struct ctrlog_zst_stream *s = NULL;
	struct ctrlog_zst_frame_info fi;
	char buf[64];
	size_t len = 7;
	int fd = open(zst, O_RDONLY | O_CLOEXEC), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int pfd[2];

	assert_int_equal(ctrlog_zst_compress_fd(fd, out, 1, CTRLOG_ZST_FRAME_MIN - 1), -EINVAL);
	assert_int_equal(ctrlog_zst_compress_fd(fd, out, 1, CTRLOG_ZST_FRAME_LIMIT + 1), -EINVAL);
	assert_int_equal(ctrlog_zst_compress_fd(fd, out, ZSTD_maxCLevel() + 1, 0), -EINVAL);
	assert_int_equal(ctrlog_zst_compress_fd(-1, out, 1, 0), -EINVAL);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(ctrlog_zst_compress_fd(pfd[0], out, 1, 0), -ESPIPE);
	assert_int_equal(ctrlog_zst_open(pfd[0], &z), -ENOMSG);
	close(pfd[0]);
	close(pfd[1]);

	assert_int_equal(ctrlog_zst_open(-1, &z), -EINVAL);
	assert_int_equal(ctrlog_zst_open(fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_count(z), 1);
	assert_int_equal(ctrlog_zst_frame_info(z, 1, &fi), -ERANGE);
	assert_int_equal(ctrlog_zst_read_frame(z, 1, buf, sizeof(buf), &len), -ERANGE);
	assert_int_equal(ctrlog_zst_read_frame(z, 0, buf, sizeof(rec) - 2, &len), -ENOBUFS);
	assert_int_equal(len, 7);
	assert_int_equal(ctrlog_zst_read_frame(z, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(rec) - 1);
	ctrlog_zst_close(z);
	ctrlog_zst_close(NULL);

	assert_int_equal(ctrlog_zst_stream_new(fd, &s), 0);
	assert_int_equal(ctrlog_zst_stream_read(s, buf, 0, &len), -EINVAL);
	ctrlog_zst_stream_free(s);
	ctrlog_zst_stream_free(NULL);
	close(fd);
	close(out);
}

/* ---- corrupt and foreign files ---- */

/* A small compressed log in memory, for mutating. */
static uint8_t *small_zst(const struct ctx *c, struct log *l, size_t *ret_len)
{
	const char *zst;

	log_init(l);
	for (int i = 0; i < 60; i++)
		log_add(l, rnd_size(l, 50, 150), true);
	zst = compress_to(c, "good.zst", l->p, l->len, 1, 1024);
	return read_file(zst, ret_len);
}

/* Opens bytes as a file; returns the open result and leaves the handle in *z (or NULL). */
static int open_bytes(const struct ctx *c, const uint8_t *p, size_t len, int *fd,
                      struct ctrlog_zst **z)
{
	const char *path = path_in(c, "mut.zst");

	write_file(path, p, len);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(*fd >= 0);
	*z = NULL;
	return ctrlog_zst_open(*fd, z);
}

/*
 * Reads every frame; returns 0 or the first error. A frame that a damaged table says is larger
 * than the buffer counts as refused (-ENOBUFS is the caller's cue that it will not fit).
 */
static int read_all_frames(struct ctrlog_zst *z)
{
	static uint8_t buf[1 << 16];
	size_t len;

	for (size_t k = 0; k < ctrlog_zst_frame_count(z); k++) {
		struct ctrlog_zst_frame_info fi;
		int r = ctrlog_zst_read_frame(z, k, buf, sizeof(buf), &len);

		assert_int_equal(ctrlog_zst_frame_info(z, k, &fi), 0);
		if (r == -ENOBUFS && fi.decomp_size > sizeof(buf))
			return -EBADMSG;
		if (r < 0)
			return r;
		assert_int_equal(len, fi.decomp_size);
	}
	return 0;
}

static void test_truncated(void **state)
{
	const struct ctx *c = *state;
	struct log l;
	size_t len;
	uint8_t *good = small_zst(c, &l, &len);

	for (size_t cut = 0; cut < len; cut++) {
		struct ctrlog_zst *z;
		int fd, r = open_bytes(c, good, cut, &fd, &z);

		if (r != -ENOMSG && r != -EBADMSG)
			fail_msg("truncated to %zu: open gave %d", cut, r);
		close(fd);
		ctrlog_zst_close(z);
	}
	/* The streaming decoder refuses a cut inside a frame. */
	for (size_t cut = 0; cut < len; cut++) {
		const char *p = path_in(c, "cut.zst");
		uint8_t *out;
		size_t out_len;
		int r;

		write_file(p, good, cut);
		r = stream_decode(c, p, &out, &out_len);
		if (r == 0) {
			/* Only a cut between frames decodes, and then to a prefix. */
			assert_true(out_len <= l.len);
			assert_memory_equal(out, l.p, out_len);
			free(out);
		} else {
			assert_int_equal(r, -EBADMSG);
		}
	}
	free(good);
	log_free(&l);
}

/* Every single-byte change in the trailer: refused, or harmless; never a crash. */
static void test_trailer_flips(void **state)
{
	const struct ctx *c = *state;
	struct ctrlog_zst *z = NULL;
	struct ctrlog_zst_frame_info fi;
	struct log l;
	size_t len, trailer;
	uint8_t *good = small_zst(c, &l, &len);
	int fd;

	assert_int_equal(open_bytes(c, good, len, &fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_info(z, ctrlog_zst_frame_count(z) - 1, &fi), 0);
	trailer = (size_t)(fi.comp_offset + fi.comp_size);
	ctrlog_zst_close(z);
	close(fd);

	for (size_t i = trailer; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			int r;

			good[i] ^= (uint8_t)(1u << bit);
			r = open_bytes(c, good, len, &fd, &z);
			if (r == 0) {
				r = read_all_frames(z);
				assert_true(r == 0 || r == -EBADMSG);
			} else if (r != -EBADMSG && r != -ENOMSG) {
				fail_msg("byte %zu bit %u: open gave %d", i, bit, r);
			}
			ctrlog_zst_close(z);
			close(fd);
			good[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(good);
	log_free(&l);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Targeted damage, each with the answer it must get. */
static void test_corrupt_fields(void **state)
{
	const struct ctx *c = *state;
	struct ctrlog_zst *z;
	struct log l;
	size_t len;
	uint8_t *good = small_zst(c, &l, &len), *bad = malloc(len);
	uint32_t n = get32(good + len - 9);
	size_t table = len - (8 + 8 * (size_t)n + 9), meta = table - (8 + 12 + 16 * (size_t)(n - 1));
	size_t e0 = table + 8, e1 = e0 + 8;
	uint32_t c0 = get32(good + e0), c1 = get32(good + e1);
	int fd;

	assert_non_null(bad);
	assert_true(n >= 4 && c0 != c1);

#define MUTATE(stmt, want_open, want_read)                                                   \
	do {                                                                                   \
		memcpy(bad, good, len);                                                        \
		stmt;                                                                          \
		assert_int_equal(open_bytes(c, bad, len, &fd, &z), want_open);                 \
		if (z)                                                                         \
			assert_int_equal(read_all_frames(z), want_read);                       \
		ctrlog_zst_close(z);                                                           \
		close(fd);                                                                     \
	} while (0)

	MUTATE((void)0, 0, 0);
	/* Footer: frame count, reserved descriptor bits, no magic. */
	MUTATE(put32(bad + len - 9, n + 1), -EBADMSG, 0);
	MUTATE(put32(bad + len - 9, 0xffffffffU), -EBADMSG, 0);
	MUTATE(bad[len - 5] |= 0x04, -EBADMSG, 0);
	MUTATE(bad[len - 1] ^= 0x01, -ENOMSG, 0);
	/* Seek table header: magic and size. */
	MUTATE(put32(bad + table, 0x184D2A50), -EBADMSG, 0);
	MUTATE(put32(bad + table + 4, get32(bad + table + 4) + 8), -EBADMSG, 0);
	/* Entries: sizes no longer adding up to the file; an empty frame; a swap that adds up. */
	MUTATE(put32(bad + e0, c0 + 1), -EBADMSG, 0);
	MUTATE((put32(bad + e0, 0), put32(bad + e1, c0 + c1)), -EBADMSG, 0);
	MUTATE((put32(bad + e0, c1), put32(bad + e1, c0)), 0, -EBADMSG);
	MUTATE(put32(bad + e0 + 4, get32(good + e0 + 4) + 1), 0, -EBADMSG);
	MUTATE(put32(bad + e0 + 4, 0x80000001U), -EBADMSG, 0);
	/* Metadata: its size field, its frame count, an unknown version (times just unknown). */
	MUTATE(put32(bad + meta + 4, get32(bad + meta + 4) - 1), -EBADMSG, 0);
	MUTATE(put32(bad + meta + 16, n), -EBADMSG, 0);
	MUTATE(bad[meta + 13] = 8, -EBADMSG, 0);
	MUTATE(bad[meta + 12] = 2, 0, 0);
	/* A data frame's content: caught by the frame itself (checksum or structure). */
	MUTATE(bad[c0 + 20] ^= 0x55, 0, -EBADMSG);
	MUTATE(bad[c0 - 1] ^= 0x55, 0, -EBADMSG);
#undef MUTATE

	/* Unknown metadata version: the file still opens, with unknown times. */
	memcpy(bad, good, len);
	bad[meta + 12] = 2;
	assert_int_equal(open_bytes(c, bad, len, &fd, &z), 0);
	{
		struct ctrlog_zst_frame_info fi;

		assert_int_equal(ctrlog_zst_frame_count(z), n - 1);
		assert_int_equal(read_all_frames(z), 0);
		assert_int_equal(ctrlog_zst_frame_info(z, 0, &fi), 0);
		assert_true(fi.first_ns == CTRLOG_ZST_TIME_MIN && fi.last_ns == CTRLOG_ZST_TIME_MAX);
	}
	ctrlog_zst_close(z);
	close(fd);
	free(bad);
	free(good);
	log_free(&l);
}

/* Random bytes that end with the seekable magic: refused, never a crash. */
static void test_random_trailers(void **state)
{
	const struct ctx *c = *state;
	struct log l;
	uint8_t buf[512];

	log_init(&l);
	for (int i = 0; i < 300; i++) {
		size_t len = 17 + rnd(&l) % (sizeof(buf) - 17);
		struct ctrlog_zst *z;
		int fd, r;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd(&l);
		put32(buf + len - 4, 0x8F92EAB1U);
		/* Make half of them plausible: a small frame count and a clean descriptor. */
		if (i % 2) {
			put32(buf + len - 9, (uint32_t)(rnd(&l) % 8));
			buf[len - 5] = 0;
		}
		r = open_bytes(c, buf, len, &fd, &z);
		assert_int_equal(r, -EBADMSG);
		close(fd);
	}
}

/* A seekable file as other tools write it: checksummed entries, no metadata, a skippable frame. */
static void test_foreign_seekable(void **state)
{
	const struct ctx *c = *state;
	static const char a[] = "2026-11-27T09:43:42Z stdout F first frame\n";
	static const char b[] = "2026-11-27T09:43:43Z stdout F second frame\n";
	uint8_t file[1024], out[64];
	size_t pos = 0, sizes[3][2], len;
	struct ctrlog_zst *z;
	struct ctrlog_zst_frame_info fi;
	int fd;

	sizes[0][0] = ZSTD_compress(file, 256, a, sizeof(a) - 1, 3);
	sizes[0][1] = sizeof(a) - 1;
	pos += sizes[0][0];
	put32(file + pos, 0x184D2A50U);
	put32(file + pos + 4, 4);
	memcpy(file + pos + 8, "junk", 4);
	sizes[1][0] = 12;
	sizes[1][1] = 0;
	pos += 12;
	sizes[2][0] = ZSTD_compress(file + pos, 256, b, sizeof(b) - 1, 3);
	sizes[2][1] = sizeof(b) - 1;
	pos += sizes[2][0];
	assert_false(ZSTD_isError(sizes[0][0]) || ZSTD_isError(sizes[2][0]));
	put32(file + pos, 0x184D2A5EU);
	put32(file + pos + 4, 3 * 12 + 9);
	pos += 8;
	for (int i = 0; i < 3; i++, pos += 12) {
		put32(file + pos, (uint32_t)sizes[i][0]);
		put32(file + pos + 4, (uint32_t)sizes[i][1]);
		put32(file + pos + 8, 0); /* checksums are not verified: each zstd frame has its own */
	}
	put32(file + pos, 3);
	file[pos + 4] = 0x80;
	put32(file + pos + 5, 0x8F92EAB1U);
	pos += 9;

	assert_int_equal(open_bytes(c, file, pos, &fd, &z), 0);
	assert_int_equal(ctrlog_zst_frame_count(z), 3);
	assert_int_equal(ctrlog_zst_frame_info(z, 2, &fi), 0);
	assert_int_equal(fi.decomp_offset, sizeof(a) - 1);
	assert_true(fi.first_ns == CTRLOG_ZST_TIME_MIN && fi.last_ns == CTRLOG_ZST_TIME_MAX);
	assert_int_equal(ctrlog_zst_read_frame(z, 0, out, sizeof(out), &len), 0);
	assert_memory_equal(out, a, len);
	assert_int_equal(ctrlog_zst_read_frame(z, 1, out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(ctrlog_zst_read_frame(z, 2, out, sizeof(out), &len), 0);
	assert_memory_equal(out, b, len);
	ctrlog_zst_close(z);
	close(fd);
}

/* A plain zstd stream (no seek table): -ENOMSG from open, and the streaming decoder reads it. */
static void test_not_seekable(void **state)
{
	const struct ctx *c = *state;
	struct log l;
	struct ctrlog_zst *z;
	size_t bound, half, n1, n2;
	uint8_t *buf;
	int fd;

	log_init(&l);
	for (int i = 0; i < 2000; i++)
		log_add(&l, rnd_size(&l, 50, 300), true);
	bound = 2 * ZSTD_compressBound(l.len);
	buf = malloc(bound);
	assert_non_null(buf);
	/* Two frames back to back, the second without a content size in its header. */
	half = l.off[1000];
	n1 = ZSTD_compress(buf, bound, l.p, half, 1);
	assert_false(ZSTD_isError(n1));
	{
		ZSTD_CCtx *cc = ZSTD_createCCtx();

		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
		ZSTD_outBuffer ob = { buf + n1, bound - n1, 0 };
		ZSTD_inBuffer ib = { l.p + half, l.len - half, 0 };

		assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
		n2 = ob.pos;
		ZSTD_freeCCtx(cc);
	}
	assert_int_equal(open_bytes(c, buf, n1 + n2, &fd, &z), -ENOMSG);
	close(fd);
	assert_stream_equals(c, path_in(c, "mut.zst"), l.p, l.len);

	/* Not zstd at all, and empty. */
	assert_int_equal(open_bytes(c, l.p, 1000, &fd, &z), -ENOMSG);
	close(fd);
	assert_int_equal(stream_decode(c, path_in(c, "mut.zst"), NULL, NULL), -EBADMSG);
	assert_int_equal(open_bytes(c, l.p, 0, &fd, &z), -ENOMSG);
	close(fd);
	assert_int_equal(stream_decode(c, path_in(c, "mut.zst"), NULL, NULL), -EBADMSG);
	free(buf);
	log_free(&l);
}

/* The real zstd CLI agrees: `zstd -t` passes and `zstd -d` restores the exact bytes. */
static void test_zstd_cli(void **state)
{
	const struct ctx *c = *state;
	char cmd[3 * PATH_MAX];
	struct log l;
	uint8_t *got;
	size_t got_len;
	const char *zst, *dec;

	if (!have_zstd_cli())
		skip();
	log_init(&l);
	for (int i = 0; i < 5000; i++)
		log_add(&l, rnd_size(&l, 50, 400), true);
	log_add(&l, 300000, true);

	for (int round = 0; round < 2; round++) {
		size_t len = round ? 0 : l.len;

		zst = compress_to(c, "cli.zst", l.p, len, 1, 16384);
		dec = path_in(c, "cli.out");
		snprintf(cmd, sizeof(cmd), "zstd -q -t '%s'", zst);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "zstd -q -d -f -o '%s' '%s'", dec, zst);
		assert_int_equal(system(cmd), 0);
		got = read_file(dec, &got_len);
		assert_int_equal(got_len, len);
		if (len)
			assert_memory_equal(got, l.p, len);
		free(got);
	}

	/* And a stream the CLI wrote reads back through the streaming decoder. */
	write_file(path_in(c, "in.log"), l.p, l.len);
	snprintf(cmd, sizeof(cmd), "zstd -q -f -o '%s' '%s'", path_in(c, "cli2.zst"),
	         path_in(c, "in.log"));
	assert_int_equal(system(cmd), 0);
	assert_stream_equals(c, path_in(c, "cli2.zst"), l.p, l.len);
	log_free(&l);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_record_time),
		T(test_roundtrip_many_records),
		T(test_roundtrip_default_frame),
		T(test_sizes_around_frame_max),
		T(test_empty_input),
		T(test_huge_records),
		T(test_single_huge_record),
		T(test_no_trailing_newline),
		T(test_unparsable_times),
		T(test_times_backwards),
		T(test_levels),
		T(test_input_offset),
		T(test_bad_args),
		T(test_truncated),
		T(test_trailer_flips),
		T(test_corrupt_fields),
		T(test_random_trailers),
		T(test_foreign_seekable),
		T(test_not_seekable),
		T(test_zstd_cli),
	};
#undef T

	return cmocka_run_group_tests_name("zstd_seekable", tests, NULL, NULL);
}
