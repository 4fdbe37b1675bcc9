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

#ifndef OFPROTO_DPIF_UPCALL_TRACE_H
#define OFPROTO_DPIF_UPCALL_TRACE_H 1

/* Live upcall tracing
 * ===================
 *
 * ofproto/trace translates a flow that the user describes.  The upcall/trace
 * commands instead record the translation of real upcalls, as they happen,
 * with the same trace nodes that ofproto/trace prints, and then follow the
 * datapath flows that these translations installed: every later verdict that
 * the revalidator gives them (modify, delete and why) is added to the
 * trace.
 *
 * There is one "struct uptrace" per udpif, that is, per datapath.  See
 * ofproto-dpif-upcall-trace.c for the locking rules and the memory bounds,
 * and Documentation/topics/upcall-tracing.rst for the user's view.
 *
 * Flow of a trace:
 *
 *   - upcall_xlate() calls uptrace_upcall_begin() for a miss upcall when
 *     tracing is enabled.  If the upcall resumes a frozen state that carries
 *     a trace id, or if it is the first of its packet's pipeline (recirc_id
 *     0) and its flow matches the filter, it returns a nonnull context and
 *     sets 'xin->trace' and 'xin->trace_id'; translation then fills the
 *     trace nodes and stores the trace id in every frozen state it creates.
 *     For an upcall that starts a trace, it also sets 'xin->trace_wc', so
 *     that translation narrows the megaflow to the filter's fields: packets
 *     that the filter does not match never use the traced datapath flow,
 *     hence never reach the traced frozen states.  uptrace_upcall_end()
 *     records the translation round and adds it to the trace; the round is
 *     formatted when the trace is printed.
 *
 *   - The trace id is kept in the udpif_key.  uptrace_flow_installed() is
 *     called once the datapath has installed the flow (or refused to), the
 *     revalidator calls uptrace_verdict() for every verdict on a ukey with a
 *     nonzero trace id. */

#include <stdbool.h>
#include <stdint.h>
#include "ofproto-dpif-upcall.h"
#include "openvswitch/types.h"
#include "ovs-atomic.h"
#include "ovs-rcu.h"

struct dpif;
struct ds;
struct flow_wildcards;
struct match;
struct nlattr;
struct ofpbuf;
struct udpif;
struct uptrace_filter;
struct uptrace_upcall;
struct uuid;
struct xlate_in;
struct xlate_out;

/* Per-datapath upcall tracer.  Only 'enabled' may be read directly, and only
 * with atomic_read_relaxed() (through uptrace_enabled()). */
struct uptrace {
    atomic_bool enabled;        /* Cheap check for the upcall fast path. */
    OVSRCU_TYPE(struct uptrace_filter *) filter;
    struct uptrace_state *state;        /* Guarded by the tracer's mutex. */
};

void uptrace_init(void);
struct uptrace *uptrace_create(void);
void uptrace_destroy(struct uptrace *);

/* Returns true if upcall tracing is enabled on 'tracer'.  This is the only
 * cost of the feature on an upcall when tracing is disabled: one relaxed
 * atomic load and a branch. */
static inline bool
uptrace_enabled(struct uptrace *tracer)
{
    bool enabled;

    atomic_read_relaxed(&tracer->enabled, &enabled);
    return enabled;
}

void uptrace_enable(struct uptrace *, const struct uuid *ofproto_uuid,
                    const char *bridge, const struct match *,
                    const char *filter, size_t max_traces);
size_t uptrace_disable(struct uptrace *);
bool uptrace_get(struct uptrace *, uint64_t id, const char *dp_name,
                 struct dpif *, struct ds *);

struct uptrace_upcall *uptrace_upcall_begin(struct uptrace *,
                                            const struct uuid *ofproto_uuid,
                                            struct xlate_in *);
void uptrace_upcall_end(struct uptrace *, struct uptrace_upcall *,
                        const struct xlate_in *, const struct xlate_out *,
                        int xlate_error, const struct flow_wildcards *,
                        const struct ofpbuf *odp_actions);

void uptrace_flow_installed(struct uptrace *, uint64_t trace_id,
                            const ovs_u128 *ufid, unsigned pmd_id,
                            const struct nlattr *key, size_t key_len,
                            const struct nlattr *mask, size_t mask_len,
                            int error);

/* Phase in which the revalidator gave a verdict. */
enum uptrace_phase {
    UPTRACE_DUMP,               /* revalidate(). */
    UPTRACE_SWEEP,              /* revalidator_sweep__() or dp_purge_cb(). */
};

void uptrace_verdict__(struct uptrace *, uint64_t trace_id,
                       const ovs_u128 *ufid, enum reval_result,
                       enum flow_del_reason, enum uptrace_phase);

/* Records in trace 'trace_id' the revalidator's verdict 'result' with
 * 'reason' on the datapath flow 'ufid'.  Costs nothing more than a test when
 * 'trace_id' is 0. */
static inline void
uptrace_verdict(struct uptrace *tracer, uint64_t trace_id,
                const ovs_u128 *ufid, enum reval_result result,
                enum flow_del_reason reason, enum uptrace_phase phase)
{
    if (OVS_UNLIKELY(trace_id) && uptrace_enabled(tracer)) {
        uptrace_verdict__(tracer, trace_id, ufid, result, reason, phase);
    }
}

#endif /* ofproto-dpif-upcall-trace.h */
