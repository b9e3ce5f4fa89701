/* SPDX-License-Identifier: MIT */
/* rotate/: rotation at record boundaries, numbering that is never reused, retention,
 * background compression, recovery of a directory left by a killed monitor, failures that are
 * counted (renameat() and fstat() injected, see tests/meson.build), fork(), one writer per
 * log, no FIFO taken for a log, no empty file rotated, and open lines closed on take-over. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "test-util.h"

#define RECORD 49 /* prefix (40) + "n=NNNNNN" + "\n" */

/* --- fault injection ----------------------------------------------------------------------- */

int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __real_fstat64(int fd, struct stat *st);
int __wrap_fstat64(int fd, struct stat *st);

/* While set, renaming the live file fails with this errno (the compressor's renames pass). */
static int rename_live_errno;
static int rename_live_calls;
/* This many renames of a .zst.tmp (the compressor's last step) fail with ENOSPC. */
static int rename_tmp_failures;
/* While set, fstat() fails with this errno, leaving garbage where the result would go. */
static int fstat_errno;

int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	size_t len = strlen(oldpath);

	if (len > 8 && strcmp(oldpath + len - 8, ".zst.tmp") == 0 && rename_tmp_failures > 0) {
		rename_tmp_failures--;
		errno = ENOSPC;
		return -1;
	}
	if (strcmp(oldpath, "ctr.log") == 0) {
		rename_live_calls++;
		if (rename_live_errno) {
			errno = rename_live_errno;
			return -1;
		}
	}
	return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int __wrap_fstat64(int fd, struct stat *st)
{
	if (fstat_errno) {
		memset(st, 0xa5, sizeof(*st));
		errno = fstat_errno;
		return -1;
	}
	return __real_fstat64(fd, st);
}

/* Rotated files stay plain unless a test asks for compression. */
static int setup(void **state)
{
	rename_live_errno = rename_live_calls = fstat_errno = rename_tmp_failures = 0;
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
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

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

/* After ctrlog_logger_finish() the counters are those of the whole run: every rotated file
 * handed to the compressor is done, and nothing changes them afterwards. */
static void test_finish_makes_counters_final(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	struct ctrlog_stats again = { .struct_size = sizeof(again) };

	f->cfg.compress_level = 19;
	f->cfg.max_files = 5;
	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	for (int i = 0; i < 3; i++) {
		feed_numbered(f, i * 5000, (i + 1) * 5000);
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	}
	ctrlog_logger_finish(f->logger);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.compressed_files, 2);
	assert_int_equal(st.compress_errors, 0);
	assert_int_equal(st.compress_bytes_in, 2 * 5000 * RECORD);
	assert_int_equal(st.compress_bytes_out,
			 size_of(f, "ctr.log.1.zst") + size_of(f, "ctr.log.2.zst"));
	assert_int_equal(st.stream[CTRLOG_STDOUT].bytes_out, 3 * 5000 * RECORD);
	ctrlog_logger_finish(f->logger); /* idempotent */
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &again), 0);
	assert_memory_equal(&st, &again, sizeof(st));
	close_logger(f);
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

/* A rotation that fails is returned and counted once per episode, not once per record; the
 * limit holds meanwhile (the records that do not fit are dropped and counted, not written past
 * max_size), and the rotation that works ends the episode with the loss marker first in the
 * new live file. Before the fix the live file grew to 110 records. The retry's back-off is
 * checked in test_k8s_file (test_writer_rotation_backoff), where the clock is the test's. */
