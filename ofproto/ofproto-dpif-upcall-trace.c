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

#include <config.h>

#include "ofproto-dpif-upcall-trace.h"

#include <errno.h>
#include <inttypes.h>

#include "bitmap.h"
#include "dpdk.h"
#include "dpif.h"
#include "hash.h"
#include "odp-util.h"
#include "ofproto-dpif.h"
#include "ofproto-dpif-trace.h"
#include "ofproto-dpif-upcall.h"
#include "ofproto-dpif-xlate.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "openvswitch/thread.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofproto_dpif_upcall_trace);

/* Locking
 * =======
 *
 * Three kinds of threads use a tracer concurrently:
 *
 *   - Threads that translate upcalls (handler threads, or PMD threads and the
 *     main thread with the userspace datapath) start and add to traces.
 *
 *   - Revalidator threads add verdicts to traces.
 *
 *   - The main thread runs the upcall/trace commands, which read all the
 *     traces, and enable or disable tracing.
 *
 * 'enabled' is an atomic that upcall_xlate() reads with a relaxed load: when
 * tracing is disabled this is the whole cost of the feature per upcall.  When
 * it is enabled, the filter is read through the RCU pointer 'filter', which
 * never changes while it is published: matching an upcall against the filter
 * takes no lock.  Disabling tracing unpublishes the filter and frees it after
 * an RCU grace period, so an upcall that still uses it is safe.
 *
 * Everything else (the traces, and the configuration that the commands show)
 * lives in 'struct uptrace_state' and is guarded by its 'mutex'.  Writers take
 * it only for a trace that exists, to append what they prepared beforehand
 * without the lock:
 *
 *   - a translation that matched the filter or resumed a traced frozen state,
 *     once at the end of the translation;
 *
 *   - the installation of a datapath flow, and each revalidator verdict, only
 *     when its udpif_key has a nonzero trace id and tracing is enabled.  A
 *     verdict on an untraced flow (trace id 0) costs one test, no lock.
 *
 * Packet processing threads wait for the mutex, so no critical section does
 * work that grows with the size of a trace or with the number of traces:
 *
 *   - A trace's rounds, its flows' keys and masks and the flows themselves
 *     never change once added, only the events and counters of its flows do,
 *     and a trace is reference counted.  upcall/trace/get takes a reference
 *     and copies the counters of one trace under the mutex, and formats from
 *     that snapshot without it.
 *
 *   - upcall/trace/list copies a reference and two counters per trace, at
 *     most UPTRACE_LIST_CHUNK (32) traces per critical section, into an
 *     array on the stack, and formats them without the mutex before it
 *     copies the next ones (see uptrace_list()).
 *
 *   - Evicting a trace, and upcall/trace/delete, unlink the traces under the
 *     mutex and free them after releasing it.
 *
 * Each upcall/trace/create starts a new session, with a new 'generation'.
 * A translation records the generation of the session it started in, and
 * is dropped if it ends in another one, so that an upcall that began before
 * a delete and a create never lands in the new session.
 *
 * The mutex is a leaf: no other lock is taken while it is held.  It is taken
 * while the revalidator holds a ukey's mutex, never the other way around.
 *
 * Memory bounds
 * =============
 *
 * A tracer holds at most 'max_traces' traces (UPTRACE_DEFAULT_MAX_TRACES by
 * default, at most UPTRACE_MAX_MAX_TRACES): creating one more evicts the
 * oldest.  One trace holds at most:
 *
 *   - UPTRACE_MAX_ROUNDS translation rounds, further rounds are counted but
 *     not kept;
 *
 *   - UPTRACE_MAX_TEXT bytes of translation steps and datapath actions over
 *     all its rounds: the steps of the round that crosses the limit are
 *     truncated, later rounds are counted but not kept;
 *
 *   - UPTRACE_MAX_FLOWS datapath flows, each with its key and mask (at most
 *     UPTRACE_MAX_FLOW_TEXT bytes) and its UPTRACE_MAX_EVENTS most recent
 *     events (installation, modification, deletion), plus the count of its
 *     "keep" verdicts.
 *
 * so that a trace takes less than about 150 kB (each round also keeps its
 * flow before and after translation and its megaflow), and a tracer with the
 * default limit less than about 10 MB. */

#define UPTRACE_DEFAULT_MAX_TRACES 64
#define UPTRACE_MAX_MAX_TRACES 1024
#define UPTRACE_MAX_ROUNDS 16
#define UPTRACE_MAX_TEXT (64 * 1024)
#define UPTRACE_MAX_FLOWS 32
#define UPTRACE_MAX_FLOW_TEXT 1024
#define UPTRACE_MAX_EVENTS 16

/* Trace ids are unique in the process, never reused, and never 0. */
static atomic_uint64_t uptrace_next_id = ATOMIC_VAR_INIT(1);

/* One 64-bit word of an upcall filter: a flow matches it if the flow's word
 * number 'idx' (as flow_u64_value() numbers them) equals 'value' in the
 * bits of 'mask'. */
struct uptrace_filter_word {
    uint64_t mask;
    uint64_t value;             /* Already masked. */
    size_t idx;
};

/* An upcall filter.  Immutable while it is published in 'uptrace->filter'.
 *
 * Every miss upcall of an enabled tracer is matched against it, so for the
 * match it keeps only the words that the filter's mask does not wildcard,
 * in the order of the flow, rather than a minimatch whose iteration over
 * its maps costs more than the comparisons themselves.  The whole mask
 * ('wc') serves only an upcall that starts a trace. */
struct uptrace_filter {
    struct uuid ofproto_uuid;   /* The bridge whose upcalls are traced. */
    uint64_t generation;        /* The session that it belongs to. */

    /* The filter's mask and the fields that it matches (MFF_*), to narrow
     * the megaflow of an upcall that starts a trace. */
    struct flow_wildcards wc;
    unsigned long fields[BITMAP_N_LONGS(MFF_N_IDS)];

    size_t n_words;
    struct uptrace_filter_word words[];
};

/* A translation round: one upcall's translation.  Immutable once added to a
 * trace.  The lines that follow the translation steps are formatted when the
 * trace is printed, in the main thread, where port names can be looked up. */
struct uptrace_round {
    long long int when;         /* Wall clock time, in ms. */
    bool matches_filter;        /* Whether the upcall's flow matches it. */
    char *steps;                /* The translation steps (trace nodes). */
    struct flow flow;           /* Flow before translation. */
    struct flow final_flow;     /* Flow after translation. */
    struct minimatch megaflow;  /* Valid only if 'has_megaflow'. */
    bool has_megaflow;
    struct ofpbuf odp_actions;
    enum xlate_error error;
    enum slow_path_reason slow;
};

