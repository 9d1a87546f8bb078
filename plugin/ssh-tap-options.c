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
#include <stddef.h>
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
#define MAX_BACKOFF_MIN 1
#define MAX_BACKOFF_MAX 3600

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

/* The options table.
 *
 * One row per option, as OVS's ctl_command_syntax has one per command: its
 * name, the ports it applies to, its parser, and the members of struct
 * ssh_tap_options it sets, by which ssh_tap_options_equal(), _clone() and
 * _destroy() handle it.  A parser returns NULL or a malloc()ed error
 * message without the "ifname: " prefix.  Generic parsers store into the
 * row's first field. */

enum option_scope {
    SCOPE_BOTH,
    SCOPE_ACTIVE,               /* Only with options:remote. */
    SCOPE_PASSIVE,              /* Only without options:remote. */
};

/* A member of struct ssh_tap_options: a malloc()ed string (or NULL), or a
 * plain value compared and copied byte by byte. */
struct option_field {
    size_t offset;
    size_t size;                /* 0 ends a row's list. */
    bool is_string;
};

#define STRING_FIELD(MEMBER)                                            \
    { offsetof(struct ssh_tap_options, MEMBER),                         \
      sizeof ((struct ssh_tap_options *) NULL)->MEMBER, true }
#define VALUE_FIELD(MEMBER)                                             \
    { offsetof(struct ssh_tap_options, MEMBER),                         \
      sizeof ((struct ssh_tap_options *) NULL)->MEMBER, false }

#define MAX_OPTION_FIELDS 4

struct option {
    const char *name;
    enum option_scope scope;
    char *(*parse)(const struct option *, const char *value,
                   const struct smap *args, struct ssh_tap_options *);
    struct option_field fields[MAX_OPTION_FIELDS];
    unsigned int min, max;      /* parse_seconds(): the range. */
    const char *excludes;       /* An option that may not come with it. */
};

static void *
field_ptr(const struct ssh_tap_options *opts, const struct option_field *f)
{
    return (char *) CONST_CAST(struct ssh_tap_options *, opts) + f->offset;
}

/* Stores a copy of 'value' in 'opt''s string field. */
static char *
store_string(const struct option *opt, const char *value,
             struct ssh_tap_options *opts)
{
    const struct option_field *f = &opt->fields[0];

    ovs_assert(f->is_string);
    *(char **) field_ptr(opts, f) = xstrdup(value);
    return NULL;
}

/* Returns an error if 'opt' and the option it excludes are both set. */
static char *
check_excludes(const struct option *opt, const struct smap *args)
{
    if (!opt->excludes || !smap_get(args, opt->excludes)) {
        return NULL;
    }
    /* Named in sorted order, whichever of the two is reported. */
    bool first = strcmp(opt->name, opt->excludes) < 0;
    return xasprintf("options:%s and options:%s are mutually exclusive",
                     first ? opt->name : opt->excludes,
                     first ? opt->excludes : opt->name);
}

static char *
parse_remote(const struct option *opt, const char *value,
             const struct smap *args, struct ssh_tap_options *opts)
{
    char *error = ssh_tap_parse_remote(value, &opts->user, &opts->host,
                                       &opts->port);
    if (error) {
        char *s = xasprintf("options:remote: %s", error);
        free(error);
        return s;
    }
    return NULL;
}

/* An absolute path to a file. */
static char *
parse_path(const struct option *opt, const char *value,
           const struct smap *args, struct ssh_tap_options *opts)
{
    char *error = check_excludes(opt, args);
    if (!error) {
        error = check_path(opt->name, value, false);
    }
    return error ? error : store_string(opt, value, opts);
}

/* An absolute path to a unix socket. */
static char *
parse_socket_path(const struct option *opt, const char *value,
                  const struct smap *args, struct ssh_tap_options *opts)
{
    char *error = check_path(opt->name, value, true);
    return error ? error : store_string(opt, value, opts);
}

static char *
parse_host_key(const struct option *opt, const char *value,
               const struct smap *args, struct ssh_tap_options *opts)
{
    if (!ssh_tap_host_key_valid(value)) {
        return xasprintf("options:host_key: '%s' is not a fingerprint of "
                         "the form SHA256:<43 base64 characters> (as "
                         "printed by ssh-keygen -l)", value);
    }
    return store_string(opt, value, opts);
}