static void test_rotation_failure_counted(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	char *buf = malloc(100 * 9 + 1), *live;
	size_t len = 0;

	f->cfg.max_size = 10 * RECORD;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 10);
	rename_live_errno = EIO;
	assert_int_equal(ctrlog_logger_rotate(f->logger), -EIO);
	/* 100 records in one batch, each past max_size: one more attempt, not 100. */
	for (int i = 10; i < 110; i++)
		len += (size_t)sprintf(buf + len, "n=%06d\n", i);
	rename_live_calls = 0;
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, buf, len), 0);
	assert_int_equal(rename_live_calls, 1);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotations, 0);
	assert_int_equal(st.rotation_errors, 1);
	assert_int_equal(st.last_rotation_error, -EIO);
	assert_int_equal(st.dropped_bytes, 100 * 8);
	assert_false(exists(f, "ctr.log.1"));
	assert_int_equal(size_of(f, "ctr.log"), 10 * RECORD);
	rename_live_errno = 0;
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	feed_numbered(f, 110, 111);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.rotation_errors, 1);
	assert_int_equal(size_of(f, "ctr.log.1"), 10 * RECORD);
	live = test_read_file(f->log, &len);
	assert_non_null(live);
	assert_non_null(strstr(live, " stderr F [ctrlog] 800 bytes in 100 lines were lost: rotating the log failed: Input/output error\n"));
	assert_memory_equal(live + len - RECORD + 30, " stdout F n=000110\n", RECORD - 30);
	free(live);
	rename_live_errno = EIO;
	assert_int_equal(ctrlog_logger_rotate(f->logger), -EIO);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotation_errors, 2); /* a new episode */
	free(buf);
}

/* When the renamed file's successor cannot be created, nothing goes into the renamed file
 * (it is history) and nothing past the limit; once creating works, the records go into a new
 * live file. Before the fix the monitor went on writing into ctr.log.1. */
static void test_rotation_open_failure(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	f->cfg.max_size = 10 * RECORD;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 10);
	fstat_errno = EMFILE; /* the new live file's open fails (its fstat, here) */
	feed_numbered(f, 10, 30);
	fstat_errno = 0;
	assert_int_equal(size_of(f, "ctr.log.1"), 10 * RECORD);
	assert_true(size_of(f, "ctr.log") <= 0); /* created, but not opened: fstat failed */
	/* The retry comes after a back-off (at most 2 s). */
	for (int i = 30, waited = 0; waited < 10000 && size_of(f, "ctr.log") <= 0; waited += 10, i++) {
		usleep(10000);
		feed_numbered(f, i, i + 1);
	}
	assert_int_equal(size_of(f, "ctr.log.1"), 10 * RECORD);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotation_errors, 1);
	assert_int_equal(st.last_rotation_error, -EMFILE);
	assert_true(size_of(f, "ctr.log") > RECORD); /* the marker, then a record */
}

/* An empty live file is not rotated (logrotate's notifempty): rotating an idle container again
 * and again keeps its history. Before the fix 8 calls with 5 kept files deleted it. */
static void test_rotate_empty_is_noop(void **state)
{
	struct test_logger_fixture *f = *state;

	f->cfg.max_files = 5;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	close_logger(f);
	assert_false(exists(f, "ctr.log.2"));
	assert_int_equal(check_contiguous(f, 1, 1, 0), 1);
}

/* One writer per log: a second logger on the same path is refused (-EBUSY) and touches
 * nothing; the first writes on, and once it is freed the path can be taken over. */
static void test_second_writer_refused(void **state)
{
	struct test_logger_fixture *f = *state;
	ctrlog_logger *second = NULL;

	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1);
	make_file(f, "ctr.log.5.zst.tmp", "left by nobody"); /* recovery would remove it */
	assert_int_equal(ctrlog_logger_new(&f->cfg, &second), -EBUSY);
	assert_null(second);
	assert_true(exists(f, "ctr.log.5.zst.tmp"));
	feed_numbered(f, 1, 2);
	close_logger(f);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &second), 0);
	assert_true(exists(f, ".ctr.log.lock"));
	ctrlog_logger_free(second);
	assert_false(exists(f, ".ctr.log.lock")); /* a stopped log leaves no lock file */
	assert_int_equal(check_contiguous(f, 1, 0, 1), 2);
}

