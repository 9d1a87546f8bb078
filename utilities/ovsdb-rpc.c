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

/* The utilities' OVSDB session: OVS's stream and reconnect underneath,
 * jansson for the JSON.  See ovsdb-rpc.h. */

#include <config.h>
#include "ovsdb-rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "reconnect.h"
#include "rpc-decode.h"
#include "stream.h"
#include "stream-ssh.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovsdb_rpc);

/* Ids of the session's own requests and monitor. */
#define ECHO_ID "ovsdb-rpc/echo"
#define SERVER_ID "ovsdb-rpc/_Server"

/* Bytes read from the stream per stream_recv(), and reads per run, so that
 * a busy server cannot keep the caller's loop to itself. */
#define RECV_SIZE 65536
#define MAX_RECVS 64

enum rpc_state {
    S_IDLE,                     /* No stream: backing off or given up. */
    S_CONNECTING,               /* stream_connect() in progress. */
    S_CHECKING,                 /* Connected, _Server check pending. */
    S_READY,                    /* Messages flow to and from the caller. */
};

struct ovsdb_rpc {
    char *remotes_str;          /* The list, as given. */
    char **remotes;             /* Its members. */
    size_t n_remotes;
    size_t cur;                 /* Index of the remote of 'stream'. */
    size_t next;                /* Index of the next remote to try. */

    struct ovsdb_rpc_options opts;
    char *database;             /* Owned copy of opts.database. */

    struct reconnect *reconnect;
    struct stream *stream;
    enum rpc_state state;
    struct rpc_decoder dec;

    char *out;                  /* Bytes queued for the server. */
    size_t out_len, out_ofs, out_size;

    json_t *inbox;              /* Array of messages for the caller. */

    unsigned int seqno;
    unsigned int n_failures;    /* Connection attempts failed in a row. */
    bool alive;
    bool answered;              /* The server sent something this time. */
    bool leader;                /* _Server: leader, or not clustered. */
    const char *role;           /* _Server: "leader", "follower"... */
    char *server_uuid;          /* _Server row of our database. */
    char *last_error;
};

/* See ovsdb-rpc.h. */
const char *
ovsdb_rpc_security_name(enum ovsdb_rpc_security sec)
{
    switch (sec) {
    case OVSDB_RPC_SEC_NONE: return "none";
    case OVSDB_RPC_SEC_UNIX: return "unix";
    case OVSDB_RPC_SEC_SSL: return "ssl";
    case OVSDB_RPC_SEC_SSH: return "ssh";
    case OVSDB_RPC_SEC_TCP_LOOPBACK: return "tcp (loopback)";
    case OVSDB_RPC_SEC_INSECURE: return "insecure";
    }
    return "none";
}

/* True if 'host' (a literal address or a name, without brackets) is this
 * host's loopback. */
static bool
host_is_loopback(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (!strcmp(host, "localhost")) {
        return true;
    }
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) {
            return true;
        }
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

/* Returns the security a connection to 'remote' would have.  A tcp: host
 * given by a name other than "localhost" counts as insecure: the name may
 * resolve anywhere. */
enum ovsdb_rpc_security
ovsdb_rpc_remote_security(const char *remote)
{
    if (!strncmp(remote, "unix:", 5)) {
        return OVSDB_RPC_SEC_UNIX;
    } else if (!strncmp(remote, "ssl:", 4)) {
        return OVSDB_RPC_SEC_SSL;
    } else if (stream_ssh_is_ssh(remote)) {
        return OVSDB_RPC_SEC_SSH;
    } else if (!strncmp(remote, "tcp:", 4)) {
        char *host = xstrdup(remote + 4);
        bool loopback;

        if (host[0] == '[') {
            char *end = strchr(host, ']');

            if (end) {
                *end = '\0';
            }
            loopback = host_is_loopback(host + 1);
        } else {
            char *colon = strchr(host, ':');

            if (colon) {
                *colon = '\0';
            }
            loopback = host_is_loopback(host);
        }
        free(host);
        return loopback ? OVSDB_RPC_SEC_TCP_LOOPBACK : OVSDB_RPC_SEC_INSECURE;
    }
    return OVSDB_RPC_SEC_NONE;
}

