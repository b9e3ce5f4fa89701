/* SPDX-License-Identifier: MIT */
/*
 * verify: checks that a log holds exactly what loadgen wrote.
 *
 * A benchmark result only counts if the output is complete and in order: a
 * fast logger that drops, repeats or mangles lines must fail, not win.  So
 * verify reads a k8s-file (CRI) log -- several files given in order are
 * read as one, for rotated files followed by the live one -- joins the
 * P pieces of each stream back into lines, and checks that each stream's
 * lines are seq=1..N in order, byte for byte what loadgen produces for the
 * given line size.  --raw checks an unframed copy instead (passthrough,
 * cat).
 *
 * It must keep up with multi-GiB logs, so it never builds a line: each
 * piece is compared in place against the expected line, whose digits are
 * bumped in place.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

#define READ_CHUNK (8 * 1024 * 1024)
#define UNCHECKED (-1LL)

enum { OUT, ERR, NSTREAMS };
static const char *const stream_names[NSTREAMS] = { "stdout", "stderr" };

/* What one stream is expected to contain, and how far it got. */
struct expect {
	char *line;             /* the expected line, '\n' included */
	size_t line_size;
	size_t off;             /* bytes of the current line already seen */
	long long lines;        /* complete lines seen */
	long long want;         /* expected line count, or UNCHECKED */
};

/* Where in the input we are, for error messages. */
struct position {
	const char *file;
	unsigned long long offset;      /* of the current record in the file */
	unsigned long long record;      /* 1-based, over all files */
};

struct options {
	size_t line_size;
	long long want[NSTREAMS];
	unsigned long long total;
	int total_set;
	unsigned stderr_share;
	int raw;
	int raw_stream;
	int strict_time;
};

struct counts {
	unsigned long long records, partial;
};

static void usage(FILE *f)
{
	fputs("usage: verify --line-size N [--stdout-lines N] [--stderr-lines N]\n"
	      "              [--total BYTES [--stderr-share PERCENT]]\n"
	      "              [--raw [--raw-stream stdout|stderr]] [--strict-time]\n"
	      "              FILE...\n"
	      "  FILEs are read in order as one log (rotated files, then the live one);\n"
	      "  '-' is stdin.  Prints one summary line ending in 'ok', or names the\n"
	      "  first bad record and exits 1.\n", f);
}

static void fail_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "verify: %s '%s'\n", msg, arg);
	exit(2);
}

static unsigned long long size_arg(const char *name, const char *arg,
				   unsigned long long min, unsigned long long max)
{
	unsigned long long v;

	if (bench_parse_size(arg, &v) < 0 || v < min || v > max)
		fail_usage(name, arg);
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "line-size", required_argument, NULL, 'l' },
		{ "stdout-lines", required_argument, NULL, 'o' },
		{ "stderr-lines", required_argument, NULL, 'e' },
		{ "total", required_argument, NULL, 't' },
		{ "stderr-share", required_argument, NULL, 's' },
		{ "raw", no_argument, NULL, 'r' },
		{ "raw-stream", required_argument, NULL, 'R' },
		{ "strict-time", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .want = { UNCHECKED, UNCHECKED } };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->line_size = size_arg("bad --line-size", optarg, MIN_LINE, MAX_LINE); break;
		case 'o': o->want[OUT] = (long long)size_arg("bad --stdout-lines", optarg, 0, LLONG_MAX); break;
		case 'e': o->want[ERR] = (long long)size_arg("bad --stderr-lines", optarg, 0, LLONG_MAX); break;
		case 't': o->total = size_arg("bad --total", optarg, 0, ULLONG_MAX); o->total_set = 1; break;
		case 's': o->stderr_share = (unsigned)size_arg("bad --stderr-share", optarg, 0, 100); break;
		case 'r': o->raw = 1; break;
		case 'R':
			if (strcmp(optarg, "stdout") && strcmp(optarg, "stderr"))
				fail_usage("bad --raw-stream", optarg);
			o->raw_stream = strcmp(optarg, "stdout") ? ERR : OUT;
			break;
		case 'S': o->strict_time = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (o->line_size == 0) {
		fputs("verify: --line-size is required\n", stderr);
		exit(2);
	}
	if (optind == argc) {
		fputs("verify: no input file\n", stderr);
		exit(2);
	}
	/* The same split as loadgen's, so callers can pass loadgen's options. */
	if (o->total_set) {
		unsigned long long lines = o->total / o->line_size;
		unsigned long long err = lines * o->stderr_share / 100;

		o->want[OUT] = (long long)(lines - err);
		o->want[ERR] = (long long)err;
	}
}

