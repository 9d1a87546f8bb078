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

/* ovs-ssh-tap-sync: keeps a full mesh of ssh-tap ports on the local bridge
 * in sync with the sites of an OVSDB registry (ovsdb-schemas/
 * ssh_tap.ovsschema), as ovn-controller keeps tunnel ports in sync with
 * the Chassis table.
 *
 * It holds two OVSDB sessions (ovsdb-rpc.h: unix:, ssh:, ssl: or tcp:,
 * with reconnection, backoff and the _Server check): the registry,
 * monitored for the Site table, and the local Open_vSwitch database,
 * monitored for the bridge's ports and written with "transact".  Each time
 * either changes it computes a plan (sync-plan.c, pure) and applies it in
 * one transaction.  The monitors are monitor_cond_since, so that after a
 * reconnection a server with history sends only what changed; either way
 * only the ports that differ are touched.
 *
 * The daemon itself is libopenvswitch's: vlog for the log, lib/daemon for
 * --detach, --pidfile and --monitor, lib/unixctl for "ovs-appctl sync/show"
 * and poll-loop for the waiting.
 *
 * See ovs-ssh-tap-sync(8) and docs/sync.md. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

#include "ovsdb-rpc.h"
#include "stream-ssl.h"
#include "sync-ovsdb.h"
#include "sync-plan.h"

VLOG_DEFINE_THIS_MODULE(ssh_tap_sync);

#ifndef SSH_TAP_VERSION
#define SSH_TAP_VERSION "0.1.0"
#endif

#define PROGRAM_NAME "ovs-ssh-tap-sync"

#define TXN_RETRY_MS 1000       /* After a failed transaction. */

/* ------------------------------------------------------------------------
 * Configuration. */

static const char *opt_site;
static char *opt_key;
static const char *opt_known_hosts;
static bool opt_once;
static bool opt_dry_run;
static int opt_timeout_s = 60;
static char *opt_registry;
static char *opt_db;
static char *opt_unixctl;

/* ------------------------------------------------------------------------
 * One OVSDB session (ovsdb-rpc.h) with a monitor and an in-memory replica
 * of what it monitors. */

struct db {
    const char *what;           /* "registry" or "local database". */
    const char *db_name;        /* "SSH_Tap" or "Open_vSwitch". */
    json_t *monitor_requests;   /* {TABLE: {"columns": [...]}}. */
    struct ovsdb_rpc *rpc;
    unsigned int seqno;         /* Of 'rpc' when last monitored. */

    bool monitored;             /* Replica up to date with the server. */
    bool plain_monitor;         /* The server has no monitor_cond_since. */
    json_t *tables;             /* {TABLE: {UUID: ROW}}. */
    char *last_txn_id;          /* For monitor_cond_since, or NULL. */

    /* For sync/show: wall-clock times in ms (0: never). */
    long long since;            /* The monitor's initial contents. */
    long long last_update;      /* The latest contents or update. */
};

static struct db registry, local;

/* Reconciliation state. */
static bool need_reconcile;
static bool txn_pending;
static unsigned int txn_seq;
static long long retry_at;
static char *last_plan_text;
static unsigned int txn_failures;
static char *last_txn_error;    /* NULL if the latest transaction worked. */
static long long last_txn_time; /* Wall clock, ms; 0 before the first. */
static char *missing_bridge;    /* The bridge we wait for, if any. */
static bool exiting;

static void
db_init(struct db *db, const char *what, const char *db_name,
        const char *remotes, json_t *monitor_requests)
{
    struct ovsdb_rpc_options opts = {
        /* The _Server check for the registry: a member cut off from its
         * cluster serves stale rows.  Any member that is connected will
         * do for reading. */
        .database = db == &registry ? db_name : NULL,
    };

    memset(db, 0, sizeof *db);
    db->what = what;
    db->db_name = db_name;
    db->monitor_requests = monitor_requests;
    db->rpc = ovsdb_rpc_create(remotes, &opts);
    db->seqno = ovsdb_rpc_get_seqno(db->rpc);
    db->tables = json_object();
}

static void
db_destroy(struct db *db)
{
    ovsdb_rpc_destroy(db->rpc);
    json_decref(db->tables);
    json_decref(db->monitor_requests);
    free(db->last_txn_id);
    memset(db, 0, sizeof *db);
}

static const char *
db_remote(const struct db *db)
{
    const char *member = ovsdb_rpc_member(db->rpc);
    return member ? member : ovsdb_rpc_remotes(db->rpc);
}

static void
db_send(struct db *db, json_t *msg)
{
    if (ovsdb_rpc_send(db->rpc, msg) && db == &local) {
        txn_pending = false;    /* Its reply will not come. */
    }
}

/* Asks for the monitor.  monitor_cond_since with the last transaction id seen lets a server that keeps history send
 * only what changed while we were away; others send everything, which
 * reconcile() diffs against the ports as always. */
static void
db_monitor(struct db *db)
{
    json_t *params;

    if (db->plain_monitor) {
        params = json_pack("[s, s, O]", db->db_name, "main",
                           db->monitor_requests);
        db_send(db, ovsdb_rpc_request("monitor", params, "monitor"));
    } else {
        json_t *cond = json_object();
        const char *table;
        json_t *req;

        json_object_foreach (db->monitor_requests, table, req) {
            json_object_set_new(cond, table, json_pack("[O]", req));
        }
        params = json_pack("[s, s, o, s]", db->db_name, "main", cond,
                           (db->last_txn_id ? db->last_txn_id
                            : "00000000-0000-0000-0000-000000000000"));
        db_send(db, ovsdb_rpc_request("monitor_cond_since", params,
                                      "monitor"));
    }
}

/* Applies RFC 7047 <table-updates> 'updates' to the replica 'tables'.
 * Returns the number of rows changed. */
static size_t
apply_updates(json_t *tables, json_t *updates)
{
    const char *table_name, *uuid;
    json_t *table_update, *row_update;
    size_t n = 0;

    json_object_foreach (updates, table_name, table_update) {
        json_t *table = json_object_get(tables, table_name);

        if (!table) {
            table = json_object();
            json_object_set_new(tables, table_name, table);
        }
        json_object_foreach (table_update, uuid, row_update) {
            json_t *new = json_object_get(row_update, "new");

            if (new) {
                json_object_set(table, uuid, new);
            } else {
                json_object_del(table, uuid);
            }
            n++;
        }
    }
    return n;
}