/* Splits 'remotes' at commas, dropping empty members and blanks around
 * them. */
static char **
split_remotes(const char *remotes, size_t *np)
{
    char *copy = xstrdup(remotes), *save = NULL, *tok;
    char **v = NULL;
    size_t n = 0;

    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t");
        size_t len = strcspn(tok, " \t");

        if (len) {
            v = xrealloc(v, (n + 1) * sizeof *v);
            v[n++] = xmemdup0(tok, len);
        }
    }
    free(copy);
    *np = n;
    return v;
}

/* Checks the syntax of every member of 'remotes'. */
char *
ovsdb_rpc_verify_remotes(const char *remotes)
{
    size_t n;
    char **v = split_remotes(remotes ? remotes : "", &n);
    char *error = NULL;

    if (!n) {
        error = xasprintf("\"%s\": no remote given", remotes ? remotes : "");
    }
    for (size_t i = 0; i < n; i++) {
        if (!error) {
            if (stream_ssh_is_ssh(v[i])) {
                error = stream_ssh_verify_name(v[i]);
            } else if (stream_verify_name(v[i])) {
                error = xasprintf("%s: unknown remote type (expected unix:, "
                                  "ssl:, ssh: or tcp:)", v[i]);
            } else if (!strncmp(v[i], "ssl:", 4)
                       && !stream_ssl_is_configured()) {
                error = xasprintf("%s: ssl: needs --private-key, "
                                  "--certificate and --ca-cert "
                                  "(or --bootstrap-ca-cert)", v[i]);
            }
        }
        free(v[i]);
    }
    free(v);
    return error;
}

/* Creates a session; see ovsdb-rpc.h. */
struct ovsdb_rpc *
ovsdb_rpc_create(const char *remotes, const struct ovsdb_rpc_options *opts)
{
    struct ovsdb_rpc *rpc = xzalloc(sizeof *rpc);

    rpc->remotes_str = xstrdup(remotes);
    rpc->remotes = split_remotes(remotes, &rpc->n_remotes);
    if (opts) {
        rpc->opts = *opts;
    }
    rpc->database = nullable_xstrdup(rpc->opts.database);
    rpc->opts.database = rpc->database;
    rpc_decoder_init(&rpc->dec, rpc->opts.max_message);
    rpc->inbox = json_array();
    rpc->alive = rpc->n_remotes > 0;
    if (!rpc->alive) {
        rpc->last_error = xasprintf("\"%s\": no remote given", remotes);
    }

    rpc->reconnect = reconnect_create(time_msec());
    reconnect_set_name(rpc->reconnect,
                       rpc->n_remotes ? rpc->remotes[0] : remotes);
    reconnect_set_backoff(rpc->reconnect, RECONNECT_DEFAULT_MIN_BACKOFF,
                          rpc->opts.max_backoff_ms > 0
                          ? rpc->opts.max_backoff_ms
                          : RECONNECT_DEFAULT_MAX_BACKOFF);
    reconnect_set_backoff_free_tries(rpc->reconnect, rpc->n_remotes);
    if (rpc->alive) {
        reconnect_enable(rpc->reconnect, time_msec());
    }
    return rpc;
}

static void
clear_inbox(struct ovsdb_rpc *rpc)
{
    json_array_clear(rpc->inbox);
}

/* Closes the stream and forgets the connection's state, without telling
 * 'reconnect'. */
static void
close_stream(struct ovsdb_rpc *rpc)
{
    if (rpc->state == S_READY) {
        rpc->seqno++;
    }
    stream_close(rpc->stream);
    rpc->stream = NULL;
    rpc->state = S_IDLE;
    rpc_decoder_reset(&rpc->dec);
    rpc->out_len = rpc->out_ofs = 0;
    clear_inbox(rpc);
    rpc->leader = false;
    rpc->role = NULL;
    free(rpc->server_uuid);
    rpc->server_uuid = NULL;
}

