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
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include "ssh-tap-options.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ssh_tap_session);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Seconds that one connect, key exchange or authentication step may take. */
#define SSH_TAP_CONNECT_TIMEOUT 10

/* Size of each direction's copy buffer in the pump.  64 KiB holds dozens of
 * frames, so one ssh_channel_write() usually carries a whole batch. */
#define PUMP_BUF 65536

/* The receive window the pump keeps open to the far end once the link
 * carries bulk traffic.  By itself libssh 0.10 tops a channel's window up to
 * 1.28 MB only when it has fallen under 640 kB, so no more than about 0.6-1.2
 * MB are ever in flight towards us: ~220 Mbit/s with 20 ms of round trip
 * (docs/performance.md).  A read that asks for more than libssh holds and
 * has granted makes it grant the difference, so reading with a count of
 * RX_WINDOW keeps that much open; the destination must be that large, which
 * is why the buffer grows only for a link that shows it needs it. */
#define RX_WINDOW (4 * 1024 * 1024)

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
};

static void *session_thread(void *);
static void session_unref(struct ssh_tap_session *);

/* Creates a session for the active ssh-tap port 'ifname' with 'opts' and
 * starts its thread, which starts connecting at once. */
struct ssh_tap_session *
ssh_tap_session_create(const char *ifname, const struct ssh_tap_options *opts)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;
    if (ovsthread_once_start(&once)) {
        ssh_init();
        ovsthread_once_done(&once);
    }

    struct ssh_tap_session *s = xzalloc(sizeof *s);
    ovs_refcount_init(&s->ref);
    ovs_refcount_ref(&s->ref);
    s->name = xstrdup(ifname);
    s->peer = (strchr(opts->host, ':')
               ? xasprintf("%s@[%s]:%"PRIu16, opts->user, opts->host,
                           opts->port)
               : xasprintf("%s@%s:%"PRIu16, opts->user, opts->host,
                           opts->port));
    ssh_tap_options_clone(&s->opts, opts);
    latch_init(&s->latch);
    s->seq = seq_create();
    ovs_mutex_init(&s->mutex);
    s->state = S_CONNECTING;
    s->link_fd = -1;

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

/* Returns the SHA256 fingerprint of the server's host key as a malloc()ed
 * "SHA256:..." string, or NULL. */
static char *
server_fingerprint(ssh_session ssh)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;

    if (ssh_get_server_publickey(ssh, &key) == SSH_OK
        && !ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256,
                                   &hash, &hlen)) {
        char *s = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256,
                                           hash, hlen);
        if (s) {
            fp = xstrdup(s);
            ssh_string_free_char(s);
        }
        ssh_clean_pubkey_hash(&hash);
    }
    ssh_key_free(key);
    return fp;
}

/* Checks the host key of the server 'ssh' is talking to.  Returns NULL if it
 * is the expected one, otherwise a malloc()ed error message. */
static char *
verify_host_key(struct ssh_tap_session *s, ssh_session ssh)
{
    char *fp = server_fingerprint(ssh);
    if (!fp) {
        return xasprintf("could not read the host key of %s: %s",
                         s->peer, ssh_get_error(ssh));
    }

    ovs_mutex_lock(&s->mutex);
    free(s->host_key);
    s->host_key = xstrdup(fp);
    ovs_mutex_unlock(&s->mutex);

    char *error = NULL;
    if (s->opts.host_key) {
        if (strcmp(fp, s->opts.host_key)) {
            error = xasprintf("host key mismatch for %s: expected %s, got %s",
                              s->peer, s->opts.host_key, fp);
        }
    } else {
        switch (ssh_session_is_known_server(ssh)) {
        case SSH_KNOWN_HOSTS_OK:
            break;
        case SSH_KNOWN_HOSTS_CHANGED:
            error = xasprintf("host key mismatch for %s: %s lists a "
                              "different key, got %s", s->peer,
                              s->opts.known_hosts, fp);
            break;
        case SSH_KNOWN_HOSTS_OTHER:
            error = xasprintf("host key mismatch for %s: %s lists a key of "
                              "another type, got %s", s->peer,
                              s->opts.known_hosts, fp);
            break;
        case SSH_KNOWN_HOSTS_UNKNOWN:
        case SSH_KNOWN_HOSTS_NOT_FOUND:
            if (s->opts.host_key_policy == SSH_TAP_HOST_KEY_ACCEPT_NEW) {
                /* Trust on first use, as the operator asked: from now on
                 * the recorded key is the only one accepted. */
                if (ssh_session_update_known_hosts(ssh) == SSH_OK) {
                    VLOG_WARN("%s: recorded new host key %s for %s in %s "
                              "(host_key_policy=accept-new)", s->name, fp,
                              s->peer, s->opts.known_hosts);
                    break;
                }
                error = xasprintf("could not record the host key of %s in "
                                  "%s: %s", s->peer, s->opts.known_hosts,
                                  ssh_get_error(ssh));
                break;
            }
            error = xasprintf("unknown host key for %s (%s): not in %s; add "
                              "it there or pin it with options:host_key",
                              s->peer, fp, s->opts.known_hosts);
            break;
        case SSH_KNOWN_HOSTS_ERROR:
        default:
            error = xasprintf("could not check the host key of %s against "
                              "%s: %s", s->peer, s->opts.known_hosts,
                              ssh_get_error(ssh));
            break;
        }
    }
    free(fp);
    return error;
}

