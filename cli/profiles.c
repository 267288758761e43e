/*
 * profiles.c - device profiles found by name: `--profile onnxruntime-cpu`
 * reads onnxruntime-cpu.json from the folder `meson install` puts the
 * profiles in, or from the source tree the binary was built from.
 */
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef GS_PROFILE_DIR
#define GS_PROFILE_DIR "/usr/local/share/graphsub/profiles"
#endif
#ifndef GS_SOURCE_PROFILE_DIR
#define GS_SOURCE_PROFILE_DIR ""
#endif

static const char *const dirs[] = { GS_PROFILE_DIR, GS_SOURCE_PROFILE_DIR };

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The profile names of dir, comma separated, appended to buf. */
static void list_names(const char *dir, char *buf, size_t cap)
{
    DIR *d = *dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), k = strlen(buf);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") || strstr(buf, e->d_name))
            continue;
        snprintf(buf + k, cap - k, "%s%.*s", k ? ", " : "", (int)(n - 5), e->d_name);
    }
    if (d)
        closedir(d);
}

char *cli_profile_path(const char *cmd, const char *value)
{
    size_t n = strlen(value);
    if (strchr(value, '/') || (n > 5 && !strcmp(value + n - 5, ".json")) || is_file(value)) {
        char *p = strdup(value);
        if (!p)
            cli_error(EXIT_INTERNAL, "out of memory");
        return p;
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!*dirs[i])
            continue;
        size_t cap = strlen(dirs[i]) + n + 8;
        char *p = malloc(cap);
        if (!p) {
            cli_error(EXIT_INTERNAL, "out of memory");
            return NULL;
        }
        snprintf(p, cap, "%s/%s.json", dirs[i], value);
        if (is_file(p))
            return p;
        free(p);
    }
    char names[1024] = "";
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        list_names(dirs[i], names, sizeof names);
    char buf[256];
    cli_usage(cmd, "no profile named '%s' (known: %s; or give a path to a .json file)",
              cli_text(value, buf, sizeof buf), *names ? names : "none installed");
    return NULL;
}