enum uptrace_event_type {
    UPTRACE_EV_INSTALL,         /* A handler installed the flow. */
    UPTRACE_EV_INSTALL_FAILED,  /* The datapath refused to install it. */
    UPTRACE_EV_VERDICT,         /* The revalidator modified or deleted it. */
};

struct uptrace_event {
    long long int when;         /* Wall clock time, in ms. */
    enum uptrace_event_type type;
    enum reval_result result;   /* For a verdict. */
    enum flow_del_reason reason;        /* For a verdict. */
    enum uptrace_phase phase;   /* For a verdict. */
    unsigned pmd_id;            /* For an installation. */
    int error;                  /* For a failed installation, an errno. */
};

/* What changes in a flow of a trace: guarded by the tracer's mutex. */
struct uptrace_flow_events {
    unsigned long long n_keeps; /* Number of "keep" verdicts. */
    long long int last_keep;    /* Wall clock time of the last one. */

    /* The UPTRACE_MAX_EVENTS most recent events, a ring. */
    struct uptrace_event events[UPTRACE_MAX_EVENTS];
    size_t n_events;            /* Total number of events ever recorded. */
};

/* A datapath flow that a traced translation installed. */
struct uptrace_flow {
    ovs_u128 ufid;              /* Immutable. */
    char *match;                /* Datapath key and mask, as dpctl prints. */
    struct uptrace_flow_events ev;
};

struct uptrace_trace {
    struct ovs_refcount ref;
    struct hmap_node hmap_node; /* In 'state->traces', by hash of 'id'. */
    struct ovs_list list_node;  /* In 'state->traces_lru', oldest first. */
    bool linked;                /* Set when inserted in 'state->traces_lru',
                                 * cleared by uptrace_unlink_trace() (not by
                                 * uptrace_disable()).  Guarded by the
                                 * tracer's mutex. */
    uint64_t id;
    long long int created;      /* Wall clock time, in ms. */
    char *flow;                 /* The first round's flow. */

    /* The first 'n_rounds' rounds and 'n_flows' flows never change, so that
     * a snapshot may read them without the mutex. */
    struct uptrace_round *rounds[UPTRACE_MAX_ROUNDS];
    size_t n_rounds;            /* Rounds kept in 'rounds'. */
    size_t n_dropped_rounds;    /* Rounds beyond the limits. */
    size_t text_bytes;          /* Sum of the rounds' recorded bytes. */

    struct uptrace_flow *flows[UPTRACE_MAX_FLOWS];
    size_t n_flows;
    size_t n_dropped_flows;
};

struct uptrace_state {
    struct ovs_mutex mutex;
    bool enabled OVS_GUARDED;
    uint64_t generation OVS_GUARDED;    /* Incremented by each create. */
    char *bridge OVS_GUARDED;           /* Bridge named in create. */
    char *filter OVS_GUARDED;           /* The filter, formatted. */
    size_t max_traces OVS_GUARDED;
    struct hmap traces OVS_GUARDED;     /* Contains "struct uptrace_trace". */
    struct ovs_list traces_lru OVS_GUARDED;
    unsigned long long n_evicted OVS_GUARDED;
};

/* Context of one traced translation, from uptrace_upcall_begin() to
 * uptrace_upcall_end(). */
struct uptrace_upcall {
    struct ovs_list nodes;      /* Trace nodes that translation adds. */
    struct flow flow;           /* Flow before translation. */
    uint64_t trace_id;
    uint64_t generation;        /* Session in which the upcall began. */
    bool new_trace;             /* True if the trace is to be created. */

    /* If 'new_trace', what translation unwildcards in the megaflow, through
     * 'xin->trace_wc': the filter's fields and their prerequisites. */
    struct flow_wildcards narrow_wc;
    bool matches_filter;        /* Whether 'flow' matches the filter. */
    long long int when;
};

struct uptrace *
uptrace_create(void)
{
    struct uptrace *tracer = xzalloc(sizeof *tracer);
    struct uptrace_state *state = xzalloc(sizeof *state);

    atomic_init(&tracer->enabled, false);
    ovsrcu_init(&tracer->filter, NULL);
    ovs_mutex_init(&state->mutex);
    hmap_init(&state->traces);
    ovs_list_init(&state->traces_lru);
    tracer->state = state;
    return tracer;
}

static struct uptrace_filter *
uptrace_filter_create(const struct match *match,
                      const struct uuid *ofproto_uuid)
{
    const uint64_t *mask = (const uint64_t *) &match->wc.masks;
    const uint64_t *value = (const uint64_t *) &match->flow;
    struct uptrace_filter *filter;
    size_t n = 0;

    for (size_t i = 0; i < FLOW_U64S; i++) {
        n += mask[i] != 0;
    }
    filter = xmalloc(sizeof *filter + n * sizeof filter->words[0]);
    filter->ofproto_uuid = *ofproto_uuid;
    filter->wc = match->wc;
    memset(filter->fields, 0, sizeof filter->fields);
    for (size_t i = 0; i < MFF_N_IDS; i++) {
        if (!mf_is_all_wild(mf_from_id(i), &match->wc)) {
            bitmap_set1(filter->fields, i);
        }
    }
    filter->n_words = 0;
    for (size_t i = 0; i < FLOW_U64S; i++) {
        if (mask[i]) {
            struct uptrace_filter_word *word
                = &filter->words[filter->n_words++];

            word->mask = mask[i];
            word->value = value[i] & mask[i];
            word->idx = i;
        }
    }
    return filter;
}

static bool
uptrace_filter_matches(const struct uptrace_filter *filter,
                       const struct flow *flow)
{
    for (size_t i = 0; i < filter->n_words; i++) {
        const struct uptrace_filter_word *word = &filter->words[i];

        if ((flow_u64_value(flow, word->idx) & word->mask) != word->value) {
            return false;
        }
    }
    return true;
}

static void
uptrace_round_free(struct uptrace_round *round)
{
    free(round->steps);
    if (round->has_megaflow) {
        minimatch_destroy(&round->megaflow);
    }
    ofpbuf_uninit(&round->odp_actions);
    free(round);
}

static void
uptrace_flow_free(struct uptrace_flow *flow)
{
    free(flow->match);
    free(flow);
}

