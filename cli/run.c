/* SPDX-License-Identifier: MIT */
/*
 * `ctrlog run`: a minimal container monitor. It spawns the command with its stdout and stderr
 * on pipes (or a pty), drives the logger from its own epoll loop, reaps the command, writes the
 * exit file once every record is written, and exits with the command's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"

#define PIPE_SIZE (1 << 20)

struct run_opts {
	char *id;
	const char *name;
	const char *root;
	const char *log_path;
	const char *tag;
	const char **labels;
	size_t n_labels;
	unsigned drivers;
	uint64_t max_size;
	uint64_t max_files;
	int compress_level;
	uint64_t max_line;
	enum ctrlog_log_mode mode;
	uint64_t buffer_size;
	bool tty;
	bool detach;
	bool stats;
	bool cgroups_split;
	char **command;
};

struct monitor {
	struct run_opts *o;
	char *root;
	int ctr_dirfd;
	int pid_fd;
	char log_path[4096];
	ctrlog_logger *logger;
	pid_t child;
	int child_status; /* the exit status ctrlog run reports */
	bool child_done;
	int detach_fd;    /* write end of the pipe to the waiting parent, or -1 */
	uint64_t reported_errors; /* write-error episodes already reported on stderr */
	bool created_dir; /* this run made <root>/<id>: undo it if the container never starts */
	sigset_t saved_mask;
	struct cli_notify notify; /* $NOTIFY_SOCKET, taken out of the environment */
	struct cli_cgroup cg;     /* --cgroups split */
	bool stopping;            /* STOPPING=1 sent */
};

enum {
	OPT_ID = 256, OPT_NAME, OPT_ROOT, OPT_DRIVER, OPT_PATH, OPT_MAX_SIZE, OPT_MAX_FILES,
	OPT_COMPRESS, OPT_MAX_LINE, OPT_MODE, OPT_BUFFER, OPT_TAG, OPT_LABEL, OPT_TTY, OPT_DETACH,
	OPT_STATS, OPT_CGROUPS,
};

static const struct option long_opts[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "log-driver", required_argument, NULL, OPT_DRIVER },
	{ "log-path", required_argument, NULL, OPT_PATH },
	{ "log-max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "log-max-files", required_argument, NULL, OPT_MAX_FILES },
	{ "log-compress", required_argument, NULL, OPT_COMPRESS },
	{ "log-max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "log-mode", required_argument, NULL, OPT_MODE },
	{ "log-buffer-size", required_argument, NULL, OPT_BUFFER },
	{ "log-tag", required_argument, NULL, OPT_TAG },
	{ "log-label", required_argument, NULL, OPT_LABEL },
	{ "tty", no_argument, NULL, OPT_TTY },
	{ "detach", no_argument, NULL, OPT_DETACH },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "cgroups", required_argument, NULL, OPT_CGROUPS },
	{ NULL, 0, NULL, 0 },
};

static const struct {
	const char *name;
	unsigned bit;
} drivers[] = {
	{ "k8s-file", CTRLOG_DRIVER_K8S_FILE },
	{ "journald", CTRLOG_DRIVER_JOURNALD },
	{ "passthrough", CTRLOG_DRIVER_PASSTHROUGH },
	{ "none", CTRLOG_DRIVER_NONE },
};

static int parse_driver(const char *arg, unsigned *bits)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (strcmp(arg, drivers[i].name) == 0) {
			*bits |= drivers[i].bit;
			return 0;
		}
	}
	cli_error("--log-driver: unknown driver '%s' (expected k8s-file, journald, passthrough or none)",
		  arg);
	return -EINVAL;
}

static int parse_compress(const char *arg, int *level)
{
	uint64_t v;

	if (strcmp(arg, "none") == 0) {
		*level = CTRLOG_COMPRESS_NONE;
		return 0;
	}
	if (strcmp(arg, "zstd") == 0) {
		*level = CTRLOG_DEFAULT_ZSTD_LEVEL;
		return 0;
	}
	if (strncmp(arg, "zstd:", 5) == 0 && cli_parse_uint(arg + 5, 22, &v) == 0 && v >= 1) {
		*level = (int)v;
		return 0;
	}
	cli_error("--log-compress: invalid value '%s' (expected zstd, zstd:1..22 or none)", arg);
	return -EINVAL;
}

