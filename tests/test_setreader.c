/* SPDX-License-Identifier: MIT */
/*
 * rotate/setreader.c: reading a file set (rotated plain and zstd files in N order, then the live
 * file) as one stream of lines. Guards issue 6's reader promises: nothing read twice when a
 * plain file and its .zst briefly coexist, a malformed record reported with its file and offset
 * and skipped, lost history reported as a gap, --tail by reading backwards (joined lines across
 * files and streams), --since/--until skipping whole files and frames, following a live
 * file through a rotation, and a follower that falls behind retention (issue 11): the file it
 * holds is read to its end, and every file removed after it is reported, never skipped
 * silently, even when the rotations happen while it opens the live file. Issue 12: the file set
 * comes from the directory, not the rotation record; a file that is not a regular one is
 * reported and skipped (never opened blocking); the tail is exactly N lines however the log
 * grows meanwhile; a follower reads a live file renamed by an external rotator to its end and
 * then the new one, and says when the live file was truncated (copytruncate).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "rotate/setreader.h"
#include "rotate/zstd_seekable.h"
#include "test-util.h"

#define SEC INT64_C(1000000000)
#define BASE (INT64_C(1795772622) * SEC) /* 2026-11-27T09:43:42Z */

struct ctx {
	char *dir;
	char *log;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	c->dir = test_tmpdir();
	c->log = test_path(c->dir, "ctr.log");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	test_rmtree(c->dir);
	free(c->dir);
	free(c->log);
	free(c);
	return 0;
}

/* Appends one record: time BASE + i ms. */
static void rec(FILE *f, int64_t ms, const char *stream, char tag, const char *content)
{
	int64_t ns = BASE + ms * 1000000;
	time_t secs = (time_t)(ns / SEC);
	struct tm tm;
	char buf[32];

	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "%s.%09lldZ %s %c %s\n", buf, (long long)(ns % SEC), stream, tag, content);
}

static FILE *open_file(const struct ctx *c, const char *name, const char *mode)
{
	char *p = test_path(c->dir, name);
	FILE *f = fopen(p, mode);

	assert_non_null(f);
	free(p);
	return f;
}

/* Writes lines first..last ("line N" on stdout at N ms) into file `name`. */
static void write_lines(const struct ctx *c, const char *name, int first, int last)
{
	FILE *f = open_file(c, name, "a");
	char content[32];

	for (int i = first; i <= last; i++) {
		snprintf(content, sizeof(content), "line %d", i);
		rec(f, i, "stdout", 'F', content);
	}
	fclose(f);
}

static void set_last(const struct ctx *c, int last)
{
	FILE *f = open_file(c, ".ctr.log.last-rotation", "w");

	fprintf(f, "%d\n", last);
	fclose(f);
}

/* Compresses <name> into <name>.zst with small frames; keeps the plain file when keep. */
static void compress(const struct ctx *c, const char *name, bool keep)
{
	char *in = test_path(c->dir, name), out[4096];
	int ifd, ofd;

	snprintf(out, sizeof(out), "%s.zst", in);
	ifd = open(in, O_RDONLY);
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(ifd >= 0 && ofd >= 0);
	assert_int_equal(ctrlog_zst_compress_fd(ifd, ofd, 1, 256), 0);
	close(ifd);
	close(ofd);
	if (!keep)
		unlink(in);
	free(in);
}

static struct ctrlog_setreader *open_reader(const struct ctx *c, bool follow)
{
	struct ctrlog_setreader_config cfg = {
		.log_path = c->log, .follow = follow, .since_ns = INT64_MIN, .until_ns = INT64_MAX,
	};
	struct ctrlog_setreader *r = NULL;

	assert_int_equal(ctrlog_setreader_open(&cfg, &r), 0);
	return r;
}

/* Reads lines "line N" and checks they are first..last in order; returns 0, or the kind of a
 * non-line item met on the way. */
