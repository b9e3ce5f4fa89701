/* SPDX-License-Identifier: MIT */
/*
 * formats/k8s_file_reader.c: parsing k8s-file records written by ctrlog and by others (1-9
 * fraction digits, `Z` or `±hh:mm`), refusing malformed ones, and joining `P` pieces per stream.
 * Guards issue 6's acceptance point that a log written by conmon (checked in as
 * tests/data/conmon-2.1.6-k8s-file.log, with its `+00:00` times and the `P` records it cuts at
 * read boundaries) reads back as its original lines.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "formats/k8s-file-reader.h"
#include "test-util.h"

/* 2026-11-27T09:43:42Z */
#define T0 ((int64_t)1795772622 * 1000000000)

static int parse(const char *s, struct ctrlog_k8s_record *rec)
{
	return ctrlog_k8s_parse_record(s, strlen(s), rec);
}

static void test_parse_own_format(void **state)
{
	struct ctrlog_k8s_record rec;

	(void)state;
	assert_int_equal(parse("2026-11-27T09:43:42.123456789Z stdout F hello world", &rec), 0);
	assert_int_equal(rec.time_ns, T0 + 123456789);
	assert_int_equal(rec.stream, CTRLOG_STDOUT);
	assert_false(rec.partial);
	assert_int_equal(rec.len, 11);
	assert_memory_equal(rec.content, "hello world", 11);

	assert_int_equal(parse("2026-11-27T09:43:42.000000000Z stderr P ", &rec), 0);
	assert_int_equal(rec.stream, CTRLOG_STDERR);
	assert_true(rec.partial);
	assert_int_equal(rec.len, 0);
}

static void test_parse_time_variants(void **state)
{
	static const struct {
		const char *time;
		int64_t ns;
	} cases[] = {
		{ "2026-11-27T09:43:42.1Z", T0 + 100000000 },
		{ "2026-11-27T09:43:42.12Z", T0 + 120000000 },
		{ "2026-11-27T09:43:42.123456Z", T0 + 123456000 },
		{ "2026-11-27T09:43:42.123456789Z", T0 + 123456789 },
		{ "2026-11-27T09:43:42.980616020+00:00", T0 + 980616020 },
		{ "2026-11-27T10:43:42.5+01:00", T0 + 500000000 },
		{ "2026-11-27T04:13:42.000000001-05:30", T0 + 1 },
		{ "2026-11-27T09:43:42Z", T0 },
	};
	struct ctrlog_k8s_record rec;
	char line[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "%s stdout F x y", cases[i].time);
		assert_int_equal(parse(line, &rec), 0);
		assert_int_equal(rec.time_ns, cases[i].ns);
		assert_int_equal(rec.len, 3);
		assert_memory_equal(rec.content, "x y", 3);
	}
}

static void test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"hello",
		"2026-11-27T09:43:42.1234567891Z stdout F ten digits",
		"2026-11-27T09:43:42.Z stdout F no digits",
		"2026-11-27T09:43:42.1 stdout F no zone",
		"2026-11-27T09:43:42.1+0100 stdout F zone without colon",
		"2026-13-27T09:43:42.1Z stdout F month 13",
		"2026-11-27T09:43:42.123456789Z stdin F x",
		"2026-11-27T09:43:42.123456789Z stdout X x",
		"2026-11-27T09:43:42.123456789Z stdout F",
		"2026-11-27T09:43:42.123456789Z stdout Fx",
		"2026-11-27T09:43:42.123456789Z  stdout F x",
		"2026-11-27 09:43:42.123456789Z stdout F x",
	};
	struct ctrlog_k8s_record rec = { .len = 4242 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &rec);

		if (r != -EINVAL)
			fail_msg("'%s': expected -EINVAL, got %d", bad[i], r);
		assert_int_equal(rec.len, 4242); /* untouched */
	}
}

static void add(struct ctrlog_k8s_joiner *j, const char *line, int expect,
		const char *expect_data, int expect_stream)
{
	struct ctrlog_k8s_record rec;
	struct ctrlog_k8s_line out;

	assert_int_equal(parse(line, &rec), 0);
	assert_int_equal(ctrlog_k8s_joiner_add(j, &rec, &out), expect);
	if (expect == 1) {
		assert_int_equal(out.len, strlen(expect_data));
		assert_memory_equal(out.data, expect_data, out.len);
		assert_int_equal(out.stream, expect_stream);
	}
}