static int parse_size_opt(const char *opt, const char *arg, uint64_t *ret)
{
	if (cli_parse_size(arg, ret) == 0)
		return 0;
	cli_error("%s: invalid size '%s' (expected bytes or a number with k, m or g, e.g. 10m)", opt,
		  arg);
	return -EINVAL;
}

/* Fields the journald sink sets itself; a label must not give them a second value. */
static bool reserved_field(const char *key, size_t len)
{
	static const char *const reserved[] = { "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER" };

	if (len >= 10 && strncmp(key, "CONTAINER_", 10) == 0)
		return true;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len && strncmp(key, reserved[i], len) == 0)
			return true;
	return false;
}

/* journald field names: upper-case letters, digits and '_', starting with a letter, at most
 * 64 characters; journald silently drops any other field. */
static int validate_label(const char *label)
{
	const char *eq = strchr(label, '=');
	const char *p = label;

	if (eq && eq - label <= 64 && label[0] >= 'A' && label[0] <= 'Z') {
		while (p < eq && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			p++;
		if (p == eq && !reserved_field(label, (size_t)(eq - label)))
			return 0;
		if (p == eq) {
			cli_error("--log-label: '%.*s' is set by ctrlog itself and cannot be a label",
				  (int)(eq - label), label);
			return -EINVAL;
		}
	}
	cli_error("--log-label: invalid label '%s' (expected KEY=VALUE, KEY of A-Z, 0-9 and _, starting with a letter, at most 64 characters)",
		  label);
	return -EINVAL;
}

static int parse_option(struct run_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_ID:
		if (ctrlog_id_validate(arg) < 0) {
			cli_error("--id: invalid container ID '%s' (1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)",
				  arg);
			return -EINVAL;
		}
		o->id = strdup(arg);
		return o->id ? 0 : -ENOMEM;
	case OPT_NAME:
		if (ctrlog_id_validate(arg) < 0) {
			cli_error("--name: invalid name '%s' (1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)",
				  arg);
			return -EINVAL;
		}
		o->name = arg;
		return 0;
	case OPT_ROOT: o->root = arg; return 0;
	case OPT_DRIVER: return parse_driver(arg, &o->drivers);
	case OPT_PATH: o->log_path = arg; return 0;
	case OPT_MAX_SIZE: return parse_size_opt("--log-max-size", arg, &o->max_size);
	case OPT_MAX_FILES:
		if (cli_parse_uint(arg, 100000, &o->max_files) == 0)
			return 0;
		cli_error("--log-max-files: invalid count '%s' (expected 0 to 100000)", arg);
		return -EINVAL;
	case OPT_COMPRESS: return parse_compress(arg, &o->compress_level);
	case OPT_MAX_LINE:
		if (parse_size_opt("--log-max-line", arg, &o->max_line) < 0)
			return -EINVAL;
		if (o->max_line >= 1 && o->max_line <= (64u << 20))
			return 0;
		cli_error("--log-max-line: '%s' out of range (1 to 64m)", arg);
		return -EINVAL;
	case OPT_MODE:
		if (strcmp(arg, "blocking") == 0 || strcmp(arg, "non-blocking") == 0) {
			o->mode = arg[0] == 'b' ? CTRLOG_MODE_BLOCKING : CTRLOG_MODE_NON_BLOCKING;
			return 0;
		}
		cli_error("--log-mode: invalid mode '%s' (expected blocking or non-blocking)", arg);
		return -EINVAL;
	case OPT_BUFFER: return parse_size_opt("--log-buffer-size", arg, &o->buffer_size);
	case OPT_TAG: o->tag = arg; return 0;
	case OPT_LABEL: {
		const char **l;

		if (validate_label(arg) < 0)
			return -EINVAL;
		l = realloc(o->labels, (o->n_labels + 1) * sizeof(*l));
		if (!l)
			return -ENOMEM;
		o->labels = l;
		o->labels[o->n_labels++] = arg;
		return 0;
	}
	case OPT_TTY: o->tty = true; return 0;
	case OPT_DETACH: o->detach = true; return 0;
	case OPT_STATS: o->stats = true; return 0;
	case OPT_CGROUPS:
		if (strcmp(arg, "split") == 0 || strcmp(arg, "disabled") == 0) {
			o->cgroups_split = arg[0] == 's';
			return 0;
		}
		cli_error("--cgroups: invalid value '%s' (expected split or disabled)", arg);
		return -EINVAL;
	default:
		return -EINVAL; /* getopt already named the option */
	}
}

