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

/* Unit tests for the reconciliation of ovs-ssh-tap-sync
 * (utilities/sync-plan.c).
 *
 * Prints one "PASS: test-sync-plan: <case>" or "FAIL: test-sync-plan:
 * <case>: <why>" line per case and exits with status 1 if any case
 * failed. */

#include "sync-plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "test-sync-plan"
#include "unit-test.h"

static const struct sync_config cfg_a = {
    .site = "a",
    .key = "/etc/ovs/ssh-tap/id_ed25519",
};

/* Sites a, b, c, d, all with an endpoint and a host key, except d, which
 * has neither (behind NAT). */
static struct sync_site four[] = {
    { "a", "192.0.2.1", "root", "SHA256:aaa", "", "/run/a", true },
    { "b", "192.0.2.2:2222", "ops", "SHA256:bbb", "", "/run/b", true },
    { "c", "192.0.2.3", "", NULL, "br9", "", true },
    { "d", NULL, "root", NULL, "", "/run/d", true },
};

/* The existing ports: built from the ADD actions of an earlier plan, as
 * the database would hold them after the transaction. */
struct world {
    struct sync_port ports[16];
    char uuids[16][2][40];
    size_t n;
};

static void
world_destroy(struct world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct sync_port *p = &w->ports[i];

        free((char *) p->name);
        free((char *) p->bridge);
        free((char *) p->type);
        sync_smap_destroy(&p->options);
        sync_smap_destroy(&p->port_ids);
        sync_smap_destroy(&p->iface_ids);
    }
    w->n = 0;
}

static struct sync_port *
world_add(struct world *w, const char *name, const char *bridge,
          const char *type)
{
    struct sync_port *p = &w->ports[w->n];

    memset(p, 0, sizeof *p);
    snprintf(w->uuids[w->n][0], sizeof w->uuids[w->n][0], "port-%zu", w->n);
    snprintf(w->uuids[w->n][1], sizeof w->uuids[w->n][1], "iface-%zu",
             w->n);
    p->port_uuid = w->uuids[w->n][0];
    p->iface_uuid = w->uuids[w->n][1];
    p->name = strdup(name);
    p->bridge = strdup(bridge);
    p->type = strdup(type);
    sync_smap_init(&p->options);
    sync_smap_init(&p->port_ids);
    sync_smap_init(&p->iface_ids);
    w->n++;
    return p;
}

/* Applies the ADD and UPDATE actions of 'plan' to 'w' (not the deletes). */
static void
world_apply(struct world *w, const struct sync_plan *plan)
{
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct sync_action *a = &plan->actions[i];
        struct sync_port *p = NULL;

        if (a->type == SYNC_ADD) {
            p = world_add(w, a->port_name, a->bridge, "ssh-tap");
        } else if (a->type == SYNC_UPDATE) {
            for (size_t j = 0; j < w->n; j++) {
                if (!strcmp(w->ports[j].port_uuid, a->port_uuid)) {
                    p = &w->ports[j];
                }
            }
            sync_smap_destroy(&p->options);
            sync_smap_destroy(&p->port_ids);
            sync_smap_destroy(&p->iface_ids);
            free((char *) p->type);
            p->type = strdup("ssh-tap");
        } else {
            continue;
        }
        p->protected_ = true;
        sync_smap_clone(&p->options, &a->options);
        sync_smap_clone(&p->port_ids, &a->port_ids);
        sync_smap_clone(&p->iface_ids, &a->iface_ids);
    }
}

static const struct sync_action *
find_action(const struct sync_plan *plan, const char *port)
{
    for (size_t i = 0; i < plan->n_actions; i++) {
        if (!strcmp(plan->actions[i].port_name, port)) {
            return &plan->actions[i];
        }
    }
    return NULL;
}

static bool
has_warning(const struct sync_plan *plan, const char *a, const char *b)
{
    for (size_t i = 0; i < plan->n_warnings; i++) {
        if (strstr(plan->warnings[i], a) && (!b || strstr(plan->warnings[i],
                                                          b))) {
            return true;
        }
    }
    return false;
}

static bool
opt_is(const struct sync_action *a, const char *key, const char *value)
{
    const char *v = sync_smap_get(&a->options, key);
    return value ? v && !strcmp(v, value) : !v;
}

/* ------------------------------------------------------------------------ */

