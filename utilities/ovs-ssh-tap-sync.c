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
 * It holds two OVSDB connections (RFC 7047 JSON-RPC, jsonrpc-client.c):
 * the registry, monitored for the Site table, and the local Open_vSwitch
 * database, monitored for the bridge's ports and written with "transact".
 * Each time either changes it computes a plan (sync-plan.c, pure) and
 * applies it in one transaction.  Both connections are remade, with
 * backoff, whenever their server goes away; the registry may be a list of
 * remotes (the members of a cluster), tried in turn.
 *
 * See ovs-ssh-tap-sync(8) and docs/sync.md. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jsonrpc-client.h"
#include "sync-ovsdb.h"
#include "sync-plan.h"

#ifndef SSH_TAP_VERSION
#define SSH_TAP_VERSION "0.1.0"
#endif

#define PROGRAM_NAME "ovs-ssh-tap-sync"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 8000
#define RECONNECT_QUICK_MS 200  /* After a healthy connection drops. */
#define PROBE_MS 5000           /* Idle time before we send an echo. */
#define DEAD_MS 15000           /* Idle time before we give up. */
#define TXN_RETRY_MS 1000       /* After a failed transaction. */

/* ------------------------------------------------------------------------
 * Logging, in OVS's vlog format. */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DBG };
static const char *const level_names[] = { "ERR", "WARN", "INFO", "DBG" };
static enum log_level log_max = LOG_INFO;
static FILE *log_stream;

static void __attribute__((format(printf, 2, 3)))
log_msg(enum log_level level, const char *fmt, ...)
{
    struct timeval tv;
    struct tm tm;
    char stamp[64];
    va_list args;
    FILE *f = log_stream ? log_stream : stderr;

    if (level > log_max) {
        return;
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "%s.%03ldZ|ssh_tap_sync|%s|", stamp, (long) tv.tv_usec / 1000,
            level_names[level]);
    va_start(args, fmt);
    vfprintf(f, fmt, args);
    va_end(args);
    fputc('\n', f);
    fflush(f);
}

#define ERR(...) log_msg(LOG_ERR, __VA_ARGS__)
#define WARN(...) log_msg(LOG_WARN, __VA_ARGS__)
#define INFO(...) log_msg(LOG_INFO, __VA_ARGS__)
#define DBG(...) log_msg(LOG_DBG, __VA_ARGS__)