/* A FIFO where a log is expected is refused, never opened for reading: as the live file
 * -EINVAL, as a rotated file to compress a compression error (before the fix the compressor
 * blocked reading it, and freeing the logger, waiting for it, hung). */
static void test_fifo_not_a_log(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	char *fifo = test_path(f->dir, "ctr.log");

	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), -EINVAL);
	assert_int_equal(unlink(fifo), 0);
	free(fifo);
	fifo = test_path(f->dir, "ctr.log.1");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f->cfg.compress_level = 1;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1);
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0); /* .2: the compressor takes .1 */
	alarm(60);
	for (int waited = 0; waited < 10000; waited += 10) {
		assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
		if (st.compress_errors)
			break;
		usleep(10000);
	}
	close_logger(f);
	alarm(0);
	assert_int_equal(st.compress_errors, 1);
	assert_int_equal(st.last_compress_error, -EINVAL);
	assert_true(exists(f, "ctr.log.2"));
	free(fifo);
}

/* A crashed monitor's open line (a P last) is closed by an empty F before the next run's
 * first record, so that the two never join. */
static void test_open_line_closed_on_takeover(void **state)
{
	struct test_logger_fixture *f = *state;
	static const char left[] = "2026-11-27T09:43:42.000000000Z stdout P abc\n"
				   "2026-11-27T09:43:42.000000000Z stderr F x\n";
	char *got;
	size_t len;

	make_file(f, "ctr.log", left);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1);
	close_logger(f);
	got = test_read_file(f->log, &len);
	assert_non_null(got);
	assert_int_equal(len, strlen(left) + 41 + RECORD);
	assert_memory_equal(got, left, strlen(left));
	assert_memory_equal(got + strlen(left) + 30, " stdout F \n", 11);
	assert_memory_equal(got + len - RECORD + 30, " stdout F n=000000\n", RECORD - 30);
	free(got);
}

/* The record of the last rotation number is trusted or refused, never guessed: a missing one
 * means none yet, one that cannot be read or parsed makes the open fail (numbering from 0
 * would reuse the numbers of files retention removed). */
static void test_last_rotation_unreadable(void **state)
{
	struct test_logger_fixture *f = *state;
	char *rec = test_path(f->dir, ".ctr.log.last-rotation");

	make_file(f, ".ctr.log.last-rotation", "garbage\n");
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), -EBADMSG);
	make_file(f, ".ctr.log.last-rotation", "");
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), -EBADMSG);
	assert_int_equal(unlink(rec), 0);
	assert_int_equal(mkdir(rec, 0700), 0); /* not a regular file: a bad record too */
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), -EBADMSG);
	assert_null(f->logger);
	assert_int_equal(rmdir(rec), 0);
	/* The floor is the greater of the record and the files on disk. */
	make_file(f, ".ctr.log.last-rotation", "7\n");
	make_file(f, "ctr.log.3", "");
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 0, 1); /* an empty live file is not rotated */
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	assert_true(exists(f, "ctr.log.8"));
	close_logger(f);
	make_file(f, "ctr.log.12", "");
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	feed_numbered(f, 1, 2);
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	assert_true(exists(f, "ctr.log.13"));
	free(rec);
}

/* A failed fstat() of the live file is returned as such; its result is not read. */
static void test_fstat_failure(void **state)
{
	struct test_logger_fixture *f = *state;

	fstat_errno = EIO;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), -EIO);
	fstat_errno = 0;
	assert_null(f->logger);
}

/* Rotated files 1..last as expected: the newest plain, the others .zst, nothing in between. */
static bool child_sees_compressed(struct test_logger_fixture *f, int last)
{
	char name[64];

	for (int n = 1; n <= last; n++) {
		snprintf(name, sizeof(name), "ctr.log.%d", n);
		if (exists(f, name) != (n == last))
			return false;
		snprintf(name, sizeof(name), "ctr.log.%d.zst", n);
		if (exists(f, name) == (n == last))
			return false;
		snprintf(name, sizeof(name), "ctr.log.%d.zst.tmp", n);
		if (exists(f, name))
			return false;
	}
	return true;
}

