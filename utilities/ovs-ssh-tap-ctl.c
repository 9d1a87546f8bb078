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

/* ovs-ssh-tap-ctl: adds, removes, changes and lists the sites of the
 * ovs-ssh-tap registry (ovsdb-schemas/ssh_tap.ovsschema), with OVSDB
 * "transact" requests (RFC 7047).  See ovs-ssh-tap-ctl(8). */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "openvswitch/vlog.h"
#include "ovsdb-rpc.h"
#include "sync-ovsdb.h"
#include "sync-plan.h"
#include "util.h"

#ifndef SSH_TAP_VERSION
#define SSH_TAP_VERSION "0.1.0"
#endif

#define PROGRAM_NAME "ovs-ssh-tap-ctl"
#define DB_NAME "SSH_Tap"

static const char *db_remotes;
static int timeout_ms = 30000;

/* add-site options. */
static const char *opt_endpoint, *opt_login, *opt_host_key, *opt_bridge,
    *opt_rundir;
static bool opt_disabled, opt_may_exist, opt_if_exists;

static void __attribute__((noreturn))
usage(void)
{
    printf("%s: manage the sites of the ovs-ssh-tap registry\n"
           "usage: %s [OPTIONS] COMMAND [ARG...]\n"
           "\n"
           "Commands:\n"
           "  add-site NAME [--endpoint=HOST[:PORT]] [--login=USER]\n"
           "           [--host-key=SHA256:...] [--bridge=BR] [--rundir=DIR]\n"
           "           [--disabled] [--may-exist]\n"
           "                          register a site\n"
           "  del-site NAME [--if-exists]\n"
           "                          remove a site\n"
           "  set-site NAME KEY=VALUE...\n"
           "                          change a site; KEY is endpoint, login,\n"
           "                          host_key, bridge, rundir, enabled or\n"
           "                          external_ids:K (empty VALUE clears)\n"
           "  list-sites              list the sites\n"
           "\n"
           "Options:\n"
           "  --db=REMOTES            registry, comma-separated list of\n"
           "                          remotes (below) tried in turn\n"
           "                          (default unix:$OVS_RUNDIR/%s)\n"
           "  -t, --timeout=SECS      give up after SECS (default 30)\n"
           "  -h, --help              this help\n"
           "  -V, --version           print the version\n",
           PROGRAM_NAME, PROGRAM_NAME, SYNC_REGISTRY_SOCKET);
    ovsdb_rpc_options_usage();
    vlog_usage();
    exit(0);
}

/* The registry session, made on the first transaction.  Writes go to the
 * leader of a clustered registry, as ovs-vsctl's do; a read will take any
 * member connected to its cluster. */
static struct ovsdb_rpc *registry;
static bool read_only;

/* Runs the operations 'ops' (stolen) on the registry and returns the
 * result array; exits on any error. */
static json_t *
transact(json_t *ops)
{
    size_t n_ops = json_array_size(ops);
    json_t *params, *result;
    char *err = NULL;

    if (!registry) {
        size_t n;
        char **remotes = sync_split_remotes(db_remotes, &n);
        struct ovsdb_rpc_options opts = {
            .database = DB_NAME,
            .leader_only = !read_only,
            /* Fail fast when no remote even answers; while members answer
             * but none is the leader yet (an election), keep trying until
             * the timeout. */
            .max_failures = n,
            .max_backoff_ms = 2000,
        };

        for (size_t i = 0; i < n; i++) {
            free(remotes[i]);
        }
        free(remotes);
        registry = ovsdb_rpc_create(db_remotes, &opts);
    }

    params = json_pack("[s]", DB_NAME);
    json_array_extend(params, ops);
    json_decref(ops);
    result = ovsdb_rpc_call_block(registry, "transact", params, timeout_ms,
                                  &err);
    if (!result) {
        if (!ovsdb_rpc_get_seqno(registry)) {
            ovs_fatal(0, "cannot connect to the registry: %s", err);
        }
        ovs_fatal(0, "%s", err);
    }
    err = ovsdb_txn_error(result, n_ops);
    if (err) {
        if (strstr(err, "constraint violation") && strstr(err, "index")) {
            ovs_fatal(0, "a site with that name already exists");
        }
        ovs_fatal(0, "transaction failed: %s", err);
    }
    return result;
}