/* See ovsdb-rpc.h. */
void
ovsdb_rpc_destroy(struct ovsdb_rpc *rpc)
{
    if (!rpc) {
        return;
    }
    close_stream(rpc);
    reconnect_destroy(rpc->reconnect);
    for (size_t i = 0; i < rpc->n_remotes; i++) {
        free(rpc->remotes[i]);
    }
    free(rpc->remotes);
    free(rpc->remotes_str);
    free(rpc->database);
    rpc_decoder_destroy(&rpc->dec);
    free(rpc->out);
    json_decref(rpc->inbox);
    free(rpc->last_error);
    free(rpc);
}

static const char *
member(const struct ovsdb_rpc *rpc)
{
    return rpc->n_remotes ? rpc->remotes[rpc->cur] : rpc->remotes_str;
}

static void OVS_PRINTF_FORMAT(2, 3)
set_error(struct ovsdb_rpc *rpc, const char *fmt, ...)
{
    va_list args;
    char *msg;

    va_start(args, fmt);
    msg = xvasprintf(fmt, args);
    va_end(args);
    free(rpc->last_error);
    rpc->last_error = xasprintf("%s: %s", member(rpc), msg);
    free(msg);
}

/* Counts a connection attempt that failed before the server answered, and
 * gives up after options.max_failures of them in a row. */
static char *bootstrap_file;    /* --bootstrap-ca-cert, until done. */

/* True if OVS's SSL has just bootstrapped the CA certificate, and so closed
 * the connection, to connect again checked against it: a retry at once,
 * not a failure. */
static bool
just_bootstrapped(struct ovsdb_rpc *rpc)
{
    if (bootstrap_file && !access(bootstrap_file, F_OK)) {
        free(bootstrap_file);
        bootstrap_file = NULL;
        rpc->answered = true;
        reconnect_set_backoff_free_tries(rpc->reconnect, 2);
        return true;
    }
    return false;
}

static void
count_failure(struct ovsdb_rpc *rpc)
{
    if (rpc->answered) {
        return;
    }
    rpc->n_failures++;
    if (rpc->opts.max_failures && rpc->n_failures >= rpc->opts.max_failures) {
        rpc->alive = false;
        reconnect_disable(rpc->reconnect, time_msec());
    }
}

/* Drops the connection after 'error' (a positive errno value, EOF, or 0
 * for a protocol-level reason already in last_error), and moves on. */
static void
disconnect(struct ovsdb_rpc *rpc, int error)
{
    bool was_connected = rpc->state != S_CONNECTING;

    just_bootstrapped(rpc);
    close_stream(rpc);
    if (was_connected) {
        reconnect_disconnected(rpc->reconnect, time_msec(), error);
    } else {
        reconnect_connect_failed(rpc->reconnect, time_msec(), error);
    }
    count_failure(rpc);
}

/* Tries to send what is queued.  Returns 0 or a positive errno value. */
static int
flush(struct ovsdb_rpc *rpc)
{
    while (rpc->out_ofs < rpc->out_len) {
        int n = stream_send(rpc->stream, rpc->out + rpc->out_ofs,
                            rpc->out_len - rpc->out_ofs);

        if (n == -EAGAIN) {
            return 0;
        } else if (n < 0) {
            return -n;
        }
        rpc->out_ofs += n;
    }
    rpc->out_len = rpc->out_ofs = 0;
    return 0;
}

/* Queues 'msg' (stolen) on the stream, whatever the state. */
static void
queue(struct ovsdb_rpc *rpc, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    size_t len = strlen(s);

    json_decref(msg);
    if (rpc->out_ofs && rpc->out_ofs == rpc->out_len) {
        rpc->out_len = rpc->out_ofs = 0;
    }
    if (rpc->out_len + len > rpc->out_size) {
        rpc->out_size = MAX(rpc->out_len + len, 2 * rpc->out_size);
        rpc->out = xrealloc(rpc->out, rpc->out_size);
    }
    memcpy(rpc->out + rpc->out_len, s, len);
    rpc->out_len += len;
    free(s);
}