static void test_join_per_stream(void **state)
{
	struct ctrlog_k8s_joiner *j;
	struct ctrlog_k8s_record rec;
	struct ctrlog_k8s_line out;
	const char *whole = "2026-11-27T09:43:42.5Z stdout F whole";

	(void)state;
	assert_int_equal(ctrlog_k8s_joiner_new(&j), 0);
	add(j, "2026-11-27T09:43:42.1Z stdout P out-a ", 0, NULL, 0);
	add(j, "2026-11-27T09:43:42.2Z stderr P err-a ", 0, NULL, 0);
	add(j, "2026-11-27T09:43:42.3Z stdout P out-b ", 0, NULL, 0);
	add(j, "2026-11-27T09:43:42.4Z stderr F err-b", 1, "err-a err-b", CTRLOG_STDERR);
	add(j, "2026-11-27T09:43:42.5Z stdout F out-c", 1, "out-a out-b out-c", CTRLOG_STDOUT);
	/* A whole line needs no copy. */
	assert_int_equal(parse(whole, &rec), 0);
	assert_int_equal(ctrlog_k8s_joiner_add(j, &rec, &out), 1);
	assert_ptr_equal(out.data, rec.content);
	assert_int_equal(out.time_ns, T0 + 500000000);
	/* The time of a joined line is its first piece's. */
	add(j, "2026-11-27T09:43:43.1Z stdout P ", 0, NULL, 0);
	assert_int_equal(parse("2026-11-27T09:43:44.1Z stdout F end", &rec), 0);
	assert_int_equal(ctrlog_k8s_joiner_add(j, &rec, &out), 1);
	assert_int_equal(out.time_ns, T0 + 1100000000);
	assert_int_equal(out.len, 3);
	/* Held pieces at the end come out as lines; reset drops them. */
	add(j, "2026-11-27T09:43:45.1Z stderr P tail", 0, NULL, 0);
	assert_int_equal(ctrlog_k8s_joiner_take_held(j, &out), 1);
	assert_int_equal(out.stream, CTRLOG_STDERR);
	assert_memory_equal(out.data, "tail", 4);
	assert_int_equal(ctrlog_k8s_joiner_take_held(j, &out), 0);
	add(j, "2026-11-27T09:43:45.1Z stderr P lost", 0, NULL, 0);
	ctrlog_k8s_joiner_reset(j);
	add(j, "2026-11-27T09:43:45.2Z stderr F new", 1, "new", CTRLOG_STDERR);
	ctrlog_k8s_joiner_free(j);
	ctrlog_k8s_joiner_free(NULL);
}

/* tests/data, found next to this source file or from the test binary in <src>/<build>/tests. */
static char *data_path(const char *name)
{
	char exe[PATH_MAX], *p, *dir;
	ssize_t n;

	dir = strdup(__FILE__);
	p = test_path(dirname(dir), "data");
	free(dir);
	dir = test_path(p, name);
	free(p);
	if (access(dir, R_OK) == 0)
		return dir;
	free(dir);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (asprintf(&p, "%s/../../tests/data/%s", dirname(exe), name) < 0)
		return NULL;
	return p;
}

static void test_conmon_sample(void **state)
{
	char *log_path = data_path("conmon-2.1.6-k8s-file.log");
	char *exp_path = data_path("conmon-2.1.6-k8s-file.expected");
	struct ctrlog_k8s_joiner *j;
	size_t log_len, exp_len, got_len = 0, lines = 0, partials = 0;
	char *log, *exp, *got, *p;

	(void)state;
	assert_non_null(log_path);
	assert_non_null(exp_path);
	log = test_read_file(log_path, &log_len);
	exp = test_read_file(exp_path, &exp_len);
	if (!log || !exp)
		fail_msg("cannot read %s or %s", log_path, exp_path);
	got = malloc(log_len + 1);
	assert_non_null(got);
	assert_int_equal(ctrlog_k8s_joiner_new(&j), 0);
	for (p = log; p < log + log_len;) {
		char *nl = memchr(p, '\n', (size_t)(log + log_len - p));
		struct ctrlog_k8s_record rec;
		struct ctrlog_k8s_line out;

		assert_non_null(nl);
		assert_int_equal(ctrlog_k8s_parse_record(p, (size_t)(nl - p), &rec), 0);
		partials += rec.partial;
		if (ctrlog_k8s_joiner_add(j, &rec, &out) == 1) {
			const char *s = out.stream == CTRLOG_STDOUT ? "stdout " : "stderr ";

			memcpy(got + got_len, s, 7);
			memcpy(got + got_len + 7, out.data, out.len);
			got_len += 7 + out.len;
			got[got_len++] = '\n';
			lines++;
		}
		p = nl + 1;
	}
	assert_true(partials > 0); /* the sample does exercise joining */
	assert_int_equal(got_len, exp_len);
	assert_memory_equal(got, exp, exp_len);
	assert_true(lines > 2900);
	ctrlog_k8s_joiner_free(j);
	free(got);
	free(log);
	free(exp);
	free(log_path);
	free(exp_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_own_format),
		cmocka_unit_test(test_parse_time_variants),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_join_per_stream),
		cmocka_unit_test(test_conmon_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
