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

/* Reconciliation for ovs-ssh-tap-sync: compute the wanted set of ports,
 * diff it against what exists, and touch only the difference.  Pure: no
 * I/O, no globals; see sync-plan.h and docs/sync.md. */

#include <config.h>

#include "sync-plan.h"
#include "sync-util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string. */
struct sbuf {
    char *s;
    size_t len, allocated;
};

static void __attribute__((format(printf, 2, 3)))
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list args;
    int n;

    for (;;) {
        size_t room = b->allocated - b->len;

        va_start(args, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, args);
        va_end(args);
        if (n < 0) {
            abort();
        }
        if ((size_t) n < room) {
            b->len += n;
            return;
        }
        b->allocated = 2 * (b->len + n + 1);
        b->s = xrealloc_(b->s, b->allocated);
    }
}

static char *
sbuf_steal(struct sbuf *b)
{
    if (!b->s) {
        return xstrdup_("");
    }
    return b->s;
}

/* ------------------------------------------------------------------------
 * sync_smap. */

void
sync_smap_init(struct sync_smap *m)
{
    m->kv = NULL;
    m->n = m->allocated = 0;
}

void
sync_smap_destroy(struct sync_smap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    sync_smap_init(m);
}

void
sync_smap_clone(struct sync_smap *dst, const struct sync_smap *src)
{
    sync_smap_init(dst);
    for (size_t i = 0; i < src->n; i++) {
        sync_smap_set(dst, src->kv[i].key, src->kv[i].value);
    }
}

/* Returns the index of 'key' in 'm', or the index where it would go,
 * negated minus one. */
static long
smap_find(const struct sync_smap *m, const char *key)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(key, m->kv[mid].key);

        if (!cmp) {
            return mid;
        } else if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return -(long) lo - 1;
}

/* Sets 'key' to 'value' in 'm', replacing any previous value. */
void
sync_smap_set(struct sync_smap *m, const char *key, const char *value)
{
    long idx = smap_find(m, key);

    if (idx >= 0) {
        free(m->kv[idx].value);
        m->kv[idx].value = xstrdup_(value);
        return;
    }
    idx = -idx - 1;
    if (m->n >= m->allocated) {
        m->allocated = m->allocated ? 2 * m->allocated : 4;
        m->kv = xrealloc_(m->kv, m->allocated * sizeof *m->kv);
    }
    memmove(&m->kv[idx + 1], &m->kv[idx], (m->n - idx) * sizeof *m->kv);
    m->kv[idx].key = xstrdup_(key);
    m->kv[idx].value = xstrdup_(value);
    m->n++;
}

const char *
sync_smap_get(const struct sync_smap *m, const char *key)
{
    long idx = smap_find(m, key);
    return idx >= 0 ? m->kv[idx].value : NULL;
}

bool
sync_smap_equal(const struct sync_smap *a, const struct sync_smap *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->kv[i].key, b->kv[i].key)
            || strcmp(a->kv[i].value, b->kv[i].value)) {
            return false;
        }
    }
    return true;
}

/* Returns "key=value key=value" (caller frees). */
char *
sync_smap_format(const struct sync_smap *m)
{
    struct sbuf b = { NULL, 0, 0 };

    for (size_t i = 0; i < m->n; i++) {
        sbuf_printf(&b, "%s%s=%s", i ? " " : "", m->kv[i].key,
                    m->kv[i].value);
    }
    return sbuf_steal(&b);
}

/* ------------------------------------------------------------------------
 * Names and the dialing rule. */

/* 32-bit FNV-1a: a stable hash, the same on every site and every run. */
static uint32_t
fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 16777619u;
    }
    return h;
}

/* Stores in 'name' the port name for the link to 'site': "st-SITE" if that
 * fits in 15 bytes, otherwise "st-" + the first 5 bytes of SITE + "-" + 6
 * hex digits of a hash of the whole name, e.g. "st-paris-3f2a9c". */
void
sync_port_name(const char *site, char name[SYNC_PORT_NAME_MAX + 1])
{
    if (strlen(site) + 3 <= SYNC_PORT_NAME_MAX) {
        snprintf(name, SYNC_PORT_NAME_MAX + 1, "st-%s", site);
    } else {
        snprintf(name, SYNC_PORT_NAME_MAX + 1, "st-%.5s-%06x", site,
                 (unsigned int) (fnv1a(site) & 0xffffff));
    }
}

