/* SPDX-License-Identifier: MIT */
/*
 * The smallest monitor that embeds libctrlog: it runs a command with its stdout and stderr on
 * pipes, drives the logger from its own poll() loop, and writes a k8s-file log.
 *
 *   cc minimal-monitor.c $(pkg-config --cflags --libs ctrlog) -o minimal-monitor
 *   ./minimal-monitor /tmp/ctr.log sh -c 'echo hello; echo oops >&2'
 */
#include <poll.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctrlog/ctrlog.h>

int main(int argc, char **argv)
{
	struct ctrlog_config cfg;
	ctrlog_logger *logger;
	int out[2], err[2], status = 0, r;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: %s LOG COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	ctrlog_config_init(&cfg);
	cfg.log_path = argv[1];
	cfg.max_size = 0;
	r = ctrlog_logger_new(&cfg, &logger);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], ctrlog_strerror(r));
		return 1;
	}
	if (pipe(out) < 0 || pipe(err) < 0 || (pid = fork()) < 0) {
		perror("minimal-monitor");
		return 1;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* The logger owns the read ends from here on. */
	if (ctrlog_logger_add_fd(logger, out[0], CTRLOG_STDOUT) < 0 ||
	    ctrlog_logger_add_fd(logger, err[0], CTRLOG_STDERR) < 0)
		return 1;
	for (;;) {
		struct pollfd p = { .fd = ctrlog_logger_get_fd(logger), .events = POLLIN };

		poll(&p, 1, -1);
		r = ctrlog_logger_dispatch(logger);
		if (r <= 0)
			break; /* both streams ended, or an error */
	}
	ctrlog_logger_free(logger); /* writes what is held and flushes */
	waitpid(pid, &status, 0);
	return r < 0 ? 1 : WEXITSTATUS(status);
}
