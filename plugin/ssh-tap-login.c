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

#include "ssh-tap-login.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/crypto.h>
#endif

#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ssh_tap_login);

/* Largest private key file accepted.  An OpenSSH RSA 16384-bit key is
 * about 13 kB. */
#define KEY_FILE_MAX (64 * 1024)

/* Longest sleep between two looks at a libssh call in progress.  The
 * socket's readiness normally wakes us first; this only bounds the cost of
 * a readiness libssh does not report through ssh_get_poll_flags(). */
#define LOGIN_POLL_MS 50

/* One login in progress. */
struct login {
    const struct ssh_tap_login_params *p;
    char *peer;                 /* "user@host:port". */
    bool wake_ignored;          /* 'wake_fd' woke us without interrupting:
                                 * stop polling it, or it would spin. */
};

enum login_wait {
    LOGIN_AGAIN,                /* Call libssh again. */
    LOGIN_TIMEOUT,              /* The step's deadline passed. */
    LOGIN_INTERRUPTED,          /* The caller wants us to stop. */
};

char *
ssh_tap_login_peer(const char *user, const char *host, uint16_t port)
{
    return (strchr(host, ':')
            ? xasprintf("%s@[%s]:%"PRIu16, user, host, port)
            : xasprintf("%s@%s:%"PRIu16, user, host, port));
}

static bool
login_interrupted(struct login *l)
{
    return l->p->interrupted && l->p->interrupted(l->p->aux);
}

/* Sleeps until 'ssh' may make progress, the caller's wake_fd fires or
 * 'deadline' passes. */
static enum login_wait
login_wait(struct login *l, ssh_session ssh, long long int deadline)
{
    struct pollfd pfds[2];
    int n = 0;

    long long int now = time_msec();
    if (now >= deadline) {
        return LOGIN_TIMEOUT;
    }

    int fd = ssh_get_fd(ssh);
    if (fd >= 0) {
        pfds[n].fd = fd;
        pfds[n].events = POLLIN;
        if (ssh_get_poll_flags(ssh) & SSH_WRITE_PENDING) {
            pfds[n].events |= POLLOUT;
        }
        pfds[n++].revents = 0;
    }
    int wake = -1;
    if (l->p->wake_fd >= 0 && !l->wake_ignored) {
        wake = n;
        pfds[n].fd = l->p->wake_fd;
        pfds[n].events = POLLIN;
        pfds[n++].revents = 0;
    }

    int retval = poll(pfds, n, MIN(deadline - now, LOGIN_POLL_MS));
    if (retval > 0 && wake >= 0 && pfds[wake].revents) {
        if (login_interrupted(l)) {
            return LOGIN_INTERRUPTED;
        }
        l->wake_ignored = true;
    }
    return LOGIN_AGAIN;
}

static void
login_progress(struct login *l, enum ssh_tap_login_step step)
{
    if (l->p->progress) {
        l->p->progress(l->p->aux, step);
    }
}

char *
ssh_tap_login_fingerprint(ssh_session ssh)
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

const char *
ssh_tap_login_cipher(ssh_session ssh)
{
    const char *cipher = ssh_get_cipher_out(ssh);
    return cipher ? cipher : "unknown";
}

/* Checks the host key of the server 'ssh' is talking to.  Returns NULL if it
 * is the expected one, otherwise a malloc()ed error message. */
