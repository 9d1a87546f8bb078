/*
 * Copyright (c) 2026 The ovs-ssh-tap authors.
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

/* What turns the stock ovs-vswitchd objects into ovs-vswitchd-ssh-tap.
 *
 * OVS has no plugin loader, so the provider is linked in, and the binary is
 * linked with -Wl,--wrap for bridge_init, ovs_print_version and
 * ovs_set_program_name: the linker sends vswitchd's calls to those
 * functions here first.  No OVS source file is edited. */

#include <config.h>

#include <stdint.h>
#include <stdio.h>

#include <libssh/libssh.h>

#include "netdev-ssh-tap.h"
#include "util.h"

void __real_bridge_init(const char *remote);
void __wrap_bridge_init(const char *remote);
void __real_ovs_print_version(uint8_t min_ofp, uint8_t max_ofp);
void __wrap_ovs_print_version(uint8_t min_ofp, uint8_t max_ofp);
void __real_ovs_set_program_name(const char *name, const char *version);
void __wrap_ovs_set_program_name(const char *name, const char *version);

/* Runs as "ovs-vswitchd" whatever the file is called, so that its pidfile,
 * control socket and log have the stock names: "ovs-appctl ssh-tap/show",
 * ovs-ctl and every other tool that talks to ovs-vswitchd find it. */
void
__wrap_ovs_set_program_name(const char *name OVS_UNUSED, const char *version)
{
    __real_ovs_set_program_name("ovs-vswitchd", version);
}

/* Registers the ssh-tap port type before the bridge reads its configuration
 * (and publishes Open_vSwitch:iface_types). */
void
__wrap_bridge_init(const char *remote)
{
    netdev_ssh_tap_register();
    __real_bridge_init(remote);
}

/* "ovs-vswitchd-ssh-tap --version" names both versions: the provider must be
 * built against the exact OVS it runs with. */
void
__wrap_ovs_print_version(uint8_t min_ofp, uint8_t max_ofp)
{
    __real_ovs_print_version(min_ofp, max_ofp);
    printf("ssh-tap %s (libssh %s)\n", SSH_TAP_VERSION, ssh_version(0));
}
