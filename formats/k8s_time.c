/* SPDX-License-Identifier: MIT */
/*
 * Timestamps for k8s-file records, written and read. The date is computed from the day count
 * directly (the civil-from-days method and its inverse) rather than with gmtime_r() and
 * timegm(), which take the time zone lock; writing runs once per batch, and both directions are
 * unit-tested at their boundaries.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "formats/k8s-file.h"

static void put_digits(char *out, unsigned value, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + value % 10);
		value /= 10;
	}
}

/* Converts days since 1970-01-01 to a proleptic Gregorian date. Eras are 400-year cycles of
 * 146097 days, counted from 0000-03-01 so that the leap day falls at the end of a year. */
static void civil_from_days(int64_t days, unsigned *year, unsigned *month, unsigned *day)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	int64_t y = (int64_t)yoe + era * 400;

	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = (unsigned)(y + (*month <= 2));
}

void ctrlog_k8s_format_time(const struct timespec *ts, char *out)
{
	int64_t secs = ts->tv_sec;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	unsigned sod = (unsigned)(secs - days * 86400);
	unsigned year, month, day;

	civil_from_days(days, &year, &month, &day);
	put_digits(out, year, 4);
	out[4] = '-';
	put_digits(out + 5, month, 2);
	out[7] = '-';
	put_digits(out + 8, day, 2);
	out[10] = 'T';
	put_digits(out + 11, sod / 3600, 2);
	out[13] = ':';
	put_digits(out + 14, sod / 60 % 60, 2);
	out[16] = ':';
	put_digits(out + 17, sod % 60, 2);
	out[19] = '.';
	put_digits(out + 20, (unsigned)ts->tv_nsec, 9);
	out[29] = 'Z';
}

void ctrlog_k8s_format_prefix(const struct timespec *ts, int stream, int partial, char *out)
{
	ctrlog_k8s_format_time(ts, out);
	memcpy(out + CTRLOG_K8S_TIME_LEN, stream ? " stderr " : " stdout ", 8);
	out[CTRLOG_K8S_TIME_LEN + 8] = partial ? 'P' : 'F';
	out[CTRLOG_K8S_TIME_LEN + 9] = ' ';
}

/* ---- reading ---- */

static bool parse_digits(const char *p, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*ret = v;
	return true;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, year >= 0 (March-based year count). */
static int64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* Parses "[.f{1,9}]" at rec[*pos]; frac comes back in nanoseconds. */
static int parse_fraction(const char *rec, size_t len, size_t *pos, int64_t *ret_frac)
{
	size_t i = *pos, nd = 0;
	int64_t frac = 0;

	if (i >= len || rec[i] != '.') {
		*ret_frac = 0;
		return 0;
	}
	for (i++; i < len && rec[i] >= '0' && rec[i] <= '9'; i++) {
		if (++nd > 9)
			return -EINVAL;
		frac = frac * 10 + (rec[i] - '0');
	}
	if (nd == 0)
		return -EINVAL;
	for (; nd < 9; nd++)
		frac *= 10;
	*pos = i;
	*ret_frac = frac;
	return 0;
}

/* Parses "Z" or "±hh:mm" at rec[*pos]; the offset comes back in seconds east of UTC. */
static int parse_zone(const char *rec, size_t len, size_t *pos, int64_t *ret_off)
{
	size_t i = *pos;
	unsigned oh, om;

	if (i < len && (rec[i] == 'Z' || rec[i] == 'z')) {
		*pos = i + 1;
		*ret_off = 0;
		return 0;
	}
	if (i >= len || (rec[i] != '+' && rec[i] != '-') || len - i < 6)
		return -EINVAL;
	if (!parse_digits(rec + i + 1, 2, &oh) || rec[i + 3] != ':' ||
	    !parse_digits(rec + i + 4, 2, &om) || oh > 23 || om > 59)
		return -EINVAL;
	*ret_off = (rec[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
	*pos = i + 6;
	return 0;
}

int ctrlog_k8s_parse_time(const char *rec, size_t len, int64_t *ret_ns)
{
	unsigned y, mo, d, h, mi, s;
	size_t pos = 19;
	int64_t frac, zone, secs, ns;
	int r;

	if (!rec || !ret_ns)
		return -EINVAL;
	if (len < 20 || !parse_digits(rec, 4, &y) || rec[4] != '-' ||
	    !parse_digits(rec + 5, 2, &mo) || rec[7] != '-' || !parse_digits(rec + 8, 2, &d) ||
	    (rec[10] != 'T' && rec[10] != 't') || !parse_digits(rec + 11, 2, &h) ||
	    rec[13] != ':' || !parse_digits(rec + 14, 2, &mi) || rec[16] != ':' ||
	    !parse_digits(rec + 17, 2, &s))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
		return -EINVAL;
	r = parse_fraction(rec, len, &pos, &frac);
	if (r < 0)
		return r;
	r = parse_zone(rec, len, &pos, &zone);
	if (r < 0)
		return r;
	if (pos < len && rec[pos] != ' ')
		return -EINVAL;

	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - zone;
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return -ERANGE;
	*ret_ns = ns;
	return 0;
}