static int generate_id(struct run_opts *o)
{
	unsigned char raw[32];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	o->id = malloc(2 * sizeof(raw) + 1);
	if (!o->id)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(o->id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int parse_args(struct run_opts *o, int argc, char **argv)
{
	int c;

	o->max_size = CTRLOG_DEFAULT_MAX_SIZE;
	o->max_files = CTRLOG_DEFAULT_MAX_FILES;
	o->compress_level = CTRLOG_DEFAULT_ZSTD_LEVEL;
	o->max_line = CTRLOG_DEFAULT_MAX_LINE;
	o->buffer_size = 1u << 20;
	opterr = 0;
	/* '+': options stop at the command, whose own options are its business. */
	while ((c = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
		if (c == '?') {
			if (optopt)
				cli_error("run: option '%s' needs a value", argv[optind - 1]);
			else
				cli_error("run: unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_option(o, c, optarg) < 0)
			return -EINVAL;
	}
	if (optind >= argc) {
		cli_error("run: missing COMMAND (usage: ctrlog run [OPTIONS] [--] COMMAND [ARG...])");
		return -EINVAL;
	}
	o->command = argv + optind;
	if (o->drivers == 0)
		o->drivers = CTRLOG_DRIVER_K8S_FILE;
	return o->id ? 0 : generate_id(o);
}

static void append_kv(char *buf, size_t size, const char *key, const char *value)
{
	size_t len = strlen(buf);

	if (value)
		snprintf(buf + len, size - len, "%s=%s\n", key, value);
}

static void drivers_string(unsigned bits, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (!(bits & drivers[i].bit))
			continue;
		if (out[0])
			strncat(out, ",", size - strlen(out) - 1);
		strncat(out, drivers[i].name, size - strlen(out) - 1);
	}
}

/* config: what a reader (ctrlog logs, ps, rotate) needs to find and read this container. */
static int write_config(struct monitor *m)
{
	struct run_opts *o = m->o;
	char buf[8192] = "", num[64], drv[128], comp[16];

	append_kv(buf, sizeof(buf), "ID", o->id);
	append_kv(buf, sizeof(buf), "NAME", o->name);
	append_kv(buf, sizeof(buf), "TAG", o->tag);
	drivers_string(o->drivers, drv, sizeof(drv));
	append_kv(buf, sizeof(buf), "DRIVERS", drv);
	append_kv(buf, sizeof(buf), "LOG_PATH",
		  (o->drivers & CTRLOG_DRIVER_K8S_FILE) ? m->log_path : NULL);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->max_size);
	append_kv(buf, sizeof(buf), "LOG_MAX_SIZE", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->max_files);
	append_kv(buf, sizeof(buf), "LOG_MAX_FILES", num);
	if (o->compress_level == CTRLOG_COMPRESS_NONE)
		snprintf(comp, sizeof(comp), "none");
	else
		snprintf(comp, sizeof(comp), "zstd:%d", o->compress_level);
	append_kv(buf, sizeof(buf), "LOG_COMPRESS", comp);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->max_line);
	append_kv(buf, sizeof(buf), "LOG_MAX_LINE", num);
	snprintf(num, sizeof(num), "%lld", (long long)time(NULL));
	append_kv(buf, sizeof(buf), "CREATED", num);
	append_kv(buf, sizeof(buf), "COMMAND", o->command[0]);
	return cli_write_file_atomic(m->ctr_dirfd, "config", buf, 0640);
}

/* <root>/<id>/, 0700, never through a symlink. An existing directory is reused (a restart). */
static int open_container_dir(struct monitor *m)
{
	int rootfd, r;

	r = cli_mkdir_p(m->root, 0700);
	if (r < 0) {
		cli_error("--root: cannot create '%s': %s", m->root, ctrlog_strerror(r));
		return r;
	}
	rootfd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		cli_error("--root: cannot open '%s': %s", m->root, ctrlog_strerror(r));
		return r;
	}
	if (mkdirat(rootfd, m->o->id, 0700) == 0)
		m->created_dir = true;
	else if (errno != EEXIST) {
		r = -errno;
		close(rootfd);
		cli_error("cannot create '%s/%s': %s", m->root, m->o->id, ctrlog_strerror(r));
		return r;
	}
	m->ctr_dirfd = openat(rootfd, m->o->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = m->ctr_dirfd < 0 ? -errno : 0;
	close(rootfd);
	if (r < 0)
		cli_error("cannot open '%s/%s': %s", m->root, m->o->id,
			  r == -ENOTDIR || r == -ELOOP ? "not a directory (symlink?)" : ctrlog_strerror(r));
	return r;
}

static int check_not_running(struct monitor *m)
{
	int pid = cli_monitor_pid(m->ctr_dirfd);

	if (pid > 0) {
		cli_error("--id: container '%s' is already running (monitor PID %d)", m->o->id, pid);
		return -EBUSY;
	}
	return 0;
}

/* Takes the monitor lock (see cli_monitor_pid()) and writes the PID. */
static int write_monitor_pid(struct monitor *m)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char buf[32];
	int len, r;

	m->pid_fd = openat(m->ctr_dirfd, "monitor.pid",
			   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (m->pid_fd < 0)
		return -errno;
	if (fcntl(m->pid_fd, F_SETLK, &lk) < 0)
		return errno == EACCES || errno == EAGAIN ? -EBUSY : -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(m->pid_fd, 0) < 0 || pwrite(m->pid_fd, buf, (size_t)len, 0) != len)
		return -errno;
	r = 0;
	return r;
}

static int make_logger(struct monitor *m)
{
	struct run_opts *o = m->o;
	struct ctrlog_config cfg;
	int r;

	ctrlog_config_init(&cfg);
	cfg.drivers = o->drivers;
	cfg.log_path = m->log_path;
	cfg.container_id = o->id;
	cfg.name = o->name;
	cfg.tag = o->tag;
	cfg.labels = o->labels;
	cfg.n_labels = o->n_labels;
	cfg.max_line = (uint32_t)o->max_line;
	cfg.max_size = o->max_size;
	cfg.max_files = (uint32_t)o->max_files;
	cfg.compress_level = o->compress_level;
	cfg.mode = o->mode;
	cfg.buffer_size = o->buffer_size;
	r = ctrlog_logger_new(&cfg, &m->logger);
	if (r == -ENOTSUP)
		cli_error("--log-driver: a requested driver is not available in this build");
	else if (r == -ELOOP)
		cli_error("--log-path: '%s' is a symlink; refusing to follow it", m->log_path);
	else if (r == -ECONNREFUSED && (o->drivers & CTRLOG_DRIVER_JOURNALD))
		cli_error("--log-driver journald: journald is not running (nothing listens on /run/systemd/journal/socket)");
	else if (r < 0)
		cli_error("cannot open the log '%s': %s", m->log_path, ctrlog_strerror(r));
	return r;
}

/* --- the child ----------------------------------------------------------------------------- */

struct child_io {
	int out[2], err[2]; /* pipes: [0] read, [1] write */
	int pty_master;
	char pty_name[128];
	int exec_status[2]; /* CLOEXEC pipe: the child writes errno here if exec fails */
};

static int open_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Large pipes let the logger read a whole megabyte per syscall; an unprivileged caller
	 * over its pipe quota simply keeps the default size. */
	(void)fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	return 0;
}

