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

/* ovs-flowwatch follows the datapath flows of a running ovs-vswitchd from
 * install to deletion, as utilities/usdt-scripts/filter_probe.py does, with
 * the same output, but needs only libbpf at run time: its BPF program
 * (ovs-flowwatch.bpf.c) is compiled when Open vSwitch is built and
 * embedded here as a libbpf skeleton.  The keys are formatted, and the
 * filter parsed, by Open vSwitch's own odp-util. */

#include <config.h>

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "command-line.h"
#include "compiler.h"
#include "netlink.h"
#include "odp-util.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

#include "ovs-flowwatch.h"
#include "utilities/ovs-flowwatch.skel.h"

/* 2 MiB of ring buffer with 4 KiB pages: mapped twice (libbpf maps the
 * data pages twice, so that records wrap around), it is most of the
 * resident size. */
#define DEFAULT_PAGE_COUNT 512
#define DEFAULT_MAX_FLOWS 65536
#define POLL_MS 100             /* Longest wait for a record. */

/* As enum flow_del_reason and the UKEY_* results of
 * ofproto-dpif-upcall.c name them. */
static const char *const reasons[] = {
    "none", "avoid_caching", "bad_odp_fit", "idle", "flow_limit",
    "wildcarded", "no_ofproto", "purge", "too_expensive", "update_fail",
    "xlation_error", "missing_dp", "limit_idle", "unexpected", "pmd_removed",
    "bad_key", "no_bridge",
};
#define N_REASONS ARRAY_SIZE(reasons)
#define DATAPATH_REASON N_REASONS     /* "(datapath)" in the summary. */
static const char *const results[] = { "keep", "delete", "modify" };

enum { EV_INSTALL, EV_MODIFY, EV_DELETE, EV_KEEP, EV_REMOVE, N_EV };
static const char *const event_names[N_EV] = {
    "install", "modify", "delete", "keep", "remove"
};

/* Command line. */
static int vswitchd_pid;
static const char *filter_expr;
static bool show_keeps;
static bool flow_keys;
static bool json_output;
static bool summary;
static bool print_filter;
static unsigned int page_count = DEFAULT_PAGE_COUNT;
static unsigned int max_flows = DEFAULT_MAX_FLOWS;

/* The probes, and the BPF program that each one runs. */
struct probe {
    const char *provider;
    const char *name;
    int kind;                   /* PK_*. */
};
enum { PK_INSTALL, PK_REMOVE, PK_DUMP, PK_SWEEP, PK_UNEXPECTED };

static const struct probe install_probes[] = {
    { "dp_netdev_flow_add", "dp_flow_put", PK_INSTALL },
    { "dpif_netlink_operate__", "op_flow_put", PK_INSTALL },
};
static const struct probe remove_probes[] = {
    { "dp_netdev_pmd_remove_flow", "dp_flow_del", PK_REMOVE },
    { "dpif_netlink_operate__", "op_flow_del", PK_REMOVE },
};
static const struct probe change_probes[] = {
    { "revalidate", "flow_change", PK_DUMP },
    { "revalidator_sweep__", "flow_sweep_change", PK_SWEEP },
};
static const struct probe result_probes[] = {
    { "revalidate", "flow_result", PK_DUMP },
    { "revalidator_sweep__", "flow_sweep_result", PK_SWEEP },
};
static const struct probe unexpected_probe = {
    "revalidate", "flow_unexpected", PK_UNEXPECTED
};

/* The state of the output. */
struct lifetimes {
    unsigned long long n;
    double min, max, sum;
};

static struct {
    double boot;                /* CLOCK_REALTIME - CLOCK_MONOTONIC. */
    unsigned long long counts[N_EV];
    unsigned long long deletions[N_REASONS + 1];
    struct lifetimes lifetimes[N_REASONS + 1];
    /* The order in which reasons first appear, as JSON objects keep it. */
    int deletion_order[N_REASONS + 1], n_deletion_order;
    int lifetime_order[N_REASONS + 1], n_lifetime_order;
    unsigned long long received;
    uint64_t reported[FW_ST_MAX];
    bool write_failed;
} out;

static struct ovs_flowwatch_bpf *skel;
static volatile sig_atomic_t stopping;

OVS_NO_RETURN static void usage(void);
OVS_NO_RETURN static void bad_option(const char *fmt, ...)
    OVS_PRINTF_FORMAT(1, 2);
static void warn(const char *fmt, ...) OVS_PRINTF_FORMAT(1, 2);
static void write_output(void);

/* Reports an error in one line on stderr and exits with status 1. */
OVS_NO_RETURN static void fail(const char *fmt, ...) OVS_PRINTF_FORMAT(1, 2);

/* Writes "PROGRAM: MESSAGE SUFFIX" as one line on stderr. */
static void
vreport(const char *suffix, const char *fmt, va_list args)
{
    fprintf(stderr, "%s: ", program_name);
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "%s\n", suffix);
}

static void
fail(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vreport("", fmt, args);
    va_end(args);
    exit(EXIT_FAILURE);
}

static void
warn(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vreport("", fmt, args);
    va_end(args);
}

static void
bad_option(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vreport(" (see --help)", fmt, args);
    va_end(args);
    exit(2);
}

