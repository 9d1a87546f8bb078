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

#include "ssh-tap-options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "openvswitch/util.h"
#include "smap.h"
#include "util.h"

/* Longest path that fits in sockaddr_un.sun_path with its terminating NUL
 * (107 bytes on Linux).  The same limit is applied to options:remote_socket
 * because sshd on the far end has to fit that path into a sockaddr_un too,
 * and finding out only when the channel open fails is much less clear. */
#define SUN_PATH_MAX (sizeof ((struct sockaddr_un *) NULL)->sun_path - 1)

#define KEEPALIVE_MIN 1
#define KEEPALIVE_MAX 3600

enum option_scope {
    SCOPE_BOTH,
    SCOPE_ACTIVE,               /* Only with options:remote. */
    SCOPE_PASSIVE,              /* Only without options:remote. */
};

struct option_desc {
    const char *name;
    enum option_scope scope;
};

static const struct option_desc option_descs[] = {
    { "cipher", SCOPE_ACTIVE },
    { "compression", SCOPE_ACTIVE },
    { "host_key", SCOPE_ACTIVE },
    { "host_key_policy", SCOPE_ACTIVE },
    { "keepalive_interval", SCOPE_BOTH },
    { "key", SCOPE_ACTIVE },
    { "known_hosts", SCOPE_ACTIVE },
    { "max_backoff", SCOPE_ACTIVE },
    { "proxy_command", SCOPE_ACTIVE },
    { "remote", SCOPE_ACTIVE },
    { "remote_command", SCOPE_ACTIVE },
    { "remote_socket", SCOPE_ACTIVE },
    { "socket", SCOPE_PASSIVE },
    { "socket_group", SCOPE_PASSIVE },
    { "socket_mode", SCOPE_PASSIVE },
    { "socket_owner", SCOPE_PASSIVE },
};

#define MAX_BACKOFF_MIN 1
#define MAX_BACKOFF_MAX 3600

static const struct option_desc *
find_option(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(option_descs); i++) {
        if (!strcmp(option_descs[i].name, name)) {
            return &option_descs[i];
        }
    }
    return NULL;
}

/* Parses 's', which must consist only of decimal digits, into '*valuep'.
 * Values too large for any range used here are stored as UINT_MAX, so that
 * the caller's range check rejects them without an overflow.  Returns false
 * if 's' is empty or contains anything but digits (signs and spaces, which
 * strtoul would accept, included). */
static bool
parse_digits(const char *s, unsigned int *valuep)
{
    unsigned int value = 0;

    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        if (value < 10000000) {
            value = value * 10 + (unsigned int) (*s - '0');
        } else {
            value = UINT_MAX;
        }
    }
    *valuep = value;
    return true;
}

/* Returns true if 's' may be passed on as a user or host name: nonempty,
 * no spaces or control characters, and no leading '-' (which no real name
 * has and which some tools would take for an option). */
