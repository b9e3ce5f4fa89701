/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_TEST_UTIL_H
#define CTRLOG_TEST_UTIL_H

/* Helpers shared by the cmocka tests: temporary directories and whole-file reads. */

#include <stddef.h>

#include "ctrlog/ctrlog.h"

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc()ed path. */
char *test_tmpdir(void);
/* Removes a directory tree made by test_tmpdir(). */
void test_rmtree(const char *path);
/* Reads a whole file; returns a malloc()ed buffer (NUL-terminated) and its length. */
char *test_read_file(const char *path, size_t *ret_len);
/* Joins a directory and a name into a static-lifetime-free buffer the caller frees. */
char *test_path(const char *dir, const char *name);

/* A logger writing <tmpdir>/ctr.log; tests set cfg, then create logger themselves. */
struct test_logger_fixture {
	char *dir;
	char *log;
	struct ctrlog_config cfg;
	ctrlog_logger *logger;
};

/* cmocka setup/teardown for a struct test_logger_fixture in *state. */
int test_logger_setup(void **state);
int test_logger_teardown(void **state);

#endif