static void __attribute__((format(printf, 1, 2), noreturn))
fatal(const char *fmt, ...)
{
    va_list args;

    fprintf(stderr, PROGRAM_NAME ": ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * Configuration. */

static const char *opt_site;
static const char *opt_key;
static const char *opt_known_hosts;
static bool opt_once;
static bool opt_dry_run;
static int opt_timeout_s = 60;
static char *opt_pidfile;
static bool opt_detach;

/* ------------------------------------------------------------------------
 * One OVSDB connection with a monitor and an in-memory replica of what it
 * monitors. */

struct db {
    const char *what;           /* "registry" or "local database". */
    const char *db_name;        /* "SSH_Tap" or "Open_vSwitch". */
    json_t *monitor_requests;   /* The "monitor" request's third param. */
    bool check_server;          /* Monitor _Server (cluster members). */

    char **remotes;
    size_t n_remotes;
    size_t cur;                 /* Remote in use or to try next. */

    struct jrpc *conn;
    bool monitored;             /* Initial contents received. */
    json_t *tables;             /* {TABLE: {UUID: ROW}}. */
    json_t *server;             /* Replica of _Server's Database table. */

    long long next_try;         /* When to connect again (if !conn). */
    long long backoff;
    size_t failures;            /* Failed attempts in this round. */
    long long last_rx;
    bool echo_sent;
};

static struct db registry, local;

/* Reconciliation state. */
static bool need_reconcile;
static bool txn_pending;
static unsigned int txn_seq;
static long long retry_at;
static char *last_plan_text;
static unsigned int txn_failures;
static volatile sig_atomic_t exiting;

static void
db_init(struct db *db, const char *what, const char *db_name,
        const char *remotes, json_t *monitor_requests, bool check_server)
{
    memset(db, 0, sizeof *db);
    db->what = what;
    db->db_name = db_name;
    db->remotes = sync_split_remotes(remotes, &db->n_remotes);
    if (!db->n_remotes) {
        fatal("no remote given for the %s", what);
    }
    db->monitor_requests = monitor_requests;
    db->check_server = check_server;
    db->tables = json_object();
    db->backoff = BACKOFF_MIN_MS;
}

static void
db_destroy(struct db *db)
{
    jrpc_close(db->conn);
    json_decref(db->tables);
    json_decref(db->server);
    json_decref(db->monitor_requests);
    for (size_t i = 0; i < db->n_remotes; i++) {
        free(db->remotes[i]);
    }
    free(db->remotes);
    memset(db, 0, sizeof *db);
}

static const char *
db_remote(const struct db *db)
{
    return db->remotes[db->cur];
}

/* Drops the connection of 'db' and schedules the next attempt: the next
 * remote of the list at once, or after the backoff once every remote has
 * failed in a row. */
static void
db_disconnect(struct db *db, const char *why)
{
    bool was_healthy = db->monitored;
    long long now = now_ms();

    if (db->conn) {
        log_msg(was_healthy ? LOG_WARN : LOG_INFO, "%s %s: %s", db->what,
                db_remote(db), why);
        jrpc_close(db->conn);
        db->conn = NULL;
    }
    db->monitored = false;
    db->echo_sent = false;
    if (db == &local) {
        /* A reply that never comes: reconcile afresh after reconnecting. */
        txn_pending = false;
    }
    json_decref(db->server);
    db->server = NULL;
    /* The replica is kept until the next monitor reply replaces it, but
     * nothing is reconciled from it meanwhile. */

    db->cur = (db->cur + 1) % db->n_remotes;
    if (was_healthy) {
        db->failures = 0;
        db->backoff = BACKOFF_MIN_MS;
        db->next_try = now + RECONNECT_QUICK_MS;
    } else if (++db->failures < db->n_remotes) {
        db->next_try = now;
    } else {
        db->failures = 0;
        db->next_try = now + db->backoff;
        DBG("%s: all remotes failed, next attempt in %lld ms", db->what,
            db->backoff);
        db->backoff = db->backoff * 2 > BACKOFF_MAX_MS
                      ? BACKOFF_MAX_MS : db->backoff * 2;
    }
}

static void
db_send(struct db *db, json_t *msg)
{
    int error = jrpc_send(db->conn, msg);

    json_decref(msg);
    if (error) {
        db_disconnect(db, jrpc_strerror(error));
    }
}

static void
db_connect(struct db *db)
{
    char *err = NULL;
    json_t *params;

    db->conn = jrpc_open(db_remote(db), &err);
    if (!db->conn) {
        INFO("%s: %s", db->what, err);
        free(err);
        db_disconnect(db, "connection failed");
        return;
    }
    DBG("%s: connecting to %s", db->what, db_remote(db));
    db->last_rx = now_ms();
    db->echo_sent = false;

    if (db->check_server) {
        params = json_pack("[s, s, {s: {s: [s, s, s, s]}}]", "_Server",
                           "server", "Database", "columns", "name", "model",
                           "connected", "leader");
        db_send(db, jrpc_request("monitor", params, "server"));
        if (!db->conn) {
            return;
        }
    }
    params = json_pack("[s, s, O]", db->db_name, "main",
                       db->monitor_requests);
    db_send(db, jrpc_request("monitor", params, "monitor"));
}

/* Applies RFC 7047 <table-updates> 'updates' to the replica 'tables'. */
static void
apply_updates(json_t *tables, json_t *updates)
{
    const char *table_name, *uuid;
    json_t *table_update, *row_update;

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
        }
    }
}

/* A clustered registry member that lost its cluster serves stale data:
 * move on to the next remote. */
