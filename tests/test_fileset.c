/* SPDX-License-Identifier: MIT */
/* rotate/: rotation at record boundaries, numbering that is never reused, retention,
 * background compression, and recovery of a directory left by a killed monitor. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "test-util.h"

#define RECORD 49 /* prefix (40) + "n=NNNNNN" + "\n" */

/* Rotated files stay plain unless a test asks for compression. */
static int setup(void **state)
{
	test_logger_setup(state);
	((struct test_logger_fixture *)*state)->cfg.compress_level = CTRLOG_COMPRESS_NONE;
	return 0;
}

/* Frees the logger, which first finishes the background thread's work. */
static void close_logger(struct test_logger_fixture *f)
{
	ctrlog_logger_free(f->logger);
	f->logger = NULL;
}

static bool exists(struct test_logger_fixture *f, const char *name)
{
	char *p = test_path(f->dir, name);
	bool r = access(p, F_OK) == 0;

	free(p);
	return r;
}

static off_t size_of(struct test_logger_fixture *f, const char *name)
{
	char *p = test_path(f->dir, name);
	struct stat st;
	off_t r = stat(p, &st) == 0 ? st.st_size : -1;

	free(p);
	return r;
}

static void make_file(struct test_logger_fixture *f, const char *name, const char *content)
{
	char *p = test_path(f->dir, name);
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
	free(p);
}

/* Feeds lines "n=<i>" for i in [from, to), one per feed. */
static void feed_numbered(struct test_logger_fixture *f, int from, int to)
{
	char line[32];

	for (int i = from; i < to; i++) {
		int n = snprintf(line, sizeof(line), "n=%06d\n", i);

		assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, line, (size_t)n), 0);
	}
}

/* Checks that the rotated files (oldest first) and the live file hold consecutive numbers
 * ending at `last`, every file within max_size and made of whole records; returns how many
 * lines were found. */
static int check_contiguous(struct test_logger_fixture *f, int first_n, int last_n, int last)
{
	int expect = -1, lines = 0;

	for (int n = first_n; n <= last_n + 1; n++) {
		char name[64], *p, *buf;
		size_t len;

		if (n <= last_n)
			snprintf(name, sizeof(name), "ctr.log.%d", n);
		else
			snprintf(name, sizeof(name), "ctr.log");
		p = test_path(f->dir, name);
		buf = test_read_file(p, &len);
		free(p);
		assert_non_null(buf);
		assert_true(f->cfg.max_size == 0 || len <= f->cfg.max_size);
		assert_true(len == 0 || buf[len - 1] == '\n');
		for (char *line = buf; line < buf + len; line = strchr(line, '\n') + 1) {
			int v = atoi(line + 40 + 2);

			assert_memory_equal(line + 30, " stdout F n=", 12);
			if (expect >= 0)
				assert_int_equal(v, expect);
			expect = v + 1;
			lines++;
		}
		free(buf);
	}
	assert_int_equal(expect, last + 1);
	return lines;
}

static void test_rotation_retention_and_bounds(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st;

	f->cfg.max_size = 1000; /* 20 records of 49 bytes */
	f->cfg.max_files = 3;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1000);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotations, 49);
	/* Retention deletes in the background; freeing waits for it. */
	close_logger(f);
	assert_false(exists(f, "ctr.log.46"));
	assert_true(exists(f, "ctr.log.47"));
	assert_true(exists(f, "ctr.log.49"));
	assert_false(exists(f, "ctr.log.50"));
	assert_int_equal(check_contiguous(f, 47, 49, 999), 3 * 20 + 20);
}

/* Many records in one round (staged before one write) still rotate at the limit, also into a
 * freshly rotated, empty live file. */
static void test_rotation_within_one_round(void **state)
{
	struct test_logger_fixture *f = *state;
	char *buf = malloc(1000 * 9 + 1);
	size_t len = 0;

	f->cfg.max_size = 1000;
	f->cfg.max_files = 100;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	for (int i = 0; i < 1000; i++)
		len += (size_t)sprintf(buf + len, "n=%06d\n", i);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, buf, len), 0);
	assert_int_equal(check_contiguous(f, 1, 49, 999), 1000);
	free(buf);
}

/* A single record larger than max_size goes alone into its own file; no record spans two. */
static void test_oversized_record_alone(void **state)
{
	struct test_logger_fixture *f = *state;
	char big[3001];

	f->cfg.max_size = 1000;
	f->cfg.max_line = 100000;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 3);
	memset(big, 'b', 3000);
	big[3000] = '\n';
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, big, sizeof(big)), 0);
	feed_numbered(f, 3, 4);
	assert_int_equal(size_of(f, "ctr.log.1"), 3 * RECORD);
	assert_int_equal(size_of(f, "ctr.log.2"), 40 + 3000 + 1);
	assert_int_equal(size_of(f, "ctr.log"), RECORD);
}

