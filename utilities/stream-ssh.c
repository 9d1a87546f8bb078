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

/* "ssh:" streams (stream-ssh.h).
 *
 * Each stream is a socketpair.  The stream reads and writes one end with
 * non-blocking calls, as OVS's unix streams do.  A thread of its own (the
 * "pump") logs in with plugin/ssh-tap-login.c, opens the channel, and then
 * copies bytes between the channel and the other end.  Closing the stream
 * closes its end, which the pump sees as the end of the connection.
 *
 * The state the two sides share (struct ssh_link) is reference counted:
 * the stream drops its reference when it is closed, the pump when it
 * finishes, so that closing never waits for a login in progress.  Each
 * pump is registered with ssh-tap-login.c's exit handler, which stops it
 * before libssh and OpenSSL are torn down at exit(). */

#include <config.h>
#include "stream-ssh.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "dirs.h"
#include "latch.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "ovs-atomic.h"
#include "ovs-rcu.h"
#include "ovs-thread.h"
#include "smap.h"
#include "socket-util.h"
#include "ssh-tap-login.h"
#include "ssh-tap-options.h"
#include "ssh-tap-pump.h"
#include "stream-provider.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(stream_ssh);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Name parsing. */

char *
stream_ssh_parse_name(const char *name, struct stream_ssh_name *n)
{
    char *authority = NULL;
    char *error = NULL;

    memset(n, 0, sizeof *n);
    if (!stream_ssh_is_ssh(name)) {
        return xasprintf("%s: not an ssh: name", name);
    }

    /* The socket is everything from the first ":/": a user or host name
     * holds neither, an IPv6 address is in brackets, and a port is
     * digits. */
    const char *rest = name + 4;
    const char *sep = strstr(rest, ":/");
    if (!sep) {
        return xasprintf("%s: missing the far socket (expected "
                         "ssh:[USER@]HOST[:PORT]:/ABSOLUTE/SOCKET)", name);
    }
    authority = xmemdup0(rest, sep - rest);
    char *why = ssh_tap_parse_remote(authority, &n->user, &n->host, &n->port);
    if (why) {
        error = xasprintf("%s: %s", name, why);
        free(why);
        goto error;
    }

    const char *path = sep + 1;
    if (strlen(path) >= sizeof ((struct sockaddr_un *) NULL)->sun_path) {
        error = xasprintf("%s: socket path longer than %zu bytes", name,
                          sizeof ((struct sockaddr_un *) NULL)->sun_path - 1);
        goto error;
    }
    for (const char *p = path; *p; p++) {
        if ((unsigned char) *p < ' ' || *p == 0x7f) {
            error = xasprintf("%s: control character in the socket path",
                              name);
            goto error;
        }
    }
    n->socket = xstrdup(path);
    free(authority);
    return NULL;

error:
    free(authority);
    stream_ssh_name_destroy(n);
    return error;
}

void
stream_ssh_name_destroy(struct stream_ssh_name *n)
{
    if (n) {
        free(n->user);
        free(n->host);
        free(n->socket);
        memset(n, 0, sizeof *n);
    }
}

bool
stream_ssh_is_ssh(const char *name)
{
    return !strncmp(name, "ssh:", 4);
}

char *
stream_ssh_verify_name(const char *name)
{
    struct stream_ssh_name n;
    char *error = stream_ssh_parse_name(name, &n);
    stream_ssh_name_destroy(&n);
    return error;
}

/* Configuration. */

static struct ovs_mutex config_mutex = OVS_MUTEX_INITIALIZER;
static char *config_key OVS_GUARDED_BY(config_mutex);
static char *config_known_hosts OVS_GUARDED_BY(config_mutex);
static char *config_host_key OVS_GUARDED_BY(config_mutex);
static char *config_proxy_command OVS_GUARDED_BY(config_mutex);