static void
check_server(struct db *db)
{
    const char *uuid;
    json_t *row;

    json_object_foreach (json_object_get(db->server, "Database"), uuid, row) {
        const char *name = json_string_value(json_object_get(row, "name"));
        const char *model = json_string_value(json_object_get(row, "model"));

        if (name && !strcmp(name, db->db_name) && model
            && !strcmp(model, "clustered")
            && !ovsdb_datum_bool(json_object_get(row, "connected"))) {
            db_disconnect(db, "not connected to its cluster, trying "
                          "another member");
            return;
        }
    }
}

static void handle_txn_reply(json_t *msg);

static void
db_handle(struct db *db, json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    json_t *error = json_object_get(msg, "error");
    json_t *result = json_object_get(msg, "result");

    if (jrpc_is_method(msg, "echo")) {
        db_send(db, jrpc_echo_reply(msg));
    } else if (jrpc_is_method(msg, "update")) {
        json_t *params = json_object_get(msg, "params");
        const char *mon = json_string_value(json_array_get(params, 0));
        json_t *updates = json_array_get(params, 1);

        if (mon && !strcmp(mon, "main")) {
            apply_updates(db->tables, updates);
            need_reconcile = true;
        } else if (mon && !strcmp(mon, "server") && db->server) {
            apply_updates(db->server, updates);
            check_server(db);
        }
    } else if (!id) {
        /* A notification we do not know, or a reply we did not ask for. */
    } else if (!strcmp(id, "monitor")) {
        if (error && !json_is_null(error)) {
            char *e = jrpc_error_text(error);
            ERR("%s %s: monitor of %s failed: %s", db->what, db_remote(db),
                db->db_name, e);
            free(e);
            db_disconnect(db, "monitor failed");
            return;
        }
        json_decref(db->tables);
        db->tables = json_object();
        apply_updates(db->tables, result);
        db->monitored = true;
        db->failures = 0;
        db->backoff = BACKOFF_MIN_MS;
        need_reconcile = true;
        INFO("%s %s: connected, monitoring %s", db->what, db_remote(db),
             db->db_name);
    } else if (!strcmp(id, "server")) {
        /* A server without _Server (or a standalone one) is fine. */
        if (!error || json_is_null(error)) {
            db->server = json_object();
            apply_updates(db->server, result);
            check_server(db);
        }
    } else if (!strncmp(id, "txn-", 4) && db == &local) {
        handle_txn_reply(msg);
    }
}

/* Runs the I/O of 'db' for the poll() result 'revents'. */
static void
db_run(struct db *db, short revents)
{
    int error;

    if (!db->conn) {
        return;
    }
    error = jrpc_run(db->conn, revents);
    if (error) {
        db_disconnect(db, jrpc_strerror(error));
        return;
    }
    while (db->conn) {
        json_t *msg;

        error = jrpc_recv(db->conn, &msg);
        if (error == EAGAIN) {
            break;
        } else if (error) {
            db_disconnect(db, error == EPROTO ? "received invalid JSON"
                          : jrpc_strerror(error));
            return;
        }
        db->last_rx = now_ms();
        db->echo_sent = false;
        db_handle(db, msg);
        json_decref(msg);
    }
}

/* Inactivity probe: an echo after PROBE_MS of silence, give up after
 * DEAD_MS.  Returns when to look again. */
static long long
db_probe(struct db *db, long long now)
{
    if (!db->conn) {
        return db->next_try;
    }
    if (now - db->last_rx >= DEAD_MS) {
        db_disconnect(db, "no response to inactivity probe");
        return db->next_try;
    }
    if (now - db->last_rx >= PROBE_MS && !db->echo_sent
        && jrpc_is_connected(db->conn)) {
        db->echo_sent = true;
        db_send(db, jrpc_request("echo", json_array(), "echo"));
    }
    return db->echo_sent ? db->last_rx + DEAD_MS : db->last_rx + PROBE_MS;
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
    in->sites = calloc(json_object_size(sites) + 1, sizeof *in->sites);
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
    in->ports = calloc(n, sizeof *in->ports);
    json_object_foreach (bridges, uuid, row) {
        const char *bridge = col_string(row, "name");
        json_t *bports = json_object_get(row, "ports");
        size_t np = ovsdb_datum_n_uuids(bports);
        const char **puuids = calloc(np + 1, sizeof *puuids);

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
    if (error && !json_is_null(error)) {
        e = jrpc_error_text(error);
    } else {
        e = ovsdb_txn_error(result, 0);
    }
    if (e) {
        WARN("transaction on the local database failed: %s", e);
        free(e);
        txn_failures++;
        retry_at = now_ms() + TXN_RETRY_MS;
    } else {
        INFO("local database updated");
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
    last_plan_text = strdup(text);

    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "warning: ", 9)) {
            WARN("site %s: %s", site, line + 9);
        } else {
            INFO("site %s: %s", site, line);
        }
    }
    free(copy);
}