/* Starts connecting to the next remote. */
static void
connect_next(struct ovsdb_rpc *rpc)
{
    const char *name;
    int error, probe;

    rpc->cur = rpc->next;
    rpc->next = (rpc->next + 1) % rpc->n_remotes;
    name = rpc->remotes[rpc->cur];
    reconnect_set_name(rpc->reconnect, name);

    probe = rpc->opts.probe_interval_ms;
    if (probe == 0) {
        probe = RECONNECT_DEFAULT_PROBE_INTERVAL;
    }
    if (probe < 0 || !strncmp(name, "unix:", 5)) {
        probe = 0;
    }
    reconnect_set_probe_interval(rpc->reconnect, probe);

    rpc->answered = false;
    error = (stream_ssh_is_ssh(name)
             ? stream_ssh_open(name, &rpc->stream)
             : stream_open(name, &rpc->stream, DSCP_DEFAULT));
    if (error) {
        set_error(rpc, "%s", ovs_strerror(error));
        reconnect_connect_failed(rpc->reconnect, time_msec(), error);
        count_failure(rpc);
        return;
    }
    if (stream_ssh_is_ssh(name)) {
        /* lib/reconnect gives a connection attempt as little as a second,
         * too little for a whole SSH login on a busy host.  Counting the
         * login as connected lets it run until the inactivity probe gives
         * up on it (two probe intervals), or until it fails. */
        reconnect_connected(rpc->reconnect, time_msec());
    } else {
        reconnect_connecting(rpc->reconnect, time_msec());
    }
    rpc->state = S_CONNECTING;
}

static void
become_ready(struct ovsdb_rpc *rpc)
{
    rpc->state = S_READY;
    rpc->seqno++;
    rpc->n_failures = 0;
    /* A full round without backoff after the next failure. */
    reconnect_set_backoff_free_tries(rpc->reconnect, rpc->n_remotes);
    VLOG_INFO("%s: ready (%s%s%s)", member(rpc),
              ovsdb_rpc_security_name(ovsdb_rpc_security(rpc)),
              rpc->role ? ", " : "", rpc->role ? rpc->role : "");
}

static void
connected(struct ovsdb_rpc *rpc)
{
    reconnect_connected(rpc->reconnect, time_msec());
    if (ovsdb_rpc_remote_security(member(rpc)) == OVSDB_RPC_SEC_INSECURE) {
        VLOG_WARN("%s: plain TCP outside loopback: anyone on the path can "
                  "read this registry and rewrite its rows in flight "
                  "(endpoints, logins, host keys), and so take over the "
                  "mesh; use ssh: or ssl:", member(rpc));
    }
    if (!rpc->database) {
        rpc->leader = true;
        become_ready(rpc);
        return;
    }
    rpc->state = S_CHECKING;
    queue(rpc, ovsdb_rpc_request(
              "monitor",
              json_pack("[s, s, {s: {s: [s, s, s, s]}}]", "_Server",
                        SERVER_ID, "Database", "columns",
                        "name", "model", "connected", "leader"),
              SERVER_ID));
}

/* Returns the boolean of an OVSDB datum, false if it is none. */
static bool
datum_bool(const json_t *j)
{
    return json_is_true(j);
}

/* Applies a _Server "Database" table update (initial reply or "update"
 * notification): finds our database's row and decides whether this member
 * will do.  Returns false if it will not (last_error says why). */
static bool
server_update(struct ovsdb_rpc *rpc, const json_t *updates)
{
    const json_t *table = json_object_get(updates, "Database");
    const json_t *row = NULL;
    const char *uuid;
    json_t *change;

    json_object_foreach ((json_t *) table, uuid, change) {
        const json_t *new = json_object_get(change, "new");
        const char *name = json_string_value(json_object_get(new, "name"));

        if (name && !strcmp(name, rpc->database)) {
            free(rpc->server_uuid);
            rpc->server_uuid = xstrdup(uuid);
            row = new;
        } else if (!new && rpc->server_uuid
                   && !strcmp(uuid, rpc->server_uuid)) {
            free(rpc->server_uuid);
            rpc->server_uuid = NULL;
        }
    }
    if (!rpc->server_uuid) {
        set_error(rpc, "server has no database %s", rpc->database);
        return false;
    }
    if (!row) {
        return true;            /* Not about our database. */
    }

    const char *model = json_string_value(json_object_get(row, "model"));
    bool clustered = model && !strcmp(model, "clustered");

    rpc->leader = !clustered || datum_bool(json_object_get(row, "leader"));
    rpc->role = (clustered ? (rpc->leader ? "leader" : "follower")
                 : model && !strcmp(model, "relay") ? "relay"
                 : "standalone");
    if (clustered && !datum_bool(json_object_get(row, "connected"))) {
        set_error(rpc, "%s member not connected to its cluster",
                  rpc->database);
        return false;
    }
    if (rpc->opts.leader_only && !rpc->leader) {
        set_error(rpc, "not the leader of %s", rpc->database);
        return false;
    }
    return true;
}