static unsigned int
parse_positive(const char *option, const char *s)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (!isdigit((unsigned char) *s) || *end || errno || v > INT_MAX) {
        bad_option("%s: '%s' is not a number", option, s);
    }
    if (!v) {
        bad_option("%s: '%s' is not positive", option, s);
    }
    return v;
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_KEEPS = UCHAR_MAX + 1,
        OPT_JSON,
        OPT_SUMMARY,
        OPT_BUFFER_PAGE_COUNT,
        OPT_MAX_FLOWS,
        OPT_PRINT_FILTER,
    };
    static const struct option long_options[] = {
        {"pid", required_argument, NULL, 'p'},
        {"filter", required_argument, NULL, 'f'},
        {"keeps", no_argument, NULL, OPT_KEEPS},
        {"flow-keys", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, OPT_JSON},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"buffer-page-count", required_argument, NULL,
         OPT_BUFFER_PAGE_COUNT},
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
        {"print-filter", no_argument, NULL, OPT_PRINT_FILTER},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);

        if (c == -1) {
            break;
        }
        switch (c) {
        case 'p':
            vswitchd_pid = parse_positive("--pid", optarg);
            break;
        case 'f':
            filter_expr = optarg;
            break;
        case OPT_KEEPS:
            show_keeps = true;
            break;
        case 'k':
            flow_keys = true;
            break;
        case OPT_JSON:
            json_output = true;
            break;
        case OPT_SUMMARY:
            summary = true;
            break;
        case OPT_BUFFER_PAGE_COUNT:
            page_count = parse_positive("--buffer-page-count", optarg);
            if (page_count & (page_count - 1)) {
                bad_option("--buffer-page-count: %u is not a power of 2",
                           page_count);
            }
            break;
        case OPT_MAX_FLOWS:
            max_flows = parse_positive("--max-flows", optarg);
            break;
        case OPT_PRINT_FILTER:
            print_filter = true;
            break;
        case 'h':
            usage();
        case 'V':
            ovs_print_version(0, 0);
            exit(EXIT_SUCCESS);
        case '?':
            if (optopt && optopt < UCHAR_MAX && strchr(short_options,
                                                       optopt)) {
                bad_option("option '-%c' needs an argument", optopt);
            } else if (optopt && optopt < UCHAR_MAX) {
                bad_option("unknown option '-%c'", optopt);
            }
            bad_option("unknown option or missing argument '%s'",
                       argv[optind - 1]);
        default:
            OVS_NOT_REACHED();
        }
    }
    free(short_options);
    if (optind < argc) {
        bad_option("unexpected argument '%s'", argv[optind]);
    }
}

static void
usage(void)
{
    printf("%s: follows the datapath flows of ovs-vswitchd from install to "
           "deletion\n"
           "usage: %s [OPTIONS]\n"
           "\nReports when each flow is installed, modified and deleted, "
           "why it is\ndeleted and how long it lived, from the USDT probes "
           "of ovs-vswitchd.\n"
           "\nOptions:\n"
           "  -p, --pid=PID               follow the ovs-vswitchd with PID "
           "(default: the\n"
           "                              only one running)\n"
           "  -f, --filter=EXPR           follow only the flows whose key "
           "matches EXPR,\n"
           "                              an ODP flow as dpctl/add-flow "
           "takes it\n"
           "      --keeps                 also report \"keep\" verdicts "
           "(a uprobe trap per\n"
           "                              kept flow and revalidation)\n"
           "  -k, --flow-keys             print the key and mask of each "
           "installed flow\n"
           "      --json                  one JSON object per event\n"
           "      --summary               at exit, counts and lifetimes "
           "per reason\n"
           "      --buffer-page-count=N   pages (a power of 2) in the ring "
           "buffer\n"
           "                              (default %d)\n"
           "      --max-flows=N           flows followed at once (default "
           "%d)\n"
           "      --print-filter          print the compiled filter and "
           "exit\n"
           "  -h, --help                  display this help message\n"
           "  -V, --version               display version information\n"
           "\nFilter: EXPR is parsed by Open vSwitch's ODP flow parser, as "
           "\"ovs-appctl\ndpctl/add-flow\" parses it, masks included, "
           "e.g. 'ipv4(src=10.0.0.0/24)'.\nIt is checked in the kernel, "
           "at install time, against the top-level\nattributes of the "
           "flow's key: in_port, eth, eth_type, vlan, ipv4, ipv6,\ntcp, "
           "udp, sctp, icmp, icmpv6, arp, nd, tcp_flags, recirc_id, "
           "dp_hash,\nskb_mark, skb_priority, ct_state, ct_zone, ct_mark, "
           "ct_label, packet_type.\nA flow is followed when its key has "
           "every attribute that EXPR names and\nagrees with EXPR on every "
           "bit that both EXPR's and the flow's masks match.\nencap(), "
           "tunnel(), mpls(), nsh(), ct_tuple4/6() and nd_ext() are "
           "refused:\nof a VLAN-tagged flow, only the outer attributes "
           "(eth_type(0x8100),\nvlan()) can be matched.\n"
           "\nExit status: 0 when stopped by SIGINT, SIGTERM or SIGHUP or "
           "when the reader\nof the output goes away, 2 for bad options, "
           "1 for any other failure.\n",
           program_name, program_name, DEFAULT_PAGE_COUNT,
           DEFAULT_MAX_FLOWS);
    exit(EXIT_SUCCESS);
}

/*
 * The filter.
 */

/* Whether the filter may name key attribute 'type': those whose payload
 * is a flat value, at the top level of the key. */
static bool
filter_attr_supported(enum ovs_key_attr type)
{
    switch (type) {
    case OVS_KEY_ATTR_PRIORITY:
    case OVS_KEY_ATTR_IN_PORT:
    case OVS_KEY_ATTR_ETHERNET:
    case OVS_KEY_ATTR_VLAN:
    case OVS_KEY_ATTR_ETHERTYPE:
    case OVS_KEY_ATTR_IPV4:
    case OVS_KEY_ATTR_IPV6:
    case OVS_KEY_ATTR_TCP:
    case OVS_KEY_ATTR_UDP:
    case OVS_KEY_ATTR_ICMP:
    case OVS_KEY_ATTR_ICMPV6:
    case OVS_KEY_ATTR_ARP:
    case OVS_KEY_ATTR_ND:
    case OVS_KEY_ATTR_SKB_MARK:
    case OVS_KEY_ATTR_SCTP:
    case OVS_KEY_ATTR_TCP_FLAGS:
    case OVS_KEY_ATTR_DP_HASH:
    case OVS_KEY_ATTR_RECIRC_ID:
    case OVS_KEY_ATTR_CT_STATE:
    case OVS_KEY_ATTR_CT_ZONE:
    case OVS_KEY_ATTR_CT_MARK:
    case OVS_KEY_ATTR_CT_LABELS:
    case OVS_KEY_ATTR_PACKET_TYPE:
        return true;
    case OVS_KEY_ATTR_UNSPEC:
    case OVS_KEY_ATTR_ENCAP:
    case OVS_KEY_ATTR_TUNNEL:
    case OVS_KEY_ATTR_MPLS:
    case OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4:
    case OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6:
    case OVS_KEY_ATTR_NSH:
    case OVS_KEY_ATTR_ND_EXTENSIONS:
    case OVS_KEY_ATTR_TUNNEL_INFO:
    case __OVS_KEY_ATTR_MAX:
    default:
        return false;
    }
}

