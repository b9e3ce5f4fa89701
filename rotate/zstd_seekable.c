/* SPDX-License-Identifier: MIT */
/*
 * zstd seekable format (contrib/seekable_format/zstd_seekable_compression_format.md in the zstd
 * sources), written from the specification because Debian's libzstd does not ship the contrib
 * library. See zstd_seekable.h for the file layout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr() */
#endif
#include "rotate/zstd_seekable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zstd.h>

#include "formats/k8s-file.h"

#define SKIP_HEADER 8 /* skippable frame: u32 magic, u32 size of what follows */
#define SEEK_TABLE_MAGIC 0x184D2A5EU
#define SEEKABLE_MAGIC 0x8F92EAB1U
#define SEEK_FOOTER 9
#define SEEK_MAX_FRAMES 0x8000000U
#define SEEK_CHECKSUM_FLAG 0x80U
#define SEEK_RESERVED_BITS 0x7cU
#define META_ID "CTRT"
#define META_VERSION 1
#define META_HEADER 12
#define META_ENTRY 16
/* Larger frames are taken as corruption: the newest contrib library's own limit. */
#define DECOMP_SIZE_LIMIT 0x80000000U
/*
 * Read slack beyond frame_max: the compressor needs frame_max + 1 bytes to see whether a cut
 * after frame_max bytes is a record boundary, and a little more keeps the reads large.
 */
#define READ_SLACK ((size_t)64 << 10)

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A regular file or pipe never takes 0 bytes of a non-empty write; don't spin. */
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads len bytes at off, fewer only at the end of the file; *ret_len says how many. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *ret_len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*ret_len = got;
	return 0;
}

/* For structures whose size the file already promised: a short read means a corrupt file. */
static int pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	int r = pread_full(fd, buf, len, off, &got);

	if (r < 0)
		return r;
	return got == len ? 0 : -EBADMSG;
}

/* ---- compressor ---- */

struct frame_rec {
	uint32_t comp_size;
	uint32_t decomp_size;
	int64_t first_ns;
	int64_t last_ns;
};

struct compressor {
	int in_fd;
	int out_fd;
	size_t frame_max;
	ZSTD_CCtx *cctx;
	uint8_t *in; /* input not yet compressed: in[0, have) is the file at in_off - have */
	size_t in_cap;
	size_t have;
	uint64_t in_off;
	bool eof;
	/* The next frame starts inside a record that was split at CTRLOG_ZST_FRAME_HARD_LIMIT. */
	bool mid_record;
	uint8_t last_byte;
	uint8_t *out; /* compressed output on its way to out_fd; also scratch for scan_record() */
	size_t out_cap;
	struct frame_rec *frames;
	size_t n_frames;
	size_t frames_cap;
};

/* Tops the buffer up to more than frame_max bytes, unless the file ends first. */
static int fill(struct compressor *c)
{
	size_t want = c->in_cap - c->have, got = 0;
	int r;

	if (c->eof || c->have > c->frame_max)
		return 0;
	r = pread_full(c->in_fd, c->in + c->have, want, c->in_off, &got);
	if (r < 0)
		return r;
	c->have += got;
	c->in_off += got;
	c->eof = got < want;
	return 0;
}

/*
 * The length of the next frame if it ends inside the buffer: up to the last '\n' within
 * frame_max bytes, else to the end of a longer first record, else to the end of the file.
 * 0 when the first record goes on beyond the buffer.
 */
static size_t cut_in_buffer(const struct compressor *c)
{
	const uint8_t *nl;

	if (c->eof && c->have <= c->frame_max)
		return c->have;
	nl = memrchr(c->in, '\n', c->frame_max);
	if (nl)
		return (size_t)(nl - c->in) + 1;
	nl = memchr(c->in + c->frame_max, '\n', c->have - c->frame_max);
	if (nl)
		return (size_t)(nl - c->in) + 1;
	return c->eof ? c->have : 0;
}

/*
 * The length of a record that starts the buffer and goes on beyond it, found by reading ahead,
 * because the frame header must carry the content size before the frame is compressed. Capped
 * at the hard frame limit. The output buffer is free between frames, so it serves as scratch.
 */