/* Leaves a member that failed the _Server check for the next one. */
static void
move_on(struct ovsdb_rpc *rpc)
{
    VLOG_INFO("%s, trying the next remote", rpc->last_error);
    disconnect(rpc, 0);
}

/* Handles one message from the server.  Returns false if the connection
 * was dropped. */
static bool
handle_message(struct ovsdb_rpc *rpc, json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");
    const char *ids = json_string_value(id);

    if (ovsdb_rpc_is_method(msg, "echo") && id && !json_is_null(id)) {
        json_t *reply = json_pack("{s:O, s:n, s:O}", "result",
                                  json_object_get(msg, "params"), "error",
                                  "id", id);
        if (reply) {
            queue(rpc, reply);
        }
    } else if (ids && !strcmp(ids, ECHO_ID)
               && !json_object_get(msg, "method")) {
        /* Our probe's reply: the activity is all it was for. */
    } else if (ids && !strcmp(ids, SERVER_ID)
               && !json_object_get(msg, "method")) {
        const json_t *error = json_object_get(msg, "error");

        if (error && !json_is_null(error)) {
            /* No _Server (an old server): standalone. */
            rpc->leader = true;
            rpc->role = "standalone";
        } else if (!server_update(rpc, json_object_get(msg, "result"))) {
            move_on(rpc);
            return false;
        }
        if (rpc->state == S_CHECKING) {
            become_ready(rpc);
        }
    } else if (ovsdb_rpc_is_method(msg, "update")
               && json_is_string(json_array_get(
                                     json_object_get(msg, "params"), 0))
               && !strcmp(json_string_value(json_array_get(
                              json_object_get(msg, "params"), 0)),
                          SERVER_ID)) {
        if (!server_update(rpc, json_array_get(json_object_get(msg,
                                                               "params"),
                                                1))) {
            move_on(rpc);
            return false;
        }
    } else if (rpc->state == S_READY) {
        json_array_append(rpc->inbox, msg);
    } else {
        VLOG_DBG("%s: message before the _Server check, dropped",
                 member(rpc));
    }
    return true;
}

/* Reads what the server sent and handles each message. */
static void
receive(struct ovsdb_rpc *rpc)
{
    static char buf[RECV_SIZE];

    for (int i = 0; i < MAX_RECVS && rpc->stream; i++) {
        int n = stream_recv(rpc->stream, buf, sizeof buf);
        json_t *msg;
        int r;

        if (n == -EAGAIN) {
            reconnect_receive_attempted(rpc->reconnect, time_msec());
            return;
        } else if (n < 0) {
            const char *why = stream_ssh_error(rpc->stream);

            set_error(rpc, "%s", why ? why : ovs_strerror(-n));
            disconnect(rpc, -n);
            return;
        } else if (n == 0) {
            const char *why = stream_ssh_error(rpc->stream);

            set_error(rpc, "%s",
                      why ? why : "connection closed by the server");
            disconnect(rpc, EOF);
            return;
        }

        rpc->answered = true;
        reconnect_activity(rpc->reconnect, time_msec());
        rpc_decoder_feed(&rpc->dec, buf, n);
        while ((r = rpc_decoder_next(&rpc->dec, &msg)) == 1) {
            bool still = handle_message(rpc, msg);

            json_decref(msg);
            if (!still) {
                return;
            }
        }
        if (r < 0) {
            set_error(rpc, "%s", rpc_decoder_error(&rpc->dec));
            VLOG_WARN("%s", rpc->last_error);
            disconnect(rpc, EPROTO);
            return;
        }
    }
}