/* The elements of a set datum: ["set", [...]] or one atom. */
static json_t *
set_elements(const json_t *datum)
{
    const char *tag = json_string_value(json_array_get(datum, 0));

    if (tag && !strcmp(tag, "set")) {
        return json_copy(json_array_get(datum, 1));
    }
    return datum ? json_pack("[O]", datum) : json_array();
}

static size_t
find_equal(const json_t *array, const json_t *x, bool by_key)
{
    size_t i;
    json_t *e;

    json_array_foreach (array, i, e) {
        if (json_equal(by_key ? json_array_get(e, 0) : e, x)) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Applies an update2 "modify" diff of a set or map column (ovsdb-server(7):
 * a set's diff holds the elements to toggle; a map's the pairs to add, to
 * remove if equal, or to change) to 'old', which may be NULL (the
 * default, left out of "insert"). */
static json_t *
datum_apply_diff(const json_t *old, const json_t *diff, bool is_map)
{
    json_t *result, *d;
    size_t i;

    result = (is_map
              ? json_copy(old ? json_array_get(old, 1) : json_array())
              : set_elements(old));
    d = is_map ? json_array_get(diff, 1) : set_elements(diff);
    for (i = 0; i < json_array_size(d); i++) {
        json_t *e = json_array_get(d, i);
        size_t j = find_equal(result, is_map ? json_array_get(e, 0) : e,
                              is_map);

        if (j == SIZE_MAX) {
            json_array_append(result, e);
        } else if (!is_map || json_equal(json_array_get(result, j), e)) {
            json_array_remove(result, j);
        } else {
            json_array_set(result, j, e);
        }
    }
    if (!is_map) {
        json_decref(d);
    }
    return json_pack("[s, o]", is_map ? "map" : "set", result);
}

/* Applies RFC 7047's <table-updates2> (monitor_cond_since's "update3")
 * to 'tables'.  Returns the number of rows changed. */
static size_t
apply_updates2(json_t *tables, json_t *updates)
{
    /* The monitored set columns that may hold more than one element: a
     * one-element diff of those looks like a scalar. */
    static const char *const set_columns[] = { "ports", "interfaces" };
    const char *table_name, *uuid, *column;
    json_t *table_update, *ru, *row, *diff, *cd;
    size_t n = 0;

    json_object_foreach (updates, table_name, table_update) {
        json_t *table = json_object_get(tables, table_name);

        if (!table) {
            table = json_object();
            json_object_set_new(tables, table_name, table);
        }
        json_object_foreach (table_update, uuid, ru) {
            n++;
            if ((row = json_object_get(ru, "initial"))
                || (row = json_object_get(ru, "insert"))) {
                json_object_set_new(table, uuid, json_deep_copy(row));
                continue;
            } else if (!(diff = json_object_get(ru, "modify"))) {
                json_object_del(table, uuid);
                continue;
            }
            row = json_object_get(table, uuid);
            if (!row) {
                continue;
            }
            json_object_foreach (diff, column, cd) {
                const char *tag = json_string_value(json_array_get(cd, 0));
                bool is_map = tag && !strcmp(tag, "map");
                bool is_set = false;

                for (size_t i = 0; i < ARRAY_SIZE(set_columns); i++) {
                    is_set |= !strcmp(column, set_columns[i]);
                }
                json_object_set_new(row, column,
                                    (is_map || is_set
                                     ? datum_apply_diff(
                                         json_object_get(row, column), cd,
                                         is_map)
                                     : json_deep_copy(cd)));
            }
        }
    }
    return n;
}

static void
db_got_contents(struct db *db, const char *how)
{
    db->monitored = true;
    db->since = db->last_update = time_wall_msec();
    need_reconcile = true;
    VLOG_INFO("%s %s: connected, monitoring %s (%s)", db->what,
              db_remote(db), db->db_name, how);
}

static void
db_set_txn_id(struct db *db, const json_t *id)
{
    if (json_is_string(id)) {
        free(db->last_txn_id);
        db->last_txn_id = xstrdup(json_string_value(id));
    }
}

static void handle_txn_reply(json_t *msg);

/* The reply to the monitor request. */
static void
db_handle_monitor(struct db *db, json_t *result, json_t *error)
{
    if (error && !json_is_null(error)) {
        char *e = ovsdb_rpc_error_text(error);

        if (!db->plain_monitor && strstr(e, "unknown method")) {
            VLOG_INFO("%s %s: no monitor_cond_since, using monitor",
                      db->what, db_remote(db));
            db->plain_monitor = true;
            db_monitor(db);
        } else {
            VLOG_ERR("%s %s: monitor of %s failed: %s", db->what,
                     db_remote(db), db->db_name, e);
            ovsdb_rpc_force_reconnect(db->rpc);
        }
        free(e);
        return;
    }

    if (db->plain_monitor) {
        json_decref(db->tables);
        db->tables = json_object();
        apply_updates(db->tables, result);
        db_got_contents(db, "full contents");
    } else {
        bool found = json_is_true(json_array_get(result, 0));
        size_t n;

        if (!found) {
            json_decref(db->tables);
            db->tables = json_object();
        }
        n = apply_updates2(db->tables, json_array_get(result, 2));
        db_set_txn_id(db, json_array_get(result, 1));
        if (found) {
            char *how = xasprintf("%"PRIuSIZE" row(s) changed while away", n);
            db_got_contents(db, how);
            free(how);
        } else {
            db_got_contents(db, "full contents");
        }
    }
}

static void
db_handle(struct db *db, json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    json_t *params = json_object_get(msg, "params");
    json_t *result = json_object_get(msg, "result");
    json_t *updates = NULL;
    bool update3 = ovsdb_rpc_is_method(msg, "update3");

    if (update3 || ovsdb_rpc_is_method(msg, "update")) {
        const char *mon = json_string_value(json_array_get(params, 0));

        if (mon && !strcmp(mon, "main") && db->monitored) {
            size_t n;

            if (update3) {
                updates = json_array_get(params, 2);
                n = apply_updates2(db->tables, updates);
                db_set_txn_id(db, json_array_get(params, 1));
            } else {
                n = apply_updates(db->tables, json_array_get(params, 1));
            }
            VLOG_DBG("%s %s: update of %"PRIuSIZE" row(s)", db->what,
                     db_remote(db), n);
            db->last_update = time_wall_msec();
            need_reconcile = true;
        }
    } else if (!id) {
        /* A notification we do not know, or a reply we did not ask for. */
    } else if (!strcmp(id, "monitor")) {
        db_handle_monitor(db, result, json_object_get(msg, "error"));
    } else if (!strncmp(id, "txn-", 4) && db == &local) {
        handle_txn_reply(msg);
    }
}

/* Runs the session of 'db': on each new connection, monitors again (the
 * replica is kept meanwhile, but nothing is reconciled from it). */
static void
db_run(struct db *db)
{
    json_t *msg;

    ovsdb_rpc_run(db->rpc);
    if (ovsdb_rpc_get_seqno(db->rpc) != db->seqno) {
        db->seqno = ovsdb_rpc_get_seqno(db->rpc);
        db->monitored = false;
        if (db == &local) {
            txn_pending = false;    /* A reply that never comes. */
        }
        if (ovsdb_rpc_is_ready(db->rpc)) {
            db_monitor(db);
        }
    }
    while ((msg = ovsdb_rpc_recv(db->rpc))) {
        db_handle(db, msg);
        json_decref(msg);
    }
}

static void
db_wait(struct db *db)
{
    ovsdb_rpc_wait(db->rpc);
}

/* ------------------------------------------------------------------------
 * From the replicas to the plan's input. */

static const char *
col_string(const json_t *row, const char *col)
{
    const char *s = ovsdb_datum_string(json_object_get(row, col));
    return s ? s : "";
}

/* Our site name: --site, else Open_vSwitch:external_ids:ssh-tap-site. */
static const char *
own_site_name(struct sync_smap *scratch)
{
    const char *uuid;
    json_t *row;

    if (opt_site) {
        return opt_site;
    }
    json_object_foreach (json_object_get(local.tables, "Open_vSwitch"),
                         uuid, row) {
        ovsdb_datum_map(json_object_get(row, "external_ids"), scratch);
        return sync_smap_get(scratch, "ssh-tap-site");
    }
    return NULL;
}

struct inputs {
    struct sync_site *sites;
    size_t n_sites;
    struct sync_port *ports;
    size_t n_ports;
};

static void
inputs_gather(struct inputs *in)
{
    json_t *sites = json_object_get(registry.tables, "Site");
    json_t *bridges = json_object_get(local.tables, "Bridge");
    json_t *ports = json_object_get(local.tables, "Port");
    json_t *ifaces = json_object_get(local.tables, "Interface");
    const char *uuid;
    json_t *row;
    size_t n;

    memset(in, 0, sizeof *in);
    in->sites = xcalloc(json_object_size(sites) + 1, sizeof *in->sites);
    json_object_foreach (sites, uuid, row) {
        struct sync_site *s = &in->sites[in->n_sites++];

        s->name = col_string(row, "name");
        s->endpoint = ovsdb_datum_string(json_object_get(row, "endpoint"));
        s->login = col_string(row, "login");
        s->host_key = ovsdb_datum_string(json_object_get(row, "host_key"));
        s->bridge = col_string(row, "bridge");
        s->rundir = col_string(row, "rundir");
        s->enabled = ovsdb_datum_bool(json_object_get(row, "enabled"));
    }

    n = json_object_size(ports) + 1;
    in->ports = xcalloc(n, sizeof *in->ports);
    json_object_foreach (bridges, uuid, row) {
        const char *bridge = col_string(row, "name");
        json_t *bports = json_object_get(row, "ports");
        size_t np = ovsdb_datum_n_uuids(bports);
        const char **puuids = xcalloc(np + 1, sizeof *puuids);

        np = ovsdb_datum_uuids(bports, puuids, np);
        for (size_t i = 0; i < np && in->n_ports < n; i++) {
            json_t *prow = json_object_get(ports, puuids[i]);
            const char *iuuid = NULL;
            json_t *irow = NULL;
            struct sync_port *p;

            if (!prow) {
                continue;
            }
            ovsdb_datum_uuids(json_object_get(prow, "interfaces"), &iuuid, 1);
            irow = iuuid ? json_object_get(ifaces, iuuid) : NULL;

            p = &in->ports[in->n_ports++];
            p->port_uuid = puuids[i];
            p->iface_uuid = irow ? iuuid : NULL;
            p->bridge = bridge;
            p->name = col_string(prow, "name");
            p->type = irow ? col_string(irow, "type") : "";
            p->protected_ = ovsdb_datum_bool(json_object_get(prow,
                                                             "protected"));
            sync_smap_init(&p->options);
            sync_smap_init(&p->port_ids);
            sync_smap_init(&p->iface_ids);
            ovsdb_datum_map(json_object_get(prow, "external_ids"),
                            &p->port_ids);
            if (irow) {
                ovsdb_datum_map(json_object_get(irow, "options"),
                                &p->options);
                ovsdb_datum_map(json_object_get(irow, "external_ids"),
                                &p->iface_ids);
            }
        }
        free(puuids);
    }
}

static void
inputs_destroy(struct inputs *in)
{
    for (size_t i = 0; i < in->n_ports; i++) {
        sync_smap_destroy(&in->ports[i].options);
        sync_smap_destroy(&in->ports[i].port_ids);
        sync_smap_destroy(&in->ports[i].iface_ids);
    }
    free(in->ports);
    free(in->sites);
}

static const char *
bridge_uuid(const char *name)
{
    const char *uuid;
    json_t *row;

    json_object_foreach (json_object_get(local.tables, "Bridge"), uuid, row) {
        if (!strcmp(col_string(row, "name"), name)) {
            return uuid;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * From the plan to a transaction. */

static json_t *
mutate_ports(const char *bridge, const char *op, json_t *uuid)
{
    return json_pack("{s:s, s:s, s:o, s:[[s, s, [s, [o]]]]}",
                     "op", "mutate", "table", "Bridge",
                     "where", ovsdb_where_uuid(bridge),
                     "mutations", "ports", op, "set", uuid);
}

/* The operation that inserts the ssh-tap Interface of 'a' as 'iname'. */
static json_t *
insert_iface_op(const struct sync_action *a, const char *iname)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:o, s:o}}",
                     "op", "insert", "table", "Interface", "uuid-name", iname,
                     "row", "name", a->port_name, "type", "ssh-tap",
                     "options", ovsdb_map_from_smap(&a->options),
                     "external_ids", ovsdb_map_from_smap(&a->iface_ids));
}

/* Returns the operations of a transaction carrying out 'plan', or NULL if
 * there is nothing it can do ('*skipped' counts actions left out). */
static json_t *
plan_to_ops(const struct sync_plan *plan, size_t *skipped)
{
    json_t *ops = json_pack("[s]", "Open_vSwitch");
    size_t n = 0;

    *skipped = 0;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct sync_action *a = &plan->actions[i];
        const char *br = bridge_uuid(a->bridge);
        char iname[32], pname[32];

        switch (a->type) {
        case SYNC_DELETE:
            if (!br) {
                (*skipped)++;
                continue;
            }
            json_array_append_new(ops, mutate_ports(br, "delete",
                                                    ovsdb_uuid(a->port_uuid)));
            break;

        case SYNC_UPDATE:
            if (a->iface_uuid) {
                json_array_append_new(ops, json_pack(
                    "{s:s, s:s, s:o, s:{s:s, s:o, s:o}}",
                    "op", "update", "table", "Interface",
                    "where", ovsdb_where_uuid(a->iface_uuid),
                    "row", "type", "ssh-tap",
                    "options", ovsdb_map_from_smap(&a->options),
                    "external_ids", ovsdb_map_from_smap(&a->iface_ids)));
            } else {
                /* A port of ours without an interface: give it one. */
                snprintf(iname, sizeof iname, "iface%zu", i);
                json_array_append_new(ops, insert_iface_op(a, iname));
            }
            json_array_append_new(ops, json_pack(
                "{s:s, s:s, s:o, s:{s:b, s:o}}",
                "op", "update", "table", "Port",
                "where", ovsdb_where_uuid(a->port_uuid),
                "row", "protected", 1,
                "external_ids", ovsdb_map_from_smap(&a->port_ids)));
            if (!a->iface_uuid) {
                json_object_set_new(json_object_get(
                                        json_array_get(ops,
                                                       json_array_size(ops)
                                                       - 1), "row"),
                                    "interfaces",
                                    json_pack("[s, s]", "named-uuid",
                                              iname));
            }
            break;

        case SYNC_ADD:
            if (!br) {
                (*skipped)++;
                continue;
            }
            snprintf(iname, sizeof iname, "iface%zu", i);
            snprintf(pname, sizeof pname, "port%zu", i);
            json_array_append_new(ops, insert_iface_op(a, iname));
            json_array_append_new(ops, json_pack(
                "{s:s, s:s, s:s, s:{s:s, s:[s, s], s:b, s:o}}",
                "op", "insert", "table", "Port", "uuid-name", pname,
                "row", "name", a->port_name,
                "interfaces", "named-uuid", iname,
                "protected", 1,
                "external_ids", ovsdb_map_from_smap(&a->port_ids)));
            json_array_append_new(ops, mutate_ports(
                                      br, "insert",
                                      json_pack("[s, s]", "named-uuid",
                                                pname)));
            break;
        }
        n++;
    }
    if (!n) {
        json_decref(ops);
        return NULL;
    }
    json_array_append_new(ops, json_pack("{s:s, s:s}", "op", "comment",
                                         "comment", PROGRAM_NAME));
    return ops;
}