/* Site names end up in port names, socket paths and log lines: letters,
 * digits, '.', '_' and '-', not starting with '-' or '.', at most 64. */
bool
sync_site_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (!len || len > SYNC_SITE_NAME_MAX || name[0] == '-'
        || name[0] == '.') {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
              || *p == '-')) {
            return false;
        }
    }
    return true;
}

static bool
has_endpoint(const struct sync_site *s)
{
    return s->endpoint && s->endpoint[0];
}

/* Returns the name of the site of the pair that dials the other: a site
 * without an endpoint always dials; if both have one, the name that sorts
 * lower (strcmp) dials.  Returns NULL if neither has an endpoint. */
const char *
sync_dialer(const struct sync_site *a, const struct sync_site *b)
{
    bool ea = has_endpoint(a), eb = has_endpoint(b);

    if (!ea && !eb) {
        return NULL;
    } else if (!ea) {
        return a->name;
    } else if (!eb) {
        return b->name;
    }
    return strcmp(a->name, b->name) < 0 ? a->name : b->name;
}

/* ------------------------------------------------------------------------
 * The plan. */

struct wanted {
    char name[SYNC_PORT_NAME_MAX + 1];
    const struct sync_site *peer;
    bool active;
    struct sync_smap options;
    bool seen;                  /* An existing port of ours matched it. */
    bool blocked;               /* A foreign port has its name. */
};

static void __attribute__((format(printf, 2, 3)))
add_warning(struct sync_plan *plan, const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    plan->warnings = xrealloc_(plan->warnings,
                               (plan->n_warnings + 1) * sizeof *plan->warnings);
    plan->warnings[plan->n_warnings++] = s;
}

static struct sync_action *
add_action(struct sync_plan *plan, enum sync_action_type type,
           const char *port_name, const char *peer, const char *bridge)
{
    struct sync_action *a;

    plan->actions = xrealloc_(plan->actions,
                              (plan->n_actions + 1) * sizeof *plan->actions);
    a = &plan->actions[plan->n_actions++];
    memset(a, 0, sizeof *a);
    a->type = type;
    a->port_name = xstrdup_(port_name);
    a->peer = xstrdup_(peer ? peer : "");
    a->bridge = xstrdup_(bridge ? bridge : "");
    sync_smap_init(&a->options);
    sync_smap_init(&a->port_ids);
    sync_smap_init(&a->iface_ids);
    return a;
}

static const struct sync_site *
find_site(const struct sync_site *sites, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(sites[i].name, name)) {
            return &sites[i];
        }
    }
    return NULL;
}

static bool
port_is_ours(const struct sync_port *p)
{
    const char *v = sync_smap_get(&p->port_ids, SYNC_OWNER_KEY);
    return v && !strcmp(v, "true");
}

static const char *
rundir_of(const struct sync_site *s)
{
    return s->rundir[0] ? s->rundir : SYNC_DEFAULT_RUNDIR;
}

/* The options of our port towards 'far', where 'own' dials 'far'. */
static void
active_options(const struct sync_config *cfg, const struct sync_site *own,
               const struct sync_site *far, struct sync_smap *options)
{
    char own_port[SYNC_PORT_NAME_MAX + 1];
    char *s;

    sync_port_name(own->name, own_port);
    s = (far->login[0]
         ? xasprintf_("%s@%s", far->login, far->endpoint)
         : xstrdup_(far->endpoint));
    sync_smap_set(options, "remote", s);
    free(s);
    if (cfg->key && cfg->key[0]) {
        sync_smap_set(options, "key", cfg->key);
    }
    if (far->host_key && far->host_key[0]) {
        sync_smap_set(options, "host_key", far->host_key);
    } else if (cfg->known_hosts && cfg->known_hosts[0]) {
        sync_smap_set(options, "known_hosts", cfg->known_hosts);
    }
    s = xasprintf_("%s/ssh-tap/%s.sock", rundir_of(far), own_port);
    sync_smap_set(options, "remote_socket", s);
    free(s);
}