char *
stream_ssh_configure(const struct stream_ssh_config *cfg)
{
    if (cfg->host_key && !ssh_tap_host_key_valid(cfg->host_key)) {
        return xasprintf("--ssh-host-key: '%s' is not a SHA256 fingerprint "
                         "(expected SHA256: and 43 characters of base64, as "
                         "ssh-keygen -lf prints)", cfg->host_key);
    }
    if (cfg->host_key && cfg->known_hosts) {
        return xstrdup("--ssh-host-key and --ssh-known-hosts are mutually "
                       "exclusive: a pinned key replaces the known_hosts "
                       "file");
    }

    ovs_mutex_lock(&config_mutex);
    free(config_key);
    free(config_known_hosts);
    free(config_host_key);
    free(config_proxy_command);
    config_key = nullable_xstrdup(cfg->key);
    config_known_hosts = nullable_xstrdup(cfg->known_hosts);
    config_host_key = nullable_xstrdup(cfg->host_key);
    config_proxy_command = nullable_xstrdup(cfg->proxy_command);
    ovs_mutex_unlock(&config_mutex);
    return NULL;
}

/* The link: what a stream and its pump share. */

enum link_state {
    LINK_CONNECTING,            /* The pump is logging in. */
    LINK_UP,                    /* Channel open, bytes flowing. */
    LINK_DONE,                  /* Login failed, or the connection ended. */
};

struct ssh_link {
    struct ovs_refcount ref;    /* One for the stream, one for the pump. */
    struct ssh_tap_login_thread guard; /* Stops the pump at exit(). */

    /* Set at creation, then read-only. */
    char *name;                 /* The stream's name, for logs. */
    char *user, *host, *socket;
    uint16_t port;
    char *peer;                 /* "user@host:port". */
    char *key, *known_hosts, *host_key, *proxy_command;
    int pump_fd;                /* The pump's end of the socketpair. */

    struct latch exit_latch;    /* Wakes the pump to finish. */
    struct latch ready_latch;   /* Set when the login has succeeded or
                                 * failed: wakes stream_connect_wait(). */

    struct ovs_mutex mutex;
    bool exiting OVS_GUARDED;
    enum link_state state OVS_GUARDED;
    int error OVS_GUARDED;      /* errno value once the login failed. */
    /* Each is set at most once, so that pointers handed out stay valid
     * until the stream is closed. */
    char *reason OVS_GUARDED;   /* Why the login failed or the link ended. */
    char *seen_key OVS_GUARDED; /* Far host's fingerprint, once logged in. */
    char *cipher OVS_GUARDED;
};

/* The last reason each name failed or ended, for stream_ssh_last_error().
 * Bounded by the names a process uses, a handful. */
static struct ovs_mutex reasons_mutex = OVS_MUTEX_INITIALIZER;
static struct smap last_reasons OVS_GUARDED_BY(reasons_mutex)
    = SMAP_INITIALIZER(&last_reasons);

static void
link_unref(struct ssh_link *link)
{
    if (link && ovs_refcount_unref(&link->ref) == 1) {
        latch_destroy(&link->exit_latch);
        latch_destroy(&link->ready_latch);
        ovs_mutex_destroy(&link->mutex);
        free(link->name);
        free(link->user);
        free(link->host);
        free(link->socket);
        free(link->peer);
        free(link->key);
        free(link->known_hosts);
        free(link->host_key);
        free(link->proxy_command);
        free(link->reason);
        free(link->seen_key);
        free(link->cipher);
        free(link);
    }
}

static bool
link_exiting(const struct ssh_link *link_)
{
    struct ssh_link *link = CONST_CAST(struct ssh_link *, link_);
    ovs_mutex_lock(&link->mutex);
    bool exiting = link->exiting;
    ovs_mutex_unlock(&link->mutex);
    return exiting;
}

static void
link_set_exiting(struct ssh_link *link)
{
    ovs_mutex_lock(&link->mutex);
    link->exiting = true;
    ovs_mutex_unlock(&link->mutex);
    latch_set(&link->exit_latch);
}

static void
link_stop(void *link)
{
    link_set_exiting(link);
}

/* Records that the link is done: 'error' (0 after a connection that was
 * up) and 'reason' (malloc()ed, or NULL), taken unless a reason is already
 * there. */
