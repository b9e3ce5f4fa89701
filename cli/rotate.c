/* SPDX-License-Identifier: MIT */
/* `ctrlog rotate ID`: asks the container's monitor to rotate its log now (SIGUSR1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"

const char cli_rotate_help[] =
	"usage: ctrlog rotate [--root DIR] ID|PREFIX|NAME\n"
	"\n"
	"Asks a running container's monitor to rotate its log now (SIGUSR1, sent only to the\n"
	"process that holds the container's lock). The container is named by its ID, a unique\n"
	"prefix of its ID, or its --name. Exits 0 once the signal is sent, 1 on an error.\n"
	"\n"
	"      --root DIR     the state root (see below)\n"
	"  -h, --help         this help\n"
	"\n"
	CLI_ROOT_HELP;

/* Returns 0 with the container argument in *ret_arg, 1 after the help, or -1 after an error. */
static int parse_rotate_args(int argc, char **argv, const char **ret_root, const char **ret_arg)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = cli_getopt("rotate", argc, argv, ":h", opts)) != -1) {
		if (c == 'h') {
			cli_help("rotate");
			return 1;
		}
		if (c != 'r' || cli_root_option("rotate", optarg, ret_root) < 0)
			return -1;
	}
	if (optind >= argc) {
		cli_error("rotate: missing container ID or name");
		return -1;
	}
	if (optind + 1 < argc) {
		cli_error("rotate: unexpected argument '%s' (one container ID or name)",
			  argv[optind + 1]);
		return -1;
	}
	*ret_arg = argv[optind];
	return 0;
}

static int signal_monitor(const char *root, const char *id)
{
	int dirfd = cli_open_container_dir(root, id), pid;

	if (dirfd < 0) {
		cli_error("rotate: cannot open %s/%s: %s", root, id, ctrlog_strerror(dirfd));
		return 1;
	}
	pid = cli_monitor_pid(dirfd);
	close(dirfd);
	if (pid < 0) {
		cli_error("rotate: cannot check the monitor of '%s': %s", id, ctrlog_strerror(pid));
		return 1;
	}
	if (pid == 0) {
		cli_error("rotate: container '%s' has no running monitor (it has exited)", id);
		return 1;
	}
	/* The lock proves pid is this container's monitor, so the signal cannot hit a stranger
	 * that reused an old PID. */
	if (kill(pid, SIGUSR1) < 0) {
		cli_error("rotate: cannot signal monitor %d: %s", pid, ctrlog_strerror(-errno));
		return 1;
	}
	return 0;
}

int cmd_rotate(int argc, char **argv)
{
	const char *root_opt = NULL, *arg = NULL;
	char id[130], *root;
	int r = parse_rotate_args(argc, argv, &root_opt, &arg);

	if (r != 0)
		return r < 0 ? 1 : 0;
	root = cli_state_root(root_opt);
	if (!root) {
		cli_error("rotate: out of memory");
		return 1;
	}
	r = cli_resolve_container("rotate", root, arg, id, sizeof(id)) < 0 ? 1 :
		signal_monitor(root, id);
	free(root);
	return r;
}