static int open_pty(struct child_io *io)
{
	io->pty_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (io->pty_master < 0)
		return -errno;
	if (grantpt(io->pty_master) < 0 || unlockpt(io->pty_master) < 0 ||
	    ptsname_r(io->pty_master, io->pty_name, sizeof(io->pty_name)) != 0)
		return -errno;
	return 0;
}

/* Runs in the child between fork() and exec(): only async-signal-safe calls. */
static void __attribute__((noreturn)) exec_child(struct monitor *m, struct child_io *io)
{
	int devnull, e;

	/* First, so that the command never runs outside container/. A negative value on the
	 * exec-status pipe tells the monitor that it failed (status 125, not 126). */
	if (m->cg.active && (e = cli_cgroup_enter_container(&m->cg)) < 0) {
		(void)!write(io->exec_status[1], &e, sizeof(e));
		_exit(EXIT_CTRLOG_FAILED);
	}
	setsid();
	/* The command starts with no signal blocked and none ignored, whatever we inherited. */
	sigemptyset(&m->saved_mask);
	sigprocmask(SIG_SETMASK, &m->saved_mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (m->o->tty) {
		int slave = open(io->pty_name, O_RDWR);

		if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
			goto fail;
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			goto fail;
	} else {
		devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(io->out[1], 1) < 0 ||
		    dup2(io->err[1], 2) < 0)
			goto fail;
	}
	execvp(m->o->command[0], m->o->command);
fail:
	e = errno;
	(void)!write(io->exec_status[1], &e, sizeof(e));
	_exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Returns 0 once the command runs, or the status to exit with. */
static int spawn_child(struct monitor *m)
{
	struct child_io io = { { -1, -1 }, { -1, -1 }, -1, "", { -1, -1 } };
	int e = 0, r;
	ssize_t n;

	r = m->o->tty ? open_pty(&io) : open_pipe(io.out);
	if (r == 0 && !m->o->tty)
		r = open_pipe(io.err);
	if (r == 0 && pipe2(io.exec_status, O_CLOEXEC) < 0)
		r = -errno;
	if (r < 0) {
		cli_error("cannot create the container's %s: %s", m->o->tty ? "pty" : "pipes",
			  ctrlog_strerror(r));
		goto fail;
	}
	m->child = fork();
	if (m->child < 0) {
		r = -errno;
		cli_error("cannot fork: %s", ctrlog_strerror(r));
		goto fail;
	}
	if (m->child == 0)
		exec_child(m, &io);
	close_fd(&io.exec_status[1]);
	close_fd(&io.out[1]);
	close_fd(&io.err[1]);
	/* The logger owns the read ends from here on, also when adding fails. */
	if (m->o->tty) {
		r = ctrlog_logger_add_fd(m->logger, io.pty_master, CTRLOG_STDOUT);
	} else {
		r = ctrlog_logger_add_fd(m->logger, io.out[0], CTRLOG_STDOUT);
		io.out[0] = -1;
		if (r == 0)
			r = ctrlog_logger_add_fd(m->logger, io.err[0], CTRLOG_STDERR);
		io.err[0] = -1;
	}
	io.pty_master = -1;
	if (r < 0) {
		cli_error("cannot watch the container's output: %s", ctrlog_strerror(r));
		kill(m->child, SIGKILL);
		goto fail;
	}
	do
		n = read(io.exec_status[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close_fd(&io.exec_status[0]);
	if (n == (ssize_t)sizeof(e) && e < 0) {
		cli_error("--cgroups split: cannot move the command into '%s/container': %s",
			  m->cg.dir, ctrlog_strerror(e));
		/* Reaped here: container/ can only be removed once it is gone. */
		while (waitpid(m->child, NULL, 0) < 0 && errno == EINTR)
			;
		m->child_done = true;
		return EXIT_CTRLOG_FAILED;
	}
	if (n == (ssize_t)sizeof(e)) {
		cli_error("%s: %s", m->o->command[0],
			  e == ENOENT ? "command not found" : ctrlog_strerror(e));
		return e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	}
	return 0;
fail:
	close_fd(&io.out[0]);
	close_fd(&io.out[1]);
	close_fd(&io.err[0]);
	close_fd(&io.err[1]);
	close_fd(&io.pty_master);
	close_fd(&io.exec_status[0]);
	close_fd(&io.exec_status[1]);
	return EXIT_CTRLOG_FAILED;
}

/* --- the loop ------------------------------------------------------------------------------ */

static int status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_CTRLOG_FAILED;
}

static void reap_child(struct monitor *m)
{
	int wstatus;
	pid_t p;

	while ((p = waitpid(m->child, &wstatus, WNOHANG)) < 0 && errno == EINTR)
		;
	if (p == m->child) {
		m->child_status = status_of(wstatus);
		m->child_done = true;
	}
}

static void on_signal(struct monitor *m, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_child(m);
			break;
		case SIGTERM:
		case SIGINT:
			if (!m->child_done && !m->stopping) {
				m->stopping = true;
				(void)cli_notify(&m->notify, "STOPPING=1");
			}
			if (!m->child_done)
				kill(m->child, (int)si.ssi_signo);
			break;
		case SIGUSR1:
			(void)ctrlog_logger_rotate(m->logger);
			break;
		case SIGHUP:
			(void)ctrlog_logger_reopen(m->logger);
			break;
		}
	}
}

