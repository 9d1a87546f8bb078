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

/* JSON-RPC client for OVSDB over unix and tcp sockets.  See
 * jsonrpc-client.h. */

#include <config.h>

#include "jsonrpc-client.h"
#include "sync-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A larger message than this from the server is a protocol error.  The
 * initial contents of a monitor of a large Open_vSwitch database are the
 * biggest thing we receive. */
#define JRPC_MAX_MSG (64 * 1024 * 1024)

struct jrpc {
    char *name;
    int fd;
    bool connecting;

    /* Output not yet written. */
    char *out;
    size_t out_len, out_size;

    /* Input: bytes received, and the scanner that splits them into JSON
     * texts (the stream is a bare sequence of JSON objects). */
    char *in;
    size_t in_len, in_size;
    size_t scan;                /* Next byte to look at. */
    size_t start;               /* Where the current text starts. */
    int depth;                  /* Nesting of {} and []. */
    bool in_string, escape;

    unsigned int next_id;
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

const char *
jrpc_strerror(int error)
{
    return error == JRPC_EOF ? "connection closed by peer" : strerror(error);
}

/* Starts a non-blocking connection to 'remote'.  Returns NULL and stores a
 * message in '*errp' (caller frees) on failure. */
struct jrpc *
jrpc_open(const char *remote, char **errp)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    struct jrpc *c;
    int fd, error;

    memset(&ss, 0, sizeof ss);
    if (!strncmp(remote, "unix:", 5)) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ss;
        const char *path = remote + 5;

        if (strlen(path) >= sizeof sun->sun_path) {
            *errp = xasprintf_("%s: socket path too long", remote);
            return NULL;
        }
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        ss_len = sizeof *sun;
    } else if (!strncmp(remote, "tcp:", 4)) {
        struct addrinfo hints, *ai;
        char *host = xstrdup_(remote + 4);
        char *port = strrchr(host, ':');
        char *h = host;

        if (!port || !port[1]) {
            *errp = xasprintf_("%s: expected tcp:HOST:PORT", remote);
            free(host);
            return NULL;
        }
        *port++ = '\0';
        if (h[0] == '[') {
            size_t len = strlen(h);
            if (len < 2 || h[len - 1] != ']') {
                *errp = xasprintf_("%s: bad [address]", remote);
                free(host);
                return NULL;
            }
            h[len - 1] = '\0';
            h++;
        }
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        error = getaddrinfo(h, port, &hints, &ai);
        if (error) {
            *errp = xasprintf_("%s: %s", remote, gai_strerror(error));
            free(host);
            return NULL;
        }
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        ss_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        free(host);
    } else {
        *errp = xasprintf_("%s: unsupported remote (use unix:PATH or "
                           "tcp:HOST:PORT)", remote);
        return NULL;
    }

    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errp = xasprintf_("%s: socket: %s", remote, strerror(errno));
        return NULL;
    }
    if (ss.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c = xrealloc_(NULL, sizeof *c);
    memset(c, 0, sizeof *c);
    c->name = xstrdup_(remote);
    c->fd = fd;
    if (connect(fd, (struct sockaddr *) &ss, ss_len) < 0) {
        if (errno == EINPROGRESS || errno == EAGAIN) {
            c->connecting = true;
        } else {
            *errp = xasprintf_("%s: connect: %s", remote, strerror(errno));
            jrpc_close(c);
            return NULL;
        }
    }
    return c;
}

void
jrpc_close(struct jrpc *c)
{
    if (c) {
        close(c->fd);
        free(c->name);
        free(c->out);
        free(c->in);
        free(c);
    }
}

const char *
jrpc_name(const struct jrpc *c)
{
    return c->name;
}

int
jrpc_fd(const struct jrpc *c)
{
    return c->fd;
}

bool
jrpc_is_connected(const struct jrpc *c)
{
    return !c->connecting;
}

/* The events to poll() for on jrpc_fd(). */
short
jrpc_poll_events(const struct jrpc *c)
{
    if (c->connecting) {
        return POLLOUT;
    }
    return POLLIN | (c->out_len ? POLLOUT : 0);
}