static void
check_name(const char *name)
{
    if (!sync_site_name_valid(name)) {
        ovs_fatal(0, "\"%s\": a site name is 1 to %d letters, digits, '.', "
                  "'_' or '-', not starting with '.' or '-'", name,
                  SYNC_SITE_NAME_MAX);
    }
}

static void
check_host_key(const char *fp)
{
    if (fp && fp[0] && strncmp(fp, "SHA256:", 7)) {
        ovs_fatal(0, "host key \"%s\": expected a SHA256:... fingerprint "
                  "(ssh-keygen -lf KEY.pub)", fp);
    }
}

static void
check_endpoint(const char *ep)
{
    if (ep && strpbrk(ep, " \t@/,")) {
        ovs_fatal(0, "endpoint \"%s\": expected HOST[:PORT] or "
                  "[ADDR]:PORT", ep);
    }
}

static void
check_dir(const char *what, const char *dir)
{
    if (dir && dir[0] && dir[0] != '/') {
        ovs_fatal(0, "%s \"%s\": must be an absolute path", what, dir);
    }
}

static void
cmd_add_site(int argc, char *argv[])
{
    const char *name;
    json_t *row, *ops;

    if (argc != 2) {
        ovs_fatal(0, "add-site takes one site name");
    }
    name = argv[1];
    check_name(name);
    check_host_key(opt_host_key);
    check_endpoint(opt_endpoint);
    check_dir("rundir", opt_rundir);

    row = json_pack("{s:s, s:o, s:s, s:o, s:s, s:s, s:b}",
                    "name", name,
                    "endpoint", ovsdb_optional_string(opt_endpoint),
                    "login", opt_login ? opt_login : "",
                    "host_key", ovsdb_optional_string(opt_host_key),
                    "bridge", opt_bridge ? opt_bridge : "",
                    "rundir", opt_rundir ? opt_rundir : "",
                    "enabled", !opt_disabled);
    ops = json_array();
    if (opt_may_exist) {
        /* Update the columns given in the existing row, if there is one;
         * otherwise insert as without --may-exist. */
        json_t *given = json_object(), *upd;

        if (opt_endpoint) {
            json_object_set_new(given, "endpoint",
                                ovsdb_optional_string(opt_endpoint));
        }
        if (opt_login) {
            json_object_set_new(given, "login", json_string(opt_login));
        }
        if (opt_host_key) {
            json_object_set_new(given, "host_key",
                                ovsdb_optional_string(opt_host_key));
        }
        if (opt_bridge) {
            json_object_set_new(given, "bridge", json_string(opt_bridge));
        }
        if (opt_rundir) {
            json_object_set_new(given, "rundir", json_string(opt_rundir));
        }
        if (opt_disabled) {
            json_object_set_new(given, "enabled", json_false());
        }
        /* With no column given, update "name" to itself, only to count
         * the matching rows. */
        json_object_set_new(given, "name", json_string(name));
        upd = json_pack("[{s:s, s:s, s:o, s:o}]",
                        "op", "update", "table", "Site",
                        "where", ovsdb_where_string("name", name),
                        "row", given);
        json_t *res = transact(upd);
        json_int_t count = json_integer_value(
            json_object_get(json_array_get(res, 0), "count"));

        json_decref(res);
        if (count) {
            json_decref(row);
            json_decref(ops);
            return;
        }
    }
    json_array_append_new(ops, json_pack("{s:s, s:s, s:o}",
                                         "op", "insert", "table", "Site",
                                         "row", row));
    json_array_append_new(ops, json_pack("{s:s, s:s}", "op", "comment",
                                         "comment",
                                         PROGRAM_NAME ": add-site"));
    json_decref(transact(ops));
}

static void
cmd_del_site(int argc, char *argv[])
{
    json_t *res;
    json_int_t count;

    if (argc != 2) {
        ovs_fatal(0, "del-site takes one site name");
    }
    res = transact(json_pack("[{s:s, s:s, s:o}]", "op", "delete",
                             "table", "Site",
                             "where", ovsdb_where_string("name", argv[1])));
    count = json_integer_value(json_object_get(json_array_get(res, 0),
                                               "count"));
    json_decref(res);
    if (!count && !opt_if_exists) {
        ovs_fatal(0, "no site named %s", argv[1]);
    }
}

