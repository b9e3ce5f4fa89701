/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_ROTATE_ZSTD_SEEKABLE_H
#define CTRLOG_ROTATE_ZSTD_SEEKABLE_H

/*
 * Internal: rotated k8s-file logs compressed in zstd's seekable format, plus a ctrlog metadata
 * frame with the first and last record time of every frame, so that readers can skip frames by
 * time and decode one frame alone.
 *
 * File layout (all integers little-endian):
 *
 *   zstd frame 0 .. zstd frame n-1      independent frames, content size and XXH64 checksum in
 *                                       each header; each holds <= frame_max input bytes cut
 *                                       after a '\n' (a longer record gets a frame of its own)
 *   metadata frame                      skippable frame, magic CTRLOG_ZST_META_MAGIC:
 *                                         "CTRT" | u8 version=1 | u8 entry_size=16 | u16 0 |
 *                                         u32 n | n x { i64 first_ns, i64 last_ns }
 *   seek table                          skippable frame 0x184D2A5E as the seekable format
 *                                       specifies: n+1 entries {u32 compressed, u32 decompressed}
 *                                       (the metadata frame is the last entry, decompressed 0),
 *                                       footer {u32 n+1, u8 descriptor 0, u32 0x8F92EAB1}
 *
 * `zstd -d` skips both skippable frames and restores the input exactly.
 *
 * Times are int64 nanoseconds since the Unix epoch. An unknown first time is
 * CTRLOG_ZST_TIME_MIN and an unknown last time CTRLOG_ZST_TIME_MAX, so a reader that skips a
 * frame when last_ns < since or first_ns > until never skips one it cannot judge.
 *
 * Every function returns 0 or a negative errno value; output parameters are left untouched on
 * failure. Nothing here prints or exits. None of it is thread-safe per handle.
 */

#include <stddef.h>
#include <stdint.h>

/* The input bytes per frame when the caller passes frame_max 0. */
#define CTRLOG_ZST_FRAME_DEFAULT ((size_t)1 << 20)
/* frame_max must lie in [CTRLOG_ZST_FRAME_MIN, CTRLOG_ZST_FRAME_LIMIT]. */
#define CTRLOG_ZST_FRAME_MIN ((size_t)64)
#define CTRLOG_ZST_FRAME_LIMIT ((size_t)512 << 20)
/*
 * No frame ever holds more than this (the contrib seekable library's most conservative limit).
 * Only a single record larger than this is split over several frames.
 */
#define CTRLOG_ZST_FRAME_HARD_LIMIT ((size_t)1 << 30)

/* Skippable frame magic of the ctrlog metadata frame (0x184D2A5E is the seek table's). */
#define CTRLOG_ZST_META_MAGIC 0x184D2A5CU

#define CTRLOG_ZST_TIME_MIN INT64_MIN
#define CTRLOG_ZST_TIME_MAX INT64_MAX

/*
 * Compresses in_fd, from its current offset to its end, into out_fd (written at its current
 * offset). in_fd is read with pread(), so it must be seekable (-ESPIPE otherwise), and its
 * offset is not moved. level is a zstd level (0 = zstd's default); frame_max is the most input
 * bytes per frame (0 = CTRLOG_ZST_FRAME_DEFAULT). Memory stays near 2 x frame_max whatever the
 * record sizes. Returns 0, -EINVAL for a bad argument, -EIO for a zstd failure, -EFBIG when the
 * file needs more frames than the format allows, or the errno of a failed read or write (out_fd
 * then holds a partial file that the caller removes).
 */
int ctrlog_zst_compress_fd(int in_fd, int out_fd, int level, size_t frame_max);

/* One data frame of an opened file (the metadata frame is never listed). */
struct ctrlog_zst_frame_info {
	uint64_t comp_offset;   /* offset of the frame in the file */
	uint64_t comp_size;     /* its size in the file */
	uint64_t decomp_offset; /* offset of its content in the decompressed stream */
	uint64_t decomp_size;   /* size of its content */
	int64_t first_ns;       /* time of the first record starting in it, or CTRLOG_ZST_TIME_MIN */
	int64_t last_ns;        /* time of the last record starting in it, or CTRLOG_ZST_TIME_MAX */
};

struct ctrlog_zst;

/*
 * Reads the seek table (and the ctrlog metadata frame, if there is one) of the seekable file fd.
 * The handle borrows fd, which must stay open until ctrlog_zst_close(); it is read with pread()
 * only. Returns -ENOMSG when the file has no seek table (not seekable-format: stream it with
 * ctrlog_zst_stream_*), -EBADMSG when the table or metadata is inconsistent with the file,
 * -ENOMEM, or the errno of a failed read. Free *ret with ctrlog_zst_close().
 */
int ctrlog_zst_open(int fd, struct ctrlog_zst **ret);

/* Frees the handle; NULL is fine. Does not close the fd. */
void ctrlog_zst_close(struct ctrlog_zst *z);

/* The number of data frames. */
size_t ctrlog_zst_frame_count(const struct ctrlog_zst *z);

/* Fills *ret with frame k's position and times. -ERANGE when k >= the frame count. */
int ctrlog_zst_frame_info(const struct ctrlog_zst *z, size_t k, struct ctrlog_zst_frame_info *ret);

/*
 * Decodes frame k alone into buf, which must hold its decomp_size bytes (-ENOBUFS otherwise),
 * and sets *ret_len to that size. Returns -ERANGE for a bad k, -EBADMSG when the frame is
 * corrupt or does not match the seek table (buf's content is then undefined), -ENOMEM, or the
 * errno of a failed read.
 */
int ctrlog_zst_read_frame(struct ctrlog_zst *z, size_t k, void *buf, size_t buf_size,
                          size_t *ret_len);

/*
 * A streaming decoder for any zstd file (seekable or not; skippable frames are skipped), read
 * sequentially from fd's current offset with read(). The stream borrows fd. Free *ret with
 * ctrlog_zst_stream_free().
 */
struct ctrlog_zst_stream;
int ctrlog_zst_stream_new(int fd, struct ctrlog_zst_stream **ret);
void ctrlog_zst_stream_free(struct ctrlog_zst_stream *s);

/*
 * Decodes up to size (> 0) bytes into buf and sets *ret_len to the count, at least 1 until the
 * end of the file, where it is 0. Returns -EBADMSG for corrupt, truncated or empty input, -EINVAL
 * for size 0, or the errno of a failed read.
 */
int ctrlog_zst_stream_read(struct ctrlog_zst_stream *s, void *buf, size_t size, size_t *ret_len);

/* Decodes all of in_fd into out_fd with a ctrlog_zst_stream. Same errors, plus write errors. */
int ctrlog_zst_decompress_fd(int in_fd, int out_fd);

#endif
