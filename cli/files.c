/*
 * files.c - what the command line does around files: it refuses an output
 * that would replace one of the command's inputs or another of its outputs,
 * removes the temporary files being written when SIGINT, SIGTERM or SIGHUP
 * arrives, and turns the SIGBUS of an input truncated while mapped into a
 * one-line error naming the file (exit 3), found in /proc/self/maps from the
 * faulting address. The handlers use only async-signal-safe calls.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- state read by the signal handlers ----------------------------------- */

static gs_ctx *volatile sig_ctx;   /* the context writing files, or NULL */

void cli_watch_ctx(gs_ctx *ctx)
{
    sig_ctx = ctx;
}

/* ---- handlers (async-signal-safe calls only) --------------------------------- */

static void say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

/* The file of a /proc/self/maps line ("lo-hi perms offset dev inode path")
 * when addr lies in it, else NULL. */
static const char *line_file(const char *line, uintptr_t addr)
{
    const char *p = line;
    uintptr_t lo = hex(&p);
    if (*p++ != '-')
        return NULL;
    uintptr_t hi = hex(&p);
    if (addr < lo || addr >= hi)
        return NULL;
    for (int field = 0; field < 4; field++) {   /* perms, offset, dev, inode */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    return *p == '/' ? p : NULL;
}

/* Copy into out the path of the file mapped at addr; false when none. */
static bool mapped_file(uintptr_t addr, char *out, size_t n)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096], line[4096];
    size_t len = 0;
    bool found = false;
    ssize_t r;
    while (!found && (r = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r && !found; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof line - 1)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = 0;
            len = 0;
            const char *f = line_file(line, addr);
            if (f && strlen(f) < n)
                found = true, strcpy(out, f);
        }
    }
    close(fd);
    return found;
}

/* A mapped input that shrank under us: the access past its new end. */
static void on_bus(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    static char file[4096];
    gs_ctx_remove_temp_files(sig_ctx);
    if (!mapped_file((uintptr_t)si->si_addr, file, sizeof file)) {
        say("graphsub: bus error (an input file changed while it was read?)\n");
        _exit(EXIT_INTERNAL);
    }
    say("graphsub: ");
    say(file);
    say(": file truncated while being read\n");
    _exit(EXIT_INPUT);
}

static void on_stop(int sig)
{
    gs_ctx_remove_temp_files(sig_ctx);
    signal(sig, SIG_DFL);
    raise(sig);   /* delivered when the handler returns: the usual death by sig */
}

static void catch_signal(int sig, void (*fn)(int))
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        return;   /* ignored by whoever started us (nohup): stay ignored */
    sigaction(sig, &sa, NULL);
}

void cli_catch_signals(void)
{
    catch_signal(SIGINT, on_stop);
    catch_signal(SIGTERM, on_stop);
    catch_signal(SIGHUP, on_stop);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* ---- outputs against inputs ------------------------------------------------ */

typedef struct ident {
    enum { ID_NONE, ID_STDOUT, ID_INODE, ID_PATH } kind;
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX + NAME_MAX + 2];
} ident;

/* A file that does not exist yet: its folder's real path and its name, with
 * a dangling symbolic link followed (to a depth of 8). */
static void ident_absent(const char *path, ident *id, int depth)
{
    char link[PATH_MAX], dir[PATH_MAX + 1], real[PATH_MAX];
    ssize_t n = depth < 8 ? readlink(path, link, sizeof link - 1) : -1;
    const char *slash = strrchr(path, '/');
    size_t dn = slash ? (size_t)(slash - path) + (slash == path) : 1;
    snprintf(dir, sizeof dir, "%.*s", (int)dn, slash ? path : ".");
    if (n > 0) {
        link[n] = 0;
        char next[2 * PATH_MAX + 2];
        snprintf(next, sizeof next, "%s%s%s", link[0] == '/' ? "" : dir, link[0] == '/' ? "" : "/", link);
        ident_absent(next, id, depth + 1);
        return;
    }
    if (!realpath(dir, real))
        return;
    snprintf(id->path, sizeof id->path, "%s/%s", real, slash ? slash + 1 : path);
    id->kind = ID_PATH;
}

/* How a path is told apart: standard output, an inode, or a path not yet
 * there. Character devices (a null device) may be shared by outputs. */
static void ident_of(const char *path, ident *id)
{
    struct stat st;
    id->kind = ID_NONE;
    if (!strcmp(path, "-")) {
        id->kind = ID_STDOUT;
    } else if (stat(path, &st) == 0) {
        if (!S_ISCHR(st.st_mode)) {
            id->kind = ID_INODE;
            id->dev = st.st_dev;
            id->ino = st.st_ino;
        }
    } else if (errno == ENOENT) {
        ident_absent(path, id, 0);
    }
}

static bool ident_same(const ident *a, const ident *b)
{
    if (a->kind == ID_NONE || a->kind != b->kind)
        return false;
    if (a->kind == ID_INODE)
        return a->dev == b->dev && a->ino == b->ino;
    return a->kind == ID_STDOUT || !strcmp(a->path, b->path);
}

bool cli_same_file(const char *a, const char *b)
{
    ident x, y;
    ident_of(a, &x);
    ident_of(b, &y);
    return ident_same(&x, &y);
}

/* Refuse (exit 2) out[i] naming one of in[] or an earlier out[]. */
int cli_check_outputs(const cli_file *in, int nin, const cli_file *out, int nout)
{
    for (int i = 0; i < nout; i++) {
        for (int k = 0; k < nin; k++)
            if (cli_same_file(out[i].path, in[k].path))
                return cli_error(EXIT_USAGE, "%s: refusing to write the %s over the %s (%s)",
                                 out[i].path, out[i].what, in[k].what, in[k].path);
        for (int k = 0; k < i; k++)
            if (cli_same_file(out[i].path, out[k].path))
                return cli_error(EXIT_USAGE, "%s: given as both the %s and the %s", out[i].path,
                                 out[k].what, out[i].what);
    }
    return 0;
}

/* PATH.data beside the file path leads to (malloc'd), as the library names it. */
char *cli_data_path(const char *path)
{
    char *real = realpath(path, NULL);
    const char *base = real ? real : path;
    size_t n = strlen(base) + 6;
    char *x = malloc(n);
    if (x)
        snprintf(x, n, "%s.data", base);
    free(real);
    return x;
}

/* ---- writing ------------------------------------------------------------- */

int cli_write_file(gs_ctx *ctx, const char *path, const char *buf, size_t n)
{
    gs_output *o = NULL;
    gs_status st = gs_output_open(ctx, path, &o);
    if (st == GS_OK && (st = gs_output_write(o, buf, n)) != GS_OK) {
        gs_output_abort(o);
        return cli_fail(ctx, st);
    }
    if (st == GS_OK)
        st = gs_output_commit(o);
    return st == GS_OK ? 0 : cli_fail(ctx, st);
}
