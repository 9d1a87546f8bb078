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

#include <config.h>

#include "ssh-tap-session.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "latch.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "ovs-atomic.h"
#include "ovs-rcu.h"
#include "ovs-thread.h"
#include "reconnect.h"
#include "seq.h"
#include "smap.h"
#include "socket-util.h"
#include "ssh-tap-login.h"
#include "ssh-tap-options.h"
#include "ssh-tap-pump.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ssh_tap_session);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Stack of a session thread.  ovs_thread_create() would give it the
 * process's default stack (8 MiB from RLIMIT_STACK), all of it resident under
 * vswitchd's --mlockall, per port; libssh and OpenSSL need a small fraction
 * of this. */
#define SESSION_STACK_SIZE (256 * 1024)

/* Socket buffer sizes for the socketpair between the pump and vswitchd's
 * main thread: the bounded queue in each direction. */
#define LINK_SOCKBUF (1024 * 1024)

enum session_state {
    S_BACKOFF,              /* Waiting before the next attempt. */
    S_CONNECTING,           /* Resolving, TCP connect, key exchange. */
    S_AUTHENTICATING,       /* Host key checked, public-key auth. */
    S_OPENING,              /* Opening the channel to the far socket. */
    S_UP,                   /* Channel open, bytes flowing. */
};

static const char *
session_state_name(enum session_state state)
{
    switch (state) {
    case S_BACKOFF: return "backoff";
    case S_CONNECTING: return "connecting";
    case S_AUTHENTICATING: return "authenticating";
    case S_OPENING: return "opening";
    case S_UP: return "up";
    }
    return "unknown";
}

struct ssh_tap_session {
    struct ovs_refcount ref;    /* One for the owner, one for the thread. */
    char *name;                 /* Interface name, for logs. */
    char *peer;                 /* "user@host:port", for logs and status. */
    struct ssh_tap_options opts;
    struct latch latch;         /* Wakes the thread: see 'exiting' and
                                 * 'kick'. */
    struct seq *seq;            /* Changed when there is news for the owner. */

    struct ovs_mutex mutex;
    bool exiting OVS_GUARDED;   /* The owner is gone: finish. */
    bool kick OVS_GUARDED;      /* Drop the connection, retry at once. */
    enum session_state state OVS_GUARDED;
    int link_fd OVS_GUARDED;    /* Owner's end of a new link, or -1. */
    bool changed OVS_GUARDED;
    char *last_error OVS_GUARDED;
    char *host_key OVS_GUARDED; /* "SHA256:..." of the last server seen. */
    char *cipher OVS_GUARDED;
    unsigned int reconnects OVS_GUARDED;

    struct ssh_tap_login_thread guard; /* Stops the thread at exit(). */
};

static void *session_thread(void *);
static void session_unref(struct ssh_tap_session *);
static void session_stop(void *);

/* Creates a session for the active ssh-tap port 'ifname' with 'opts' and
 * starts its thread, which starts connecting at once. */
struct ssh_tap_session *
ssh_tap_session_create(const char *ifname, const struct ssh_tap_options *opts)
{
    ssh_tap_login_init();

    struct ssh_tap_session *s = xzalloc(sizeof *s);
    ovs_refcount_init(&s->ref);
    ovs_refcount_ref(&s->ref);
    s->name = xstrdup(ifname);
    s->peer = ssh_tap_login_peer(opts->user, opts->host, opts->port);
    ssh_tap_options_clone(&s->opts, opts);
    latch_init(&s->latch);
    s->seq = seq_create();
    ovs_mutex_init(&s->mutex);
    s->state = S_CONNECTING;
    s->link_fd = -1;
    ssh_tap_login_thread_add(&s->guard, session_stop, s);

    /* Detached: the thread frees what it holds when it finishes and nobody
     * waits for it, so that destroying a port never blocks on a slow
     * connect.  Created directly rather than with ovs_thread_create() for
     * the small stack (see SESSION_STACK_SIZE); the thread uses nothing
     * from OVS that needs the latter's per-thread set-up. */
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SESSION_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int error = pthread_create(&thread, &attr, session_thread, s);
    if (error) {
        ovs_abort(error, "%s: cannot create SSH session thread", ifname);
    }
    pthread_attr_destroy(&attr);
    return s;
}

/* Stops 's': the thread notices, closes its connection and exits soon after,
 * without the caller waiting.  Closes any link not yet taken. */