static int
flush_output(struct jrpc *c)
{
    while (c->out_len) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

        if (n < 0) {
            return errno == EAGAIN || errno == EINTR ? 0 : errno;
        }
        memmove(c->out, c->out + n, c->out_len - n);
        c->out_len -= n;
    }
    return 0;
}

/* Does the I/O that poll() said is possible ('revents'; 0 to just try):
 * finishes connecting, writes queued output, reads input.  Returns 0, an
 * errno value or JRPC_EOF. */
int
jrpc_run(struct jrpc *c, short revents)
{
    int error;

    if (c->connecting) {
        socklen_t len = sizeof error;

        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
            return 0;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
            return errno;
        }
        if (error == EINPROGRESS) {
            return 0;
        } else if (error) {
            return error;
        }
        c->connecting = false;
    }

    error = flush_output(c);
    if (error) {
        return error;
    }

    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        for (;;) {
            ssize_t n;

            if (c->in_size - c->in_len < 65536) {
                c->in_size = c->in_size * 2 + 65536;
                c->in = xrealloc_(c->in, c->in_size);
            }
            n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    break;
                }
                return errno;
            } else if (n == 0) {
                return JRPC_EOF;
            }
            c->in_len += n;
            if (c->in_len > JRPC_MAX_MSG + 65536) {
                /* jrpc_recv() has not been called to drain the buffer,
                 * or the message is too long: let the caller find out. */
                break;
            }
        }
    }
    return 0;
}

/* Takes the next complete message received.  Returns 0 and stores it in
 * '*msgp' (caller owns the reference), EAGAIN if none is complete yet,
 * EPROTO if the peer sent something that is not JSON or EMSGSIZE if it is
 * too long. */
int
jrpc_recv(struct jrpc *c, json_t **msgp)
{
    *msgp = NULL;
    while (c->scan < c->in_len) {
        char ch = c->in[c->scan];

        if (!c->depth) {
            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
                c->scan++;
                c->start = c->scan;
                continue;
            } else if (ch != '{' && ch != '[') {
                return EPROTO;
            }
            c->start = c->scan;
            c->depth = 1;
        } else if (c->in_string) {
            if (c->escape) {
                c->escape = false;
            } else if (ch == '\\') {
                c->escape = true;
            } else if (ch == '"') {
                c->in_string = false;
            }
        } else if (ch == '"') {
            c->in_string = true;
        } else if (ch == '{' || ch == '[') {
            c->depth++;
        } else if (ch == '}' || ch == ']') {
            if (!--c->depth) {
                size_t end = c->scan + 1;
                json_error_t jerr;
                json_t *msg;

                msg = json_loadb(c->in + c->start, end - c->start,
                                 JSON_DECODE_ANY, &jerr);
                memmove(c->in, c->in + end, c->in_len - end);
                c->in_len -= end;
                c->scan = c->start = 0;
                if (!msg) {
                    return EPROTO;
                }
                *msgp = msg;
                return 0;
            }
        }
        c->scan++;
        if (c->scan - c->start > JRPC_MAX_MSG) {
            return EMSGSIZE;
        }
    }
    return EAGAIN;
}

/* Queues 'msg' for sending and tries to send it.  Returns 0 or an errno
 * value. */
int
jrpc_send(struct jrpc *c, const json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    size_t len;

    if (!s) {
        return ENOMEM;
    }
    len = strlen(s);
    if (c->out_size - c->out_len < len) {
        c->out_size = 2 * (c->out_len + len);
        c->out = xrealloc_(c->out, c->out_size);
    }
    memcpy(c->out + c->out_len, s, len);
    c->out_len += len;
    free(s);
    return c->connecting ? 0 : flush_output(c);
}

/* Returns {"method": METHOD, "params": PARAMS, "id": ID}, with a null id
 * (a notification) if 'id' is NULL.  Steals 'params'. */
