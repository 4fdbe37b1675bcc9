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

/* test-upcall-trace: drives the upcall tracer of ofproto-dpif-upcall-trace.c
 * directly, without a datapath, to interleave its calls in orders that real
 * threads produce only by chance.  Each command-line argument names a
 * scenario; each prints its result. */

#include <config.h>
#undef NDEBUG
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "dpif.h"
#include "flow.h"
#include "netlink.h"
#include "ofproto/ofproto-dpif-upcall-trace.h"
#include "ofproto/ofproto-dpif-xlate.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofpbuf.h"
#include "ovs-rcu.h"
#include "util.h"
#include "uuid.h"

static const struct uuid bridge_uuid = { .parts = { 1, 2, 3, 4 } };

/* Enables tracing of every upcall of 'bridge_uuid'. */
static void
enable(struct uptrace *tracer)
{
    struct match match;

    match_init_catchall(&match);
    uptrace_enable(tracer, &bridge_uuid, "br0", &match, "(all upcalls)", 4);
}

/* Starts the translation of a miss upcall of 'bridge_uuid' in 'xin'. */
static struct uptrace_upcall *
begin(struct uptrace *tracer, struct xlate_in *xin)
{
    memset(xin, 0, sizeof *xin);
    xin->flow.in_port.ofp_port = u16_to_ofp(1);
    return uptrace_upcall_begin(tracer, &bridge_uuid, xin);
}

static void
end(struct uptrace *tracer, struct uptrace_upcall *ut,
    const struct xlate_in *xin)
{
    struct xlate_out xout = { .slow = 0 };
    struct ofpbuf odp_actions;

    ofpbuf_init(&odp_actions, 0);
    uptrace_upcall_end(tracer, ut, xin, &xout, 0, NULL, &odp_actions);
    ofpbuf_uninit(&odp_actions);
}

/* An upcall that begins in one session and ends after "delete" and "create"
 * must not land in the new session. */
static void
test_new_session(void)
{
    struct uptrace *tracer = uptrace_create();
    struct uptrace_upcall *ut;
    struct xlate_in xin;

    enable(tracer);
    ut = begin(tracer, &xin);
    ovs_assert(ut);
    uptrace_disable(tracer);
    enable(tracer);
    end(tracer, ut, &xin);
    printf("upcall from the old session: %"PRIuSIZE" traces\n",
           uptrace_disable(tracer));

    enable(tracer);
    ut = begin(tracer, &xin);
    end(tracer, ut, &xin);
    printf("upcall from the same session: %"PRIuSIZE" traces\n",
           uptrace_disable(tracer));

    uptrace_destroy(tracer);
}

/* An upcall that resumes a frozen state of a trace of the old session must
 * not be traced in the new one. */
static void
test_resume_old_trace(void)
{
    struct uptrace *tracer = uptrace_create();
    struct uptrace_upcall *ut;
    struct xlate_in xin;
    uint64_t old_id;

    enable(tracer);
    ut = begin(tracer, &xin);
    old_id = xin.trace_id;
    end(tracer, ut, &xin);
    uptrace_disable(tracer);

    enable(tracer);
    memset(&xin, 0, sizeof xin);
    xin.trace_id = old_id;
    xin.flow.recirc_id = 1;
    ut = uptrace_upcall_begin(tracer, &bridge_uuid, &xin);
    printf("resumed trace of the old session: %s\n",
           ut ? "traced" : "not traced");
    if (ut) {
        end(tracer, ut, &xin);
    }
    uptrace_destroy(tracer);
}

/* A flow that the datapath installed and one that it refused: the trace
 * lists both, the second as "install failed" with the error.  (Only a
 * handler thread, with the kernel datapath, sees a put fail.) */
static void
test_install_failed(void)
{
    struct uptrace *tracer = uptrace_create();
    struct ds s = DS_EMPTY_INITIALIZER;
    struct uptrace_upcall *ut;
    struct xlate_in xin;
    struct ofpbuf key;
    ovs_u128 ufid1 = { .u64 = { 1, 0 } };
    ovs_u128 ufid2 = { .u64 = { 2, 0 } };

    enable(tracer);
    ut = begin(tracer, &xin);
    end(tracer, ut, &xin);

    ofpbuf_init(&key, 0);
    nl_msg_put_u32(&key, OVS_KEY_ATTR_RECIRC_ID, 0);
    uptrace_flow_installed(tracer, xin.trace_id, &ufid1, PMD_ID_NULL,
                           key.data, key.size, NULL, 0, 0);
    uptrace_flow_installed(tracer, xin.trace_id, &ufid2, PMD_ID_NULL,
                           key.data, key.size, NULL, 0, EEXIST);
    ovs_assert(uptrace_get(tracer, xin.trace_id, "dp", NULL, &s));
    fputs(strstr(ds_cstr(&s), "Datapath flows installed"), stdout);

    ofpbuf_uninit(&key);
    ds_destroy(&s);
    uptrace_destroy(tracer);
}

int
main(int argc, char *argv[])
{
    set_program_name(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "new-session")) {
            test_new_session();
        } else if (!strcmp(argv[i], "resume-old-trace")) {
            test_resume_old_trace();
        } else if (!strcmp(argv[i], "install-failed")) {
            test_install_failed();
        } else {
            ovs_fatal(0, "%s: unknown scenario", argv[i]);
        }
    }
    ovsrcu_exit();
    return 0;
}
