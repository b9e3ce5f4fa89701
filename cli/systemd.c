/* SPDX-License-Identifier: MIT */
/*
 * Running under systemd: the readiness protocol (sd_notify) and `--cgroups split`.
 *
 * The notify protocol is a datagram of KEY=VALUE lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET ('@' meaning the abstract namespace). It is implemented here rather than taken
 * from libsystemd so that readiness works in builds without the journald sink too; the kernel
 * attaches our credentials, which is how systemd tells who sent a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"

/* --- sd_notify ----------------------------------------------------------------------------- */

void cli_notify_init(struct cli_notify *n)
{
	const char *s = getenv("NOTIFY_SOCKET");
	size_t len = s ? strlen(s) : 0;

	memset(n, 0, sizeof(*n));
	if (len >= 2 && len < sizeof(n->addr.sun_path) && (s[0] == '/' || s[0] == '@')) {
		n->addr.sun_family = AF_UNIX;
		memcpy(n->addr.sun_path, s, len);
		if (s[0] == '@')
			n->addr.sun_path[0] = '\0';
		n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	/* The command must not inherit it: it would be told it may speak for the unit, and
	 * systemd (NotifyAccess=main) would ignore it anyway. Unset it before any fork. */
	unsetenv("NOTIFY_SOCKET");
}

int cli_notify(const struct cli_notify *n, const char *state)
{
	ssize_t sent;
	int fd, r = 0;

	if (n->addr_len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			      (const struct sockaddr *)&n->addr, n->addr_len);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		r = -errno;
	close(fd);
	return r;
}

int cli_notify_ready(const struct cli_notify *n, bool detached)
{
	char msg[64];

	/* One datagram: systemd applies MAINPID= before READY=1, so the unit's main process is
	 * the monitor before the detaching caller (the process systemd started) exits. */
	if (detached)
		snprintf(msg, sizeof(msg), "MAINPID=%d\nREADY=1", (int)getpid());
	else
		snprintf(msg, sizeof(msg), "READY=1");
	return cli_notify(n, msg);
}

/* --- finding our cgroup v2 directory ------------------------------------------------------- */

/* Undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

/* The "0::/path" line of /proc/self/cgroup: our cgroup on the unified hierarchy. */
static int own_cgroup_path(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (strncmp(line, "0::/", 4) == 0) {
			r = snprintf(out, size, "%s", line + 3) < (int)size ? 0 : -ENAMETOOLONG;
			break;
		}
	}
	free(line);
	fclose(f);
	return r;
}

/* Is root (a mount's root inside the hierarchy) path itself or one of its ancestors? */
static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * Maps our cgroup path to a directory through a cgroup2 mount from /proc/self/mountinfo: on a
 * pure v2 host /sys/fs/cgroup, on a hybrid one usually /sys/fs/cgroup/unified. A mount may show
 * only a subtree (its root field), so the one whose root contains our cgroup is taken.
 */
static int cgroup2_dir(const char *cgpath, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r == -ENOENT && getline(&line, &cap, f) > 0) {
		char *fields[5], *save = NULL, *sep = strstr(line, " - "), *tok;
		const char *rest;
		int i = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && i < 5; tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		/* fields: mount ID, parent ID, major:minor, root, mount point */
		unescape_octal(fields[3]);
		unescape_octal(fields[4]);
		if (!path_under(cgpath, fields[3]))
			continue;
		rest = strcmp(fields[3], "/") == 0 ? cgpath : cgpath + strlen(fields[3]);
		if (strcmp(rest, "/") == 0)
			rest = "";
		r = snprintf(out, size, "%s%s", fields[4], rest) < (int)size ? 0 : -ENAMETOOLONG;
	}
	free(line);
	fclose(f);
	return r;
}