static char *
verify_host_key(struct login *l, ssh_session ssh)
{
    const struct ssh_tap_login_params *p = l->p;
    const char *pin_option = (p->host_key_option ? p->host_key_option
                              : "options:host_key");

    char *fp = ssh_tap_login_fingerprint(ssh);
    if (!fp) {
        return xasprintf("could not read the host key of %s: %s",
                         l->peer, ssh_get_error(ssh));
    }
    if (p->host_key_seen) {
        p->host_key_seen(p->aux, fp);
    }

    char *error = NULL;
    if (p->host_key) {
        if (strcmp(fp, p->host_key)) {
            error = xasprintf("host key mismatch for %s: expected %s, got %s",
                              l->peer, p->host_key, fp);
        }
    } else {
        switch (ssh_session_is_known_server(ssh)) {
        case SSH_KNOWN_HOSTS_OK:
            break;
        case SSH_KNOWN_HOSTS_CHANGED:
            error = xasprintf("host key mismatch for %s: %s lists a "
                              "different key, got %s", l->peer,
                              p->known_hosts, fp);
            break;
        case SSH_KNOWN_HOSTS_OTHER:
            error = xasprintf("host key mismatch for %s: %s lists a key of "
                              "another type, got %s", l->peer,
                              p->known_hosts, fp);
            break;
        case SSH_KNOWN_HOSTS_UNKNOWN:
        case SSH_KNOWN_HOSTS_NOT_FOUND:
            if (p->host_key_policy == SSH_TAP_HOST_KEY_ACCEPT_NEW) {
                /* Trust on first use, as the operator asked: from now on
                 * the recorded key is the only one accepted. */
                if (ssh_session_update_known_hosts(ssh) == SSH_OK) {
                    VLOG_WARN("%s: recorded new host key %s for %s in %s "
                              "(host_key_policy=accept-new)", p->name, fp,
                              l->peer, p->known_hosts);
                    break;
                }
                error = xasprintf("could not record the host key of %s in "
                                  "%s: %s", l->peer, p->known_hosts,
                                  ssh_get_error(ssh));
                break;
            }
            error = xasprintf("unknown host key for %s (%s): not in %s; add "
                              "it there or pin it with %s",
                              l->peer, fp, p->known_hosts, pin_option);
            break;
        case SSH_KNOWN_HOSTS_ERROR:
        default:
            error = xasprintf("could not check the host key of %s against "
                              "%s: %s", l->peer, p->known_hosts,
                              ssh_get_error(ssh));
            break;
        }
    }
    free(fp);
    return error;
}

/* The mode is checked on the descriptor the key is then read from, so the
 * file checked is the file loaded even if the path is swapped meanwhile. */
char *
ssh_tap_login_load_key(const char *path, ssh_key *keyp)
{
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

static char *
login_set_options(const struct ssh_tap_login_params *p, ssh_session ssh)
{
    long timeout = SSH_TAP_LOGIN_TIMEOUT;
    int no = 0, yes = 1;
    unsigned int port = p->port;
    const char *ciphers = p->ciphers ? p->ciphers : SSH_TAP_DEFAULT_CIPHERS;

    /* Only what the caller's options say: never ~/.ssh/config, the agent,
     * or the default identities of the user we run as. */
    if (ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no)
        || ssh_options_set(ssh, SSH_OPTIONS_HOST, p->host)
        || ssh_options_set(ssh, SSH_OPTIONS_PORT, &port)
        || ssh_options_set(ssh, SSH_OPTIONS_USER, p->user)
        || ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout)
        || ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &yes)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_C_S, ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_S_C, ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_COMPRESSION,
                           p->compression ? "yes" : "no")
        || (p->proxy_command
            && ssh_options_set(ssh, SSH_OPTIONS_PROXYCOMMAND,
                               p->proxy_command))
        || (p->known_hosts
            && (ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, p->known_hosts)
                || ssh_options_set(ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
                                   p->known_hosts)))) {
        return xasprintf("cannot set SSH options: %s", ssh_get_error(ssh));
    }
    return NULL;
}

static long long int
step_deadline(void)
{
    return time_msec() + SSH_TAP_LOGIN_TIMEOUT * 1000;
}

static char *
login_connect(struct login *l, ssh_session ssh)
{
    long long int deadline = step_deadline();
    enum login_wait w = LOGIN_AGAIN;
    int rc;

    while ((rc = ssh_connect(ssh)) == SSH_AGAIN
           && (w = login_wait(l, ssh, deadline)) == LOGIN_AGAIN) {
        continue;
    }
    if (rc == SSH_OK) {
        return NULL;
    } else if (w == LOGIN_INTERRUPTED) {
        return xstrdup("interrupted");
    } else if (w == LOGIN_TIMEOUT) {
        return xasprintf("cannot connect to %s: Timeout: no answer within "
                         "%d s", l->peer, SSH_TAP_LOGIN_TIMEOUT);
    } else {
        return xasprintf("cannot connect to %s: %s", l->peer,
                         ssh_get_error(ssh));
    }
}

