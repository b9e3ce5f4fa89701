/* SPDX-License-Identifier: MIT */
/*
 * `ctrlog run`: a minimal container monitor. It spawns the command with its stdout and stderr
 * on pipes (or a pty), drives the logger from its own epoll loop, reaps the command, writes the
 * exit file once every record is written, and exits with the command's status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "ctrlog/ctrlog.h"
#include "rotate/naming.h"

#define PIPE_SIZE (1 << 20)

struct monitor {
	struct run_opts *o;
	char *root;
	int ctr_dirfd;
	int pid_fd;       /* monitor.pid, write-locked until the monitor exits */
	char log_path[4096];
	ctrlog_logger *logger;
	pid_t child;
	int child_status; /* the exit status ctrlog run reports */
	bool child_done;
	int detach_fd;    /* write end of the pipe to the waiting parent, or -1 */
	uint64_t reported_errors; /* write-error episodes already reported on stderr */
	uint64_t reported_rotation_errors, reported_compress_errors, reported_internal_errors;
	bool created_dir; /* this run made <root>/<id>: undo it if the container never starts */
	sigset_t saved_mask;
	struct cli_notify notify; /* $NOTIFY_SOCKET, taken out of the environment */
	struct cli_cgroup cg;     /* --cgroups split */
	bool stopping;            /* STOPPING=1 sent */
	unsigned stop_requests;   /* SIGTERM and SIGINT received */
};

/* config: what a reader (ctrlog logs, ps, rotate) needs to find and read this container. */
static int write_config(struct monitor *m)
{
	struct run_opts *o = m->o;
	char max_size[24], max_files[24], max_line[24], created[24], drv[128], comp[16];
	const char *const kv[] = {
		"ID", o->id,
		"NAME", o->name,
		"TAG", o->tag,
		"DRIVERS", drv,
		"LOG_PATH", (o->drivers & CTRLOG_DRIVER_K8S_FILE) ? m->log_path : NULL,
		"LOG_MAX_SIZE", max_size,
		"LOG_MAX_FILES", max_files,
		"LOG_COMPRESS", comp,
		"LOG_MAX_LINE", max_line,
		"CREATED", created,
		"COMMAND", o->command[0],
	};

	run_drivers_string(o->drivers, drv, sizeof(drv));
	snprintf(max_size, sizeof(max_size), "%llu", (unsigned long long)o->max_size);
	snprintf(max_files, sizeof(max_files), "%llu", (unsigned long long)o->max_files);
	if (o->compress_level == CTRLOG_COMPRESS_NONE)
		snprintf(comp, sizeof(comp), "none");
	else
		snprintf(comp, sizeof(comp), "zstd:%d", o->compress_level);
	snprintf(max_line, sizeof(max_line), "%llu", (unsigned long long)o->max_line);
	snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
	return cli_write_config(m->ctr_dirfd, kv, sizeof(kv) / sizeof(kv[0]));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* <root>/<id>/, 0700, never through a symlink. An existing directory is reused (a restart). */
static int open_container_dir(struct monitor *m)
{
	int rootfd, r;

	r = cli_mkdir_p(m->root, 0700);
	if (r < 0) {
		cli_error("run: --root: cannot create '%s': %s", m->root, ctrlog_strerror(r));
		return r;
	}
	rootfd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		cli_error("run: --root: cannot open '%s': %s", m->root, ctrlog_strerror(r));
		return r;
	}
	if (mkdirat(rootfd, m->o->id, 0700) == 0)
		m->created_dir = true;
	else if (errno != EEXIST) {
		r = -errno;
		close(rootfd);
		cli_error("run: cannot create '%s/%s': %s", m->root, m->o->id, ctrlog_strerror(r));
		return r;
	}
	m->ctr_dirfd = openat(rootfd, m->o->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = m->ctr_dirfd < 0 ? -errno : 0;
	close(rootfd);
	if (r < 0)
		cli_error("run: cannot open '%s/%s': %s", m->root, m->o->id,
			  r == -ENOTDIR || r == -ELOOP ? "not a directory (symlink?)" : ctrlog_strerror(r));
	return r;
}

/* --replace: the old container's log set goes, so that this run starts a fresh one. */
static int remove_old_log(struct monitor *m)
{
	struct cli_ctr_info old;
	int r = cli_read_config(m->ctr_dirfd, &old);

	if (r == -ENOENT)
		return 0; /* nothing ran under this ID yet */
	if (r < 0) {
		cli_error("run: --replace: cannot read '%s/%s/config': %s", m->root, m->o->id,
			  ctrlog_strerror(r));
		return r;
	}
	r = old.log_path[0] ? cli_remove_log_set(old.log_path) : 0;
	if (r < 0)
		cli_error("run: --replace: cannot remove the old log '%s': %s", old.log_path,
			  ctrlog_strerror(r));
	return r;
}

/* The container's one monitor. Found by its lock on monitor.pid, never by the PID alone. */
static void report_running(struct monitor *m)
{
	int pid = cli_monitor_pid(m->ctr_dirfd);

	if (pid > 0)
		cli_error("run: container '%s' is already running (monitor PID %d)", m->o->id, pid);
	else
		cli_error("run: container '%s' is already running (its monitor is starting)", m->o->id);
}

/*
 * Takes the container, before anything of it is touched: an OFD write lock on monitor.pid. It
 * belongs to the open file description, so it passes through --detach's forks to the monitor
 * and goes when the monitor exits (a POSIX record lock would stay with the caller). Two runs
 * with one ID may start at the same moment: the loser changes nothing. A run that gives up
 * (forget_new_container()) unlinks the file, which ctrlog_lock_file() sees. Our PID follows in
 * write_monitor_pid().
 */
static int lock_container(struct monitor *m)
{
	int r = ctrlog_lock_file(m->ctr_dirfd, "monitor.pid", 0644);

	if (r >= 0) {
		m->pid_fd = r;
		/* the previous monitor's PID */
		r = ftruncate(m->pid_fd, 0) < 0 ? -errno : 0;
		if (r < 0)
			close_fd(&m->pid_fd);
	}
	if (r == -EBUSY)
		report_running(m);
	else if (r < 0)
		cli_error("run: cannot lock '%s/%s/monitor.pid': %s", m->root, m->o->id,
			  ctrlog_strerror(r));
	return r;
}

/* Written by the process that stays the monitor: after --detach's forks. */
static int write_monitor_pid(struct monitor *m)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	ssize_t n = pwrite(m->pid_fd, buf, (size_t)len, 0);

	if (n == len)
		return 0;
	cli_error("run: cannot write '%s/%s/monitor.pid': %s", m->root, m->o->id,
		  ctrlog_strerror(n < 0 ? -errno : -EIO));
	return n < 0 ? -errno : -EIO;
}

