/*
 * fileio.c - reading and writing files.
 *
 * Inputs are opened without blocking (a FIFO is refused, never waited on) and
 * mapped read-only; only regular files are read.
 *
 * Every output goes through gs_out_open, which decides once how a path is
 * written: "-" (standard output), a character device or a FIFO is written in
 * place; a symbolic link is followed and its target replaced (the link
 * stays); a regular or absent file is written to a temporary file
 * ".gsXXXXXX" in the target's folder (created with O_EXCL|O_NOFOLLOW, given
 * the replaced file's mode), flushed and renamed over the target, so a failed
 * or interrupted write never leaves a half-written file and never touches an
 * existing one until the new one is complete. Anything else (a folder, a
 * block device, a socket) is refused. Temporary paths are registered on the
 * context so that gs_ctx_remove_temp_files can remove them from a signal
 * handler.
 */
#include "gs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- reading ------------------------------------------------------------ */

gs_status gs_file_map(gs_ctx *ctx, const char *path, void **map, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
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

/* ---- the temporary-file registry (read by signal handlers) -------------- */

/* Signals are held while a temporary file and its registry entry change
 * together, so a handler sees either both or neither. */
static void hold_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

static void release_signals(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int register_tmp(gs_ctx *ctx, char *tmp)
{
    for (int i = 0; i < GS_MAX_TEMPS; i++)
        if (!ctx->temps[i]) {
            ctx->temps[i] = tmp;
            return i;
        }
    return -1;   /* still written and removed on failure, only not on a signal */
}

static void unregister_tmp(gs_ctx *ctx, int slot)
{
    if (slot >= 0)
        ctx->temps[slot] = NULL;
}

GS_API void gs_ctx_remove_temp_files(gs_ctx *ctx)
{
    for (int i = 0; ctx && i < GS_MAX_TEMPS; i++) {
        char *p = ctx->temps[i];
        if (p)
            unlink(p);   /* async-signal-safe */
    }
}

/* ---- resolving an output path ------------------------------------------- */

char *gs_file_dir(gs_ctx *ctx, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return gs_strdup(ctx, ".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = gs_alloc(ctx, n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

/* The path a symbolic link at path leads to (relative targets are taken from
 * the link's folder); NULL with a message on failure. */
static char *link_target(gs_ctx *ctx, const char *path, const char *given)
{
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0) {
        gs_err(ctx, GS_ERR_IO, "%s: %s", given, strerror(errno));
        return NULL;
    }
    buf[n] = 0;
    char *dir = buf[0] == '/' ? NULL : gs_file_dir(ctx, path);
    size_t len = (dir ? strlen(dir) + 1 : 0) + (size_t)n + 1;
    char *t = (buf[0] == '/' || dir) ? gs_alloc(ctx, len) : NULL;
    if (t)
        snprintf(t, len, "%s%s%s", dir ? dir : "", dir ? "/" : "", buf);
    else
        gs_nomem(ctx);
    gs_dealloc(ctx, dir);
    return t;
}

/* The path a dangling symbolic link chain ends at (a file to create), in
 * *res (owned by the caller); path itself when it is not a link. */
static gs_status resolve_absent(gs_ctx *ctx, const char *path, char **res)
{
    struct stat st;
    char *cur = gs_strdup(ctx, path);
    for (int hops = 0; cur && hops < 40; hops++) {
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) {
                *res = cur;
                return GS_OK;
            }
            gs_dealloc(ctx, cur);
            return gs_err(ctx, GS_ERR_IO, "%s: %s", path, strerror(errno));
        }
        char *next = S_ISLNK(st.st_mode) ? link_target(ctx, cur, path) : NULL;
        gs_dealloc(ctx, cur);
        if (!next)
            return S_ISLNK(st.st_mode) ? ctx->last
                                       : gs_err(ctx, GS_ERR_IO, "%s: changed while being opened", path);
        cur = next;
    }
    if (!cur)
        return gs_nomem(ctx);
    gs_dealloc(ctx, cur);
    return gs_err(ctx, GS_ERR_IO, "%s: too many levels of symbolic links", path);
}

/* The real path of an existing file, in ctx memory. */
static gs_status real_path(gs_ctx *ctx, const char *path, char **res)
{
    char *r = realpath(path, NULL);
    if (!r)
        return gs_err(ctx, GS_ERR_IO, "%s: %s", path, strerror(errno));
    *res = gs_strdup(ctx, r);
    free(r);   /* realpath's buffer comes from malloc */
    return *res ? GS_OK : gs_nomem(ctx);
}

/* ---- opening ------------------------------------------------------------ */

static gs_status open_through(gs_ctx *ctx, const char *path, gs_out *o)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return gs_err(ctx, GS_ERR_IO, "%s: cannot open: %s", o->path, strerror(errno));
    if (fstat(fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
        close(fd);   /* replaced between the look and the open */
        return gs_err(ctx, GS_ERR_IO, "%s: changed while being opened", o->path);
    }
    o->fd = fd;
    o->own_fd = true;
    return GS_OK;
}

/* A short random name: a long target name leaves room for it. */
static void tmp_name(char *buf, size_t n, const char *dir, uint64_t *seed)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char tag[7];
    for (int i = 0; i < 6; i++) {
        *seed = *seed * 6364136223846793005u + 1442695040888963407u;
        tag[i] = digits[(*seed >> 33) % 36];
    }
    tag[6] = 0;
    snprintf(buf, n, "%s/.gs%s", dir, tag);
}