static int scan_record(struct compressor *c, uint64_t *ret_len)
{
	uint64_t len = c->have, off = c->in_off;

	while (len < CTRLOG_ZST_FRAME_HARD_LIMIT) {
		size_t want = min_size(c->out_cap, CTRLOG_ZST_FRAME_HARD_LIMIT - len), got = 0;
		const uint8_t *nl;
		int r = pread_full(c->in_fd, c->out, want, off, &got);

		if (r < 0)
			return r;
		nl = memchr(c->out, '\n', got);
		if (nl) {
			len += (uint64_t)(nl - c->out) + 1;
			break;
		}
		len += got;
		off += got;
		if (got < want)
			break;
	}
	*ret_len = len < CTRLOG_ZST_FRAME_HARD_LIMIT ? len : CTRLOG_ZST_FRAME_HARD_LIMIT;
	return 0;
}

static int64_t time_or(const uint8_t *rec, size_t len, int64_t unknown)
{
	int64_t t;

	return ctrlog_k8s_parse_time((const char *)rec, len, &t) == 0 ? t : unknown;
}

/*
 * Times of the first and last record starting in a frame whose first avail bytes are buffered.
 * A frame that does not fit the buffer holds one record, whose time prefix is buffered since
 * frame_max >= CTRLOG_ZST_FRAME_MIN. Times running backwards (a clock step) make both unknown,
 * so a reader never skips records inside the frame that it could not judge.
 */
static void frame_times(const struct compressor *c, size_t avail, struct frame_rec *f)
{
	const uint8_t *nl = avail > 1 ? memrchr(c->in, '\n', avail - 1) : NULL;

	f->first_ns = c->mid_record ? CTRLOG_ZST_TIME_MIN : time_or(c->in, avail, CTRLOG_ZST_TIME_MIN);
	if (nl)
		f->last_ns = time_or(nl + 1, (size_t)(c->in + avail - (nl + 1)), CTRLOG_ZST_TIME_MAX);
	else
		f->last_ns = c->mid_record ? CTRLOG_ZST_TIME_MAX : time_or(c->in, avail, CTRLOG_ZST_TIME_MAX);
	if (f->first_ns != CTRLOG_ZST_TIME_MIN && f->last_ns != CTRLOG_ZST_TIME_MAX &&
	    f->first_ns > f->last_ns) {
		f->first_ns = CTRLOG_ZST_TIME_MIN;
		f->last_ns = CTRLOG_ZST_TIME_MAX;
	}
}

/* Feeds len bytes to the current frame, ending it when last, and writes what comes out. */
static int feed(struct compressor *c, const uint8_t *src, size_t len, bool last, uint64_t *comp)
{
	ZSTD_inBuffer ib = { src, len, 0 };
	ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;

	if (len > 0)
		c->last_byte = src[len - 1];
	for (;;) {
		ZSTD_outBuffer ob = { c->out, c->out_cap, 0 };
		size_t left = ZSTD_compressStream2(c->cctx, &ob, &ib, mode);
		int r;

		if (ZSTD_isError(left))
			return -EIO;
		r = write_all(c->out_fd, c->out, ob.pos);
		if (r < 0)
			return r;
		*comp += ob.pos;
		if (last ? left == 0 : ib.pos == ib.size)
			return 0;
	}
}

/* Compresses the next len input bytes (buffered first, then read on) as one frame. */
static int compress_frame(struct compressor *c, uint64_t len, uint64_t *ret_comp)
{
	size_t from_buf = (size_t)(len < c->have ? len : c->have);
	uint64_t left = len - from_buf, comp = 0;
	int r;

	if (ZSTD_isError(ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_only)) ||
	    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(c->cctx, len)))
		return -EIO;
	r = feed(c, c->in, from_buf, left == 0, &comp);
	if (r < 0)
		return r;
	memmove(c->in, c->in + from_buf, c->have - from_buf);
	c->have -= from_buf;
	while (left > 0) {
		size_t want = (size_t)(left < c->in_cap ? left : c->in_cap), got = 0;

		r = pread_full(c->in_fd, c->in, want, c->in_off, &got);
		if (r < 0)
			return r;
		/* The file shrank since scan_record() measured the record. */
		if (got < want)
			return -EIO;
		c->in_off += got;
		left -= got;
		r = feed(c, c->in, got, left == 0, &comp);
		if (r < 0)
			return r;
	}
	*ret_comp = comp;
	return 0;
}