static int expect_lines(struct ctrlog_setreader *r, int first, int last)
{
	struct ctrlog_sr_item it;
	int want = first, q;

	while ((q = ctrlog_setreader_next(r, &it)) > 0) {
		char buf[64];

		if (it.kind != CTRLOG_SR_LINE)
			return it.kind;
		snprintf(buf, sizeof(buf), "line %d", want);
		if (it.line.len != strlen(buf) || memcmp(it.line.data, buf, it.line.len) != 0)
			fail_msg("expected '%s', got '%.*s'", buf, (int)it.line.len, it.line.data);
		want++;
		if (want > last)
			break;
	}
	assert_true(q >= 0);
	assert_int_equal(want, last + 1);
	return 0;
}

/* A history of 1..500: files 1-3 rotated (1 and 2 compressed, 2 also still plain, as between
 * the compressor's rename and unlink), 4 plain, and the live file. */
static void make_history(const struct ctx *c)
{
	write_lines(c, "ctr.log.1", 1, 100);
	write_lines(c, "ctr.log.2", 101, 200);
	write_lines(c, "ctr.log.3", 201, 300);
	write_lines(c, "ctr.log.4", 301, 400);
	write_lines(c, "ctr.log", 401, 500);
	compress(c, "ctr.log.1", false);
	compress(c, "ctr.log.2", true);
	compress(c, "ctr.log.3", false);
	set_last(c, 4);
}

static void test_reads_all_in_order(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	struct ctrlog_setpos pos;

	make_history(c);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 500), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	assert_true(ctrlog_setreader_finished(r));
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 5);
	ctrlog_setreader_free(r);
}

static void test_position_survives_compression(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_setpos pos;

	make_history(c);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 350), 0);
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 4);
	ctrlog_setreader_free(r);
	/* File 4 is compressed meanwhile: the same position reads on from the .zst. */
	compress(c, "ctr.log.4", false);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek(r, &pos), 0);
	assert_int_equal(expect_lines(r, 351, 500), 0);
	ctrlog_setreader_free(r);
}

static void test_malformed_record_reported(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	FILE *f;
	long off;

	write_lines(c, "ctr.log.1", 1, 10);
	f = open_file(c, "ctr.log.1", "a");
	off = ftell(f);
	fputs("this is not a record\n", f);
	fclose(f);
	write_lines(c, "ctr.log.1", 11, 20);
	write_lines(c, "ctr.log", 21, 30);
	set_last(c, 1);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.kind, CTRLOG_SR_MALFORMED);
	assert_string_equal(it.file, "ctr.log.1");
	assert_int_equal(it.offset, off);
	assert_int_equal(it.error, -EINVAL);
	assert_int_equal(expect_lines(r, 11, 30), 0);
	ctrlog_setreader_free(r);
}

static void test_gap_reported(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	struct ctrlog_setpos pos = { 2, 0 };

	/* 2 and 3 were removed by retention; a follower positioned at 2 is told so. */
	write_lines(c, "ctr.log.4", 301, 400);
	write_lines(c, "ctr.log", 401, 500);
	set_last(c, 4);
	r = open_reader(c, true);
	assert_int_equal(ctrlog_setreader_seek(r, &pos), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.kind, CTRLOG_SR_GAP);
	assert_int_equal(it.gap_first, 2);
	assert_int_equal(it.gap_last, 3);
	assert_int_equal(expect_lines(r, 301, 500), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
}

static void test_tail(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;

	make_history(c);
	for (int n = 0; n <= 500; n += 7) {
		r = open_reader(c, false);
		assert_int_equal(ctrlog_setreader_seek_tail(r, (uint64_t)n), 0);
		if (n)
			assert_int_equal(expect_lines(r, 500 - n + 1, 500), 0);
		assert_int_equal(ctrlog_setreader_next(r, &it), 0);
		ctrlog_setreader_free(r);
	}
	/* More than there is: everything. */
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_tail(r, 100000), 0);
	assert_int_equal(expect_lines(r, 1, 500), 0);
	ctrlog_setreader_free(r);
}

