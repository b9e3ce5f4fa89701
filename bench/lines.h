/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_BENCH_LINES_H
#define CTRLOG_BENCH_LINES_H

/*
 * The benchmark's line format, shared by the producer (loadgen.c) and the checker (verify.c)
 * so that both agree by construction: "seq=" + 12 digits + " " + 'x' padding + "\n", each
 * stream numbered from 1.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_LEN 17 /* "seq=" + 12 digits + " " */
#define DIGITS_OFF 4
#define DIGITS_LEN 12
#define MIN_LINE (PREFIX_LEN + 1)
#define MAX_LINE (64 * 1024 * 1024)

/* Parses "123", "4k", "10m", "1g", "1t" (powers of 1024); returns 0 or -1. */
static inline int bench_parse_size(const char *s, unsigned long long *ret)
{
	unsigned long long v, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default: break;
	}
	if (*end != '\0' || (v && mul > ULLONG_MAX / v))
		return -1;
	*ret = v * mul;
	return 0;
}

/* Writes line 1 of the given size (size >= MIN_LINE) into line. */
static inline void bench_line_first(char *line, size_t size)
{
	memcpy(line, "seq=000000000001 ", PREFIX_LEN);
	memset(line + PREFIX_LEN, 'x', size - PREFIX_LEN - 1);
	line[size - 1] = '\n';
}

/* Adds one to the line's 12 ASCII digits, carrying as needed. */
static inline void bench_line_next(char *line)
{
	char *d = line + DIGITS_OFF + DIGITS_LEN - 1;

	while (d >= line + DIGITS_OFF) {
		if (*d != '9') {
			(*d)++;
			return;
		}
		*d-- = '0';
	}
}

#endif