static const char *
test_port_name(void)
{
    char n1[16], n2[16], n3[16];

    sync_port_name("b", n1);
    CHECK(!strcmp(n1, "st-b"));
    sync_port_name("twelve-chars", n1);         /* 3 + 12 = 15: fits. */
    CHECK(!strcmp(n1, "st-twelve-chars"));
    sync_port_name("thirteen-char", n1);
    CHECK_MSG(strlen(n1) == 15 && !strncmp(n1, "st-thirt-", 9), "%s", n1);
    sync_port_name("thirteen-char", n2);
    CHECK(!strcmp(n1, n2));                     /* Stable. */
    sync_port_name("thirteen-chaz", n3);
    CHECK_MSG(strcmp(n1, n3), "%s == %s", n1, n3);
    return NULL;
}

static const char *
test_site_names(void)
{
    CHECK(sync_site_name_valid("site-b.example_1"));
    CHECK(!sync_site_name_valid(""));
    CHECK(!sync_site_name_valid("-x"));
    CHECK(!sync_site_name_valid(".x"));
    CHECK(!sync_site_name_valid("a/b"));
    CHECK(!sync_site_name_valid("a b"));
    CHECK(sync_site_name_valid("x234567890123456789012345678901234567890"
                               "123456789012345678901234"));
    CHECK(!sync_site_name_valid("x234567890123456789012345678901234567890"
                                "1234567890123456789012345"));
    return NULL;
}

static const char *
test_dialer(void)
{
    /* Both have endpoints: the lower name dials, whichever comes first. */
    CHECK(!strcmp(sync_dialer(&four[0], &four[1]), "a"));
    CHECK(!strcmp(sync_dialer(&four[1], &four[0]), "a"));
    CHECK(!strcmp(sync_dialer(&four[2], &four[1]), "b"));
    /* A site without endpoint always dials. */
    CHECK(!strcmp(sync_dialer(&four[0], &four[3]), "d"));
    CHECK(!strcmp(sync_dialer(&four[3], &four[2]), "d"));
    /* Neither: no link. */
    struct sync_site e = { "e", "", "", NULL, "", "", true };
    CHECK(!sync_dialer(&four[3], &e));
    return NULL;
}