static int push_frame(struct compressor *c, const struct frame_rec *f)
{
	/* One seek table entry stays free for the metadata frame. */
	if (c->n_frames + 1 >= SEEK_MAX_FRAMES)
		return -EFBIG;
	if (c->n_frames == c->frames_cap) {
		size_t cap = c->frames_cap ? 2 * c->frames_cap : 64;
		struct frame_rec *p = realloc(c->frames, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->frames = p;
		c->frames_cap = cap;
	}
	c->frames[c->n_frames++] = *f;
	return 0;
}

static int next_frame(struct compressor *c)
{
	struct frame_rec f;
	uint64_t len = cut_in_buffer(c), comp;
	int r;

	if (len == 0) {
		r = scan_record(c, &len);
		if (r < 0)
			return r;
	}
	frame_times(c, (size_t)(len < c->have ? len : c->have), &f);
	r = compress_frame(c, len, &comp);
	if (r < 0)
		return r;
	/* Both fit: len <= the hard limit, and zstd's bound for that is far below 4 GiB. */
	f.decomp_size = (uint32_t)len;
	f.comp_size = (uint32_t)comp;
	c->mid_record = c->last_byte != '\n';
	return push_frame(c, &f);
}

/* Writes the metadata frame and the seek table, which lists it last. */
static int write_trailer(struct compressor *c)
{
	size_t n = c->n_frames;
	size_t meta = SKIP_HEADER + META_HEADER + n * META_ENTRY;
	size_t table = SKIP_HEADER + (n + 1) * 8 + SEEK_FOOTER;
	uint8_t *buf = malloc(meta + table), *p = buf;
	int r;

	if (!buf)
		return -ENOMEM;
	put_le32(p, CTRLOG_ZST_META_MAGIC);
	put_le32(p + 4, (uint32_t)(meta - SKIP_HEADER));
	memcpy(p + 8, META_ID, 4);
	p[12] = META_VERSION;
	p[13] = META_ENTRY;
	p[14] = p[15] = 0;
	put_le32(p + 16, (uint32_t)n);
	p += SKIP_HEADER + META_HEADER;
	for (size_t i = 0; i < n; i++, p += META_ENTRY) {
		put_le64(p, (uint64_t)c->frames[i].first_ns);
		put_le64(p + 8, (uint64_t)c->frames[i].last_ns);
	}

	put_le32(p, SEEK_TABLE_MAGIC);
	put_le32(p + 4, (uint32_t)(table - SKIP_HEADER));
	p += SKIP_HEADER;
	for (size_t i = 0; i < n; i++, p += 8) {
		put_le32(p, c->frames[i].comp_size);
		put_le32(p + 4, c->frames[i].decomp_size);
	}
	put_le32(p, (uint32_t)meta);
	put_le32(p + 4, 0);
	p += 8;
	put_le32(p, (uint32_t)(n + 1));
	p[4] = 0; /* no per-entry checksums: every zstd frame carries its own */
	put_le32(p + 5, SEEKABLE_MAGIC);

	r = write_all(c->out_fd, buf, meta + table);
	free(buf);
	return r;
}

static int compressor_init(struct compressor *c, int level)
{
	c->in_cap = c->frame_max + READ_SLACK;
	c->out_cap = ZSTD_CStreamOutSize();
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	c->cctx = ZSTD_createCCtx();
	if (!c->in || !c->out || !c->cctx)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)))
		return -EIO;
	return 0;
}