/*
 * Whether this run may take the ID, which it holds locked: no other monitor runs. An exited
 * container (its `exit` file) is not silently continued, since its log would then mix two
 * runs: only --replace takes it, with a fresh log. Without `exit`, the monitor crashed: its
 * log is continued (DESIGN.md).
 */
static int check_id_free(struct monitor *m)
{
	if (m->o->replace)
		return remove_old_log(m);
	if (faccessat(m->ctr_dirfd, "exit", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		cli_error("run: container '%s' already exists (exited); use --replace to start a fresh log, or choose another --id",
			  m->o->id);
		return -EEXIST;
	}
	return 0;
}

static int make_logger(struct monitor *m)
{
	struct run_opts *o = m->o;
	struct ctrlog_config cfg;
	struct stat st;
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
		cli_error("run: --log-driver: a requested driver is not available in this build");
	else if (r == -ELOOP)
		cli_error("run: --log-path: '%s' is a symlink; refusing to follow it", m->log_path);
	else if (r == -ECONNREFUSED && (o->drivers & CTRLOG_DRIVER_JOURNALD))
		cli_error("run: --log-driver journald: journald is not running (nothing listens on /run/systemd/journal/socket)");
	else if (r == -EBUSY)
		cli_error("run: the log '%s' is in use by another monitor", m->log_path);
	else if (r == -EINVAL && lstat(m->log_path, &st) == 0 && !S_ISREG(st.st_mode))
		cli_error("run: --log-path: '%s' is not a regular file", m->log_path);
	else if (r == -EBADMSG)
		cli_error("run: cannot open the log '%s': its record of the last rotation number (.<name>.last-rotation) is not a number",
			  m->log_path);
	else if (r < 0)
		cli_error("run: cannot open the log '%s': %s", m->log_path, ctrlog_strerror(r));
	return r;
}

/* --- the child ----------------------------------------------------------------------------- */

struct child_io {
	int out[2], err[2]; /* pipes: [0] read, [1] write */
	int pty_master;
	char pty_name[128];
	int exec_status[2]; /* CLOEXEC pipe: the child reports here what failed before exec */
};

/* What the child reports on the exec-status pipe when it does not get to run the command. */
enum child_stage {
	CHILD_CGROUP, /* moving into container/: ctrlog failed */
	CHILD_STDIO,  /* setting up fds 0, 1, 2: ctrlog failed */
	CHILD_FDS,    /* keeping the other fds from the command: ctrlog failed */
	CHILD_EXEC,   /* exec itself: the command cannot be run */
};

struct child_error {
	int stage;
	int err; /* errno */
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

/* The fallback of cloexec_from() before Linux 5.11: every fd listed in /proc/self/fd, read
 * with getdents64() because opendir() allocates. */
static int cloexec_listed_from(int first)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct dirent64))));
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (dfd < 0)
		return -errno;
	while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + off);
			int fd = 0;

			for (const char *p = de->d_name; *p >= '0' && *p <= '9'; p++)
				fd = fd * 10 + (*p - '0');
			if (de->d_name[0] != '.' && fd >= first && fd != dfd)
				(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			off += de->d_reclen;
		}
	}
	if (n < 0)
		r = -errno;
	close(dfd);
	return r;
}

