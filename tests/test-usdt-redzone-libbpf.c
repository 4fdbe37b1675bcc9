/*
 * Copyright (c) 2026 The Open vSwitch flow observability contributors.
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

/* The libbpf tracer of the red-zone test (tests/usdt-redzone.at).
 *
 * Usage: test-usdt-redzone-libbpf PID BINARY PROBE
 *
 * Attaches the BPF program of test-usdt-redzone.bpf.c, embedded here as a
 * libbpf skeleton, to the USDT probe test_usdt:PROBE of BINARY in process
 * PID with bpf_program__attach_usdt(), as ovs-flowwatch attaches to
 * ovs-vswitchd's probes: the kernel then counts the probe's semaphore up
 * for as long as the program stays attached.  Prints "@n: COUNT", the hits
 * that the BPF program counted, once it has counted 100000, or after
 * 120 s, and detaches. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "tests/test-usdt-redzone.skel.h"
#include "util.h"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
    const struct timespec ten_ms = { 0, 10000000 };
    struct test_usdt_redzone_bpf *skel;
    unsigned long long total = 0;
    struct bpf_link *link;
    double start;
    int error;
    int pid;

    if (argc != 4 || (pid = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s PID BINARY PROBE\n", argv[0]);
        return 1;
    }

    skel = test_usdt_redzone_bpf__open_and_load();
    if (!skel) {
        fprintf(stderr, "%s: cannot load the BPF program: %s\n", argv[0],
                ovs_strerror(errno));
        return 1;
    }
    link = bpf_program__attach_usdt(skel->progs.count_hit, pid, argv[2],
                                    "test_usdt", argv[3], NULL);
    if (!link) {
        error = errno;
        fprintf(stderr, "%s: cannot attach to test_usdt:%s of %s in PID "
                "%d: %s\n", argv[0], argv[3], argv[2], pid,
                ovs_strerror(error));
        test_usdt_redzone_bpf__destroy(skel);
        return 1;
    }

    start = now();
    while (total < 100000 && now() - start < 120) {
        nanosleep(&ten_ms, NULL);
        total = __atomic_load_n(&skel->bss->hits, __ATOMIC_RELAXED);
    }
    printf("@n: %llu\n", total);

    bpf_link__destroy(link);
    test_usdt_redzone_bpf__destroy(skel);
    return 0;
}