static void expect_init(struct expect *e, size_t line_size, long long want)
{
	e->line = malloc(line_size);
	if (!e->line) {
		fputs("verify: out of memory\n", stderr);
		exit(2);
	}
	bench_line_first(e->line, line_size);
	e->line_size = line_size;
	e->off = 0;
	e->lines = 0;
	e->want = want;
}

static void expect_next_line(struct expect *e)
{
	e->lines++;
	e->off = 0;
	bench_line_next(e->line);
}

/* Prints up to 48 bytes of data with non-printable bytes escaped. */
static void print_excerpt(const char *p, size_t n)
{
	size_t i;

	fputc('\'', stderr);
	for (i = 0; i < n && i < 48; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputs(n > 48 ? "'..." : "'", stderr);
}

static _Noreturn void fail(const struct position *pos, const char *what)
{
	fprintf(stderr, "verify: FAIL %s offset %llu (record %llu): %s\n",
		pos->file, pos->offset, pos->record, what);
	exit(1);
}

/*
 * Reports content that differs from the expected line, showing both: at
 * the start of a line that names the seq found and the one expected, which
 * makes a gap or a duplicate obvious.
 */
static void fail_content(const struct position *pos, int stream,
			 const struct expect *e, size_t end, const char *p,
			 size_t n)
{
	fprintf(stderr, "verify: FAIL %s offset %llu (record %llu): %s line %lld"
		" byte %zu: expected ", pos->file, pos->offset, pos->record,
		stream_names[stream], e->lines + 1, e->off);
	/* In a k8s-file the '\n' is not content: the record must end there. */
	if (e->off == end)
		fputs("the end of the line", stderr);
	else
		print_excerpt(e->line + e->off, end - e->off);
	fputs(", got ", stderr);
	print_excerpt(p, n);
	fputc('\n', stderr);
	exit(1);
}

/* Checks a piece of a k8s-file record against the expected line. */
static void feed_piece(const struct position *pos, int stream, struct expect *e,
		       const char *p, size_t n, int full)
{
	size_t content = e->line_size - 1;

	if (e->want != UNCHECKED && e->lines >= e->want)
		fail(pos, stream == OUT ? "more stdout lines than expected"
					: "more stderr lines than expected");
	if (n > content - e->off) {
		fprintf(stderr, "verify: FAIL %s offset %llu (record %llu): %s"
			" line %lld is longer than %zu bytes\n", pos->file,
			pos->offset, pos->record, stream_names[stream],
			e->lines + 1, content);
		exit(1);
	}
	if (memcmp(e->line + e->off, p, n) != 0)
		fail_content(pos, stream, e, content, p, n);
	e->off += n;
	if (!full)
		return;
	if (e->off != content)
		fail_content(pos, stream, e, content, "", 0);
	expect_next_line(e);
}

/* Checks raw bytes (no framing) against the expected stream. */
static void feed_raw(struct position *pos, int stream, struct expect *e,
		     const char *p, size_t n)
{
	while (n > 0) {
		size_t k = e->line_size - e->off;

		if (k > n)
			k = n;
		pos->record = (unsigned long long)e->lines + 1;
		if (e->want != UNCHECKED && e->lines >= e->want)
			fail(pos, "more lines than expected");
		if (memcmp(e->line + e->off, p, k) != 0)
			fail_content(pos, stream, e, e->line_size, p, k);
		e->off += k;
		p += k;
		n -= k;
		pos->offset += k;
		if (e->off == e->line_size)
			expect_next_line(e);
	}
}

static int all_digits(const char *p, size_t n)
{
	while (n--)
		if ((unsigned)(*p++ - '0') > 9)
			return 0;
	return 1;
}

/*
 * Parses "YYYY-MM-DDTHH:MM:SS.fffZ" or with "+hh:mm" (conmon): 1-9
 * fractional digits; --strict-time wants exactly ctrlog's nine digits and
 * 'Z'.  Returns its length, or 0 when malformed.
 */
static size_t parse_time(const char *p, size_t n, int strict)
{
	size_t i = 20, frac;

	if (n < 21 || !all_digits(p, 4) || p[4] != '-' || !all_digits(p + 5, 2) ||
	    p[7] != '-' || !all_digits(p + 8, 2) || p[10] != 'T' ||
	    !all_digits(p + 11, 2) || p[13] != ':' || !all_digits(p + 14, 2) ||
	    p[16] != ':' || !all_digits(p + 17, 2) || p[19] != '.')
		return 0;
	while (i < n && (unsigned)(p[i] - '0') <= 9)
		i++;
	frac = i - 20;
	if (frac < 1 || frac > 9 || (strict && frac != 9) || i >= n)
		return 0;
	if (p[i] == 'Z')
		return i + 1;
	if (strict || (p[i] != '+' && p[i] != '-') || n - i < 6 ||
	    !all_digits(p + i + 1, 2) || p[i + 3] != ':' ||
	    !all_digits(p + i + 4, 2))
		return 0;
	return i + 6;
}

/* Parses one record (without its '\n') and checks its content. */
static void check_record(const struct position *pos, const struct options *o,
			 struct expect *exp, struct counts *cnt, const char *p,
			 size_t n)
{
	size_t t = parse_time(p, n, o->strict_time);
	int stream, full;

	if (t == 0 || t >= n || p[t] != ' ')
		fail(pos, "bad timestamp");
	p += t + 1;
	n -= t + 1;
	if (n >= 7 && memcmp(p, "stdout ", 7) == 0)
		stream = OUT;
	else if (n >= 7 && memcmp(p, "stderr ", 7) == 0)
		stream = ERR;
	else
		fail(pos, "bad stream (want 'stdout ' or 'stderr ')");
	p += 7;
	n -= 7;
	if (n < 1 || (p[0] != 'F' && p[0] != 'P'))
		fail(pos, "bad tag (want F or P)");
	full = p[0] == 'F';
	/* An empty record may or may not carry the space before its content. */
	if (n >= 2 && p[1] != ' ')
		fail(pos, "no space after the tag");
	p += n >= 2 ? 2 : 1;
	n -= n >= 2 ? 2 : 1;
	cnt->records++;
	if (!full)
		cnt->partial++;
	feed_piece(pos, stream, &exp[stream], p, n, full);
}

/* A growable read buffer over one file. */
struct reader {
	int fd;
	char *buf;
	size_t cap, start, end;
	int eof;
};

/* Moves the unread bytes to the front and reads more; grows when full. */
static void reader_fill(struct reader *r, const char *file)
{
	ssize_t got;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < READ_CHUNK / 2) {
		char *nb = realloc(r->buf, r->cap * 2);

		if (!nb) {
			fputs("verify: out of memory\n", stderr);
			exit(2);
		}
		r->buf = nb;
		r->cap *= 2;
	}
	do
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		fprintf(stderr, "verify: read %s: %s\n", file, strerror(errno));
		exit(2);
	}
	if (got == 0)
		r->eof = 1;
	r->end += (size_t)got;
}

