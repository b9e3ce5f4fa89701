/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_FILESET_H
#define CTRLOG_FILESET_H

/*
 * The set of files behind one k8s-file log: the live file and, once rotation runs, its rotated
 * and compressed predecessors. Files are opened relative to the log's directory without
 * following symlinks.
 */

#include <stdbool.h>
#include <stdint.h>

struct ctrlog_fileset;

struct ctrlog_fileset_config {
	const char *log_path;
	uint64_t max_size;   /* 0 = never rotate */
	uint32_t max_files;
	int compress_level;  /* CTRLOG_COMPRESS_NONE for plain rotated files */
};

/* Takes the set over: -EBUSY when another fileset (in any process) holds it, see
 * .<name>.lock in naming.h; -EINVAL when the live path is not a regular file. */
int ctrlog_fileset_open(const struct ctrlog_fileset_config *cfg, struct ctrlog_fileset **ret);
void ctrlog_fileset_free(struct ctrlog_fileset *fs);

/* Waits until the background compressor has done every file handed to it, and stops it: the
 * compression counters are final. For the end of the log's life; free does it too. */
void ctrlog_fileset_finish(struct ctrlog_fileset *fs);

/* The live file's fd (O_APPEND), -1 while a rotation could not create it, and its size as far
 * as this process wrote it. */
int ctrlog_fileset_fd(const struct ctrlog_fileset *fs);
uint64_t ctrlog_fileset_size(const struct ctrlog_fileset *fs);
void ctrlog_fileset_account(struct ctrlog_fileset *fs, uint64_t written);

/* True when a record of n bytes, written after `pending` bytes the caller still buffers, would
 * push the live file past max_size: rotate first (after writing out what is pending). Never
 * true for a record that would be alone in the file; always true while there is no live file
 * (a rotation must create it first). */
bool ctrlog_fileset_must_rotate(const struct ctrlog_fileset *fs, uint64_t pending, uint64_t n);

/* Bytes the live file takes before it reaches max_size; UINT64_MAX when it never rotates, 0
 * while there is no live file. */
uint64_t ctrlog_fileset_room(const struct ctrlog_fileset *fs);

/* Renames the live file to <name>.<N+1>, opens a new one, enforces retention and hands older
 * rotated files to the background compressor. An empty live file is left as it is (0, nothing
 * to do). Returns 0 or a negative errno, also counted in the stats (once per episode of
 * failures). When the rename failed nothing changed; when only the new live file could not be
 * created there is no live file (fd -1: nothing may be written into the renamed one) and the
 * next call creates it instead of renaming again. */
int ctrlog_fileset_rotate(struct ctrlog_fileset *fs);

/* A write into the set failed with err: when it says the disk is full (ENOSPC, EDQUOT), the
 * oldest rotated file is deleted ahead of retention and 0 returned (write again). -ENOENT for
 * any other error, or when no rotated file is left (the live file is never deleted). */
int ctrlog_fileset_free_for(struct ctrlog_fileset *fs, int err);

/* Opens the newest rotated file read-only if it is plain (a regular file), for a look at how
 * it ends; returns the fd or a negative errno (-ENOENT when there is none). */
int ctrlog_fileset_open_newest(const struct ctrlog_fileset *fs);
int ctrlog_fileset_reopen(struct ctrlog_fileset *fs);

struct ctrlog_fileset_stats {
	uint64_t rotations;
	uint64_t rotation_errors;
	int last_rotation_error;
	int last_compress_error;
	uint64_t compressed_files;
	uint64_t compress_bytes_in;
	uint64_t compress_bytes_out;
	uint64_t compress_cpu_ns;
	uint64_t compress_errors;
	uint64_t freed_files;
};

void ctrlog_fileset_get_stats(struct ctrlog_fileset *fs, struct ctrlog_fileset_stats *ret);

#endif
