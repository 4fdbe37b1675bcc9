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
/* Every probe in this file has a semaphore (see usdt-probes.h): this must
 * come before any header that could include <sys/sdt.h>.  Built only with
 * --enable-usdt-probes. */
#define OVS_USDT_WITH_SEMAPHORES 1
#include "dpif-netdev-usdt.h"

OVS_USDT_SEMAPHORE(dp_netdev_flow_add, dp_flow_put);
OVS_USDT_SEMAPHORE(dp_netdev_pmd_remove_flow, dp_flow_del);

/* Fires dp_netdev_flow_add:dp_flow_put: 'dp' has just installed the flow
 * that 'put' describes. */
void
dpif_netdev_usdt_flow_put(const struct dp_netdev *dp,
                          const struct dpif_flow_put *put)
{
    OVS_USDT_PROBE(dp_netdev_flow_add, dp_flow_put, dp, put);
}

/* Fires dp_netdev_pmd_remove_flow:dp_flow_del: 'dp' is about to remove the
 * flow that 'del' describes. */
void
dpif_netdev_usdt_flow_del(const struct dp_netdev *dp,
                          const struct dpif_flow_del *del)
{
    OVS_USDT_PROBE(dp_netdev_pmd_remove_flow, dp_flow_del, dp, del);
}