static void
uptrace_trace_unref(struct uptrace_trace *trace)
{
    if (trace && ovs_refcount_unref(&trace->ref) == 1) {
        for (size_t i = 0; i < trace->n_rounds; i++) {
            uptrace_round_free(trace->rounds[i]);
        }
        for (size_t i = 0; i < trace->n_flows; i++) {
            uptrace_flow_free(trace->flows[i]);
        }
        free(trace->flow);
        free(trace);
    }
}

/* Unlinks 'trace' from 'state'.  The caller must unref it, preferably after
 * releasing the mutex. */
static void
uptrace_unlink_trace(struct uptrace_state *state, struct uptrace_trace *trace)
    OVS_REQUIRES(state->mutex)
{
    hmap_remove(&state->traces, &trace->hmap_node);
    ovs_list_remove(&trace->list_node);
    trace->linked = false;
}

/* Frees the traces in 'traces', a list of "struct uptrace_trace" linked by
 * 'list_node' and no longer in any tracer.  Returns their number. */
static size_t
uptrace_free_traces(struct ovs_list *traces)
{
    struct uptrace_trace *trace;
    size_t n = 0;

    LIST_FOR_EACH_POP (trace, list_node, traces) {
        uptrace_trace_unref(trace);
        n++;
    }
    return n;
}

/* Enables tracing on 'tracer' of the upcalls of the bridge 'ofproto_uuid',
 * named 'bridge', whose flow matches 'match' (formatted as 'filter'), with
 * at most 'max_traces' traces.  Tracing must be disabled. */
void
uptrace_enable(struct uptrace *tracer, const struct uuid *ofproto_uuid,
               const char *bridge, const struct match *match,
               const char *filter_s, size_t max_traces)
{
    struct uptrace_state *state = tracer->state;
    struct uptrace_filter *filter = uptrace_filter_create(match,
                                                          ofproto_uuid);

    ovs_mutex_lock(&state->mutex);
    ovs_assert(!state->enabled);
    state->enabled = true;
    filter->generation = ++state->generation;
    state->bridge = xstrdup(bridge);
    state->filter = xstrdup(filter_s);
    state->max_traces = MIN(MAX(max_traces, 1), UPTRACE_MAX_MAX_TRACES);
    state->n_evicted = 0;
    ovs_mutex_unlock(&state->mutex);

    ovsrcu_set(&tracer->filter, filter);
    atomic_store_relaxed(&tracer->enabled, true);
}

/* Disables tracing on 'tracer' and frees its traces.  Returns the number of
 * traces freed. */
size_t
uptrace_disable(struct uptrace *tracer)
{
    struct uptrace_state *state = tracer->state;
    struct ovs_list traces = OVS_LIST_INITIALIZER(&traces);
    struct hmap traces_map = HMAP_INITIALIZER(&traces_map);
    struct uptrace_filter *filter;
    char *bridge, *filter_s;

    atomic_store_relaxed(&tracer->enabled, false);
    filter = ovsrcu_get_protected(struct uptrace_filter *, &tracer->filter);
    ovsrcu_set(&tracer->filter, NULL);
    if (filter) {
        ovsrcu_postpone(free, filter);
    }

    ovs_mutex_lock(&state->mutex);
    state->enabled = false;
    ovs_list_push_back_all(&traces, &state->traces_lru);
    hmap_swap(&traces_map, &state->traces);
    bridge = state->bridge;
    state->bridge = NULL;
    filter_s = state->filter;
    state->filter = NULL;
    ovs_mutex_unlock(&state->mutex);

    hmap_destroy(&traces_map);
    free(bridge);
    free(filter_s);
    return uptrace_free_traces(&traces);
}

void
uptrace_destroy(struct uptrace *tracer)
{
    if (tracer) {
        struct uptrace_state *state = tracer->state;

        uptrace_disable(tracer);
        ovs_mutex_lock(&state->mutex);
        hmap_destroy(&state->traces);
        ovs_mutex_unlock(&state->mutex);
        ovs_mutex_destroy(&state->mutex);
        free(state);
        free(tracer);
    }
}

static struct uptrace_trace *
uptrace_find(struct uptrace_state *state, uint64_t id)
    OVS_REQUIRES(state->mutex)
{
    struct uptrace_trace *trace;

    HMAP_FOR_EACH_WITH_HASH (trace, hmap_node, hash_uint64(id),
                             &state->traces) {
        if (trace->id == id) {
            return trace;
        }
    }
    return NULL;
}

/* Called by upcall_xlate(), only when uptrace_enabled(tracer), for a miss
 * upcall whose translation 'xin' (already initialized by xlate_in_init())
 * is about to start, in the bridge whose uuid is 'ofproto_uuid'.
 *
 * If the upcall resumes a frozen state that carries a trace id, the upcall
 * joins that trace if it is still held, whatever the filter says.  Otherwise
 * the upcall starts a new trace if it is the first of its packet's pipeline
 * (its recirc_id is 0) and its flow matches the filter: a trace never starts
 * in the middle of an untraced pipeline.  In both cases, sets 'xin->trace'
 * and 'xin->trace_id' and returns a context that the caller must pass to
 * uptrace_upcall_end() after the translation.  For a new trace, also sets
 * 'xin->trace_wc', which narrows the megaflow to the filter, and which stays
 * valid until uptrace_upcall_end().  Otherwise returns NULL and leaves 'xin'
 * alone. */
struct uptrace_upcall *
uptrace_upcall_begin(struct uptrace *tracer, const struct uuid *ofproto_uuid,
                     struct xlate_in *xin)
{
    struct uptrace_state *state = tracer->state;
    const struct uptrace_filter *filter;
    struct uptrace_upcall *ut;
    uint64_t id = xin->trace_id;
    bool new_trace = false;
    bool matches;

    filter = ovsrcu_get(struct uptrace_filter *, &tracer->filter);
    if (!filter) {
        return NULL;
    }
    matches = (uuid_equals(&filter->ofproto_uuid, ofproto_uuid)
               && uptrace_filter_matches(filter, &xin->flow));
    if (!id) {
        /* Most upcalls, with a selective filter: no trace to join and none
         * to start. */
        if (!matches || xin->flow.recirc_id) {
            return NULL;
        }
        atomic_add_relaxed(&uptrace_next_id, 1, &id);
        new_trace = true;
    } else {
        bool found;

        ovs_mutex_lock(&state->mutex);
        found = (state->enabled && state->generation == filter->generation
                 && uptrace_find(state, id));
        ovs_mutex_unlock(&state->mutex);
        if (!found) {
            return NULL;
        }
    }