void
ssh_tap_session_destroy(struct ssh_tap_session *s)
{
    if (!s) {
        return;
    }
    ovs_mutex_lock(&s->mutex);
    s->exiting = true;
    if (s->link_fd >= 0) {
        close(s->link_fd);
        s->link_fd = -1;
    }
    ovs_mutex_unlock(&s->mutex);
    latch_set(&s->latch);
    session_unref(s);
}

/* At exit(): makes the thread finish, as ssh_tap_session_destroy() does,
 * but leaves the owner's reference alone. */
static void
session_stop(void *s_)
{
    struct ssh_tap_session *s = s_;

    ovs_mutex_lock(&s->mutex);
    s->exiting = true;
    ovs_mutex_unlock(&s->mutex);
    latch_set(&s->latch);
}

static void
session_unref(struct ssh_tap_session *s)
{
    if (ovs_refcount_unref(&s->ref) == 1) {
        if (s->link_fd >= 0) {
            close(s->link_fd);
        }
        latch_destroy(&s->latch);
        seq_destroy(s->seq);
        ovs_mutex_destroy(&s->mutex);
        ssh_tap_options_destroy(&s->opts);
        free(s->last_error);
        free(s->host_key);
        free(s->cipher);
        free(s->peer);
        free(s->name);
        free(s);
    }
}

/* Makes 's' drop its connection, if it has one, and connect again at once,
 * without waiting out a backoff. */
void
ssh_tap_session_reconnect(struct ssh_tap_session *s)
{
    ovs_mutex_lock(&s->mutex);
    s->kick = true;
    ovs_mutex_unlock(&s->mutex);
    latch_set(&s->latch);
}

int
ssh_tap_session_take_link(struct ssh_tap_session *s)
{
    ovs_mutex_lock(&s->mutex);
    int fd = s->link_fd;
    s->link_fd = -1;
    ovs_mutex_unlock(&s->mutex);
    return fd;
}

bool
ssh_tap_session_changed(struct ssh_tap_session *s)
{
    ovs_mutex_lock(&s->mutex);
    bool changed = s->changed;
    s->changed = false;
    ovs_mutex_unlock(&s->mutex);
    return changed;
}

void
ssh_tap_session_wait(struct ssh_tap_session *s)
{
    ovs_mutex_lock(&s->mutex);
    if (s->changed || s->link_fd >= 0) {
        poll_immediate_wake();
    }
    ovs_mutex_unlock(&s->mutex);
    /* seq_read() after the check can miss a change made in between, but the
     * thread changes the seq after every update, so the next change wakes us
     * and the check above catches up. */
    seq_wait(s->seq, seq_read(s->seq));
}

void
ssh_tap_session_get_status(struct ssh_tap_session *s, struct smap *status)
{
    ovs_mutex_lock(&s->mutex);
    smap_add(status, "state", session_state_name(s->state));
    smap_add(status, "remote", s->peer);
    if (s->host_key) {
        smap_add(status, "host_key", s->host_key);
    }
    if (s->cipher) {
        smap_add(status, "cipher", s->cipher);
    }
    smap_add_format(status, "reconnects", "%u", s->reconnects);
    if (s->last_error) {
        smap_add(status, "last_error", s->last_error);
    }
    ovs_mutex_unlock(&s->mutex);
}

/* Thread side. */

static void
session_notify(struct ssh_tap_session *s)
    OVS_REQUIRES(s->mutex)
{
    s->changed = true;
    seq_change(s->seq);
}

static void
session_set_state(struct ssh_tap_session *s, enum session_state state)
{
    ovs_mutex_lock(&s->mutex);
    if (s->state != state) {
        s->state = state;
        session_notify(s);
    }
    ovs_mutex_unlock(&s->mutex);
}

/* Records 'error' (which the caller allocated) as the last error and logs
 * it, rate-limited. */
static void
session_set_error(struct ssh_tap_session *s, char *error)
{
    VLOG_WARN_RL(&rl, "%s: %s: %s", s->name, s->peer, error);
    ovs_mutex_lock(&s->mutex);
    free(s->last_error);
    s->last_error = error;
    session_notify(s);
    ovs_mutex_unlock(&s->mutex);
}

static bool
session_exiting(struct ssh_tap_session *s)
{
    ovs_mutex_lock(&s->mutex);
    bool exiting = s->exiting;
    ovs_mutex_unlock(&s->mutex);
    return exiting;
}

/* Returns true, once, if the owner asked for a reconnect. */
static bool
session_kicked(struct ssh_tap_session *s)
{
    latch_poll(&s->latch);
    ovs_mutex_lock(&s->mutex);
    bool kick = s->kick;
    s->kick = false;
    ovs_mutex_unlock(&s->mutex);
    return kick;
}

