/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_ROTATE_SETREADER_H
#define CTRLOG_ROTATE_SETREADER_H

/*
 * Internal: reads the whole file set behind one k8s-file log as one stream of lines: rotated
 * files <log>.<N> and <log>.<N>.zst in N order (.zst decoded frame by frame in memory, never
 * through a temporary file), then the live file, and, when following, whatever is written and
 * rotated after that.
 *
 * A position is (N, offset): N names the file (the live file is the one that will become
 * N = last + 1, DESIGN.md), offset is a byte offset in that file's uncompressed content. It
 * stays valid while a plain file is compressed, so the reader never cares which of the two
 * names it finds, and never reads both.
 *
 * The set is what is on disk: the number of the live file is one more than the greatest rotated
 * number found in the directory or recorded in .<log>.last-rotation, whichever is greater (a
 * missing or stale record never hides a file). Files are opened without blocking and without
 * following symbolic links; one that is not a regular file, or cannot be opened, is skipped and
 * reported (CTRLOG_SR_UNREADABLE), and reading goes on with the rest.
 *
 * External rotators: a live file renamed to a name outside the set (mv) is still read while the
 * writer appends to it, to its end once the writer has reopened the live path (SIGHUP), and the
 * new live file is then read from its start. A live file truncated in place (copytruncate) is
 * reported (CTRLOG_SR_TRUNCATED) and read again from its start.
 *
 * Every function returns 0 (or a count where documented) or a negative errno value; output
 * parameters are left untouched on failure. Nothing here prints or exits: malformed records and
 * lost history come back as items for the caller to report.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/k8s-file-reader.h"

struct ctrlog_setreader_config {
	const char *log_path; /* the live file's path; its directory holds the rotated files */
	/* false: reading ends with the file that was live when the reader was positioned (a
	 * writer faster than the reader cannot keep it going forever). */
	bool follow;
	unsigned streams;     /* bit (1 << CTRLOG_STDOUT etc.) per stream to return; 0 = all */
	int64_t since_ns;     /* lines that started earlier are skipped; INT64_MIN for none */
	int64_t until_ns;     /* reading ends at the first line that started later; INT64_MAX */
};

struct ctrlog_setpos {
	uint64_t n;   /* file number */
	uint64_t off; /* offset in its uncompressed content */
};

enum ctrlog_sr_kind {
	CTRLOG_SR_LINE = 1,  /* item.line */
	CTRLOG_SR_MALFORMED, /* item.file, item.offset, item.error: a record (or a whole corrupt
	                      * file, offset 0) that was skipped */
	CTRLOG_SR_GAP,       /* item.gap_first..gap_last: rotated files removed by retention
	                      * before they were read */
	CTRLOG_SR_UNREADABLE, /* item.file, item.error: a file of the set that could not be opened
	                       * (CTRLOG_SR_ENOTREG: not a regular file), skipped whole */
	CTRLOG_SR_TRUNCATED, /* item.file: the live file shrank under the reader (copytruncate);
	                      * reading starts again at its beginning, lines may be lost */
};

/* item.error of a file that is not a regular file (a FIFO, a directory, a symbolic link...). */
#define CTRLOG_SR_ENOTREG (-EMEDIUMTYPE)

struct ctrlog_sr_item {
	enum ctrlog_sr_kind kind;
	struct ctrlog_k8s_line line;
	const char *file;    /* name inside the log's directory */
	uint64_t offset;
	int error;
	uint64_t gap_first;
	uint64_t gap_last;
};

struct ctrlog_setreader;

/* Creates a reader; cfg is copied. Position it with one of the seek functions before reading.
 * Free it with ctrlog_setreader_free(). */
int ctrlog_setreader_open(const struct ctrlog_setreader_config *cfg, struct ctrlog_setreader **ret);
/* Closes every fd and frees the reader; NULL is fine. */
void ctrlog_setreader_free(struct ctrlog_setreader *r);

/*
 * Positions the reader at the start of the history, or, when since_ns is set, at the newest file
 * whose first record is not after since_ns, and in a compressed file at the first frame whose
 * last record is not before it (whole files and frames are skipped by their recorded times).
 */
int ctrlog_setreader_seek_start(struct ctrlog_setreader *r);

/*
 * Positions the reader so that it returns the last `lines` lines of the selected streams (when
 * not following: exactly those, however much is written or rotated meanwhile). The live file and earlier files are read backwards in blocks (compressed
 * ones frame by frame from the last), so the cost follows `lines`, not the size of the history.
 */
int ctrlog_setreader_seek_tail(struct ctrlog_setreader *r, uint64_t lines);

/* Positions the reader at pos, which must be at a record boundary. */
int ctrlog_setreader_seek(struct ctrlog_setreader *r, const struct ctrlog_setpos *pos);

/* The position of the next record to be read. */
void ctrlog_setreader_tell(const struct ctrlog_setreader *r, struct ctrlog_setpos *ret);

/*
 * Returns the next item: 1 with *ret filled (pointers valid until the next call), or 0 when
 * nothing more can be read now: at the end of the live file (follow: wait for it to grow or
 * rotate, then call again), or when ctrlog_setreader_finished() says reading is over.
 * Rotation is handled inside: a live file found renamed is read to its end before moving on.
 */
int ctrlog_setreader_next(struct ctrlog_setreader *r, struct ctrlog_sr_item *ret);

/* True once until_ns was passed, or, when not following, the last file was read. */
bool ctrlog_setreader_finished(const struct ctrlog_setreader *r);

/* Hands out a line still unfinished at the end (its pieces joined), as a CTRLOG_SR_LINE item.
 * Returns 1 while there is one, then 0. */
int ctrlog_setreader_take_held(struct ctrlog_setreader *r, struct ctrlog_sr_item *ret);

#endif