static const char *
test_alone(void)
{
    struct sync_plan plan;

    sync_plan_compute(&cfg_a, four, 1, NULL, 0, &plan);
    CHECK(plan.n_actions == 0);
    CHECK(plan.n_warnings == 0);
    CHECK(!strcmp(plan.bridge, "br0"));
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_full_mesh_from_a(void)
{
    const struct sync_action *b, *c, *d;
    struct sync_plan plan;

    sync_plan_compute(&cfg_a, four, 4, NULL, 0, &plan);
    CHECK_MSG(plan.n_actions == 3, "%zu actions", plan.n_actions);
    b = find_action(&plan, "st-b");
    c = find_action(&plan, "st-c");
    d = find_action(&plan, "st-d");
    CHECK(b && c && d);
    CHECK(b->type == SYNC_ADD && c->type == SYNC_ADD && d->type == SYNC_ADD);
    CHECK(!strcmp(b->bridge, "br0"));

    /* a < b: a dials b, with b's login, endpoint, host key and rundir. */
    CHECK(b->active);
    CHECK(opt_is(b, "remote", "ops@192.0.2.2:2222"));
    CHECK(opt_is(b, "key", "/etc/ovs/ssh-tap/id_ed25519"));
    CHECK(opt_is(b, "host_key", "SHA256:bbb"));
    CHECK(opt_is(b, "remote_socket", "/run/b/ssh-tap/st-a.sock"));
    CHECK(opt_is(b, "known_hosts", NULL));
    CHECK(b->options.n == 4);

    /* c: no login (vswitchd's user), no host key (known_hosts default),
     * default rundir. */
    CHECK(c->active);
    CHECK(opt_is(c, "remote", "192.0.2.3"));
    CHECK(opt_is(c, "host_key", NULL));
    CHECK(opt_is(c, "known_hosts", NULL));
    CHECK(opt_is(c, "remote_socket",
                 "/var/run/openvswitch/ssh-tap/st-a.sock"));

    /* d has no endpoint: d dials us, our port is passive. */
    CHECK(!d->active);
    CHECK(d->options.n == 0);

    for (size_t i = 0; i < plan.n_actions; i++) {
        const struct sync_action *x = &plan.actions[i];
        CHECK(!strcmp(sync_smap_get(&x->port_ids, SYNC_OWNER_KEY), "true"));
        CHECK(!strcmp(sync_smap_get(&x->iface_ids, SYNC_OWNER_KEY), "true"));
        CHECK(!strcmp(sync_smap_get(&x->port_ids, SYNC_PEER_KEY), x->peer));
        CHECK(!strcmp(sync_smap_get(&x->iface_ids, SYNC_PEER_KEY), x->peer));
    }
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_other_side(void)
{
    struct sync_config cfg_b = cfg_a;
    const struct sync_action *a, *c;
    struct sync_plan plan;

    /* Seen from b: a dials b (passive st-a), b dials c. */
    cfg_b.site = "b";
    sync_plan_compute(&cfg_b, four, 3, NULL, 0, &plan);
    a = find_action(&plan, "st-a");
    c = find_action(&plan, "st-c");
    CHECK(a && c && plan.n_actions == 2);
    CHECK(!a->active && a->options.n == 0);
    CHECK(c->active && opt_is(c, "remote_socket",
                              "/var/run/openvswitch/ssh-tap/st-b.sock"));
    /* The site's own bridge column. */
    sync_plan_destroy(&plan);

    cfg_b.site = "c";
    sync_plan_compute(&cfg_b, four, 3, NULL, 0, &plan);
    CHECK(!strcmp(plan.bridge, "br9"));
    CHECK(!strcmp(plan.actions[0].bridge, "br9"));
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_idempotent(void)
{
    struct world w = { .n = 0 };
    struct sync_plan plan;
    char *text;

    sync_plan_compute(&cfg_a, four, 4, NULL, 0, &plan);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);
    world_add(&w, "a1", "br0", "");             /* A VM port. */

    sync_plan_compute(&cfg_a, four, 4, w.ports, w.n, &plan);
    text = sync_plan_format(&plan);
    CHECK_MSG(plan.n_actions == 0 && plan.n_warnings == 0, "%s", text);
    CHECK_MSG(!strcmp(text, "nothing to do: 3 ports on br0 in sync\n"),
              "%s", text);
    free(text);
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_update_in_place(void)
{
    struct sync_site sites[4];
    struct world w = { .n = 0 };
    const struct sync_action *b;
    struct sync_plan plan;

    memcpy(sites, four, sizeof sites);
    sync_plan_compute(&cfg_a, sites, 4, NULL, 0, &plan);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);

    /* New endpoint, host key and login for b: one UPDATE, same uuids. */
    sites[1].endpoint = "198.51.100.7";
    sites[1].host_key = "SHA256:new";
    sites[1].login = "root";
    sync_plan_compute(&cfg_a, sites, 4, w.ports, w.n, &plan);
    CHECK_MSG(plan.n_actions == 1, "%zu actions", plan.n_actions);
    b = &plan.actions[0];
    CHECK(b->type == SYNC_UPDATE && !strcmp(b->port_name, "st-b"));
    CHECK(!strcmp(b->port_uuid, w.ports[0].port_uuid)
          || !strcmp(b->port_uuid, w.ports[1].port_uuid)
          || !strcmp(b->port_uuid, w.ports[2].port_uuid));
    CHECK(b->iface_uuid != NULL);
    CHECK(opt_is(b, "remote", "root@198.51.100.7"));
    CHECK(opt_is(b, "host_key", "SHA256:new"));
    CHECK_MSG(strstr(b->why, "remote: ops@192.0.2.2:2222 -> "
                     "root@198.51.100.7"), "%s", b->why);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);

    /* The host key goes away: host_key option removed. */
    sites[1].host_key = NULL;
    sync_plan_compute(&cfg_a, sites, 4, w.ports, w.n, &plan);
    CHECK(plan.n_actions == 1 && plan.actions[0].type == SYNC_UPDATE);
    CHECK(opt_is(&plan.actions[0], "host_key", NULL));
    CHECK_MSG(strstr(plan.actions[0].why, "-host_key"), "%s",
              plan.actions[0].why);
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_drift_repaired(void)
{
    struct world w = { .n = 0 };
    struct sync_plan plan;

    sync_plan_compute(&cfg_a, four, 2, NULL, 0, &plan);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);

    /* Someone turned protected off, added an option and an external id
     * of their own: we restore ours, keep their id. */
    w.ports[0].protected_ = false;
    sync_smap_set(&w.ports[0].options, "cipher", "aes256-ctr");
    sync_smap_set(&w.ports[0].port_ids, "owner", "ops-team");
    sync_plan_compute(&cfg_a, four, 2, w.ports, w.n, &plan);
    CHECK(plan.n_actions == 1 && plan.actions[0].type == SYNC_UPDATE);
    CHECK(opt_is(&plan.actions[0], "cipher", NULL));
    CHECK(strstr(plan.actions[0].why, "protected: false -> true"));
    CHECK(!strcmp(sync_smap_get(&plan.actions[0].port_ids, "owner"),
                  "ops-team"));
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_remove_and_disable(void)
{
    struct sync_site sites[4];
    struct world w = { .n = 0 };
    struct sync_plan plan;
    const struct sync_action *x;

    memcpy(sites, four, sizeof sites);
    sync_plan_compute(&cfg_a, sites, 4, NULL, 0, &plan);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);

    /* c disabled, d gone. */
    sites[2].enabled = false;
    sync_plan_compute(&cfg_a, sites, 3, w.ports, w.n, &plan);
    CHECK_MSG(plan.n_actions == 2, "%zu actions", plan.n_actions);
    x = find_action(&plan, "st-c");
    CHECK(x && x->type == SYNC_DELETE && strstr(x->why, "disabled"));
    CHECK(!strcmp(x->bridge, "br0"));
    x = find_action(&plan, "st-d");
    CHECK(x && x->type == SYNC_DELETE
          && strstr(x->why, "not in the registry"));
    sync_plan_destroy(&plan);

    /* Our own site disabled or gone: everything of ours goes. */
    sites[0].enabled = false;
    sync_plan_compute(&cfg_a, sites, 4, w.ports, w.n, &plan);
    CHECK(plan.n_actions == 3 && has_warning(&plan, "disabled", NULL));
    sync_plan_destroy(&plan);
    sync_plan_compute(&cfg_a, sites + 1, 3, w.ports, w.n, &plan);
    CHECK(plan.n_actions == 3);
    CHECK(has_warning(&plan, "own site a is not in the registry", NULL));
    for (size_t i = 0; i < plan.n_actions; i++) {
        CHECK(plan.actions[i].type == SYNC_DELETE);
    }
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_foreign_ports(void)
{
    struct world w = { .n = 0 };
    struct sync_plan plan;
    struct sync_port *p;

    /* Not ours, but named like ours: left alone, with a warning. */
    world_add(&w, "st-b", "br0", "ssh-tap");
    /* Not ours, not named like ours. */
    world_add(&w, "st-zz", "br0", "ssh-tap");
    /* Ours on paper only in the Interface: still not ours (the Port is
     * what marks it). */
    p = world_add(&w, "st-yy", "br0", "ssh-tap");
    sync_smap_set(&p->iface_ids, SYNC_OWNER_KEY, "true");
    /* Ours, for a site that no longer exists: deleted. */
    p = world_add(&w, "st-old", "br0", "ssh-tap");
    sync_smap_set(&p->port_ids, SYNC_OWNER_KEY, "true");
    sync_smap_set(&p->port_ids, SYNC_PEER_KEY, "old");

    sync_plan_compute(&cfg_a, four, 2, w.ports, w.n, &plan);
    CHECK(has_warning(&plan, "st-b", "not managed"));
    CHECK_MSG(plan.n_actions == 1, "%zu actions", plan.n_actions);
    CHECK(plan.actions[0].type == SYNC_DELETE);
    CHECK(!strcmp(plan.actions[0].port_name, "st-old"));
    CHECK(!strcmp(plan.actions[0].port_uuid, w.ports[3].port_uuid));
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_no_endpoints(void)
{
    struct sync_site sites[2] = {
        { "nat-x", NULL, "", NULL, "", "", true },
        { "nat-y", "", "", NULL, "", "", true },
    };
    struct sync_config cfg = cfg_a;
    struct sync_plan plan;

    cfg.site = "nat-x";
    sync_plan_compute(&cfg, sites, 2, NULL, 0, &plan);
    CHECK(plan.n_actions == 0);
    CHECK(has_warning(&plan, "nat-x", "nat-y"));
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_known_hosts(void)
{
    struct sync_config cfg = cfg_a;
    struct sync_plan plan;

    cfg.known_hosts = "/etc/ovs/ssh-tap/mesh_known_hosts";
    sync_plan_compute(&cfg, four, 3, NULL, 0, &plan);
    /* b has a host key: pinned; c has none: the known_hosts file. */
    CHECK(opt_is(find_action(&plan, "st-b"), "known_hosts", NULL));
    CHECK(opt_is(find_action(&plan, "st-c"), "known_hosts",
                 "/etc/ovs/ssh-tap/mesh_known_hosts"));
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_bridge_move(void)
{
    struct sync_site sites[2];
    struct world w = { .n = 0 };
    struct sync_plan plan;

    memcpy(sites, four, sizeof sites);
    sync_plan_compute(&cfg_a, sites, 2, NULL, 0, &plan);
    world_apply(&w, &plan);
    sync_plan_destroy(&plan);

    sites[0].bridge = "br1";
    sync_plan_compute(&cfg_a, sites, 2, w.ports, w.n, &plan);
    CHECK(plan.n_actions == 2);
    CHECK(plan.actions[0].type == SYNC_DELETE);
    CHECK(!strcmp(plan.actions[0].bridge, "br0"));
    CHECK(plan.actions[1].type == SYNC_ADD);
    CHECK(!strcmp(plan.actions[1].bridge, "br1"));
    sync_plan_destroy(&plan);
    world_destroy(&w);
    return NULL;
}

static const char *
test_bad_and_colliding_names(void)
{
    struct sync_site sites[4] = {
        { "a", "192.0.2.1", "", NULL, "", "", true },
        { "bad/name", "192.0.2.2", "", NULL, "", "", true },
        /* Both are cut to "st-longn-" + a hash: still two ports. */
        { "longname-one-x", "192.0.2.3", "", NULL, "", "", true },
        { "longname-two-x", "192.0.2.4", "", NULL, "", "", true },
    };
    struct sync_plan plan;

    sync_plan_compute(&cfg_a, sites, 4, NULL, 0, &plan);
    CHECK(has_warning(&plan, "bad/name", "not valid"));
    CHECK_MSG(plan.n_actions == 2, "%zu actions", plan.n_actions);
    CHECK(strlen(plan.actions[0].port_name) == 15);
    CHECK(strcmp(plan.actions[0].port_name, plan.actions[1].port_name));
    CHECK(!strcmp(plan.actions[0].peer, "longname-one-x"));
    sync_plan_destroy(&plan);

    /* A short name equal to a long name's truncated form collides. */
    char longport[16];
    sync_port_name("longname-one-x", longport);
    struct sync_site coll[3] = {
        { "a", "192.0.2.1", "", NULL, "", "", true },
        { "longname-one-x", "192.0.2.3", "", NULL, "", "", true },
        { longport + 3, "192.0.2.5", "", NULL, "", "", true },
    };
    sync_plan_compute(&cfg_a, coll, 3, NULL, 0, &plan);
    CHECK_MSG(plan.n_actions == 1, "%zu actions", plan.n_actions);
    CHECK(has_warning(&plan, "same port name", longport));
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_format(void)
{
    struct sync_plan plan;
    char *text;

    sync_plan_compute(&cfg_a, four, 2, NULL, 0, &plan);
    text = sync_plan_format(&plan);
    CHECK_MSG(!strcmp(text, "add st-b to br0 (site b, active): "
                      "host_key=SHA256:bbb key=/etc/ovs/ssh-tap/id_ed25519 "
                      "remote=ops@192.0.2.2:2222 "
                      "remote_socket=/run/b/ssh-tap/st-a.sock\n"), "%s", text);
    free(text);
    sync_plan_destroy(&plan);
    return NULL;
}

static const char *
test_smap(void)
{
    struct sync_smap m, n;
    char *s;

    sync_smap_init(&m);
    sync_smap_set(&m, "b", "2");
    sync_smap_set(&m, "a", "1");
    sync_smap_set(&m, "c", "3");
    sync_smap_set(&m, "b", "two");
    CHECK(m.n == 3);
    CHECK(!strcmp(sync_smap_get(&m, "b"), "two"));
    CHECK(!sync_smap_get(&m, "d"));
    s = sync_smap_format(&m);
    CHECK_MSG(!strcmp(s, "a=1 b=two c=3"), "%s", s);
    free(s);
    sync_smap_clone(&n, &m);
    CHECK(sync_smap_equal(&m, &n));
    sync_smap_set(&n, "c", "4");
    CHECK(!sync_smap_equal(&m, &n));
    sync_smap_destroy(&m);
    sync_smap_destroy(&n);
    return NULL;
}

int
main(void)
{
    run("port-name", test_port_name);
    run("site-names", test_site_names);
    run("dialer", test_dialer);
    run("alone", test_alone);
    run("full-mesh-from-a", test_full_mesh_from_a);
    run("other-side", test_other_side);
    run("idempotent", test_idempotent);
    run("update-in-place", test_update_in_place);
    run("drift-repaired", test_drift_repaired);
    run("remove-and-disable", test_remove_and_disable);
    run("foreign-ports", test_foreign_ports);
    run("no-endpoints", test_no_endpoints);
    run("known-hosts", test_known_hosts);
    run("bridge-move", test_bridge_move);
    run("bad-and-colliding-names", test_bad_and_colliding_names);
    run("format", test_format);
    run("smap", test_smap);
    return n_failed ? 1 : 0;
}