/* Split lines on both streams around a rotation: the tail must return them whole. */
static void test_tail_joins_pieces(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader_config cfg = {
		.log_path = c->log, .since_ns = INT64_MIN, .until_ns = INT64_MAX,
	};
	static const char *const want[] = { "o1o2", "e1e2e3", "o3", "o4o5" };
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	FILE *f = open_file(c, "ctr.log.1", "w");

	rec(f, 1, "stderr", 'P', "e1");
	rec(f, 2, "stdout", 'P', "o1");
	rec(f, 3, "stderr", 'P', "e2");
	fclose(f);
	compress(c, "ctr.log.1", false);
	f = open_file(c, "ctr.log", "w");
	rec(f, 4, "stdout", 'F', "o2");
	rec(f, 5, "stderr", 'F', "e3");
	rec(f, 6, "stdout", 'F', "o3");
	rec(f, 7, "stdout", 'P', "o4");
	rec(f, 8, "stdout", 'F', "o5");
	fclose(f);
	set_last(c, 1);
	for (size_t n = 1; n <= 4; n++) {
		assert_int_equal(ctrlog_setreader_open(&cfg, &r), 0);
		assert_int_equal(ctrlog_setreader_seek_tail(r, n), 0);
		for (size_t i = 4 - n; i < 4; i++) {
			assert_int_equal(ctrlog_setreader_next(r, &it), 1);
			assert_int_equal(it.kind, CTRLOG_SR_LINE);
			if (it.line.len != strlen(want[i]) || memcmp(it.line.data, want[i], it.line.len))
				fail_msg("tail %zu, line %zu: '%.*s'", n, i, (int)it.line.len, it.line.data);
		}
		assert_int_equal(ctrlog_setreader_next(r, &it), 0);
		ctrlog_setreader_free(r);
	}
	/* One stream only. */
	cfg.streams = 1u << CTRLOG_STDERR;
	assert_int_equal(ctrlog_setreader_open(&cfg, &r), 0);
	assert_int_equal(ctrlog_setreader_seek_tail(r, 1), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.line.len, 6);
	assert_memory_equal(it.line.data, "e1e2e3", 6);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
}

static void test_since_until(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader_config cfg = { .log_path = c->log };
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;

	/* Files of 100 lines; the .zst ones have many 256-byte frames. Line i is at i ms. */
	make_history(c);
	for (int since = 1; since <= 500; since += 37) {
		for (int until = since; until <= 500; until += 101) {
			cfg.since_ns = BASE + since * INT64_C(1000000);
			cfg.until_ns = BASE + until * INT64_C(1000000);
			assert_int_equal(ctrlog_setreader_open(&cfg, &r), 0);
			assert_int_equal(ctrlog_setreader_seek_start(r), 0);
			assert_int_equal(expect_lines(r, since, until), 0);
			assert_int_equal(ctrlog_setreader_next(r, &it), 0);
			assert_true(ctrlog_setreader_finished(r));
			ctrlog_setreader_free(r);
		}
	}
}

static void test_follow_through_rotation(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	char *live = test_path(c->dir, "ctr.log"), *rot = test_path(c->dir, "ctr.log.1");
	char *rot2 = test_path(c->dir, "ctr.log.2");
	struct ctrlog_setpos pos;
	FILE *f;

	r = open_reader(c, true);
	/* No live file yet: nothing, and no error. */
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	/* A half-written record is held back until its newline arrives. */
	f = open_file(c, "ctr.log", "a");
	fputs("2026-11-27T09:43:42.011000000Z stdout F line", f);
	fclose(f);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	f = open_file(c, "ctr.log", "a");
	fputs(" 11\n", f);
	fclose(f);
	assert_int_equal(expect_lines(r, 11, 11), 0);
	/* Rotation: lines written just before the rename are still read from the old file. */
	write_lines(c, "ctr.log", 12, 20);
	assert_int_equal(rename(live, rot), 0);
	set_last(c, 1);
	assert_int_equal(expect_lines(r, 12, 20), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0); /* the new live file is not there yet */
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 2);
	/* Another rotation and a compression happen before the reader looks again. */
	write_lines(c, "ctr.log", 21, 30);
	assert_int_equal(rename(live, rot2), 0);
	set_last(c, 2);
	compress(c, "ctr.log.1", false);
	write_lines(c, "ctr.log", 31, 40);
	assert_int_equal(expect_lines(r, 21, 40), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	assert_false(ctrlog_setreader_finished(r));
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 3);
	ctrlog_setreader_free(r);
	free(live);
	free(rot);
	free(rot2);
}

/* ---- a follower behind retention (issue 11) ---- */

/* The writer's rotation: the live file becomes <log>.n, n is recorded, then the next live file
 * gets lines first..last. */
