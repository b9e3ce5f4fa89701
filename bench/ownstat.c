/* SPDX-License-Identifier: MIT */
/*
 * ownstat: runs a command and reports the OWN CPU time and peak RSS of one
 * process of its tree (by default the command itself).
 *
 * Why not /usr/bin/time: wait4() and getrusage(RUSAGE_CHILDREN) add the
 * CPU of every descendant the process reaped.  A container monitor reaps
 * the container (it is its parent or its subreaper), so time(1) would
 * charge the load generator's work to the monitor.
 *
 * How: ownstat makes itself a child subreaper, so that the measured
 * process, even after a double fork (conmon), stays in its tree.  When the
 * process has exited but before it is reaped (waitid(WNOWAIT)), its
 * /proc/<pid>/stat still holds its own utime and stime (fields 14 and 15),
 * separate from its children's (16 and 17).  The peak RSS (VmHWM) is gone
 * with the zombie's memory, so it is sampled while the process runs.
 *
 * Output (to -o FILE, else stderr), one key=value per line:
 *   cpu_user_s cpu_sys_s max_rss_kb pid comm
 * The exit status is the command's (128+N for signal N).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How often the peak RSS of the target is sampled while it runs. */
#define SAMPLE_NS (20 * 1000 * 1000L)

struct target {
	pid_t pid;              /* the measured process, 0 until known */
	pid_t child;            /* the command ownstat started */
	const char *pid_file;   /* where the target's pid appears, or NULL */
	int found;              /* its times were read */
	int reaped_children;    /* it reaped descendants that used CPU */
	double user_s, sys_s;
	long max_rss_kb;
	char comm[64];
};

static void die(const char *what)
{
	fprintf(stderr, "ownstat: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void usage(void)
{
	fputs("usage: ownstat [-o FILE] [-p PIDFILE] -- COMMAND [ARG...]\n"
	      "  reports the own CPU and peak RSS of COMMAND, or of the process\n"
	      "  whose pid is written to PIDFILE (e.g. a daemonizing monitor)\n",
	      stderr);
	exit(125);
}

/* Reads a pid from a file written by the measured program; 0 if not yet. */
static pid_t read_pid_file(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return (pid_t)v;
}

/*
 * The target is the process named by the pid file once that exists (a
 * monitor that daemonizes writes it), else the command itself (a monitor
 * that stays in the foreground, like conmon --sync, may never write it).
 */
static void resolve_target(struct target *t)
{
	pid_t p = 0;

	if (t->pid_file)
		p = read_pid_file(t->pid_file);
	t->pid = p > 0 ? p : t->child;
}

/* Samples VmHWM of a running process; keeps the largest value seen. */
static void sample_rss(struct target *t)
{
	char path[64], line[256];
	FILE *f;

	if (t->pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)t->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long kb;

		if (sscanf(line, "VmHWM: %ld", &kb) == 1 && kb > t->max_rss_kb)
			t->max_rss_kb = kb;
	}
	fclose(f);
}

/*
 * Reads utime and stime of an exited, not yet reaped process.  comm may
 * hold spaces or parentheses, so parsing starts after its last ')'.
 */
static int read_zombie_times(pid_t pid, struct target *t)
{
	char path[64], buf[4096], *p, *open_paren;
	unsigned long long ut, st, cut, cst;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')');
	if (!open_paren || !p || p < open_paren)
		return -1;
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime (fields 3..17). */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
		   " %llu %llu", &ut, &st, &cut, &cst) != 4)
		return -1;
	t->reaped_children = cut + cst > 0;
	snprintf(t->comm, sizeof(t->comm), "%.*s", (int)(p - open_paren - 1),
		 open_paren + 1);
	t->user_s = (double)ut / (double)hz;
	t->sys_s = (double)st / (double)hz;
	t->found = 1;
	return 0;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { 0, ns };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Handles one exited descendant: reads its times if it is the target, then
 * reaps it.  Returns the wait status of the direct child, or -1 for others.
 */
static int handle_exit(pid_t pid, pid_t child, struct target *t)
{
	struct rusage ru;
	int status = 0;

	resolve_target(t);
	if (pid == t->pid)
		read_zombie_times(pid, t);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR)
			die("wait4");
	}
	/*
	 * /proc counts in clock ticks (10 ms).  When the target reaped no
	 * CPU-using descendant, wait4's rusage is its own and finer grained,
	 * and its ru_maxrss is exact rather than sampled.
	 */
	if (pid == t->pid && t->found && !t->reaped_children) {
		t->user_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
		t->sys_s = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		if (ru.ru_maxrss > t->max_rss_kb)
			t->max_rss_kb = ru.ru_maxrss;
	}
	return pid == child ? status : -1;
}

/* Waits until every descendant has exited; returns the child's status. */
static int wait_all(pid_t child, struct target *t)
{
	int child_status = 0;

	for (;;) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return child_status;
			die("waitid");
		}
		if (si.si_pid != 0) {
			int st = handle_exit(si.si_pid, child, t);

			if (st >= 0)
				child_status = st;
			continue;
		}
		resolve_target(t);
		sample_rss(t);
		sleep_ns(SAMPLE_NS);
	}
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 125;
}

static void report(const char *out, const struct target *t)
{
	FILE *f = out ? fopen(out, "we") : stderr;

	if (!f)
		die(out);
	if (t->found)
		fprintf(f, "cpu_user_s=%.6f\ncpu_sys_s=%.6f\nmax_rss_kb=%ld\n"
			"pid=%d\ncomm=%s\n", t->user_s, t->sys_s, t->max_rss_kb,
			(int)t->pid, t->comm);
	else
		fprintf(f, "error=target process not found\n");
	if (out)
		fclose(f);
}

int main(int argc, char **argv)
{
	struct target t = { 0 };
	const char *out = NULL;
	pid_t child;
	int c, status;

	while ((c = getopt(argc, argv, "+o:p:h")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': t.pid_file = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_CHILD_SUBREAPER)");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "ownstat: %s: %s\n", argv[optind], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	t.child = child;
	status = wait_all(child, &t);
	report(out, &t);
	if (!t.found) {
		fprintf(stderr, "ownstat: measured process not found\n");
		return 125;
	}
	return exit_code(status);
}