    ut = xmalloc(sizeof *ut);
    ovs_list_init(&ut->nodes);
    ut->flow = xin->flow;
    ut->trace_id = id;
    ut->generation = filter->generation;
    ut->new_trace = new_trace;
    ut->matches_filter = matches;
    ut->when = time_wall_msec();

    if (new_trace) {
        size_t i;

        /* A packet that the filter does not match must never use the
         * datapath flow of this upcall: it would recirculate to the frozen
         * states of this trace.  Narrow the megaflow to the filter, with the
         * prerequisites of its fields that this flow meets, so that the
         * datapath accepts the mask. */
        ut->narrow_wc = filter->wc;
        BITMAP_FOR_EACH_1 (i, MFF_N_IDS, filter->fields) {
            mf_are_prereqs_ok(mf_from_id(i), &xin->flow, &ut->narrow_wc);
        }
        xin->trace_wc = &ut->narrow_wc;
    }
    xin->trace = &ut->nodes;
    xin->trace_id = id;
    return ut;
}

static void
uptrace_format_time(struct ds *s, long long int when)
{
    ds_put_strftime_msec(s, "%Y-%m-%dT%H:%M:%S.###Z", when, true);
}

/* Records the translation 'ut' as a round, from the translation's 'xin',
 * 'xout', 'xlate_error', 'wc' (may be NULL) and 'odp_actions' (may be NULL).
 * 'text_left' is what the trace can still take of translation steps and
 * datapath actions.  Called without the mutex. */
static struct uptrace_round *
uptrace_make_round(struct uptrace_upcall *ut, const struct xlate_in *xin,
                   const struct xlate_out *xout, int xlate_error,
                   const struct flow_wildcards *wc,
                   const struct ofpbuf *odp_actions, size_t text_left)
{
    struct uptrace_round *round = xzalloc(sizeof *round);
    size_t odp_len = odp_actions ? odp_actions->size : 0;
    struct ds steps = DS_EMPTY_INITIALIZER;

    oftrace_node_list_format(&steps, &ut->nodes);
    if (steps.length + odp_len > text_left) {
        ds_truncate(&steps, text_left > odp_len ? text_left - odp_len : 0);
        ds_put_format(&steps, "\n[Truncated: this trace reached its limit "
                      "of %d bytes of translation text.]\n",
                      UPTRACE_MAX_TEXT);
    }

    round->when = ut->when;
    round->matches_filter = ut->matches_filter;
    round->steps = ds_steal_cstr(&steps);
    round->flow = ut->flow;
    round->final_flow = xin->flow;
    if (wc) {
        struct match match;

        match_init(&match, &ut->flow, wc);
        minimatch_init(&round->megaflow, &match);
        round->has_megaflow = true;
    }
    ofpbuf_init(&round->odp_actions, odp_len);
    if (odp_len) {
        ofpbuf_put(&round->odp_actions, odp_actions->data, odp_len);
    }
    round->error = xlate_error;
    round->slow = xout->slow;
    return round;
}

/* What a round counts against UPTRACE_MAX_TEXT. */
static size_t
uptrace_round_bytes(const struct uptrace_round *round)
{
    return strlen(round->steps) + round->odp_actions.size;
}

/* Finishes the traced translation 'ut' that uptrace_upcall_begin() started:
 * records the round (from the translation's 'xin', 'xout', 'xlate_error' (an
 * enum xlate_error), 'wc' (may be NULL) and 'odp_actions' (may be NULL)),
 * adds it to its trace, creating the trace if needed, and frees 'ut'. */
void
uptrace_upcall_end(struct uptrace *tracer, struct uptrace_upcall *ut,
                   const struct xlate_in *xin, const struct xlate_out *xout,
                   int xlate_error, const struct flow_wildcards *wc,
                   const struct ofpbuf *odp_actions)
{
    struct uptrace_state *state = tracer->state;
    struct ovs_list evicted = OVS_LIST_INITIALIZER(&evicted);
    struct uptrace_trace *trace, *new = NULL;
    struct uptrace_round *round = NULL;
    size_t text_left = UPTRACE_MAX_TEXT;
    bool full = false;

    /* Look at the space left in an existing trace (it can only shrink), so
     * as to format nothing for a full one, and make everything without the
     * mutex. */
    if (!ut->new_trace) {
        ovs_mutex_lock(&state->mutex);
        trace = uptrace_find(state, ut->trace_id);
        if (trace) {
            full = (trace->n_rounds >= UPTRACE_MAX_ROUNDS
                    || trace->text_bytes >= UPTRACE_MAX_TEXT);
            text_left = UPTRACE_MAX_TEXT - MIN(trace->text_bytes,
                                               UPTRACE_MAX_TEXT);
        }
        ovs_mutex_unlock(&state->mutex);
    }
    if (!full) {
        round = uptrace_make_round(ut, xin, xout, xlate_error, wc,
                                   odp_actions, text_left);
    }
    oftrace_node_list_destroy(&ut->nodes);
    if (ut->new_trace) {
        struct ds flow_s = DS_EMPTY_INITIALIZER;

        new = xzalloc(sizeof *new);
        ovs_refcount_init(&new->ref);
        new->id = ut->trace_id;
        new->created = ut->when;
        flow_format(&flow_s, &ut->flow, NULL);
        new->flow = ds_steal_cstr(&flow_s);
    }

    ovs_mutex_lock(&state->mutex);
    if (!state->enabled || state->generation != ut->generation) {
        /* Tracing was disabled, or the session that this upcall began in was
         * replaced by a new one: drop it. */
        trace = NULL;
    } else if (new) {
        trace = new;
        new = NULL;
        hmap_insert(&state->traces, &trace->hmap_node, hash_uint64(trace->id));
        ovs_list_push_back(&state->traces_lru, &trace->list_node);
        trace->linked = true;

        while (hmap_count(&state->traces) > state->max_traces) {
            struct uptrace_trace *oldest;

            oldest = CONTAINER_OF(ovs_list_front(&state->traces_lru),
                                  struct uptrace_trace, list_node);
            uptrace_unlink_trace(state, oldest);
            ovs_list_push_back(&evicted, &oldest->list_node);
            state->n_evicted++;
        }
    } else {
        trace = uptrace_find(state, ut->trace_id);
    }
    if (trace) {
        if (!round || trace->n_rounds >= UPTRACE_MAX_ROUNDS
            || trace->text_bytes >= UPTRACE_MAX_TEXT) {
            trace->n_dropped_rounds++;
        } else {
            trace->text_bytes += uptrace_round_bytes(round);
            trace->rounds[trace->n_rounds++] = round;
            round = NULL;
        }
    }
    ovs_mutex_unlock(&state->mutex);

    if (round) {
        uptrace_round_free(round);
    }
    uptrace_trace_unref(new);
    uptrace_free_traces(&evicted);
    free(ut);
}