/* Computes the plan from the replicas and applies it (or prints it, with
 * --dry-run).  Returns true if the local database is in sync. */
static bool
reconcile(void)
{
    struct sync_config cfg = {
        .key = opt_key,
        .known_hosts = opt_known_hosts,
    };
    struct sync_smap scratch;
    struct sync_plan plan;
    struct inputs in;
    bool in_sync = false;
    size_t skipped;
    char *text;
    json_t *ops;

    need_reconcile = false;
    sync_smap_init(&scratch);
    cfg.site = own_site_name(&scratch);
    if (!cfg.site || !cfg.site[0]) {
        static bool warned;
        if (!warned) {
            WARN("no site name: give --site or set "
                 "Open_vSwitch:external_ids:ssh-tap-site");
            warned = true;
        }
        if (opt_dry_run) {
            fatal("no site name: give --site or set "
                  "Open_vSwitch:external_ids:ssh-tap-site");
        }
        sync_smap_destroy(&scratch);
        return false;
    }

    inputs_gather(&in);
    sync_plan_compute(&cfg, in.sites, in.n_sites, in.ports, in.n_ports,
                      &plan);
    text = sync_plan_format(&plan);

    if (opt_dry_run) {
        fputs(text, stdout);
        fflush(stdout);
        in_sync = true;
    } else {
        if (!bridge_uuid(plan.bridge)) {
            static char *warned_bridge;
            if (!warned_bridge || strcmp(warned_bridge, plan.bridge)) {
                WARN("site %s: bridge %s does not exist: no ports added "
                     "until it does", cfg.site, plan.bridge);
                free(warned_bridge);
                warned_bridge = strdup(plan.bridge);
            }
        }
        log_plan(cfg.site, text);
        ops = plan_to_ops(&plan, &skipped);
        if (ops) {
            char id[32];

            snprintf(id, sizeof id, "txn-%u", txn_seq++);
            txn_pending = true;
            db_send(&local, jrpc_request("transact", ops, id));
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
 * Daemon plumbing. */

static void
on_signal(int sig)
{
    exiting = sig;
}

static void
write_pidfile(void)
{
    FILE *f;

    if (!opt_pidfile) {
        return;
    }
    f = fopen(opt_pidfile, "w");
    if (!f) {
        fatal("%s: %s", opt_pidfile, strerror(errno));
    }
    fprintf(f, "%ld\n", (long) getpid());
    fclose(f);
}

static void
detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        fatal("fork: %s", strerror(errno));
    } else if (pid > 0) {
        _exit(0);
    }
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (log_stream) {
            dup2(fd, STDERR_FILENO);
        }
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
}

static char *
default_path(const char *env, const char *dflt, const char *file)
{
    const char *dir = getenv(env);
    char *s;

    if (asprintf(&s, "%s/%s", dir && dir[0] ? dir : dflt, file) < 0) {
        abort();
    }
    return s;
}

static void __attribute__((noreturn))
usage(void)
{
    printf("%s: keep a mesh of ssh-tap ports in sync with a registry\n"
           "usage: %s [OPTIONS]\n"
           "\n"
           "  --site=NAME           our site (default: the local\n"
           "                        Open_vSwitch:external_ids:ssh-tap-site)\n"
           "  --registry=REMOTES    the registry: comma-separated unix:PATH\n"
           "                        or tcp:HOST:PORT, tried in turn\n"
           "                        (default unix:$OVS_RUNDIR/%s)\n"
           "  --db=REMOTE           the local Open_vSwitch database\n"
           "                        (default unix:$OVS_RUNDIR/db.sock)\n"
           "  --key=PATH            private key for the ports that dial\n"
           "                        (default $OVS_DBDIR/ssh-tap/id_ed25519)\n"
           "  --known-hosts=PATH    options:known_hosts for far sites without\n"
           "                        a host_key (default: the port's default)\n"
           "  --once                converge once, then exit\n"
           "  --dry-run             print the plan, change nothing, exit\n"
           "  --timeout=SECS        with --once or --dry-run: give up after\n"
           "                        SECS (default 60)\n"
           "  --pidfile[=FILE]      write our pid to FILE\n"
           "                        (default $OVS_RUNDIR/%s.pid)\n"
           "  --detach              run in the background\n"
           "  --log-file[=FILE]     log to FILE instead of stderr\n"
           "                        (default $OVS_LOGDIR/%s.log)\n"
           "  -v, --verbose         log debug messages too\n"
           "  -h, --help            this help\n"
           "  -V, --version         print the version\n",
           PROGRAM_NAME, PROGRAM_NAME, SYNC_REGISTRY_SOCKET, PROGRAM_NAME,
           PROGRAM_NAME);
    exit(0);
}

int
main(int argc, char *argv[])
{
    enum {
        OPT_SITE = 256, OPT_REGISTRY, OPT_DB, OPT_KEY, OPT_KNOWN_HOSTS,
        OPT_ONCE, OPT_DRY_RUN, OPT_TIMEOUT, OPT_PIDFILE, OPT_DETACH,
        OPT_LOG_FILE,
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
        {"pidfile", optional_argument, NULL, OPT_PIDFILE},
        {"detach", no_argument, NULL, OPT_DETACH},
        {"log-file", optional_argument, NULL, OPT_LOG_FILE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char *registry_remotes = sync_default_remote(SYNC_REGISTRY_SOCKET);
    char *db_remote_ = sync_default_remote(SYNC_DB_SOCKET);
    char *key = default_path("OVS_DBDIR", "/etc/openvswitch",
                             "ssh-tap/id_ed25519");
    char *log_file = NULL;
    long long deadline = 0;
    json_t *local_mon;
    int c;

    opt_key = key;
    while ((c = getopt_long(argc, argv, "vhV", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_SITE:
            if (!sync_site_name_valid(optarg)) {
                fatal("--site=%s: not a valid site name", optarg);
            }
            opt_site = optarg;
            break;
        case OPT_REGISTRY:
            free(registry_remotes);
            registry_remotes = strdup(optarg);
            break;
        case OPT_DB:
            free(db_remote_);
            db_remote_ = strdup(optarg);
            break;
        case OPT_KEY: opt_key = optarg; break;
        case OPT_KNOWN_HOSTS: opt_known_hosts = optarg; break;
        case OPT_ONCE: opt_once = true; break;
        case OPT_DRY_RUN: opt_dry_run = true; break;
        case OPT_TIMEOUT: {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || s < 0 || s > 86400) {
                fatal("--timeout: expected seconds (0-86400)");
            }
            opt_timeout_s = s;
            break;
        }
        case OPT_PIDFILE:
            opt_pidfile = (optarg ? strdup(optarg)
                           : default_path("OVS_RUNDIR", SYNC_DEFAULT_RUNDIR,
                                          PROGRAM_NAME ".pid"));
            break;
        case OPT_DETACH: opt_detach = true; break;
        case OPT_LOG_FILE:
            free(log_file);
            log_file = (optarg ? strdup(optarg)
                        : default_path("OVS_LOGDIR", "/var/log/openvswitch",
                                       PROGRAM_NAME ".log"));
            break;
        case 'v': log_max = LOG_DBG; break;
        case 'h': usage();
        case 'V':
            printf(PROGRAM_NAME " (ovs-ssh-tap) " SSH_TAP_VERSION "\n");
            return 0;
        default:
            exit(1);
        }
    }
    if (optind < argc) {
        fatal("unexpected argument \"%s\" (use --help for help)",
              argv[optind]);
    }
    if (log_file) {
        log_stream = fopen(log_file, "a");
        if (!log_stream) {
            fatal("%s: %s", log_file, strerror(errno));
        }
    }

    local_mon = json_pack(
        "{s:{s:[s]}, s:{s:[s, s]}, s:{s:[s, s, s, s]}, s:{s:[s, s, s, s]}}",
        "Open_vSwitch", "columns", "external_ids",
        "Bridge", "columns", "name", "ports",
        "Port", "columns", "name", "interfaces", "external_ids", "protected",
        "Interface", "columns", "name", "type", "options", "external_ids");
    db_init(&local, "local database", "Open_vSwitch", db_remote_, local_mon,
            false);
    db_init(&registry, "registry", "SSH_Tap", registry_remotes,
            json_pack("{s:{}}", "Site"), true);

    if (opt_detach) {
        detach();
    }
    write_pidfile();
    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
    }

    INFO("%s %s starting: site %s, registry %s, local database %s",
         PROGRAM_NAME, SSH_TAP_VERSION,
         opt_site ? opt_site : "(from ssh-tap-site)", registry_remotes,
         db_remote_);
    if ((opt_once || opt_dry_run) && opt_timeout_s) {
        deadline = now_ms() + opt_timeout_s * 1000LL;
    }

    while (!exiting) {
        struct db *dbs[2] = { &local, &registry };
        struct pollfd pfds[2];
        long long now = now_ms(), wake = now + 60000;
        int n_pfds = 0, timeout;
        struct db *polled[2];

        for (int i = 0; i < 2; i++) {
            if (!dbs[i]->conn && now >= dbs[i]->next_try) {
                db_connect(dbs[i]);
            }
        }

        if (need_reconcile && !txn_pending && local.monitored
            && registry.monitored && now >= retry_at) {
            bool in_sync = reconcile();

            if (opt_dry_run) {
                break;
            }
            if (in_sync && opt_once) {
                INFO("converged, exiting (--once)");
                break;
            }
            if (opt_once && txn_failures >= 5) {
                ERR("giving up after %u failed transactions", txn_failures);
                exit(1);
            }
        }
        if (deadline && now >= deadline) {
            ERR("not converged after %d s, giving up", opt_timeout_s);
            exit(1);
        }

        for (int i = 0; i < 2; i++) {
            long long t = db_probe(dbs[i], now);

            if (t < wake) {
                wake = t;
            }
            if (dbs[i]->conn) {
                pfds[n_pfds].fd = jrpc_fd(dbs[i]->conn);
                pfds[n_pfds].events = jrpc_poll_events(dbs[i]->conn);
                pfds[n_pfds].revents = 0;
                polled[n_pfds++] = dbs[i];
            }
        }
        if (need_reconcile && !txn_pending && retry_at > now
            && retry_at < wake) {
            wake = retry_at;
        }
        if (need_reconcile && !txn_pending && local.monitored
            && registry.monitored && retry_at <= now) {
            wake = now;
        }
        if (deadline && deadline < wake) {
            wake = deadline;
        }
        timeout = wake <= now ? 0 : (int) (wake - now);
        if (poll(pfds, n_pfds, timeout) < 0 && errno != EINTR) {
            fatal("poll: %s", strerror(errno));
        }
        for (int i = 0; i < n_pfds; i++) {
            if (polled[i]->conn && jrpc_fd(polled[i]->conn) == pfds[i].fd) {
                db_run(polled[i], pfds[i].revents);
            }
        }
    }

    if (exiting) {
        INFO("exiting on signal %d", (int) exiting);
    }
    if (opt_pidfile) {
        unlink(opt_pidfile);
    }
    db_destroy(&local);
    db_destroy(&registry);
    free(registry_remotes);
    free(db_remote_);
    free(key);
    free(log_file);
    free(opt_pidfile);
    free(last_plan_text);
    if (log_stream) {
        fclose(log_stream);
    }
    return 0;
}