static void test_max_size_zero_never_rotates(void **state)
{
	struct test_logger_fixture *f = *state;

	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 2000);
	assert_false(exists(f, "ctr.log.1"));
	assert_int_equal(size_of(f, "ctr.log"), 2000 * RECORD);
}

/* Numbers are never reused, even when retention removed every rotated file and the monitor
 * restarted. */
static void test_numbering_survives_restart(void **state)
{
	struct test_logger_fixture *f = *state;

	f->cfg.max_files = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	for (int i = 0; i < 3; i++) {
		feed_numbered(f, i, i + 1);
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	}
	close_logger(f);
	assert_false(exists(f, "ctr.log.3"));
	f->cfg.max_files = 1;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 3, 4);
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	close_logger(f);
	assert_true(exists(f, "ctr.log.4"));
	assert_false(exists(f, "ctr.log.1"));
}

static int run(const char *fmt, const char *arg1, const char *arg2)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, arg1, arg2);
	return system(cmd);
}

/* Older rotated files become .zst (zstd -d gives back the bytes); the newest stays plain. */
static void test_compression_keeps_newest_plain(void **state)
{
	struct test_logger_fixture *f = *state;

	f->cfg.compress_level = 1;
	f->cfg.max_files = 5;
	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	for (int i = 0; i < 3; i++) {
		feed_numbered(f, i * 100, (i + 1) * 100);
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	}
	feed_numbered(f, 300, 310);
	close_logger(f); /* waits for the background thread's work */
	assert_true(exists(f, "ctr.log.1.zst"));
	assert_true(exists(f, "ctr.log.2.zst"));
	assert_false(exists(f, "ctr.log.1"));
	assert_false(exists(f, "ctr.log.2"));
	assert_true(exists(f, "ctr.log.3"));
	assert_false(exists(f, "ctr.log.3.zst"));
	assert_int_equal(run("cd %s && zstd -q -t ctr.log.1.zst ctr.log.2.zst", f->dir, ""), 0);
	assert_int_equal(run("cd %s && zstd -q -dc ctr.log.1.zst > ctr.log.1 && zstd -q -dc ctr.log.2.zst > ctr.log.2",
			     f->dir, ""), 0);
	assert_int_equal(check_contiguous(f, 1, 3, 309), 310);
}

/* What a monitor killed mid-compression leaves behind is cleaned up and finished. */
static void test_recovery(void **state)
{
	struct test_logger_fixture *f = *state;

	make_file(f, "ctr.log.2", "2026-11-27T09:43:42.000000000Z stdout F n=000002\n");
	assert_int_equal(run("cd %s && zstd -q ctr.log.2 -o ctr.log.2.zst", f->dir, ""), 0);
	make_file(f, "ctr.log.3", "2026-11-27T09:43:42.000000000Z stdout F n=000003\n");
	make_file(f, "ctr.log.3.zst.tmp", "torn");
	make_file(f, "ctr.log.4", "2026-11-27T09:43:42.000000000Z stdout F n=000004\n");
	/* The live file ends with a record torn by the kill. */
	make_file(f, "ctr.log", "2026-11-27T09:43:42.000000000Z stdout F n=000005\n"
				"2026-11-27T09:43:42.000000000Z stdout F n=0");
	make_file(f, "unrelated.1", "x");
	f->cfg.compress_level = 1;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 6, 7);
	close_logger(f);
	assert_false(exists(f, "ctr.log.3.zst.tmp"));
	assert_false(exists(f, "ctr.log.2"));      /* its .zst was complete */
	assert_true(exists(f, "ctr.log.2.zst"));
	assert_true(exists(f, "ctr.log.3.zst"));   /* left plain, compressed on restart */
	assert_false(exists(f, "ctr.log.3"));
	assert_true(exists(f, "ctr.log.4"));       /* the newest stays plain */
	assert_true(exists(f, "unrelated.1"));
	/* The torn piece is cut, the rest appended to, never truncated. */
	assert_int_equal(size_of(f, "ctr.log"), 2 * RECORD);
	assert_int_equal(check_contiguous(f, 5, 4, 6), 2);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	assert_true(exists(f, "ctr.log.5"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, test_logger_teardown)
	const struct CMUnitTest tests[] = {
		T(test_rotation_retention_and_bounds),
		T(test_rotation_within_one_round),
		T(test_oversized_record_alone),
		T(test_max_size_zero_never_rotates),
		T(test_numbering_survives_restart),
		T(test_compression_keeps_newest_plain),
		T(test_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