static void
link_finish(struct ssh_link *link, int error, char *reason)
{
    ovs_mutex_lock(&link->mutex);
    if (link->state == LINK_CONNECTING) {
        link->error = error;
    }
    link->state = LINK_DONE;
    if (!link->reason) {
        link->reason = reason;
        reason = NULL;
    }
    if (link->reason) {
        ovs_mutex_lock(&reasons_mutex);
        smap_replace(&last_reasons, link->name, link->reason);
        ovs_mutex_unlock(&reasons_mutex);
    }
    ovs_mutex_unlock(&link->mutex);
    free(reason);
    latch_set(&link->ready_latch);
}

/* The pump. */

static bool
pump_interrupted(void *link)
{
    return link_exiting(link);
}

/* Copies bytes between 'channel' and the pump's end of the socketpair
 * (plugin/ssh-tap-pump.c) until either side closes, an error occurs or the
 * stream is closed.  Returns NULL if the stream side ended it, otherwise a
 * malloc()ed reason. */
static char *
pump_run(struct ssh_link *link, ssh_session ssh, ssh_channel channel)
{
    struct ssh_tap_pump pump;
    char *reason = NULL;

    /* Registry traffic is small: libssh's own window is plenty. */
    ssh_tap_pump_init(&pump, ssh, channel, link->pump_fd, link->peer,
                      SSH_TAP_PUMP_WINDOW_LIBSSH);
    for (;;) {
        enum ssh_tap_pump_status down = ssh_tap_pump_down(&pump, &reason);
        if (down == SSH_TAP_PUMP_FAR_EOF) {
            reason = xasprintf("%s closed the channel to %s", link->peer,
                               link->socket);
            break;
        } else if (ssh_tap_pump_ended(down)) {
            break;
        }
        enum ssh_tap_pump_status up = ssh_tap_pump_up(&pump, &reason);
        if (ssh_tap_pump_ended(up)) {
            break;
        }

        if (!ssh_channel_is_open(channel)
            && !ssh_tap_pump_down_pending(&pump)) {
            reason = xasprintf("%s closed the channel to %s", link->peer,
                               link->socket);
            break;
        }
        if (down == SSH_TAP_PUMP_MOVED || up == SSH_TAP_PUMP_MOVED) {
            continue;
        }

        bool woken;
        enum ssh_tap_pump_status st = ssh_tap_pump_wait(
            &pump, link->exit_latch.fds[0], 5000, &woken, &reason);
        if ((woken && link_exiting(link)) || ssh_tap_pump_ended(st)) {
            break;
        }
    }
    ssh_tap_pump_destroy(&pump);
    return reason;
}

static void *
pump_main(void *link_)
{
    struct ssh_link *link = link_;

    /* This thread touches no RCU-protected data: quiescent for good, so that
     * the main thread's ovsrcu_synchronize() never waits for it. */
    ovsrcu_quiesce_start();

    const struct ssh_tap_login_params params = {
        .name = link->name,
        .user = link->user,
        .host = link->host,
        .port = link->port,
        .key = link->key,
        .known_hosts = link->known_hosts,
        .host_key = link->host_key,
        .host_key_policy = SSH_TAP_HOST_KEY_STRICT,
        .host_key_option = "--ssh-host-key",
        .proxy_command = link->proxy_command,
        .interrupted = pump_interrupted,
        .wake_fd = link->exit_latch.fds[0],
        .aux = link,
    };
    ssh_session ssh = NULL;
    ssh_channel channel = NULL;

    char *error = ssh_tap_login(&params, &ssh);
    if (!error) {
        char *hint = xasprintf("does it exist, may %s use it, and does sshd "
                               "allow stream-local forwarding?", link->user);
        error = ssh_tap_login_open_unix(&params, ssh, link->socket, hint,
                                        &channel);
        free(hint);
    }
    if (error) {
        if (!link_exiting(link)) {
            VLOG_WARN_RL(&rl, "%s: %s", link->name, error);
        }
        link_finish(link, ECONNREFUSED, error);
    } else {
        VLOG_INFO("%s: connected to %s, channel to %s open (%s)", link->name,
                  link->peer, link->socket, ssh_tap_login_cipher(ssh));
        ovs_mutex_lock(&link->mutex);
        link->seen_key = ssh_tap_login_fingerprint(ssh);
        link->cipher = xstrdup(ssh_tap_login_cipher(ssh));
        link->state = LINK_UP;
        ovs_mutex_unlock(&link->mutex);
        latch_set(&link->ready_latch);

        char *reason = pump_run(link, ssh, channel);
        if (reason && !link_exiting(link)) {
            VLOG_INFO_RL(&rl, "%s: %s", link->name, reason);
        }
        link_finish(link, 0, reason);
        ssh_channel_close(channel);
        ssh_channel_free(channel);
    }
    if (ssh) {
        ssh_disconnect(ssh);
        ssh_free(ssh);
    }
    close(link->pump_fd);
    link->pump_fd = -1;

    ssh_tap_login_thread_remove(&link->guard);
    link_unref(link);
    return NULL;
}

