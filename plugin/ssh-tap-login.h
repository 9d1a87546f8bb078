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

#ifndef SSH_TAP_LOGIN_H
#define SSH_TAP_LOGIN_H 1

/* The SSH login, shared by active ssh-tap ports (ssh-tap-session.c) and the
 * utilities' "ssh:" streams (utilities/stream-ssh.c): resolve and connect
 * (or run a ProxyCommand), check the host key strictly (known_hosts or a
 * pinned SHA256: fingerprint), load the private key (refusing one that
 * others can read, as ssh does), authenticate, and open a channel.
 *
 * It blocks the calling thread, which must be a thread of its own, never a
 * main loop: each step (connect and key exchange, authentication, channel
 * open) may take up to SSH_TAP_LOGIN_TIMEOUT seconds.  libssh runs in
 * non-blocking mode underneath, so that the caller's 'wake_fd' ends the
 * wait at once when 'interrupted' says so.
 *
 * Every error is a malloc()ed sentence for an operator, naming the peer,
 * e.g. "host key mismatch for ops@site-b:22: expected SHA256:..., got
 * SHA256:...". */

#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "openvswitch/list.h"
#include "ssh-tap-options.h"

/* Seconds that one connect, key exchange, authentication or channel step
 * may take. */
#define SSH_TAP_LOGIN_TIMEOUT 10

/* The steps of a login, as reported to 'progress'. */
enum ssh_tap_login_step {
    SSH_TAP_LOGIN_CONNECTING,       /* Resolving, TCP connect, key
                                     * exchange. */
    SSH_TAP_LOGIN_AUTHENTICATING,   /* Host key checked, public-key auth. */
    SSH_TAP_LOGIN_OPENING,          /* Opening the channel. */
};

struct ssh_tap_login_params {
    const char *name;           /* Who logs in, for logs ("p1", "sync"). */
    const char *user;           /* Login name. */
    const char *host;           /* Host name or address, no brackets. */
    uint16_t port;              /* sshd's TCP port. */
    const char *key;            /* Private key file. */
    const char *known_hosts;    /* known_hosts file, if 'host_key' is NULL. */
    const char *host_key;       /* Pinned "SHA256:..." fingerprint, or
                                 * NULL. */
    enum ssh_tap_host_key_policy host_key_policy;
    const char *host_key_option; /* How the operator pins a key, for the
                                  * "unknown host key" error; NULL for
                                  * "options:host_key". */
    const char *proxy_command;  /* As ssh's ProxyCommand, or NULL. */
    const char *ciphers;        /* Cipher list, or NULL for the default. */
    bool compression;           /* zlib@openssh.com. */

    /* Optional.  'progress' is called as each step begins.  'host_key_seen'
     * is called with the far host's fingerprint as soon as it is known,
     * before it is checked, so that a refused key can be shown too.
     * 'interrupted' is called whenever 'wake_fd' (if nonnegative) becomes
     * readable, and between steps; returning true abandons the login. */
    void (*progress)(void *aux, enum ssh_tap_login_step);
    void (*host_key_seen)(void *aux, const char *fingerprint);
    bool (*interrupted)(void *aux);
    int wake_fd;
    void *aux;
};

/* Returns "user@host:port" ("user@[v6addr]:port" for an IPv6 address), the
 * peer's name in messages, malloc()ed. */
char *ssh_tap_login_peer(const char *user, const char *host, uint16_t port);

/* Logs in as 'p' says.  On success returns NULL and stores in '*sshp' a
 * connected, authenticated session in non-blocking mode.  On failure
 * returns a malloc()ed error and stores NULL. */
char *ssh_tap_login(const struct ssh_tap_login_params *p, ssh_session *sshp);

/* Opens a direct-streamlocal@openssh.com channel on 'ssh' to the unix
 * socket 'path' on the far host.  'hint' (or NULL) goes into the error,
 * in parentheses after the path: what the operator should check.  Returns
 * NULL and stores the channel in '*channelp', or a malloc()ed error. */
char *ssh_tap_login_open_unix(const struct ssh_tap_login_params *p,
                              ssh_session ssh, const char *path,
                              const char *hint, ssh_channel *channelp);

/* Opens a session channel on 'ssh' that runs 'command' on the far host.
 * 'what' names the command in the error ("options:remote_command").
 * Returns NULL and stores the channel in '*channelp', or a malloc()ed
 * error. */
char *ssh_tap_login_open_exec(const struct ssh_tap_login_params *p,
                              ssh_session ssh, const char *command,
                              const char *what, ssh_channel *channelp);

/* The SHA256 fingerprint of the far host's key, "SHA256:...", malloc()ed,
 * or NULL. */
char *ssh_tap_login_fingerprint(ssh_session ssh);

/* The cipher towards the far host, e.g. "aes128-gcm@openssh.com". */
const char *ssh_tap_login_cipher(ssh_session ssh);

/* Loads the private key 'path', refusing a file that is not a regular file
 * or that others may access.  Returns NULL and stores the key, or a
 * malloc()ed error. */
char *ssh_tap_login_load_key(const char *path, ssh_key *keyp);

/* Threads that use libssh, and process exit.
 *
 * libssh and OpenSSL free their state in exit handlers; a thread still
 * inside them at that moment crashes the process on its way out.  So each
 * thread that uses libssh is registered with a function that asks it to
 * finish, and an exit handler of ours asks them all and waits, up to
 * SSH_TAP_LOGIN_EXIT_WAIT_MS, until they have unregistered.
 *
 * ssh_tap_login_init() initialises libssh and OpenSSL and registers that
 * handler.  Call it on the main thread before the first such thread starts
 * (it is idempotent): exit() runs the handlers last registered first, and
 * OpenSSL registers its own at its first initialisation, which would
 * otherwise happen later, in a key exchange. */
#define SSH_TAP_LOGIN_EXIT_WAIT_MS 3000

struct ssh_tap_login_thread {
    struct ovs_list node;
    void (*stop)(void *aux);    /* Asks the thread to finish; must not
                                 * block.  Called with an internal mutex
                                 * held, so that the thread cannot
                                 * unregister (and free 'aux') meanwhile. */
    void *aux;
};

void ssh_tap_login_init(void);

/* Registers 't' (owned by the caller) before its thread starts, and
 * unregisters it as the thread's last use of 'aux'. */
void ssh_tap_login_thread_add(struct ssh_tap_login_thread *t,
                              void (*stop)(void *aux), void *aux);
void ssh_tap_login_thread_remove(struct ssh_tap_login_thread *t);

#endif /* ssh-tap-login.h */
