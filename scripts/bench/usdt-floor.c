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

/* The probe floor of the benchmark (make bench, part "floor"): fires one
 * USDT probe ITERATIONS times in a loop and prints the thread's on-CPU
 * nanoseconds per iteration.  Probe bench:nop1 has the site <sys/sdt.h>
 * emits on x86_64, a 1-byte nop; probe bench:nop5 the same with a 5-byte
 * nop (0f 1f 44 00 00), which kernels that optimize uprobes on x86_64 can
 * turn into a call instead of a trap: a call that writes below %rsp, into
 * the traced thread's red zone, which is why Open vSwitch's probe sites
 * stay 1-byte nops and nop5 is measured only as a comparison.  Run bare and under a bpftrace
 * count() on the probe, the difference per iteration is the floor.
 *
 * Usage: usdt-floor nop1|nop5 ITERATIONS */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <time.h>

__attribute__((noinline)) static void
fire_nop1(long i)
{
    DTRACE_PROBE1(bench, nop1, i);
}

/* <sys/sdt.h> expands _SDT_NOP where a probe is used, so redefining it here
 * changes the sites below only.  Semicolons separate the statements: a
 * comma would split the macro's argument. */
#undef _SDT_NOP
#define _SDT_NOP .byte 0x0f; .byte 0x1f; .byte 0x44; .byte 0x00; .byte 0x00

__attribute__((noinline)) static void
fire_nop5(long i)
{
    DTRACE_PROBE1(bench, nop5, i);
}

static long long
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(int argc, char *argv[])
{
    void (*fire)(long);
    long long start;
    long i, n;

    if (argc != 3 || (strcmp(argv[1], "nop1") && strcmp(argv[1], "nop5"))
        || (n = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: %s nop1|nop5 ITERATIONS\n", argv[0]);
        return 1;
    }
    fire = !strcmp(argv[1], "nop1") ? fire_nop1 : fire_nop5;
    start = cpu_ns();
    for (i = 0; i < n; i++) {
        fire(i);
    }
    printf("%.2f\n", (double) (cpu_ns() - start) / n);
    return 0;
}
