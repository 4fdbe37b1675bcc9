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

#ifndef DPIF_NETDEV_USDT_H
#define DPIF_NETDEV_USDT_H 1

/* USDT probes of the userspace datapath that have semaphores.
 *
 * dp_netdev_flow_add:dp_flow_put and dp_netdev_pmd_remove_flow:dp_flow_del
 * hand over the flow's key and mask in netlink format, which costs work to
 * build: dpif-netdev.c builds them only while OVS_USDT_IS_ENABLED() says
 * that a consumer is attached, then calls the function below that fires the
 * probe.  The probes fire from dpif-netdev-usdt.c because <sys/sdt.h> gives
 * semaphores to every probe of a file or to none (see usdt-probes.h). */

#include "openvswitch/compiler.h"
#include "openvswitch/usdt-probes.h"

struct dp_netdev;
struct dpif_flow_del;
struct dpif_flow_put;

OVS_USDT_SEMAPHORE_DECLARE(dp_netdev_flow_add, dp_flow_put);
OVS_USDT_SEMAPHORE_DECLARE(dp_netdev_pmd_remove_flow, dp_flow_del);

#ifdef HAVE_USDT_PROBES
void dpif_netdev_usdt_flow_put(const struct dp_netdev *,
                               const struct dpif_flow_put *);
void dpif_netdev_usdt_flow_del(const struct dp_netdev *,
                               const struct dpif_flow_del *);
#else
static inline void
dpif_netdev_usdt_flow_put(const struct dp_netdev *dp OVS_UNUSED,
                          const struct dpif_flow_put *put OVS_UNUSED)
{
}

static inline void
dpif_netdev_usdt_flow_del(const struct dp_netdev *dp OVS_UNUSED,
                          const struct dpif_flow_del *del OVS_UNUSED)
{
}
#endif

#endif /* dpif-netdev-usdt.h */
