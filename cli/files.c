/*
 * files.c - what the command line does around files: it refuses an output
 * that would replace one of the command's inputs or another of its outputs,
 * removes the temporary files being written when SIGINT, SIGTERM or SIGHUP
 * arrives, and turns the SIGBUS of an input truncated while mapped into a
 * one-line error naming the file (exit 3). The handlers use only
 * async-signal-safe calls; the state they read is set before they can run.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- state read by the signal handlers ----------------------------------- */

enum { MAX_WATCHED = 16, WATCH_PATH = 4096 };

typedef struct watched {
    char path[WATCH_PATH];
    off_t size;               /* size when registered */
} watched;

static gs_ctx *volatile sig_ctx;              /* the context writing files */
static watched inputs[MAX_WATCHED];
static volatile sig_atomic_t ninputs;

void cli_watch_ctx(gs_ctx *ctx)
{
    sig_ctx = ctx;
}

void cli_watch_input(const char *path)
{
    struct stat st;
    if (ninputs == MAX_WATCHED || strlen(path) >= WATCH_PATH || stat(path, &st) != 0)
        return;
    strcpy(inputs[ninputs].path, path);
    inputs[ninputs].size = st.st_size;
    ninputs++;   /* published after the entry is complete */
}

void cli_watch_model(const gs_model *m, const char *path)
{
    cli_watch_input(path);
    for (int i = 0; i < gs_model_data_file_count(m); i++)
        cli_watch_input(gs_model_data_file(m, i));
}

/* ---- handlers -------------------------------------------------------------- */

static void say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

/* The watched input that is now shorter than it was, or NULL. */
static const char *shrunk_input(void)
{
    for (int i = 0; i < ninputs; i++) {
        struct stat st;
        if (stat(inputs[i].path, &st) != 0 || st.st_size < inputs[i].size)
            return inputs[i].path;
    }
    return NULL;
}

static void on_bus(int sig)
{
    (void)sig;
    gs_ctx_remove_temp_files(sig_ctx);
    const char *file = shrunk_input();
    if (!file) {
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

static void catch(int sig, void (*fn)(int))
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN && sig != SIGBUS)
        return;   /* ignored by whoever started us (nohup): stay ignored */
    sigaction(sig, &sa, NULL);
}

void cli_catch_signals(void)
{
    catch(SIGINT, on_stop);
    catch(SIGTERM, on_stop);
    catch(SIGHUP, on_stop);
    catch(SIGBUS, on_bus);
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