/* Our external ids merged into 'existing' (NULL for none). */
static void
owned_ids(const struct sync_smap *existing, const char *peer,
          struct sync_smap *ids)
{
    if (existing) {
        sync_smap_clone(ids, existing);
    } else {
        sync_smap_init(ids);
    }
    sync_smap_set(ids, SYNC_OWNER_KEY, "true");
    sync_smap_set(ids, SYNC_PEER_KEY, peer);
}

/* Appends to 'b' what differs between 'old' and 'new' options, e.g.
 * "options: remote: a@x -> a@y, +host_key=SHA256:..., -known_hosts". */
static void
diff_options(struct sbuf *b, const struct sync_smap *old,
             const struct sync_smap *new)
{
    const char *sep = ": ";
    size_t i = 0, j = 0;

    sbuf_printf(b, "options");
    while (i < old->n || j < new->n) {
        int cmp = (i >= old->n ? 1
                   : j >= new->n ? -1
                   : strcmp(old->kv[i].key, new->kv[j].key));

        if (cmp < 0) {
            sbuf_printf(b, "%s-%s", sep, old->kv[i].key);
            i++;
        } else if (cmp > 0) {
            sbuf_printf(b, "%s+%s=%s", sep, new->kv[j].key, new->kv[j].value);
            j++;
        } else {
            bool same = !strcmp(old->kv[i].value, new->kv[j].value);

            if (!same) {
                sbuf_printf(b, "%s%s: %s -> %s", sep, old->kv[i].key,
                            old->kv[i].value, new->kv[j].value);
            }
            i++;
            j++;
            if (same) {
                continue;
            }
        }
        sep = ", ";
    }
}

/* Compares existing port 'p' of ours with wanted 'w'; if they differ, adds
 * an UPDATE action. */
static void
compare_port(struct sync_plan *plan, const struct sync_port *p,
             const struct wanted *w)
{
    struct sync_smap port_ids, iface_ids;
    struct sbuf why = { NULL, 0, 0 };
    const char *sep = "";
    struct sync_action *a;

    owned_ids(&p->port_ids, w->peer->name, &port_ids);
    owned_ids(&p->iface_ids, w->peer->name, &iface_ids);

    if (!p->iface_uuid) {
        sbuf_printf(&why, "%sno interface", sep);
        sep = "; ";
    } else {
        if (strcmp(p->type, "ssh-tap")) {
            sbuf_printf(&why, "%stype: %s -> ssh-tap", sep,
                        p->type[0] ? p->type : "(system)");
            sep = "; ";
        }
        if (!sync_smap_equal(&p->options, &w->options)) {
            sbuf_printf(&why, "%s", sep);
            diff_options(&why, &p->options, &w->options);
            sep = "; ";
        }
        if (!sync_smap_equal(&p->iface_ids, &iface_ids)) {
            sbuf_printf(&why, "%sinterface external_ids", sep);
            sep = "; ";
        }
    }
    if (!p->protected_) {
        sbuf_printf(&why, "%sprotected: false -> true", sep);
        sep = "; ";
    }
    if (!sync_smap_equal(&p->port_ids, &port_ids)) {
        sbuf_printf(&why, "%sport external_ids", sep);
        sep = "; ";
    }

    if (!why.len) {
        sync_smap_destroy(&port_ids);
        sync_smap_destroy(&iface_ids);
        free(why.s);
        return;
    }

    a = add_action(plan, SYNC_UPDATE, p->name, w->peer->name, p->bridge);
    a->port_uuid = p->port_uuid;
    a->iface_uuid = p->iface_uuid;
    a->active = w->active;
    sync_smap_clone(&a->options, &w->options);
    a->port_ids = port_ids;
    a->iface_ids = iface_ids;
    a->why = sbuf_steal(&why);
}

static int
compare_actions(const void *a_, const void *b_)
{
    const struct sync_action *a = a_, *b = b_;

    if (a->type != b->type) {
        return a->type < b->type ? -1 : 1;
    }
    return strcmp(a->port_name, b->port_name);
}