/* Largest private key file accepted.  An OpenSSH RSA 16384-bit key is
 * about 13 kB. */
#define KEY_FILE_MAX (64 * 1024)

/* Loads the private key, refusing one that others can read, as ssh does.
 * The mode is checked on the descriptor the key is then read from, so the
 * file checked is the file loaded even if the path is swapped meanwhile. */
static char *
load_key(const struct ssh_tap_session *s, ssh_key *keyp)
{
    const char *path = s->opts.key;
    struct stat st;
    char *error = NULL;

    *keyp = NULL;
    /* O_NONBLOCK: a FIFO in the key's place must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st)) {
        error = xasprintf("cannot read private key %s: %s", path,
                          ovs_strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        error = xasprintf("private key %s is not a regular file", path);
    } else if (st.st_mode & 077) {
        error = xasprintf("private key %s is accessible by others (mode "
                          "%04o): refusing it, as ssh does; chmod 600 it",
                          path, (unsigned int) (st.st_mode & 07777));
    } else if (st.st_size > KEY_FILE_MAX) {
        error = xasprintf("private key %s is too large (%lld bytes)", path,
                          (long long int) st.st_size);
    }
    if (error) {
        if (fd >= 0) {
            close(fd);
        }
        return error;
    }

    char *text = xmalloc(KEY_FILE_MAX + 1);
    size_t len;
    int retval = read_fully(fd, text, KEY_FILE_MAX, &len);
    if (retval && retval != EOF) {
        error = xasprintf("cannot read private key %s: %s", path,
                          ovs_strerror(retval));
    }
    close(fd);
    text[len] = '\0';
    if (!error && ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, keyp)
                  != SSH_OK) {
        error = xasprintf("cannot load private key %s (encrypted keys are "
                          "not supported)", path);
    }
    explicit_bzero(text, len);
    free(text);
    return error;
}

/* Connects, verifies the host key, authenticates and opens the channel.
 * Blocking, with SSH_TAP_CONNECT_TIMEOUT per step: this runs on the
 * session's own thread.  On success returns NULL and stores the session and
 * channel; otherwise returns a malloc()ed error. */
static char *
session_connect(struct ssh_tap_session *s, ssh_session *sshp,
                ssh_channel *channelp)
{
    const struct ssh_tap_options *o = &s->opts;
    long timeout = SSH_TAP_CONNECT_TIMEOUT;
    int no = 0, yes = 1;
    const char *compression = o->compression ? "yes" : "no";
    unsigned int port = o->port;
    char *error = NULL;
    ssh_key key = NULL;
    ssh_channel channel = NULL;

    *sshp = NULL;
    *channelp = NULL;

    error = load_key(s, &key);
    if (error) {
        return error;
    }

    ssh_session ssh = ssh_new();
    if (!ssh) {
        ssh_key_free(key);
        return xstrdup("out of memory creating SSH session");
    }
    /* Only what the Interface's options say: never ~/.ssh/config, the
     * agent, or the default identities of the user vswitchd runs as. */
    if (ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no)
        || ssh_options_set(ssh, SSH_OPTIONS_HOST, o->host)
        || ssh_options_set(ssh, SSH_OPTIONS_PORT, &port)
        || ssh_options_set(ssh, SSH_OPTIONS_USER, o->user)
        || ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout)
        || ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &yes)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_C_S, o->ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_S_C, o->ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_COMPRESSION, compression)
        || (o->proxy_command
            && ssh_options_set(ssh, SSH_OPTIONS_PROXYCOMMAND,
                               o->proxy_command))
        || (o->known_hosts
            && (ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, o->known_hosts)
                || ssh_options_set(ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
                                   o->known_hosts)))) {
        error = xasprintf("cannot set SSH options: %s", ssh_get_error(ssh));
        goto fail;
    }

    session_set_state(s, S_CONNECTING);
    if (ssh_connect(ssh) != SSH_OK) {
        error = xasprintf("cannot connect to %s: %s", s->peer,
                          ssh_get_error(ssh));
        goto fail;
    }

    error = verify_host_key(s, ssh);
    if (error) {
        goto fail;
    }

    session_set_state(s, S_AUTHENTICATING);
    int rc = ssh_userauth_publickey(ssh, NULL, key);
    if (rc != SSH_AUTH_SUCCESS) {
        error = xasprintf("public key authentication as %s to %s with %s "
                          "failed%s%s", o->user, s->peer, o->key,
                          rc == SSH_AUTH_ERROR ? ": " : "",
                          rc == SSH_AUTH_ERROR ? ssh_get_error(ssh) : "");
        goto fail;
    }

    session_set_state(s, S_OPENING);
    channel = ssh_channel_new(ssh);
    if (!channel) {
        error = xstrdup("out of memory creating SSH channel");
        goto fail;
    }
    if (o->remote_command) {
        /* A session channel running a command (ovs-ssh-tap-relay, or a
         * forced command) that speaks the framing on its stdin/stdout. */
        if (ssh_channel_open_session(channel) != SSH_OK
            || ssh_channel_request_exec(channel, o->remote_command)
               != SSH_OK) {
            error = xasprintf("%s refused to run options:remote_command "
                              "'%s': %s", s->peer, o->remote_command,
                              ssh_get_error(ssh));
            goto fail;
        }
    } else if (ssh_channel_open_forward_unix(channel, o->remote_socket,
                                             "127.0.0.1", 0) != SSH_OK) {
        error = xasprintf("%s refused to open a channel to %s (is an ssh-tap "
                          "port listening there, may %s use it, and does "
                          "sshd allow stream-local forwarding?): %s",
                          s->peer, o->remote_socket, o->user,
                          ssh_get_error(ssh));
        goto fail;
    }

    ovs_mutex_lock(&s->mutex);
    free(s->cipher);
    s->cipher = xstrdup(ssh_get_cipher_out(ssh));
    ovs_mutex_unlock(&s->mutex);

    ssh_key_free(key);
    *sshp = ssh;
    *channelp = channel;
    return NULL;