static char *
login_auth(struct login *l, ssh_session ssh, ssh_key key)
{
    const struct ssh_tap_login_params *p = l->p;
    long long int deadline = step_deadline();
    enum login_wait w = LOGIN_AGAIN;
    int rc;

    while ((rc = ssh_userauth_publickey(ssh, NULL, key)) == SSH_AUTH_AGAIN
           && (w = login_wait(l, ssh, deadline)) == LOGIN_AGAIN) {
        continue;
    }
    if (rc == SSH_AUTH_SUCCESS) {
        return NULL;
    } else if (w == LOGIN_INTERRUPTED) {
        return xstrdup("interrupted");
    } else if (w == LOGIN_TIMEOUT) {
        return xasprintf("public key authentication as %s to %s with %s "
                         "failed: Timeout: no answer within %d s", p->user,
                         l->peer, p->key, SSH_TAP_LOGIN_TIMEOUT);
    }
    return xasprintf("public key authentication as %s to %s with %s "
                     "failed%s%s", p->user, l->peer, p->key,
                     rc == SSH_AUTH_ERROR ? ": " : "",
                     rc == SSH_AUTH_ERROR ? ssh_get_error(ssh) : "");
}

/* Threads registered by ssh_tap_login_thread_add(). */
static struct ovs_mutex threads_mutex = OVS_MUTEX_INITIALIZER;
static struct ovs_list threads OVS_GUARDED_BY(threads_mutex)
    = OVS_LIST_INITIALIZER(&threads);

static void
login_atexit(void)
{
    struct ssh_tap_login_thread *t;

    ovs_mutex_lock(&threads_mutex);
    LIST_FOR_EACH (t, node, &threads) {
        t->stop(t->aux);
    }
    ovs_mutex_unlock(&threads_mutex);

    long long int deadline = time_msec() + SSH_TAP_LOGIN_EXIT_WAIT_MS;
    for (;;) {
        ovs_mutex_lock(&threads_mutex);
        size_t n = ovs_list_size(&threads);
        ovs_mutex_unlock(&threads_mutex);
        if (!n) {
            break;
        } else if (time_msec() >= deadline) {
            VLOG_WARN("exiting with %"PRIuSIZE" SSH thread(s) still running",
                      n);
            break;
        }
        xnanosleep(5 * 1000 * 1000);
    }
}

void
ssh_tap_login_init(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;
    if (ovsthread_once_start(&once)) {
        ssh_init();
#ifdef HAVE_OPENSSL
        /* Not 0 as options: with none, it returns before registering its
         * exit handler. */
        OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS
                            | OPENSSL_INIT_ADD_ALL_DIGESTS, NULL);
#endif
        atexit(login_atexit);
        ovsthread_once_done(&once);
    }
}

void
ssh_tap_login_thread_add(struct ssh_tap_login_thread *t,
                         void (*stop)(void *aux), void *aux)
{
    t->stop = stop;
    t->aux = aux;
    ovs_mutex_lock(&threads_mutex);
    ovs_list_push_back(&threads, &t->node);
    ovs_mutex_unlock(&threads_mutex);
}

void
ssh_tap_login_thread_remove(struct ssh_tap_login_thread *t)
{
    ovs_mutex_lock(&threads_mutex);
    ovs_list_remove(&t->node);
    ovs_mutex_unlock(&threads_mutex);
}

char *
ssh_tap_login(const struct ssh_tap_login_params *p, ssh_session *sshp)
{
    /* Normally done already, on the main thread. */
    ssh_tap_login_init();

    struct login l = { .p = p,
                       .peer = ssh_tap_login_peer(p->user, p->host,
                                                  p->port) };
    ssh_key key = NULL;
    ssh_session ssh = NULL;

    *sshp = NULL;
    char *error = ssh_tap_login_load_key(p->key, &key);
    if (error) {
        goto out;
    }

    ssh = ssh_new();
    if (!ssh) {
        error = xstrdup("out of memory creating SSH session");
        goto out;
    }
    error = login_set_options(p, ssh);
    if (error) {
        goto out;
    }
    /* Non-blocking, so that each wait can also watch the caller's wake_fd:
     * quitting never waits for a step's timeout. */
    ssh_set_blocking(ssh, 0);

    login_progress(&l, SSH_TAP_LOGIN_CONNECTING);
    error = login_connect(&l, ssh);
    if (!error) {
        error = verify_host_key(&l, ssh);
    }
    if (!error && login_interrupted(&l)) {
        error = xstrdup("interrupted");
    }
    if (!error) {
        login_progress(&l, SSH_TAP_LOGIN_AUTHENTICATING);
        error = login_auth(&l, ssh, key);
    }
    if (!error && login_interrupted(&l)) {
        error = xstrdup("interrupted");
    }

out:
    if (error && ssh) {
        ssh_disconnect(ssh);
        ssh_free(ssh);
        ssh = NULL;
    }
    ssh_key_free(key);
    free(l.peer);
    *sshp = ssh;
    return error;
}