static void
handle_txn_reply(json_t *msg)
{
    json_t *error = json_object_get(msg, "error");
    json_t *result = json_object_get(msg, "result");
    char *e;

    txn_pending = false;
    need_reconcile = true;
    last_txn_time = time_wall_msec();
    if (error && !json_is_null(error)) {
        e = ovsdb_rpc_error_text(error);
    } else {
        e = ovsdb_txn_error(result, 0);
    }
    free(last_txn_error);
    last_txn_error = e;
    if (e) {
        VLOG_WARN("transaction on the local database failed: %s", e);
        txn_failures++;
        retry_at = time_msec() + TXN_RETRY_MS;
    } else {
        VLOG_INFO("local database updated");
        txn_failures = 0;
    }
}

/* Logs the plan's lines if they differ from last time. */
static void
log_plan(const char *site, const char *text)
{
    if (last_plan_text && !strcmp(last_plan_text, text)) {
        return;
    }
    free(last_plan_text);
    last_plan_text = xstrdup(text);

    char *copy = xstrdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "warning: ", 9)) {
            VLOG_WARN("site %s: %s", site, line + 9);
        } else {
            VLOG_INFO("site %s: %s", site, line);
        }
    }
    free(copy);
}

/* Computes the plan of our site 'cfg->site' from the replicas: the caller
 * destroys 'plan' and 'in'. */