static void
cmd_set_site(int argc, char *argv[])
{
    json_t *row = json_object(), *ops = json_array(), *res;
    json_t *del_keys = json_array(), *ins = json_array();
    json_int_t count;

    if (argc < 3) {
        ovs_fatal(0, "set-site takes a site name and KEY=VALUE arguments");
    }
    for (int i = 2; i < argc; i++) {
        char *key = strdup(argv[i]);
        char *value = strchr(key, '=');

        if (!value) {
            ovs_fatal(0, "\"%s\": expected KEY=VALUE", argv[i]);
        }
        *value++ = '\0';
        if (!strcmp(key, "endpoint")) {
            check_endpoint(value);
            json_object_set_new(row, key, ovsdb_optional_string(value));
        } else if (!strcmp(key, "host_key")) {
            check_host_key(value);
            json_object_set_new(row, key, ovsdb_optional_string(value));
        } else if (!strcmp(key, "login") || !strcmp(key, "bridge")
                   || !strcmp(key, "rundir")) {
            if (!strcmp(key, "rundir")) {
                check_dir("rundir", value);
            }
            json_object_set_new(row, key, json_string(value));
        } else if (!strcmp(key, "enabled")) {
            if (strcmp(value, "true") && strcmp(value, "false")) {
                ovs_fatal(0, "enabled: expected true or false");
            }
            json_object_set_new(row, key, json_boolean(!strcmp(value,
                                                               "true")));
        } else if (!strncmp(key, "external_ids:", 13) && key[13]) {
            json_array_append_new(del_keys, json_string(key + 13));
            if (value[0]) {
                json_array_append_new(ins, json_pack("[s, s]", key + 13,
                                                     value));
            }
        } else {
            ovs_fatal(0, "\"%s\": unknown column (endpoint, login, host_key, "
                      "bridge, rundir, enabled, external_ids:KEY)", key);
        }
        free(key);
    }

    json_array_append_new(ops, json_pack("{s:s, s:s, s:o, s:o}",
                                         "op", "update", "table", "Site",
                                         "where",
                                         ovsdb_where_string("name", argv[1]),
                                         "row", row));
    if (json_array_size(del_keys)) {
        json_array_append_new(
            ops, json_pack("{s:s, s:s, s:o, s:[[s, s, [s, o]], [s, s, [s, o]]]}",
                           "op", "mutate", "table", "Site",
                           "where", ovsdb_where_string("name", argv[1]),
                           "mutations",
                           "external_ids", "delete", "set", del_keys,
                           "external_ids", "insert", "map", ins));
    } else {
        json_decref(del_keys);
        json_decref(ins);
    }
    res = transact(ops);
    count = json_integer_value(json_object_get(json_array_get(res, 0),
                                               "count"));
    json_decref(res);
    if (!count) {
        ovs_fatal(0, "no site named %s", argv[1]);
    }
}

static int
compare_rows(const void *a_, const void *b_)
{
    json_t *const *a = a_, *const *b = b_;
    const char *na = json_string_value(json_object_get(*a, "name"));
    const char *nb = json_string_value(json_object_get(*b, "name"));

    return strcmp(na ? na : "", nb ? nb : "");
}

static const char *
or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

static void
cmd_list_sites(int argc, char *argv[] __attribute__((unused)))
{
    json_t *res, *rows, **v, *row;
    size_t n, i;

    if (argc != 1) {
        ovs_fatal(0, "list-sites takes no arguments");
    }
    res = transact(json_pack("[{s:s, s:s, s:[]}]", "op", "select",
                             "table", "Site", "where"));
    rows = json_object_get(json_array_get(res, 0), "rows");
    n = json_array_size(rows);
    v = calloc(n ? n : 1, sizeof *v);
    json_array_foreach (rows, i, row) {
        v[i] = row;
    }
    qsort(v, n, sizeof *v, compare_rows);

    printf("%-16s %-24s %-10s %-8s %-7s %s\n", "NAME", "ENDPOINT", "LOGIN",
           "BRIDGE", "ENABLED", "HOST_KEY");
    for (i = 0; i < n; i++) {
        struct sync_smap ids;
        char *ids_s;

        row = v[i];
        printf("%-16s %-24s %-10s %-8s %-7s %s",
               json_string_value(json_object_get(row, "name")),
               or_dash(ovsdb_datum_string(json_object_get(row, "endpoint"))),
               or_dash(ovsdb_datum_string(json_object_get(row, "login"))),
               or_dash(ovsdb_datum_string(json_object_get(row, "bridge"))),
               ovsdb_datum_bool(json_object_get(row, "enabled"))
               ? "true" : "false",
               or_dash(ovsdb_datum_string(json_object_get(row, "host_key"))));
        const char *rundir = ovsdb_datum_string(json_object_get(row,
                                                                "rundir"));
        if (rundir && rundir[0]) {
            printf(" rundir=%s", rundir);
        }
        sync_smap_init(&ids);
        ovsdb_datum_map(json_object_get(row, "external_ids"), &ids);
        ids_s = sync_smap_format(&ids);
        if (ids_s[0]) {
            printf(" external_ids={%s}", ids_s);
        }
        free(ids_s);
        sync_smap_destroy(&ids);
        putchar('\n');
    }
    free(v);
    json_decref(res);
}