/* Does the session's work; see ovsdb-rpc.h. */
void
ovsdb_rpc_run(struct ovsdb_rpc *rpc)
{
    if (rpc->state == S_CONNECTING) {
        int error;

        stream_run(rpc->stream);
        error = stream_connect(rpc->stream);
        if (!error) {
            connected(rpc);
        } else if (error != EAGAIN) {
            const char *why = stream_ssh_error(rpc->stream);

            set_error(rpc, "%s", why ? why : ovs_strerror(error));
            VLOG_INFO("%s", rpc->last_error);
            disconnect(rpc, error);
        }
    }
    if (rpc->state >= S_CHECKING) {
        size_t backlog = rpc->out_len - rpc->out_ofs;
        int error;

        stream_run(rpc->stream);
        error = flush(rpc);
        if (error) {
            set_error(rpc, "%s", ovs_strerror(error));
            disconnect(rpc, error);
        } else {
            /* Only bytes that had waited in the queue count as activity:
             * a stalled connection takes a lot before send() blocks. */
            if (rpc->out_len - rpc->out_ofs < backlog) {
                reconnect_activity(rpc->reconnect, time_msec());
            }
            receive(rpc);
            if (rpc->stream && (error = flush(rpc)) != 0) {
                set_error(rpc, "%s", ovs_strerror(error));
                disconnect(rpc, error);
            }
        }
    }

    switch (reconnect_run(rpc->reconnect, time_msec())) {
    case RECONNECT_CONNECT:
        if (rpc->stream) {
            close_stream(rpc);
        }
        connect_next(rpc);
        break;

    case RECONNECT_DISCONNECT:
        set_error(rpc, "%s", rpc->state == S_CONNECTING
                  ? "connection attempt timed out"
                  : "no answer to the inactivity probe");
        VLOG_WARN("%s", rpc->last_error);
        disconnect(rpc, ETIMEDOUT);
        break;

    case RECONNECT_PROBE:
        if (rpc->state >= S_CHECKING) {
            queue(rpc, ovsdb_rpc_request("echo", json_array(), ECHO_ID));
            flush(rpc);
        }
        break;
    }
}

/* Arranges for poll_block() to wake when ovsdb_rpc_run() has work. */
void
ovsdb_rpc_wait(struct ovsdb_rpc *rpc)
{
    if (rpc->stream) {
        stream_run_wait(rpc->stream);
        if (rpc->state == S_CONNECTING) {
            stream_connect_wait(rpc->stream);
        } else {
            stream_recv_wait(rpc->stream);
            if (rpc->out_ofs < rpc->out_len) {
                stream_send_wait(rpc->stream);
            }
        }
    }
    if (json_array_size(rpc->inbox)) {
        poll_immediate_wake();
    }
    reconnect_wait(rpc->reconnect, time_msec());
}

/* See ovsdb-rpc.h. */
bool
ovsdb_rpc_is_ready(const struct ovsdb_rpc *rpc)
{
    return rpc->state == S_READY;
}

/* See ovsdb-rpc.h. */
unsigned int
ovsdb_rpc_get_seqno(const struct ovsdb_rpc *rpc)
{
    return rpc->seqno;
}

/* See ovsdb-rpc.h. */
bool
ovsdb_rpc_is_alive(const struct ovsdb_rpc *rpc)
{
    return rpc->alive;
}

/* Queues 'msg' (stolen) for the server, if the session is ready. */
int
ovsdb_rpc_send(struct ovsdb_rpc *rpc, json_t *msg)
{
    if (rpc->state != S_READY) {
        json_decref(msg);
        return ENOTCONN;
    }
    queue(rpc, msg);
    int error = flush(rpc);
    if (error) {
        set_error(rpc, "%s", ovs_strerror(error));
        disconnect(rpc, error);
    }
    return 0;
}

/* Returns the next message for the caller, or NULL. */
json_t *
ovsdb_rpc_recv(struct ovsdb_rpc *rpc)
{
    json_t *msg;

    if (!json_array_size(rpc->inbox)) {
        return NULL;
    }
    msg = json_incref(json_array_get(rpc->inbox, 0));
    json_array_remove(rpc->inbox, 0);
    return msg;
}

