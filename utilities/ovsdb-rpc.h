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

#ifndef OVSDB_RPC_H
#define OVSDB_RPC_H 1

/* An OVSDB client session (RFC 7047 JSON-RPC) for the utilities, in the
 * manner of OVS's jsonrpc_session but with jansson for the JSON: OVS's
 * stream library for the transport (unix:, tcp:, ssl:), utilities/
 * stream-ssh.h for ssh:, lib/reconnect for backoff and inactivity probes,
 * utilities/rpc-decode.h for splitting the byte stream into messages.
 *
 * Remotes.  A comma-separated list, e.g. the members of a Raft cluster:
 *
 *     unix:PATH  ssl:HOST:PORT  ssh:[USER@]HOST[:PORT]:/SOCKET  tcp:HOST:PORT
 *
 * One connection at a time.  On a failure (connect, transport, probe
 * timeout, or a member that fails the _Server check below) the session
 * moves on to the next remote of the list, each remote of a round without
 * backoff, then with lib/reconnect's backoff.
 *
 * The _Server check.  With a 'database' given, the session first monitors
 * that database's row in the server's _Server database, as ovsdb-idl does:
 * a clustered member that is not connected to its cluster is left for the
 * next remote, and so is one that is not the leader when 'leader_only' is
 * set.  The check stays on for the life of the connection: if the member
 * later loses the cluster or the leadership, the session moves on.  A
 * server without _Server counts as standalone.  The session is "ready"
 * once the check has passed; only then do messages flow to and from the
 * caller, and each new ready connection changes the seqno (the caller
 * then sends its requests again, e.g. its monitor).
 *
 * Security.  Each connection is classified: unix, ssl, ssh, loopback tcp,
 * or insecure (tcp: to anything but a loopback address or "localhost").
 * An insecure connection logs a warning, once per connection, naming the
 * risk.
 *
 * The session answers the server's "echo" requests and sends its own
 * probes; messages with ids starting "ovsdb-rpc/" and monitor updates for
 * the monitor id "ovsdb-rpc/_Server" are its own and never reach the
 * caller, who must not use such ids.
 *
 * Not thread-safe: one thread owns a session. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "stream-ssl.h"

struct ovsdb_rpc;

/* How to connect; zero members take the defaults. */
struct ovsdb_rpc_options {
    /* The database whose row in _Server is checked (e.g. "SSH_Tap"), or
     * NULL for no check: ready as soon as connected. */
    const char *database;

    /* Accept only the leader of a clustered database (for writers, as
     * ovsdb-idl's default).  Without it, any member connected to its
     * cluster will do. */
    bool leader_only;

    /* Give up after this many connection attempts in a row that failed
     * before the server answered anything (refused, unreachable, login
     * failed...), e.g. the number of remotes for a command-line tool that
     * should fail fast.  A member that answers but fails the _Server check
     * does not count.  0: never give up. */
    unsigned int max_failures;

    int probe_interval_ms;      /* 0: 5000; -1: none (unix: has none). */
    int max_backoff_ms;         /* 0: 8000. */
    size_t max_message;         /* 0: RPC_DECODE_MAX_DEFAULT. */
};

/* The transport's security, for status reports. */
enum ovsdb_rpc_security {
    OVSDB_RPC_SEC_NONE,         /* Not connected. */
    OVSDB_RPC_SEC_UNIX,         /* unix: socket on this host. */
    OVSDB_RPC_SEC_SSL,          /* ssl: (TLS, peer checked by CA). */
    OVSDB_RPC_SEC_SSH,          /* ssh: (host key checked). */
    OVSDB_RPC_SEC_TCP_LOOPBACK, /* tcp: to a loopback address. */
    OVSDB_RPC_SEC_INSECURE,     /* tcp: to anything else. */
};

/* "none", "unix", "ssl", "ssh", "tcp (loopback)" or "insecure". */
const char *ovsdb_rpc_security_name(enum ovsdb_rpc_security);

/* The security a connection to 'remote' (one remote, not a list) would
 * have. */
enum ovsdb_rpc_security ovsdb_rpc_remote_security(const char *remote);