/* The end of a failed channel request's error: libssh's reason, or why
 * there is none. */
static char *
channel_failure(enum login_wait w, ssh_session ssh)
{
    if (w == LOGIN_TIMEOUT) {
        return xasprintf("Timeout: no answer within %d s",
                         SSH_TAP_LOGIN_TIMEOUT);
    } else if (w == LOGIN_INTERRUPTED) {
        return xstrdup("interrupted");
    }
    return xstrdup(ssh_get_error(ssh));
}

char *
ssh_tap_login_open_unix(const struct ssh_tap_login_params *p,
                        ssh_session ssh, const char *path, const char *hint,
                        ssh_channel *channelp)
{
    struct login l = { .p = p };

    *channelp = NULL;
    login_progress(&l, SSH_TAP_LOGIN_OPENING);
    ssh_channel channel = ssh_channel_new(ssh);
    if (!channel) {
        return xstrdup("out of memory creating SSH channel");
    }
    long long int deadline = step_deadline();
    enum login_wait w = LOGIN_AGAIN;
    int rc;
    while ((rc = ssh_channel_open_forward_unix(channel, path, "127.0.0.1",
                                               0)) == SSH_AGAIN
           && (w = login_wait(&l, ssh, deadline)) == LOGIN_AGAIN) {
        continue;
    }
    if (rc != SSH_OK) {
        char *peer = ssh_tap_login_peer(p->user, p->host, p->port);
        char *why = channel_failure(w, ssh);
        char *error = xasprintf("%s refused to open a channel to %s%s%s%s: "
                                "%s", peer, path, hint ? " (" : "",
                                hint ? hint : "", hint ? ")" : "", why);
        free(why);
        free(peer);
        ssh_channel_free(channel);
        return error;
    }
    *channelp = channel;
    return NULL;
}

char *
ssh_tap_login_open_exec(const struct ssh_tap_login_params *p,
                        ssh_session ssh, const char *command,
                        const char *what, ssh_channel *channelp)
{
    struct login l = { .p = p };

    *channelp = NULL;
    login_progress(&l, SSH_TAP_LOGIN_OPENING);
    ssh_channel channel = ssh_channel_new(ssh);
    if (!channel) {
        return xstrdup("out of memory creating SSH channel");
    }
    /* A session channel running a command (ovs-ssh-tap-relay, or a forced
     * command) that speaks the framing on its stdin/stdout. */
    long long int deadline = step_deadline();
    enum login_wait w = LOGIN_AGAIN;
    int rc;
    while ((rc = ssh_channel_open_session(channel)) == SSH_AGAIN
           && (w = login_wait(&l, ssh, deadline)) == LOGIN_AGAIN) {
        continue;
    }
    if (rc == SSH_OK) {
        deadline = step_deadline();
        while ((rc = ssh_channel_request_exec(channel, command)) == SSH_AGAIN
               && (w = login_wait(&l, ssh, deadline)) == LOGIN_AGAIN) {
            continue;
        }
    }
    if (rc != SSH_OK) {
        char *peer = ssh_tap_login_peer(p->user, p->host, p->port);
        char *why = channel_failure(w, ssh);
        char *error = xasprintf("%s refused to run %s '%s': %s", peer, what,
                                command, why);
        free(why);
        free(peer);
        ssh_channel_free(channel);
        return error;
    }
    *channelp = channel;
    return NULL;
}