/* The stream class. */

struct ssh_stream {
    struct stream stream;
    struct ssh_link *link;
    int fd;                     /* Our end of the socketpair. */
};

static const struct stream_class ssh_stream_class;

static struct ssh_stream *
ssh_stream_cast(struct stream *stream)
{
    stream_assert_class(stream, &ssh_stream_class);
    return CONTAINER_OF(stream, struct ssh_stream, stream);
}

/* The stream library calls the class's open only through stream_open(),
 * which does not know "ssh:": stream_ssh_open() is the way in. */
static int
ssh_stream_class_open(const char *name OVS_UNUSED, char *suffix OVS_UNUSED,
                      struct stream **streamp, uint8_t dscp OVS_UNUSED)
{
    *streamp = NULL;
    return EAFNOSUPPORT;
}

static void
ssh_stream_close(struct stream *stream)
{
    struct ssh_stream *s = ssh_stream_cast(stream);

    link_set_exiting(s->link);
    close(s->fd);
    link_unref(s->link);
    free(s);
}

static int
ssh_stream_connect(struct stream *stream)
{
    struct ssh_link *link = ssh_stream_cast(stream)->link;

    ovs_mutex_lock(&link->mutex);
    int error = (link->state == LINK_CONNECTING ? EAGAIN
                 : link->state == LINK_UP ? 0
                 : link->error ? link->error
                 : ECONNRESET);
    ovs_mutex_unlock(&link->mutex);
    return error;
}

static ssize_t
ssh_stream_recv(struct stream *stream, void *buffer, size_t n)
{
    struct ssh_stream *s = ssh_stream_cast(stream);
    ssize_t retval;

    do {
        retval = recv(s->fd, buffer, n, MSG_DONTWAIT);
    } while (retval < 0 && errno == EINTR);
    return retval >= 0 ? retval : -errno;
}