static void rotate_to(const struct ctx *c, int n, int first, int last)
{
	char name[64], *live = test_path(c->dir, "ctr.log"), *rot;

	snprintf(name, sizeof(name), "ctr.log.%d", n);
	rot = test_path(c->dir, name);
	assert_int_equal(rename(live, rot), 0);
	set_last(c, n);
	write_lines(c, "ctr.log", first, last);
	free(live);
	free(rot);
}

/* Retention removes file n, plain or compressed. */
static void remove_rotated(const struct ctx *c, int n)
{
	char name[64], *p;

	for (int zst = 0; zst < 2; zst++) {
		snprintf(name, sizeof(name), "ctr.log.%d%s", n, zst ? ".zst" : "");
		p = test_path(c->dir, name);
		(void)unlink(p);
		free(p);
	}
}

/* Expects one gap item first..last. */
static void expect_gap(struct ctrlog_setreader *r, uint64_t first, uint64_t last)
{
	struct ctrlog_sr_item it;

	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	if (it.kind == CTRLOG_SR_LINE)
		fail_msg("expected lost files %llu..%llu, got '%.*s'", (unsigned long long)first,
			 (unsigned long long)last, (int)it.line.len, it.line.data);
	assert_int_equal(it.kind, CTRLOG_SR_GAP);
	assert_int_equal(it.gap_first, first);
	assert_int_equal(it.gap_last, last);
}

/* Stopped while holding the live file (1), which was then rotated, written on and removed with
 * file 2; file 3 got compressed. */
