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

#ifndef SYNC_PLAN_H
#define SYNC_PLAN_H 1

/* The reconciliation of ovs-ssh-tap-sync, as a pure function: from the
 * sites in the registry, the name of our own site and the ports that exist
 * on the local switch, compute what to add, update and delete so that the
 * bridge holds exactly one ssh-tap port per other enabled site.
 *
 * No I/O, no JSON, no OVSDB: ovs-ssh-tap-sync.c turns database rows into
 * these structures and the plan into a transaction; tests/test-sync-plan.c
 * drives the function directly.  The rules are in docs/sync.md. */

#include <stdbool.h>
#include <stddef.h>

/* External ids that mark a port (and its interface) as the sync's own. */
#define SYNC_OWNER_KEY "ssh-tap-sync"
#define SYNC_PEER_KEY "ssh-tap-peer"

#define SYNC_DEFAULT_BRIDGE "br0"
#define SYNC_DEFAULT_RUNDIR "/var/run/openvswitch"

/* Longest interface name Linux and OVS accept (IFNAMSIZ - 1). */
#define SYNC_PORT_NAME_MAX 15

/* Longest site name accepted. */
#define SYNC_SITE_NAME_MAX 64

/* A small string-to-string map, kept sorted by key. */
struct sync_kv {
    char *key;
    char *value;
};

struct sync_smap {
    struct sync_kv *kv;
    size_t n;
    size_t allocated;
};

void sync_smap_init(struct sync_smap *);
void sync_smap_destroy(struct sync_smap *);
void sync_smap_clone(struct sync_smap *dst, const struct sync_smap *src);
void sync_smap_set(struct sync_smap *, const char *key, const char *value);
const char *sync_smap_get(const struct sync_smap *, const char *key);
bool sync_smap_equal(const struct sync_smap *, const struct sync_smap *);
char *sync_smap_format(const struct sync_smap *);

/* One row of the registry's Site table.  'endpoint' and 'host_key' are
 * NULL when the column is empty; the other strings are never NULL (empty
 * when unset). */
struct sync_site {
    const char *name;
    const char *endpoint;
    const char *login;
    const char *host_key;
    const char *bridge;
    const char *rundir;
    bool enabled;
};

/* One port that exists in the local database, with its (first)
 * interface.  The uuids are opaque here: the plan only hands them back. */
struct sync_port {
    const char *port_uuid;
    const char *iface_uuid;     /* NULL if the port has no interface. */
    const char *bridge;         /* Name of the bridge that holds it. */
    const char *name;
    const char *type;           /* Interface:type ("" for a system port). */
    bool protected_;            /* Port:protected. */
    struct sync_smap options;           /* Interface:options. */
    struct sync_smap port_ids;          /* Port:external_ids. */
    struct sync_smap iface_ids;         /* Interface:external_ids. */
};

/* What the plan needs besides the rows. */
struct sync_config {
    const char *site;           /* Our own site name. */
    const char *key;            /* options:key for active ports. */
    const char *known_hosts;    /* options:known_hosts when the far site has
                                 * no host_key; NULL for the port's default. */
};

enum sync_action_type {
    SYNC_DELETE,                /* Remove a port of ours. */
    SYNC_UPDATE,                /* Rewrite a port of ours in place. */
    SYNC_ADD,                   /* Create a port. */
};

struct sync_action {
    enum sync_action_type type;
    char *port_name;
    char *peer;                 /* The far site (for a delete: as recorded
                                 * in the port's external_ids, may be ""). */
    char *bridge;               /* ADD: the bridge to add to.  DELETE: the
                                 * bridge that holds the port. */
    const char *port_uuid;      /* UPDATE and DELETE. */
    const char *iface_uuid;     /* UPDATE (NULL if the port lacks one). */
    bool active;                /* ADD and UPDATE: we dial. */
    struct sync_smap options;   /* ADD and UPDATE: Interface:options. */
    struct sync_smap port_ids;  /* ADD and UPDATE: Port:external_ids. */
    struct sync_smap iface_ids; /* ADD and UPDATE: Interface:external_ids. */
    char *why;                  /* UPDATE: what differs.  DELETE: why. */
};

struct sync_plan {
    struct sync_action *actions;
    size_t n_actions;
    char **warnings;
    size_t n_warnings;
    char *bridge;               /* The bridge our ports belong on. */
    size_t n_wanted;            /* Ports we want, existing or not. */
};

void sync_plan_compute(const struct sync_config *,
                       const struct sync_site *sites, size_t n_sites,
                       const struct sync_port *ports, size_t n_ports,
                       struct sync_plan *);
void sync_plan_destroy(struct sync_plan *);
char *sync_plan_format(const struct sync_plan *);

/* Helpers, exposed for the tests and the tools. */
void sync_port_name(const char *site, char name[SYNC_PORT_NAME_MAX + 1]);
bool sync_site_name_valid(const char *name);
const char *sync_dialer(const struct sync_site *, const struct sync_site *);

#endif /* sync-plan.h */