static ssize_t
ssh_stream_send(struct stream *stream, const void *buffer, size_t n)
{
    struct ssh_stream *s = ssh_stream_cast(stream);
    ssize_t retval;

    do {
        retval = send(s->fd, buffer, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (retval < 0 && errno == EINTR);
    return retval > 0 ? retval : retval == 0 ? -EAGAIN : -errno;
}

static void
ssh_stream_wait(struct stream *stream, enum stream_wait_type wait)
{
    struct ssh_stream *s = ssh_stream_cast(stream);

    switch (wait) {
    case STREAM_CONNECT:
        latch_wait(&s->link->ready_latch);
        break;
    case STREAM_SEND:
        poll_fd_wait(s->fd, POLLOUT);
        break;
    case STREAM_RECV:
        poll_fd_wait(s->fd, POLLIN);
        break;
    default:
        OVS_NOT_REACHED();
    }
}

static const struct stream_class ssh_stream_class = {
    "ssh",                      /* name */
    true,                       /* needs_probes */
    ssh_stream_class_open,      /* open */
    ssh_stream_close,           /* close */
    ssh_stream_connect,         /* connect */
    ssh_stream_recv,            /* recv */
    ssh_stream_send,            /* send */
    NULL,                       /* run */
    NULL,                       /* run_wait */
    ssh_stream_wait,            /* wait */
};

static char *
default_user(void)
{
    struct passwd pwd, *result = NULL;
    char buf[4096];

    if (getpwuid_r(geteuid(), &pwd, buf, sizeof buf, &result) || !result) {
        return NULL;
    }
    return xstrdup(result->pw_name);
}

int
stream_ssh_open(const char *name, struct stream **streamp)
{
    struct stream_ssh_name n;
    int fds[2];

    *streamp = NULL;
    char *error = stream_ssh_parse_name(name, &n);
    if (error) {
        VLOG_WARN("%s", error);
        free(error);
        return EINVAL;
    }
    if (!n.user) {
        n.user = default_user();
        if (!n.user) {
            VLOG_WARN("%s: cannot tell which user to log in as: name one "
                      "(ssh:USER@HOST...)", name);
            stream_ssh_name_destroy(&n);
            return EINVAL;
        }
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
        int err = errno;
        VLOG_WARN("%s: socketpair failed: %s", name, ovs_strerror(err));
        stream_ssh_name_destroy(&n);
        return err;
    }
    set_nonblocking(fds[0]);
    set_nonblocking(fds[1]);

    /* Before the first pump: see ssh-tap-login.h on exit(). */
    ssh_tap_login_init();

    struct ssh_link *link = xzalloc(sizeof *link);
    ovs_refcount_init(&link->ref);
    ovs_refcount_ref(&link->ref);
    link->name = xstrdup(name);
    link->user = n.user;
    link->host = n.host;
    link->port = n.port ? n.port : SSH_TAP_DEFAULT_PORT;
    link->socket = n.socket;
    link->peer = ssh_tap_login_peer(link->user, link->host, link->port);
    link->pump_fd = fds[1];
    latch_init(&link->exit_latch);
    latch_init(&link->ready_latch);
    ovs_mutex_init(&link->mutex);
    link->state = LINK_CONNECTING;

    ovs_mutex_lock(&config_mutex);
    link->key = (config_key ? xstrdup(config_key)
                 : xasprintf("%s/ssh-tap/id_ed25519", ovs_dbdir()));
    link->host_key = nullable_xstrdup(config_host_key);
    link->known_hosts = (config_known_hosts ? xstrdup(config_known_hosts)
                         : config_host_key ? NULL
                         : xasprintf("%s/ssh-tap/known_hosts", ovs_dbdir()));
    link->proxy_command = nullable_xstrdup(config_proxy_command);
    ovs_mutex_unlock(&config_mutex);

    struct ssh_stream *s = xzalloc(sizeof *s);
    stream_init(&s->stream, &ssh_stream_class, EAGAIN, xstrdup(name));
    s->link = link;
    s->fd = fds[0];

    ssh_tap_login_thread_add(&link->guard, link_stop, link);
    pthread_t thread = ovs_thread_create("ssh_stream", pump_main, link);
    pthread_detach(thread);

    *streamp = &s->stream;
    return 0;
}

const char *
stream_ssh_error(const struct stream *stream)
{
    if (!stream || stream->class != &ssh_stream_class) {
        return NULL;
    }
    struct ssh_link *link = CONTAINER_OF(stream, struct ssh_stream,
                                         stream)->link;
    ovs_mutex_lock(&link->mutex);
    const char *reason = link->state == LINK_DONE ? link->reason : NULL;
    ovs_mutex_unlock(&link->mutex);
    return reason;
}

char *
stream_ssh_last_error(const char *name)
{
    ovs_mutex_lock(&reasons_mutex);
    char *reason = nullable_xstrdup(smap_get(&last_reasons, name));
    ovs_mutex_unlock(&reasons_mutex);
    return reason;
}

const char *
stream_ssh_host_key(const struct stream *stream, const char **cipher)
{
    *cipher = NULL;
    if (!stream || stream->class != &ssh_stream_class) {
        return NULL;
    }
    struct ssh_link *link = CONTAINER_OF(stream, struct ssh_stream,
                                         stream)->link;
    ovs_mutex_lock(&link->mutex);
    const char *key = link->seen_key;
    *cipher = link->cipher;
    ovs_mutex_unlock(&link->mutex);
    return key;
}