/* Our cgroup's directory, checked to really be cgroup2 (something may be mounted over it). */
static int find_cgroup_dir(char *out, size_t size)
{
	char cgpath[PATH_MAX];
	struct statfs sfs;
	int r = own_cgroup_path(cgpath, sizeof(cgpath));

	if (r == 0)
		r = cgroup2_dir(cgpath, out, size);
	if (r == 0 && (statfs(out, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC))
		r = -ENOENT;
	return r;
}

/* --- --cgroups split ----------------------------------------------------------------------- */

/* Moves the calling process (all its threads) into the cgroup of the cgroup.procs at dirfd/procs. */
static int move_into(int dirfd, const char *procs)
{
	char buf[32];
	int fd, len, r = 0;

	fd = openat(dirfd, procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (write(fd, buf, (size_t)len) != len)
		r = -errno;
	close(fd);
	return r;
}

static const char *cgroup_hint(int r)
{
	switch (r) {
	case -EACCES:
	case -EPERM:
	case -EROFS:
		return " (under systemd the unit needs Delegate=yes)";
	case -EBUSY:
		return " (cgroup v2 allows processes only in a cgroup with no controllers enabled in its cgroup.subtree_control)";
	case -EOPNOTSUPP:
		return " (a threaded cgroup cannot be split)";
	default:
		return "";
	}
}

static void undo_split(struct cli_cgroup *cg, bool made_supervisor, bool made_container)
{
	if (cg->procs_fd >= 0)
		close(cg->procs_fd);
	cg->procs_fd = -1;
	if (made_container)
		(void)unlinkat(cg->dirfd, "container", AT_REMOVEDIR);
	if (made_supervisor)
		(void)unlinkat(cg->dirfd, "supervisor", AT_REMOVEDIR);
	close(cg->dirfd);
	cg->dirfd = -1;
}

int cli_cgroup_split(struct cli_cgroup *cg)
{
	bool made_supervisor = false, made_container = false;
	const char *what;
	int r;

	cg->active = false;
	cg->procs_fd = -1;
	r = find_cgroup_dir(cg->dir, sizeof(cg->dir));
	if (r < 0) {
		cli_error("run: --cgroups split: %s",
			  r == -ENOENT ? "no cgroup v2 (unified) hierarchy is mounted, or this process is not in it"
				       : ctrlog_strerror(r));
		return r;
	}
	cg->dirfd = open(cg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0) {
		r = -errno;
		cli_error("run: --cgroups split: cannot open '%s': %s%s", cg->dir, ctrlog_strerror(r),
			  cgroup_hint(r));
		return r;
	}
	/* Existing ones (a restart in the same unit) are reused. */
	what = "supervisor";
	if (mkdirat(cg->dirfd, "supervisor", 0755) == 0)
		made_supervisor = true;
	else if (errno != EEXIST)
		goto create_failed;
	what = "container";
	if (mkdirat(cg->dirfd, "container", 0755) == 0)
		made_container = true;
	else if (errno != EEXIST)
		goto create_failed;
	/* Opened now: the child writes to it between fork and exec, where it cannot open files
	 * by path safely. Writing "0" moves the writer. */
	cg->procs_fd = openat(cg->dirfd, "container/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (cg->procs_fd < 0) {
		r = -errno;
		cli_error("run: --cgroups split: cannot open '%s/container/cgroup.procs': %s%s", cg->dir,
			  ctrlog_strerror(r), cgroup_hint(r));
		undo_split(cg, made_supervisor, made_container);
		return r;
	}
	/* Leaving the parent empty is what lets a delegated unit enable controllers for its
	 * children; the command is forked from here and so starts inside the unit too. */
	r = move_into(cg->dirfd, "supervisor/cgroup.procs");
	if (r < 0) {
		cli_error("run: --cgroups split: cannot move the monitor into '%s/supervisor': %s%s", cg->dir,
			  ctrlog_strerror(r), cgroup_hint(r));
		undo_split(cg, made_supervisor, made_container);
		return r;
	}
	cg->active = true;
	return 0;

create_failed:
	r = -errno;
	cli_error("run: --cgroups split: cannot create '%s/%s': %s%s", cg->dir, what, ctrlog_strerror(r),
		  cgroup_hint(r));
	undo_split(cg, made_supervisor, made_container);
	return r;
}

int cli_cgroup_enter_container(const struct cli_cgroup *cg)
{
	ssize_t n;

	do
		n = write(cg->procs_fd, "0", 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

void cli_cgroup_remove(struct cli_cgroup *cg)
{
	int r;

	if (!cg->active)
		return;
	cg->active = false;
	close(cg->procs_fd);
	cg->procs_fd = -1;
	/* A container/ still populated holds what the command left running; it stays for the
	 * service manager to stop (systemd kills and removes the unit's whole cgroup). */
	if (unlinkat(cg->dirfd, "container", AT_REMOVEDIR) < 0 && errno != ENOENT) {
		r = -errno;
		cli_error("run: --cgroups split: leaving '%s/container' in place: %s", cg->dir,
			  r == -EBUSY ? "processes the command started still run in it"
				      : ctrlog_strerror(r));
	}
	/* We cannot remove the cgroup we are in. Moving back fails (EBUSY) when controllers were
	 * enabled in the parent meanwhile; supervisor/ then stays until the unit's cgroup goes. */
	if (move_into(cg->dirfd, "cgroup.procs") == 0 &&
	    unlinkat(cg->dirfd, "supervisor", AT_REMOVEDIR) < 0 && errno != ENOENT && errno != EBUSY) {
		r = -errno;
		cli_error("run: --cgroups split: cannot remove '%s/supervisor': %s", cg->dir,
			  ctrlog_strerror(r));
	}
	close(cg->dirfd);
	cg->dirfd = -1;
}
