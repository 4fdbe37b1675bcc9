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

/* Checks that a uprobe at a probe site does not write into the traced
 * thread's red zone, the 128 bytes below %rsp that the x86-64 ABI lets a
 * leaf function keep data in without moving %rsp.
 *
 * Usage: test-usdt-redzone ovs|nop5
 *
 * Waits (up to 30 s) for a tracer to enable the probe's semaphore, then
 * calls a leaf function that stores a canary at -8(%rsp), fires the probe
 * and compares the canary, for as long as the semaphore stays enabled (at
 * most 300 s), and prints "hits N corrupted N".  "ovs" fires
 * test_usdt:redzone_ovs, a site that OVS_USDT_PROBE makes, as every probe
 * of Open vSwitch; "nop5" fires test_usdt:redzone_nop5, a site made here
 * of a 5-byte nop, which kernels that turn a uprobe at such a site into a
 * call (Linux 6.18 and later) corrupt: it shows that the check sees a
 * corruption. */

#include <config.h>
/* Every probe in this file has a semaphore (see usdt-probes.h): this must
 * come before any header that could include <sys/sdt.h>. */
#define OVS_USDT_WITH_SEMAPHORES 1
#include "openvswitch/usdt-probes.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
OVS_USDT_SEMAPHORE(test_usdt, redzone_ovs);
OVS_USDT_SEMAPHORE(test_usdt, redzone_nop5);

/* Hits whose canary changed.  The assembly reaches it %rip-relative, so
 * that the leaf functions below need no register or stack slot of their
 * own between the store and the compare. */
static unsigned long long corrupted;

#define CANARY "0x5a17c0de5a17c0de"

/* Stores the canary at -8(%rsp), in the red zone: the function calls
 * nothing and has no local variable, so the compiler keeps nothing there
 * and does not move %rsp between the two statements. */
#define STORE_CANARY                                                  \
    __asm__ volatile("movabsq $" CANARY ", %%rax\n\t"                 \
                     "movq %%rax, -8(%%rsp)" ::: "rax", "memory")

/* Counts a hit in 'corrupted' if the canary at -8(%rsp) changed. */
#define CHECK_CANARY                                                  \
    __asm__ volatile("movabsq $" CANARY ", %%rax\n\t"                 \
                     "cmpq %%rax, -8(%%rsp)\n\t"                      \
                     "je 1f\n\t"                                      \
                     "incq %0\n"                                      \
                     "1:" : "+m" (corrupted) :: "rax", "cc", "memory")

static void __attribute__((noinline))
fire_ovs(void)
{
    STORE_CANARY;
    OVS_USDT_PROBE(test_usdt, redzone_ovs);
    CHECK_CANARY;
}

/* From here on, <sys/sdt.h> makes each site the 5-byte nop "nopl
 * 0x0(%rax,%rax,1)": it expands _SDT_NOP where a probe is used.  This is
 * the negative control, not what Open vSwitch's probes are. */
#undef _SDT_NOP
#define _SDT_NOP .byte 0x0f; .byte 0x1f; .byte 0x44; .byte 0x00; .byte 0x00

static void __attribute__((noinline))
fire_nop5(void)
{
    STORE_CANARY;
    DTRACE_PROBE(test_usdt, redzone_nop5);
    CHECK_CANARY;
}

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
    const struct timespec ms = { 0, 1000000 };
    volatile unsigned short *sem;
    unsigned long long hits = 0;
    void (*fire)(void);
    double start;

    if (argc != 2 || (strcmp(argv[1], "ovs") && strcmp(argv[1], "nop5"))) {
        fprintf(stderr, "usage: %s ovs|nop5\n", argv[0]);
        return 1;
    }
    if (!strcmp(argv[1], "ovs")) {
        sem = &test_usdt_redzone_ovs_semaphore;
        fire = fire_ovs;
    } else {
        sem = &test_usdt_redzone_nop5_semaphore;
        fire = fire_nop5;
    }

    start = now();
    while (!*sem) {
        if (now() - start > 30) {
            fprintf(stderr, "%s: no tracer enabled the probe in 30 s\n",
                    argv[0]);
            return 1;
        }
        nanosleep(&ms, NULL);
    }

    start = now();
    while (*sem) {
        fire();
        if (!(++hits % 65536) && now() - start > 300) {
            break;
        }
    }
    printf("hits %llu corrupted %llu\n", hits, corrupted);
    return 0;
}
#else /* !__x86_64__ */
int
main(void)
{
    fprintf(stderr, "test-usdt-redzone: the red zone check is for x86_64 "
            "only\n");
    return 77;
}
#endif