/* Checks the syntax of a remote list.  Returns NULL if every member is
 * well formed, otherwise a malloc()ed description naming the bad one. */
char *ovsdb_rpc_verify_remotes(const char *remotes);

/* Creates a session for 'remotes' and starts connecting (in the next
 * ovsdb_rpc_run()).  'opts' may be NULL; it is copied. */
struct ovsdb_rpc *ovsdb_rpc_create(const char *remotes,
                                   const struct ovsdb_rpc_options *opts);
void ovsdb_rpc_destroy(struct ovsdb_rpc *);

/* Does the session's work: connecting, sending, receiving, probes, the
 * _Server check, moving on.  Call it, then ovsdb_rpc_recv() until it
 * returns NULL, then ovsdb_rpc_wait() before poll_block(). */
void ovsdb_rpc_run(struct ovsdb_rpc *);
void ovsdb_rpc_wait(struct ovsdb_rpc *);

/* True once connected and past the _Server check: ovsdb_rpc_send() works
 * and ovsdb_rpc_recv() may return messages. */
bool ovsdb_rpc_is_ready(const struct ovsdb_rpc *);

/* Changes every time the session becomes ready or stops being ready. */
unsigned int ovsdb_rpc_get_seqno(const struct ovsdb_rpc *);

/* False once the session has given up (options.max_failures). */
bool ovsdb_rpc_is_alive(const struct ovsdb_rpc *);

/* Queues 'msg' (the reference is stolen) for the server.  Returns 0, or
 * ENOTCONN if the session is not ready (the message is dropped). */
int ovsdb_rpc_send(struct ovsdb_rpc *, json_t *msg);

/* Returns the next message from the server for the caller (a new
 * reference), or NULL if there is none now. */
json_t *ovsdb_rpc_recv(struct ovsdb_rpc *);

/* Drops the connection and moves on to the next remote, e.g. after a
 * reply that shows the server cannot serve this client. */
void ovsdb_rpc_force_reconnect(struct ovsdb_rpc *);

/* What an operator's status shows. */
const char *ovsdb_rpc_remotes(const struct ovsdb_rpc *); /* As given. */
/* The member connected to (or being connected to), or NULL. */
const char *ovsdb_rpc_member(const struct ovsdb_rpc *);
/* True if connected (the _Server check may still be running). */
bool ovsdb_rpc_is_connected(const struct ovsdb_rpc *);
/* True if the member is the leader of its cluster, or standalone. */
bool ovsdb_rpc_is_leader(const struct ovsdb_rpc *);
/* The member's role from its _Server row: "leader", "follower",
 * "standalone" or "relay"; NULL before the check or without one. */
const char *ovsdb_rpc_role(const struct ovsdb_rpc *);
enum ovsdb_rpc_security ovsdb_rpc_security(const struct ovsdb_rpc *);
/* The last failure, in an operator's words ("unix:/x.sock: connection
 * refused", "ssh:...: host key mismatch ...", "unix:/m2.sock: not the
 * leader of SSH_Tap"), or NULL if there was none.  Kept after a later
 * success, until the next failure. */
const char *ovsdb_rpc_last_error(const struct ovsdb_rpc *);

/* Blocking use, for command-line tools: runs the session until it is
 * ready, sends the request 'method' with 'params' (stolen), and waits for
 * its reply, all within 'timeout_ms' (0: no limit).  Returns the reply's
 * "result" (a new reference); on failure returns NULL and a malloc()ed
 * '*errp': the connection error, the reply's "error", "connection lost
 * before the reply", or a timeout.  Not retried after sending: a
 * transaction might have been committed. */
json_t *ovsdb_rpc_call_block(struct ovsdb_rpc *, const char *method,
                             json_t *params, long long int timeout_ms,
                             char **errp);

/* RFC 7047 message helpers. */

/* A request {"method": METHOD, "params": PARAMS (stolen), "id": ID}. */
json_t *ovsdb_rpc_request(const char *method, json_t *params,
                          const char *id);
/* True if 'msg' is a request or notification for 'method'. */
bool ovsdb_rpc_is_method(const json_t *msg, const char *method);
/* An operator's text for a reply's "error" member (malloc()ed). */
char *ovsdb_rpc_error_text(const json_t *error);