static bool
name_is_sane(const char *s)
{
    if (!*s || *s == '-') {
        return false;
    }
    for (; *s; s++) {
        unsigned char c = *s;
        if (c <= ' ' || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Parses "[user@]host[:port]".  See the header for the contract.
 *
 * A host with more than one ':' and no brackets is a bare IPv6 address
 * without a port: "fd00::2" is a host, "fd00::2:22" is also just a host.
 * That is how ssh reads it too; "[fd00::2]:22" is the way to add a port. */
char *
ssh_tap_parse_remote(const char *remote, char **userp, char **hostp,
                     uint16_t *portp)
{
    const char *hostport, *host_start, *host_end, *port_str = NULL;
    char *user = NULL, *host = NULL;
    char *error = NULL;

    *userp = NULL;
    *hostp = NULL;
    *portp = 0;

    /* The last '@' separates, as in ssh, so a user name can contain '@'
     * (some directory services issue such names) but a host cannot. */
    const char *at = strrchr(remote, '@');
    if (at) {
        user = xmemdup0(remote, at - remote);
        if (!user[0]) {
            error = xstrdup("empty user name before '@'");
            goto error;
        } else if (!name_is_sane(user)) {
            error = xasprintf("invalid user name '%s'", user);
            goto error;
        }
        hostport = at + 1;
    } else {
        hostport = remote;
    }

    if (*hostport == '[') {
        const char *close = strchr(hostport, ']');
        if (!close) {
            error = xstrdup("missing ']' after '['");
            goto error;
        }
        host_start = hostport + 1;
        host_end = close;
        if (close[1] == ':') {
            port_str = close + 2;
        } else if (close[1]) {
            error = xasprintf("unexpected '%s' after ']' (expected ':port')",
                              close + 1);
            goto error;
        }
    } else {
        const char *colon = strchr(hostport, ':');

        host_start = hostport;
        if (colon && !strchr(colon + 1, ':')) {
            host_end = colon;
            port_str = colon + 1;
        } else {
            host_end = hostport + strlen(hostport);
        }
    }

    if (host_end == host_start) {
        error = xstrdup("empty host name");
        goto error;
    }
    host = xmemdup0(host_start, host_end - host_start);
    if (!name_is_sane(host) || strpbrk(host, "[]")) {
        error = xasprintf("invalid host name '%s'", host);
        goto error;
    }

    if (port_str) {
        unsigned int port;

        if (!*port_str) {
            error = xstrdup("missing port number after ':'");
            goto error;
        } else if (!parse_digits(port_str, &port)) {
            error = xasprintf("invalid port '%s'", port_str);
            goto error;
        } else if (port < 1 || port > 65535) {
            error = xasprintf("port %s out of range 1..65535", port_str);
            goto error;
        }
        *portp = (uint16_t) port;
    }

    *userp = user;
    *hostp = host;
    return NULL;

error:
    free(user);
    free(host);
    return error;
}

/* Returns true if 'key' is "SHA256:" followed by exactly 43 characters of
 * unpadded base64, which is how ssh-keygen -l prints a SHA-256 fingerprint
 * (32 bytes encode to 43 characters plus one '=' that ssh leaves off). */
bool
ssh_tap_host_key_valid(const char *key)
{
    static const char prefix[] = "SHA256:";

    if (!key || strncmp(key, prefix, strlen(prefix))) {
        return false;
    }
    key += strlen(prefix);

    size_t n = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "abcdefghijklmnopqrstuvwxyz0123456789+/");
    return n == 43 && key[n] == '\0';
}

/* Returns NULL if 'path' is acceptable as the value of options:'name',
 * otherwise a malloc()ed message (without the "ifname: " prefix). */
static char *
check_path(const char *name, const char *path, bool is_socket)
{
    if (path[0] != '/') {
        return xasprintf("options:%s: '%s' is not an absolute path",
                         name, path);
    }
    if (is_socket && strlen(path) > SUN_PATH_MAX) {
        return xasprintf("options:%s: '%s' is %"PRIuSIZE" bytes long, but a "
                         "unix socket path can have at most %"PRIuSIZE,
                         name, path, strlen(path), SUN_PATH_MAX);
    }
    return NULL;
}

/* Returns "<rundir>/ssh-tap/<ifname>.sock" in '*pathp', or a malloc()ed
 * error message (without the "ifname: " prefix) for options:'name'. */
static char *
default_socket(const char *name, const char *ifname,
               const struct ssh_tap_dirs *dirs, char **pathp)
{
    *pathp = NULL;
    if (strchr(ifname, '/')) {
        return xasprintf("options:%s: no default for an interface whose name "
                         "contains '/'; set options:%s", name, name);
    }

    char *path = xasprintf("%s/ssh-tap/%s.sock", dirs->rundir, ifname);
    if (strlen(path) > SUN_PATH_MAX) {
        char *error = xasprintf("options:%s: the default '%s' is %"PRIuSIZE
                                " bytes long, but a unix socket path can "
                                "have at most %"PRIuSIZE"; set options:%s "
                                "to a shorter path", name, path,
                                strlen(path), SUN_PATH_MAX, name);
        free(path);
        return error;
    }
    *pathp = path;
    return NULL;
}

/* Parses one option.  Returns NULL or a malloc()ed error message without the
 * "ifname: " prefix. */
static char *
parse_one(const struct smap *args, const char *key, const char *value,
          struct ssh_tap_options *opts)
{
    const struct option_desc *desc = find_option(key);
    char *error;

    if (!desc) {
        return xasprintf("unknown option '%s'", key);
    } else if (desc->scope == SCOPE_ACTIVE && !opts->active) {
        return xasprintf("options:%s requires options:remote (passive ports "
                         "listen on options:socket)", key);
    } else if (desc->scope == SCOPE_PASSIVE && opts->active) {
        return xasprintf("options:%s applies only to passive ports (those "
                         "without options:remote)", key);
    }

    if (!strcmp(key, "remote")) {
        error = ssh_tap_parse_remote(value, &opts->user, &opts->host,
                                     &opts->port);
        if (error) {
            char *s = xasprintf("options:remote: %s", error);
            free(error);
            return s;
        }
    } else if (!strcmp(key, "key")) {
        error = check_path(key, value, false);
        if (error) {
            return error;
        }
        opts->key = xstrdup(value);
    } else if (!strcmp(key, "known_hosts")) {
        if (smap_get(args, "host_key")) {
            return xstrdup("options:host_key and options:known_hosts are "
                           "mutually exclusive");
        }
        error = check_path(key, value, false);
        if (error) {
            return error;
        }
        opts->known_hosts = xstrdup(value);
    } else if (!strcmp(key, "host_key")) {
        if (!ssh_tap_host_key_valid(value)) {
            return xasprintf("options:host_key: '%s' is not a fingerprint of "
                             "the form SHA256:<43 base64 characters> (as "
                             "printed by ssh-keygen -l)", value);
        }
        opts->host_key = xstrdup(value);
    } else if (!strcmp(key, "remote_socket") || !strcmp(key, "socket")) {
        error = check_path(key, value, true);
        if (error) {
            return error;
        }
        if (!strcmp(key, "socket")) {
            opts->socket = xstrdup(value);
        } else {
            opts->remote_socket = xstrdup(value);
        }
    } else if (!strcmp(key, "remote_command")
               || !strcmp(key, "proxy_command")) {
        if (!value[0] || strchr(value, '\n')) {
            return xasprintf("options:%s: must be a nonempty command on one "
                             "line", key);
        }
        if (!strcmp(key, "remote_command")) {
            if (smap_get(args, "remote_socket")) {
                return xstrdup("options:remote_command and "
                               "options:remote_socket are mutually "
                               "exclusive");
            }
            opts->remote_command = xstrdup(value);
        } else {
            opts->proxy_command = xstrdup(value);
        }
    } else if (!strcmp(key, "cipher")) {
        if (!value[0] || strspn(value, "abcdefghijklmnopqrstuvwxyz"
                                "0123456789@.,-") != strlen(value)) {
            return xasprintf("options:cipher: '%s' is not a comma-separated "
                             "list of SSH cipher names", value);
        }
        opts->ciphers = xstrdup(value);
    } else if (!strcmp(key, "compression")) {
        if (!strcmp(value, "true")) {
            opts->compression = true;
        } else if (strcmp(value, "false")) {
            return xasprintf("options:compression: '%s' is neither true nor "
                             "false", value);
        }
    } else if (!strcmp(key, "max_backoff")) {
        unsigned int secs;

        if (!parse_digits(value, &secs)
            || secs < MAX_BACKOFF_MIN || secs > MAX_BACKOFF_MAX) {
            return xasprintf("options:max_backoff: '%s' is not a whole "
                             "number of seconds in the range %d..%d",
                             value, MAX_BACKOFF_MIN, MAX_BACKOFF_MAX);
        }
        opts->max_backoff_ms = (int) secs * 1000;
    } else if (!strcmp(key, "host_key_policy")) {
        if (!strcmp(value, "accept-new")) {
            if (smap_get(args, "host_key")) {
                return xstrdup("options:host_key_policy=accept-new makes no "
                               "sense with a pinned options:host_key");
            }
            opts->host_key_policy = SSH_TAP_HOST_KEY_ACCEPT_NEW;
        } else if (strcmp(value, "strict")) {
            return xasprintf("options:host_key_policy: '%s' is neither "
                             "strict nor accept-new", value);
        }
    } else if (!strcmp(key, "socket_owner") || !strcmp(key, "socket_group")) {
        if (!name_is_sane(value)) {
            return xasprintf("options:%s: '%s' is not a user or group name",
                             key, value);
        }
        if (!strcmp(key, "socket_owner")) {
            opts->socket_owner = xstrdup(value);
        } else {
            opts->socket_group = xstrdup(value);
        }
    } else if (!strcmp(key, "socket_mode")) {
        char *end;
        unsigned long mode = strtoul(value, &end, 8);

        if (!value[0] || *end || value[0] == '-' || value[0] == '+'
            || mode > 0777) {
            return xasprintf("options:socket_mode: '%s' is not an octal "
                             "mode such as 0660", value);
        }
        if (mode & 0007) {
            /* Anyone who can connect can inject frames into the bridge. */
            return xasprintf("options:socket_mode: %04lo would let every "
                             "local user into the bridge; the socket may be "
                             "open to its owner and group only", mode);
        }
        if (!(mode & 0600)) {
            return xasprintf("options:socket_mode: %04lo leaves the owner "
                             "(vswitchd or options:socket_owner) without "
                             "access", mode);
        }
        opts->socket_mode = mode;
    } else if (!strcmp(key, "keepalive_interval")) {
        unsigned int secs;

        if (!parse_digits(value, &secs)
            || secs < KEEPALIVE_MIN || secs > KEEPALIVE_MAX) {
            return xasprintf("options:keepalive_interval: '%s' is not a "
                             "whole number of seconds in the range %d..%d",
                             value, KEEPALIVE_MIN, KEEPALIVE_MAX);
        }
        opts->keepalive_ms = (int) secs * 1000;
    } else {
        /* Every name in option_descs[] has a case above. */
        OVS_NOT_REACHED();
    }
    return NULL;
}

/* Fills in the defaults for whatever 'opts' still lacks.  Returns NULL or a
 * malloc()ed error message without the "ifname: " prefix. */
static char *
fill_defaults(const char *ifname, const struct ssh_tap_dirs *dirs,
              struct ssh_tap_options *opts)
{
    char *error;

    if (!opts->keepalive_ms) {
        opts->keepalive_ms = SSH_TAP_DEFAULT_KEEPALIVE_MS;
    }

    if (!opts->active) {
        if (!opts->socket_mode) {
            opts->socket_mode = SSH_TAP_DEFAULT_SOCKET_MODE;
        }
        if (!opts->socket) {
            error = default_socket("socket", ifname, dirs, &opts->socket);
            if (error) {
                return error;
            }
        }
        return NULL;
    }

    if (!opts->user) {
        if (!dirs->user || !dirs->user[0]) {
            return xstrdup("options:remote: no user name given and the "
                           "default is unknown; use user@host");
        }
        opts->user = xstrdup(dirs->user);
    }
    if (!opts->port) {
        opts->port = SSH_TAP_DEFAULT_PORT;
    }
    if (!opts->key) {
        opts->key = xasprintf("%s/ssh-tap/id_ed25519", dirs->confdir);
    }
    /* A pinned fingerprint replaces the known_hosts file: consulting both
     * would make it unclear which one vouched for the host. */
    if (!opts->known_hosts && !opts->host_key) {
        opts->known_hosts = xasprintf("%s/ssh-tap/known_hosts",
                                      dirs->confdir);
    }
    if (!opts->ciphers) {
        opts->ciphers = xstrdup(SSH_TAP_DEFAULT_CIPHERS);
    }
    if (!opts->max_backoff_ms) {
        opts->max_backoff_ms = SSH_TAP_DEFAULT_MAX_BACKOFF_MS;
    }
    if (!opts->remote_socket && !opts->remote_command) {
        /* The far port is assumed to have the same name and the same OVS
         * directory layout, which is how a mesh is normally set up. */
        error = default_socket("remote_socket", ifname, dirs,
                               &opts->remote_socket);
        if (error) {
            return error;
        }
    }
    return NULL;
}

/* Parses and validates the options of ssh-tap interface 'ifname'.  See the
 * header for the contract.  When several options are wrong, the one whose
 * name sorts first is reported, so that the message in Interface:error does
 * not change from one reconfiguration to the next. */
int
ssh_tap_options_parse(const char *ifname, const struct smap *args,
                      const struct ssh_tap_dirs *dirs,
                      struct ssh_tap_options *opts, char **errorp)
{
    char *error = NULL;

    ovs_assert(dirs && dirs->rundir && dirs->confdir);

    memset(opts, 0, sizeof *opts);
    *errorp = NULL;

    opts->active = smap_get(args, "remote") != NULL;

    const struct smap_node **nodes = smap_sort(args);
    size_t n = smap_count(args);
    for (size_t i = 0; i < n && !error; i++) {
        error = parse_one(args, nodes[i]->key, nodes[i]->value, opts);
    }
    free(nodes);

    if (!error) {
        error = fill_defaults(ifname, dirs, opts);
    }

    if (error) {
        *errorp = xasprintf("%s: %s", ifname, error);
        free(error);
        ssh_tap_options_destroy(opts);
        return EINVAL;
    }
    return 0;
}

/* Returns true if 'a' and 'b' hold the same settings. */
bool
ssh_tap_options_equal(const struct ssh_tap_options *a,
                      const struct ssh_tap_options *b)
{
    return (a->active == b->active
            && a->port == b->port
            && a->keepalive_ms == b->keepalive_ms
            && nullable_string_is_equal(a->user, b->user)
            && nullable_string_is_equal(a->host, b->host)
            && nullable_string_is_equal(a->key, b->key)
            && nullable_string_is_equal(a->known_hosts, b->known_hosts)
            && nullable_string_is_equal(a->host_key, b->host_key)
            && nullable_string_is_equal(a->remote_socket, b->remote_socket)
            && nullable_string_is_equal(a->remote_command,
                                        b->remote_command)
            && nullable_string_is_equal(a->proxy_command, b->proxy_command)
            && nullable_string_is_equal(a->ciphers, b->ciphers)
            && a->compression == b->compression
            && a->max_backoff_ms == b->max_backoff_ms
            && a->host_key_policy == b->host_key_policy
            && nullable_string_is_equal(a->socket, b->socket)
            && nullable_string_is_equal(a->socket_owner, b->socket_owner)
            && nullable_string_is_equal(a->socket_group, b->socket_group)
            && a->socket_mode == b->socket_mode);
}

/* Initializes 'dst' as a deep copy of 'src'.  Whatever 'dst' held before is
 * overwritten, not freed. */
void
ssh_tap_options_clone(struct ssh_tap_options *dst,
                      const struct ssh_tap_options *src)
{
    dst->active = src->active;
    dst->user = nullable_xstrdup(src->user);
    dst->host = nullable_xstrdup(src->host);
    dst->port = src->port;
    dst->key = nullable_xstrdup(src->key);
    dst->known_hosts = nullable_xstrdup(src->known_hosts);
    dst->host_key = nullable_xstrdup(src->host_key);
    dst->remote_socket = nullable_xstrdup(src->remote_socket);
    dst->remote_command = nullable_xstrdup(src->remote_command);
    dst->proxy_command = nullable_xstrdup(src->proxy_command);
    dst->ciphers = nullable_xstrdup(src->ciphers);
    dst->compression = src->compression;
    dst->max_backoff_ms = src->max_backoff_ms;
    dst->host_key_policy = src->host_key_policy;
    dst->socket = nullable_xstrdup(src->socket);
    dst->socket_owner = nullable_xstrdup(src->socket_owner);
    dst->socket_group = nullable_xstrdup(src->socket_group);
    dst->socket_mode = src->socket_mode;
    dst->keepalive_ms = src->keepalive_ms;
}

/* Frees everything 'opts' owns and leaves it empty, so that destroying it
 * twice is harmless.  'opts' may be NULL. */
void
ssh_tap_options_destroy(struct ssh_tap_options *opts)
{
    if (opts) {
        free(opts->user);
        free(opts->host);
        free(opts->key);
        free(opts->known_hosts);
        free(opts->host_key);
        free(opts->remote_socket);
        free(opts->remote_command);
        free(opts->proxy_command);
        free(opts->ciphers);
        free(opts->socket);
        free(opts->socket_owner);
        free(opts->socket_group);
        memset(opts, 0, sizeof *opts);
    }
}