static void
session_login_progress(void *s_, enum ssh_tap_login_step step)
{
    struct ssh_tap_session *s = s_;

    session_set_state(s, (step == SSH_TAP_LOGIN_CONNECTING ? S_CONNECTING
                          : step == SSH_TAP_LOGIN_AUTHENTICATING
                          ? S_AUTHENTICATING
                          : S_OPENING));
}

static void
session_host_key_seen(void *s_, const char *fp)
{
    struct ssh_tap_session *s = s_;

    ovs_mutex_lock(&s->mutex);
    free(s->host_key);
    s->host_key = xstrdup(fp);
    ovs_mutex_unlock(&s->mutex);
}

static bool
session_login_interrupted(void *s_)
{
    return session_exiting(s_);
}

/* Logs in and opens the channel (plugin/ssh-tap-login.c), on the session's
 * own thread.  On success returns NULL and stores the session and channel;
 * otherwise returns a malloc()ed error. */
static char *
session_connect(struct ssh_tap_session *s, ssh_session *sshp,
                ssh_channel *channelp)
{
    const struct ssh_tap_options *o = &s->opts;
    const struct ssh_tap_login_params params = {
        .name = s->name,
        .user = o->user,
        .host = o->host,
        .port = o->port,
        .key = o->key,
        .known_hosts = o->known_hosts,
        .host_key = o->host_key,
        .host_key_policy = o->host_key_policy,
        .host_key_option = "options:host_key",
        .proxy_command = o->proxy_command,
        .ciphers = o->ciphers,
        .compression = o->compression,
        .progress = session_login_progress,
        .host_key_seen = session_host_key_seen,
        .interrupted = session_login_interrupted,
        .wake_fd = s->latch.fds[0],
        .aux = s,
    };
    ssh_session ssh;
    ssh_channel channel;

    *sshp = NULL;
    *channelp = NULL;
    char *error = ssh_tap_login(&params, &ssh);
    if (error) {
        return error;
    }

    if (o->remote_command) {
        error = ssh_tap_login_open_exec(&params, ssh, o->remote_command,
                                        "options:remote_command", &channel);
    } else {
        char *hint = xasprintf("is an ssh-tap port listening there, may %s "
                               "use it, and does sshd allow stream-local "
                               "forwarding?", o->user);
        error = ssh_tap_login_open_unix(&params, ssh, o->remote_socket, hint,
                                        &channel);
        free(hint);
    }
    if (error) {
        ssh_disconnect(ssh);
        ssh_free(ssh);
        return error;
    }

    ovs_mutex_lock(&s->mutex);
    free(s->cipher);
    s->cipher = xstrdup(ssh_tap_login_cipher(ssh));
    ovs_mutex_unlock(&s->mutex);

    *sshp = ssh;
    *channelp = channel;
    return NULL;
}

/* What the far command (options:remote_command) wrote to its stderr, read
 * as it arrives so that it never fills the channel's window. */
struct remote_stderr {
    struct ds line;             /* Partial line not yet logged. */
    char *last;                 /* Last complete line, or NULL. */
};

static void
remote_stderr_line(struct ssh_tap_session *s, struct remote_stderr *rs)
{
    if (rs->line.length) {
        VLOG_INFO_RL(&rl, "%s: remote command: %s", s->name,
                     ds_cstr(&rs->line));
        free(rs->last);
        rs->last = ds_steal_cstr(&rs->line);
    }
}

static void
session_drain_stderr(struct ssh_tap_session *s, ssh_channel channel,
                     struct remote_stderr *rs)
{
    char buf[512];
    int n;

    while ((n = ssh_channel_read_nonblocking(channel, buf, sizeof buf,
                                             1)) > 0) {
        for (int i = 0; i < n; i++) {
            unsigned char c = buf[i];
            if (c == '\n') {
                remote_stderr_line(s, rs);
            } else if (rs->line.length < 256) {
                /* Bytes from the far host: printable ASCII only, bounded. */
                ds_put_char(&rs->line, c >= ' ' && c < 0x7f ? c : '?');
            }
        }
    }
}

/* The far command's exit status, or -1 while none has arrived (or it died
 * of a signal).  libssh 0.11 replaced ssh_channel_get_exit_status(). */
static int
channel_exit_status(ssh_channel channel)
{
#if LIBSSH_VERSION_INT >= SSH_VERSION_INT(0, 11, 0)
    uint32_t code = UINT32_MAX;

    if (ssh_channel_get_exit_state(channel, &code, NULL, NULL) != SSH_OK
        || code > INT_MAX) {
        return -1;
    }
    return code;
#else
    return ssh_channel_get_exit_status(channel);
#endif
}