int ctrlog_zst_compress_fd(int in_fd, int out_fd, int level, size_t frame_max)
{
	struct compressor c = { .in_fd = in_fd, .out_fd = out_fd };
	off_t start;
	int r;

	if (frame_max == 0)
		frame_max = CTRLOG_ZST_FRAME_DEFAULT;
	if (in_fd < 0 || out_fd < 0 || frame_max < CTRLOG_ZST_FRAME_MIN ||
	    frame_max > CTRLOG_ZST_FRAME_LIMIT || level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	start = lseek(in_fd, 0, SEEK_CUR);
	if (start < 0)
		return -errno;
	c.frame_max = frame_max;
	c.in_off = (uint64_t)start;

	r = compressor_init(&c, level);
	while (r == 0) {
		r = fill(&c);
		if (r < 0 || (c.have == 0 && c.eof))
			break;
		r = next_frame(&c);
	}
	if (r == 0)
		r = write_trailer(&c);

	ZSTD_freeCCtx(c.cctx);
	free(c.in);
	free(c.out);
	free(c.frames);
	return r;
}

/* ---- reader of the seekable format ---- */

struct ctrlog_zst {
	int fd;
	size_t n_frames;
	struct ctrlog_zst_frame_info *frames;
	ZSTD_DCtx *dctx;
	uint8_t *src; /* one compressed frame */
	size_t src_cap;
};

/*
 * Reads the seek table at the end of a file of file_size bytes into z->frames. -ENOMSG when the
 * file does not end with the seekable magic.
 */
static int load_seek_table(struct ctrlog_zst *z, uint64_t file_size)
{
	uint8_t foot[SEEK_FOOTER], *table = NULL;
	uint64_t n, entry, table_size, coff = 0, doff = 0;
	int r;

	if (file_size < SKIP_HEADER + SEEK_FOOTER)
		return -ENOMSG;
	r = pread_exact(z->fd, foot, SEEK_FOOTER, file_size - SEEK_FOOTER);
	if (r < 0)
		return r;
	if (get_le32(foot + 5) != SEEKABLE_MAGIC)
		return -ENOMSG;
	n = get_le32(foot);
	entry = (foot[4] & SEEK_CHECKSUM_FLAG) ? 12 : 8;
	table_size = SKIP_HEADER + n * entry + SEEK_FOOTER;
	if ((foot[4] & SEEK_RESERVED_BITS) || n > SEEK_MAX_FRAMES || table_size > file_size)
		return -EBADMSG;

	table = malloc((size_t)table_size);
	z->frames = calloc(n ? (size_t)n : 1, sizeof(*z->frames));
	if (!table || !z->frames) {
		r = -ENOMEM;
		goto finish;
	}
	r = pread_exact(z->fd, table, (size_t)table_size, file_size - table_size);
	if (r < 0)
		goto finish;
	r = -EBADMSG;
	if (get_le32(table) != SEEK_TABLE_MAGIC || get_le32(table + 4) != table_size - SKIP_HEADER)
		goto finish;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = table + SKIP_HEADER + i * entry;
		struct ctrlog_zst_frame_info *f = &z->frames[i];

		f->comp_offset = coff;
		f->comp_size = get_le32(e);
		f->decomp_offset = doff;
		f->decomp_size = get_le32(e + 4);
		f->first_ns = CTRLOG_ZST_TIME_MIN;
		f->last_ns = CTRLOG_ZST_TIME_MAX;
		/* No frame is empty; the checksum, if present, is left to each frame's own. */
		if (f->comp_size == 0 || f->decomp_size > DECOMP_SIZE_LIMIT)
			goto finish;
		coff += f->comp_size;
		doff += f->decomp_size;
	}
	if (coff != file_size - table_size)
		goto finish;
	z->n_frames = (size_t)n;
	r = 0;
finish:
	free(table);
	return r;
}

/*
 * Fills in the frame times from the ctrlog metadata frame, when the last seek table entry is
 * one, and then hides that entry. A file without it (e.g. from zstd's contrib tool) keeps its
 * times unknown, and so does a metadata version this code does not know.
 */