static void
plan_compute(const struct sync_config *cfg, struct inputs *in,
             struct sync_plan *plan)
{
    inputs_gather(in);
    sync_plan_compute(cfg, in->sites, in->n_sites, in->ports, in->n_ports,
                      plan);
}

/* Fills in the parts of 'cfg' that come from the command line, and its
 * site from --site or the local database ('scratch' holds it then).
 * Returns false if we do not know our site yet. */
static bool
config_get(struct sync_config *cfg, struct sync_smap *scratch)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key = opt_key;
    cfg->known_hosts = opt_known_hosts;
    cfg->site = own_site_name(scratch);
    return cfg->site && cfg->site[0];
}

/* Computes the plan from the replicas and applies it (or prints it, with
 * --dry-run).  Returns true if the local database is in sync. */
static bool
reconcile(void)
{
    struct sync_config cfg;
    struct sync_smap scratch;
    struct sync_plan plan;
    struct inputs in;
    bool in_sync = false;
    size_t skipped;
    char *text;
    json_t *ops;

    need_reconcile = false;
    sync_smap_init(&scratch);
    if (!config_get(&cfg, &scratch)) {
        if (opt_dry_run) {
            ovs_fatal(0, "no site name: give --site or set "
                      "Open_vSwitch:external_ids:ssh-tap-site");
        }
        VLOG_WARN_ONCE("no site name: give --site or set "
                       "Open_vSwitch:external_ids:ssh-tap-site");
        sync_smap_destroy(&scratch);
        return false;
    }

    plan_compute(&cfg, &in, &plan);
    text = sync_plan_format(&plan);

    if (opt_dry_run) {
        fputs(text, stdout);
        fflush(stdout);
        in_sync = true;
    } else {
        if (bridge_uuid(plan.bridge)) {
            free(missing_bridge);
            missing_bridge = NULL;
        } else if (!missing_bridge || strcmp(missing_bridge, plan.bridge)) {
            VLOG_WARN("site %s: bridge %s does not exist: no ports added "
                      "until it does", cfg.site, plan.bridge);
            free(missing_bridge);
            missing_bridge = xstrdup(plan.bridge);
        }
        log_plan(cfg.site, text);
        ops = plan_to_ops(&plan, &skipped);
        if (ops) {
            char id[32];

            snprintf(id, sizeof id, "txn-%u", txn_seq++);
            txn_pending = true;
            db_send(&local, ovsdb_rpc_request("transact", ops, id));
        } else {
            in_sync = !plan.n_actions;
        }
    }

    free(text);
    sync_plan_destroy(&plan);
    inputs_destroy(&in);
    sync_smap_destroy(&scratch);
    return in_sync;
}

