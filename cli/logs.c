/* SPDX-License-Identifier: MIT */
/*
 * `ctrlog logs`, `ctrlog follow` and `ctrlog ps`. Reading is rotate/setreader.c's job; this file
 * finds the container, parses arguments, prints, and waits for the log to change.
 *
 * Following waits with inotify on the log's directory (which also reports every write to the
 * live file inside it, so no second watch is needed on the file itself) and on the container
 * directory for the `exit` file. The one-second poll timeout is only a safety net (a monitor
 * that died without writing `exit`); the common path never sleeps on a timer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"
#include "formats/k8s-file.h"
#include "rotate/setreader.h"
#include "rotate/zstd_seekable.h"

#define OUT_BUF_SIZE ((size_t)1 << 20)

/* ---- container state ---- */

static bool has_driver(const struct cli_ctr_info *info, const char *driver)
{
	size_t len = strlen(driver);

	for (const char *p = info->drivers; (p = strstr(p, driver)); p += len)
		if ((p == info->drivers || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* ---- arguments ---- */

/* RFC 3339, Unix seconds (with an optional fraction), or a duration ago: 90s, 10m, 2h, 1h30m,
 * 3d. Returns 0 or -EINVAL. */
static int parse_time(const char *s, int64_t *ret_ns)
{
	struct timespec now;
	size_t len = strlen(s);
	int64_t ns = 0, secs = 0;

	if (len == 0)
		return -EINVAL;
	if (strspn(s, "0123456789") == len || (strspn(s, "0123456789.") == len && strchr(s, '.') &&
						 strchr(s, '.') == strrchr(s, '.') && s[0] != '.')) {
		const char *dot = strchr(s, '.');
		int64_t frac = 0;
		int digits = 0;

		for (const char *p = s; *p && p != dot; p++) {
			if (secs > (INT64_MAX / 1000000000 - 9) / 10)
				return -EINVAL;
			secs = secs * 10 + (*p - '0');
		}
		if (dot) {
			for (const char *p = dot + 1; *p && digits < 9; p++, digits++)
				frac = frac * 10 + (*p - '0');
			for (; digits < 9; digits++)
				frac *= 10;
		}
		*ret_ns = secs * 1000000000 + frac;
		return 0;
	}
	if (len >= 2 && strchr("smhd", s[len - 1]) && s[0] >= '0' && s[0] <= '9' &&
	    !strchr(s, '-') && !strchr(s, ':')) {
		int64_t total = 0, v = 0;
		bool have = false;

		for (const char *p = s; *p; p++) {
			int64_t unit;

			if (*p >= '0' && *p <= '9') {
				if (v > INT64_MAX / 10 / 1000000000)
					return -EINVAL;
				v = v * 10 + (*p - '0');
				have = true;
				continue;
			}
			switch (*p) {
			case 's': unit = 1; break;
			case 'm': unit = 60; break;
			case 'h': unit = 3600; break;
			case 'd': unit = 86400; break;
			default: return -EINVAL;
			}
			if (!have || v > INT64_MAX / 1000000000 / unit)
				return -EINVAL;
			total += v * unit;
			if (total > INT64_MAX / 1000000000 / 2)
				return -EINVAL;
			v = 0;
			have = false;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		*ret_ns = ((int64_t)now.tv_sec - total) * 1000000000 + now.tv_nsec;
		return 0;
	}
	if (ctrlog_k8s_parse_time(s, len, &ns) == 0) {
		*ret_ns = ns;
		return 0;
	}
	return -EINVAL;
}

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_STREAM, OPT_ROOT };

static const struct option logs_long_opts[] = {
	{ "follow", no_argument, NULL, 'f' },
	{ "tail", required_argument, NULL, 'n' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "timestamps", no_argument, NULL, 't' },
	{ "stream", required_argument, NULL, OPT_STREAM },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define LOGS_OPTIONS_HELP \
	"  -f, --follow       keep printing new lines, across rotations, until the container has\n" \
	"                     exited and its log is printed to the end\n" \
	"  -n, --tail N|all   only the last N lines (default all)\n" \
	"      --since TIME   only the lines from TIME on\n" \
	"      --until TIME   only the lines up to TIME\n" \
	"  -t, --timestamps   prefix every line with its time (RFC 3339, nanoseconds, UTC)\n" \
	"      --stream stdout|stderr|all   the lines of one stream only (default all)\n" \
	"      --root DIR     the state root (see below)\n" \
	"  -h, --help         this help\n" \
	"\n" \
	"TIME is RFC 3339 (2026-11-27T10:00:00Z, 2026-11-27T11:00:00.5+01:00), Unix seconds\n" \
	"(1764237600, 1764237600.25), or a duration ago: 90s, 10m, 2h, 1h30m, 3d.\n" \
	"The container is named by its ID, a unique prefix of its ID, or its --name.\n"

const char cli_logs_help[] =
	"usage: ctrlog logs [OPTIONS] ID|PREFIX|NAME\n"
	"\n"
	"Prints a container's log, rotated and compressed history included, the pieces of long\n"
	"lines joined: stdout lines on stdout, stderr lines on stderr (journald-only containers\n"
	"are read from the journal). Exits 0 once printed, 1 on an error or when a part of the\n"
	"log could not be read (each such part is named on stderr).\n"
	"\n"
	LOGS_OPTIONS_HELP
	"\n"
	CLI_ROOT_HELP;

const char cli_follow_help[] =
	"usage: ctrlog follow [OPTIONS] ID|PREFIX|NAME\n"
	"\n"
	"Same as ctrlog logs --follow: prints every line exactly once, across rotations, and\n"
	"returns once the container has exited and its log is printed to the end.\n"
	"\n"
	LOGS_OPTIONS_HELP
	"\n"
	CLI_ROOT_HELP;

/* Returns 0, 1 when the help was asked for and printed, or -1 after printing an error. */
static int parse_logs_args(const char *cmd, int argc, char **argv, struct logs_opts *o)
{
	int c;

	o->since_ns = INT64_MIN;
	o->until_ns = INT64_MAX;
	optind = 1;
	while ((c = cli_getopt(cmd, argc, argv, ":fn:th", logs_long_opts)) != -1) {
		switch (c) {
		case 'h':
			cli_help(cmd);
			return 1;
		case 'f':
			o->follow = true;
			break;
		case 't':
			o->timestamps = true;
			break;
		case 'n':
			if (strcmp(optarg, "all") == 0) {
				o->tail = false;
			} else if (cli_parse_uint(optarg, UINT64_MAX, &o->tail_lines) == 0) {
				o->tail = true;
			} else {
				cli_error("%s: --tail: invalid value '%s' (expected a number of lines or all)",
					  cmd, optarg);
				return -1;
			}
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (parse_time(optarg, c == OPT_SINCE ? &o->since_ns : &o->until_ns) < 0) {
				cli_error("%s: --%s: invalid time '%s' (expected RFC 3339, Unix seconds or a duration such as 10m)",
					  cmd, c == OPT_SINCE ? "since" : "until", optarg);
				return -1;
			}
			break;
		case OPT_STREAM:
			if (strcmp(optarg, "stdout") == 0)
				o->streams = 1u << CTRLOG_STDOUT;
			else if (strcmp(optarg, "stderr") == 0)
				o->streams = 1u << CTRLOG_STDERR;
			else if (strcmp(optarg, "all") == 0)
				o->streams = 0;
			else {
				cli_error("%s: --stream: invalid value '%s' (expected stdout, stderr or all)",
					  cmd, optarg);
				return -1;
			}
			break;
		case OPT_ROOT:
			if (cli_root_option(cmd, optarg, &o->root) < 0)
				return -1;
			break;
		default:
			return -1; /* cli_getopt() named the option */
		}
	}
	if (optind >= argc) {
		cli_error("%s: missing container ID or name", cmd);
		return -1;
	}
	if (optind + 1 < argc) {
		cli_error("%s: unexpected argument '%s' (one container ID or name)", cmd, argv[optind + 1]);
		return -1;
	}
	o->target = argv[optind];
	return 0;
}

/* ---- output ---- */

/* Prints an item; returns 1 when it says that something was skipped (the status is then 1),
 * else 0. (Files removed by retention are the configured retention at work: reported, but not
 * an error.) */
static int report_item(const char *cmd, const char *dir, struct cli_printer *p,
		       const struct ctrlog_sr_item *it)
{
	switch (it->kind) {
	case CTRLOG_SR_LINE:
		cli_print_line(p, it->line.stream, it->line.time_ns, it->line.data, it->line.len);
		break;
	case CTRLOG_SR_MALFORMED:
		cli_printer_flush(p);
		cli_error("%s: %s/%s: offset %llu: %s, skipped", cmd, dir, it->file,
			  (unsigned long long)it->offset,
			  it->error == -EINVAL ? "malformed record" : ctrlog_strerror(it->error));
		return 1;
	case CTRLOG_SR_UNREADABLE:
		cli_printer_flush(p);
		cli_error("%s: %s/%s: %s, skipped", cmd, dir, it->file,
			  it->error == CTRLOG_SR_ENOTREG ? "not a regular file" :
			  ctrlog_strerror(it->error));
		return 1;
	case CTRLOG_SR_TRUNCATED:
		cli_printer_flush(p);
		cli_error("%s: %s/%s: the live log was truncated (copytruncate?): lines may be lost",
			  cmd, dir, it->file);
		return 1;
	case CTRLOG_SR_GAP:
		cli_printer_flush(p);
		if (it->gap_first == it->gap_last)
			cli_error("%s: history lost: rotated file %llu was removed by retention before it was read",
				  cmd, (unsigned long long)it->gap_first);
		else
			cli_error("%s: history lost: rotated files %llu to %llu (%llu files) were removed by retention before they were read",
				  cmd, (unsigned long long)it->gap_first,
				  (unsigned long long)it->gap_last,
				  (unsigned long long)(it->gap_last - it->gap_first + 1));
		break;
	}
	return 0;
}

/* ---- following ---- */

struct watcher {
	int fd;
	const char *log_name;
};

static bool relevant_event(const struct watcher *w, const struct inotify_event *ev)
{
	size_t len;

	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (!ev->len)
		return false;
	if (strcmp(ev->name, "exit") == 0)
		return true;
	len = strlen(w->log_name);
	if (strncmp(ev->name, w->log_name, len) != 0)
		return false;
	if (ev->name[len] == '\0')
		return true;
	/* Rotated files, not the compressor's work in progress. */
	return ev->name[len] == '.' && !strstr(ev->name + len, ".tmp");
}

/* Waits until something relevant happens; returns 1 for an event, 0 on timeout, -errno. */
static int wait_change(struct watcher *w, int timeout_ms)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		bool relevant = false;
		ssize_t n;
		int r = poll(&pfd, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
			for (char *p = buf; p < buf + n;) {
				const struct inotify_event *ev = (const struct inotify_event *)p;

				if (relevant_event(w, ev))
					relevant = true;
				p += sizeof(*ev) + ev->len;
			}
		}
		if (relevant)
			return 1;
	}
}

static bool exit_exists(int ctr_dirfd)
{
	return faccessat(ctr_dirfd, "exit", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Prints what can be read now; *skipped counts what was reported skipped. */
static int drain(const char *cmd, const char *dir, struct ctrlog_setreader *sr, struct cli_printer *p,
		 unsigned *skipped)
{
	struct ctrlog_sr_item it;
	int r;

	while ((r = ctrlog_setreader_next(sr, &it)) > 0)
		*skipped += (unsigned)report_item(cmd, dir, p, &it);
	if (r < 0)
		cli_error("%s: reading the log: %s", cmd, ctrlog_strerror(r));
	return r;
}

/* A container whose monitor is gone always leaves its live file behind (the writer opens the
 * next one as it rotates): without it the log is incomplete or was never there. While the
 * monitor runs, a missing live file is a rotation in progress or an external rotator's mv. */
static bool live_file_lost(int ctr_dirfd, const char *log_path)
{
	struct stat st;

	return cli_monitor_pid(ctr_dirfd) == 0 && lstat(log_path, &st) < 0 && errno == ENOENT;
}

static int logs_main(const char *cmd, struct logs_opts *o)
{
	struct ctrlog_setreader_config cfg = { 0 };
	struct ctrlog_setreader *sr = NULL;
	struct cli_printer p = CLI_PRINTER_INIT(o->timestamps);
	struct watcher w = { .fd = -1 };
	struct cli_ctr_info info;
	char id[130], *root = cli_state_root(o->root), *dir = NULL, *slash;
	int ctr_dirfd = -1, r, status = 1, idle = 0;
	struct ctrlog_sr_item it;
	unsigned skipped = 0;
	bool lost_live;

	if (!root) {
		cli_error("%s: out of memory", cmd);
		return 1;
	}
	if (cli_resolve_container(cmd, root, o->target, id, sizeof(id)) < 0)
		goto out;
	ctr_dirfd = cli_open_container_dir(root, id);
	if (ctr_dirfd < 0) {
		cli_error("%s: cannot open %s/%s: %s", cmd, root, id, ctrlog_strerror(ctr_dirfd));
		goto out;
	}
	r = cli_read_config(ctr_dirfd, &info);
	if (r < 0) {
		cli_error("%s: cannot read %s/%s/config: %s", cmd, root, id, ctrlog_strerror(r));
		goto out;
	}
	if (!has_driver(&info, "k8s-file") || !info.log_path[0]) {
		if (has_driver(&info, "journald")) {
			status = cli_logs_journal(cmd, o, id, ctr_dirfd);
			goto out;
		}
		cli_error("%s: container '%s' keeps no log that can be read (drivers: %s)",
			  cmd, id, info.drivers[0] ? info.drivers : "none");
		goto out;
	}
	/* Containers of older versions may have stored the path as given: relative to a working
	 * directory that is unknown now. */
	if (info.log_path[0] != '/') {
		cli_error("%s: %s: the log path stored in %s/%s/config is relative, so it cannot be found",
			  cmd, info.log_path, root, id);
		goto out;
	}
	lost_live = live_file_lost(ctr_dirfd, info.log_path);
	dir = strdup(info.log_path);
	if (!dir) {
		cli_error("%s: out of memory", cmd);
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");

	if (o->follow) {
		/* Watches first, then read: nothing written in between can be missed. */
		char ctr_path[PATH_MAX];

		w.log_name = slash ? slash + 1 : info.log_path;
		w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w.fd < 0 ||
		    inotify_add_watch(w.fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
					       IN_DELETE | IN_CLOSE_WRITE) < 0) {
			cli_error("%s: cannot watch %s: %s", cmd, dir, ctrlog_strerror(-errno));
			goto out;
		}
		snprintf(ctr_path, sizeof(ctr_path), "%s/%s", root, id);
		if (inotify_add_watch(w.fd, ctr_path, IN_CREATE | IN_MOVED_TO | IN_MASK_ADD) < 0) {
			cli_error("%s: cannot watch %s: %s", cmd, ctr_path, ctrlog_strerror(-errno));
			goto out;
		}
	}

	cfg.log_path = info.log_path;
	cfg.follow = o->follow;
	cfg.streams = o->streams;
	cfg.since_ns = o->since_ns;
	cfg.until_ns = o->until_ns;
	r = ctrlog_setreader_open(&cfg, &sr);
	if (r < 0) {
		cli_error("%s: cannot open the log %s: %s", cmd, info.log_path, ctrlog_strerror(r));
		goto out;
	}
	r = o->tail ? ctrlog_setreader_seek_tail(sr, o->tail_lines) : ctrlog_setreader_seek_start(sr);
	if (r < 0) {
		cli_error("%s: cannot read the log %s: %s", cmd, info.log_path, ctrlog_strerror(r));
		goto out;
	}
	setvbuf(stdout, NULL, _IOFBF, OUT_BUF_SIZE);
	setvbuf(stderr, NULL, _IOFBF, OUT_BUF_SIZE);

	for (;;) {
		/* Seen before the drain: once it exists every record is on disk, so a drain
		 * that starts after it and reaches the end of the live file has read them all. */
		bool exited = o->follow && exit_exists(ctr_dirfd);

		if (drain(cmd, dir, sr, &p, &skipped) < 0)
			goto out;
		if (!o->follow || exited || ctrlog_setreader_finished(sr))
			break;
		cli_printer_flush(&p);
		r = wait_change(&w, 1000);
		if (r < 0) {
			cli_error("%s: waiting for the log: %s", cmd, ctrlog_strerror(r));
			goto out;
		}
		if (r > 0) {
			idle = 0;
			continue;
		}
		/* A quiet second: make sure the monitor is still there to write `exit`. */
		if (!exit_exists(ctr_dirfd) && cli_monitor_pid(ctr_dirfd) == 0 && ++idle >= 2) {
			(void)drain(cmd, dir, sr, &p, &skipped);
			cli_printer_flush(&p);
			cli_error("%s: the monitor of '%s' is gone without recording an exit status",
				  cmd, id);
			goto out; /* everything there is was printed, but the end is unknown: 1 */
		}
	}
	while (ctrlog_setreader_take_held(sr, &it) > 0)
		(void)report_item(cmd, dir, &p, &it);
	cli_printer_flush(&p);
	if (lost_live)
		cli_error("%s: %s: %s", cmd, info.log_path, ctrlog_strerror(-ENOENT));
	status = skipped || lost_live ? 1 : 0;
out:
	fflush(stdout);
	fflush(stderr);
	if (w.fd >= 0)
		close(w.fd);
	ctrlog_setreader_free(sr);
	if (ctr_dirfd >= 0)
		close(ctr_dirfd);
	free(dir);
	free(root);
	return status;
}

int cmd_logs(int argc, char **argv)
{
	struct logs_opts o = { 0 };
	int r = parse_logs_args("logs", argc, argv, &o);

	if (r != 0)
		return r < 0 ? 1 : 0;
	return logs_main("logs", &o);
}

int cmd_follow(int argc, char **argv)
{
	struct logs_opts o = { 0 };
	int r = parse_logs_args("follow", argc, argv, &o);

	if (r != 0)
		return r < 0 ? 1 : 0;
	o.follow = true;
	return logs_main("follow", &o);
}

/* ---- ps ---- */

/* The live file and its rotated files, plain and compressed. */
static uint64_t log_size(const char *log_path)
{
	char *copy = strdup(log_path), *slash, *dir, *name;
	uint64_t total = 0;
	struct dirent *de;
	struct stat st;
	size_t len;
	DIR *d;

	if (!copy)
		return 0;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		dir = *copy ? copy : "/";
		name = slash + 1;
	} else {
		dir = ".";
		name = copy;
	}
	len = strlen(name);
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, name, len) != 0 ||
			    (de->d_name[len] != '\0' && de->d_name[len] != '.'))
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode))
				total += (uint64_t)st.st_size;
		}
		closedir(d);
	}
	free(copy);
	return total;
}