static int load_meta(struct ctrlog_zst *z)
{
	uint8_t head[SKIP_HEADER + META_HEADER], *entries = NULL;
	struct ctrlog_zst_frame_info *m;
	uint64_t count, entry;
	int r;

	if (z->n_frames == 0)
		return 0;
	m = &z->frames[z->n_frames - 1];
	if (m->decomp_size != 0 || m->comp_size < sizeof(head))
		return 0;
	r = pread_exact(z->fd, head, sizeof(head), m->comp_offset);
	if (r < 0)
		return r;
	if (get_le32(head) != CTRLOG_ZST_META_MAGIC || memcmp(head + 8, META_ID, 4) != 0)
		return 0;
	if (get_le32(head + 4) != m->comp_size - SKIP_HEADER)
		return -EBADMSG;
	/* A later, incompatible layout: still ours, so hide the frame, but leave times unknown. */
	if (head[12] != META_VERSION) {
		z->n_frames--;
		return 0;
	}
	entry = head[13];
	count = get_le32(head + 16);
	if (entry < META_ENTRY || count != z->n_frames - 1 ||
	    META_HEADER + count * entry != m->comp_size - SKIP_HEADER)
		return -EBADMSG;

	entries = malloc(count ? (size_t)(count * entry) : 1);
	if (!entries)
		return -ENOMEM;
	r = pread_exact(z->fd, entries, (size_t)(count * entry), m->comp_offset + sizeof(head));
	if (r < 0)
		goto finish;
	for (uint64_t i = 0; i < count; i++) {
		z->frames[i].first_ns = (int64_t)get_le64(entries + i * entry);
		z->frames[i].last_ns = (int64_t)get_le64(entries + i * entry + 8);
	}
	z->n_frames--;
finish:
	free(entries);
	return r;
}

int ctrlog_zst_open(int fd, struct ctrlog_zst **ret)
{
	struct ctrlog_zst *z;
	struct stat st;
	int r;

	if (fd < 0 || !ret)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->fd = fd;
	r = load_seek_table(z, (uint64_t)st.st_size);
	if (r < 0)
		goto finish;
	r = load_meta(z);
	if (r < 0)
		goto finish;
	z->dctx = ZSTD_createDCtx();
	if (!z->dctx) {
		r = -ENOMEM;
		goto finish;
	}
	*ret = z;
	z = NULL;
finish:
	ctrlog_zst_close(z);
	return r;
}

void ctrlog_zst_close(struct ctrlog_zst *z)
{
	if (!z)
		return;
	ZSTD_freeDCtx(z->dctx);
	free(z->frames);
	free(z->src);
	free(z);
}

size_t ctrlog_zst_frame_count(const struct ctrlog_zst *z)
{
	return z ? z->n_frames : 0;
}

int ctrlog_zst_frame_info(const struct ctrlog_zst *z, size_t k, struct ctrlog_zst_frame_info *ret)
{
	if (!z || !ret)
		return -EINVAL;
	if (k >= z->n_frames)
		return -ERANGE;
	*ret = z->frames[k];
	return 0;
}

/* Checks that src holds exactly one frame whose header agrees with the seek table. */
static int check_frame(const uint8_t *src, size_t comp_size, uint64_t decomp_size)
{
	unsigned long long content;

	if (ZSTD_findFrameCompressedSize(src, comp_size) != comp_size)
		return -EBADMSG;
	content = ZSTD_getFrameContentSize(src, comp_size);
	if (content == ZSTD_CONTENTSIZE_ERROR ||
	    (content != ZSTD_CONTENTSIZE_UNKNOWN && content != decomp_size))
		return -EBADMSG;
	return 0;
}