static gs_status create_tmp(gs_ctx *ctx, const char *dir, gs_out *o)
{
    size_t n = strlen(dir) + 16;
    char *t = gs_alloc(ctx, n);
    if (!t)
        return gs_nomem(ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)t;
    for (int attempt = 0; attempt < 100; attempt++) {
        tmp_name(t, n, dir, &seed);
        sigset_t old;
        hold_signals(&old);
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0)
            o->slot = register_tmp(ctx, t);
        release_signals(&old);
        if (fd >= 0) {
            o->fd = fd;
            o->own_fd = true;
            o->tmp = t;
            return GS_OK;
        }
        if (errno != EEXIST) {
            gs_dealloc(ctx, t);
            return gs_err(ctx, GS_ERR_IO, "%s: cannot create: %s", o->path, strerror(errno));
        }
    }
    gs_dealloc(ctx, t);
    return gs_err(ctx, GS_ERR_IO, "%s: cannot create a temporary file", o->path);
}

/* The new file takes the owner and mode of the one it replaces. */
static void copy_mode(int fd, const struct stat *st)
{
    if (fchown(fd, st->st_uid, st->st_gid) != 0) {
        /* not ours to give away: the new file stays the writer's */
    }
    if (fchmod(fd, st->st_mode & 07777) != 0) {
        /* a file system without modes: the default mode stays */
    }
}

static gs_status open_replace(gs_ctx *ctx, gs_out *o, const struct stat *st, bool exists)
{
    char *dir = gs_file_dir(ctx, o->target);
    if (!dir)
        return gs_nomem(ctx);
    gs_status s = create_tmp(ctx, dir, o);
    gs_dealloc(ctx, dir);
    if (s == GS_OK && exists)
        copy_mode(o->fd, st);
    return s;
}

gs_status gs_out_open(gs_ctx *ctx, const char *path, gs_out *o)
{
    *o = (gs_out){ .ctx = ctx, .fd = -1, .slot = -1, .path = path };
    if (!strcmp(path, "-")) {
        o->fd = STDOUT_FILENO;
        o->through = true;
        return GS_OK;
    }
    struct stat st;
    bool exists = stat(path, &st) == 0;   /* links followed (/dev/stdout too) */
    gs_status s;
    if (!exists && errno != ENOENT)
        s = gs_err(ctx, GS_ERR_IO, "%s: %s", path, strerror(errno));
    else if (!exists)
        s = resolve_absent(ctx, path, &o->target);
    else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
        o->through = true, s = open_through(ctx, path, o);
    else if (!S_ISREG(st.st_mode))
        s = gs_err(ctx, GS_ERR_IO, "%s: %s, not replaced", path,
                   S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file, device or FIFO");
    else
        s = real_path(ctx, path, &o->target);
    if (s == GS_OK && !o->through)
        s = open_replace(ctx, o, &st, exists);
    if (s != GS_OK)
        gs_out_abort(o);
    return s;
}

/* ---- writing and committing --------------------------------------------- */

gs_status gs_file_write_all(gs_ctx *ctx, int fd, const void *p, size_t n, const char *path)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EFAULT)   /* the bytes came from a mapped input cut short */
            return gs_err(ctx, GS_ERR_IO, "%s: write failed: an input file was truncated while "
                          "being read", path);
        if (w <= 0)
            return gs_err(ctx, GS_ERR_IO, "%s: write failed: %s", path,
                          w < 0 ? strerror(errno) : "no space");
        c += w;
        n -= (size_t)w;
    }
    return GS_OK;
}

