/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_NAMING_H
#define CTRLOG_NAMING_H

/*
 * The names of a log's file set, shared by the writer (fileset.c) and the reader
 * (setreader.c) so that both read the contract in DESIGN.md the same way:
 *   <name>.<N>           a rotated file, N = 1, 2, ... never reused
 *   <name>.<N>.zst       the same, compressed
 *   <name>.<N>.zst.tmp   compression in progress
 *   .<name>.last-rotation  the last N used (hidden: never part of the log)
 *   .<name>.lock         write-locked (OFD lock) by the one monitor writing the set, and
 *                        removed by it (still locked) when it stops
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

enum ctrlog_rotated_kind {
	CTRLOG_ROTATED_PLAIN,
	CTRLOG_ROTATED_ZST,
	CTRLOG_ROTATED_TMP,
};

/* Splits log_path, opens its directory (O_DIRECTORY) and returns the fd and a malloc()ed file
 * name. -EINVAL for a path that names no file. */
int ctrlog_log_dir_open(const char *log_path, int *ret_dirfd, char **ret_name);

/* Opens a file of the set (O_NOFOLLOW, O_CLOEXEC added) without ever blocking in open(): a
 * FIFO or device planted where a log is expected is refused with -EINVAL (a directory with -EISDIR), not waited on. The
 * fd has O_NONBLOCK cleared again; its fstat() goes to *ret_st (may be NULL). */
int ctrlog_open_regular(int dirfd, const char *name, int flags, mode_t mode, struct stat *ret_st);

/* Opens (creating it with mode) and write-locks the regular file name under dirfd with an OFD
 * lock: it belongs to the open file description, so it holds across fork() and goes with the
 * last close. Returns the fd, or -EBUSY while another description holds it. A holder removes
 * the file before it lets go, so a lock on a file no longer at name is taken again. */
int ctrlog_lock_file(int dirfd, const char *name, mode_t mode);

/* "<name>.<n><suffix>" into buf; -ENAMETOOLONG when it does not fit. */
int ctrlog_rotated_name(const char *name, uint64_t n, const char *suffix, char *buf, size_t size);

/* The kind of a directory entry of the set, with its N, or -1 for anything else. */
int ctrlog_rotated_parse(const char *name, const char *entry, uint64_t *ret_n);

/* ".<name>.last-rotation" into buf. */
int ctrlog_last_rotation_name(const char *name, char *buf, size_t size);

/* ".<name>.lock" into buf. */
int ctrlog_lock_name(const char *name, char *buf, size_t size);

/* The last N recorded in dirfd into *ret_last, 0 when there is no record yet (ENOENT). Any
 * other failure is returned: -EBADMSG for a record that is not a number (or not a regular
 * file: it is opened without blocking), or the errno of opening or reading it. The writer uses
 * this: guessing would reuse numbers. */
int ctrlog_last_rotation_load(int dirfd, const char *name, uint64_t *ret_last);

/* The same for readers, to whom a missing or unreadable record only means "go by the files
 * present": 0 on any failure. */
uint64_t ctrlog_last_rotation_read(int dirfd, const char *name);

#endif