int
main(int argc, char *argv[])
{
    enum {
        OPT_DB = UCHAR_MAX + 1, OPT_ENDPOINT, OPT_LOGIN, OPT_HOST_KEY,
        OPT_BRIDGE, OPT_RUNDIR, OPT_DISABLED, OPT_MAY_EXIST, OPT_IF_EXISTS,
        OVSDB_RPC_OPTION_ENUMS,
        VLOG_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"timeout", required_argument, NULL, 't'},
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"login", required_argument, NULL, OPT_LOGIN},
        {"host-key", required_argument, NULL, OPT_HOST_KEY},
        {"bridge", required_argument, NULL, OPT_BRIDGE},
        {"rundir", required_argument, NULL, OPT_RUNDIR},
        {"disabled", no_argument, NULL, OPT_DISABLED},
        {"may-exist", no_argument, NULL, OPT_MAY_EXIST},
        {"if-exists", no_argument, NULL, OPT_IF_EXISTS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        OVSDB_RPC_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(
        long_options);
    char *default_db = sync_default_remote(SYNC_REGISTRY_SOCKET);
    const char *cmd;
    char *error;
    int c;

    set_program_name(argv[0]);
    /* A command-line tool: warnings and errors on the console, as
     * ovs-vsctl. */
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_WARN);

    db_remotes = getenv("OVS_SSH_TAP_REGISTRY");
    if (!db_remotes || !db_remotes[0]) {
        db_remotes = default_db;
    }
    /* GNU getopt permutes, so that options may follow the command and its
     * arguments ("add-site NAME --endpoint=..."). */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            NULL)) != -1) {
        switch (c) {
        case OPT_DB: db_remotes = optarg; break;
        case 't': {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || s <= 0 || s > 86400) {
                ovs_fatal(0, "--timeout: expected seconds (1-86400)");
            }
            timeout_ms = s * 1000;
            break;
        }
        case OPT_ENDPOINT: opt_endpoint = optarg; break;
        case OPT_LOGIN: opt_login = optarg; break;
        case OPT_HOST_KEY: opt_host_key = optarg; break;
        case OPT_BRIDGE: opt_bridge = optarg; break;
        case OPT_RUNDIR: opt_rundir = optarg; break;
        case OPT_DISABLED: opt_disabled = true; break;
        case OPT_MAY_EXIST: opt_may_exist = true; break;
        case OPT_IF_EXISTS: opt_if_exists = true; break;
        case 'h': usage();
        case 'V':
            printf(PROGRAM_NAME " (ovs-ssh-tap) " SSH_TAP_VERSION "\n");
            return 0;
        OVSDB_RPC_OPTION_HANDLERS
        VLOG_OPTION_HANDLERS
        default:
            exit(1);
        }
    }
    free(short_options);
    ovsdb_rpc_options_apply();
    error = ovsdb_rpc_verify_remotes(db_remotes);
    if (error) {
        ovs_fatal(0, "--db: %s", error);
    }
    if (optind >= argc) {
        ovs_fatal(0, "missing command (use --help for help)");
    }
    argc -= optind;
    argv += optind;
    cmd = argv[0];
    read_only = !strcmp(cmd, "list-sites");
    if (!strcmp(cmd, "add-site")) {
        cmd_add_site(argc, argv);
    } else if (!strcmp(cmd, "del-site")) {
        cmd_del_site(argc, argv);
    } else if (!strcmp(cmd, "set-site")) {
        cmd_set_site(argc, argv);
    } else if (!strcmp(cmd, "list-sites")) {
        cmd_list_sites(argc, argv);
    } else {
        ovs_fatal(0, "unknown command \"%s\" (use --help for help)", cmd);
    }
    ovsdb_rpc_destroy(registry);
    free(default_db);
    return 0;
}
