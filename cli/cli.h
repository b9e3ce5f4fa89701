/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_CLI_H
#define CTRLOG_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Exit statuses of `ctrlog run` for its own failures (DESIGN.md). */
#define EXIT_CTRLOG_FAILED 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

struct option;

/* Prints "ctrlog: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long() with every command's one error style: shortopts must start with ':' (after
 * '+', if any). Returns like getopt_long(); after an unknown option, a missing value or one an
 * option does not take it prints "ctrlog: CMD: ..." and returns '?'. */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* Prints the help of a command ("run", ...; NULL: ctrlog's own) on stdout; returns 0, the
 * status of a help request. */
int cli_help(const char *cmd);

/* Where the state root comes from, for the help of every command that takes --root. */
#define CLI_ROOT_HELP \
	"The state root holds a directory per container (config, exit status, default log):\n" \
	"--root DIR, else $CTRLOG_ROOT, else /var/lib/ctrlog when run as root, else\n" \
	"$XDG_STATE_HOME/ctrlog, else ~/.local/state/ctrlog.\n"

/* "512k", "10m", "1g" (powers of 1024) or plain bytes. */
int cli_parse_size(const char *s, uint64_t *ret);
int cli_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* The state root: --root, else $CTRLOG_ROOT, else the default for this user. Returns a
 * malloc()ed path. */
char *cli_state_root(const char *opt_root);

/* --root's value: refuses an empty one with "ctrlog: CMD: --root: empty path" (-EINVAL). */
int cli_root_option(const char *cmd, const char *arg, const char **ret);

/* Whether the root was chosen (--root or $CTRLOG_ROOT), so that its absence is an error. */
bool cli_state_root_is_explicit(const char *opt_root);

/* Creates a directory and its missing parents with the given mode. */
int cli_mkdir_p(const char *path, unsigned mode);

/* Writes content to dirfd/name atomically (name.tmp, then rename). */
int cli_write_file_atomic(int dirfd, const char *name, const char *content, unsigned mode);

/* Reads the container's monitor.pid and reports whether a live monitor holds its (OFD) lock.
 * Returns the monitor's PID, 0 when none is running, or a negative errno (-EAGAIN: a monitor
 * holds the lock but wrote no PID within two seconds). */
int cli_monitor_pid(int ctr_dirfd);

/* s with a backslash and a newline written as \\ and \n, every other control character as \xHH, so
 * that any value fits on one line of a config file or a message. Returns a malloc()ed string, or
 * NULL when out of memory. cli_unescape() turns it back in place. */
char *cli_escape(const char *s);
void cli_unescape(char *s);

/* Whether s holds a newline or another control character. */
bool cli_has_control(const char *s);

/* Opens <root>/<id> without following a symlink; returns the fd or a negative errno. */
int cli_open_container_dir(const char *root, const char *id);

/* --- the containers under a root (containers.c) --- */

struct cli_ctr_info {
	char id[130];
	char name[256];
	char drivers[128];
	char log_path[PATH_MAX];
};

/* Reads <root>/<id>/config. Returns 0 or a negative errno (-ENAMETOOLONG: a value does not fit
 * its field). */
int cli_read_config(int ctr_dirfd, struct cli_ctr_info *ret);

/* Writes <root>/<id>/config atomically from n/2 key, value pairs (kv[0], kv[1], ...): one
 * KEY=VALUE line each, the value escaped with cli_escape() so that any value reads back exactly;
 * a NULL value is left out. Returns 0 or a negative errno. */
int cli_write_config(int ctr_dirfd, const char *const *kv, size_t n);

struct cli_ctr_list {
	char **ids;
	size_t n;
};

/* The container IDs under root (directories with a valid ID name), sorted; free with
 * cli_ctr_list_free(). Returns 0 or a negative errno (-ENOENT: no such root). */
int cli_list_containers(const char *root, struct cli_ctr_list *ret);
void cli_ctr_list_free(struct cli_ctr_list *l);

/* Finds the container arg names: its ID, its NAME, or a unique ID prefix, and copies its ID to
 * ret_id. Prints one line "ctrlog: CMD: ..." and returns -1 when there is none or more than one. */
int cli_resolve_container(const char *cmd, const char *root, const char *arg, char *ret_id,
			  size_t size);

/* Removes the file set of the k8s-file log at log_path: the live file, the rotated files (plain,
 * compressed, unfinished) and the record of the last rotation. Returns 0 (also when there is
 * nothing to remove) or the first negative errno. */
int cli_remove_log_set(const char *log_path);

/* --- running under systemd (systemd.c) --- */

/* Where sd_notify messages go: the address from $NOTIFY_SOCKET; addr_len 0 when unset (then
 * every notification is a no-op). A zeroed struct is a valid, disabled one. */
struct cli_notify {
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* Reads $NOTIFY_SOCKET into n and removes it from the environment, so that the command does
 * not inherit it. Call before forking anything. */
void cli_notify_init(struct cli_notify *n);

/* Sends state ("READY=1", "STOPPING=1", "MAINPID=<pid>", newline-separated) as one datagram.
 * Returns 0 (also when no socket was given) or a negative errno. */
int cli_notify(const struct cli_notify *n, const char *state);

/* Once the command runs: READY=1, with MAINPID=<our PID> when we detached (we are then not the
 * process the service manager started). Returns like cli_notify(). */
int cli_notify_ready(const struct cli_notify *n, bool detached);

/* --cgroups split. A zeroed struct is inactive. */
struct cli_cgroup {
	bool active;          /* the split is in place: the child must call enter_container */
	int dirfd;            /* the cgroup the monitor started in */
	int procs_fd;         /* <dir>/container/cgroup.procs, written by the child */
	char dir[PATH_MAX];
};

/* Creates supervisor/ and container/ under the calling process's cgroup v2 directory (found
 * through /proc/self/cgroup and /proc/self/mountinfo) and moves the caller into supervisor/.
 * Prints one line and returns a negative errno on failure (-ENOENT: no cgroup v2); nothing is
 * left behind then. */
int cli_cgroup_split(struct cli_cgroup *cg);

/* In the child between fork and exec (async-signal-safe): moves it into container/. Returns 0
 * or a negative errno. */
int cli_cgroup_enter_container(const struct cli_cgroup *cg);

/* Once the command has exited and the log is drained: removes container/ when empty, moves the
 * caller back to the cgroup it started in and removes supervisor/. Prints a line for what it
 * has to leave behind. Does nothing for an inactive struct. */
void cli_cgroup_remove(struct cli_cgroup *cg);

/* --- ctrlog logs / follow (logs.c) --- */

struct logs_opts {
	bool follow;
	bool timestamps;
	bool tail;
	uint64_t tail_lines;
	int64_t since_ns;  /* INT64_MIN: no --since */
	int64_t until_ns;  /* INT64_MAX: no --until */
	unsigned streams;  /* 1u << CTRLOG_STDOUT / CTRLOG_STDERR; 0: both */
	const char *root;
	const char *target;
};

/* Prints the log of a container that keeps it in the journal only (logs_journal.c): the
 * entries with CONTAINER_ID_FULL=full_id, split lines joined; with o->follow, until the `exit`
 * file appears in ctr_dirfd and everything it logged is printed. Returns the exit status. */
#ifdef CTRLOG_HAVE_SD_JOURNAL
int cli_logs_journal(const char *cmd, const struct logs_opts *o, const char *full_id,
		     int ctr_dirfd);
#else
static inline int cli_logs_journal(const char *cmd, const struct logs_opts *o,
				   const char *full_id, int ctr_dirfd)
{
	(void)o;
	(void)ctr_dirfd;
	cli_error("%s: container '%s' logs to journald only, and this build has no journald support",
		  cmd, full_id);
	return 1;
}
#endif

/* Prints log lines as `ctrlog logs` does: stdout lines to stdout, stderr lines to stderr,
 * optionally prefixed by their time, keeping the lines in order when both go to one place. */
struct cli_printer {
	bool timestamps;
	int last_stream;
	FILE *out[2];
};
#define CLI_PRINTER_INIT(ts) { .timestamps = (ts), .last_stream = -1, .out = { stdout, stderr } }

void cli_print_line(struct cli_printer *p, int stream, int64_t time_ns, const char *data,
		    size_t len);
void cli_printer_flush(struct cli_printer *p);

/* Each command's --help text. */
extern const char cli_run_help[], cli_logs_help[], cli_follow_help[], cli_ps_help[],
	cli_rotate_help[];

int cmd_run(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_ps(int argc, char **argv);

#endif