/* Command-line options for the remotes, for every utility that takes
 * them: the ssh: options (utilities/stream-ssh.h), OVS's own SSL options
 * (--private-key, --certificate, --ca-cert, --ssl-protocols,
 * --ssl-ciphers; lib/stream-ssl.h, whose short options -p, -c and -C they
 * take) and --bootstrap-ca-cert, as ovs-vsctl has them.  In a program:
 *
 *     enum { OPT_FOO = UCHAR_MAX + 1, OVSDB_RPC_OPTION_ENUMS };
 *     static const struct option long_options[] = {
 *         ..., OVSDB_RPC_LONG_OPTIONS, {NULL, 0, NULL, 0},
 *     };
 *     switch (c) { ... OVSDB_RPC_OPTION_HANDLERS }
 *     ...
 *     ovsdb_rpc_options_apply();     after the getopt loop
 */
enum ovsdb_rpc_ssh_option {
    OVSDB_RPC_SSH_KEY,
    OVSDB_RPC_SSH_KNOWN_HOSTS,
    OVSDB_RPC_SSH_HOST_KEY,
    OVSDB_RPC_SSH_PROXY_COMMAND,
};

#define OVSDB_RPC_OPTION_ENUMS                                  \
        OPT_SSH_KEY,                                            \
        OPT_SSH_KNOWN_HOSTS,                                    \
        OPT_SSH_HOST_KEY,                                       \
        OPT_SSH_PROXY_COMMAND,                                  \
        OPT_BOOTSTRAP_CA_CERT,                                  \
        SSL_OPTION_ENUMS

#define OVSDB_RPC_LONG_OPTIONS                                          \
        {"ssh-key", required_argument, NULL, OPT_SSH_KEY},              \
        {"ssh-known-hosts", required_argument, NULL, OPT_SSH_KNOWN_HOSTS}, \
        {"ssh-host-key", required_argument, NULL, OPT_SSH_HOST_KEY},    \
        {"ssh-proxy-command", required_argument, NULL,                  \
         OPT_SSH_PROXY_COMMAND},                                        \
        {"bootstrap-ca-cert", required_argument, NULL,                  \
         OPT_BOOTSTRAP_CA_CERT},                                        \
        STREAM_SSL_LONG_OPTIONS

#define OVSDB_RPC_OPTION_HANDLERS                                       \
        case OPT_SSH_KEY:                                               \
            ovsdb_rpc_set_ssh_option(OVSDB_RPC_SSH_KEY, optarg);        \
            break;                                                      \
        case OPT_SSH_KNOWN_HOSTS:                                       \
            ovsdb_rpc_set_ssh_option(OVSDB_RPC_SSH_KNOWN_HOSTS, optarg); \
            break;                                                      \
        case OPT_SSH_HOST_KEY:                                          \
            ovsdb_rpc_set_ssh_option(OVSDB_RPC_SSH_HOST_KEY, optarg);   \
            break;                                                      \
        case OPT_SSH_PROXY_COMMAND:                                     \
            ovsdb_rpc_set_ssh_option(OVSDB_RPC_SSH_PROXY_COMMAND, optarg); \
            break;                                                      \
        case OPT_BOOTSTRAP_CA_CERT:                                     \
            ovsdb_rpc_set_bootstrap_ca_cert(optarg);                    \
            break;                                                      \
        STREAM_SSL_OPTION_HANDLERS

/* Records one ssh: option (the string is copied). */
void ovsdb_rpc_set_ssh_option(enum ovsdb_rpc_ssh_option, const char *);

/* --bootstrap-ca-cert=FILE: stream_ssl_set_ca_cert_file(FILE, true), and
 * the connection that bootstraps FILE (which OVS's SSL then closes, to
 * connect again checked against it) does not count as a failure. */
void ovsdb_rpc_set_bootstrap_ca_cert(const char *file);

/* Applies the ssh: options given (stream_ssh_configure()); exits with a
 * message through ovs_fatal() if they are inconsistent. */
void ovsdb_rpc_options_apply(void);

/* Prints the options' help, as stream_usage() does. */
void ovsdb_rpc_options_usage(void);

#endif /* ovsdb-rpc.h */