/* A shell command line. */
static char *
parse_command(const struct option *opt, const char *value,
              const struct smap *args, struct ssh_tap_options *opts)
{
    if (!value[0] || strchr(value, '\n')) {
        return xasprintf("options:%s: must be a nonempty command on one "
                         "line", opt->name);
    }
    char *error = check_excludes(opt, args);
    return error ? error : store_string(opt, value, opts);
}

static char *
parse_cipher(const struct option *opt, const char *value,
             const struct smap *args, struct ssh_tap_options *opts)
{
    if (!value[0] || strspn(value, "abcdefghijklmnopqrstuvwxyz"
                            "0123456789@.,-") != strlen(value)) {
        return xasprintf("options:cipher: '%s' is not a comma-separated "
                         "list of SSH cipher names", value);
    }
    return store_string(opt, value, opts);
}

/* A user or group name. */
static char *
parse_name(const struct option *opt, const char *value,
           const struct smap *args, struct ssh_tap_options *opts)
{
    if (!name_is_sane(value)) {
        return xasprintf("options:%s: '%s' is not a user or group name",
                         opt->name, value);
    }
    return store_string(opt, value, opts);
}

static char *
parse_bool(const struct option *opt, const char *value,
           const struct smap *args, struct ssh_tap_options *opts)
{
    const struct option_field *f = &opt->fields[0];
    bool *b = field_ptr(opts, f);

    ovs_assert(f->size == sizeof *b);
    if (!strcmp(value, "true")) {
        *b = true;
    } else if (strcmp(value, "false")) {
        return xasprintf("options:%s: '%s' is neither true nor false",
                         opt->name, value);
    }
    return NULL;
}

/* A whole number of seconds in opt->min..opt->max, stored in ms. */
static char *
parse_seconds(const struct option *opt, const char *value,
              const struct smap *args, struct ssh_tap_options *opts)
{
    const struct option_field *f = &opt->fields[0];
    int *ms = field_ptr(opts, f);
    unsigned int secs;

    ovs_assert(f->size == sizeof *ms);
    if (!parse_digits(value, &secs) || secs < opt->min || secs > opt->max) {
        return xasprintf("options:%s: '%s' is not a whole number of seconds "
                         "in the range %u..%u", opt->name, value, opt->min,
                         opt->max);
    }
    *ms = (int) secs * 1000;
    return NULL;
}

static char *
parse_host_key_policy(const struct option *opt, const char *value,
                      const struct smap *args, struct ssh_tap_options *opts)
{
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
    return NULL;
}

static char *
parse_socket_mode(const struct option *opt, const char *value,
                  const struct smap *args, struct ssh_tap_options *opts)
{
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
    return NULL;
}

/* In the order of their names.  options:remote also decides 'active'
 * (ssh_tap_options_parse() sets it first, since it decides the scope of
 * every other option). */