int ctrlog_zst_read_frame(struct ctrlog_zst *z, size_t k, void *buf, size_t buf_size,
                          size_t *ret_len)
{
	const struct ctrlog_zst_frame_info *f;
	size_t got = 0;
	int r;

	if (!z || (!buf && buf_size) || !ret_len)
		return -EINVAL;
	if (k >= z->n_frames)
		return -ERANGE;
	f = &z->frames[k];
	if (buf_size < f->decomp_size)
		return -ENOBUFS;
	if (z->src_cap < f->comp_size) {
		uint8_t *p = realloc(z->src, (size_t)f->comp_size);

		if (!p)
			return -ENOMEM;
		z->src = p;
		z->src_cap = (size_t)f->comp_size;
	}
	r = pread_exact(z->fd, z->src, (size_t)f->comp_size, f->comp_offset);
	if (r < 0)
		return r;
	r = check_frame(z->src, (size_t)f->comp_size, f->decomp_size);
	if (r < 0)
		return r;
	got = ZSTD_decompressDCtx(z->dctx, buf, (size_t)f->decomp_size, z->src, (size_t)f->comp_size);
	if (ZSTD_isError(got) || got != f->decomp_size)
		return -EBADMSG;
	*ret_len = got;
	return 0;
}

/* ---- streaming decoder for any zstd file ---- */

struct ctrlog_zst_stream {
	int fd;
	ZSTD_DStream *ds;
	uint8_t *in;
	size_t in_cap;
	ZSTD_inBuffer ib;
	/*
	 * The decoder's hint from the last call that made progress: 0 when a frame has just ended.
	 * A call with no input after that starts a new frame and hints again, so it cannot tell.
	 */
	size_t hint;
	bool eof;
	bool any_input;
};

int ctrlog_zst_stream_new(int fd, struct ctrlog_zst_stream **ret)
{
	struct ctrlog_zst_stream *s;
	int r = -ENOMEM;

	if (fd < 0 || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->in_cap = ZSTD_DStreamInSize();
	s->in = malloc(s->in_cap);
	s->ds = ZSTD_createDStream();
	if (!s->in || !s->ds)
		goto finish;
	s->ib.src = s->in;
	*ret = s;
	s = NULL;
	r = 0;
finish:
	ctrlog_zst_stream_free(s);
	return r;
}

void ctrlog_zst_stream_free(struct ctrlog_zst_stream *s)
{
	if (!s)
		return;
	ZSTD_freeDStream(s->ds);
	free(s->in);
	free(s);
}

static int stream_refill(struct ctrlog_zst_stream *s)
{
	ssize_t n;

	do
		n = read(s->fd, s->in, s->in_cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	s->ib.size = (size_t)n;
	s->ib.pos = 0;
	s->eof = n == 0;
	s->any_input |= n > 0;
	return 0;
}

int ctrlog_zst_stream_read(struct ctrlog_zst_stream *s, void *buf, size_t size, size_t *ret_len)
{
	ZSTD_outBuffer ob = { buf, size, 0 };

	if (!s || !buf || size == 0 || !ret_len)
		return -EINVAL;
	for (;;) {
		size_t hint, consumed = s->ib.pos;

		if (s->ib.pos == s->ib.size && !s->eof) {
			int r = stream_refill(s);
			if (r < 0)
				return r;
			consumed = 0;
		}
		/* Called even without input: the decoder may still hold output to flush. */
		hint = ZSTD_decompressStream(s->ds, &ob, &s->ib);
		if (ZSTD_isError(hint))
			return -EBADMSG;
		if (ob.pos > 0 || s->ib.pos != consumed)
			s->hint = hint;
		if (ob.pos > 0)
			break;
		if (s->ib.pos == s->ib.size && s->eof) {
			/* An empty file or one ending inside a frame is not a zstd file. */
			if (!s->any_input || s->hint != 0)
				return -EBADMSG;
			break;
		}
	}
	*ret_len = ob.pos;
	return 0;
}

int ctrlog_zst_decompress_fd(int in_fd, int out_fd)
{
	struct ctrlog_zst_stream *s = NULL;
	size_t cap = ZSTD_DStreamOutSize(), len;
	uint8_t *buf = NULL;
	int r;

	if (out_fd < 0)
		return -EINVAL;
	r = ctrlog_zst_stream_new(in_fd, &s);
	if (r < 0)
		goto finish;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto finish;
	}
	do {
		r = ctrlog_zst_stream_read(s, buf, cap, &len);
		if (r == 0)
			r = write_all(out_fd, buf, len);
	} while (r == 0 && len > 0);
finish:
	free(buf);
	ctrlog_zst_stream_free(s);
	return r;
}