static void test_follow_held_file_removed(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r = open_reader(c, true);
	struct ctrlog_sr_item it;

	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	write_lines(c, "ctr.log", 11, 20);
	rotate_to(c, 1, 21, 30);
	rotate_to(c, 2, 31, 40);
	rotate_to(c, 3, 41, 50);
	rotate_to(c, 4, 51, 60);
	compress(c, "ctr.log.3", false);
	remove_rotated(c, 1);
	remove_rotated(c, 2);
	/* What was written into 1 is still read through its fd; then 2 is missing. */
	assert_int_equal(expect_lines(r, 11, 20), 0);
	expect_gap(r, 2, 2);
	assert_int_equal(expect_lines(r, 31, 60), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
}

/* Stopped at a file boundary: 1 read to its end and renamed, 2 not created yet. Then 2 and 3
 * come and go. */
static void test_follow_boundary_files_removed(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r = open_reader(c, true);
	char *live = test_path(c->dir, "ctr.log"), *rot = test_path(c->dir, "ctr.log.1");
	struct ctrlog_sr_item it;
	struct ctrlog_setpos pos;

	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(rename(live, rot), 0);
	set_last(c, 1);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 2);
	write_lines(c, "ctr.log", 11, 20);
	rotate_to(c, 2, 21, 30);
	rotate_to(c, 3, 31, 40);
	rotate_to(c, 4, 41, 50);
	remove_rotated(c, 1);
	remove_rotated(c, 2);
	remove_rotated(c, 3);
	expect_gap(r, 2, 3);
	assert_int_equal(expect_lines(r, 31, 50), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
	free(live);
	free(rot);
}

/*
 * The library's openat() calls come here (-Wl,--wrap=openat64 in tests/meson.build), so that a
 * test can act as the writer at one exact point: after the reader has read the last rotation
 * number and before it opens the live file.
 */
int __real_openat64(int dirfd, const char *path, int flags, ...);
int __wrap_openat64(int dirfd, const char *path, int flags, ...);

static void (*before_live_open)(const struct ctx *c);
static const struct ctx *hook_ctx;

int __wrap_openat64(int dirfd, const char *path, int flags, ...)
{
	void (*hook)(const struct ctx *c) = before_live_open;
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (hook && strcmp(path, "ctr.log") == 0) {
		before_live_open = NULL;
		hook(hook_ctx);
	}
	return __real_openat64(dirfd, path, flags, mode);
}

/* Three rotations (live 2 to 4), and retention (two files) removes 1 and 2. */
static void rotate_three_times(const struct ctx *c)
{
	rotate_to(c, 2, 21, 30);
	rotate_to(c, 3, 31, 40);
	rotate_to(c, 4, 41, 50);
	remove_rotated(c, 1);
	remove_rotated(c, 2);
}

/*
 * Rotations during the open of the live file, enough for retention to remove the file after the
 * recorded number: the file opened is live 5, not 2. Taken for 2, it would have skipped 2 to 4
 * silently (and read 3 and 4 after it).
 */
static void test_follow_rotations_during_live_open(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r = open_reader(c, true);
	struct ctrlog_sr_item it;

	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	rotate_to(c, 1, 11, 20);
	hook_ctx = c;
	before_live_open = rotate_three_times;
	/* The reader finishes 1, reads the number (1), and opens the live file, which by then is 5. */
	expect_gap(r, 2, 2);
	assert_null(before_live_open); /* the writer did run in the middle */
	assert_int_equal(expect_lines(r, 21, 50), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
}

/* ---- the file set from disk, files that cannot be read, external rotators (issue 12) ---- */

/* Retention removed 1 to 5; the record is missing, then set back: files 6 to 8 are still read. */
static void test_record_missing_or_stale(void **state)
{
	struct ctx *c = *state;
	char *rec_path = test_path(c->dir, ".ctr.log.last-rotation");
	struct ctrlog_setreader *r;

	write_lines(c, "ctr.log.6", 1, 10);
	write_lines(c, "ctr.log.7", 11, 20);
	write_lines(c, "ctr.log.8", 21, 30);
	compress(c, "ctr.log.6", false);
	write_lines(c, "ctr.log", 31, 40);
	for (int stale = 0; stale < 2; stale++) {
		if (stale)
			set_last(c, 2);
		else
			(void)unlink(rec_path);
		r = open_reader(c, false);
		assert_int_equal(ctrlog_setreader_seek_start(r), 0);
		assert_int_equal(expect_lines(r, 1, 40), 0);
		ctrlog_setreader_free(r);
		r = open_reader(c, false);
		assert_int_equal(ctrlog_setreader_seek_tail(r, 35), 0);
		assert_int_equal(expect_lines(r, 6, 40), 0);
		ctrlog_setreader_free(r);
	}
	free(rec_path);
}

/* Expects the item that says file `name` was skipped, not being a regular file. */
static void expect_unreadable(struct ctrlog_setreader *r, const char *name)
{
	struct ctrlog_sr_item it;

	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.kind, CTRLOG_SR_UNREADABLE);
	assert_string_equal(it.file, name);
	assert_int_equal(it.error, CTRLOG_SR_ENOTREG);
}

/* Rotated file 3 replaced by a symlink, a directory, a FIFO (opening it would block): reported
 * and skipped, reading and the tail go on with the rest. */
static void test_unreadable_rotated_skipped(void **state)
{
	struct ctx *c = *state;
	char *p = test_path(c->dir, "ctr.log.3"), *target = test_path(c->dir, "nowhere");
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;

	make_history(c);
	for (int kind = 0; kind < 3; kind++) {
		(void)unlink(p);
		(void)rmdir(p);
		assert_int_equal(kind == 0 ? symlink(target, p) : kind == 1 ? mkdir(p, 0700) :
			mkfifo(p, 0600), 0);
		for (int tail = 0; tail < 2; tail++) {
			r = open_reader(c, false);
			assert_int_equal(tail ? ctrlog_setreader_seek_tail(r, 1000) :
				ctrlog_setreader_seek_start(r), 0);
			assert_int_equal(expect_lines(r, 1, 200), 0);
			expect_unreadable(r, "ctr.log.3");
			assert_int_equal(expect_lines(r, 301, 500), 0);
			assert_int_equal(ctrlog_setreader_next(r, &it), 0);
			ctrlog_setreader_free(r);
		}
	}
	/* The live file a FIFO: the history, then the report. */
	(void)unlink(c->log);
	assert_int_equal(mkfifo(c->log, 0600), 0);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_tail(r, 50), 0);
	assert_int_equal(expect_lines(r, 351, 400), 0);
	expect_unreadable(r, "ctr.log");
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
	free(p);
	free(target);
}

