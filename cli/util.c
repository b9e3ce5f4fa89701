/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "formats/k8s-file.h"
#include "formats/sink.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ctrlog: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* How many long options start with the len characters of name. */
static int long_opt_matches(const struct option *longopts, const char *name, size_t len)
{
	int n = 0;

	for (; longopts->name; longopts++)
		n += strncmp(longopts->name, name, len) == 0;
	return n;
}

/*
 * getopt_long leaves only optopt and optind to tell its errors apart. optopt is 0 for an
 * unknown or ambiguous long option, an option character that shortopts lacks for an unknown
 * short one, and otherwise the option's value: then a long option got a value it does not
 * take, or (c == ':') an option lacks its value. A long option is always argv[optind - 1];
 * a short one may sit inside a cluster (-fn), so it is named by its character.
 */
static void report_getopt_error(const char *cmd, int c, char **argv, const char *shortopts,
				const struct option *longopts)
{
	const char *arg = argv[optind - 1];
	bool is_long = strncmp(arg, "--", 2) == 0;
	int len = (int)strcspn(arg, "=");

	if (c == ':' && is_long)
		cli_error("%s: option '%.*s' needs a value", cmd, len, arg);
	else if (c == ':')
		cli_error("%s: option '-%c' needs a value", cmd, optopt);
	else if (optopt == 0 && long_opt_matches(longopts, arg + 2, (size_t)len - 2) > 1)
		cli_error("%s: option '%.*s' is ambiguous", cmd, len, arg);
	else if (optopt == 0)
		cli_error("%s: unknown option '%.*s'", cmd, len, arg);
	else if (optopt < 256 && !strchr(shortopts, optopt))
		cli_error("%s: unknown option '-%c'", cmd, optopt);
	else
		cli_error("%s: option '%.*s' takes no value", cmd, len, arg);
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?' || c == ':') {
		report_getopt_error(cmd, c, argv, shortopts, longopts);
		return '?';
	}
	return c;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *ret)
{
	char digits[32];
	size_t n = strspn(s, "0123456789");
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	switch (s[n]) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	default: return -EINVAL;
	}
	if (shift && s[n + 1] != '\0')
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	r = cli_parse_uint(digits, UINT64_MAX >> shift, &v);
	if (r < 0)
		return r;
	*ret = v << shift;
	return 0;
}

int cli_root_option(const char *cmd, const char *arg, const char **ret)
{
	/* An empty --root is a mistake (an unset variable), not a request for the default. */
	if (!*arg) {
		cli_error("%s: --root: empty path", cmd);
		return -EINVAL;
	}
	*ret = arg;
	return 0;
}

bool cli_state_root_is_explicit(const char *opt_root)
{
	const char *env = getenv("CTRLOG_ROOT");

	return (opt_root && *opt_root) || (env && *env);
}

char *cli_state_root(const char *opt_root)
{
	const char *env = getenv("CTRLOG_ROOT");
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *path = NULL;

	if (opt_root && *opt_root)
		return strdup(opt_root);
	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/ctrlog");
	if (state && *state) {
		if (asprintf(&path, "%s/ctrlog", state) < 0)
			return NULL;
	} else if (asprintf(&path, "%s/.local/state/ctrlog", home ? home : ".") < 0) {
		return NULL;
	}
	return path;
}

int cli_mkdir_p(const char *path, unsigned mode)
{
	char *copy = strdup(path);
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return r;
}

int cli_write_file_atomic(int dirfd, const char *name, const char *content, unsigned mode)
{
	return ctrlog_write_file_atomic(dirfd, name, content, strlen(content), mode);
}

/* The PID written in monitor.pid; 0 while there is none yet. */
static int read_pid(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t pid;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return cli_parse_uint(buf, INT_MAX, &pid) == 0 && pid > 0 ? (int)pid : 0;
}

/* How long a locked monitor.pid may stay without a PID: the time a monitor takes from taking
 * the lock to writing its PID (through --detach's forks), with room for a loaded machine. */
#define MONITOR_PID_WAIT_MS 2000
#define MONITOR_PID_POLL_MS 10

static bool locked(int fd, int *ret_err)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	*ret_err = fcntl(fd, F_OFD_GETLK, &lk) < 0 ? -errno : 0;
	return *ret_err == 0 && lk.l_type != F_UNLCK;
}

int cli_monitor_pid(int ctr_dirfd)
{
	int fd = openat(ctr_dirfd, "monitor.pid", O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* The monitor holds an OFD write lock on monitor.pid for its whole life: the lock, not the
	 * PID written in the file, proves that a process really is this container's monitor. The
	 * lock comes first, so a locked file may briefly hold no PID yet. An OFD lock has no owner
	 * PID (F_OFD_GETLK says -1): the PID comes from the file. */
	for (int waited = 0;; waited += MONITOR_PID_POLL_MS) {
		if (!locked(fd, &r))
			break;
		r = read_pid(fd);
		if (r != 0)
			break;
		if (waited >= MONITOR_PID_WAIT_MS) {
			r = -EAGAIN;
			break;
		}
		usleep(MONITOR_PID_POLL_MS * 1000);
	}
	close(fd);
	return r;
}

int cli_open_container_dir(const char *root, const char *id)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (rootfd < 0)
		return -errno;
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(rootfd);
	return fd;
}

char *cli_escape(const char *s)
{
	char *out = malloc(4 * strlen(s) + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '\n') {
			*p++ = '\\';
			*p++ = c == '\n' ? 'n' : '\\';
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\x%02x", c);
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return out;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void cli_unescape(char *s)
{
	char *out = s;

	while (*s) {
		int hi, lo;

		if (s[0] != '\\') {
			*out++ = *s++;
		} else if (s[1] == '\\' || s[1] == 'n') {
			*out++ = s[1] == 'n' ? '\n' : '\\';
			s += 2;
		} else if (s[1] == 'x' && (hi = hex_digit(s[2])) >= 0 && (lo = hex_digit(s[3])) >= 0 &&
			   (hi || lo)) {
			*out++ = (char)(hi << 4 | lo);
			s += 4;
		} else {
			*out++ = *s++; /* not an escape: the backslash as it is */
		}
	}
	*out = '\0';
}

bool cli_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

void cli_print_line(struct cli_printer *p, int stream, int64_t ns, const char *data, size_t len)
{
	FILE *f = p->out[stream];

	/* Both streams may go to one terminal or file: keep their lines in order. */
	if (p->last_stream != stream && p->last_stream >= 0)
		fflush(p->out[p->last_stream]);
	p->last_stream = stream;
	if (p->timestamps) {
		char ts[CTRLOG_K8S_TIME_LEN + 1];
		struct timespec t;

		t.tv_sec = (time_t)(ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000);
		t.tv_nsec = (long)(ns - (int64_t)t.tv_sec * 1000000000);
		ctrlog_k8s_format_time(&t, ts);
		ts[CTRLOG_K8S_TIME_LEN] = ' ';
		fwrite_unlocked(ts, 1, sizeof(ts), f);
	}
	fwrite_unlocked(data, 1, len, f);
	fputc_unlocked('\n', f);
}

void cli_printer_flush(struct cli_printer *p)
{
	for (int i = 0; i < 2; i++)
		fflush(p->out[i]);
}
