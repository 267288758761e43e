/*
 * fileio.c - reading and writing files. Models are mapped read-only; output
 * is written to a temporary file beside the target, flushed, and renamed over
 * it, so a failed or interrupted write never leaves a half-written model and
 * never touches an existing file until the new one is complete.
 */
#include "gs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

gs_status gs_file_map(gs_ctx *ctx, const char *path, void **map, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gs_err(ctx, GS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return gs_err(ctx, GS_ERR_IO, "%s: not a regular file", path);
    }
    *size = (size_t)st.st_size;
    if (st.st_size == 0) {
        close(fd);
        *map = NULL;
        return GS_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return gs_err(ctx, GS_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    *map = p;
    return GS_OK;
}

void gs_file_unmap(void *map, size_t size)
{
    if (map && size)
        munmap(map, size);
}

gs_status gs_file_tmp(gs_ctx *ctx, const char *path, int *fd, char **tmp)
{
    size_t n = strlen(path) + 32;
    char *t = gs_alloc(ctx, n);
    if (!t)
        return gs_nomem(ctx);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(t, n, "%s.tmp%ld.%d", path, (long)getpid(), attempt);
        int f = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f >= 0) {
            *fd = f;
            *tmp = t;
            return GS_OK;
        }
        if (errno != EEXIST) {
            gs_status st = gs_err(ctx, GS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
            gs_dealloc(ctx, t);
            return st;
        }
    }
    gs_dealloc(ctx, t);
    return gs_err(ctx, GS_ERR_IO, "%s: cannot create a temporary file", path);
}

gs_status gs_file_write_all(gs_ctx *ctx, int fd, const void *p, size_t n, const char *path)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return gs_err(ctx, GS_ERR_IO, "%s: write failed: %s", path,
                          w < 0 ? strerror(errno) : "no space");
        c += w;
        n -= (size_t)w;
    }
    return GS_OK;
}

void gs_file_abort(gs_ctx *ctx, int fd, char *tmp)
{
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        gs_dealloc(ctx, tmp);
    }
}

gs_status gs_file_commit(gs_ctx *ctx, int fd, char *tmp, const char *path)
{
    if (fsync(fd) != 0 && errno != EINVAL) {
        gs_status st = gs_err(ctx, GS_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        gs_file_abort(ctx, fd, tmp);
        return st;
    }
    if (close(fd) != 0) {
        gs_status st = gs_err(ctx, GS_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        gs_file_abort(ctx, -1, tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        gs_status st = gs_err(ctx, GS_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        gs_file_abort(ctx, -1, tmp);
        return st;
    }
    gs_dealloc(ctx, tmp);
    return GS_OK;
}
