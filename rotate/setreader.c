/* SPDX-License-Identifier: MIT */
/*
 * Reading the file set of one k8s-file log. See setreader.h for the position model.
 *
 * Races with the writer and the compressor, and why each is harmless:
 *  - Rotation renames the live file to <log>.<N> after flushing it. A live file is held open by
 *    fd; once its name points elsewhere (or nowhere) it is final, so reading the same fd to its
 *    end yields every record of N, and the reader then moves on to N + 1.
 *  - Compression writes <log>.<N>.zst.tmp, renames it to .zst, then unlinks <log>.<N>. A file
 *    held open stays readable after the unlink. A file not yet opened is tried plain first, then
 *    .zst: since the .zst exists before the plain name goes, one of the two is always found
 *    unless retention removed N, and only one is ever read.
 *  - The number of the live file is the last rotation + 1. The last rotation is the greatest
 *    of the number in .<log>.last-rotation (which the writer updates just after the rename and
 *    before it creates the next live file) and the greatest rotated number in the directory: a
 *    record that is missing or stale (a failed write) never hides rotated files. To know which
 *    file an open live fd is, the reader reads that number before and after opening the live
 *    file, and checks whether a rotated file of the same inode has appeared meanwhile; if the
 *    number changed, it tries again.
 *  - An external rotator renames the live file and sends SIGHUP; the writer flushes, then opens
 *    a new live file. The renamed file keeps the live number (no rotation was recorded), so it
 *    is read while its name is gone (the writer may still append), to its end once the live
 *    name is back, and the new live file, the same number, from its start.
 *  - copytruncate empties the live file in place: its first bytes change (or it gets shorter
 *    than what was read), and it is read again from the start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrlog/ctrlog.h"
#include "rotate/setreader.h"
#include "rotate/naming.h"
#include "formats/k8s-file.h"
#include "rotate/zstd_seekable.h"

#define READ_CHUNK ((size_t)1 << 20)
#define BACK_BLOCK ((size_t)64 << 10)
#define NAME_MAX_LEN 512
#define LIVE_TRIES 1000

enum src_kind { SRC_NONE, SRC_PLAIN, SRC_LIVE, SRC_ZST, SRC_ZSTREAM };

/* One opened file of the set. */
struct src {
	enum src_kind kind;
	uint64_t n;
	int fd;
	dev_t dev;
	ino_t ino;
	bool final;             /* a live file seen renamed: its content no longer grows */
	bool replaced;          /* final, and the new live file has the same number */
	bool dead;              /* unreadable (corrupt): reads as empty */
	char head[64];          /* SRC_LIVE: its first bytes, to notice a truncation */
	size_t head_len;
	uint64_t off;           /* logical offset of the next byte src_read() returns */
	struct ctrlog_zst *z;   /* SRC_ZST */
	size_t frame;           /* SRC_ZST: the next frame to decode */
	char *fbuf;             /* SRC_ZST: the decoded frame; SRC_ZSTREAM in seek_tail: all */
	size_t fcap, flen, fpos;
	size_t fbuf_frame;      /* SRC_ZST: which frame fbuf holds, SIZE_MAX for none */
	struct ctrlog_zst_stream *zs; /* SRC_ZSTREAM */
	char name[NAME_MAX_LEN];
};

struct ctrlog_setreader {
	struct ctrlog_setreader_config cfg;
	int dirfd;
	char *name;
	struct src cur;
	uint64_t limit_n;       /* not following: stop after this file, */
	uint64_t limit_off;     /* at this offset in it (seek_tail) */
	bool positioned;
	bool finished;
	bool gap_pending;
	uint64_t gap_first, gap_last;
	enum ctrlog_sr_kind pend_kind; /* UNREADABLE or TRUNCATED to report, 0 for none */
	int pend_error;
	char pend_file[NAME_MAX_LEN];
	char fail_name[NAME_MAX_LEN]; /* the file the last failed open was about */
	uint64_t skip_lines;    /* lines to drop first (seek_tail) */
	char *buf;              /* buf[start, end) is cur's content from buf_off on */
	size_t cap, start, end;
	uint64_t buf_off;
	struct ctrlog_k8s_joiner *joiner;
};

/* ---- names ---- */

static int rotated_name(const struct ctrlog_setreader *r, uint64_t n, const char *suffix,
			char *buf, size_t size)
{
	return ctrlog_rotated_name(r->name, n, suffix, buf, size);
}

/* "<name>.<N>" or "<name>.<N>.zst": a file of the set (not compression in progress). */
static bool parse_rotated(const struct ctrlog_setreader *r, const char *entry, uint64_t *ret_n)
{
	int kind = ctrlog_rotated_parse(r->name, entry, ret_n);

	return kind == CTRLOG_ROTATED_PLAIN || kind == CTRLOG_ROTATED_ZST;
}

/* The smallest rotated number present that is greater than after (0 for none), and the
 * greatest (0 for none). A directory that cannot be read has none. */