gs_status gs_out_write(gs_out *o, const void *p, size_t n)
{
    return gs_file_write_all(o->ctx, o->fd, p, n, o->path);
}

void gs_out_abort(gs_out *o)
{
    if (o->fd >= 0 && o->own_fd)
        close(o->fd);
    o->fd = -1;
    if (o->tmp) {
        sigset_t old;
        hold_signals(&old);
        unlink(o->tmp);
        unregister_tmp(o->ctx, o->slot);
        release_signals(&old);
        gs_dealloc(o->ctx, o->tmp);
        o->tmp = NULL;
    }
    gs_dealloc(o->ctx, o->target);
    o->target = NULL;
}

gs_status gs_out_finish(gs_out *o)
{
    gs_ctx *ctx = o->ctx;
    gs_status s = GS_OK;
    if (o->tmp && fsync(o->fd) != 0)
        s = gs_err(ctx, GS_ERR_IO, "%s: fsync failed: %s", o->path, strerror(errno));
    if (o->own_fd && close(o->fd) != 0 && s == GS_OK)
        s = gs_err(ctx, GS_ERR_IO, "%s: close failed: %s", o->path, strerror(errno));
    o->fd = -1;
    if (s != GS_OK)
        gs_out_abort(o);
    return s;
}

gs_status gs_out_place(gs_out *o)
{
    gs_status s = GS_OK;
    sigset_t old;
    hold_signals(&old);
    if (o->tmp && rename(o->tmp, o->target) != 0)
        s = gs_err(o->ctx, GS_ERR_IO, "%s: rename failed: %s", o->path, strerror(errno));
    if (s == GS_OK && o->tmp)
        unregister_tmp(o->ctx, o->slot);
    release_signals(&old);
    if (s == GS_OK && o->tmp) {
        gs_dealloc(o->ctx, o->tmp);
        o->tmp = NULL;
    }
    gs_out_abort(o);   /* frees what is left (and removes tmp after a failure) */
    return s;
}

gs_status gs_out_commit(gs_out *o)
{
    gs_status s = gs_out_finish(o);
    return s == GS_OK ? gs_out_place(o) : s;
}

gs_status gs_out_place_pair(gs_out *first, gs_out *second)
{
    sigset_t old;
    hold_signals(&old);   /* no signal between the two renames */
    gs_status s = gs_out_place(first);
    if (s == GS_OK)
        s = gs_out_place(second);
    else
        gs_out_abort(second);
    release_signals(&old);
    return s;
}

/* ---- the public handle ---------------------------------------------------- */

GS_API gs_status gs_output_open(gs_ctx *ctx, const char *path, gs_output **out)
{
    if (!ctx)
        return GS_ERR_ARG;
    if (!path || !*path || !out)
        return gs_err(ctx, GS_ERR_ARG, "gs_output_open: invalid argument: path and out must be given");
    *out = NULL;
    gs_out *o = gs_alloc(ctx, sizeof *o);
    if (!o)
        return gs_nomem(ctx);
    gs_status s = gs_out_open(ctx, path, o);
    if (s != GS_OK) {
        gs_dealloc(ctx, o);
        return s;
    }
    *out = o;
    return GS_OK;
}

GS_API gs_status gs_output_write(gs_output *o, const void *data, size_t n)
{
    if (!o)
        return GS_ERR_ARG;
    return gs_out_write(o, data, n);
}

GS_API gs_status gs_output_commit(gs_output *o)
{
    if (!o)
        return GS_ERR_ARG;
    gs_status s = gs_out_commit(o);
    gs_dealloc(o->ctx, o);
    return s;
}

GS_API void gs_output_abort(gs_output *o)
{
    if (!o)
        return;
    gs_out_abort(o);
    gs_dealloc(o->ctx, o);
}
