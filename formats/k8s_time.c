/* SPDX-License-Identifier: MIT */
/*
 * Timestamps for k8s-file records. The date is computed from the day count directly (the
 * civil-from-days method) rather than with gmtime_r(), which takes the time zone lock; it runs
 * once per batch, and its boundaries are unit-tested.
 */
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
