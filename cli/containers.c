/* SPDX-License-Identifier: MIT */
/* The containers under a state root: their config, the list, and finding one by what a user
 * typed. `logs`, `follow`, `ps` and `rotate` use these, so a name means the same everywhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"
#include "rotate/naming.h"

/* A value that does not fit is refused: a shortened log path would name another file. */
static int copy_value(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* One KEY=VALUE line, its value escaped (cli_escape()); unknown keys are skipped. */
static int parse_config_line(char *line, struct cli_ctr_info *info)
{
	char *eq = strchr(line, '='), *v;

	if (!eq)
		return 0;
	*eq = '\0';
	v = eq + 1;
	v[strcspn(v, "\n")] = '\0';
	cli_unescape(v);
	if (strcmp(line, "ID") == 0)
		return copy_value(info->id, sizeof(info->id), v);
	if (strcmp(line, "NAME") == 0)
		return copy_value(info->name, sizeof(info->name), v);
	if (strcmp(line, "DRIVERS") == 0)
		return copy_value(info->drivers, sizeof(info->drivers), v);
	if (strcmp(line, "LOG_PATH") == 0)
		return copy_value(info->log_path, sizeof(info->log_path), v);
	return 0;
}

int cli_read_config(int ctr_dirfd, struct cli_ctr_info *ret)
{
	struct cli_ctr_info info = { 0 };
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int fd = openat(ctr_dirfd, "config", O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	errno = 0;
	while (r == 0 && getline(&line, &cap, f) >= 0)
		r = parse_config_line(line, &info);
	if (r == 0 && ferror(f))
		r = errno ? -errno : -EIO;
	free(line);
	fclose(f);
	if (r == 0)
		*ret = info;
	return r;
}

int cli_write_config(int ctr_dirfd, const char *const *kv, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < n && r == 0; i += 2) {
		char *v = kv[i + 1] ? cli_escape(kv[i + 1]) : NULL;

		if (kv[i + 1] && !v)
			r = -ENOMEM;
		else if (v)
			fprintf(f, "%s=%s\n", kv[i], v);
		free(v);
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = cli_write_file_atomic(ctr_dirfd, "config", buf, 0640);
	free(buf);
	return r;
}

void cli_ctr_list_free(struct cli_ctr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_append(struct cli_ctr_list *l, const char *id)
{
	char **p = realloc(l->ids, (l->n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	l->ids = p;
	l->ids[l->n] = strdup(id);
	if (!l->ids[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

int cli_list_containers(const char *root, struct cli_ctr_list *ret)
{
	struct cli_ctr_list l = { 0 };
	struct dirent *de;
	DIR *d = opendir(root);
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		if (ctrlog_id_validate(de->d_name) < 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		r = list_append(&l, de->d_name);
	}
	closedir(d);
	if (r < 0) {
		cli_ctr_list_free(&l);
		return r;
	}
	if (l.n)
		qsort(l.ids, l.n, sizeof(*l.ids), cmp_str);
	*ret = l;
	return 0;
}

/* "a, b, c" of the IDs starting with prefix, shortened with "..." to fit buf. */
static size_t prefix_matches(const struct cli_ctr_list *l, const char *prefix, char *buf,
			     size_t size, const char **ret_last)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (strncmp(l->ids[i], prefix, strlen(prefix)) != 0)
			continue;
		n++;
		*ret_last = l->ids[i];
		if (strlen(buf) + strlen(l->ids[i]) + 8 < size) {
			if (buf[0])
				strcat(buf, ", ");
			strcat(buf, l->ids[i]);
		} else if (!strstr(buf, "...")) {
			strcat(buf, ", ...");
		}
	}
	return n;
}

/* The containers whose config names them arg; the last one found in *ret_last. */
static size_t name_matches(const struct cli_ctr_list *l, const char *root, const char *arg,
			   const char **ret_last)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct cli_ctr_info info;
		int fd = cli_open_container_dir(root, l->ids[i]);

		if (fd < 0)
			continue;
		if (cli_read_config(fd, &info) == 0 && info.name[0] && strcmp(info.name, arg) == 0) {
			n++;
			*ret_last = l->ids[i];
		}
		close(fd);
	}
	return n;
}

int cli_resolve_container(const char *cmd, const char *root, const char *arg, char *ret_id,
			  size_t size)
{
	struct cli_ctr_list l = { 0 };
	size_t n_name, n_prefix = 0;
	const char *found = NULL;
	char list[1024] = "";
	int r = cli_list_containers(root, &l);

	/* A root that does not exist yet simply holds no container. */
	if (r < 0 && r != -ENOENT) {
		cli_error("%s: cannot read %s: %s", cmd, root, ctrlog_strerror(r));
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.ids[i], arg) == 0) {
			snprintf(ret_id, size, "%s", arg);
			cli_ctr_list_free(&l);
			return 0;
		}
	}
	n_name = name_matches(&l, root, arg, &found);
	if (n_name == 0)
		n_prefix = prefix_matches(&l, arg, list, sizeof(list), &found);
	r = -1;
	if (n_name == 1 || (n_name == 0 && n_prefix == 1)) {
		snprintf(ret_id, size, "%s", found);
		r = 0;
	} else if (n_name > 1) {
		cli_error("%s: the name '%s' is used by %zu containers; give an ID", cmd, arg, n_name);
	} else if (n_prefix > 1) {
		cli_error("%s: '%s' is ambiguous: it matches %zu containers: %s", cmd, arg, n_prefix,
			  list);
	} else {
		cli_error("%s: no container '%s' under %s", cmd, arg, root);
	}
	cli_ctr_list_free(&l);
	return r;
}

/* Whether entry belongs to the file set of the log called name (rotate/naming.h). */
static bool in_log_set(const char *name, const char *entry)
{
	char last[512], last_tmp[520];
	uint64_t n;

	if (strcmp(entry, name) == 0 || ctrlog_rotated_parse(name, entry, &n) >= 0)
		return true;
	if (ctrlog_last_rotation_name(name, last, sizeof(last)) < 0)
		return false;
	snprintf(last_tmp, sizeof(last_tmp), "%s.tmp", last);
	return strcmp(entry, last) == 0 || strcmp(entry, last_tmp) == 0;
}

int cli_remove_log_set(const char *log_path)
{
	struct dirent *de;
	char *name;
	int dirfd, r = ctrlog_log_dir_open(log_path, &dirfd, &name);
	DIR *d;

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	d = fdopendir(dirfd);
	if (!d) {
		r = -errno;
		close(dirfd);
		free(name);
		return r;
	}
	while ((de = readdir(d)))
		if (in_log_set(name, de->d_name) && unlinkat(dirfd, de->d_name, 0) < 0 &&
		    errno != ENOENT && r == 0)
			r = -errno;
	closedir(d);
	free(name);
	return r;
}
