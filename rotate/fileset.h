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

int ctrlog_fileset_open(const struct ctrlog_fileset_config *cfg, struct ctrlog_fileset **ret);
void ctrlog_fileset_free(struct ctrlog_fileset *fs);

/* Waits until the background compressor has done every file handed to it, and stops it: the
 * compression counters are final. For the end of the log's life; free does it too. */
void ctrlog_fileset_finish(struct ctrlog_fileset *fs);

/* The live file's fd (O_APPEND) and its size as far as this process wrote it. */
int ctrlog_fileset_fd(const struct ctrlog_fileset *fs);
uint64_t ctrlog_fileset_size(const struct ctrlog_fileset *fs);
void ctrlog_fileset_account(struct ctrlog_fileset *fs, uint64_t written);

/* True when a record of n bytes, written after `pending` bytes the caller still buffers, would
 * push the live file past max_size: rotate first (after writing out what is pending). Never
 * true for a record that would be alone in the file. */
bool ctrlog_fileset_must_rotate(const struct ctrlog_fileset *fs, uint64_t pending, uint64_t n);

/* Bytes the live file takes before it reaches max_size; UINT64_MAX when it never rotates. */
uint64_t ctrlog_fileset_room(const struct ctrlog_fileset *fs);

/* Renames the live file to <name>.<N+1>, opens a new one, enforces retention and hands older
 * rotated files to the background compressor. Returns 0 or a negative errno, also counted in
 * the stats (once per episode of failures). When the rename failed nothing changed; when only
 * the new live file could not be opened, writing goes on into the renamed file and the next
 * call opens the live file instead of renaming again. */
int ctrlog_fileset_rotate(struct ctrlog_fileset *fs);
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
};

void ctrlog_fileset_get_stats(struct ctrlog_fileset *fs, struct ctrlog_fileset_stats *ret);

#endif
