/* datadir.c — the data dir: its format version, its lock, its creation.
 *
 * Layout (format 1): VERSION, madang.lock, meta.db (SQLite), warehouse.duckdb,
 * tmp/, server.crt, server.key, admin.password (if generated).
 * Every check runs before anything is written, so a refused start leaves the
 * directory exactly as it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

#define VERSION_MAGIC "madang data format "

static bool dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = false;
            break;
        }
    }
    closedir(d);
    return empty;
}

bool datadir_check(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) return true; /* created later */
        snprintf(err, errlen, "data dir %s: %s; check the path and its permissions", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data dir %s is not a directory; pass --data a directory path", dir);
        return false;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        snprintf(err, errlen,
                 "data dir %s is not writable by this user; fix its permissions or pick another --data", dir);
        return false;
    }
    char *vpath = xasprintf("%s/VERSION", dir);
    char *v = read_file(vpath, NULL);
    free(vpath);
    if (!v) {
        if (dir_is_empty(dir)) return true;
        snprintf(err, errlen,
                 "data dir %s is not empty and is not a madang data dir (no VERSION file); "
                 "pick an empty or new directory with --data",
                 dir);
        return false;
    }
    int fmt = 0;
    bool ok = strncmp(v, VERSION_MAGIC, strlen(VERSION_MAGIC)) == 0 &&
              sscanf(v + strlen(VERSION_MAGIC), "%d", &fmt) == 1 && fmt > 0;
    free(v);
    if (!ok) {
        snprintf(err, errlen, "data dir %s has an unreadable VERSION file; it is not a madang data dir", dir);
        return false;
    }
    if (fmt > MADANG_DATA_FORMAT) {
        snprintf(err, errlen,
                 "data dir %s has format %d, newer than this madang reads (%d); upgrade madang to open it",
                 dir, fmt, MADANG_DATA_FORMAT);
        return false;
    }
    return true;
}

bool datadir_create(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return false;
    }
    char *vpath = xasprintf("%s/VERSION", dir);
    bool ok = true;
    if (access(vpath, F_OK) != 0) {
        char *v = xasprintf(VERSION_MAGIC "%d\n", MADANG_DATA_FORMAT);
        ok = write_file_atomic(vpath, v, strlen(v), 0644);
        free(v);
        if (!ok) snprintf(err, errlen, "cannot write %s: %s", vpath, strerror(errno));
    }
    free(vpath);
    if (!ok) return false;
    char *tmp = xasprintf("%s/tmp", dir);
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        ok = false;
    }
    free(tmp);
    return ok;
}

int datadir_lock(const char *dir, char *err, size_t errlen)
{
    char *path = xasprintf("%s/madang.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        snprintf(err, errlen,
                 "data dir %s is in use by another madang server (pid %s); stop it or pass another --data",
                 dir, pid);
        close(fd);
        free(path);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        free(path);
        return -1;
    }
    free(path);
    return fd;
}