/*
 * Every fd from first on is closed when the command is executed: whatever ctrlog inherited
 * from its caller (a shell's fd 10) or opened without O_CLOEXEC. Marked close-on-exec rather
 * than closed, so that the exec-status pipe stays open until exec succeeds.
 */
static int cloexec_from(int first)
{
	if (close_range((unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	return cloexec_listed_from(first);
}

static void __attribute__((noreturn)) child_fail(struct child_io *io, enum child_stage stage,
						 int err)
{
	struct child_error ce = { .stage = stage, .err = err };

	(void)!write(io->exec_status[1], &ce, sizeof(ce));
	if (stage != CHILD_EXEC)
		_exit(EXIT_CTRLOG_FAILED);
	_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* fds 0, 1 and 2 of the command: the pty's slave side, or /dev/null and the pipes. */
static int child_stdio(struct monitor *m, struct child_io *io)
{
	int fd;

	if (m->o->tty) {
		fd = open(io->pty_name, O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			return -errno;
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			return -errno;
		return 0;
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(io->out[1], 1) < 0 || dup2(io->err[1], 2) < 0)
		return -errno;
	return 0;
}

/* Runs in the child between fork() and exec(): only async-signal-safe calls. */
static void __attribute__((noreturn)) exec_child(struct monitor *m, struct child_io *io)
{
	int r;

	/* First, so that the command never runs outside container/. */
	if (m->cg.active && (r = cli_cgroup_enter_container(&m->cg)) < 0)
		child_fail(io, CHILD_CGROUP, -r);
	setsid();
	/* The command starts with no signal blocked and none ignored, whatever we inherited. */
	sigemptyset(&m->saved_mask);
	sigprocmask(SIG_SETMASK, &m->saved_mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	r = child_stdio(m, io);
	if (r < 0)
		child_fail(io, CHILD_STDIO, -r);
	r = cloexec_from(3 + (int)m->o->preserve_fds);
	if (r < 0)
		child_fail(io, CHILD_FDS, -r);
	execvp(m->o->command[0], m->o->command);
	child_fail(io, CHILD_EXEC, errno);
}

/* The command could not be run: one line, and the status of `ctrlog run`. */
static int report_exec_error(const char *cmd, int err)
{
	if (err != ENOENT) {
		cli_error("run: %s: %s", cmd, ctrlog_strerror(err));
		return EXIT_CANNOT_EXEC;
	}
	/* A path is not looked up in $PATH: it does not exist, or (a script) its interpreter
	 * does not. */
	if (!strchr(cmd, '/'))
		cli_error("run: %s: command not found", cmd);
	else if (access(cmd, F_OK) == 0)
		cli_error("run: %s: its interpreter was not found", cmd);
	else
		cli_error("run: %s: no such file", cmd);
	return EXIT_NOT_FOUND;
}

/* Reads what the child reported before exec: 0 when the command runs, else the status. */
static int child_outcome(struct monitor *m, int status_fd)
{
	struct child_error ce;
	ssize_t n;

	do
		n = read(status_fd, &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(ce))
		return 0; /* closed by the exec */
	if (ce.stage == CHILD_EXEC)
		return report_exec_error(m->o->command[0], ce.err);
	if (ce.stage == CHILD_CGROUP)
		cli_error("run: --cgroups split: cannot move the command into '%s/container': %s",
			  m->cg.dir, ctrlog_strerror(ce.err));
	else if (ce.stage == CHILD_STDIO)
		cli_error("run: cannot set up the command's %s: %s",
			  m->o->tty ? "terminal" : "stdin, stdout and stderr", ctrlog_strerror(ce.err));
	else
		cli_error("run: cannot keep ctrlog's file descriptors from the command: %s",
			  ctrlog_strerror(ce.err));
	/* Reaped here: container/ can only be removed once it is gone. */
	while (waitpid(m->child, NULL, 0) < 0 && errno == EINTR)
		;
	m->child_done = true;
	return EXIT_CTRLOG_FAILED;
}

/* Returns 0 once the command runs, or the status to exit with. */
static int spawn_child(struct monitor *m)
{
	struct child_io io = { { -1, -1 }, { -1, -1 }, -1, "", { -1, -1 } };
	int r, status;

	r = m->o->tty ? open_pty(&io) : open_pipe(io.out);
	if (r == 0 && !m->o->tty)
		r = open_pipe(io.err);
	if (r == 0 && pipe2(io.exec_status, O_CLOEXEC) < 0)
		r = -errno;
	if (r < 0) {
		cli_error("run: cannot create the container's %s: %s", m->o->tty ? "pty" : "pipes",
			  ctrlog_strerror(r));
		goto fail;
	}
	m->child = fork();
	if (m->child < 0) {
		r = -errno;
		cli_error("run: cannot fork: %s", ctrlog_strerror(r));
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
		cli_error("run: cannot watch the container's output: %s", ctrlog_strerror(r));
		kill(m->child, SIGKILL);
		goto fail;
	}
	status = child_outcome(m, io.exec_status[0]);
	close_fd(&io.exec_status[0]);
	return status;
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
			m->stop_requests++;
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

/* Rotation failures are counted per episode, compression failures per file, and the logger's
 * own (worked-around) failures once per stream: each new one gets a line. */
static void report_other_errors(struct monitor *m, const struct ctrlog_stats *st)
{
	if (st->rotation_errors != m->reported_rotation_errors)
		cli_error("run: rotating '%s' failed: %s; output is dropped (and counted) until a retry works",
			  m->log_path, ctrlog_strerror(st->last_rotation_error));
	if (st->compress_errors != m->reported_compress_errors)
		cli_error("run: compressing a rotated file of '%s' failed: %s; it stays plain",
			  m->log_path, ctrlog_strerror(st->last_compress_error));
	if (st->internal_errors != m->reported_internal_errors)
		cli_error("run: preparing to wait for a stalled output failed: %s; worked around, but a stalled stdout/stderr may delay signals",
			  ctrlog_strerror(st->last_internal_error));
	m->reported_rotation_errors = st->rotation_errors;
	m->reported_compress_errors = st->compress_errors;
	m->reported_internal_errors = st->internal_errors;
}

/* Says once per error episode which sink failed and why: a full disk must not turn into a
 * line of ctrlog's own per failed write. */
static void report_write_errors(struct monitor *m)
{
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	if (ctrlog_logger_get_stats(m->logger, &st) < 0)
		return;
	report_other_errors(m, &st);
	if (st.write_errors == m->reported_errors)
		return;
	m->reported_errors = st.write_errors;
	if (st.last_write_error_driver == CTRLOG_DRIVER_JOURNALD)
		cli_error("run: sending to journald failed: %s; lost lines are counted and sending is retried",
			  ctrlog_strerror(st.last_write_error));
	else
		cli_error("run: writing '%s' failed: %s; lost lines are counted, a marker record notes them once writing works again",
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
/* How long, after a stop request, the final drain waits for a stalled sink (a stdout nobody
 * reads, a frozen journald) before what it has not taken is dropped: docker stop gives the
 * container 10 s, systemd 90 s for the whole unit; half of docker's grace keeps a stop of
 * command and monitor within what a caller expects. Without a stop request, blocking mode
 * waits as long as the sink stalls: nothing is lost, and SIGTERM still ends it. */
#define STOP_DRAIN_MS 5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Says once that the final drain gave up on a stalled sink, and what that lost: what the sink
 * kept and what the command left in its pipes that it did not take at once. */
static void report_gave_up(struct monitor *m, const struct ctrlog_stats *at_give_up)
{
	struct ctrlog_stats now = { .struct_size = sizeof(now) };

	if (ctrlog_logger_get_stats(m->logger, &now) < 0)
		return;
	cli_error("run: the log output still stalled after the stop request: stopped waiting for it, %llu bytes dropped",
		  (unsigned long long)(now.dropped_bytes - at_give_up->dropped_bytes));
}

/*
 * When to stop waiting for a stalled sink: STOP_DRAIN_MS after the command exited for a stop
 * request, or after one that comes while draining; a further request ends the wait at once.
 * -1: no limit.
 */
static int64_t give_up_time(const struct monitor *m, unsigned stops_before, int64_t give_up_at)
{
	if (m->stop_requests == stops_before)
		return give_up_at;
	return give_up_at < 0 ? now_ms() + STOP_DRAIN_MS : now_ms();
}

static int poll_timeout(int64_t give_up_at)
{
	int64_t left = give_up_at - now_ms();

	return give_up_at < 0 ? -1 : left > 0 ? (int)left : 0;
}

/*
 * The command has exited. What it wrote through pipes is there already (its writes completed),
 * but a pty's last output may still be on its way through the tty layer: read until every
 * stream ends, stopping after a quiet period or a bound in case a process the command left
 * behind holds a stream open. That process's later output is not waited for, as with conmon.
 * A stalled sink in blocking mode is waited for, with signals handled meanwhile, until
 * STOP_DRAIN_MS after a stop request.
 */
static int drain_after_exit(struct monitor *m, int sfd)
{
	struct pollfd p[2] = { { .fd = ctrlog_logger_get_fd(m->logger), .events = POLLIN },
			       { .fd = sfd, .events = POLLIN } };
	int64_t give_up_at = m->stop_requests ? now_ms() + STOP_DRAIN_MS : -1;
	int open = ctrlog_logger_drain(m->logger), waited = 0, r = 0;
	struct ctrlog_stats at_give_up = { .struct_size = sizeof(at_give_up) };
	bool gave_up = false;

	while (open > 0) {
		bool stalled = ctrlog_logger_stalled(m->logger) > 0;
		unsigned stops = m->stop_requests;

		if (!stalled && waited >= DRAIN_GRACE_MS)
			break;
		if (poll(p, 2, stalled ? poll_timeout(give_up_at) : DRAIN_QUIET_MS) == 0 && !stalled)
			break;
		waited += stalled ? 0 : DRAIN_QUIET_MS;
		if (p[1].revents & POLLIN)
			on_signal(m, sfd);
		give_up_at = give_up_time(m, stops, give_up_at);
		if (!gave_up && give_up_at >= 0 && now_ms() >= give_up_at &&
		    ctrlog_logger_stalled(m->logger) > 0) {
			(void)ctrlog_logger_get_stats(m->logger, &at_give_up);
			gave_up = true;
			r = ctrlog_logger_stop_waiting(m->logger);
			if (r < 0)
				break;
		}
		open = ctrlog_logger_drain(m->logger);
	}
	if (gave_up)
		report_gave_up(m, &at_give_up);
	return r < 0 ? r : open < 0 ? open : 0;
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
		r = drain_after_exit(m, sfd);
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
		cli_error("run: cannot detach: %s", ctrlog_strerror(-errno));
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
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

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
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
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
		"compress_bytes_out=%llu\ncompress_cpu_s=%.6f\ncompress_errors=%llu\n"
		"rotation_errors=%llu\ninternal_errors=%llu\n",
		(unsigned long long)st.reads, (unsigned long long)st.writes,
		(unsigned long long)st.write_errors, (unsigned long long)st.dropped_bytes,
		(unsigned long long)st.rotations, (unsigned long long)st.compressed_files,
		(unsigned long long)st.compress_bytes_in, (unsigned long long)st.compress_bytes_out,
		(double)st.compress_cpu_ns / 1e9, (unsigned long long)st.compress_errors,
		(unsigned long long)st.rotation_errors, (unsigned long long)st.internal_errors);
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
		cli_error("run: logging failed: %s", ctrlog_strerror(r));
	if (status == 0)
		status = m->child_done ? m->child_status : EXIT_CTRLOG_FAILED;
	else
		while (!m->child_done && waitpid(m->child, NULL, 0) < 0 && errno == EINTR)
			;
	m->child_status = status;
	/* Every record reaches the sinks before the exit file says the container is done, and
	 * the counters are final (the last flush, every compression) before they are printed. */
	ctrlog_logger_finish(m->logger);
	if (m->o->stats)
		print_stats(m);
	ctrlog_logger_free(m->logger);
	m->logger = NULL;
	cli_cgroup_remove(&m->cg);
	r = write_exit_file(m);
	if (r < 0)
		cli_error("run: cannot write '%s/%s/exit': %s", m->root, m->o->id, ctrlog_strerror(r));
	/* The container is over: from here on no one may take this process for its monitor
	 * (`ctrlog rotate` would signal it, ps would list it running). */
	close_fd(&m->pid_fd);
	return status;
}

/* A container refused before it started leaves nothing behind (`ctrlog ps -a` must not list
 * it) when this run created its directory; an existing directory keeps its history. */
static void forget_new_container(struct monitor *m)
{
	/* monitor.pid last: until it goes, our lock keeps other runs out. */
	static const char *const ours[] = { "config", "ctr.log", "monitor.pid" };
	char path[4200];
	struct stat st;

	if (!m->created_dir)
		return;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (fstatat(m->ctr_dirfd, ours[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (i != 1 || st.st_size == 0))
			(void)unlinkat(m->ctr_dirfd, ours[i], 0);
	snprintf(path, sizeof(path), "%s/%s", m->root, m->o->id);
	(void)rmdir(path); /* fails, harmlessly, if anything else is in it */
}

/* The live log: --log-path or ROOT/ID/ctr.log, made absolute against the directory `ctrlog
 * run` was started in, so that readers find it from anywhere. */
static int set_log_path(struct monitor *m)
{
	char cwd[PATH_MAX], rel[sizeof(m->log_path)];
	int n;

	if (m->o->log_path)
		n = snprintf(rel, sizeof(rel), "%s", m->o->log_path);
	else
		n = snprintf(rel, sizeof(rel), "%s/%s/ctr.log", m->root, m->o->id);
	if (n >= 0 && (size_t)n < sizeof(rel) && rel[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd))) {
			n = -errno;
			cli_error("run: %s: cannot make '%s' absolute: the current directory: %s",
				  m->o->log_path ? "--log-path" : "--root", rel, ctrlog_strerror(n));
			return n;
		}
		n = snprintf(m->log_path, sizeof(m->log_path), "%s/%s", cwd, rel);
	} else {
		memcpy(m->log_path, rel, sizeof(rel));
	}
	if (n < 0 || (size_t)n >= sizeof(m->log_path)) {
		cli_error("run: %s: the log path '%s' is too long", m->o->log_path ? "--log-path" : "--root",
			  rel);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int prepare(struct monitor *m)
{
	int r = open_container_dir(m);

	if (r < 0)
		return r;
	r = lock_container(m);
	if (r < 0)
		return r; /* the directory is another run's now, also when we made it */
	r = check_id_free(m);
	if (r == 0)
		r = set_log_path(m);
	if (r < 0) {
		forget_new_container(m);
		return r;
	}
	(void)unlinkat(m->ctr_dirfd, "exit", 0);
	r = write_config(m);
	if (r < 0) {
		cli_error("run: cannot write '%s/%s/config': %s", m->root, m->o->id, ctrlog_strerror(r));
		forget_new_container(m);
	}
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
	int sfd = -1, status = EXIT_CTRLOG_FAILED, r;
	sigset_t set;

	reset_signal_dispositions();
	r = run_parse_args(&o, argc, argv);
	if (r != 0) {
		status = r > 0 ? 0 : EXIT_CTRLOG_FAILED; /* 1: the help was printed */
		goto out;
	}
	cli_notify_init(&m.notify);
	m.root = cli_state_root(o.root);
	if (!m.root || prepare(&m) < 0)
		goto out;
	if (o.detach) {
		fflush(stdout);
		detach(&m);
	}
	/* Only now: the compressor thread of a logger made before detaching would start in the
	 * caller, which exits (a child copes, see ctrlog.h, but the caller's work is lost). */
	if (write_monitor_pid(&m) < 0 || make_logger(&m) < 0) {
		forget_new_container(&m);
		report_detached(&m, EXIT_CTRLOG_FAILED);
		goto out;
	}
	/* Signals arrive through a signalfd in the loop; SIGPIPE would kill us when a
	 * passthrough reader goes away, EPIPE is handled instead. */
	signal(SIGPIPE, SIG_IGN);
	watched_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &m.saved_mask);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		cli_error("run: cannot create a signalfd: %s", ctrlog_strerror(-errno));
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