/* What is written and rotated after seek_tail is not part of the tail. */
static void test_tail_ends_where_positioned(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;

	make_history(c);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_tail(r, 3), 0);
	write_lines(c, "ctr.log", 501, 510);
	rotate_to(c, 5, 511, 520);
	assert_int_equal(expect_lines(r, 498, 500), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	assert_int_equal(ctrlog_setreader_take_held(r, &it), 0);
	ctrlog_setreader_free(r);
}

/* A line still unfinished at the end (P records only) is handed out whole: it is one of the N. */
static void test_tail_counts_unfinished_line(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r;
	struct ctrlog_sr_item it;
	FILE *f;

	write_lines(c, "ctr.log", 1, 10);
	f = open_file(c, "ctr.log", "a");
	rec(f, 11, "stdout", 'P', "ab");
	rec(f, 12, "stdout", 'P', "cd");
	fclose(f);
	r = open_reader(c, false);
	assert_int_equal(ctrlog_setreader_seek_tail(r, 2), 0);
	assert_int_equal(expect_lines(r, 10, 10), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	assert_int_equal(ctrlog_setreader_take_held(r, &it), 1);
	assert_int_equal(it.line.len, 4);
	assert_memory_equal(it.line.data, "abcd", 4);
	assert_int_equal(ctrlog_setreader_take_held(r, &it), 0);
	ctrlog_setreader_free(r);
}

/* mv ctr.log ctr.log.old: the writer goes on in the renamed file until SIGHUP, then writes a new
 * ctr.log (of the same number: no rotation was recorded). The follower reads all of it. */
static void test_follow_external_rename(void **state)
{
	struct ctx *c = *state;
	char *old = test_path(c->dir, "ctr.log.old");
	struct ctrlog_setreader *r = open_reader(c, true);
	struct ctrlog_sr_item it;
	struct ctrlog_setpos pos;

	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(rename(c->log, old), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	write_lines(c, "ctr.log.old", 11, 20);
	assert_int_equal(expect_lines(r, 11, 20), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	/* SIGHUP: the last lines into the old file, then the new one. */
	write_lines(c, "ctr.log.old", 21, 30);
	write_lines(c, "ctr.log", 31, 40);
	assert_int_equal(expect_lines(r, 21, 40), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_tell(r, &pos);
	assert_int_equal(pos.n, 1);
	/* And a rotation of the new live file after that. */
	rotate_to(c, 1, 41, 50);
	assert_int_equal(expect_lines(r, 41, 50), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
	free(old);
}

/* copytruncate: the live file emptied in place, then written again. */
static void test_follow_truncated(void **state)
{
	struct ctx *c = *state;
	struct ctrlog_setreader *r = open_reader(c, true);
	struct ctrlog_sr_item it;

	write_lines(c, "ctr.log", 1, 10);
	assert_int_equal(ctrlog_setreader_seek_start(r), 0);
	assert_int_equal(expect_lines(r, 1, 10), 0);
	assert_int_equal(truncate(c->log, 0), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.kind, CTRLOG_SR_TRUNCATED);
	assert_string_equal(it.file, "ctr.log");
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	write_lines(c, "ctr.log", 11, 20);
	assert_int_equal(expect_lines(r, 11, 20), 0);
	/* Truncated and written again, longer than before, before the reader looks. */
	assert_int_equal(truncate(c->log, 0), 0);
	write_lines(c, "ctr.log", 21, 100);
	assert_int_equal(ctrlog_setreader_next(r, &it), 1);
	assert_int_equal(it.kind, CTRLOG_SR_TRUNCATED);
	assert_int_equal(expect_lines(r, 21, 100), 0);
	assert_int_equal(ctrlog_setreader_next(r, &it), 0);
	ctrlog_setreader_free(r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reads_all_in_order),
		T(test_position_survives_compression),
		T(test_malformed_record_reported),
		T(test_gap_reported),
		T(test_tail),
		T(test_tail_joins_pieces),
		T(test_since_until),
		T(test_follow_through_rotation),
		T(test_follow_held_file_removed),
		T(test_follow_boundary_files_removed),
		T(test_follow_rotations_during_live_open),
		T(test_record_missing_or_stale),
		T(test_unreadable_rotated_skipped),
		T(test_tail_ends_where_positioned),
		T(test_tail_counts_unfinished_line),
		T(test_follow_external_rename),
		T(test_follow_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