/* Drops the connection and moves on to the next remote. */
void
ovsdb_rpc_force_reconnect(struct ovsdb_rpc *rpc)
{
    if (rpc->stream) {
        disconnect(rpc, 0);
    }
    reconnect_force_reconnect(rpc->reconnect, time_msec());
}

/* See ovsdb-rpc.h. */
const char *
ovsdb_rpc_remotes(const struct ovsdb_rpc *rpc)
{
    return rpc->remotes_str;
}

/* See ovsdb-rpc.h. */
const char *
ovsdb_rpc_member(const struct ovsdb_rpc *rpc)
{
    return rpc->stream ? member(rpc) : NULL;
}

/* See ovsdb-rpc.h. */
bool
ovsdb_rpc_is_connected(const struct ovsdb_rpc *rpc)
{
    return rpc->state >= S_CHECKING;
}

/* See ovsdb-rpc.h. */
bool
ovsdb_rpc_is_leader(const struct ovsdb_rpc *rpc)
{
    return rpc->state >= S_CHECKING && rpc->leader;
}

/* See ovsdb-rpc.h. */
const char *
ovsdb_rpc_role(const struct ovsdb_rpc *rpc)
{
    return rpc->state >= S_CHECKING ? rpc->role : NULL;
}

/* See ovsdb-rpc.h. */
enum ovsdb_rpc_security
ovsdb_rpc_security(const struct ovsdb_rpc *rpc)
{
    return (rpc->state >= S_CHECKING
            ? ovsdb_rpc_remote_security(member(rpc))
            : OVSDB_RPC_SEC_NONE);
}

/* See ovsdb-rpc.h. */
const char *
ovsdb_rpc_last_error(const struct ovsdb_rpc *rpc)
{
    return rpc->last_error;
}

/* Runs one request to completion; see ovsdb-rpc.h. */
json_t *
ovsdb_rpc_call_block(struct ovsdb_rpc *rpc, const char *method,
                     json_t *params, long long int timeout_ms, char **errp)
{
    static unsigned int n_calls;
    long long int deadline = (timeout_ms > 0 ? time_msec() + timeout_ms
                              : LLONG_MAX);
    char *id = xasprintf("call%u", ++n_calls);
    unsigned int seqno = 0;
    json_t *result = NULL;
    bool sent = false;

    *errp = NULL;
    for (;;) {
        json_t *msg;

        ovsdb_rpc_run(rpc);
        if (!sent && ovsdb_rpc_is_ready(rpc)) {
            seqno = rpc->seqno;
            ovsdb_rpc_send(rpc, ovsdb_rpc_request(method, params, id));
            params = NULL;
            sent = true;
            ovsdb_rpc_run(rpc);
        }
        while ((msg = ovsdb_rpc_recv(rpc))) {
            const json_t *mid = json_object_get(msg, "id");

            if (!*errp && !result && json_is_string(mid)
                && !strcmp(json_string_value(mid), id)
                && !json_object_get(msg, "method")) {
                const json_t *error = json_object_get(msg, "error");

                if (error && !json_is_null(error)) {
                    char *text = ovsdb_rpc_error_text(error);

                    *errp = xasprintf("%s: %s", member(rpc), text);
                    free(text);
                } else {
                    result = json_incref(json_object_get(msg, "result"));
                    if (!result) {
                        *errp = xasprintf("%s: reply without a result",
                                          member(rpc));
                    }
                }
            }
            json_decref(msg);
        }
        if (result || *errp) {
            break;
        }
        if (sent && rpc->seqno != seqno) {
            *errp = xasprintf("%s (connection lost before the reply)",
                              rpc->last_error ? rpc->last_error
                              : member(rpc));
            break;
        }
        if (!rpc->alive) {
            *errp = xstrdup(rpc->last_error ? rpc->last_error
                            : "no remote answered");
            break;
        }
        if (time_msec() >= deadline) {
            *errp = xasprintf("timed out after %lld s%s%s%s",
                              timeout_ms / 1000,
                              sent ? " waiting for the reply" : "",
                              rpc->last_error ? "; last error: " : "",
                              rpc->last_error ? rpc->last_error : "");
            break;
        }
        ovsdb_rpc_wait(rpc);
        poll_timer_wait_until(deadline);
        poll_block();
    }
    json_decref(params);
    free(id);
    return result;
}