/* ------------------------------------------------------------------------
 * sync/show: one snapshot of the daemon's state feeds the printer, as in
 * wg(8)'s show. */

/* One port of the sync: wanted by the registry, present in the local
 * database, or both. */
struct show_port {
    char *name;
    char *peer;                 /* The far site ("" if unknown). */
    bool active;                /* We dial. */
    bool wanted;                /* The registry calls for it. */
    bool present;               /* It exists in the local database. */
    bool failed;                /* Wanted, but it does not work. */
    char *state;                /* "up", "listening", "failed: ...". */
};

/* One of the two connections. */
struct show_db {
    const char *remotes;        /* As given on the command line. */
    const char *member;         /* The remote in use, or NULL. */
    const char *role;           /* "leader", "follower", "standalone",
                                 * "relay", or NULL if unknown. */
    const char *security;       /* Of 'member' (or of the first remote). */
    bool connected;
    bool monitored;
    long long since;            /* Wall-clock ms, 0 for never. */
    long long last_update;      /* Wall-clock ms, 0 for never. */
    const char *last_error;     /* Why the latest connection ended. */
};

struct sync_snapshot {
    long long now;              /* Wall-clock ms when taken. */
    char *site;                 /* NULL if not known yet. */
    char *bridge;               /* NULL if no plan could be made. */
    struct show_db registry, local;
    long long last_txn;         /* Wall-clock ms, 0 for none yet. */
    const char *last_txn_error; /* NULL if the latest one worked. */

    bool planned;               /* Both databases read: ports known. */
    struct show_port *ports;    /* Sorted by name. */
    size_t n_ports, allocated_ports;
    size_t n_wanted, n_present, n_failed;
    char **warnings;
    size_t n_warnings;
};

/* sync/show's words for a transport's security. */
static const char *
security_text(enum ovsdb_rpc_security sec)
{
    return (sec == OVSDB_RPC_SEC_INSECURE
            ? "insecure (tcp: outside loopback: anyone on the path can read "
              "and rewrite the rows)"
            : ovsdb_rpc_security_name(sec));
}

static void
show_db_take(const struct db *db, struct show_db *s)
{
    bool connected = ovsdb_rpc_is_connected(db->rpc);
    size_t n;
    char **remotes = sync_split_remotes(ovsdb_rpc_remotes(db->rpc), &n);

    s->remotes = ovsdb_rpc_remotes(db->rpc);
    s->connected = connected;
    s->member = connected ? ovsdb_rpc_member(db->rpc) : NULL;
    s->role = ovsdb_rpc_role(db->rpc);
    s->security = security_text(connected ? ovsdb_rpc_security(db->rpc)
                                : n ? ovsdb_rpc_remote_security(remotes[0])
                                : OVSDB_RPC_SEC_NONE);
    for (size_t i = 0; i < n; i++) {
        free(remotes[i]);
    }
    free(remotes);
    s->monitored = db->monitored;
    s->since = db->since;
    s->last_update = db->last_update;
    s->last_error = ovsdb_rpc_last_error(db->rpc);
}

static struct show_port *
show_port_get(struct sync_snapshot *snap, const char *name)
{
    struct show_port *p;

    for (size_t i = 0; i < snap->n_ports; i++) {
        if (!strcmp(snap->ports[i].name, name)) {
            return &snap->ports[i];
        }
    }
    if (snap->n_ports >= snap->allocated_ports) {
        snap->ports = x2nrealloc(snap->ports, &snap->allocated_ports,
                                 sizeof *snap->ports);
    }
    p = &snap->ports[snap->n_ports++];
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    p->peer = xstrdup("");
    p->state = xstrdup("");
    return p;
}

static void
show_port_set_state(struct show_port *p, bool failed, char *state)
{
    free(p->state);
    p->state = state;
    p->failed = failed;
}

/* What vswitchd says about Interface 'uuid': its error, else its link. */
static char *
iface_state(const char *uuid, bool *failed)
{
    json_t *ifaces = json_object_get(local.tables, "Interface");
    json_t *row = uuid ? json_object_get(ifaces, uuid) : NULL;
    const char *error, *link, *state, *last_error;
    struct sync_smap status;
    struct ds s;

    *failed = false;
    if (!row) {
        return xstrdup("no interface");
    }
    error = ovsdb_datum_string(json_object_get(row, "error"));
    if (error && error[0]) {
        *failed = true;
        return xasprintf("failed: %s", error);
    }
    link = ovsdb_datum_string(json_object_get(row, "link_state"));
    if (link && !strcmp(link, "up")) {
        return xstrdup("up");
    }

    sync_smap_init(&status);
    ovsdb_datum_map(json_object_get(row, "status"), &status);
    state = sync_smap_get(&status, "state");
    last_error = sync_smap_get(&status, "last_error");
    ds_init(&s);
    ds_put_cstr(&s, state ? state : link ? link : "down");
    if (last_error) {
        ds_put_format(&s, ", last error: %s", last_error);
    }
    sync_smap_destroy(&status);
    return ds_steal_cstr(&s);
}