/* The error to report when the far command's channel ended: its exit status
 * and last words, or NULL if it exited with status 0 or not at all. */
static char *
remote_command_error(struct ssh_tap_session *s, ssh_channel channel,
                     struct remote_stderr *rs)
{
    session_drain_stderr(s, channel, rs);
    remote_stderr_line(s, rs);

    /* sshd sends the exit status after the command's stdout ends, so it may
     * still be on its way: wait for it, briefly. */
    int status = channel_exit_status(channel);
    for (int i = 0; status < 0 && i < 20 && ssh_channel_is_open(channel);
         i++) {
        ssh_session ssh = ssh_channel_get_session(channel);
        struct pollfd pfd = { .fd = ssh_get_fd(ssh), .events = POLLIN };
        poll(&pfd, 1, 100);
        status = channel_exit_status(channel);
    }
    if (status <= 0) {
        return NULL;
    }
    return xasprintf("options:remote_command '%s' on %s exited with status "
                     "%d%s%s%s", s->opts.remote_command, s->peer, status,
                     status == 127 ? " (command not found)" : "",
                     rs->last ? ": " : "", rs->last ? rs->last : "");
}

/* Tells reconnect that the connection is doing well, so that when it ends
 * the next attempt comes quickly.  Once a second is plenty for that. */
static void
session_activity(struct reconnect *fsm, long long int *last_activity)
{
    long long int now = time_msec();

    if (now - *last_activity >= 1000) {
        reconnect_activity(fsm, now);
        *last_activity = now;
    }
}

/* Returns true if the owner wants the pump to stop: it is going away, or
 * asked for a reconnect (then sets '*kicked'). */
static bool
session_pump_interrupted(struct ssh_tap_session *s, bool *kicked)
{
    if (session_exiting(s)) {
        return true;
    }
    if (session_kicked(s)) {
        *kicked = true;
        return true;
    }
    return false;
}

/* Copies bytes between 'channel' and 'sock' (plugin/ssh-tap-pump.c) until
 * either side closes, an error occurs or the owner asks to exit or to
 * reconnect ('*kicked' then).  Returns NULL on a clean close, otherwise a
 * malloc()ed error. */
static char *
session_pump(struct ssh_tap_session *s, ssh_session ssh, ssh_channel channel,
             int sock, struct reconnect *fsm, bool *kicked)
{
    struct remote_stderr rs = { .line = DS_EMPTY_INITIALIZER, .last = NULL };
    long long int last_activity = 0;
    struct ssh_tap_pump pump;
    char *error = NULL;

    ssh_tap_pump_init(&pump, ssh, channel, sock, s->peer,
                      SSH_TAP_PUMP_WINDOW_WIDE);
    for (;;) {
        enum ssh_tap_pump_status down = ssh_tap_pump_down(&pump, &error);
        if (ssh_tap_pump_ended(down)) {
            break;              /* EOF from the far end is a clean close. */
        }
        enum ssh_tap_pump_status up = ssh_tap_pump_up(&pump, &error);
        if (ssh_tap_pump_ended(up)) {
            break;
        }

        if (s->opts.remote_command) {
            session_drain_stderr(s, channel, &rs);
        }
        if (!ssh_channel_is_open(channel)) {
            error = xasprintf("%s closed the channel", s->peer);
            break;
        }
        if (down == SSH_TAP_PUMP_MOVED || up == SSH_TAP_PUMP_MOVED) {
            session_activity(fsm, &last_activity);
            continue;
        }

        /* Nothing moved: sleep until something can.  The timeout is long
         * enough that 100 idle ports cost next to nothing (keepalives wake
         * them every keepalive_interval anyway). */
        bool woken;
        enum ssh_tap_pump_status st = ssh_tap_pump_wait(&pump,
                                                        s->latch.fds[0], 5000,
                                                        &woken, &error);
        if ((woken && session_pump_interrupted(s, kicked))
            || ssh_tap_pump_ended(st)) {
            break;
        }
    }
    ssh_tap_pump_destroy(&pump);

    if (s->opts.remote_command && !error && !*kicked) {
        error = remote_command_error(s, channel, &rs);
    }
    ds_destroy(&rs.line);
    free(rs.last);
    return error;
}

/* Creates the socketpair for a link.  Returns 0 and stores the thread's end
 * in '*mine' and vswitchd's in '*theirs', or an errno value. */
static int
make_link_pair(int *mine, int *theirs)
{
    int fds[2];
    int bufsize = LINK_SOCKBUF;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
        return errno;
    }
    for (int i = 0; i < 2; i++) {
        setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
        set_nonblocking(fds[i]);
    }
    *mine = fds[0];
    *theirs = fds[1];
    return 0;
}

