/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_CLI_H
#define CTRLOG_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of `ctrlog run` for its own failures (DESIGN.md). */
#define EXIT_CTRLOG_FAILED 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* Prints "ctrlog: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "512k", "10m", "1g" (powers of 1024) or plain bytes. */
int cli_parse_size(const char *s, uint64_t *ret);
int cli_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* The state root: --root, else $CTRLOG_ROOT, else the default for this user. Returns a
 * malloc()ed path. */
char *cli_state_root(const char *opt_root);

/* Creates a directory and its missing parents with the given mode. */
int cli_mkdir_p(const char *path, unsigned mode);

/* Writes content to dirfd/name atomically (name.tmp, then rename). */
int cli_write_file_atomic(int dirfd, const char *name, const char *content, unsigned mode);

/* Reads the container's monitor.pid and reports whether a live monitor holds its lock.
 * Returns the monitor's PID, 0 when none is running, or a negative errno. */
int cli_monitor_pid(int ctr_dirfd);

/* Opens <root>/<id> without following a symlink; returns the fd or a negative errno. */
int cli_open_container_dir(const char *root, const char *id);

int cmd_run(int argc, char **argv);
int cmd_rotate(int argc, char **argv);

#endif