static int watched_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	return 0;
}

/* Says once per error episode which sink failed and why: a full disk must not turn into a
 * line of ctrlog's own per failed write. */
static void report_write_errors(struct monitor *m)
{
	struct ctrlog_stats st;

	if (ctrlog_logger_get_stats(m->logger, &st) < 0 || st.write_errors == m->reported_errors)
		return;
	m->reported_errors = st.write_errors;
	if (st.last_write_error_driver == CTRLOG_DRIVER_JOURNALD)
		cli_error("sending to journald failed: %s; lost lines are counted and sending is retried",
			  ctrlog_strerror(st.last_write_error));
	else
		cli_error("writing '%s' failed: %s; lost lines are counted, a marker record notes them once writing works again",
			  st.last_write_error_driver == CTRLOG_DRIVER_PASSTHROUGH ? "stdout/stderr" : m->log_path,
			  ctrlog_strerror(st.last_write_error));
}

enum { TAG_LOGGER, TAG_SIGNAL };

static int add_watch(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

#define DRAIN_QUIET_MS 100
#define DRAIN_GRACE_MS 2000

/*
 * The command has exited. What it wrote through pipes is there already (its writes completed),
 * but a pty's last output may still be on its way through the tty layer: read until every
 * stream ends, stopping after a quiet period or a bound in case a process the command left
 * behind holds a stream open. That process's later output is not waited for, as with conmon.
 */
static int drain_after_exit(struct monitor *m)
{
	struct pollfd p = { .fd = ctrlog_logger_get_fd(m->logger), .events = POLLIN };
	int open = ctrlog_logger_drain(m->logger);

	for (int waited = 0; open > 0 && waited < DRAIN_GRACE_MS; waited += DRAIN_QUIET_MS) {
		if (poll(&p, 1, DRAIN_QUIET_MS) == 0)
			break;
		open = ctrlog_logger_drain(m->logger);
	}
	return open < 0 ? open : 0;
}

/* Logs until the command has exited, then drains what it left behind. */
static int monitor_loop(struct monitor *m, int sfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), r = 0;

	if (ep < 0)
		return -errno;
	r = add_watch(ep, ctrlog_logger_get_fd(m->logger), TAG_LOGGER);
	if (r == 0)
		r = add_watch(ep, sfd, TAG_SIGNAL);
	reap_child(m); /* a child that died before the signalfd existed */
	while (r == 0 && !m->child_done) {
		struct epoll_event ev[2];
		int n = epoll_wait(ep, ev, 2, -1);

		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == TAG_SIGNAL) {
				on_signal(m, sfd);
			} else {
				int open = ctrlog_logger_dispatch(m->logger);

				if (open < 0)
					r = open;
				report_write_errors(m);
			}
		}
	}
	if (r == 0)
		r = drain_after_exit(m);
	report_write_errors(m); /* also what failed while draining */
	close(ep);
	return r;
}