/* The ports of the sync in the local database. */
static void
snapshot_present(struct sync_snapshot *snap, const struct inputs *in)
{
    for (size_t i = 0; i < in->n_ports; i++) {
        const struct sync_port *sp = &in->ports[i];
        const char *owner = sync_smap_get(&sp->port_ids, SYNC_OWNER_KEY);
        const char *peer = sync_smap_get(&sp->port_ids, SYNC_PEER_KEY);
        struct show_port *p;
        bool failed;
        char *state;

        if (!owner || strcmp(owner, "true")) {
            continue;
        }
        p = show_port_get(snap, sp->name);
        p->present = p->wanted = true;
        free(p->peer);
        p->peer = xstrdup(peer ? peer : "");
        p->active = sync_smap_get(&sp->options, "remote") != NULL;
        state = iface_state(sp->iface_uuid, &failed);
        show_port_set_state(p, failed, state);
    }
}

/* What the plan would still change. */
static void
snapshot_actions(struct sync_snapshot *snap, const struct sync_plan *plan)
{
    const char *txn_error = last_txn_error;

    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct sync_action *a = &plan->actions[i];
        struct show_port *p = show_port_get(snap, a->port_name);
        char *state;

        if (a->type != SYNC_DELETE) {
            free(p->peer);
            p->peer = xstrdup(a->peer);
            p->active = a->active;
            p->wanted = true;
        }
        switch (a->type) {
        case SYNC_DELETE:
            p->wanted = false;
            state = xasprintf("%s; to be deleted: %s", p->state,
                              a->why ? a->why : "not wanted");
            show_port_set_state(p, false, state);
            break;

        case SYNC_UPDATE:
            if (txn_error) {
                state = xasprintf("failed: could not update it: %s",
                                  txn_error);
            } else {
                state = xasprintf("%s; to be updated: %s", p->state,
                                  a->why ? a->why : "");
            }
            show_port_set_state(p, p->failed || txn_error, state);
            break;

        case SYNC_ADD:
            if (!bridge_uuid(a->bridge)) {
                state = xasprintf("failed: bridge %s does not exist",
                                  a->bridge);
            } else if (txn_error) {
                state = xasprintf("failed: could not add it: %s", txn_error);
            } else {
                state = xstrdup("to be added");
            }
            show_port_set_state(p, !!strncmp(state, "to be", 5), state);
            break;
        }
    }
}

static int
show_port_cmp(const void *a_, const void *b_)
{
    const struct show_port *a = a_, *b = b_;
    return strcmp(a->name, b->name);
}

/* Takes a snapshot of everything sync/show prints, into 'snap'.  Its
 * constant strings point into the daemon's state: print it at once, then
 * free it with snapshot_destroy(). */
static void
snapshot_take(struct sync_snapshot *snap)
{
    struct sync_config cfg;
    struct sync_smap scratch;
    struct sync_plan plan;
    struct inputs in;

    memset(snap, 0, sizeof *snap);
    snap->now = time_wall_msec();
    show_db_take(&registry, &snap->registry);
    show_db_take(&local, &snap->local);
    snap->last_txn = last_txn_time;
    snap->last_txn_error = last_txn_error;

    sync_smap_init(&scratch);
    if (config_get(&cfg, &scratch)) {
        snap->site = xstrdup(cfg.site);
    }
    if (snap->site && registry.since && local.since) {
        plan_compute(&cfg, &in, &plan);
        snap->planned = true;
        snap->bridge = xstrdup(plan.bridge);
        snapshot_present(snap, &in);
        snapshot_actions(snap, &plan);
        snap->n_warnings = plan.n_warnings;
        snap->warnings = xcalloc(plan.n_warnings + 1,
                                 sizeof *snap->warnings);
        for (size_t i = 0; i < plan.n_warnings; i++) {
            snap->warnings[i] = xstrdup(plan.warnings[i]);
        }
        sync_plan_destroy(&plan);
        inputs_destroy(&in);
    }
    sync_smap_destroy(&scratch);

    if (snap->n_ports) {
        qsort(snap->ports, snap->n_ports, sizeof *snap->ports,
              show_port_cmp);
    }
    for (size_t i = 0; i < snap->n_ports; i++) {
        const struct show_port *p = &snap->ports[i];

        snap->n_wanted += p->wanted;
        snap->n_present += p->present;
        snap->n_failed += p->wanted && p->failed;
    }
}

static void
snapshot_destroy(struct sync_snapshot *snap)
{
    for (size_t i = 0; i < snap->n_ports; i++) {
        free(snap->ports[i].name);
        free(snap->ports[i].peer);
        free(snap->ports[i].state);
    }
    free(snap->ports);
    for (size_t i = 0; i < snap->n_warnings; i++) {
        free(snap->warnings[i]);
    }
    free(snap->warnings);
    free(snap->site);
    free(snap->bridge);
}

static void
put_time(struct ds *out, long long when, long long now)
{
    if (!when) {
        ds_put_cstr(out, "never");
    } else {
        char *s = xastrftime_msec("%Y-%m-%dT%H:%M:%S.###Z", when, true);

        ds_put_format(out, "%s (%.1f s ago)", s, (now - when) / 1000.0);
        free(s);
    }
}