static int
compare_site_ptrs(const void *a_, const void *b_)
{
    const struct sync_site *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* The reason a port of ours towards 'peer' is no longer wanted. */
static char *
delete_reason(const struct sync_config *cfg, const struct sync_site *own,
              const struct sync_site *sites, size_t n_sites,
              const char *peer)
{
    const struct sync_site *far;

    if (!own) {
        return xasprintf_("own site %s is not in the registry", cfg->site);
    } else if (!own->enabled) {
        return xasprintf_("own site %s is disabled", cfg->site);
    }
    far = peer[0] ? find_site(sites, n_sites, peer) : NULL;
    if (!peer[0]) {
        return xstrdup_("port records no peer site");
    } else if (!far) {
        return xasprintf_("site %s is not in the registry", peer);
    } else if (!far->enabled) {
        return xasprintf_("site %s is disabled", peer);
    } else if (!sync_dialer(own, far)) {
        return xasprintf_("sites %s and %s cannot link", own->name, peer);
    }
    return xasprintf_("no longer wanted for site %s", peer);
}

/* Computes into 'plan' the actions that make 'ports' hold exactly one
 * ssh-tap port of ours per other enabled site in 'sites', on our site's
 * bridge.  Touches only ports whose Port:external_ids:ssh-tap-sync is
 * "true".  The plan refers to strings in 'ports' (the uuids), so it must
 * not outlive them.  Free it with sync_plan_destroy(). */
void
sync_plan_compute(const struct sync_config *cfg,
                  const struct sync_site *sites, size_t n_sites,
                  const struct sync_port *ports, size_t n_ports,
                  struct sync_plan *plan)
{
    const struct sync_site *own = find_site(sites, n_sites, cfg->site);
    const struct sync_site **sorted;
    struct wanted *wanted;
    size_t n_wanted = 0;

    memset(plan, 0, sizeof *plan);
    plan->bridge = xstrdup_(own && own->bridge[0] ? own->bridge
                            : SYNC_DEFAULT_BRIDGE);

    if (!own) {
        add_warning(plan, "own site %s is not in the registry: "
                    "the sync keeps no ports", cfg->site);
    } else if (!own->enabled) {
        add_warning(plan, "own site %s is disabled: "
                    "the sync keeps no ports", cfg->site);
    }

    /* The wanted set, in site name order so that warnings and collisions
     * come out the same on every run. */
    sorted = xrealloc_(NULL, (n_sites ? n_sites : 1) * sizeof *sorted);
    for (size_t i = 0; i < n_sites; i++) {
        sorted[i] = &sites[i];
    }
    qsort(sorted, n_sites, sizeof *sorted, compare_site_ptrs);
    wanted = xrealloc_(NULL, (n_sites ? n_sites : 1) * sizeof *wanted);
    for (size_t i = 0; own && own->enabled && i < n_sites; i++) {
        const struct sync_site *far = sorted[i];
        const char *dialer;
        struct wanted *w;
        bool dup = false;

        if (far == own || !far->enabled) {
            continue;
        }
        if (!sync_site_name_valid(far->name)) {
            add_warning(plan, "site name \"%s\" is not valid (letters, "
                        "digits, '.', '_', '-'; at most %d): ignored",
                        far->name, SYNC_SITE_NAME_MAX);
            continue;
        }
        dialer = sync_dialer(own, far);
        if (!dialer) {
            add_warning(plan, "sites %s and %s both have no endpoint, so "
                        "neither can dial the other: no link between them",
                        own->name, far->name);
            continue;
        }

        w = &wanted[n_wanted];
        memset(w, 0, sizeof *w);
        sync_port_name(far->name, w->name);
        for (size_t j = 0; j < n_wanted; j++) {
            if (!strcmp(wanted[j].name, w->name)) {
                add_warning(plan, "sites %s and %s map to the same port "
                            "name %s: no link to %s", wanted[j].peer->name,
                            far->name, w->name, far->name);
                dup = true;
                break;
            }
        }
        if (dup) {
            continue;
        }
        w->peer = far;
        w->active = !strcmp(dialer, own->name);
        sync_smap_init(&w->options);
        if (w->active) {
            active_options(cfg, own, far, &w->options);
        }
        n_wanted++;
    }
    plan->n_wanted = n_wanted;

    /* Diff against what exists. */
    for (size_t i = 0; i < n_ports; i++) {
        const struct sync_port *p = &ports[i];
        struct wanted *w = NULL;

        for (size_t j = 0; j < n_wanted; j++) {
            if (!strcmp(wanted[j].name, p->name)) {
                w = &wanted[j];
                break;
            }
        }
        if (!port_is_ours(p)) {
            if (w) {
                add_warning(plan, "port %s exists but is not managed by "
                            "ovs-ssh-tap-sync (no external_ids:%s=true): "
                            "leaving it alone, no link to site %s",
                            p->name, SYNC_OWNER_KEY, w->peer->name);
                w->blocked = true;
            }
            continue;
        }

        if (w && !w->seen && !strcmp(p->bridge, plan->bridge)) {
            w->seen = true;
            compare_port(plan, p, w);
        } else {
            const char *peer = sync_smap_get(&p->port_ids, SYNC_PEER_KEY);
            struct sync_action *a;

            a = add_action(plan, SYNC_DELETE, p->name, peer, p->bridge);
            a->port_uuid = p->port_uuid;
            a->iface_uuid = p->iface_uuid;
            a->why = (w ? xasprintf_("moving from bridge %s to %s",
                                     p->bridge, plan->bridge)
                      : delete_reason(cfg, own, sites, n_sites,
                                      peer ? peer : ""));
        }
    }

    for (size_t j = 0; j < n_wanted; j++) {
        struct wanted *w = &wanted[j];

        if (w->blocked) {
            plan->n_wanted--;
        } else if (!w->seen) {
            struct sync_action *a;

            a = add_action(plan, SYNC_ADD, w->name, w->peer->name,
                           plan->bridge);
            a->active = w->active;
            sync_smap_clone(&a->options, &w->options);
            owned_ids(NULL, w->peer->name, &a->port_ids);
            owned_ids(NULL, w->peer->name, &a->iface_ids);
        }
        sync_smap_destroy(&w->options);
    }
    free(wanted);
    free(sorted);

    if (plan->n_actions) {
        qsort(plan->actions, plan->n_actions, sizeof *plan->actions,
              compare_actions);
    }
}

void
sync_plan_destroy(struct sync_plan *plan)
{
    for (size_t i = 0; i < plan->n_actions; i++) {
        struct sync_action *a = &plan->actions[i];

        free(a->port_name);
        free(a->peer);
        free(a->bridge);
        free(a->why);
        sync_smap_destroy(&a->options);
        sync_smap_destroy(&a->port_ids);
        sync_smap_destroy(&a->iface_ids);
    }
    free(plan->actions);
    for (size_t i = 0; i < plan->n_warnings; i++) {
        free(plan->warnings[i]);
    }
    free(plan->warnings);
    free(plan->bridge);
    memset(plan, 0, sizeof *plan);
}

/* Returns the plan as text, one line per warning and per action, or
 * "nothing to do" (caller frees). */
char *
sync_plan_format(const struct sync_plan *plan)
{
    struct sbuf b = { NULL, 0, 0 };

    for (size_t i = 0; i < plan->n_warnings; i++) {
        sbuf_printf(&b, "warning: %s\n", plan->warnings[i]);
    }
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct sync_action *a = &plan->actions[i];
        char *opts;

        switch (a->type) {
        case SYNC_ADD:
            opts = sync_smap_format(&a->options);
            sbuf_printf(&b, "add %s to %s (site %s, %s)%s%s\n", a->port_name,
                        a->bridge, a->peer, a->active ? "active" : "passive",
                        opts[0] ? ": " : "", opts);
            free(opts);
            break;
        case SYNC_UPDATE:
            sbuf_printf(&b, "update %s (site %s, %s): %s\n", a->port_name,
                        a->peer, a->active ? "active" : "passive", a->why);
            break;
        case SYNC_DELETE:
            sbuf_printf(&b, "delete %s from %s: %s\n", a->port_name,
                        a->bridge, a->why);
            break;
        }
    }
    if (!plan->n_actions) {
        sbuf_printf(&b, "nothing to do: %zu port%s on %s in sync\n",
                    plan->n_wanted, plan->n_wanted == 1 ? "" : "s",
                    plan->bridge);
    }
    return sbuf_steal(&b);
}