static struct uptrace_flow *
uptrace_find_flow(struct uptrace_trace *trace, const ovs_u128 *ufid)
{
    for (size_t i = 0; i < trace->n_flows; i++) {
        if (ovs_u128_equals(trace->flows[i]->ufid, *ufid)) {
            return trace->flows[i];
        }
    }
    return NULL;
}

static void
uptrace_add_event(struct uptrace_flow *flow, const struct uptrace_event *ev)
{
    struct uptrace_flow_events *fe = &flow->ev;

    fe->events[fe->n_events++ % UPTRACE_MAX_EVENTS] = *ev;
}

/* Records in trace 'trace_id' that the datapath flow 'ufid', whose key and
 * mask are the 'key_len' bytes of 'key' and the 'mask_len' bytes of 'mask',
 * was installed for PMD 'pmd_id', if 'error' is 0, or that the datapath
 * refused to install it with errno value 'error'.  To be called once the
 * datapath has done it. */
void
uptrace_flow_installed(struct uptrace *tracer, uint64_t trace_id,
                       const ovs_u128 *ufid, unsigned pmd_id,
                       const struct nlattr *key, size_t key_len,
                       const struct nlattr *mask, size_t mask_len,
                       int error)
{
    struct uptrace_state *state = tracer->state;
    struct uptrace_event ev = {
        .when = time_wall_msec(),
        .type = error ? UPTRACE_EV_INSTALL_FAILED : UPTRACE_EV_INSTALL,
        .pmd_id = pmd_id,
        .error = error,
    };
    struct uptrace_flow *new = NULL;
    struct uptrace_trace *trace;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!trace_id || !uptrace_enabled(tracer)) {
        return;
    }

    odp_flow_format(key, key_len, mask, mask_len, NULL, &s, false);
    if (s.length > UPTRACE_MAX_FLOW_TEXT) {
        ds_truncate(&s, UPTRACE_MAX_FLOW_TEXT);
        ds_put_cstr(&s, "...");
    }
    new = xzalloc(sizeof *new);
    new->ufid = *ufid;
    new->match = ds_steal_cstr(&s);

    ovs_mutex_lock(&state->mutex);
    trace = state->enabled ? uptrace_find(state, trace_id) : NULL;
    if (trace) {
        struct uptrace_flow *flow = uptrace_find_flow(trace, ufid);

        if (!flow && trace->n_flows < UPTRACE_MAX_FLOWS) {
            flow = new;
            new = NULL;
            trace->flows[trace->n_flows++] = flow;
        } else if (!flow) {
            trace->n_dropped_flows++;
        }
        if (flow) {
            uptrace_add_event(flow, &ev);
        }
    }
    ovs_mutex_unlock(&state->mutex);

    if (new) {
        uptrace_flow_free(new);
    }
}

void
uptrace_verdict__(struct uptrace *tracer, uint64_t trace_id,
                  const ovs_u128 *ufid, enum reval_result result,
                  enum flow_del_reason reason, enum uptrace_phase phase)
{
    struct uptrace_state *state = tracer->state;
    struct uptrace_trace *trace;
    long long int now = time_wall_msec();

    ovs_mutex_lock(&state->mutex);
    trace = state->enabled ? uptrace_find(state, trace_id) : NULL;
    if (trace) {
        struct uptrace_flow *flow = uptrace_find_flow(trace, ufid);

        if (flow && result == UKEY_KEEP) {
            /* Count it: there would be one per flow every revalidation
             * round. */
            flow->ev.n_keeps++;
            flow->ev.last_keep = now;
        } else if (flow) {
            struct uptrace_event ev = {
                .when = now,
                .type = UPTRACE_EV_VERDICT,
                .result = result,
                .reason = reason,
                .phase = phase,
            };
            uptrace_add_event(flow, &ev);
        }
    }
    ovs_mutex_unlock(&state->mutex);
}

/* A copy of what a trace holds, to format it without the tracer's mutex. */
struct uptrace_snapshot {
    struct uptrace_trace *trace;        /* Holds a reference. */
    char *bridge;
    char *filter;
    size_t n_rounds;
    size_t n_dropped_rounds;
    size_t n_flows;
    size_t n_dropped_flows;
    struct uptrace_flow_events *flows;  /* 'n_flows' of them. */
};

/* Takes a snapshot of 'trace' into 'snap'.  Copies only its counters and
 * the events of its flows, a bounded amount. */
static void
uptrace_snapshot_take(struct uptrace_snapshot *snap,
                      struct uptrace_state *state,
                      struct uptrace_trace *trace)
    OVS_REQUIRES(state->mutex)
{
    ovs_refcount_ref(&trace->ref);
    snap->trace = trace;
    snap->bridge = xstrdup(state->bridge);
    snap->filter = xstrdup(state->filter);
    snap->n_rounds = trace->n_rounds;
    snap->n_dropped_rounds = trace->n_dropped_rounds;
    snap->n_flows = trace->n_flows;
    snap->n_dropped_flows = trace->n_dropped_flows;
    snap->flows = xmalloc(trace->n_flows * sizeof *snap->flows);
    for (size_t i = 0; i < trace->n_flows; i++) {
        snap->flows[i] = trace->flows[i]->ev;
    }
}

static void
uptrace_snapshot_destroy(struct uptrace_snapshot *snap)
{
    uptrace_trace_unref(snap->trace);
    free(snap->bridge);
    free(snap->filter);
    free(snap->flows);
}

/* What the revalidator did with a flow, for "... by the revalidator". */
static const char *
uptrace_result_name(enum reval_result result)
{
    switch (result) {
    case UKEY_KEEP:
        return "kept";
    case UKEY_DELETE:
        return "deleted";
    case UKEY_MODIFY:
        return "modified";
    default:
        return "unknown verdict";
    }
}

