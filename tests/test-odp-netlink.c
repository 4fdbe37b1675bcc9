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

/* ovstest test-odp-netlink: formats netlink-encoded datapath flow keys and
 * masks, such as the ones USDT probes hand over, with the formatter that
 * "ovs-appctl dpctl/dump-flows" uses, so that tests can check a decoded key
 * against Open vSwitch's own output.
 *
 * Each input line holds a key in hexadecimal and, optionally, a mask in
 * hexadecimal; each output line is the formatted flow, or "error: ..." for a
 * line that is not hexadecimal.  With "-m", the output is as verbose as
 * "ovs-appctl dpctl/dump-flows -m --no-names" prints it. */

#include <config.h>
#undef NDEBUG
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "odp-util.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "ovstest.h"
#include "util.h"

/* Appends to 'buf' the bytes that the hexadecimal digits in 's' encode.
 * Returns false if 's' has a non-hexadecimal character or an odd number of
 * digits. */
static bool
parse_hex(const char *s, struct ofpbuf *buf)
{
    while (*s) {
        if (!isxdigit((unsigned char) s[0])
            || !isxdigit((unsigned char) s[1])) {
            return false;
        }
        uint8_t byte = hexit_value(s[0]) * 16 + hexit_value(s[1]);
        ofpbuf_put(buf, &byte, 1);
        s += 2;
    }
    return true;
}

static void
test_odp_netlink_main(int argc, char *argv[])
{
    bool verbose = argc > 1 && !strcmp(argv[1], "-m");
    struct ds line = DS_EMPTY_INITIALIZER;
    struct ds out = DS_EMPTY_INITIALIZER;

    while (!ds_get_line(&line, stdin)) {
        struct ofpbuf key, mask;
        char *save_ptr = NULL;
        char *key_hex, *mask_hex;

        ofpbuf_init(&key, 0);
        ofpbuf_init(&mask, 0);
        ds_clear(&out);

        key_hex = strtok_r(ds_cstr(&line), " \t", &save_ptr);
        mask_hex = strtok_r(NULL, " \t", &save_ptr);
        if (!key_hex || !parse_hex(key_hex, &key)
            || (mask_hex && !parse_hex(mask_hex, &mask))) {
            ds_put_cstr(&out, "error: not hexadecimal");
        } else {
            odp_flow_format(key.data, key.size,
                            mask_hex ? mask.data : NULL, mask.size,
                            NULL, &out, verbose);
        }
        puts(ds_cstr(&out));

        ofpbuf_uninit(&key);
        ofpbuf_uninit(&mask);
    }
    ds_destroy(&line);
    ds_destroy(&out);
}

OVSTEST_REGISTER("test-odp-netlink", test_odp_netlink_main);