static int open_input(const char *file)
{
	int fd;

	if (strcmp(file, "-") == 0)
		return STDIN_FILENO;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "verify: %s: %s\n", file, strerror(errno));
		exit(2);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

static void check_k8s_file(struct position *pos, const struct options *o,
			   struct expect *exp, struct counts *cnt,
			   struct reader *r)
{
	pos->offset = 0;
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);

		if (!nl) {
			if (r->eof) {
				if (r->end > r->start)
					fail(pos, "last record has no newline (truncated)");
				return;
			}
			reader_fill(r, pos->file);
			continue;
		}
		pos->record++;
		check_record(pos, o, exp, cnt, r->buf + r->start,
			     (size_t)(nl - (r->buf + r->start)));
		pos->offset += (size_t)(nl + 1 - (r->buf + r->start));
		r->start = (size_t)(nl + 1 - r->buf);
	}
}

static void check_raw_file(struct position *pos, int stream, struct expect *e,
			   struct reader *r)
{
	pos->offset = 0;
	while (!r->eof) {
		reader_fill(r, pos->file);
		feed_raw(pos, stream, e, r->buf + r->start, r->end - r->start);
		r->start = r->end;
	}
}

/* At the end every stream must have exactly its lines, none unfinished. */
static void check_totals(const struct position *pos, const struct expect *exp,
			 const int *streams, int nstreams)
{
	int i;

	for (i = 0; i < nstreams; i++) {
		const struct expect *e = &exp[streams[i]];
		const char *name = stream_names[streams[i]];

		if (e->off != 0) {
			fprintf(stderr, "verify: FAIL %s at end: %s line %lld is"
				" unfinished (%zu of %zu bytes)\n", pos->file,
				name, e->lines + 1, e->off, e->line_size);
			exit(1);
		}
		if (e->want != UNCHECKED && e->lines != e->want) {
			fprintf(stderr, "verify: FAIL %s at end: %s has %lld"
				" lines, expected %lld (first missing: seq=%lld)\n",
				pos->file, name, e->lines, e->want, e->lines + 1);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct expect exp[NSTREAMS];
	struct counts cnt = { 0, 0 };
	struct position pos = { 0 };
	struct reader r = { 0 };
	int i, s;

	parse_options(argc, argv, &o);
	for (s = 0; s < NSTREAMS; s++)
		expect_init(&exp[s], o.line_size, o.want[s]);
	r.cap = READ_CHUNK;
	r.buf = malloc(r.cap);
	if (!r.buf) {
		fputs("verify: out of memory\n", stderr);
		return 2;
	}
	for (i = optind; i < argc; i++) {
		pos.file = argv[i];
		r.fd = open_input(argv[i]);
		r.start = r.end = 0;
		r.eof = 0;
		if (o.raw)
			check_raw_file(&pos, o.raw_stream, &exp[o.raw_stream], &r);
		else
			check_k8s_file(&pos, &o, exp, &cnt, &r);
		if (r.fd != STDIN_FILENO)
			close(r.fd);
	}
	if (o.raw) {
		check_totals(&pos, exp, &o.raw_stream, 1);
		printf("records=0 partial_records=0 stdout_lines=%lld stderr_lines=%lld ok\n",
		       o.raw_stream == OUT ? exp[o.raw_stream].lines : 0,
		       o.raw_stream == ERR ? exp[o.raw_stream].lines : 0);
	} else {
		static const int both[NSTREAMS] = { OUT, ERR };

		check_totals(&pos, exp, both, NSTREAMS);
		printf("records=%llu partial_records=%llu stdout_lines=%lld stderr_lines=%lld ok\n",
		       cnt.records, cnt.partial, exp[OUT].lines, exp[ERR].lines);
	}
	free(r.buf);
	for (s = 0; s < NSTREAMS; s++)
		free(exp[s].line);
	return 0;
}
