/*
 * Copyright (c) 2026 The ovs-flow-observability authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* Preloaded into ovs-vswitchd by the benchmark's callgrind runs, so that the
 * same inputs give the same instruction count.
 *
 * ovs-vswitchd seeds each thread's random number generator with
 * tv_sec ^ tv_usec ^ (4 bytes of /dev/urandom) ^ hash(pthread_self()),
 * reading the time of day just before the entropy.  Hash secrets (the one
 * of the UFIDs among them) come from that generator, and with them where
 * each flow lands in the hash tables.  Here, reads of /dev/urandom return a
 * fixed byte stream, and a 4-byte read returns the calling thread's last
 * gettimeofday() result folded in, which cancels the time out of the seed.
 * Under valgrind, thread stacks land at the same addresses from run to run,
 * so the seeds are then the same in every run.  Nothing else changes: the
 * clock itself is untouched. */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_FD 4096

static __thread struct timeval last_tv;
static unsigned char urandom_fd[MAX_FD];

static void *
next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

int
gettimeofday(struct timeval *tv, void *tz)
{
    static int (*real)(struct timeval *, void *);
    int retval;

    if (!real) {
        real = next("gettimeofday");
    }
    retval = real(tv, tz);
    if (!retval) {
        last_tv = *tv;
    }
    return retval;
}

static int
mark(int fd, const char *path)
{
    if (fd >= 0 && fd < MAX_FD) {
        urandom_fd[fd] = path && !strcmp(path, "/dev/urandom");
    }
    return fd;
}

static int
real_open(const char *sym, const char *path, int flags, mode_t mode)
{
    int (*real)(const char *, int, ...) = next(sym);

    return mark(real(path, flags, mode), path);
}

int
open(const char *path, int flags, ...)
{
    mode_t mode = 0;

    if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list args;

        va_start(args, flags);
        mode = va_arg(args, int);
        va_end(args);
    }
    return real_open("open", path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
    mode_t mode = 0;

    if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list args;

        va_start(args, flags);
        mode = va_arg(args, int);
        va_end(args);
    }
    return real_open("open64", path, flags, mode);
}

int
close(int fd)
{
    static int (*real)(int);

    if (!real) {
        real = next("close");
    }
    if (fd >= 0 && fd < MAX_FD) {
        urandom_fd[fd] = 0;
    }
    return real(fd);
}

ssize_t
read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    unsigned char *p = buf;
    size_t i;

    if (!real) {
        real = next("read");
    }
    if (fd < 0 || fd >= MAX_FD || !urandom_fd[fd]) {
        return real(fd, buf, n);
    }
    for (i = 0; i < n; i++) {
        p[i] = 0x5a ^ (i * 37);
    }
    if (n == 4) {
        uint32_t x;

        memcpy(&x, p, 4);
        x ^= (uint32_t) last_tv.tv_sec ^ (uint32_t) last_tv.tv_usec;
        memcpy(p, &x, 4);
    }
    return n;
}