/* --- detaching ----------------------------------------------------------------------------- */

/*
 * Double fork: the caller waits on a pipe until the monitor (its grandchild, a session leader
 * of its own so it outlives the caller's terminal) reports that the command runs. Returns in the
 * monitor; the caller exits from here.
 */
static void detach(struct monitor *m)
{
	int sync[2], status = EXIT_CTRLOG_FAILED;
	pid_t pid;
	ssize_t n;

	if (pipe2(sync, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		cli_error("cannot detach: %s", ctrlog_strerror(-errno));
		exit(EXIT_CTRLOG_FAILED);
	}
	if (pid == 0) {
		close(sync[0]);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? EXIT_CTRLOG_FAILED : 0);
		setsid();
		m->detach_fd = sync[1];
		return;
	}
	close(sync[1]);
	waitpid(pid, NULL, 0);
	do
		n = read(sync[0], &status, sizeof(status));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(status) && status == 0)
		printf("%s\n", m->o->id);
	exit(n == (ssize_t)sizeof(status) ? status : EXIT_CTRLOG_FAILED);
}

/* Tells the waiting caller the outcome; on success the monitor lets go of its stdio so that a
 * caller reading our stdout (`id=$(ctrlog run --detach ...)`) is not held open. */
static void report_detached(struct monitor *m, int status)
{
	if (m->detach_fd < 0)
		return;
	if (status == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			if (devnull > 2)
				close(devnull);
		}
	}
	(void)!write(m->detach_fd, &status, sizeof(status));
	close(m->detach_fd);
	m->detach_fd = -1;
}