fail:
    if (channel) {
        ssh_channel_free(channel);
    }
    ssh_disconnect(ssh);
    ssh_free(ssh);
    ssh_key_free(key);
    return error;
}

/* Copies bytes between 'channel' and 'sock' until either side closes, an
 * error occurs or the owner asks to exit.  Returns NULL on a clean close,
 * otherwise a malloc()ed error. */
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
    int status = ssh_channel_get_exit_status(channel);
    for (int i = 0; status < 0 && i < 20 && ssh_channel_is_open(channel);
         i++) {
        struct pollfd pfd = { .fd = ssh_get_fd(ssh_channel_get_session(channel)),
                              .events = POLLIN };
        poll(&pfd, 1, 100);
        status = ssh_channel_get_exit_status(channel);
    }
    if (status <= 0) {
        return NULL;
    }
    return xasprintf("options:remote_command '%s' on %s exited with status "
                     "%d%s%s%s", s->opts.remote_command, s->peer, status,
                     status == 127 ? " (command not found)" : "",
                     rs->last ? ": " : "", rs->last ? rs->last : "");
}

static char *
session_pump(struct ssh_tap_session *s, ssh_session ssh, ssh_channel channel,
             int sock, struct reconnect *fsm, bool *kicked)
{
    long long int last_activity = 0;
    struct remote_stderr rs = { .line = DS_EMPTY_INITIALIZER, .last = NULL };

    uint8_t *down = xmalloc(PUMP_BUF);   /* channel -> sock */
    size_t down_size = PUMP_BUF;
    size_t since_grow = 0;               /* Bytes read since a window grow. */
    uint8_t *up = xmalloc(PUMP_BUF);     /* sock -> channel */
    size_t down_len = 0, down_ofs = 0;
    size_t up_len = 0, up_ofs = 0;
    char *error = NULL;

    ssh_set_blocking(ssh, 0);
    for (;;) {
        bool progress = false;

        /* Far end to vswitchd. */
        if (down_len == 0) {
            int n = ssh_channel_poll(channel, 0);
            if (n > 0) {
                if (down_size < RX_WINDOW && n >= PUMP_BUF / 2) {
                    /* A burst: this link is worth a bigger window. */
                    free(down);
                    down = xmalloc(RX_WINDOW);
                    down_size = RX_WINDOW;
                    since_grow = RX_WINDOW;
                }
                /* Asking for all of 'down' makes libssh top the window up to
                 * RX_WINDOW; once a quarter of it is used is often enough
                 * (each top-up is a packet to the far end). */
                uint32_t count = (down_size == RX_WINDOW
                                  && since_grow >= RX_WINDOW / 4
                                  ? RX_WINDOW : MIN(n, PUMP_BUF));
                n = ssh_channel_read_timeout(channel, down, count, 0, 0);
                if (count == RX_WINDOW) {
                    since_grow = 0;
                }
            }
            if (n == SSH_EOF) {
                break;
            } else if (n < 0) {
                error = xasprintf("SSH read from %s failed: %s", s->peer,
                                  ssh_get_error(ssh));
                break;
            }
            since_grow += n;
            down_len = n;
            down_ofs = 0;
        }
        if (down_len > down_ofs) {
            ssize_t n = send(sock, down + down_ofs, down_len - down_ofs,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                down_ofs += n;
                progress = true;
                if (down_ofs == down_len) {
                    down_len = down_ofs = 0;
                }
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                break;          /* vswitchd closed its end. */
            }
        }

        /* vswitchd to far end, no more than the channel's window allows so
         * that a non-blocking write takes all of it. */
        uint32_t window = ssh_channel_window_size(channel);
        if (up_len == 0 && window > 0) {
            ssize_t n = recv(sock, up, MIN(window, PUMP_BUF), MSG_DONTWAIT);
            if (n == 0) {
                break;          /* vswitchd closed its end. */
            } else if (n > 0) {
                up_len = n;
                up_ofs = 0;
            } else if (errno != EAGAIN && errno != EINTR) {
                break;
            }
        }
        if (up_len > up_ofs) {
            int n = ssh_channel_write(channel, up + up_ofs, up_len - up_ofs);
            if (n == SSH_ERROR) {
                error = xasprintf("SSH write to %s failed: %s", s->peer,
                                  ssh_get_error(ssh));
                break;
            } else if (n > 0) {
                up_ofs += n;
                progress = true;
                if (up_ofs == up_len) {
                    up_len = up_ofs = 0;
                }
            }
        }

        if (s->opts.remote_command) {
            session_drain_stderr(s, channel, &rs);
        }
        if (!ssh_channel_is_open(channel)) {
            error = xasprintf("%s closed the channel", s->peer);
            break;
        }
        if (progress) {
            /* Tell reconnect this connection is doing well, so that when it
             * ends the next attempt comes quickly.  Once a second is plenty
             * for that. */
            long long int now = time_msec();
            if (now - last_activity >= 1000) {
                reconnect_activity(fsm, now);
                last_activity = now;
            }
            continue;
        }

        /* Nothing moved: sleep until one of the descriptors is ready. */
        struct pollfd pfds[3] = {
            /* While vswitchd has not taken what we already read, leave the
             * SSH socket alone: that is the back-pressure towards the far
             * end (its window stops growing). */
            { .fd = ssh_get_fd(ssh), .events = down_len ? 0 : POLLIN },
            { .fd = sock, .events = 0 },
            { .fd = s->latch.fds[0], .events = POLLIN },
        };
        if (ssh_get_poll_flags(ssh) & SSH_WRITE_PENDING) {
            pfds[0].events |= POLLOUT;
        }
        if (down_len > down_ofs) {
            pfds[1].events |= POLLOUT;
        }
        if (up_len == 0 && ssh_channel_window_size(channel) > 0) {
            pfds[1].events |= POLLIN;
        }
        /* Readiness wakes us: libssh has consumed every complete packet it
         * read by the time the calls above return.  The timeout is only a
         * safety net, long enough that 100 idle ports cost next to nothing
         * (keepalives wake them every keepalive_interval anyway). */
        /* Acknowledge the far sshd's segments at once.  sshd does not set
         * TCP_NODELAY on a forwarding connection, so Nagle there holds its
         * next small segment (a ping reply, an ACK-sized frame) until ours
         * is acknowledged, and a delayed ACK here turned a 1 ms round trip
         * into 16 ms.  Quick-ack mode does not stick, hence every time. */
        int one = 1;
        setsockopt(pfds[0].fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        int retval = poll(pfds, 3, 5000);
        if (retval < 0 && errno != EINTR) {
            error = xasprintf("poll failed: %s", ovs_strerror(errno));
            break;
        }
        if (pfds[2].revents) {
            if (session_exiting(s)) {
                break;          /* The owner is going away. */
            }
            if (session_kicked(s)) {
                *kicked = true;
                break;
            }
        }
        if (pfds[1].revents & (POLLHUP | POLLERR) && !(pfds[1].revents
                                                       & POLLIN)) {
            break;
        }
        if (pfds[0].revents & POLLOUT) {
            ssh_blocking_flush(ssh, 0);
        }
    }

    if (s->opts.remote_command && !error && !*kicked) {
        error = remote_command_error(s, channel, &rs);
    }
    ds_destroy(&rs.line);
    free(rs.last);
    free(down);
    free(up);
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
    if (error) {
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
    session_unref(s);
    return NULL;
}