static void human_size(uint64_t v, char *buf, size_t size)
{
	static const char units[] = "BKMGTP";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lluB", (unsigned long long)v);
	else
		snprintf(buf, size, "%.1f%c", d, units[u]);
}

const char cli_ps_help[] =
	"usage: ctrlog ps [-a] [--root DIR]\n"
	"\n"
	"Lists the running containers, with -a the exited ones too, one line each:\n"
	"  ID        the first 12 characters of the container ID\n"
	"  NAME      its --name, or -\n"
	"  STATUS    running, exited (N) with N its exit status, or unknown (its monitor is gone\n"
	"            without an exit status; a run with the same ID continues its log)\n"
	"  DRIVERS   its log drivers\n"
	"  LOG-SIZE  the size of its k8s-file log on disk, history included, or -\n"
	"\n"
	"  -a, --all          the exited containers too\n"
	"      --root DIR     the state root (see below)\n"
	"  -h, --help         this help\n"
	"\n"
	CLI_ROOT_HELP;

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root_opt = NULL;
	bool all = false;
	struct cli_ctr_list l;
	char *root;
	int c, r;

	optind = 1;
	while ((c = cli_getopt("ps", argc, argv, "+:ah", opts)) != -1) {
		if (c == 'h')
			return cli_help("ps");
		if (c == 'a')
			all = true;
		else if (c != OPT_ROOT || cli_root_option("ps", optarg, &root_opt) < 0)
			return 1;
	}
	if (optind < argc) {
		cli_error("ps: unexpected argument '%s' (ps takes no arguments)", argv[optind]);
		return 1;
	}
	root = cli_state_root(root_opt);
	if (!root) {
		cli_error("ps: out of memory");
		return 1;
	}
	r = cli_list_containers(root, &l);
	/* No default root yet: nothing has run. A root the user chose must exist. */
	if (r == -ENOENT && !cli_state_root_is_explicit(root_opt)) {
		l = (struct cli_ctr_list){ 0 };
		r = 0;
	}
	if (r < 0) {
		cli_error("ps: cannot read %s: %s", root, ctrlog_strerror(r));
		free(root);
		return 1;
	}
	printf("%-12s  %-20s  %-12s  %-20s  %s\n", "ID", "NAME", "STATUS", "DRIVERS", "LOG-SIZE");
	for (size_t i = 0; i < l.n; i++) {
		struct cli_ctr_info info = { 0 };
		char status[32], size[32], code[16] = "";
		int fd = cli_open_container_dir(root, l.ids[i]), pid;

		if (fd < 0)
			continue;
		if (cli_read_config(fd, &info) < 0) {
			close(fd);
			continue;
		}
		pid = cli_monitor_pid(fd);
		if (pid > 0) {
			snprintf(status, sizeof(status), "running");
		} else {
			int efd = openat(fd, "exit", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

			if (efd >= 0) {
				ssize_t n = read(efd, code, sizeof(code) - 1);

				close(efd);
				code[n > 0 ? n : 0] = '\0';
				code[strcspn(code, "\n")] = '\0';
				snprintf(status, sizeof(status), "exited (%s)", code);
			} else {
				snprintf(status, sizeof(status), "unknown");
			}
		}
		close(fd);
		if (pid <= 0 && !all)
			continue;
		if (info.log_path[0])
			human_size(log_size(info.log_path), size, sizeof(size));
		else
			snprintf(size, sizeof(size), "-");
		printf("%-12.12s  %-20s  %-12s  %-20s  %s\n", l.ids[i],
		       info.name[0] ? info.name : "-", status,
		       info.drivers[0] ? info.drivers : "-", size);
	}
	cli_ctr_list_free(&l);
	free(root);
	return 0;
}