/* --- exit ---------------------------------------------------------------------------------- */

static void print_stats(const struct monitor *m)
{
	static const char *const names[] = { "stdout", "stderr" };
	struct ctrlog_stats st;
	struct rusage ru;

	if (ctrlog_logger_get_stats(m->logger, &st) < 0 || getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		const struct ctrlog_stream_stats *s = &st.stream[i];

		fprintf(stderr, "%s_bytes_in=%llu\n%s_records=%llu\n%s_partial_records=%llu\n"
			"%s_bytes_out=%llu\n",
			names[i], (unsigned long long)s->bytes_in, names[i],
			(unsigned long long)s->records, names[i],
			(unsigned long long)s->partial_records, names[i],
			(unsigned long long)s->bytes_out);
	}
	fprintf(stderr, "reads=%llu\nwrites=%llu\nwrite_errors=%llu\ndropped_bytes=%llu\n"
		"rotations=%llu\ncompressed_files=%llu\ncompress_bytes_in=%llu\n"
		"compress_bytes_out=%llu\ncompress_cpu_s=%.6f\ncompress_errors=%llu\n",
		(unsigned long long)st.reads, (unsigned long long)st.writes,
		(unsigned long long)st.write_errors, (unsigned long long)st.dropped_bytes,
		(unsigned long long)st.rotations, (unsigned long long)st.compressed_files,
		(unsigned long long)st.compress_bytes_in, (unsigned long long)st.compress_bytes_out,
		(double)st.compress_cpu_ns / 1e9, (unsigned long long)st.compress_errors);
	fprintf(stderr, "cpu_user_s=%ld.%06ld\ncpu_sys_s=%ld.%06ld\nmax_rss_kb=%ld\n",
		(long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec,
		(long)ru.ru_stime.tv_usec, ru.ru_maxrss);
}

static int write_exit_file(struct monitor *m)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d\n", m->child_status);
	return cli_write_file_atomic(m->ctr_dirfd, "exit", buf, 0640);
}