static void
add_term(struct fw_term *terms, int *n, const char *expr, uint16_t type,
         size_t off, size_t len, const uint8_t *value, const uint8_t *mask)
{
    struct fw_term *t;

    if (*n >= FW_MAX_TERMS) {
        fail("filter '%s' is too complex: it needs more than %d terms "
             "(%d bytes each) in the kernel", expr, FW_MAX_TERMS,
             FW_TERM_BYTES);
    }
    t = &terms[(*n)++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->off = off;
    t->len = len;
    if (len) {
        memcpy(t->value, value, len);
        memcpy(t->mask, mask, len);
    }
}

/* Compiles filter 'expr' into 'terms', of which it stores the number in
 * '*n', or exits with an error. */
static void
compile_filter(const char *expr, struct fw_term *terms, int *n)
{
    struct ofpbuf key, mask;
    const struct nlattr *a;
    uint64_t seen = 0;
    char *error = NULL;
    size_t left;

    *n = 0;
    ofpbuf_init(&key, 0);
    ofpbuf_init(&mask, 0);
    if (odp_flow_from_string(expr, NULL, &key, &mask, &error)) {
        fail("bad filter '%s': %s", expr, error ? error : "syntax error");
    }
    if (!key.size) {
        fail("bad filter '%s': it names no attribute", expr);
    }
    NL_ATTR_FOR_EACH (a, left, key.data, key.size) {
        uint16_t type = nl_attr_type(a);
        const struct nlattr *ma;
        const uint8_t *v = nl_attr_get(a);
        const uint8_t *m;
        size_t len = nl_attr_get_size(a);
        size_t i;

        if (type >= FW_N_ATTR_TYPES || !filter_attr_supported(type)) {
            struct ds s = DS_EMPTY_INITIALIZER;

            /* Its name, from the formatter. */
            odp_flow_format(a, a->nla_len, NULL, 0, NULL, &s, false);
            s.length = strcspn(ds_cstr(&s), "(");
            fail("filter '%s': %s() is not supported (only flat, top-level "
                 "key attributes are: see --help)", expr, ds_cstr(&s));
        }
        if (seen & (UINT64_C(1) << type)) {
            fail("filter '%s': an attribute appears twice", expr);
        }
        seen |= UINT64_C(1) << type;

        ma = nl_attr_find__(mask.data, mask.size, type);
        m = ma && nl_attr_get_size(ma) == len ? nl_attr_get(ma) : NULL;

        bool any = false;
        i = 0;
        while (i < len) {
            size_t j;

            if (m && !m[i]) {
                i++;
                continue;
            }
            /* A run of at most FW_TERM_BYTES bytes, from the first byte of
             * the mask that is nonzero to the last in that window. */
            j = MIN(len, i + FW_TERM_BYTES);
            while (j > i && m && !m[j - 1]) {
                j--;
            }
            if (m) {
                add_term(terms, n, expr, type, i, j - i, v + i, m + i);
            } else {
                uint8_t ones[FW_TERM_BYTES];

                memset(ones, 0xff, sizeof ones);
                add_term(terms, n, expr, type, i, j - i, v + i, ones);
            }
            any = true;
            i = j;
        }
        if (!any) {
            /* Only the attribute's presence. */
            add_term(terms, n, expr, type, 0, 0, NULL, NULL);
        }
    }
    ofpbuf_uninit(&key);
    ofpbuf_uninit(&mask);
}

static void
do_print_filter(const struct fw_term *terms, int n)
{
    for (int i = 0; i < n; i++) {
        const struct fw_term *t = &terms[i];

        printf("attr %u offset %u:", t->type, t->off);
        if (!t->len) {
            printf(" present");
        }
        for (int j = 0; j < t->len; j++) {
            printf(" %02x/%02x", t->value[j], t->mask[j]);
        }
        putchar('\n');
    }
}

/*
 * Processes and their objects.
 */

static char *
read_comm(int pid)
{
    char path[64], buf[64];
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    if (!fgets(buf, sizeof buf, f)) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

static bool
process_alive(int pid)
{
    char path[64], buf[512];
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f) {
        return false;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X' && p[2];
}

static int
find_vswitchd(int pid)
{
    struct ds pids = DS_EMPTY_INITIALIZER;
    struct dirent *de;
    int found = 0, n = 0;
    DIR *dir;

    if (pid) {
        char *comm = read_comm(pid);

        if (!comm) {
            fail("no process with PID %d", pid);
        }
        if (strcmp(comm, "ovs-vswitchd")) {
            fail("PID %d is not ovs-vswitchd (it is %s)", pid, comm);
        }
        free(comm);
        return pid;
    }

    static const char proc[] = "/proc";

    dir = opendir(proc);
    if (!dir) {
        fail("cannot read /proc: %s", ovs_strerror(errno));
    }
    /* Sorted, as the error message lists them: collect, then sort. */
    int *all = NULL;
    size_t allocated = 0;
    while ((de = readdir(dir)) != NULL) {
        int p = atoi(de->d_name);
        char *comm;

        if (p <= 0 || !isdigit((unsigned char) de->d_name[0])) {
            continue;
        }
        comm = read_comm(p);
        if (comm && !strcmp(comm, "ovs-vswitchd") && process_alive(p)) {
            if (n >= allocated) {
                all = x2nrealloc(all, &allocated, sizeof *all);
            }
            all[n++] = p;
            found = p;
        }
        free(comm);
    }
    closedir(dir);
    if (!n) {
        fail("no ovs-vswitchd is running");
    }
    if (n > 1) {
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (all[j] < all[i]) {
                    int tmp = all[i];

                    all[i] = all[j];
                    all[j] = tmp;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            ds_put_format(&pids, "%s%d", i ? ", " : "", all[i]);
        }
        fail("several ovs-vswitchd are running (PIDs %s): choose one with "
             "-p", ds_cstr(&pids));
    }
    free(all);
    return found;
}

/* The USDT probes that an object holds, from its .note.stapsdt notes. */
struct object {
    char *path;
    struct ds probes;           /* " provider:name" for each. */
};

static bool
object_has_probe(const struct object *obj, const struct probe *p)
{
    char *needle = xasprintf(" %s:%s ", p->provider, p->name);
    bool found = strstr(ds_cstr_ro(&obj->probes), needle) != NULL;

    free(needle);
    return found;
}

/* Reads the stapsdt notes of the 64-bit ELF file 'path' into 'probes', as
 * " provider:name " for each probe.  Returns false when 'path' cannot be
 * read or is not such a file. */
static bool
read_usdt_notes(const char *path, struct ds *probes)
{
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    char *buf = NULL;
    bool ok = false;
    FILE *f;

    f = fopen(path, "rb");
    if (!f) {
        return false;
    }
    if (fread(&eh, sizeof eh, 1, f) != 1
        || memcmp(eh.e_ident, ELFMAG, SELFMAG)
        || eh.e_ident[EI_CLASS] != ELFCLASS64
        || eh.e_shentsize != sizeof *sh || !eh.e_shnum) {
        goto out;
    }
    sh = xcalloc(eh.e_shnum, sizeof *sh);
    if (fseeko(f, eh.e_shoff, SEEK_SET)
        || fread(sh, sizeof *sh, eh.e_shnum, f) != eh.e_shnum) {
        goto out;
    }
    for (int i = 0; i < eh.e_shnum; i++) {
        size_t off;

        if (sh[i].sh_type != SHT_NOTE || sh[i].sh_size > (64 << 20)) {
            continue;
        }
        free(buf);
        buf = xmalloc(sh[i].sh_size + 1);
        if (fseeko(f, sh[i].sh_offset, SEEK_SET)
            || fread(buf, 1, sh[i].sh_size, f) != sh[i].sh_size) {
            goto out;
        }
        buf[sh[i].sh_size] = '\0';
        off = 0;
        while (off + sizeof(Elf64_Nhdr) <= sh[i].sh_size) {
            Elf64_Nhdr nh;
            size_t name_off, desc_off, next;

            memcpy(&nh, buf + off, sizeof nh);
            name_off = off + sizeof nh;
            desc_off = name_off + ROUND_UP(nh.n_namesz, 4);
            next = desc_off + ROUND_UP(nh.n_descsz, 4);
            if (next > sh[i].sh_size) {
                break;
            }
            if (nh.n_type == 3 && nh.n_namesz == 8
                && !memcmp(buf + name_off, "stapsdt", 8)
                && nh.n_descsz > 24) {
                /* pc, base, semaphore, then provider, name, arguments. */
                const char *provider = buf + desc_off + 24;
                const char *end = buf + desc_off + nh.n_descsz;
                const char *name = memchr(provider, '\0', end - provider);

                if (name && ++name < end && memchr(name, '\0', end - name)) {
                    ds_put_format(probes, " %s:%s ", provider, name);
                }
            }
            off = next;
        }
    }
    ok = true;
out:
    free(buf);
    free(sh);
    fclose(f);
    return ok;
}

/* Finds the objects of process 'pid' that may hold the probes: its
 * executable, and the Open vSwitch libraries that it has loaded (a build
 * with --enable-shared has its probes there). */
static size_t
find_objects(int pid, const char *exe, struct object **objsp)
{
    struct object *objs = NULL;
    size_t n = 0, allocated = 0;
    char path[64];
    char line[4096];
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    f = fopen(path, "r");
    if (!f) {
        fail("cannot read %s: %s", path, ovs_strerror(errno));
    }
    objs = x2nrealloc(objs, &allocated, sizeof *objs);
    objs[n].path = xstrdup(exe);
    ds_init(&objs[n].probes);
    n++;
    while (fgets(line, sizeof line, f)) {
        char *file = strchr(line, '/');
        const char *base;
        bool dup = false;

        if (!file) {
            continue;
        }
        file[strcspn(file, "\n")] = '\0';
        base = strrchr(file, '/') + 1;
        if (strncmp(base, "libopenvswitch", 14)
            && strncmp(base, "libofproto", 10)) {
            continue;
        }
        if (strstr(file, " (deleted)")) {
            *strstr(file, " (deleted)") = '\0';
            fail("the library %s of ovs-vswitchd (PID %d) was replaced or "
                 "removed since it started: restart it", file, pid);
        }
        for (size_t i = 0; i < n; i++) {
            dup = dup || !strcmp(objs[i].path, file);
        }
        if (dup) {
            continue;
        }
        if (n >= allocated) {
            objs = x2nrealloc(objs, &allocated, sizeof *objs);
        }
        objs[n].path = xstrdup(file);
        ds_init(&objs[n].probes);
        n++;
    }
    fclose(f);

    for (size_t i = 0; i < n; i++) {
        if (!read_usdt_notes(objs[i].path, &objs[i].probes) && !i) {
            fail("cannot read %s (PID %d)", objs[i].path, pid);
        }
    }
    *objsp = objs;
    return n;
}

/* The object of 'objs' that holds probe 'p', or NULL. */
static const struct object *
probe_object(const struct object *objs, size_t n, const struct probe *p)
{
    for (size_t i = 0; i < n; i++) {
        if (object_has_probe(&objs[i], p)) {
            return &objs[i];
        }
    }
    return NULL;
}

/*
 * Output.
 */

static void
put_float(struct ds *s, double v)
{
    /* As Python prints round(v, 6). */
    size_t start = s->length;

    ds_put_format(s, "%.6f", v);
    while (s->length > start + 1 && s->string[s->length - 1] == '0'
           && s->string[s->length - 2] != '.') {
        s->length--;
    }
    s->string[s->length] = '\0';
}

static void
put_json_string(struct ds *s, const char *str)
{
    /* It puts the quotes, too. */
    json_string_escape(str, s);
}

static void
put_lifetime(struct ds *s, uint64_t ns)
{
    uint64_t ms = ns / 1000000;

    ds_put_format(s, "%"PRIu64".%03"PRIu64"s", ms / 1000, ms % 1000);
}

static struct ds line = DS_EMPTY_INITIALIZER;

static void
emit_line(void)
{
    if (!out.write_failed) {
        fwrite(line.string, 1, line.length, stdout);
    }
    ds_clear(&line);
}

static void
write_output(void)
{
    if (out.write_failed) {
        return;
    }
    if (fflush(stdout) || ferror(stdout)) {
        int error = errno;

        out.write_failed = true;
        if (error == EPIPE) {
            /* The reader went away: not a failure. */
            exit(EXIT_SUCCESS);
        }
        /* Whatever is left is lost: nothing more goes there. */
        static const char null[] = "/dev/null";
        int devnull = open(null, O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
        }
        fail("cannot write the output: %s", ovs_strerror(error));
    }
}

static void
put_time(struct ds *s, uint64_t ts)
{
    double wall = out.boot + ts / 1e9;
    time_t secs = wall;
    struct tm tm;
    char buf[16];

    gmtime_r(&secs, &tm);
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    /* The column is one wider than the time, as filter_probe.py has it. */
    ds_put_format(s, "%s.%06d ", buf, (int) ((wall - secs) * 1e6));
}

static void
put_comm(char *dst, const struct fw_hdr *h)
{
    memcpy(dst, h->comm, FW_COMM_LEN);
    dst[FW_COMM_LEN] = '\0';
}

static void
put_ufid(char *dst, size_t size, const struct fw_hdr *h)
{
    snprintf(dst, size, "ufid:%08"PRIx32"-%04"PRIx32"-%04"PRIx32"-%04"
             PRIx32"-%04"PRIx32"%08"PRIx32, h->ufid[0], h->ufid[1] >> 16,
             h->ufid[1] & 0xffff, h->ufid[2] >> 16, h->ufid[2] & 0xffff,
             h->ufid[3]);
}

/* One event: 'lifetime_ns' is UINT64_MAX for none, 'reason' NULL for
 * none; 'key' the flow's key or NULL; 'phase' -1 for none; 'upstream' the
 * reason that upstream's probes report for a deletion, else NULL;
 * 'stale_ns' UINT64_MAX unless the verdict is on the ukey of a removed
 * flow, then the nanoseconds since the removal. */
static void
print_event(const struct fw_hdr *h, const char *event, const char *reason,
            uint64_t lifetime_ns, const char *key, int phase,
            const char *upstream, uint64_t stale_ns)
{
    char comm[FW_COMM_LEN + 1];
    char ufid[64];

    put_comm(comm, h);
    put_ufid(ufid, sizeof ufid, h);
    if (json_output) {
        ds_put_cstr(&line, "{\"time\": ");
        put_float(&line, out.boot + h->ts / 1e9);
        ds_put_cstr(&line, ", \"thread\": ");
        put_json_string(&line, comm);
        ds_put_format(&line, ", \"tid\": %"PRIu32", \"ufid\": \"%s\", "
                      "\"event\": \"%s\", \"reason\": ", h->tid, ufid,
                      event);
        if (reason) {
            put_json_string(&line, reason);
        } else {
            ds_put_cstr(&line, "null");
        }
        ds_put_cstr(&line, ", \"lifetime\": ");
        if (lifetime_ns == UINT64_MAX) {
            ds_put_cstr(&line, "null");
        } else {
            put_float(&line, lifetime_ns / 1e9);
        }
        if (key) {
            ds_put_cstr(&line, ", \"key\": ");
            put_json_string(&line, key);
        }
        if (phase >= 0) {
            ds_put_format(&line, ", \"phase\": \"%s\"",
                          phase ? "sweep" : "dump");
        }
        if (upstream) {
            ds_put_cstr(&line, ", \"upstream_reason\": ");
            put_json_string(&line, upstream);
        }
        if (stale_ns != UINT64_MAX) {
            ds_put_cstr(&line, ", \"stale\": true, \"removed_ago\": ");
            put_float(&line, stale_ns / 1e9);
        }
        ds_put_cstr(&line, "}\n");
    } else {
        put_time(&line, h->ts);
        ds_put_format(&line, " %-15s %-41s %-8s %-14s ", comm, ufid, event,
                      reason ? reason : "-");
        if (!strcmp(event, "install")) {
            ds_put_cstr(&line, "-");
        } else if (stale_ns != UINT64_MAX) {
            ds_put_cstr(&line, "stale");
        } else if (lifetime_ns == UINT64_MAX) {
            ds_put_cstr(&line, "?");
        } else {
            put_lifetime(&line, lifetime_ns);
        }
        ds_put_char(&line, '\n');
        if (key) {
            ds_put_format(&line, "  %s\n", key);
        }
    }
    emit_line();
}

static void
note_deletion(int r)
{
    if (!out.deletions[r]++) {
        out.deletion_order[out.n_deletion_order++] = r;
    }
}

static void
note_lifetime(int r, uint64_t ns)
{
    struct lifetimes *l = &out.lifetimes[r];
    double s = ns / 1e9;

    if (!l->n++) {
        out.lifetime_order[out.n_lifetime_order++] = r;
        l->min = l->max = s;
    }
    l->min = MIN(l->min, s);
    l->max = MAX(l->max, s);
    l->sum += s;
}

static const char *
reason_name(int r)
{
    return r == DATAPATH_REASON ? "(datapath)" : reasons[r];
}

static void
handle_install(const struct fw_install *ev, size_t size)
{
    struct ds key = DS_EMPTY_INITIALIZER;
    bool has_key = false;
    size_t hdr = offsetof(struct fw_install, data);

    out.counts[EV_INSTALL]++;
    if (flow_keys && size >= hdr && ev->key_n + ev->mask_n <= size - hdr) {
        const struct nlattr *k = ALIGNED_CAST(const struct nlattr *,
                                              ev->data);
        const struct nlattr *m = ALIGNED_CAST(const struct nlattr *,
                                              ev->data + ev->key_n);

        odp_flow_format(k, ev->key_n, ev->mask_n ? m : NULL, ev->mask_n,
                        NULL, &key, false);
        if (ev->key_n < ev->key_len || ev->mask_n < ev->mask_len) {
            ds_put_format(&key, " (truncated: %"PRIu32" of %"PRIu32" key "
                          "bytes, %"PRIu32" of %"PRIu32" mask bytes)",
                          ev->key_n, ev->key_len, ev->mask_n, ev->mask_len);
        }
        has_key = true;
    }
    print_event(&ev->hdr, "install",
                ev->status == FW_MAP_FULL ? "map_full" : NULL, UINT64_MAX,
                has_key ? ds_cstr(&key) : NULL, -1, NULL, UINT64_MAX);
    ds_destroy(&key);
}

/* The name of 'reason', or its number in 'buf'. */
static const char *
verdict_reason_name(uint32_t reason, char buf[16])
{
    if (reason < N_REASONS) {
        return reasons[reason];
    }
    snprintf(buf, 16, "%"PRIu32, reason);
    return buf;
}

static void
handle_verdict(const struct fw_verdict *ev)
{
    uint64_t lifetime = ev->install_ns ? ev->hdr.ts - ev->install_ns
                                       : UINT64_MAX;
    uint64_t stale = UINT64_MAX;
    const char *event;
    char rbuf[16], ubuf[16], ebuf[16];
    const char *rname, *uname;

    if (ev->result < ARRAY_SIZE(results)) {
        event = results[ev->result];
    } else {
        snprintf(ebuf, sizeof ebuf, "%"PRIu32, ev->result);
        event = ebuf;
    }
    rname = verdict_reason_name(ev->reason, rbuf);
    uname = verdict_reason_name(ev->upstream_reason, ubuf);
    if (ev->result == 0) {
        out.counts[EV_KEEP]++;
    } else if (ev->result == 1) {
        out.counts[EV_DELETE]++;
    } else if (ev->result == 2) {
        out.counts[EV_MODIFY]++;
    }
    if (ev->removed_ns) {
        lifetime = UINT64_MAX;
        stale = ev->hdr.ts - ev->removed_ns;
    }
    if (ev->result == 1 && ev->reason < N_REASONS) {
        note_deletion(ev->reason);
        if (lifetime != UINT64_MAX) {
            note_lifetime(ev->reason, lifetime);
        }
    }
    print_event(&ev->hdr, event, ev->result == 1 ? rname : NULL, lifetime,
                NULL, ev->phase, ev->result == 1 ? uname : NULL, stale);
}

static void
handle_remove(const struct fw_remove *ev)
{
    uint64_t lifetime = ev->install_ns ? ev->hdr.ts - ev->install_ns
                                       : UINT64_MAX;

    out.counts[EV_REMOVE]++;
    if (lifetime != UINT64_MAX) {
        note_lifetime(DATAPATH_REASON, lifetime);
    }
    print_event(&ev->hdr, "remove", "datapath", lifetime, NULL, -1, NULL,
                UINT64_MAX);
}

static int
handle_event(void *ctx OVS_UNUSED, void *data, size_t size)
{
    const struct fw_hdr *h = data;

    if (size < sizeof *h) {
        return 0;
    }
    out.received++;
    switch (h->type) {
    case FW_EV_INSTALL:
        handle_install(data, size);
        break;
    case FW_EV_VERDICT:
        if (size >= sizeof(struct fw_verdict)) {
            handle_verdict(data);
        }
        break;
    case FW_EV_REMOVE:
        if (size >= sizeof(struct fw_remove)) {
            handle_remove(data);
        }
        break;
    default:
        break;
    }
    return 0;
}

static uint64_t
fw_stat(int i)
{
    return skel->bss->fw_stats[i];
}

/* Warns on stderr, at once, of lost events and of flows that could not be
 * followed (with --json, also as records). */
static void
check_counts(void)
{
    static const int which[] = { FW_ST_MAP_FULL, FW_ST_KEY_FAILED };

    for (size_t k = 0; k < ARRAY_SIZE(which); k++) {
        int i = which[k];
        uint64_t total = fw_stat(i);
        uint64_t n = total - out.reported[i];

        if (total <= out.reported[i]) {
            continue;
        }
        out.reported[i] = total;
        if (i == FW_ST_MAP_FULL) {
            warn("WARNING: %"PRIu64" flow%s not followed (%"PRIu64" in "
                 "all): the map of followed flows is full; run with a "
                 "larger --max-flows (now %u)", n, n == 1 ? "" : "s", total,
                 max_flows);
        } else if (filter_expr) {
            warn("WARNING: %"PRIu64" flow%s not followed (%"PRIu64" in "
                 "all): their key could not be read", n, n == 1 ? "" : "s",
                 total);
        } else {
            warn("WARNING: %"PRIu64" flow%s followed without a key "
                 "(%"PRIu64" in all): their key could not be read", n,
                 n == 1 ? "" : "s", total);
        }
        if (json_output) {
            ds_put_format(&line, "{\"event\": \"not_followed\", \"why\": "
                          "\"%s\", \"count\": %"PRIu64", \"total\": "
                          "%"PRIu64"}\n",
                          i == FW_ST_MAP_FULL ? "map_full" : "key_failed",
                          n, total);
            emit_line();
        }
    }

    uint64_t lost = fw_stat(FW_ST_LOST);
    if (lost > out.reported[FW_ST_LOST]) {
        uint64_t n = lost - out.reported[FW_ST_LOST];

        out.reported[FW_ST_LOST] = lost;
        warn("WARNING: %"PRIu64" event%s lost (%"PRIu64" in all): the "
             "ring buffer was full; run with a larger --buffer-page-count "
             "(now %u)", n, n == 1 ? "" : "s", lost, page_count);
        if (json_output) {
            ds_put_format(&line, "{\"event\": \"lost\", \"count\": "
                          "%"PRIu64", \"total\": %"PRIu64"}\n", n, lost);
            emit_line();
        }
    }
}

static void
print_summary(void)
{
    if (json_output) {
        ds_put_cstr(&line, "{\"event\": \"summary\", \"counts\": {");
        for (int i = 0; i < N_EV; i++) {
            ds_put_format(&line, "%s\"%s\": %llu", i ? ", " : "",
                          event_names[i], out.counts[i]);
        }
        ds_put_cstr(&line, "}, \"deletions\": {");
        for (int i = 0; i < out.n_deletion_order; i++) {
            int r = out.deletion_order[i];

            ds_put_format(&line, "%s\"%s\": %llu", i ? ", " : "",
                          reason_name(r), out.deletions[r]);
        }
        ds_put_cstr(&line, "}, \"lifetimes\": {");
        for (int i = 0; i < out.n_lifetime_order; i++) {
            int r = out.lifetime_order[i];
            const struct lifetimes *l = &out.lifetimes[r];

            ds_put_format(&line, "%s\"%s\": {\"count\": %llu, \"min\": ",
                          i ? ", " : "", reason_name(r), l->n);
            put_float(&line, l->min);
            ds_put_cstr(&line, ", \"avg\": ");
            put_float(&line, l->sum / l->n);
            ds_put_cstr(&line, ", \"max\": ");
            put_float(&line, l->max);
            ds_put_char(&line, '}');
        }
        ds_put_format(&line, "}, \"lost\": %"PRIu64", \"received\": %llu, "
                      "\"keys_held\": 0, \"kernel\": {\"installs\": "
                      "%"PRIu64", \"followed\": %"PRIu64", \"again\": "
                      "%"PRIu64", \"probes\": %"PRIu64", \"verdicts\": "
                      "%"PRIu64", \"dropped\": %"PRIu64"}, "
                      "\"not_followed\": {\"map_full\": %"PRIu64", "
                      "\"key_failed\": %"PRIu64", \"verdicts\": "
                      "%"PRIu64"}}\n",
                      fw_stat(FW_ST_LOST), out.received,
                      fw_stat(FW_ST_INSTALLS),
                      fw_stat(FW_ST_FOLLOWED), fw_stat(FW_ST_AGAIN),
                      fw_stat(FW_ST_PROBES), fw_stat(FW_ST_VERDICTS),
                      fw_stat(FW_ST_DROPPED), fw_stat(FW_ST_MAP_FULL),
                      fw_stat(FW_ST_KEY_FAILED), fw_stat(FW_ST_UNFOLLOWED));
        emit_line();
        return;
    }

    ds_put_format(&line, "\nSUMMARY\n  events: %llu install, %llu modify, "
                  "%llu delete, %llu keep, %llu remove\n",
                  out.counts[EV_INSTALL], out.counts[EV_MODIFY],
                  out.counts[EV_DELETE], out.counts[EV_KEEP],
                  out.counts[EV_REMOVE]);
    ds_put_format(&line, "  %-14s %7s %7s %10s %10s %10s\n", "REASON",
                  "DELETES", "TIMED", "MIN", "AVG", "MAX");
    for (int r = 0; r <= DATAPATH_REASON; r++) {
        unsigned long long n = (r == DATAPATH_REASON
                                ? out.counts[EV_REMOVE] : out.deletions[r]);
        const struct lifetimes *l = &out.lifetimes[r];

        if (!n) {
            continue;
        }
        ds_put_format(&line, "  %-14s %7llu %7llu ", reason_name(r), n,
                      l->n);
        if (l->n) {
            struct ds a = DS_EMPTY_INITIALIZER;

            put_lifetime(&a, l->min * 1e9);
            ds_put_format(&line, "%10s ", ds_cstr(&a));
            ds_clear(&a);
            put_lifetime(&a, l->sum / l->n * 1e9);
            ds_put_format(&line, "%10s ", ds_cstr(&a));
            ds_clear(&a);
            put_lifetime(&a, l->max * 1e9);
            ds_put_format(&line, "%10s\n", ds_cstr(&a));
            ds_destroy(&a);
        } else {
            ds_put_format(&line, "%10s %10s %10s\n", "-", "-", "-");
        }
    }
    ds_put_format(&line, "  kernel: %"PRIu64" installs seen, %"PRIu64
                  " followed, %"PRIu64" installed again, %"PRIu64" feature "
                  "probes; %"PRIu64" verdicts seen, %"PRIu64" dropped in "
                  "the kernel; %llu events received\n",
                  fw_stat(FW_ST_INSTALLS), fw_stat(FW_ST_FOLLOWED),
                  fw_stat(FW_ST_AGAIN), fw_stat(FW_ST_PROBES),
                  fw_stat(FW_ST_VERDICTS), fw_stat(FW_ST_DROPPED),
                  out.received);
    ds_put_format(&line, "  not followed: %"PRIu64" (map full), %"PRIu64
                  " (key unreadable); %"PRIu64" verdicts of them\n",
                  fw_stat(FW_ST_MAP_FULL), fw_stat(FW_ST_KEY_FAILED),
                  fw_stat(FW_ST_UNFOLLOWED));
    ds_put_format(&line, "  lost events: %"PRIu64"\n", fw_stat(FW_ST_LOST));
    emit_line();
}

static void
stop_handler(int signr OVS_UNUSED)
{
    stopping = 1;
}

static int
libbpf_print(enum libbpf_print_level level OVS_UNUSED,
             const char *format OVS_UNUSED, va_list args OVS_UNUSED)
{
    /* libbpf's messages would break the one-line errors. */
    return 0;
}

static double
clock_secs(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
    struct fw_term terms[FW_MAX_TERMS];
    const struct probe *attach[7];
    const struct object *where[7];
    struct ds probe_list = DS_EMPTY_INITIALIZER;
    struct ring_buffer *rb;
    struct object *objs;
    size_t n_objs, n_attach = 0;
    char exe[PATH_MAX];
    char link_path[64];
    int n_terms = 0;
    int status = 0;
    ssize_t len;
    int pid, error;

    set_program_name(argv[0]);
    parse_options(argc, argv);

    if (filter_expr) {
        compile_filter(filter_expr, terms, &n_terms);
    }
    if (print_filter) {
        do_print_filter(terms, n_terms);
        return 0;
    }
    if (geteuid()) {
        fail("must run as root (BPF and uprobes need it)");
    }

    pid = find_vswitchd(vswitchd_pid);
    snprintf(link_path, sizeof link_path, "/proc/%d/exe", pid);
    len = readlink(link_path, exe, sizeof exe - 1);
    if (len < 0) {
        fail("cannot read %s: %s", link_path, ovs_strerror(errno));
    }
    exe[len] = '\0';
    if (!vswitchd_pid) {
        warn("following ovs-vswitchd PID %d (%s), the only one running",
             pid, exe);
    }
    if (len > 10 && !strcmp(exe + len - 10, " (deleted)")) {
        exe[len - 10] = '\0';
        fail("the binary of ovs-vswitchd (PID %d), %s, was replaced or "
             "removed since it started: restart it", pid, exe);
    }

    /* The probes, and the objects that hold them. */
    n_objs = find_objects(pid, exe, &objs);
    bool any = false;
    for (size_t i = 0; i < n_objs; i++) {
        any = any || objs[i].probes.length;
    }
    if (!any) {
        fail("%s (PID %d) has no USDT probes: it was built without "
             "--enable-usdt-probes", exe, pid);
    }

    struct ds missing = DS_EMPTY_INITIALIZER;
    int n_missing = 0;
    size_t n_installs = 0;
    for (size_t i = 0; i < ARRAY_SIZE(install_probes); i++) {
        const struct object *o = probe_object(objs, n_objs,
                                              &install_probes[i]);
        if (o) {
            where[n_attach] = o;
            attach[n_attach++] = &install_probes[i];
            n_installs++;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(remove_probes); i++) {
        /* Older builds lack them: then removals are not seen. */
        const struct object *o = probe_object(objs, n_objs,
                                              &remove_probes[i]);
        if (o) {
            where[n_attach] = o;
            attach[n_attach++] = &remove_probes[i];
        }
    }
    const struct probe *verdicts[] = {
        show_keeps ? &result_probes[0] : &change_probes[0],
        show_keeps ? &result_probes[1] : &change_probes[1],
        &unexpected_probe,
    };
    for (size_t i = 0; i < ARRAY_SIZE(verdicts); i++) {
        const struct object *o = probe_object(objs, n_objs, verdicts[i]);
        if (o) {
            where[n_attach] = o;
            attach[n_attach++] = verdicts[i];
        } else {
            ds_put_format(&missing, "%s%s:%s", n_missing++ ? ", " : "",
                          verdicts[i]->provider, verdicts[i]->name);
        }
    }
    if (!n_installs) {
        ds_put_format(&missing, "%s%s:%s or %s:%s", n_missing++ ? ", " : "",
                      install_probes[0].provider, install_probes[0].name,
                      install_probes[1].provider, install_probes[1].name);
    }
    if (n_missing) {
        fail("%s (PID %d) lacks the probe%s %s: it was built without the "
             "flow lifecycle probes", exe, pid, n_missing > 1 ? "s" : "",
             ds_cstr(&missing));
    }

    /* The BPF program. */
    libbpf_set_print(libbpf_print);
    skel = ovs_flowwatch_bpf__open();
    if (!skel) {
        fail("cannot open the BPF program: %s", ovs_strerror(errno));
    }
    skel->rodata->follow_all = !filter_expr;
    skel->rodata->n_terms = n_terms;
    skel->rodata->ring_size = (uint64_t) page_count * getpagesize();
    memcpy((void *) skel->rodata->terms, terms,
           n_terms * sizeof terms[0]);
    if (bpf_map__set_max_entries(skel->maps.events,
                                 (uint64_t) page_count * getpagesize())
        || bpf_map__set_max_entries(skel->maps.followed, max_flows)
        || bpf_map__set_max_entries(skel->maps.unfollowed, max_flows)
        || bpf_map__set_max_entries(skel->maps.deleting, max_flows)
        || bpf_map__set_max_entries(skel->maps.removed, max_flows)) {
        fail("cannot size the BPF maps: %s", ovs_strerror(errno));
    }
    error = ovs_flowwatch_bpf__load(skel);
    if (error) {
        fail("cannot load the BPF program: %s", ovs_strerror(-error));
    }

    for (size_t i = 0; i < n_attach; i++) {
        const struct probe *p = attach[i];
        struct bpf_program *prog;
        struct bpf_link *l;

        prog = (p->kind == PK_INSTALL ? skel->progs.on_install
                : p->kind == PK_REMOVE ? skel->progs.on_remove
                : p->kind == PK_DUMP ? skel->progs.on_dump
                : p->kind == PK_SWEEP ? skel->progs.on_sweep
                : skel->progs.on_unexpected);
        l = bpf_program__attach_usdt(prog, pid, where[i]->path, p->provider,
                                     p->name, NULL);
        if (!l) {
            error = errno;
            if (!process_alive(pid)) {
                fail("ovs-vswitchd (PID %d) exited", pid);
            }
            fail("cannot attach to the probe %s:%s of %s in PID %d: %s",
                 p->provider, p->name, where[i]->path, pid,
                 ovs_strerror(error));
        }
        ds_put_format(&probe_list, "%s\"%s:%s\"", i ? ", " : "",
                      p->provider, p->name);
    }

    rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
                          NULL, NULL);
    if (!rb) {
        fail("cannot open the ring buffer: %s", ovs_strerror(errno));
    }

    out.boot = clock_secs(CLOCK_REALTIME) - clock_secs(CLOCK_MONOTONIC);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, stop_handler);
    signal(SIGTERM, stop_handler);
    signal(SIGHUP, stop_handler);

    if (json_output) {
        ds_put_format(&line, "{\"event\": \"start\", \"pid\": %d, "
                      "\"probes\": [%s]}\n", pid, ds_cstr(&probe_list));
    } else {
        ds_put_format(&line, "%-16s %-15s %-41s %-8s %-14s %s\n", "TIME",
                      "THREAD", "UFID", "EVENT", "REASON", "LIFETIME");
    }
    emit_line();
    write_output();

    while (!stopping) {
        error = ring_buffer__poll(rb, POLL_MS);
        if (error < 0 && error != -EINTR) {
            warn("cannot read the ring buffer: %s", ovs_strerror(-error));
            status = 1;
            break;
        }
        /* Records written without a wake-up (the BPF program wakes us
         * at most once per 10 ms, unless the buffer is a quarter full). */
        ring_buffer__consume(rb);
        check_counts();
        write_output();
        if (!process_alive(pid)) {
            warn("ovs-vswitchd (PID %d) exited", pid);
            status = 1;
            break;
        }
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    ring_buffer__consume(rb);
    check_counts();
    if (summary) {
        print_summary();
    }
    write_output();

    ring_buffer__free(rb);
    ovs_flowwatch_bpf__destroy(skel);
    return status;
}