/*
 * A monitor that forks after creating its logger (ctrlog run --detach) must still compress:
 * the thread started for left-over files stays in the parent, the child starts its own. Before
 * the fix the child's files stayed plain. The child checks and exits with the verdict; no
 * cmocka assertion runs in it.
 */
static void test_child_compresses_after_fork(void **state)
{
	struct test_logger_fixture *f = *state;
	int wstatus;
	pid_t pid;

	make_file(f, "ctr.log.1", "2026-11-27T09:43:42.000000000Z stdout F left over\n");
	make_file(f, "ctr.log.2", "2026-11-27T09:43:42.000000000Z stdout F left over\n");
	make_file(f, "ctr.log.3", "2026-11-27T09:43:42.000000000Z stdout F left over\n");
	f->cfg.compress_level = 1;
	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0); /* compresses .1 and .2 */
	/* Forked once the parent's thread is idle: ASan's allocator (unlike glibc's malloc) is not
	 * fork-safe, and a fork in the middle of the thread's allocations hangs the child's. */
	for (int waited = 0; waited < 10000 && !child_sees_compressed(f, 3); waited += 10)
		usleep(10000);
	assert_true(child_sees_compressed(f, 3));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool ok = true;

		alarm(60); /* a thread or lock that did not survive would hang here */
		for (int i = 0; i < 2 && ok; i++)
			ok = ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "in the child\n", 13) == 0 &&
			     ctrlog_logger_rotate(f->logger) == 0;
		ctrlog_logger_free(f->logger); /* waits for the compression of .3 and .4 */
		_exit(ok && child_sees_compressed(f, 5) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
}

/* A compression that fails is counted with its reason, and the file stays plain. */
static void test_compression_error_reported(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	char *tmp = test_path(f->dir, "ctr.log.1.zst.tmp");

	f->cfg.compress_level = 1;
	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	assert_int_equal(mkdir(tmp, 0700), 0); /* the .zst.tmp cannot be created: EEXIST */
	for (int i = 0; i < 2; i++) {
		feed_numbered(f, i, i + 1);
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	}
	for (int waited = 0; waited < 10000 && st.compress_errors == 0; waited += 10) {
		usleep(10000);
		assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	}
	assert_int_equal(st.compress_errors, 1);
	assert_int_equal(st.last_compress_error, -EEXIST);
	close_logger(f);
	assert_true(exists(f, "ctr.log.1"));
	assert_false(exists(f, "ctr.log.1.zst"));
	assert_int_equal(rmdir(tmp), 0);
	free(tmp);
}

/* A compression that failed for lack of space is tried again after a back-off (counted once),
 * not left plain for good as before the fix. */
static void test_compression_retried_after_no_space(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	f->cfg.compress_level = 1;
	f->cfg.max_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	rename_tmp_failures = 2;
	for (int i = 0; i < 2; i++) {
		feed_numbered(f, i, i + 1);
		assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	}
	for (int waited = 0; waited < 10000 && !exists(f, "ctr.log.1.zst"); waited += 10)
		usleep(10000);
	assert_true(exists(f, "ctr.log.1.zst"));
	assert_false(exists(f, "ctr.log.1"));
	assert_int_equal(rename_tmp_failures, 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.compress_errors, 1);
	assert_int_equal(st.last_compress_error, -ENOSPC);
	assert_int_equal(st.compressed_files, 1);
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
		T(test_finish_makes_counters_final),
		T(test_recovery),
		T(test_rotation_failure_counted),
		T(test_rotation_open_failure),
		T(test_rotate_empty_is_noop),
		T(test_second_writer_refused),
		T(test_fifo_not_a_log),
		T(test_open_line_closed_on_takeover),
		T(test_last_rotation_unreadable),
		T(test_fstat_failure),
		T(test_child_compresses_after_fork),
		T(test_compression_error_reported),
		T(test_compression_retried_after_no_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
