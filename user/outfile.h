/* SPDX-License-Identifier: MIT */
/*
 * Output files written by a tool that often runs as root in directories others can write
 * to (/tmp): a new file is created next to the destination (O_EXCL, mode given) and
 * renamed over it once complete, so a symlink is never followed and a file someone else
 * created is never written into. A destination that is a symlink is refused (ELOOP); one
 * that is a character device or a FIFO (/dev/null, a pipe) is written in place.
 */
#ifndef AI_OUTFILE_H
#define AI_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct ai_outfile {
	FILE *f;    /* write here */
	char *path; /* the destination */
	char *tmp;  /* the new file until it is renamed; NULL when written in place */
};

/* Mode of recordings (they hold a process's memory layout and names): owner only. */
#define AI_OUT_PRIVATE 0600
/* Mode of exports (SVG, JSON, pprof): 0666 less the umask, as any new file. */
#define AI_OUT_PUBLIC 0666

/* Opens `path` for writing as described above; negative errno, *o zeroed, on failure. */
int ai_out_open(struct ai_outfile *o, const char *path, mode_t mode);
/*
 * For a file written over a long time that must stay readable if the writer is killed
 * (a recording): created at `path` itself with O_CREAT | O_EXCL | O_NOFOLLOW after an
 * existing regular file there is removed, so it is still a new file, never a link's
 * target nor someone else's file (if one is put back in between: -EEXIST).
 */
int ai_out_open_stream(struct ai_outfile *o, const char *path, mode_t mode);
/*
 * Closes the stream (unless the caller already did and set o->f to NULL) and, if `keep`,
 * moves the new file into place; otherwise removes it. Returns 0 or a negative errno
 * (a failed write, close or rename; the new file is then removed).
 */
int ai_out_finish(struct ai_outfile *o, bool keep);
/* Whether `path` could be opened: opens and discards. Negative errno if not. */
int ai_out_check(const char *path);

/*
 * Input files (recordings, binaries): opened without blocking on a FIFO, and refused
 * unless regular. Returns an fd (O_CLOEXEC, blocking), or a negative errno with a short
 * reason in why: strerror, or "not a regular file" (-EINVAL) for a FIFO, device or socket.
 */
int ai_open_input(const char *path, char *why, size_t len);
/* The same as a stdio stream ("rb"); NULL with *err set. */
FILE *ai_fopen_input(const char *path, int *err, char *why, size_t len);

#endif /* AI_OUTFILE_H */