static void
uptrace_format_event(struct ds *s, const struct uptrace_event *ev)
{
    ds_put_cstr(s, "    ");
    uptrace_format_time(s, ev->when);
    if (ev->type == UPTRACE_EV_INSTALL
        || ev->type == UPTRACE_EV_INSTALL_FAILED) {
        ds_put_cstr(s, ev->type == UPTRACE_EV_INSTALL
                       ? " installed" : " install failed");
        if (ev->pmd_id != PMD_ID_NULL && ev->pmd_id != NON_PMD_CORE_ID) {
            ds_put_format(s, " (pmd %u)", ev->pmd_id);
        }
        if (ev->type == UPTRACE_EV_INSTALL_FAILED) {
            ds_put_format(s, ": %s", ovs_strerror(ev->error));
        }
    } else {
        ds_put_format(s, " %s by the revalidator (%s phase)",
                      uptrace_result_name(ev->result),
                      ev->phase == UPTRACE_DUMP ? "dump" : "sweep");
        if (ev->result == UKEY_DELETE) {
            ds_put_format(s, ", reason %s",
                          flow_del_reason_to_string(ev->reason));
        }
    }
    ds_put_char(s, '\n');
}

static void
uptrace_format_flow(struct ds *s, const struct uptrace_flow *flow,
                    const struct uptrace_flow_events *fe)
{
    size_t first = (fe->n_events > UPTRACE_MAX_EVENTS
                    ? fe->n_events - UPTRACE_MAX_EVENTS : 0);

    odp_format_ufid(&flow->ufid, s);
    ds_put_format(s, " %s\n", flow->match);
    if (first) {
        ds_put_format(s, "    (%"PRIuSIZE" older events not kept)\n", first);
    }
    for (size_t i = first; i < fe->n_events; i++) {
        uptrace_format_event(s, &fe->events[i % UPTRACE_MAX_EVENTS]);
    }
    if (fe->n_keeps) {
        ds_put_format(s, "    %llu keep verdicts, the last at ", fe->n_keeps);
        uptrace_format_time(s, fe->last_keep);
        ds_put_char(s, '\n');
    }
}

/* Formats 'round' as ofproto/trace would print its translation, with the
 * port names in 'port_map' and 'portno_names' (both may be NULL). */
static void
uptrace_format_round(struct ds *s, const struct uptrace_round *round,
                     const struct ofputil_port_map *port_map,
                     const struct hmap *portno_names)
{
    struct match megaflow;

    ds_put_cstr(s, "Flow: ");
    flow_format(s, &round->flow, port_map);
    ds_put_char(s, '\n');
    ds_put_cstr(s, round->steps);
    if (round->has_megaflow) {
        minimatch_expand(&round->megaflow, &megaflow);
    }
    oftrace_format_result(s, &round->flow, &round->final_flow,
                          round->has_megaflow ? &megaflow : NULL,
                          round->odp_actions.data, round->odp_actions.size,
                          round->error, round->slow, port_map, portno_names);
    if (ds_last(s) != '\n') {
        ds_put_char(s, '\n');
    }
}

/* Formats the trace in 'snap', of datapath 'dp_name'. */
static void
uptrace_format_trace(struct ds *s, const char *dp_name,
                     const struct uptrace_snapshot *snap,
                     const struct ofputil_port_map *port_map,
                     const struct hmap *portno_names)
{
    const struct uptrace_trace *trace = snap->trace;

    ds_put_format(s, "Trace %"PRIu64" on datapath %s, bridge %s, filter %s\n",
                  trace->id, dp_name, snap->bridge, snap->filter);
    ds_put_cstr(s, "Created: ");
    uptrace_format_time(s, trace->created);
    ds_put_char(s, '\n');

    for (size_t i = 0; i < snap->n_rounds; i++) {
        const struct uptrace_round *round = trace->rounds[i];

        ds_put_char(s, '\n');
        ds_put_char_multiple(s, '=', 79);
        ds_put_format(s, "\nRound %"PRIuSIZE" at ", i + 1);
        uptrace_format_time(s, round->when);
        if (round->flow.recirc_id) {
            ds_put_format(s, ", recirc_id %#"PRIx32, round->flow.recirc_id);
        }
        if (i && !round->matches_filter) {
            /* The flow resumed a frozen state of this trace but no longer
             * matches the filter: the pipeline changed the filter's fields
             * before it recirculated the packet (conntrack changes
             * 'ct_state', NAT an address), or the frozen state is in
             * another bridge, reached through a patch port. */
            ds_put_cstr(s, ", flow does not match the filter");
        }
        ds_put_char(s, '\n');
        ds_put_char_multiple(s, '=', 79);
        ds_put_char(s, '\n');
        uptrace_format_round(s, round, port_map, portno_names);
    }
    if (snap->n_dropped_rounds) {
        ds_put_format(s, "\n(%"PRIuSIZE" more rounds not kept: limit of %d "
                      "rounds or %d bytes reached)\n",
                      snap->n_dropped_rounds, UPTRACE_MAX_ROUNDS,
                      UPTRACE_MAX_TEXT);
    }

    ds_put_char(s, '\n');
    ds_put_char_multiple(s, '=', 79);
    ds_put_format(s, "\nDatapath flows installed: %"PRIuSIZE"\n",
                  snap->n_flows);
    ds_put_char_multiple(s, '=', 79);
    ds_put_char(s, '\n');
    for (size_t i = 0; i < snap->n_flows; i++) {
        uptrace_format_flow(s, trace->flows[i], &snap->flows[i]);
    }
    if (snap->n_dropped_flows) {
        ds_put_format(s, "(%"PRIuSIZE" more flows not kept: limit of %d)\n",
                      snap->n_dropped_flows, UPTRACE_MAX_FLOWS);
    }
}

/* Appends trace 'id' of 'tracer', on datapath 'dp_name', to 's', and
 * returns true, or returns false if 'tracer' has no such trace.  If 'dpif'
 * is nonnull, the lines that follow each translation show the port names
 * of 'dpif' and of the traced bridge, otherwise port numbers.  Formats from
 * a snapshot, without the tracer's mutex.  Main thread only, for the port
 * names. */
bool
uptrace_get(struct uptrace *tracer, uint64_t id, const char *dp_name,
            struct dpif *dpif, struct ds *s)
{
    struct ofputil_port_map map = OFPUTIL_PORT_MAP_INITIALIZER(&map);
    struct hmap portno_names = HMAP_INITIALIZER(&portno_names);
    struct uptrace_state *state = tracer->state;
    struct ofproto_dpif *ofproto = NULL;
    struct uptrace_snapshot snap;
    struct uptrace_trace *trace;