/* Builds a request; 'params' is stolen. */
json_t *
ovsdb_rpc_request(const char *method, json_t *params, const char *id)
{
    return json_pack("{s:s, s:o, s:s}", "method", method,
                     "params", params ? params : json_array(), "id", id);
}

/* True if 'msg' is a request or notification for 'method'. */
bool
ovsdb_rpc_is_method(const json_t *msg, const char *method)
{
    const char *m = json_string_value(json_object_get(msg, "method"));

    return m && !strcmp(m, method);
}

/* An operator's text for an RFC 7047 "error" member: "error: details". */
char *
ovsdb_rpc_error_text(const json_t *error)
{
    const char *e, *d;

    if (json_is_string(error)) {
        return xstrdup(json_string_value(error));
    }
    e = json_string_value(json_object_get(error, "error"));
    d = json_string_value(json_object_get(error, "details"));
    if (e && d) {
        return xasprintf("%s: %s", e, d);
    } else if (e) {
        return xstrdup(e);
    }

    char *s = json_dumps(error, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : xstrdup("unknown error");
}

/* The ssh: options of the command line. */
static char *ssh_opts[4];

/* Records one ssh: option. */
void
ovsdb_rpc_set_ssh_option(enum ovsdb_rpc_ssh_option opt, const char *value)
{
    free(ssh_opts[opt]);
    ssh_opts[opt] = xstrdup(value);
}

/* See ovsdb-rpc.h. */
void
ovsdb_rpc_set_bootstrap_ca_cert(const char *file)
{
    free(bootstrap_file);
    bootstrap_file = access(file, F_OK) ? xstrdup(file) : NULL;
    stream_ssl_set_ca_cert_file(file, true);
}

/* Applies the ssh: options; fatal if they are inconsistent. */
void
ovsdb_rpc_options_apply(void)
{
    struct stream_ssh_config cfg = {
        .key = ssh_opts[OVSDB_RPC_SSH_KEY],
        .known_hosts = ssh_opts[OVSDB_RPC_SSH_KNOWN_HOSTS],
        .host_key = ssh_opts[OVSDB_RPC_SSH_HOST_KEY],
        .proxy_command = ssh_opts[OVSDB_RPC_SSH_PROXY_COMMAND],
    };
    char *error = stream_ssh_configure(&cfg);

    if (error) {
        ovs_fatal(0, "%s", error);
    }
}

/* Prints the help of the remote options. */
void
ovsdb_rpc_options_usage(void)
{
    printf("\nRegistry remotes (comma-separated, tried in turn):\n"
           "  unix:PATH               a local ovsdb-server's socket\n"
           "  ssh:[USER@]HOST[:PORT]:/SOCKET\n"
           "                          SOCKET on HOST, through its sshd\n"
           "  ssl:HOST:PORT           TLS (--private-key etc. below)\n"
           "  tcp:HOST:PORT           plain TCP: insecure off loopback\n"
           "\nssh: options:\n"
           "  --ssh-key=FILE          private key (default: as ssh-tap "
           "ports)\n"
           "  --ssh-known-hosts=FILE  known_hosts file for host keys\n"
           "  --ssh-host-key=SHA256:...  pin the host key instead\n"
           "  --ssh-proxy-command=CMD connect through CMD (%%h, %%p, %%r)\n"
           "\nssl: options:\n"
           "  -p, --private-key=FILE  file with private key\n"
           "  -c, --certificate=FILE  file with certificate for private "
           "key\n"
           "  -C, --ca-cert=FILE      file with peer CA certificate\n"
           "  --bootstrap-ca-cert=FILE  file with peer CA certificate to "
           "read or create\n"
           "  --ssl-protocols=PROTOS  list of SSL protocols to enable\n"
           "  --ssl-ciphers=CIPHERS   list of SSL ciphers to enable\n");
}
