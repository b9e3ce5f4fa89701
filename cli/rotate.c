/* SPDX-License-Identifier: MIT */
/* `ctrlog rotate ID`: asks the container's monitor to rotate its log now (SIGUSR1). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"

int cmd_rotate(int argc, char **argv)
{
	const char *root_opt = NULL, *id = NULL;
	char *root;
	int dirfd, pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root_opt = argv[++i];
		else if (strncmp(argv[i], "--root=", 7) == 0)
			root_opt = argv[i] + 7;
		else if (argv[i][0] == '-' || id) {
			cli_error("rotate: unexpected argument '%s' (usage: ctrlog rotate [--root DIR] ID)",
				  argv[i]);
			return 1;
		} else
			id = argv[i];
	}
	if (!id || ctrlog_id_validate(id) < 0) {
		cli_error("rotate: %s container ID%s%s", id ? "invalid" : "missing", id ? " " : "",
			  id ? id : "");
		return 1;
	}
	root = cli_state_root(root_opt);
	if (!root)
		return 1;
	dirfd = cli_open_container_dir(root, id);
	if (dirfd < 0) {
		cli_error("rotate: no container '%s' under %s", id, root);
		free(root);
		return 1;
	}
	pid = cli_monitor_pid(dirfd);
	close(dirfd);
	free(root);
	if (pid <= 0) {
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