    ovs_mutex_lock(&state->mutex);
    trace = uptrace_find(state, id);
    if (trace) {
        uptrace_snapshot_take(&snap, state, trace);
    }
    ovs_mutex_unlock(&state->mutex);
    if (!trace) {
        return false;
    }

    if (dpif) {
        ofproto = ofproto_dpif_lookup_by_name(snap.bridge);
    }
    if (ofproto) {
        struct dpif_port_dump port_dump;
        struct dpif_port dpif_port;

        ofproto_append_ports_to_map(&map, ofproto->up.ports);
        DPIF_PORT_FOR_EACH (&dpif_port, &port_dump, dpif) {
            odp_portno_names_set(&portno_names, dpif_port.port_no,
                                 dpif_port.name);
        }
    }
    uptrace_format_trace(s, dp_name, &snap, ofproto ? &map : NULL,
                         ofproto ? &portno_names : NULL);

    uptrace_snapshot_destroy(&snap);
    odp_portno_names_destroy(&portno_names);
    hmap_destroy(&portno_names);
    ofputil_port_map_destroy(&map);
    return true;
}

/* unixctl commands. */

static struct uptrace *
backer_tracer(const struct dpif_backer *backer)
{
    return backer->udpif ? udpif_get_tracer(backer->udpif) : NULL;
}

static void
upcall_trace_unixctl_create(struct unixctl_conn *conn, int argc,
                            const char *argv[], void *aux OVS_UNUSED)
{
    struct ofputil_port_map map = OFPUTIL_PORT_MAP_INITIALIZER(&map);
    struct ofputil_flow_stats_request fsr;
    enum ofputil_protocol usable_protocols;
    struct ofproto_dpif *ofproto;
    struct uptrace *tracer;
    unsigned int max_traces = UPTRACE_DEFAULT_MAX_TRACES;
    struct ds filter_s = DS_EMPTY_INITIALIZER;
    struct ds s = DS_EMPTY_INITIALIZER;
    char *error;

    ofproto = ofproto_dpif_lookup_by_name(argv[1]);
    if (!ofproto) {
        ds_put_format(&s, "%s: unknown bridge", argv[1]);
        unixctl_command_reply_error(conn, ds_cstr(&s));
        ds_destroy(&s);
        return;
    }
    tracer = backer_tracer(ofproto->backer);
    if (!tracer) {
        unixctl_command_reply_error(conn, "bridge has no datapath");
        return;
    }
    if (argc > 3 && (!str_to_uint(argv[3], 10, &max_traces)
                     || !max_traces
                     || max_traces > UPTRACE_MAX_MAX_TRACES)) {
        ds_put_format(&s, "max_traces must be between 1 and %d",
                      UPTRACE_MAX_MAX_TRACES);
        unixctl_command_reply_error(conn, ds_cstr(&s));
        ds_destroy(&s);
        return;
    }
    if (uptrace_enabled(tracer)) {
        ds_put_format(&s, "upcall tracing is already enabled on datapath %s "
                      "(use upcall/trace/delete first)",
                      dpif_name(ofproto->backer->dpif));
        unixctl_command_reply_error(conn, ds_cstr(&s));
        ds_destroy(&s);
        return;
    }

    ofproto_append_ports_to_map(&map, ofproto->up.ports);
    error = parse_ofp_flow_stats_request_str(&fsr, false, argv[2], &map, NULL,
                                             &usable_protocols);
    if (!error && (fsr.out_port != OFPP_ANY || fsr.out_group != OFPG_ANY
                   || fsr.table_id != 0xff || fsr.cookie_mask)) {
        error = xstrdup("only match fields are allowed");
    }
    if (error) {
        ds_put_format(&s, "malformed filter: %s", error);
        unixctl_command_reply_error(conn, ds_cstr(&s));
        ofputil_port_map_destroy(&map);
        ds_destroy(&s);
        free(error);
        return;
    }

    match_format(&fsr.match, &map, &filter_s, OFP_DEFAULT_PRIORITY);
    if (!filter_s.length) {
        ds_put_cstr(&filter_s, "(all upcalls)");
    }
    uptrace_enable(tracer, &ofproto->uuid, argv[1], &fsr.match,
                   ds_cstr(&filter_s), max_traces);
    ds_put_format(&s, "upcall tracing enabled on datapath %s, bridge %s, "
                  "filter %s, max_traces %u\n",
                  dpif_name(ofproto->backer->dpif), argv[1],
                  ds_cstr(&filter_s), max_traces);
    unixctl_command_reply(conn, ds_cstr(&s));
    ofputil_port_map_destroy(&map);
    ds_destroy(&filter_s);
    ds_destroy(&s);
}

static void
upcall_trace_unixctl_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
                          const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct shash_node **backers;

    backers = shash_sort(&all_dpif_backers);
    for (size_t i = 0; i < shash_count(&all_dpif_backers); i++) {
        const struct dpif_backer *backer = backers[i]->data;
        struct uptrace *tracer = backer_tracer(backer);
        struct uptrace_state *state;

        if (!tracer) {
            continue;
        }
        state = tracer->state;
        ds_put_format(&s, "%s:\n", dpif_name(backer->dpif));
        ovs_mutex_lock(&state->mutex);
        if (state->enabled) {
            ds_put_format(&s, "  tracing: enabled\n"
                          "  bridge: %s\n"
                          "  filter: %s\n"
                          "  max_traces: %"PRIuSIZE"\n"
                          "  traces: %"PRIuSIZE"\n"
                          "  evicted: %llu\n",
                          state->bridge, state->filter, state->max_traces,
                          hmap_count(&state->traces), state->n_evicted);
        } else {
            ds_put_cstr(&s, "  tracing: disabled\n");
        }
        ovs_mutex_unlock(&state->mutex);
    }
    free(backers);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* One line of upcall/trace/list, copied under the mutex. */
struct uptrace_list_entry {
    struct uptrace_trace *trace;        /* Holds a reference. */
    size_t n_rounds;
    size_t n_flows;
};

/* upcall/trace/list copies at most this many traces per critical section. */
#define UPTRACE_LIST_CHUNK 32