/* One connection: connect, hand a link to the owner, pump until it ends.
 * Returns 0 after a connection that came up and later ended cleanly,
 * otherwise a positive errno-style value, as reconnect expects. */
static int
session_attempt(struct ssh_tap_session *s, struct reconnect *fsm)
{
    ssh_session ssh;
    ssh_channel channel;
    int mine = -1, theirs = -1;

    char *error = session_connect(s, &ssh, &channel);
    if (error && session_exiting(s)) {
        /* Interrupted because the port is going away: nothing to say. */
        free(error);
        reconnect_connect_failed(fsm, time_msec(), ECONNABORTED);
        return ECONNABORTED;
    } else if (error) {
        session_set_error(s, error);
        reconnect_connect_failed(fsm, time_msec(), ECONNREFUSED);
        return ECONNREFUSED;
    }

    int err = make_link_pair(&mine, &theirs);
    if (err) {
        session_set_error(s, xasprintf("socketpair failed: %s",
                                       ovs_strerror(err)));
        ssh_channel_free(channel);
        ssh_disconnect(ssh);
        ssh_free(ssh);
        reconnect_connect_failed(fsm, time_msec(), err);
        return err;
    }

    VLOG_INFO("%s: connected to %s, channel to %s open (%s)", s->name,
              s->peer, (s->opts.remote_command ? s->opts.remote_command
                        : s->opts.remote_socket), ssh_get_cipher_out(ssh));
    reconnect_connected(fsm, time_msec());
    ovs_mutex_lock(&s->mutex);
    if (s->link_fd >= 0) {
        close(s->link_fd);
    }
    s->link_fd = theirs;
    s->state = S_UP;
    free(s->last_error);
    s->last_error = NULL;
    session_notify(s);
    ovs_mutex_unlock(&s->mutex);

    bool kicked = false;
    error = session_pump(s, ssh, channel, mine, fsm, &kicked);
    close(mine);
    ssh_channel_close(channel);
    ssh_channel_free(channel);
    ssh_disconnect(ssh);
    ssh_free(ssh);

    if (error) {
        session_set_error(s, error);
        err = EPROTO;
    } else {
        VLOG_INFO("%s: link to %s closed", s->name, s->peer);
        err = 0;
    }
    reconnect_disconnected(fsm, time_msec(), err);
    if (kicked) {
        /* Asked for: no backoff.  Disabling and enabling resets it. */
        VLOG_INFO("%s: reconnecting to %s as requested", s->name, s->peer);
        reconnect_disable(fsm, time_msec());
        reconnect_enable(fsm, time_msec());
    }
    ovs_mutex_lock(&s->mutex);
    s->reconnects++;
    session_notify(s);
    ovs_mutex_unlock(&s->mutex);
    return err;
}

static void *
session_thread(void *s_)
{
    struct ssh_tap_session *s = s_;

    /* Names the thread in logs ("ssh_tap") and in /proc. */
    set_subprogram_name("ssh_tap");

    /* This thread touches no RCU-protected data and spends its time in
     * libssh and poll(), so it stays quiescent for good: otherwise every
     * ovsrcu_synchronize() in the main thread would wait for it. */
    ovsrcu_quiesce_start();

    struct reconnect *fsm = reconnect_create(time_msec());

    reconnect_set_name(fsm, s->name);
    reconnect_set_quiet(fsm, true);
    reconnect_set_backoff(fsm, 1000, s->opts.max_backoff_ms);
    reconnect_set_probe_interval(fsm, 0);
    reconnect_enable(fsm, time_msec());

    while (!session_exiting(s)) {
        long long int now = time_msec();

        if (reconnect_run(fsm, now) == RECONNECT_CONNECT) {
            reconnect_connecting(fsm, now);
            session_attempt(s, fsm);
            continue;
        }

        session_set_state(s, S_BACKOFF);
        if (session_kicked(s)) {
            /* Leave the backoff at once: disabling and enabling resets it. */
            reconnect_disable(fsm, now);
            reconnect_enable(fsm, now);
            continue;
        }
        int timeout = reconnect_timeout(fsm, now);
        struct pollfd pfd = { .fd = s->latch.fds[0], .events = POLLIN };
        poll(&pfd, 1, timeout < 0 ? 1000 : MIN(timeout, 1000));
    }

    reconnect_destroy(fsm);
    ssh_tap_login_thread_remove(&s->guard);
    session_unref(s);
    return NULL;
}