static void
format_db(struct ds *out, const char *title, const char *db_name,
          const struct show_db *d, long long now, bool registry_)
{
    ds_put_format(out, "%s: %s\n", title, d->remotes);
    if (registry_) {
        if (d->member) {
            ds_put_format(out, "  member: %s (%s)\n", d->member,
                          d->role ? d->role : "not ready yet");
        } else {
            ds_put_cstr(out, "  member: none\n");
        }
        ds_put_format(out, "  security: %s\n", d->security);
    }
    if (d->monitored) {
        ds_put_format(out, "  state: monitoring %s since ", db_name);
        put_time(out, d->since, now);
        ds_put_char(out, '\n');
    } else {
        ds_put_format(out, "  state: %s\n", (d->connected ? "connecting"
                                             : "waiting to reconnect"));
    }
    if (registry_) {
        ds_put_cstr(out, "  last update: ");
        put_time(out, d->last_update, now);
        ds_put_char(out, '\n');
    }
    if (!d->monitored && d->last_error) {
        ds_put_format(out, "  last error: %s\n", d->last_error);
    }
}

/* Prints 'snap' for an operator, one screenful. */
static void
snapshot_format(const struct sync_snapshot *snap, struct ds *out)
{
    if (snap->site && snap->bridge) {
        ds_put_format(out, "site: %s (bridge %s)\n", snap->site,
                      snap->bridge);
    } else if (snap->site) {
        ds_put_format(out, "site: %s\n", snap->site);
    } else {
        ds_put_cstr(out, "site: unknown (give --site or set "
                    "Open_vSwitch:external_ids:ssh-tap-site)\n");
    }

    format_db(out, "registry", "SSH_Tap", &snap->registry, snap->now, true);
    format_db(out, "local database", "Open_vSwitch", &snap->local,
              snap->now, false);
    ds_put_cstr(out, "  last transaction: ");
    put_time(out, snap->last_txn, snap->now);
    if (snap->last_txn) {
        ds_put_format(out, ", %s%s", snap->last_txn_error ? "failed: " : "ok",
                      snap->last_txn_error ? snap->last_txn_error : "");
    }
    ds_put_char(out, '\n');

    if (!snap->planned) {
        ds_put_format(out, "ports: unknown until %s\n",
                      !snap->site ? "the site is known"
                      : "both databases have been read");
    } else {
        ds_put_format(out, "ports: %"PRIuSIZE" wanted, %"PRIuSIZE" present, "
                      "%"PRIuSIZE" failed\n", snap->n_wanted,
                      snap->n_present, snap->n_failed);
    }
    for (size_t i = 0; i < snap->n_ports; i++) {
        const struct show_port *p = &snap->ports[i];

        ds_put_format(out, "  %s: site %s, %s, %s\n", p->name,
                      p->peer[0] ? p->peer : "?",
                      p->active ? "active" : "passive", p->state);
    }
    for (size_t i = 0; i < snap->n_warnings; i++) {
        ds_put_format(out, "warning: %s\n", snap->warnings[i]);
    }
}

static void
sync_unixctl_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    struct sync_snapshot snap;
    struct ds out = DS_EMPTY_INITIALIZER;

    snapshot_take(&snap);
    snapshot_format(&snap, &out);
    snapshot_destroy(&snap);
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static void
sync_unixctl_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    exiting = true;
    unixctl_command_reply(conn, NULL);
}

/* ------------------------------------------------------------------------
 * Command line. */

OVS_NO_RETURN static void
usage(void)
{
    printf("%s: keep a mesh of ssh-tap ports in sync with a registry\n"
           "usage: %s [OPTIONS]\n"
           "\n"
           "  --site=NAME           our site (default: the local\n"
           "                        Open_vSwitch:external_ids:ssh-tap-site)\n"
           "  --registry=REMOTES    the registry: comma-separated unix:PATH,\n"
           "                        ssh:[USER@]HOST[:PORT]:/SOCKET,\n"
           "                        ssl:HOST:PORT or tcp:HOST:PORT, tried\n"
           "                        in turn\n"
           "                        (default unix:$OVS_RUNDIR/%s)\n"
           "  --db=REMOTE           the local Open_vSwitch database\n"
           "                        (default unix:$OVS_RUNDIR/db.sock)\n"
           "  --key=PATH            private key for the ports that dial\n"
           "                        (default $OVS_DBDIR/ssh-tap/id_ed25519)\n"
           "  --known-hosts=PATH    options:known_hosts for far sites\n"
           "                        without a host_key (default: the port's\n"
           "                        default)\n"
           "  --once                converge once, then exit\n"
           "  --dry-run             print the plan, change nothing, exit\n"
           "  --timeout=SECS        with --once or --dry-run: give up after\n"
           "                        SECS (default 60)\n"
           "  --unixctl=SOCKET      control socket (default\n"
           "                        $OVS_RUNDIR/%s.PID.ctl)\n",
           program_name, program_name, SYNC_REGISTRY_SOCKET, program_name);
    ovsdb_rpc_options_usage();
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help            display this help message\n"
           "  -V, --version         display version information\n");
    exit(EXIT_SUCCESS);
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_SITE = UCHAR_MAX + 1,
        OPT_REGISTRY,
        OPT_DB,
        OPT_KEY,
        OPT_KNOWN_HOSTS,
        OPT_ONCE,
        OPT_DRY_RUN,
        OPT_TIMEOUT,
        OPT_UNIXCTL,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        OVSDB_RPC_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"site", required_argument, NULL, OPT_SITE},
        {"registry", required_argument, NULL, OPT_REGISTRY},
        {"db", required_argument, NULL, OPT_DB},
        {"key", required_argument, NULL, OPT_KEY},
        {"known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS},
        {"once", no_argument, NULL, OPT_ONCE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        OVSDB_RPC_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        char *end;
        long s;

        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_SITE:
            if (!sync_site_name_valid(optarg)) {
                ovs_fatal(0, "--site=%s: not a valid site name", optarg);
            }
            opt_site = optarg;
            break;

        case OPT_REGISTRY:
            free(opt_registry);
            opt_registry = xstrdup(optarg);
            break;

        case OPT_DB:
            free(opt_db);
            opt_db = xstrdup(optarg);
            break;

        case OPT_KEY:
            free(opt_key);
            opt_key = xstrdup(optarg);
            break;

        case OPT_KNOWN_HOSTS:
            opt_known_hosts = optarg;
            break;

        case OPT_ONCE:
            opt_once = true;
            break;

        case OPT_DRY_RUN:
            opt_dry_run = true;
            break;

        case OPT_TIMEOUT:
            s = strtol(optarg, &end, 10);
            if (!optarg[0] || *end || s < 0 || s > 86400) {
                ovs_fatal(0, "--timeout=%s: expected seconds (0-86400)",
                          optarg);
            }
            opt_timeout_s = s;
            break;

        case OPT_UNIXCTL:
            free(opt_unixctl);
            opt_unixctl = xstrdup(optarg);
            break;

        case 'h':
            usage();

        case 'V':
            printf("%s (ovs-ssh-tap) %s\n", program_name, SSH_TAP_VERSION);
            exit(EXIT_SUCCESS);

        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS
        OVSDB_RPC_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);

        default:
            OVS_NOT_REACHED();
        }
    }
    free(short_options);
    ovsdb_rpc_options_apply();

    if (optind < argc) {
        ovs_fatal(0, "unexpected argument \"%s\" (use --help for help)",
                  argv[optind]);
    }
    if (opt_dry_run && get_detach()) {
        ovs_fatal(0, "--dry-run prints the plan on standard output: it "
                  "cannot --detach");
    }
    if (!opt_registry) {
        opt_registry = sync_default_remote(SYNC_REGISTRY_SOCKET);
    }
    if (!opt_db) {
        opt_db = sync_default_remote(SYNC_DB_SOCKET);
    }
    if (!opt_key) {
        opt_key = xasprintf("%s/ssh-tap/id_ed25519", ovs_dbdir());
    }
}