/* The whole sequence once the options are known; returns the exit status. */
static int run_monitor(struct monitor *m, int sfd)
{
	int status, r;

	r = write_monitor_pid(m);
	if (r < 0) {
		cli_error("cannot lock '%s/%s/monitor.pid': %s", m->root, m->o->id,
			  r == -EBUSY ? "the container is already running" : ctrlog_strerror(r));
		return EXIT_CTRLOG_FAILED;
	}
	if (m->o->cgroups_split && cli_cgroup_split(&m->cg) < 0)
		return EXIT_CTRLOG_FAILED;
	status = spawn_child(m);
	if (status == 0) /* the command runs; a detached monitor is the unit's main process now */
		(void)cli_notify_ready(&m->notify, m->detach_fd >= 0);
	report_detached(m, status);
	if (status == EXIT_CTRLOG_FAILED)
		return status;
	r = monitor_loop(m, sfd);
	if (status == 0 && r < 0)
		cli_error("logging failed: %s", ctrlog_strerror(r));
	if (status == 0)
		status = m->child_done ? m->child_status : EXIT_CTRLOG_FAILED;
	else
		while (!m->child_done && waitpid(m->child, NULL, 0) < 0 && errno == EINTR)
			;
	m->child_status = status;
	if (m->o->stats)
		print_stats(m);
	/* Every record reaches the sinks before the exit file says the container is done. */
	ctrlog_logger_free(m->logger);
	m->logger = NULL;
	cli_cgroup_remove(&m->cg);
	r = write_exit_file(m);
	if (r < 0)
		cli_error("cannot write '%s/%s/exit': %s", m->root, m->o->id, ctrlog_strerror(r));
	return status;
}

/* A container refused before it started leaves nothing behind (`ctrlog ps -a` must not list
 * it) when this run created its directory; an existing directory keeps its history. */
static void forget_new_container(struct monitor *m)
{
	static const char *const ours[] = { "config", "ctr.log" };
	char path[4200];
	struct stat st;

	if (!m->created_dir)
		return;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (fstatat(m->ctr_dirfd, ours[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (i == 0 || st.st_size == 0))
			(void)unlinkat(m->ctr_dirfd, ours[i], 0);
	snprintf(path, sizeof(path), "%s/%s", m->root, m->o->id);
	(void)rmdir(path); /* fails, harmlessly, if anything else is in it */
}

static int prepare(struct monitor *m)
{
	int r = open_container_dir(m);

	if (r < 0)
		return r;
	r = check_not_running(m);
	if (r < 0)
		return r;
	if (m->o->log_path)
		snprintf(m->log_path, sizeof(m->log_path), "%s", m->o->log_path);
	else
		snprintf(m->log_path, sizeof(m->log_path), "%s/%s/ctr.log", m->root, m->o->id);
	(void)unlinkat(m->ctr_dirfd, "exit", 0);
	r = write_config(m);
	if (r < 0)
		cli_error("cannot write '%s/%s/config': %s", m->root, m->o->id, ctrlog_strerror(r));
	else
		r = make_logger(m);
	if (r < 0)
		forget_new_container(m);
	return r;
}

/* Dispositions a monitor must not inherit: an ignored SIGINT or SIGTERM never reaches the
 * signalfd, and an ignored SIGCHLD makes the kernel reap the command before we can. */
static void reset_signal_dispositions(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct monitor m = { .o = &o, .ctr_dirfd = -1, .pid_fd = -1, .detach_fd = -1 };
	int sfd = -1, status = EXIT_CTRLOG_FAILED;
	sigset_t set;

	reset_signal_dispositions();
	if (parse_args(&o, argc, argv) < 0)
		goto out;
	cli_notify_init(&m.notify);
	m.root = cli_state_root(o.root);
	if (!m.root || prepare(&m) < 0)
		goto out;
	if (o.detach) {
		fflush(stdout);
		detach(&m);
	}
	/* Signals arrive through a signalfd in the loop; SIGPIPE would kill us when a
	 * passthrough reader goes away, EPIPE is handled instead. */
	signal(SIGPIPE, SIG_IGN);
	watched_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &m.saved_mask);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		cli_error("cannot create a signalfd: %s", ctrlog_strerror(-errno));
		report_detached(&m, EXIT_CTRLOG_FAILED);
		goto out;
	}
	status = run_monitor(&m, sfd);
	cli_cgroup_remove(&m.cg); /* after a failure: run_monitor did it otherwise */
out:
	if (sfd >= 0)
		close(sfd);
	ctrlog_logger_free(m.logger);
	if (m.ctr_dirfd >= 0)
		close(m.ctr_dirfd);
	free(m.root);
	free(o.id);
	free(o.labels);
	return status;
}