static const struct option options[] = {
    { .name = "cipher", .scope = SCOPE_ACTIVE, .parse = parse_cipher,
      .fields = { STRING_FIELD(ciphers) } },
    { .name = "compression", .scope = SCOPE_ACTIVE, .parse = parse_bool,
      .fields = { VALUE_FIELD(compression) } },
    { .name = "host_key", .scope = SCOPE_ACTIVE, .parse = parse_host_key,
      .fields = { STRING_FIELD(host_key) } },
    { .name = "host_key_policy", .scope = SCOPE_ACTIVE,
      .parse = parse_host_key_policy,
      .fields = { VALUE_FIELD(host_key_policy) } },
    { .name = "keepalive_interval", .scope = SCOPE_BOTH,
      .parse = parse_seconds, .fields = { VALUE_FIELD(keepalive_ms) },
      .min = KEEPALIVE_MIN, .max = KEEPALIVE_MAX },
    { .name = "key", .scope = SCOPE_ACTIVE, .parse = parse_path,
      .fields = { STRING_FIELD(key) } },
    { .name = "known_hosts", .scope = SCOPE_ACTIVE, .parse = parse_path,
      .fields = { STRING_FIELD(known_hosts) }, .excludes = "host_key" },
    { .name = "max_backoff", .scope = SCOPE_ACTIVE, .parse = parse_seconds,
      .fields = { VALUE_FIELD(max_backoff_ms) },
      .min = MAX_BACKOFF_MIN, .max = MAX_BACKOFF_MAX },
    { .name = "proxy_command", .scope = SCOPE_ACTIVE, .parse = parse_command,
      .fields = { STRING_FIELD(proxy_command) } },
    { .name = "remote", .scope = SCOPE_ACTIVE, .parse = parse_remote,
      .fields = { VALUE_FIELD(active), STRING_FIELD(user),
                  STRING_FIELD(host), VALUE_FIELD(port) } },
    { .name = "remote_command", .scope = SCOPE_ACTIVE, .parse = parse_command,
      .fields = { STRING_FIELD(remote_command) },
      .excludes = "remote_socket" },
    { .name = "remote_socket", .scope = SCOPE_ACTIVE,
      .parse = parse_socket_path, .fields = { STRING_FIELD(remote_socket) } },
    { .name = "socket", .scope = SCOPE_PASSIVE, .parse = parse_socket_path,
      .fields = { STRING_FIELD(socket) } },
    { .name = "socket_group", .scope = SCOPE_PASSIVE, .parse = parse_name,
      .fields = { STRING_FIELD(socket_group) } },
    { .name = "socket_mode", .scope = SCOPE_PASSIVE,
      .parse = parse_socket_mode, .fields = { VALUE_FIELD(socket_mode) } },
    { .name = "socket_owner", .scope = SCOPE_PASSIVE, .parse = parse_name,
      .fields = { STRING_FIELD(socket_owner) } },
};

/* Iterates 'F' over the fields of every option, 'OPT' over the options.
 * Together the rows name every member of struct ssh_tap_options once. */
#define FOR_EACH_FIELD(OPT, F)                                          \
    for ((OPT) = options; (OPT) < &options[ARRAY_SIZE(options)]; (OPT)++) \
        for ((F) = (OPT)->fields;                                       \
             (F) < &(OPT)->fields[MAX_OPTION_FIELDS] && (F)->size; (F)++)

static const struct option *
find_option(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        if (!strcmp(options[i].name, name)) {
            return &options[i];
        }
    }
    return NULL;
}

/* Parses one option.  Returns NULL or a malloc()ed error message without the
 * "ifname: " prefix. */
static char *
parse_one(const struct smap *args, const char *key, const char *value,
          struct ssh_tap_options *opts)
{
    const struct option *opt = find_option(key);

    if (!opt) {
        return xasprintf("unknown option '%s'", key);
    } else if (opt->scope == SCOPE_ACTIVE && !opts->active) {
        return xasprintf("options:%s requires options:remote (passive ports "
                         "listen on options:socket)", key);
    } else if (opt->scope == SCOPE_PASSIVE && opts->active) {
        return xasprintf("options:%s applies only to passive ports (those "
                         "without options:remote)", key);
    }
    return opt->parse(opt, value, args, opts);
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
    const struct option *opt;
    const struct option_field *f;

    FOR_EACH_FIELD (opt, f) {
        const void *fa = field_ptr(a, f);
        const void *fb = field_ptr(b, f);

        if (f->is_string
            ? !nullable_string_is_equal(*(char *const *) fa,
                                        *(char *const *) fb)
            : memcmp(fa, fb, f->size)) {
            return false;
        }
    }
    return true;
}

/* Initializes 'dst' as a deep copy of 'src'.  Whatever 'dst' held before is
 * overwritten, not freed. */
void
ssh_tap_options_clone(struct ssh_tap_options *dst,
                      const struct ssh_tap_options *src)
{
    const struct option *opt;
    const struct option_field *f;

    *dst = *src;
    FOR_EACH_FIELD (opt, f) {
        if (f->is_string) {
            char **p = field_ptr(dst, f);
            *p = nullable_xstrdup(*p);
        }
    }
}

/* Frees everything 'opts' owns and leaves it empty, so that destroying it
 * twice is harmless.  'opts' may be NULL. */
void
ssh_tap_options_destroy(struct ssh_tap_options *opts)
{
    const struct option *opt;
    const struct option_field *f;

    if (opts) {
        FOR_EACH_FIELD (opt, f) {
            if (f->is_string) {
                free(*(char **) field_ptr(opts, f));
            }
        }
        memset(opts, 0, sizeof *opts);
    }
}
