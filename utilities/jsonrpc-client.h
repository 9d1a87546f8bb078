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

#ifndef JSONRPC_CLIENT_H
#define JSONRPC_CLIENT_H 1

/* A small JSON-RPC 1.0 client for OVSDB (RFC 7047) over a plain stream
 * socket, with jansson for the JSON and poll() for the waiting.  Shared by
 * ovs-ssh-tap-sync (non-blocking, driven from its poll loop) and
 * ovs-ssh-tap-ctl (blocking, through jrpc_call()).
 *
 * Remotes are "unix:PATH" or "tcp:HOST:PORT" ("tcp:[V6ADDR]:PORT"), as
 * ovsdb-server's --remote=punix:/ptcp: listen on.  No SSL. */

#include <jansson.h>
#include <stdbool.h>

struct jrpc;

/* jrpc_run() and jrpc_recv() return this when the peer closed the
 * connection. */
#define JRPC_EOF (-1)

struct jrpc *jrpc_open(const char *remote, char **errp);
void jrpc_close(struct jrpc *);

const char *jrpc_name(const struct jrpc *);
int jrpc_fd(const struct jrpc *);
bool jrpc_is_connected(const struct jrpc *);
short jrpc_poll_events(const struct jrpc *);
int jrpc_run(struct jrpc *, short revents);
int jrpc_recv(struct jrpc *, json_t **msgp);
int jrpc_send(struct jrpc *, const json_t *msg);
const char *jrpc_strerror(int error);

/* Blocking use. */
struct jrpc *jrpc_connect_block(const char *remote, int timeout_ms,
                                char **errp);
json_t *jrpc_call(struct jrpc *, const char *method, json_t *params,
                  int timeout_ms, char **errp);

/* Helpers for building and reading RFC 7047 messages and data. */
json_t *jrpc_request(const char *method, json_t *params, const char *id);
bool jrpc_is_method(const json_t *msg, const char *method);
json_t *jrpc_echo_reply(const json_t *request);
char *jrpc_error_text(const json_t *error);

#endif /* jsonrpc-client.h */