/* Appends to 's' one line per trace of 'tracer', oldest first.
 *
 * Copies the traces in chunks of at most UPTRACE_LIST_CHUNK, one critical
 * section each, and formats each chunk without the mutex.  It keeps a
 * reference to the last trace that it copied, and resumes after it, or, if
 * that trace has been evicted meanwhile, at the oldest trace: eviction
 * takes the oldest trace first, so the traces before it are gone too.  So
 * the list is not one snapshot: a trace evicted between two chunks is left
 * out, and the traces created while it runs are listed at its end.
 * Main thread only, as uptrace_disable() is, so that no session ends while
 * it runs. */
static void
uptrace_list(struct uptrace *tracer, struct ds *s)
{
    struct uptrace_state *state = tracer->state;
    struct uptrace_trace *last = NULL;
    size_t n;

    do {
        struct uptrace_list_entry entries[UPTRACE_LIST_CHUNK];
        const struct ovs_list *node;

        n = 0;
        ovs_mutex_lock(&state->mutex);
        node = (last && last->linked
                ? last->list_node.next
                : state->traces_lru.next);
        for (; node != &state->traces_lru && n < UPTRACE_LIST_CHUNK;
             node = node->next) {
            struct uptrace_trace *trace = CONTAINER_OF(node,
                                                       struct uptrace_trace,
                                                       list_node);

            ovs_refcount_ref(&trace->ref);
            entries[n].trace = trace;
            entries[n].n_rounds = trace->n_rounds + trace->n_dropped_rounds;
            entries[n].n_flows = trace->n_flows;
            n++;
        }
        ovs_mutex_unlock(&state->mutex);

        uptrace_trace_unref(last);
        last = NULL;
        for (size_t i = 0; i < n; i++) {
            struct uptrace_trace *trace = entries[i].trace;

            ds_put_format(s, "%"PRIu64" ", trace->id);
            uptrace_format_time(s, trace->created);
            ds_put_format(s, " rounds=%"PRIuSIZE" flows=%"PRIuSIZE" %s\n",
                          entries[i].n_rounds, entries[i].n_flows,
                          trace->flow);
            if (i == n - 1) {
                last = trace;
            } else {
                uptrace_trace_unref(trace);
            }
        }
    } while (n == UPTRACE_LIST_CHUNK);
    uptrace_trace_unref(last);
}

static void
upcall_trace_unixctl_list(struct unixctl_conn *conn, int argc OVS_UNUSED,
                          const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct shash_node **backers;

    backers = shash_sort(&all_dpif_backers);
    for (size_t i = 0; i < shash_count(&all_dpif_backers); i++) {
        struct uptrace *tracer = backer_tracer(backers[i]->data);

        if (tracer) {
            uptrace_list(tracer, &s);
        }
    }
    free(backers);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Parses 's' as a trace id, in decimal or, with a "0x" prefix, in
 * hexadecimal.  Returns false if it is not a valid id. */
static bool
uptrace_parse_id(const char *s, unsigned long long int *id)
{
    bool ok = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
               ? str_to_ullong(s + 2, 16, id)
               : str_to_ullong(s, 10, id));

    return ok && *id;
}

static void
upcall_trace_unixctl_get(struct unixctl_conn *conn, int argc,
                         const char *argv[], void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct shash_node **backers;
    unsigned long long int id;
    const char *id_s = argv[argc - 1];
    bool names = false;
    bool found = false;

    if (argc > 2) {
        if (strcmp(argv[1], "--names") && strcmp(argv[1], "--no-names")) {
            ds_put_format(&s, "%s: unknown option", argv[1]);
            unixctl_command_reply_error(conn, ds_cstr(&s));
            ds_destroy(&s);
            return;
        }
        names = !strcmp(argv[1], "--names");
    }
    if (!uptrace_parse_id(id_s, &id)) {
        unixctl_command_reply_error(conn, "invalid trace id");
        return;
    }

    backers = shash_sort(&all_dpif_backers);
    for (size_t i = 0; !found && i < shash_count(&all_dpif_backers); i++) {
        const struct dpif_backer *backer = backers[i]->data;
        struct uptrace *tracer = backer_tracer(backer);

        found = tracer && uptrace_get(tracer, id, dpif_name(backer->dpif),
                                      names ? backer->dpif : NULL, &s);
    }
    free(backers);

    if (found) {
        unixctl_command_reply(conn, ds_cstr(&s));
    } else {
        ds_put_format(&s, "no trace with id %llu", id);
        unixctl_command_reply_error(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
}

static void
upcall_trace_unixctl_delete(struct unixctl_conn *conn, int argc,
                            const char *argv[], void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct shash_node **backers;
    struct uptrace *only = NULL;
    bool any = false;

    if (argc > 1) {
        struct ofproto_dpif *ofproto = ofproto_dpif_lookup_by_name(argv[1]);

        if (!ofproto) {
            ds_put_format(&s, "%s: unknown bridge", argv[1]);
            unixctl_command_reply_error(conn, ds_cstr(&s));
            ds_destroy(&s);
            return;
        }
        only = backer_tracer(ofproto->backer);
    }

    backers = shash_sort(&all_dpif_backers);
    for (size_t i = 0; i < shash_count(&all_dpif_backers); i++) {
        const struct dpif_backer *backer = backers[i]->data;
        struct uptrace *tracer = backer_tracer(backer);

        if (tracer && (!only || tracer == only) && uptrace_enabled(tracer)) {
            size_t n = uptrace_disable(tracer);

            ds_put_format(&s, "upcall tracing disabled on datapath %s, "
                          "%"PRIuSIZE" traces freed\n",
                          dpif_name(backer->dpif), n);
            any = true;
        }
    }
    free(backers);

    if (any) {
        unixctl_command_reply(conn, ds_cstr(&s));
    } else {
        unixctl_command_reply_error(conn, "upcall tracing is not enabled");
    }
    ds_destroy(&s);
}

void
uptrace_init(void)
{
    unixctl_command_register("upcall/trace/create",
                             "bridge filter [max_traces]", 2, 3,
                             upcall_trace_unixctl_create, NULL);
    unixctl_command_register("upcall/trace/show", "", 0, 0,
                             upcall_trace_unixctl_show, NULL);
    unixctl_command_register("upcall/trace/list", "", 0, 0,
                             upcall_trace_unixctl_list, NULL);
    unixctl_command_register("upcall/trace/get", "[--names] id", 1, 2,
                             upcall_trace_unixctl_get, NULL);
    unixctl_command_register("upcall/trace/delete", "[bridge]", 0, 1,
                             upcall_trace_unixctl_delete, NULL);
}
