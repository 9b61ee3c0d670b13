// SPDX-License-Identifier: MIT
/* Output files: create next to the destination, rename into place, never follow a link. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

/* A device or pipe named directly (not through a link): write to it in place. */
static int open_in_place(struct ai_outfile *o, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* it could have been swapped for a regular file since lstat() */
	if (fstat(fd, &st) || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return -EEXIST;
	}
	/* blocking writes from here on (O_NONBLOCK only kept open() off a reader-less FIFO) */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/*
 * What is at path now: nothing or a regular file (*exists says which) may be replaced; a
 * device or FIFO is opened in place (o->f set); a link, directory or anything else is
 * refused. Zeroes *o first.
 */
static int check_existing(struct ai_outfile *o, const char *path, bool *exists)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	*exists = false;
	if (!*path)
		return -ENOENT;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
		return open_in_place(o, path);
	if (!S_ISREG(st.st_mode))
		return -EEXIST;
	*exists = true;
	return 0;
}

int ai_out_open(struct ai_outfile *o, const char *path, mode_t mode)
{
	const char *base = strrchr(path, '/');
	bool exists;
	mode_t mask;
	int fd, err;

	err = check_existing(o, path, &exists);
	if (err || o->f)
		return err;
	o->path = strdup(path);
	/* "dir/.name.XXXXXX": same directory, so the rename stays on one file system */
	base = base ? base + 1 : path;
	if (!o->path || asprintf(&o->tmp, "%.*s.%s.XXXXXX", (int)(base - path), path, base) < 0) {
		o->tmp = NULL;
		err = -ENOMEM;
		goto fail;
	}
	fd = mkostemp(o->tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, mode & ~mask) || !(o->f = fdopen(fd, "w"))) {
		err = -errno;
		close(fd);
		unlink(o->tmp);
		goto fail;
	}
	return 0;
fail:
	free(o->path);
	free(o->tmp);
	memset(o, 0, sizeof(*o));
	return err;
}

int ai_out_open_stream(struct ai_outfile *o, const char *path, mode_t mode)
{
	bool exists;
	int fd, err;

	err = check_existing(o, path, &exists);
	if (err || o->f)
		return err;
	if (exists && unlink(path) && errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	o->f = fdopen(fd, "w");
	if (!o->f) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	return 0;
}

int ai_out_finish(struct ai_outfile *o, bool keep)
{
	int err = 0;

	if (o->f) {
		if (fflush(o->f) || ferror(o->f))
			err = errno ? -errno : -EIO;
		if (fclose(o->f) && !err)
			err = errno ? -errno : -EIO;
		o->f = NULL;
	}
	if (o->tmp) {
		if (keep && !err && rename(o->tmp, o->path))
			err = -errno;
		if (!keep || err)
			unlink(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof(*o));
	return err;
}

int ai_out_check(const char *path)
{
	struct ai_outfile o;
	int err = ai_out_open(&o, path, AI_OUT_PRIVATE);

	if (err)
		return err;
	return ai_out_finish(&o, false);
}

int ai_open_input(const char *path, char *why, size_t len)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s", strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		snprintf(why, len, "%s", strerror(-err));
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(why, len, "%s",
			 err == -EISDIR ? strerror(EISDIR)
					: "not a regular file (a FIFO, device or socket)");
		close(fd);
		return err;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

FILE *ai_fopen_input(const char *path, int *err, char *why, size_t len)
{
	int fd = ai_open_input(path, why, len);
	FILE *f;

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		*err = -errno;
		snprintf(why, len, "%s", strerror(-*err));
		close(fd);
	}
	return f;
}