/* Checks the remote list 'remotes', given as option 'option', before
 * anything is opened. */
static void
check_remotes(const char *option, const char *remotes)
{
    char *error = ovsdb_rpc_verify_remotes(remotes);
    size_t n;
    char **list;

    if (error) {
        ovs_fatal(0, "%s: %s", option, error);
    }
    list = sync_split_remotes(remotes, &n);
    if (!n) {
        ovs_fatal(0, "%s: no remote given", option);
    }
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(list[i], "ssl:", 4) && !stream_ssl_is_configured()) {
            ovs_fatal(0, "%s: \"%s\" needs --private-key, --certificate "
                      "and --ca-cert (or --bootstrap-ca-cert)", option,
                      list[i]);
        }
        free(list[i]);
    }
    free(list);
}

int
main(int argc, char *argv[])
{
    struct unixctl_server *unixctl = NULL;
    long long deadline = 0;
    json_t *local_mon;
    int retval;

    ovs_cmdl_proctitle_init(argc, argv);
    set_program_name(argv[0]);
    service_start(&argc, &argv);
    parse_options(argc, argv);
    fatal_ignore_sigpipe();
    check_remotes("--registry", opt_registry);
    check_remotes("--db", opt_db);

    local_mon = json_pack(
        "{s:{s:[s]}, s:{s:[s, s]}, s:{s:[s, s, s, s]},"
        " s:{s:[s, s, s, s, s, s, s]}}",
        "Open_vSwitch", "columns", "external_ids",
        "Bridge", "columns", "name", "ports",
        "Port", "columns", "name", "interfaces", "external_ids", "protected",
        "Interface", "columns", "name", "type", "options", "external_ids",
        "error", "link_state", "status");

    /* Before any connection is opened: the ssh: transport runs threads,
     * which do not survive the fork of --detach. */
    if (!opt_dry_run) {
#ifdef SSH_TAP_DAEMONIZE_START_2ARGS
        daemonize_start(false, false);
#else
        daemonize_start(false);
#endif
        retval = unixctl_server_create(opt_unixctl, &unixctl);
        if (retval) {
            exit(EXIT_FAILURE);
        }
        unixctl_command_register("sync/show", "", 0, 0, sync_unixctl_show,
                                 NULL);
        unixctl_command_register("exit", "", 0, 0, sync_unixctl_exit, NULL);
        daemonize_complete();
    }

    db_init(&local, "local database", "Open_vSwitch", opt_db, local_mon);
    db_init(&registry, "registry", "SSH_Tap", opt_registry,
            json_pack("{s:{}}", "Site"));

    VLOG_INFO("%s %s starting: site %s, registry %s, local database %s",
              program_name, SSH_TAP_VERSION,
              opt_site ? opt_site : "(from ssh-tap-site)", opt_registry,
              opt_db);
    if ((opt_once || opt_dry_run) && opt_timeout_s) {
        deadline = time_msec() + opt_timeout_s * 1000LL;
    }

    while (!exiting) {
        if (unixctl) {
            unixctl_server_run(unixctl);
        }
        db_run(&local);
        db_run(&registry);

        bool ready = (need_reconcile && !txn_pending && local.monitored
                      && registry.monitored);
        if (ready && time_msec() >= retry_at) {
            bool in_sync = reconcile();

            if (opt_dry_run) {
                break;
            }
            if (in_sync && opt_once) {
                VLOG_INFO("converged, exiting (--once)");
                break;
            }
            if (opt_once && txn_failures >= 5) {
                VLOG_ERR("giving up after %u failed transactions",
                         txn_failures);
                exit(EXIT_FAILURE);
            }
        }
        if (deadline && time_msec() >= deadline) {
            VLOG_ERR("not converged after %d s, giving up", opt_timeout_s);
            exit(EXIT_FAILURE);
        }

        if (unixctl) {
            unixctl_server_wait(unixctl);
        }
        db_wait(&local);
        db_wait(&registry);
        /* Wake for a retry only when a reconcile could run then: while a
         * database is not monitored yet, or a transaction is in flight,
         * db_wait() wakes us, and waiting on a 'retry_at' in the past
         * would spin. */
        if (need_reconcile && !txn_pending && local.monitored
            && registry.monitored) {
            poll_timer_wait_until(retry_at);
        }
        if (deadline) {
            poll_timer_wait_until(deadline);
        }
        if (exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    if (exiting) {
        VLOG_INFO("exiting (ovs-appctl exit)");
    }
    unixctl_server_destroy(unixctl);
    db_destroy(&local);
    db_destroy(&registry);
    free(opt_registry);
    free(opt_db);
    free(opt_key);
    free(opt_unixctl);
    free(last_plan_text);
    free(last_txn_error);
    free(missing_bridge);
    return 0;
}