json_t *
jrpc_request(const char *method, json_t *params, const char *id)
{
    return json_pack("{s:s, s:o, s:o}", "method", method, "params", params,
                     "id", id ? json_string(id) : json_null());
}

bool
jrpc_is_method(const json_t *msg, const char *method)
{
    const char *m = json_string_value(json_object_get(msg, "method"));
    return m && !strcmp(m, method);
}

/* The reply to an "echo" request: its params, under its id. */
json_t *
jrpc_echo_reply(const json_t *request)
{
    json_t *params = json_object_get(request, "params");
    json_t *id = json_object_get(request, "id");

    return json_pack("{s:O, s:n, s:O}",
                     "result", params ? params : json_array(),
                     "error", "id", id ? id : json_null());
}

/* An RFC 7047 error object as "error: details" text (caller frees). */
char *
jrpc_error_text(const json_t *error)
{
    const char *e, *d;

    if (json_is_string(error)) {
        return xstrdup_(json_string_value(error));
    }
    e = json_string_value(json_object_get(error, "error"));
    d = json_string_value(json_object_get(error, "details"));
    if (e && d) {
        return xasprintf_("%s: %s", e, d);
    } else if (e) {
        return xstrdup_(e);
    }
    char *s = json_dumps(error, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : xstrdup_("unknown error");
}

/* Waits up to 'deadline' for 'c' to become readable (or writable, if it
 * has output) and runs it. */
static int
wait_and_run(struct jrpc *c, long long deadline)
{
    struct pollfd pfd = { .fd = c->fd, .events = jrpc_poll_events(c) };
    long long left = deadline - now_ms();
    int n;

    if (left <= 0) {
        return ETIMEDOUT;
    }
    n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int) left);
    if (n < 0) {
        return errno == EINTR ? 0 : errno;
    }
    return jrpc_run(c, pfd.revents);
}

/* Connects to 'remote', waiting up to 'timeout_ms'. */
struct jrpc *
jrpc_connect_block(const char *remote, int timeout_ms, char **errp)
{
    long long deadline = now_ms() + timeout_ms;
    struct jrpc *c = jrpc_open(remote, errp);

    while (c && c->connecting) {
        int error = wait_and_run(c, deadline);
        if (error) {
            *errp = xasprintf_("%s: %s", remote, jrpc_strerror(error));
            jrpc_close(c);
            return NULL;
        }
    }
    return c;
}

/* Sends request 'method' with 'params' (stolen) and waits up to
 * 'timeout_ms' for its reply, answering the server's echo requests
 * meanwhile.  Returns the reply's "result" (caller owns it), or NULL with
 * a message in '*errp'. */
json_t *
jrpc_call(struct jrpc *c, const char *method, json_t *params,
          int timeout_ms, char **errp)
{
    long long deadline = now_ms() + timeout_ms;
    json_t *req, *msg;
    char id[32];
    int error;

    snprintf(id, sizeof id, "call-%u", c->next_id++);
    req = jrpc_request(method, params, id);
    error = jrpc_send(c, req);
    json_decref(req);

    while (!error) {
        error = jrpc_recv(c, &msg);
        if (error == EAGAIN) {
            error = wait_and_run(c, deadline);
            continue;
        } else if (error) {
            break;
        }
        if (jrpc_is_method(msg, "echo")) {
            json_t *reply = jrpc_echo_reply(msg);
            error = jrpc_send(c, reply);
            json_decref(reply);
        } else {
            const char *rid = json_string_value(json_object_get(msg, "id"));

            if (rid && !strcmp(rid, id)) {
                json_t *err = json_object_get(msg, "error");
                json_t *result;

                if (err && !json_is_null(err)) {
                    *errp = jrpc_error_text(err);
                    json_decref(msg);
                    return NULL;
                }
                result = json_incref(json_object_get(msg, "result"));
                json_decref(msg);
                if (!result) {
                    *errp = xasprintf_("%s: reply without result", c->name);
                }
                return result;
            }
        }
        json_decref(msg);
    }
    *errp = xasprintf_("%s: %s", c->name, jrpc_strerror(error));
    return NULL;
}