static void scan_rotated(const struct ctrlog_setreader *r, uint64_t after, uint64_t *ret_lowest,
			 uint64_t *ret_highest)
{
	int fd = openat(r->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t lowest = 0, highest = 0, n;
	struct dirent *de;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	while (d && (de = readdir(d))) {
		if (!parse_rotated(r, de->d_name, &n))
			continue;
		if (n > after && (lowest == 0 || n < lowest))
			lowest = n;
		if (n > highest)
			highest = n;
	}
	if (d)
		closedir(d);
	*ret_lowest = lowest;
	*ret_highest = highest;
}

static uint64_t lowest_rotated(const struct ctrlog_setreader *r, uint64_t after)
{
	uint64_t lowest, highest;

	scan_rotated(r, after, &lowest, &highest);
	return lowest;
}

/* The last rotation number (0 when none): what the writer recorded, or the greatest rotated
 * file on disk when that is greater (the record is missing, stale, or not written yet). */
static uint64_t read_last_seq(const struct ctrlog_setreader *r)
{
	uint64_t recorded = ctrlog_last_rotation_read(r->dirfd, r->name), lowest, highest;

	scan_rotated(r, 0, &lowest, &highest);
	return highest > recorded ? highest : recorded;
}

static bool rotated_exists(const struct ctrlog_setreader *r, uint64_t n, struct stat *ret_plain)
{
	char name[NAME_MAX_LEN];
	struct stat st;

	if (rotated_name(r, n, "", name, sizeof(name)) == 0 &&
	    fstatat(r->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (ret_plain)
			*ret_plain = st;
		return true;
	}
	if (ret_plain)
		ret_plain->st_ino = 0;
	return rotated_name(r, n, ".zst", name, sizeof(name)) == 0 &&
	       fstatat(r->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- sources ---- */

static void src_close(struct src *s)
{
	if (s->zs)
		ctrlog_zst_stream_free(s->zs);
	if (s->z)
		ctrlog_zst_close(s->z);
	if (s->kind != SRC_NONE && s->fd >= 0)
		close(s->fd);
	free(s->fbuf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->kind = SRC_NONE;
}

static int src_fill_ids(struct src *s)
{
	struct stat st;

	if (fstat(s->fd, &st) < 0)
		return -errno;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

/*
 * Opens a file of the set for reading: never blocks (a FIFO), never follows a symbolic link,
 * and refuses anything but a regular file (CTRLOG_SR_ENOTREG). Returns the fd or a negative
 * errno; on failure, the name is kept for the report.
 */
static int open_regular(struct ctrlog_setreader *r, const char *name)
{
	int fd = ctrlog_open_regular(r->dirfd, name, O_RDONLY, 0, NULL);

	if (fd >= 0)
		return fd;
	snprintf(r->fail_name, sizeof(r->fail_name), "%s", name);
	/* A symbolic link (O_NOFOLLOW), a FIFO, a device, a directory: not a log file. */
	return fd == -ELOOP || fd == -EINVAL || fd == -EISDIR ? CTRLOG_SR_ENOTREG : fd;
}

/* Opens rotated file n, plain or compressed. -ENOENT when neither exists. */
static int open_rotated(struct ctrlog_setreader *r, uint64_t n, struct src *ret)
{
	struct src s = { .fd = -1, .n = n, .final = true, .fbuf_frame = SIZE_MAX };
	int fd, q;

	if (rotated_name(r, n, "", s.name, sizeof(s.name)) < 0)
		return -ENAMETOOLONG;
	fd = open_regular(r, s.name);
	if (fd >= 0) {
		s.kind = SRC_PLAIN;
		s.fd = fd;
	} else {
		if (fd != -ENOENT)
			return fd;
		/* The compressor creates the .zst before it unlinks the plain file. */
		if (rotated_name(r, n, ".zst", s.name, sizeof(s.name)) < 0)
			return -ENAMETOOLONG;
		fd = open_regular(r, s.name);
		if (fd < 0)
			return fd;
		s.fd = fd;
		q = ctrlog_zst_open(fd, &s.z);
		if (q == 0) {
			s.kind = SRC_ZST;
		} else if (q == -ENOMSG) {
			q = ctrlog_zst_stream_new(fd, &s.zs);
			if (q < 0) {
				close(fd);
				return q;
			}
			s.kind = SRC_ZSTREAM;
		} else {
			close(fd);
			return q;
		}
	}
	q = src_fill_ids(&s);
	if (q < 0) {
		src_close(&s);
		return q;
	}
	*ret = s;
	return 0;
}

/*
 * Opens the live file and tells which number it is: read the last rotation L, open, and read L
 * again. The writer records N before it creates N + 1, so a live file opened between two reads
 * of L is L + 1, or, when it was renamed meanwhile, the rotated file of its inode. If the second
 * read differs, rotations happened during the open: try again. (Looking for L + 1 on disk is not
 * enough: after max_files rotations retention has removed it, and a later live file would be
 * taken for L + 1, skipping the files in between without a gap.) -ENOENT when there is no live
 * file now, -EAGAIN when rotations never paused long enough to tell, another error (as
 * open_regular()) when it cannot be read.
 */
static int open_live(struct ctrlog_setreader *r, struct src *ret)
{
	for (int tries = 0; tries < LIVE_TRIES; tries++) {
		struct src s = { .kind = SRC_LIVE, .fd = -1, .fbuf_frame = SIZE_MAX };
		uint64_t last = read_last_seq(r), k;
		struct stat st, plain = { 0 };
		bool known = false;
		int q;

		s.fd = open_regular(r, r->name);
		if (s.fd < 0)
			return s.fd;
		q = src_fill_ids(&s);
		if (q < 0) {
			close(s.fd);
			return q;
		}
		/* The recorded number may lag the rename by one (it is written just after it). */
		for (k = last + 1; rotated_exists(r, k, &plain); k++) {
			if (plain.st_ino == s.ino && plain.st_dev == s.dev) {
				s.final = true; /* renamed to k already: k is final */
				known = true;
				break;
			}
		}
		/* Renamed and then compressed (or removed) before we looked, or rotated during the
		 * open: try again. */
		if (!known && (fstat(s.fd, &st) < 0 || st.st_nlink == 0 ||
			       read_last_seq(r) != last)) {
			close(s.fd);
			continue;
		}
		s.n = k;
		snprintf(s.name, sizeof(s.name), "%s", r->name);
		*ret = s;
		return 0;
	}
	return -EAGAIN;
}

/*
 * Opens file n wherever it is now. -ENOENT: it is gone (removed by retention); -EAGAIN: it does
 * not exist yet (the live file is older, or is being replaced).
 */
static int open_n(struct ctrlog_setreader *r, uint64_t n, struct src *ret)
{
	struct src live;
	uint64_t live_n, last;
	int q = open_rotated(r, n, ret);

	if (q != -ENOENT)
		return q;
	q = open_live(r, &live);
	if (q < 0 && q != -EAGAIN) {
		/* No live file: between a rename and the new file's creation, or not created yet;
		 * or one that cannot be read, which is only n's problem if n is the live number.
		 * If n was rotated meanwhile, its rotated name is there now, unless retention
		 * removed it. */
		last = read_last_seq(r);
		if (n > last + 1 || (n == last + 1 && q == -ENOENT))
			return -EAGAIN;
		if (n == last + 1)
			return q;
		return open_rotated(r, n, ret);
	}
	if (q < 0)
		return q;
	if (live.n == n) {
		*ret = live;
		return 0;
	}
	live_n = live.n;
	src_close(&live);
	if (live_n < n)
		return -EAGAIN;
	/* Rotated since the first try. */
	return open_rotated(r, n, ret);
}

/* The content size of a source now (for a live file: so far). */
static int src_size(struct src *s, uint64_t *ret)
{
	struct ctrlog_zst_frame_info fi;
	struct stat st;
	size_t count;

	switch (s->kind) {
	case SRC_PLAIN:
	case SRC_LIVE:
		if (fstat(s->fd, &st) < 0)
			return -errno;
		*ret = (uint64_t)st.st_size;
		return 0;
	case SRC_ZST:
		count = ctrlog_zst_frame_count(s->z);
		if (count == 0) {
			*ret = 0;
			return 0;
		}
		if (ctrlog_zst_frame_info(s->z, count - 1, &fi) < 0)
			return -EBADMSG;
		*ret = fi.decomp_offset + fi.decomp_size;
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int decode_frame(struct src *s, size_t k)
{
	struct ctrlog_zst_frame_info fi;
	size_t len;
	int q = ctrlog_zst_frame_info(s->z, k, &fi);

	if (q < 0)
		return q;
	if (s->fbuf_frame == k) {
		s->fpos = 0;
		return 0;
	}
	s->fbuf_frame = SIZE_MAX;
	if (fi.decomp_size > s->fcap) {
		char *p = realloc(s->fbuf, fi.decomp_size);

		if (!p)
			return -ENOMEM;
		s->fbuf = p;
		s->fcap = fi.decomp_size;
	}
	q = ctrlog_zst_read_frame(s->z, k, s->fbuf, s->fcap, &len);
	if (q < 0)
		return q;
	s->flen = len;
	s->fpos = 0;
	s->fbuf_frame = k;
	return 0;
}

/* Reads up to size bytes of content at s->off; *ret_len 0 at the (current) end. */
static int src_read(struct ctrlog_setreader *r, struct src *s, char *dst, size_t size,
		    size_t *ret_len)
{
	ssize_t n;
	size_t len;
	int q;

	if (s->dead) {
		*ret_len = 0;
		return 0;
	}
	switch (s->kind) {
	case SRC_PLAIN:
	case SRC_LIVE:
		do
			n = pread(s->fd, dst, size, (off_t)s->off);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		s->off += (uint64_t)n;
		*ret_len = (size_t)n;
		return 0;
	case SRC_ZST:
		if (s->fpos == s->flen) {
			struct ctrlog_zst_frame_info fi;

			if (s->frame >= ctrlog_zst_frame_count(s->z)) {
				*ret_len = 0;
				return 0;
			}
			/* A frame that starts after --until ends the reading without decoding it. */
			if (ctrlog_zst_frame_info(s->z, s->frame, &fi) == 0 &&
			    fi.first_ns != CTRLOG_ZST_TIME_MIN && fi.first_ns > r->cfg.until_ns) {
				r->finished = true;
				*ret_len = 0;
				return 0;
			}
			q = decode_frame(s, s->frame);
			if (q < 0)
				return q;
			s->frame++;
		}
		len = s->flen - s->fpos < size ? s->flen - s->fpos : size;
		memcpy(dst, s->fbuf + s->fpos, len);
		s->fpos += len;
		s->off += len;
		*ret_len = len;
		return 0;
	case SRC_ZSTREAM:
		q = ctrlog_zst_stream_read(s->zs, dst, size, &len);
		if (q < 0)
			return q;
		s->off += len;
		*ret_len = len;
		return 0;
	default:
		*ret_len = 0;
		return 0;
	}
}

/* Moves a freshly opened source to content offset off. */
static int src_skip_to(struct src *s, uint64_t off)
{
	struct ctrlog_zst_frame_info fi;
	char tmp[65536];
	size_t k, count, len;
	int q;

	switch (s->kind) {
	case SRC_PLAIN:
	case SRC_LIVE:
		s->off = off;
		return 0;
	case SRC_ZST:
		count = ctrlog_zst_frame_count(s->z);
		for (k = 0; k < count; k++) {
			if (ctrlog_zst_frame_info(s->z, k, &fi) < 0)
				return -EBADMSG;
			if (off < fi.decomp_offset + fi.decomp_size)
				break;
		}
		s->frame = k;
		s->flen = s->fpos = 0;
		s->off = off;
		if (k == count || off == fi.decomp_offset)
			return 0;
		q = decode_frame(s, k);
		if (q < 0)
			return q;
		s->frame = k + 1;
		s->fpos = (size_t)(off - fi.decomp_offset);
		return 0;
	case SRC_ZSTREAM:
		while (s->off < off) {
			size_t want = off - s->off < sizeof(tmp) ? (size_t)(off - s->off) : sizeof(tmp);

			q = ctrlog_zst_stream_read(s->zs, tmp, want, &len);
			if (q < 0)
				return q;
			if (len == 0)
				break;
			s->off += len;
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- open / free ---- */

int ctrlog_setreader_open(const struct ctrlog_setreader_config *cfg, struct ctrlog_setreader **ret)
{
	struct ctrlog_setreader *r;
	int q;

	if (!cfg || !cfg->log_path || !*cfg->log_path)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->cfg.log_path = NULL;
	if (!r->cfg.streams)
		r->cfg.streams = (1u << CTRLOG_N_STREAMS) - 1;
	r->dirfd = -1;
	r->cur.fd = -1;
	q = ctrlog_log_dir_open(cfg->log_path, &r->dirfd, &r->name);
	if (q < 0)
		goto fail;
	r->cap = READ_CHUNK;
	r->buf = malloc(r->cap);
	q = r->buf ? ctrlog_k8s_joiner_new(&r->joiner) : -ENOMEM;
	if (q < 0)
		goto fail;
	*ret = r;
	return 0;
fail:
	ctrlog_setreader_free(r);
	return q;
}

void ctrlog_setreader_free(struct ctrlog_setreader *r)
{
	if (!r)
		return;
	src_close(&r->cur);
	if (r->dirfd >= 0)
		close(r->dirfd);
	ctrlog_k8s_joiner_free(r->joiner);
	free(r->buf);
	free(r->name);
	free(r);
}

/* ---- positioning ---- */

/* The number the live file has (or will have when it appears). */
static int live_number(struct ctrlog_setreader *r, uint64_t *ret)
{
	struct src live;
	int q = open_live(r, &live);

	if (q < 0 && q != -EAGAIN) {
		/* None, or one that cannot be read (reading it reports that). */
		*ret = read_last_seq(r) + 1;
		return 0;
	}
	if (q < 0)
		return q;
	*ret = live.n;
	src_close(&live);
	return 0;
}

/* File n cannot be read: it becomes an empty placeholder (reading goes on with n + 1), and
 * the next call of next() reports it. */
static void skip_unreadable(struct ctrlog_setreader *r, uint64_t n, int err)
{
	src_close(&r->cur);
	r->cur.n = n;
	r->cur.kind = SRC_PLAIN;
	r->cur.dead = true;
	r->cur.final = true;
	snprintf(r->cur.name, sizeof(r->cur.name), "%s", r->fail_name);
	r->start = r->end = 0;
	r->buf_off = 0;
	/* Pieces of a line before it cannot be joined with pieces after it. */
	ctrlog_k8s_joiner_reset(r->joiner);
	r->pend_kind = CTRLOG_SR_UNREADABLE;
	r->pend_error = err;
	snprintf(r->pend_file, sizeof(r->pend_file), "%s", r->fail_name);
}

/*
 * Makes cur file n (or, when n is gone, the next one that is not, noting the gap; when it
 * cannot be read, a placeholder noting that). Returns 0, -EAGAIN when n does not exist yet, or
 * an error.
 */
static int enter_file(struct ctrlog_setreader *r, uint64_t n)
{
	struct src s = { .fd = -1 };
	uint64_t m, live;
	int q;

	for (int tries = 0; tries < LIVE_TRIES; tries++) {
		q = open_n(r, n, &s);
		if (q == 0) {
			src_close(&r->cur);
			r->cur = s;
			r->start = r->end = 0;
			r->buf_off = 0;
			return 0;
		}
		if (q == -EAGAIN)
			return q;
		if (q != -ENOENT) {
			skip_unreadable(r, n, q);
			return 0;
		}
		/* Gone: continue with the oldest file still there. */
		m = lowest_rotated(r, n);
		q = live_number(r, &live);
		if (q < 0)
			return q;
		if (m == 0 || m > live)
			m = live;
		if (m <= n)
			return -EAGAIN;
		if (r->gap_pending) {
			r->gap_last = m - 1;
		} else {
			r->gap_pending = true;
			r->gap_first = n;
			r->gap_last = m - 1;
		}
		ctrlog_k8s_joiner_reset(r->joiner);
		n = m;
	}
	return -EAGAIN;
}

/* Positions at pos, skipping `skip` lines; when not following, reading ends at *end, or, when
 * end is NULL, at the end of the file that is live now. */
static int position(struct ctrlog_setreader *r, const struct ctrlog_setpos *pos, uint64_t skip,
		    const struct ctrlog_setpos *end)
{
	int q;

	if (!r->cfg.follow) {
		r->limit_off = UINT64_MAX;
		if (end) {
			r->limit_n = end->n;
			r->limit_off = end->off;
		} else {
			q = live_number(r, &r->limit_n);
			if (q < 0)
				return q;
		}
	}
	r->pend_kind = 0;
	r->finished = false;
	r->gap_pending = false;
	ctrlog_k8s_joiner_reset(r->joiner);
	src_close(&r->cur);
	r->cur.n = pos->n;
	r->start = r->end = 0;
	r->buf_off = pos->off;
	r->skip_lines = skip;
	r->positioned = true;
	q = enter_file(r, pos->n);
	if (q == -EAGAIN) {
		/* Not there yet (no live file so far): next() keeps trying. */
		r->cur.n = pos->n;
		r->buf_off = 0;
		return 0;
	}
	if (q < 0)
		return q;
	if (r->cur.n == pos->n && pos->off && !r->cur.dead) {
		q = src_skip_to(&r->cur, pos->off);
		if (q < 0)
			return q;
		r->buf_off = pos->off;
	}
	return 0;
}

int ctrlog_setreader_seek(struct ctrlog_setreader *r, const struct ctrlog_setpos *pos)
{
	return position(r, pos, 0, NULL);
}

void ctrlog_setreader_tell(const struct ctrlog_setreader *r, struct ctrlog_setpos *ret)
{
	ret->n = r->cur.n;
	ret->off = r->buf_off;
}

/* The time of the first record in a source, or -ENODATA when it has none (or is unreadable). */
static int first_time(struct src *s, int64_t *ret_ns)
{
	struct ctrlog_zst_frame_info fi;
	char head[64];
	ssize_t n;

	if (s->kind == SRC_ZST) {
		if (ctrlog_zst_frame_count(s->z) == 0 || ctrlog_zst_frame_info(s->z, 0, &fi) < 0 ||
		    fi.first_ns == CTRLOG_ZST_TIME_MIN)
			return -ENODATA;
		*ret_ns = fi.first_ns;
		return 0;
	}
	if (s->kind != SRC_PLAIN && s->kind != SRC_LIVE)
		return -ENODATA;
	n = pread(s->fd, head, sizeof(head), 0);
	if (n <= 0)
		return -ENODATA;
	return ctrlog_k8s_parse_time(head, (size_t)n, ret_ns) == 0 ? 0 : -ENODATA;
}

int ctrlog_setreader_seek_start(struct ctrlog_setreader *r)
{
	struct ctrlog_setpos pos = { 0, 0 };
	struct ctrlog_zst_frame_info fi;
	uint64_t live, oldest, n;
	int64_t t;
	int q;

	q = live_number(r, &live);
	if (q < 0)
		return q;
	oldest = lowest_rotated(r, 0);
	if (oldest == 0 || oldest > live)
		oldest = live;
	pos.n = oldest;
	if (r->cfg.since_ns == INT64_MIN)
		return position(r, &pos, 0, NULL);
	/* The newest file that starts before since: every file before it ends no later than it
	 * starts, so they are skipped unopened. (Starting before, not at: records of one batch
	 * share a time, and a run of equal times may span several files.) Times that cannot be
	 * read never cause a skip. */
	for (n = live; n >= oldest && n > 0; n--) {
		struct src s = { .fd = -1 };

		if (open_n(r, n, &s) < 0)
			continue;
		if (first_time(&s, &t) == 0 && t < r->cfg.since_ns) {
			pos.n = n;
			if (s.kind == SRC_ZST) {
				size_t count = ctrlog_zst_frame_count(s.z);

				for (size_t k = 0; k < count; k++) {
					if (ctrlog_zst_frame_info(s.z, k, &fi) < 0)
						break;
					pos.off = fi.decomp_offset;
					if (fi.last_ns >= r->cfg.since_ns)
						break;
					pos.off = fi.decomp_offset + fi.decomp_size;
				}
			}
			src_close(&s);
			break;
		}
		src_close(&s);
	}
	return position(r, &pos, 0, NULL);
}

/* ---- tail ---- */

/* Reads content [lo, hi) of s into *buf (grown as needed). */
static int read_range(struct src *s, uint64_t lo, uint64_t hi, char **buf, size_t *cap)
{
	size_t len = (size_t)(hi - lo), got = 0;
	struct ctrlog_zst_frame_info fi;
	int q;

	if (len > *cap) {
		char *p = realloc(*buf, len);

		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = len;
	}
	if (s->kind == SRC_PLAIN || s->kind == SRC_LIVE) {
		while (got < len) {
			ssize_t n = pread(s->fd, *buf + got, len - got, (off_t)(lo + got));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO; /* shrank under us */
			got += (size_t)n;
		}
		return 0;
	}
	if (s->kind == SRC_ZSTREAM) { /* decoded whole into fbuf beforehand */
		memcpy(*buf, s->fbuf + lo, len);
		return 0;
	}
	/* Compressed: decode each frame that overlaps [lo, hi). */
	for (size_t k = ctrlog_zst_frame_count(s->z); k-- > 0 && got < len;) {
		uint64_t a, b;

		q = ctrlog_zst_frame_info(s->z, k, &fi);
		if (q < 0)
			return q;
		a = fi.decomp_offset;
		b = a + fi.decomp_size;
		if (a >= hi || b <= lo)
			continue;
		q = decode_frame(s, k);
		if (q < 0)
			return q;
		{
			uint64_t from = a > lo ? a : lo, to = b < hi ? b : hi;

			memcpy(*buf + (from - lo), s->fbuf + (from - a), (size_t)(to - from));
			got += (size_t)(to - from);
		}
	}
	return got == len ? 0 : -EBADMSG;
}

/* Where a block ending at hi starts: a frame start for compressed files. */
static uint64_t block_start(struct src *s, uint64_t hi)
{
	struct ctrlog_zst_frame_info fi;

	if (s->kind == SRC_ZST) {
		for (size_t k = ctrlog_zst_frame_count(s->z); k-- > 0;)
			if (ctrlog_zst_frame_info(s->z, k, &fi) == 0 && fi.decomp_offset < hi)
				return fi.decomp_offset;
		return 0;
	}
	return hi > BACK_BLOCK ? hi - BACK_BLOCK : 0;
}

/* A non-seekable .zst (not written by ctrlog) is decoded whole, in memory, for the backward
 * scan. */
static int load_stream(struct src *s, uint64_t *ret_size)
{
	size_t len;
	int q;

	for (;;) {
		if (s->fcap - s->flen < READ_CHUNK) {
			char *p = realloc(s->fbuf, s->fcap + READ_CHUNK * 4);

			if (!p)
				return -ENOMEM;
			s->fbuf = p;
			s->fcap += READ_CHUNK * 4;
		}
		q = ctrlog_zst_stream_read(s->zs, s->fbuf + s->flen, s->fcap - s->flen, &len);
		if (q < 0)
			return q;
		if (len == 0)
			break;
		s->flen += len;
	}
	*ret_size = s->flen;
	return 0;
}

struct tail_state {
	uint64_t want;     /* lines asked for */
	uint64_t count;    /* selected lines counted from the end, up to want */
	uint64_t region;   /* selected lines that reading from the result position will produce */
	unsigned need;     /* streams that still need the end of their line before the tail */
	unsigned seen;     /* streams with a record seen (from the end) */
	bool done;
	struct ctrlog_setpos pos;
};

/*
 * Looks at one record, going backwards. The result position must lie before the first piece of
 * every line in the tail: for each stream with a line in the tail, that is just after the
 * previous F record of that stream. Lines between that position and the tail are counted in
 * `region` and skipped when reading forward.
 */
static void tail_record(const struct ctrlog_setreader *r, struct tail_state *t, const char *rec,
			size_t len, uint64_t n, uint64_t end_off)
{
	struct ctrlog_k8s_record k;
	unsigned bit;

	if (ctrlog_k8s_parse_record(rec, len, &k) < 0)
		return;
	bit = 1u << k.stream;
	if (!(r->cfg.streams & bit))
		return;
	/* A piece is part of the line of the F after it, except in a line still unfinished at the
	 * end, which is handed out as a line of its own (take_held) and so counts as one. */
	if (k.partial && (t->seen & bit))
		return;
	t->seen |= bit;
	if (t->count < t->want) {
		t->count++;
		t->region++;
		t->need |= bit;
		return;
	}
	if (t->need & bit) {
		t->need &= ~bit;
		if (!t->need) {
			t->done = true;
			t->pos.n = n;
			t->pos.off = end_off;
			return;
		}
	}
	t->region++;
}

/* Scans file s backwards from hi (a record boundary); returns 0 when the tail is settled or
 * the file is done. */
static int tail_file(const struct ctrlog_setreader *r, struct tail_state *t, struct src *s,
		     uint64_t hi, char **buf, size_t *cap)
{
	while (hi > 0 && !t->done) {
		uint64_t lo = block_start(s, hi), first;
		size_t len, a, b;
		char *nl;
		int q;

		for (;;) {
			q = read_range(s, lo, hi, buf, cap);
			if (q < 0)
				return q;
			len = (size_t)(hi - lo);
			if (lo == 0) {
				first = 0;
				break;
			}
			nl = len > 1 ? memchr(*buf, '\n', len - 1) : NULL;
			if (nl) {
				first = (uint64_t)(nl - *buf) + 1;
				break;
			}
			lo = block_start(s, lo); /* a record longer than the block */
		}
		/* Records in buf[first, len), last to first. */
		b = len;
		while (b > first && !t->done) {
			size_t e = b;

			if ((*buf)[e - 1] == '\n')
				e--;
			nl = e > first ? memrchr(*buf + first, '\n', e - first) : NULL;
			a = nl ? (size_t)(nl - *buf) + 1 : (size_t)first;
			tail_record(r, t, *buf + a, e - a, s->n, lo + b);
			b = a;
		}
		hi = lo + first;
	}
	return 0;
}

/* The end of the last complete record of a live file of the given size. */
static int complete_end(struct src *s, uint64_t size, uint64_t *ret, char **buf, size_t *cap)
{
	uint64_t hi = size;

	while (hi > 0) {
		uint64_t lo = block_start(s, hi);
		char *nl;
		int q = read_range(s, lo, hi, buf, cap);

		if (q < 0)
			return q;
		nl = memrchr(*buf, '\n', (size_t)(hi - lo));
		if (nl) {
			*ret = lo + (uint64_t)(nl - *buf) + 1;
			return 0;
		}
		hi = lo;
	}
	*ret = 0;
	return 0;
}

/*
 * The end of file n as the tail sees it: its size, for a live file the end of its last complete
 * record (the one after may still be being written). -ENOENT/-EAGAIN as open_n(); any other
 * failure leaves s closed and is for reading forward to report.
 */
static int tail_open(struct ctrlog_setreader *r, uint64_t n, struct src *s, uint64_t *ret_end,
		     char **buf, size_t *cap)
{
	uint64_t size = 0;
	int q = open_n(r, n, s);

	if (q < 0)
		return q;
	if (s->kind == SRC_ZSTREAM)
		q = load_stream(s, &size);
	else
		q = src_size(s, &size);
	if (q == 0 && s->kind == SRC_LIVE)
		q = complete_end(s, size, &size, buf, cap);
	if (q < 0) {
		src_close(s);
		return q;
	}
	*ret_end = size;
	return 0;
}

int ctrlog_setreader_seek_tail(struct ctrlog_setreader *r, uint64_t lines)
{
	struct tail_state t = { .want = lines };
	struct ctrlog_setpos end = { 0, 0 };
	uint64_t n, live, size = 0, oldest;
	struct src s = { .fd = -1 };
	bool have_end = false;
	char *buf = NULL;
	size_t cap = 0;
	int q;

	q = live_number(r, &live);
	if (q < 0)
		return q;
	oldest = live;
	t.pos.n = live;
	for (n = live; n > 0 && !t.done; n--) {
		q = tail_open(r, n, &s, &size, &buf, &cap);
		if (q == -EAGAIN && n == live)
			continue; /* no live file yet */
		if (q == -ENOENT || q == -EAGAIN)
			break; /* the start of what history is left */
		oldest = n;
		if (!have_end) {
			/* Not following, reading ends here: what is written meanwhile is not part
			 * of the tail. */
			end.n = n;
			end.off = q < 0 ? 0 : size;
			have_end = true;
			t.pos = end;
			t.done = lines == 0;
		}
		if (q < 0)
			continue; /* unreadable: reading forward reports it */
		if (!t.done)
			q = tail_file(r, &t, &s, size, &buf, &cap);
		src_close(&s);
		if (q < 0 && q != -EBADMSG) {
			free(buf);
			return q;
		}
	}
	free(buf);
	if (!t.done) {
		t.pos.n = oldest;
		t.pos.off = 0;
	}
	return position(r, &t.pos, t.region > lines ? t.region - lines : 0, have_end ? &end : NULL);
}

/* ---- reading ---- */

bool ctrlog_setreader_finished(const struct ctrlog_setreader *r)
{
	return r->finished;
}

enum live_fate {
	LIVE_IN_PLACE,  /* still the live file */
	LIVE_ROTATED,   /* renamed to its rotated name: final, the next file is n + 1 */
	LIVE_REPLACED,  /* renamed by someone else, and the writer has opened a new live file of
	                 * the same number: final */
	LIVE_MOVED,     /* renamed by someone else, the writer may still append to it */
};

static bool same_file(const struct stat *st, const struct src *s)
{
	return st->st_ino == s->ino && st->st_dev == s->dev;
}

/* What became of the live file cur (at its current end). The writer renames the live file to
 * its rotated name before it creates the next one, and flushes before it reopens the live path
 * (SIGHUP), so once the live path names another file, cur no longer grows. */
static enum live_fate live_fate(const struct ctrlog_setreader *r)
{
	struct stat st, rot;
	char name[NAME_MAX_LEN];
	bool present = fstatat(r->dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (present && same_file(&st, &r->cur))
		return LIVE_IN_PLACE;
	/* Rotated file n is cur, or, once compressed, was (if it is another file, cur was renamed
	 * away and the new live file already rotated). */
	if (rotated_name(r, r->cur.n, "", name, sizeof(name)) == 0 &&
	    fstatat(r->dirfd, name, &rot, AT_SYMLINK_NOFOLLOW) == 0)
		return same_file(&rot, &r->cur) ? LIVE_ROTATED : LIVE_REPLACED;
	if (read_last_seq(r) >= r->cur.n)
		return LIVE_ROTATED;
	return present ? LIVE_REPLACED : LIVE_MOVED;
}

/* Whether the live file cur was truncated in place (copytruncate): it is shorter than what was
 * read, or its first bytes changed. An error is left for the read to report. */
static bool live_truncated(struct src *s)
{
	char head[sizeof(s->head)];
	struct stat st;
	ssize_t n = pread(s->fd, head, sizeof(head), 0);

	if (n < 0 || fstat(s->fd, &st) < 0)
		return false;
	if ((uint64_t)st.st_size < s->off || (size_t)n < s->head_len ||
	    memcmp(head, s->head, s->head_len) != 0)
		return true;
	memcpy(s->head, head, (size_t)n);
	s->head_len = (size_t)n;
	return false;
}

/* Reading the truncated live file starts again at its beginning; the next call of next()
 * reports it. */
static void restart_truncated(struct ctrlog_setreader *r)
{
	r->cur.off = 0;
	r->cur.head_len = 0;
	r->start = r->end = 0;
	r->buf_off = 0;
	ctrlog_k8s_joiner_reset(r->joiner);
	r->pend_kind = CTRLOG_SR_TRUNCATED;
	r->pend_error = 0;
	snprintf(r->pend_file, sizeof(r->pend_file), "%s", r->cur.name);
}

/* Not following, and the end of what is read (as positioned) is reached. */
static bool at_limit(const struct ctrlog_setreader *r)
{
	return !r->cfg.follow && r->cur.n == r->limit_n && r->buf_off >= r->limit_off;
}

/* One record line at buf_off; 1 with an item, 0 when it produced none. */
static int take_record(struct ctrlog_setreader *r, const char *line, size_t len, uint64_t off,
		       struct ctrlog_sr_item *ret)
{
	struct ctrlog_k8s_record rec;
	struct ctrlog_k8s_line out;
	int q = ctrlog_k8s_parse_record(line, len, &rec);

	if (q < 0) {
		memset(ret, 0, sizeof(*ret));
		ret->kind = CTRLOG_SR_MALFORMED;
		ret->file = r->cur.name;
		ret->offset = off;
		ret->error = q;
		return 1;
	}
	if (!(r->cfg.streams & (1u << rec.stream)))
		return 0;
	q = ctrlog_k8s_joiner_add(r->joiner, &rec, &out);
	if (q <= 0)
		return q;
	if (out.time_ns < r->cfg.since_ns)
		return 0;
	if (out.time_ns > r->cfg.until_ns) {
		r->finished = true;
		return 0;
	}
	if (r->skip_lines) {
		r->skip_lines--;
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	ret->kind = CTRLOG_SR_LINE;
	ret->line = out;
	return 1;
}

/* Makes room for more input after buf[end]. */
static int make_room(struct ctrlog_setreader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < READ_CHUNK / 4) {
		char *p = realloc(r->buf, r->cap * 2);

		if (!p)
			return -ENOMEM;
		r->buf = p;
		r->cap *= 2;
	}
	return 0;
}

static int corrupt_item(struct ctrlog_setreader *r, int err, struct ctrlog_sr_item *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->kind = CTRLOG_SR_MALFORMED;
	ret->file = r->cur.name;
	ret->offset = r->cur.off;
	ret->error = err;
	/* Nothing more can be decoded from it: drop the rest and move on to the next file. */
	if (r->cur.kind != SRC_NONE) {
		r->cur.dead = true;
		r->cur.final = true;
	}
	r->start = r->end;
	return 1;
}

int ctrlog_setreader_next(struct ctrlog_setreader *r, struct ctrlog_sr_item *ret)
{
	int q;

	if (!r->positioned)
		return -EINVAL;
	for (;;) {
		char *nl;
		size_t got = 0;

		if (r->gap_pending) {
			memset(ret, 0, sizeof(*ret));
			ret->kind = CTRLOG_SR_GAP;
			ret->gap_first = r->gap_first;
			ret->gap_last = r->gap_last;
			r->gap_pending = false;
			return 1;
		}
		if (r->pend_kind) {
			memset(ret, 0, sizeof(*ret));
			ret->kind = r->pend_kind;
			ret->file = r->pend_file;
			ret->error = r->pend_error;
			r->pend_kind = 0;
			return 1;
		}
		if (r->finished)
			return 0;
		if (r->cur.kind == SRC_NONE) {
			/* Waiting for a file that did not exist yet. */
			q = enter_file(r, r->cur.n);
			if (q == -EAGAIN)
				return r->cfg.follow ? 0 : (r->finished = true, 0);
			if (q < 0)
				return q;
			continue;
		}
		nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
		if (nl) {
			const char *line = r->buf + r->start;
			size_t len = (size_t)(nl - line);
			uint64_t off = r->buf_off;

			if (at_limit(r)) {
				r->finished = true;
				return 0;
			}
			r->start += len + 1;
			r->buf_off += len + 1;
			q = take_record(r, line, len, off, ret);
			if (q != 0)
				return q;
			continue;
		}
		q = make_room(r);
		if (q < 0)
			return q;
		if (r->cur.kind == SRC_LIVE && !r->cur.final && live_truncated(&r->cur)) {
			restart_truncated(r);
			continue;
		}
		q = src_read(r, &r->cur, r->buf + r->end, r->cap - r->end, &got);
		if (q < 0)
			return corrupt_item(r, q, ret);
		if (got > 0) {
			r->end += got;
			continue;
		}
		if (r->finished)
			return 0;
		if (r->cur.kind == SRC_LIVE && !r->cur.final) {
			if (!r->cfg.follow && r->cur.n >= r->limit_n) {
				/* The end of the history as it was: a record still being written is
				 * left out. */
				r->finished = true;
				return 0;
			}
			switch (live_fate(r)) {
			case LIVE_IN_PLACE:
			case LIVE_MOVED:
				return 0;
			case LIVE_REPLACED:
				r->cur.replaced = true;
				break;
			case LIVE_ROTATED:
				break;
			}
			/* What the fd holds now is all of it. */
			r->cur.final = true;
			continue;
		}
		/* The end of a finished file. A last record without its newline (a crash) still
		 * counts. */
		if (r->end > r->start && !at_limit(r)) {
			const char *line = r->buf + r->start;
			size_t len = r->end - r->start;
			uint64_t off = r->buf_off;

			r->start = r->end;
			r->buf_off += len;
			q = take_record(r, line, len, off, ret);
			if (q != 0)
				return q;
			continue;
		}
		if (!r->cfg.follow && r->cur.n >= r->limit_n) {
			r->finished = true;
			return 0;
		}
		{
			/* A live file replaced by an external rotator: the new one has its number. */
			uint64_t next = r->cur.replaced ? r->cur.n : r->cur.n + 1;

			q = enter_file(r, next);
			if (q == -EAGAIN) {
				/* The next live file does not exist yet. */
				src_close(&r->cur);
				r->cur.n = next;
				r->buf_off = 0;
				r->start = r->end = 0;
				if (!r->cfg.follow) {
					r->finished = true;
					return 0;
				}
				return 0;
			}
			if (q < 0)
				return q;
		}
	}
}

int ctrlog_setreader_take_held(struct ctrlog_setreader *r, struct ctrlog_sr_item *ret)
{
	struct ctrlog_k8s_line line;

	while (ctrlog_k8s_joiner_take_held(r->joiner, &line) == 1) {
		if (line.time_ns < r->cfg.since_ns || line.time_ns > r->cfg.until_ns)
			continue;
		memset(ret, 0, sizeof(*ret));
		ret->kind = CTRLOG_SR_LINE;
		ret->line = line;
		return 1;
	}
	return 0;
}
