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

#ifndef SSH_TAP_OPTIONS_H
#define SSH_TAP_OPTIONS_H 1

/* Parsing and validation of an ssh-tap Interface's options:column.
 *
 * Pure logic: it reads no file and opens no socket (whether a key file exists
 * is checked when the link is made, where the error can be reported as link
 * state).  Directory defaults are passed in so that tests control them. */

#include <stdbool.h>
#include <stdint.h>

struct smap;

#define SSH_TAP_DEFAULT_PORT 22
#define SSH_TAP_DEFAULT_KEEPALIVE_MS 5000
#define SSH_TAP_DEFAULT_MAX_BACKOFF_MS 8000
#define SSH_TAP_DEFAULT_SOCKET_MODE 0660
#define SSH_TAP_DEFAULT_CIPHERS \
    "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com"

/* What to do with a far host whose key is in no known_hosts entry. */
enum ssh_tap_host_key_policy {
    SSH_TAP_HOST_KEY_STRICT,    /* Refuse it. */
    SSH_TAP_HOST_KEY_ACCEPT_NEW /* Record it, then trust it (TOFU). */
};

/* Where defaults come from.  In vswitchd these are ovs_rundir() and
 * ovs_dbdir() (normally /var/run/openvswitch and /etc/openvswitch), and the
 * user vswitchd runs as.  'rundir' and 'confdir' must be nonnull; 'user' may
 * be NULL if unknown, in which case options:remote must name a user. */
struct ssh_tap_dirs {
    const char *rundir;
    const char *confdir;
    const char *user;
};

struct ssh_tap_options {
    bool active;                /* True if 'remote' was given. */

    /* Active ports only (NULL/0 otherwise). */
    char *user;                 /* Login name. */
    char *host;                 /* Host name or address, no brackets. */
    uint16_t port;              /* TCP port of sshd. */
    char *key;                  /* Private key file. */
    char *known_hosts;          /* known_hosts file, or NULL if 'host_key'. */
    char *host_key;             /* Pinned "SHA256:<base64>" or NULL. */
    char *remote_socket;        /* Far passive port's unix socket, or NULL
                                 * if 'remote_command' is set. */
    char *remote_command;       /* Command for a session channel, or NULL. */
    char *proxy_command;        /* ssh ProxyCommand, or NULL. */
    char *ciphers;              /* Comma-separated cipher list. */
    bool compression;           /* zlib@openssh.com compression. */
    int max_backoff_ms;         /* Longest wait between attempts. */
    enum ssh_tap_host_key_policy host_key_policy;

    /* Passive ports only (NULL otherwise). */
    char *socket;               /* Unix socket to listen on. */
    char *socket_owner;         /* User name or NULL: the socket's owner. */
    char *socket_group;         /* Group name or NULL: the socket's group. */
    unsigned int socket_mode;   /* Permission bits; never world-accessible. */

    /* Both. */
    int keepalive_ms;           /* Echo interval. */
};

/* Parses the options of the ssh-tap interface 'ifname' from 'args' into
 * '*opts'.  Returns 0 on success.  On failure returns EINVAL, leaves '*opts'
 * empty (safe to destroy) and stores in '*errorp' a malloc()ed message that
 * names the interface and the offending option, e.g.
 * "p1: options:remote: port 70000 out of range 1..65535".  Options are
 * checked in the order of their names, so that with several bad options the
 * same one is always reported. */
int ssh_tap_options_parse(const char *ifname, const struct smap *args,
                          const struct ssh_tap_dirs *,
                          struct ssh_tap_options *opts, char **errorp);

/* Parses "[user@]host[:port]" ("[v6addr]:port" for an IPv6 address with a
 * port).  On success returns NULL and sets '*user' (NULL if absent), '*host'
 * and '*port' (0 if absent); the strings are malloc()ed.  On failure returns
 * a malloc()ed description of the problem. */
char *ssh_tap_parse_remote(const char *remote, char **user, char **host,
                           uint16_t *port);

/* Returns true if a pinned host key string is well formed: "SHA256:" followed
 * by 43 characters of unpadded base64. */
bool ssh_tap_host_key_valid(const char *);

/* Compares every field (NULL strings compare equal only to NULL). */
bool ssh_tap_options_equal(const struct ssh_tap_options *,
                           const struct ssh_tap_options *);

/* Makes 'dst' a deep copy of 'src', overwriting (not freeing) 'dst'. */
void ssh_tap_options_clone(struct ssh_tap_options *dst,
                           const struct ssh_tap_options *src);

/* Frees the strings and zeroes the struct; NULL and repeated calls are
 * harmless. */
void ssh_tap_options_destroy(struct ssh_tap_options *);

#endif /* ssh-tap-options.h */
