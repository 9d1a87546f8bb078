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

/* Unit tests for ssh-tap option parsing (plugin/ssh-tap-options.c).
 *
 * Prints one "PASS: test-options: <case>" or "FAIL: test-options: <case>:
 * <why>" line per case and exits with status 1 if any case failed. */

#include <config.h>

#include "ssh-tap-options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/util.h"
#include "smap.h"
#include "util.h"

#define PROG "test-options"
#include "unit-test.h"

/* Propagates the failure of a helper that returns NULL or a reason. */
#define CHECK_OK(EXPR)                                                  \
    do {                                                                \
        const char *e_ = (EXPR);                                        \
        if (e_) {                                                       \
            if (e_ != why) {                                            \
                snprintf(why, sizeof why, "line %d: %s", __LINE__, e_); \
            }                                                           \
            return why;                                                 \
        }                                                               \
    } while (0)

/* A NULL-terminated list of key, value, key, value... */
#define KV(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_KV ((const char *const[]) { NULL })

static const struct ssh_tap_dirs dirs = {
    .rundir = "/run/ovs",
    .confdir = "/etc/ovs",
    .user = "ovs",
};

static bool
streq(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

static int
parse_with(const char *ifname, const struct ssh_tap_dirs *d,
           const char *const kv[], struct ssh_tap_options *o, char **error)
{
    struct smap args = SMAP_INITIALIZER(&args);

    for (size_t i = 0; kv[i]; i += 2) {
        smap_add(&args, kv[i], kv[i + 1]);
    }
    *error = (char *) "unset";
    int retval = ssh_tap_options_parse(ifname, &args, d, o, error);
    smap_destroy(&args);
    return retval;
}

/* Parses 'kv' as interface p1, which must succeed, into '*o'. */
static const char *
parse_ok(const char *const kv[], struct ssh_tap_options *o)
{
    char *error;

    if (parse_with("p1", &dirs, kv, o, &error)) {
        snprintf(why, sizeof why, "unexpected error: %s", error);
        free(error);
        ssh_tap_options_destroy(o);
        return why;
    }
    if (error) {
        ssh_tap_options_destroy(o);
        return "*errorp not NULL on success";
    }
    return NULL;
}

/* Parses 'kv' as interface 'ifname' with 'd', which must fail with EINVAL
 * and a message that starts with "<ifname>: " and contains 'needle' (and
 * 'needle2' if nonnull), and must leave the options empty. */
static const char *
expect_error_with(const char *ifname, const struct ssh_tap_dirs *d,
                  const char *const kv[], const char *needle,
                  const char *needle2)
{
    static const struct ssh_tap_options zero;
    struct ssh_tap_options o;
    char *error;
    char prefix[64];

    memset(&o, 0x5a, sizeof o);
    int retval = parse_with(ifname, d, kv, &o, &error);
    if (!retval) {
        ssh_tap_options_destroy(&o);
        snprintf(why, sizeof why, "accepted, expected error with '%s'",
                 needle);
        return why;
    }

    snprintf(prefix, sizeof prefix, "%s: ", ifname);
    if (retval != EINVAL) {
        snprintf(why, sizeof why, "returned %d, not EINVAL", retval);
    } else if (!error) {
        snprintf(why, sizeof why, "no error message");
    } else if (strncmp(error, prefix, strlen(prefix))) {
        snprintf(why, sizeof why, "'%s' does not start with '%s'", error,
                 prefix);
    } else if (!strstr(error, needle)) {
        snprintf(why, sizeof why, "'%s' lacks '%s'", error, needle);
    } else if (needle2 && !strstr(error, needle2)) {
        snprintf(why, sizeof why, "'%s' lacks '%s'", error, needle2);
    } else if (memcmp(&o, &zero, sizeof o)) {
        snprintf(why, sizeof why, "options not left empty");
    } else {
        free(error);
        return NULL;
    }
    free(error);
    return why;
}

static const char *
expect_error(const char *const kv[], const char *needle, const char *needle2)
{
    return expect_error_with("p1", &dirs, kv, needle, needle2);
}

/* Like expect_error(), but the whole message must equal 'msg'. */
static const char *
expect_exact_error(const char *const kv[], const char *msg)
{
    struct ssh_tap_options o;
    char *error;

    if (!parse_with("p1", &dirs, kv, &o, &error)) {
        ssh_tap_options_destroy(&o);
        return "accepted";
    }
    if (!error || strcmp(error, msg)) {
        snprintf(why, sizeof why, "got '%s', expected '%s'",
                 error ? error : "(null)", msg);
        free(error);
        return why;
    }
    free(error);
    return NULL;
}

/* Defaults. */

static const char *
passive_defaults(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(NO_KV, &o));
    CHECK(!o.active);
    CHECK(streq(o.socket, "/run/ovs/ssh-tap/p1.sock"));
    CHECK(o.keepalive_ms == 5000);
    CHECK(!o.user && !o.host && !o.port && !o.key && !o.known_hosts
          && !o.host_key && !o.remote_socket);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
active_defaults(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "site-b.example"), &o));
    CHECK(o.active);
    CHECK(streq(o.user, "ovs"));
    CHECK(streq(o.host, "site-b.example"));
    CHECK(o.port == SSH_TAP_DEFAULT_PORT);
    CHECK(streq(o.key, "/etc/ovs/ssh-tap/id_ed25519"));
    CHECK(streq(o.known_hosts, "/etc/ovs/ssh-tap/known_hosts"));
    CHECK(o.host_key == NULL);
    CHECK(streq(o.remote_socket, "/run/ovs/ssh-tap/p1.sock"));
    CHECK(o.socket == NULL);
    CHECK(o.keepalive_ms == SSH_TAP_DEFAULT_KEEPALIVE_MS);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
defaults_follow_ifname_and_dirs(void)
{
    static const struct ssh_tap_dirs d = {
        .rundir = "/var/run/openvswitch",
        .confdir = "/etc/openvswitch",
        .user = "root",
    };
    struct ssh_tap_options o;
    char *error;

    CHECK(!parse_with("mesh-b", &d, KV("remote", "h"), &o, &error));
    CHECK(streq(o.user, "root"));
    CHECK(streq(o.key, "/etc/openvswitch/ssh-tap/id_ed25519"));
    CHECK(streq(o.known_hosts, "/etc/openvswitch/ssh-tap/known_hosts"));
    CHECK(streq(o.remote_socket,
                "/var/run/openvswitch/ssh-tap/mesh-b.sock"));
    ssh_tap_options_destroy(&o);

    CHECK(!parse_with("mesh-b", &d, NO_KV, &o, &error));
    CHECK(streq(o.socket, "/var/run/openvswitch/ssh-tap/mesh-b.sock"));
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_user_and_port(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "ops@site-b.example:2222"), &o));
    CHECK(streq(o.user, "ops"));
    CHECK(streq(o.host, "site-b.example"));
    CHECK(o.port == 2222);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_ipv4(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "10.0.0.2:22"), &o));
    CHECK(streq(o.host, "10.0.0.2"));
    CHECK(o.port == 22);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_ipv6_bracketed_port(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "root@[fd00::2]:2222"), &o));
    CHECK(streq(o.user, "root"));
    CHECK(streq(o.host, "fd00::2"));
    CHECK(o.port == 2222);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_ipv6_bracketed_no_port(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "[fd00::2]"), &o));
    CHECK(streq(o.host, "fd00::2"));
    CHECK(o.port == 22);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_ipv6_bare(void)
{
    static const char *hosts[] = { "fd00::2", "::1", "fe80::1%eth0",
                                   "2001:db8::1:22" };
    struct ssh_tap_options o;

    for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
        char *remote = xasprintf("ops@%s", hosts[i]);
        const char *e = parse_ok(KV("remote", remote), &o);
        free(remote);
        CHECK_OK(e);
        CHECK(streq(o.user, "ops"));
        CHECK(streq(o.host, hosts[i]));
        CHECK(o.port == 22);
        ssh_tap_options_destroy(&o);
    }
    return NULL;
}

static const char *
remote_user_with_at(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "ops@corp.example@bastion:2200"), &o));
    CHECK(streq(o.user, "ops@corp.example"));
    CHECK(streq(o.host, "bastion"));
    CHECK(o.port == 2200);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
remote_port_limits(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h:1"), &o));
    CHECK(o.port == 1);
    ssh_tap_options_destroy(&o);
    CHECK_OK(parse_ok(KV("remote", "[::1]:65535"), &o));
    CHECK(o.port == 65535);
    ssh_tap_options_destroy(&o);
    CHECK_OK(parse_ok(KV("remote", "h:0022"), &o));
    CHECK(o.port == 22);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
explicit_paths(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h", "key", "/k/id_rsa",
                         "known_hosts", "/k/kh",
                         "remote_socket", "/run/x/other.sock"), &o));
    CHECK(streq(o.key, "/k/id_rsa"));
    CHECK(streq(o.known_hosts, "/k/kh"));
    CHECK(streq(o.remote_socket, "/run/x/other.sock"));
    CHECK(o.host_key == NULL);
    ssh_tap_options_destroy(&o);

    CHECK_OK(parse_ok(KV("socket", "/tmp/s.sock"), &o));
    CHECK(streq(o.socket, "/tmp/s.sock"));
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
host_key_replaces_known_hosts(void)
{
    static const char fp[] = "SHA256:"
                             "nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h", "host_key", fp), &o));
    CHECK(streq(o.host_key, fp));
    CHECK(o.known_hosts == NULL);
    CHECK(streq(o.key, "/etc/ovs/ssh-tap/id_ed25519"));
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
keepalive_values(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("keepalive_interval", "10"), &o));
    CHECK(o.keepalive_ms == 10000);
    ssh_tap_options_destroy(&o);
    CHECK_OK(parse_ok(KV("remote", "h", "keepalive_interval", "1"), &o));
    CHECK(o.keepalive_ms == 1000);
    ssh_tap_options_destroy(&o);
    CHECK_OK(parse_ok(KV("remote", "h", "keepalive_interval", "3600"), &o));
    CHECK(o.keepalive_ms == 3600000);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
socket_length_limit(void)
{
    struct ssh_tap_options o;
    char path[200];

    /* 107 bytes fit (plus the NUL, 108 = sizeof sun_path on Linux). */
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[107] = '\0';
    CHECK_OK(parse_ok(KV("socket", path), &o));
    CHECK(strlen(o.socket) == 107);
    ssh_tap_options_destroy(&o);

    path[107] = 'a';
    path[108] = '\0';
    CHECK_OK(expect_error(KV("socket", path), "options:socket", "108"));

    CHECK_OK(parse_ok(KV("remote", "h", "remote_socket", "/r.sock"), &o));
    ssh_tap_options_destroy(&o);
    CHECK_OK(expect_error(KV("remote", "h", "remote_socket", path),
                          "options:remote_socket", "108"));
    return NULL;
}

static const char *
default_socket_too_long(void)
{
    char rundir[120];
    struct ssh_tap_dirs d = dirs;

    memset(rundir, 'r', sizeof rundir);
    rundir[0] = '/';
    rundir[100] = '\0';
    d.rundir = rundir;

    CHECK_OK(expect_error_with("p1", &d, NO_KV, "options:socket",
                               "set options:socket"));
    CHECK_OK(expect_error_with("p1", &d, KV("remote", "h"),
                               "options:remote_socket",
                               "set options:remote_socket"));

    /* Setting the option explicitly is the way out. */
    struct ssh_tap_options o;
    char *error;
    CHECK(!parse_with("p1", &d, KV("socket", "/run/s"), &o, &error));
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
ifname_with_slash(void)
{
    struct ssh_tap_options o;
    char *error;

    CHECK_OK(expect_error_with("a/b", &dirs, NO_KV, "options:socket",
                               NULL));
    CHECK_OK(expect_error_with("a/b", &dirs, KV("remote", "h"),
                               "options:remote_socket", NULL));
    CHECK(!parse_with("a/b", &dirs, KV("socket", "/run/ab.sock"), &o,
                      &error));
    ssh_tap_options_destroy(&o);
    return NULL;
}

/* Errors. */

static const char *
remote_bad_ports(void)
{
    CHECK_OK(expect_exact_error(KV("remote", "h:70000"),
                                "p1: options:remote: port 70000 out of "
                                "range 1..65535"));
    CHECK_OK(expect_error(KV("remote", "h:0"), "options:remote", "port 0"));
    CHECK_OK(expect_error(KV("remote", "h:65536"), "options:remote",
                          "65536"));
    CHECK_OK(expect_error(KV("remote", "h:abc"), "options:remote", "abc"));
    CHECK_OK(expect_error(KV("remote", "h:"), "options:remote", "port"));
    CHECK_OK(expect_error(KV("remote", "h:-1"), "options:remote", "-1"));
    CHECK_OK(expect_error(KV("remote", "h:+22"), "options:remote", "+22"));
    CHECK_OK(expect_error(KV("remote", "h: 22"), "options:remote", "port"));
    CHECK_OK(expect_error(KV("remote", "h:22 "), "options:remote", "port"));
    CHECK_OK(expect_error(KV("remote", "h:0x16"), "options:remote", "0x16"));
    CHECK_OK(expect_error(KV("remote", "h:99999999999999999999999"),
                          "options:remote", "out of range"));
    CHECK_OK(expect_error(KV("remote", "h:4294967318"),
                          "options:remote", "out of range"));
    CHECK_OK(expect_error(KV("remote", "[::1]:0"), "options:remote",
                          "port 0"));
    CHECK_OK(expect_error(KV("remote", "[::1]:"), "options:remote",
                          "port"));
    return NULL;
}

static const char *
remote_empty_host(void)
{
    static const char *bad[] = { "", "ops@", ":22", "ops@:22", "[]",
                                 "[]:22", "ops@[]" };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_OK(expect_error(KV("remote", bad[i]), "options:remote",
                              "empty host"));
    }
    return NULL;
}

static const char *
remote_empty_user(void)
{
    CHECK_OK(expect_error(KV("remote", "@h"), "options:remote",
                          "empty user"));
    return NULL;
}

static const char *
remote_bad_brackets(void)
{
    CHECK_OK(expect_error(KV("remote", "[fd00::2"), "options:remote", "]"));
    CHECK_OK(expect_error(KV("remote", "[fd00::2]x"), "options:remote",
                          "after ']'"));
    CHECK_OK(expect_error(KV("remote", "[fd00::2]]:22"), "options:remote",
                          "after ']'"));
    CHECK_OK(expect_error(KV("remote", "h]"), "options:remote", "host"));
    CHECK_OK(expect_error(KV("remote", "[a[b]"), "options:remote", "host"));
    return NULL;
}

static const char *
remote_bad_names(void)
{
    CHECK_OK(expect_error(KV("remote", "ho st"), "options:remote", "host"));
    CHECK_OK(expect_error(KV("remote", "ho\tst"), "options:remote", "host"));
    CHECK_OK(expect_error(KV("remote", "-oProxyCommand=x"),
                          "options:remote", "host"));
    CHECK_OK(expect_error(KV("remote", "o ps@h"), "options:remote", "user"));
    CHECK_OK(expect_error(KV("remote", "-l@h"), "options:remote", "user"));
    return NULL;
}

static const char *
unknown_option(void)
{
    CHECK_OK(expect_exact_error(KV("foo", "bar"),
                                "p1: unknown option 'foo'"));
    CHECK_OK(expect_exact_error(KV("remote", "h", "remote_port", "22"),
                                "p1: unknown option 'remote_port'"));
    CHECK_OK(expect_error(KV("remote", "h", "Key", "/k"), "'Key'", NULL));
    return NULL;
}

static const char *
active_only_on_passive(void)
{
    static const char *const opts[][2] = {
        { "key", "/k" },
        { "known_hosts", "/kh" },
        { "host_key", "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8" },
        { "remote_socket", "/r.sock" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        char needle[64];

        snprintf(needle, sizeof needle, "options:%s requires options:remote",
                 opts[i][0]);
        CHECK_OK(expect_error(KV(opts[i][0], opts[i][1]), needle,
                              "options:socket"));
    }
    CHECK_OK(expect_exact_error(KV("key", "/k"),
                                "p1: options:key requires options:remote "
                                "(passive ports listen on options:socket)"));
    return NULL;
}

static const char *
socket_on_active(void)
{
    CHECK_OK(expect_exact_error(KV("remote", "h", "socket", "/s"),
                                "p1: options:socket applies only to passive "
                                "ports (those without options:remote)"));
    return NULL;
}

static const char *
host_key_and_known_hosts(void)
{
    CHECK_OK(expect_exact_error(
                 KV("remote", "h", "known_hosts", "/kh", "host_key",
                    "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"),
                 "p1: options:host_key and options:known_hosts are "
                 "mutually exclusive"));
    return NULL;
}

static const char *
host_key_invalid(void)
{
    static const char *bad[] = {
        "",
        "SHA256:",
        "nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
        "sha256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
        "MD5:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY",    /* 42 */
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8A",  /* 44 */
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8=",  /* padded */
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY-",   /* url-safe */
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5S_8",
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 ",
        " SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (ssh_tap_host_key_valid(bad[i])) {
            snprintf(why, sizeof why, "'%s' accepted", bad[i]);
            return why;
        }
        CHECK_OK(expect_error(KV("remote", "h", "host_key", bad[i]),
                              "options:host_key", "SHA256:"));
    }
    CHECK(!ssh_tap_host_key_valid(NULL));
    return NULL;
}

static const char *
host_key_valid(void)
{
    CHECK(ssh_tap_host_key_valid(
              "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"));
    CHECK(ssh_tap_host_key_valid(
              "SHA256:++++++++++++++++++++++++++++++++++++++++///"));
    CHECK(ssh_tap_host_key_valid(
              "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    return NULL;
}

static const char *
relative_paths(void)
{
    CHECK_OK(expect_error(KV("remote", "h", "key", "id_ed25519"),
                          "options:key", "absolute"));
    CHECK_OK(expect_error(KV("remote", "h", "key", ""),
                          "options:key", "absolute"));
    CHECK_OK(expect_error(KV("remote", "h", "known_hosts", "~/.ssh/kh"),
                          "options:known_hosts", "absolute"));
    CHECK_OK(expect_error(KV("remote", "h", "remote_socket", "p1.sock"),
                          "options:remote_socket", "absolute"));
    CHECK_OK(expect_error(KV("socket", "./p1.sock"),
                          "options:socket", "absolute"));
    return NULL;
}

static const char *
keepalive_invalid(void)
{
    static const char *bad[] = { "0", "3601", "abc", "", "-5", "1.5", " 5",
                                 "5s", "+5", "99999999999999999999" };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_OK(expect_error(KV("keepalive_interval", bad[i]),
                              "options:keepalive_interval", "1..3600"));
        CHECK_OK(expect_error(KV("remote", "h", "keepalive_interval",
                                 bad[i]),
                              "options:keepalive_interval", NULL));
    }
    return NULL;
}

static const char *
no_default_user(void)
{
    struct ssh_tap_dirs d = dirs;
    struct ssh_tap_options o;
    char *error;

    d.user = NULL;
    CHECK_OK(expect_error_with("p1", &d, KV("remote", "h"), "options:remote",
                               "user"));
    CHECK(!parse_with("p1", &d, KV("remote", "ops@h"), &o, &error));
    CHECK(streq(o.user, "ops"));
    ssh_tap_options_destroy(&o);

    /* A passive port needs no user at all. */
    CHECK(!parse_with("p1", &d, NO_KV, &o, &error));
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
deterministic_error(void)
{
    /* Three bad options; whichever order they are added in, the one whose
     * name sorts first is reported. */
    static const char *const orders[][6] = {
        { "zzz", "1", "key", "/k", "keepalive_interval", "0" },
        { "key", "/k", "zzz", "1", "keepalive_interval", "0" },
        { "keepalive_interval", "0", "key", "/k", "zzz", "1" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(orders); i++) {
        const char *const *o = orders[i];
        CHECK_OK(expect_error(KV(o[0], o[1], o[2], o[3], o[4], o[5]),
                              "options:keepalive_interval", NULL));
    }
    return NULL;
}

static const char *
failure_leaves_empty(void)
{
    /* Errors found after some fields were already filled in: options:key
     * and options:remote parse, then options:socket is refused; or all
     * options parse and some defaults are filled in before the default
     * remote socket turns out to be too long. */
    CHECK_OK(expect_error(KV("remote", "ops@h:22", "key", "/k",
                             "socket", "/s"),
                          "options:socket", NULL));
    char rundir[110];
    struct ssh_tap_dirs d = dirs;
    memset(rundir, 'r', sizeof rundir);
    rundir[0] = '/';
    rundir[sizeof rundir - 1] = '\0';
    d.rundir = rundir;
    CHECK_OK(expect_error_with("p1", &d,
                               KV("remote", "ops@h:22", "key", "/k"),
                               "options:remote_socket", NULL));
    return NULL;
}

static const char *
parse_remote_direct(void)
{
    char *user, *host, *error;
    uint16_t port;

    error = ssh_tap_parse_remote("h", &user, &host, &port);
    CHECK(!error);
    CHECK(user == NULL);
    CHECK(streq(host, "h"));
    CHECK(port == 0);
    free(host);

    error = ssh_tap_parse_remote("u@[::1]:9", &user, &host, &port);
    CHECK(!error);
    CHECK(streq(user, "u") && streq(host, "::1") && port == 9);
    free(user);
    free(host);

    user = host = (char *) "junk";
    port = 7;
    error = ssh_tap_parse_remote("u@h:70000", &user, &host, &port);
    CHECK(error && !strcmp(error, "port 70000 out of range 1..65535"));
    CHECK(user == NULL && host == NULL && port == 0);
    free(error);
    return NULL;
}

/* equal, clone, destroy. */

static const char *
equal_and_clone(void)
{
    struct ssh_tap_options a, b, c;

    CHECK_OK(parse_ok(KV("remote", "ops@h:2222", "keepalive_interval", "7"),
                      &a));
    CHECK_OK(parse_ok(KV("keepalive_interval", "7", "remote", "ops@h:2222"),
                      &b));
    CHECK(ssh_tap_options_equal(&a, &b));
    CHECK(ssh_tap_options_equal(&a, &a));

    ssh_tap_options_clone(&c, &a);
    CHECK(ssh_tap_options_equal(&a, &c));
    CHECK(c.user != a.user && c.host != a.host && c.key != a.key
          && c.known_hosts != a.known_hosts
          && c.remote_socket != a.remote_socket);
    CHECK(c.ciphers != a.ciphers && streq(c.ciphers, a.ciphers));

    /* The clone must survive the original (valgrind checks the rest). */
    ssh_tap_options_destroy(&a);
    CHECK(ssh_tap_options_equal(&b, &c));
    CHECK(streq(c.host, "h"));

    ssh_tap_options_destroy(&b);
    ssh_tap_options_destroy(&c);
    return NULL;
}

static const char *
equal_detects_each_field(void)
{
    struct ssh_tap_options base, o;

    CHECK_OK(parse_ok(KV("remote", "ops@h:2222"), &base));
    /* Every member of struct ssh_tap_options, then none. */
    const int n_fields = 19;
    for (int field = 0; field <= n_fields; field++) {
        ssh_tap_options_clone(&o, &base);
        switch (field) {
        case 0: o.active = !o.active; break;
        case 1: free(o.user); o.user = xstrdup("other"); break;
        case 2: free(o.host); o.host = NULL; break;
        case 3: o.port++; break;
        case 4: free(o.key); o.key = xstrdup("/other"); break;
        case 5: free(o.known_hosts); o.known_hosts = NULL; break;
        case 6: o.host_key = xstrdup("SHA256:x"); break;
        case 7: free(o.remote_socket); o.remote_socket = xstrdup("/o"); break;
        case 8: o.socket = xstrdup("/s"); break;
        case 9: o.keepalive_ms++; break;
        case 10: o.remote_command = xstrdup("relay"); break;
        case 11: o.proxy_command = xstrdup("nc %h %p"); break;
        case 12: free(o.ciphers); o.ciphers = xstrdup("aes"); break;
        case 13: o.compression = !o.compression; break;
        case 14: o.max_backoff_ms++; break;
        case 15: o.host_key_policy = SSH_TAP_HOST_KEY_ACCEPT_NEW; break;
        case 16: o.socket_owner = xstrdup("u"); break;
        case 17: o.socket_group = xstrdup("g"); break;
        case 18: o.socket_mode = 0600; break;
        case 19: break;
        }
        bool eq = ssh_tap_options_equal(&base, &o);
        bool eq2 = ssh_tap_options_equal(&o, &base);
        ssh_tap_options_destroy(&o);
        if (eq != eq2 || eq != (field == n_fields)) {
            snprintf(why, sizeof why, "field %d: equal %d/%d", field, eq,
                     eq2);
            ssh_tap_options_destroy(&base);
            return why;
        }
    }
    ssh_tap_options_destroy(&base);
    return NULL;
}

static const char *
clone_passive(void)
{
    struct ssh_tap_options a, c;

    CHECK_OK(parse_ok(NO_KV, &a));
    ssh_tap_options_clone(&c, &a);
    CHECK(ssh_tap_options_equal(&a, &c));
    CHECK(c.socket != a.socket);
    CHECK(c.user == NULL && c.host == NULL && c.key == NULL);
    ssh_tap_options_destroy(&a);
    ssh_tap_options_destroy(&c);
    return NULL;
}

static const char *
destroy_twice_and_null(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h"), &o));
    ssh_tap_options_destroy(&o);
    CHECK(o.user == NULL && o.host == NULL && o.key == NULL);
    ssh_tap_options_destroy(&o);
    ssh_tap_options_destroy(NULL);
    return NULL;
}

/* Operator options added for running links for months. */

static const char *
operator_defaults(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h"), &o));
    CHECK(streq(o.ciphers,
                "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com"));
    CHECK(!o.compression);
    CHECK(o.max_backoff_ms == 8000);
    CHECK(o.host_key_policy == SSH_TAP_HOST_KEY_STRICT);
    CHECK(o.remote_command == NULL && o.proxy_command == NULL);
    ssh_tap_options_destroy(&o);

    CHECK_OK(parse_ok(NO_KV, &o));
    CHECK(o.socket_mode == 0660);
    CHECK(o.socket_owner == NULL && o.socket_group == NULL);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
operator_values(void)
{
    struct ssh_tap_options o;

    CHECK_OK(parse_ok(KV("remote", "h", "cipher", "aes256-ctr",
                         "compression", "true", "max_backoff", "30",
                         "host_key_policy", "accept-new",
                         "proxy_command", "ssh -W %h:%p jump",
                         "remote_command", "ovs-ssh-tap-relay --tap t0"),
                      &o));
    CHECK(streq(o.ciphers, "aes256-ctr"));
    CHECK(o.compression);
    CHECK(o.max_backoff_ms == 30000);
    CHECK(o.host_key_policy == SSH_TAP_HOST_KEY_ACCEPT_NEW);
    CHECK(streq(o.proxy_command, "ssh -W %h:%p jump"));
    CHECK(streq(o.remote_command, "ovs-ssh-tap-relay --tap t0"));
    /* A command replaces the far socket. */
    CHECK(o.remote_socket == NULL);

    struct ssh_tap_options c;
    ssh_tap_options_clone(&c, &o);
    CHECK(ssh_tap_options_equal(&c, &o));
    ssh_tap_options_destroy(&c);
    ssh_tap_options_destroy(&o);

    CHECK_OK(parse_ok(KV("socket_owner", "ovs", "socket_group", "sshtap",
                         "socket_mode", "0640"), &o));
    CHECK(streq(o.socket_owner, "ovs") && streq(o.socket_group, "sshtap"));
    CHECK(o.socket_mode == 0640);
    ssh_tap_options_destroy(&o);
    return NULL;
}

static const char *
operator_errors(void)
{
    CHECK_OK(expect_error(KV("remote", "h", "cipher", "aes128 ctr"),
                          "options:cipher", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "compression", "yes"),
                          "options:compression", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "max_backoff", "0"),
                          "options:max_backoff", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "max_backoff", "3601"),
                          "options:max_backoff", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "host_key_policy", "tofu"),
                          "options:host_key_policy", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "host_key_policy", "accept-new",
                             "host_key", "SHA256:"
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                          "options:host_key_policy", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "remote_command", ""),
                          "options:remote_command", NULL));
    CHECK_OK(expect_error(KV("remote", "h", "remote_command", "relay",
                             "remote_socket", "/x.sock"),
                          "options:remote_command", "options:remote_socket"));
    CHECK_OK(expect_error(KV("proxy_command", "nc %h %p"),
                          "options:proxy_command", "options:remote"));
    CHECK_OK(expect_error(KV("remote", "h", "socket_mode", "0660"),
                          "options:socket_mode", "passive"));
    return NULL;
}

static const char *
socket_mode_never_world(void)
{
    CHECK_OK(expect_error(KV("socket_mode", "0666"), "options:socket_mode",
                          "every local user"));
    CHECK_OK(expect_error(KV("socket_mode", "0601"), "options:socket_mode",
                          "every local user"));
    CHECK_OK(expect_error(KV("socket_mode", "0060"), "options:socket_mode",
                          "owner"));
    CHECK_OK(expect_error(KV("socket_mode", "rw"), "options:socket_mode",
                          NULL));
    CHECK_OK(expect_error(KV("socket_mode", "01000"), "options:socket_mode",
                          NULL));
    CHECK_OK(expect_error(KV("socket_group", "-x"), "options:socket_group",
                          NULL));
    return NULL;
}

int
main(void)
{
    run("passive defaults", passive_defaults);
    run("active defaults", active_defaults);
    run("defaults follow ifname and dirs", defaults_follow_ifname_and_dirs);
    run("remote with user and port", remote_user_and_port);
    run("remote ipv4", remote_ipv4);
    run("remote [ipv6]:port", remote_ipv6_bracketed_port);
    run("remote [ipv6]", remote_ipv6_bracketed_no_port);
    run("remote bare ipv6", remote_ipv6_bare);
    run("remote user containing @", remote_user_with_at);
    run("remote ports 1 and 65535", remote_port_limits);
    run("explicit paths", explicit_paths);
    run("host_key replaces known_hosts", host_key_replaces_known_hosts);
    run("keepalive_interval values", keepalive_values);
    run("sun_path length limit", socket_length_limit);
    run("default socket too long", default_socket_too_long);
    run("ifname with slash", ifname_with_slash);
    run("remote bad ports", remote_bad_ports);
    run("remote empty host", remote_empty_host);
    run("remote empty user", remote_empty_user);
    run("remote bad brackets", remote_bad_brackets);
    run("remote bad names", remote_bad_names);
    run("unknown option", unknown_option);
    run("active-only options on passive port", active_only_on_passive);
    run("socket on active port", socket_on_active);
    run("host_key with known_hosts", host_key_and_known_hosts);
    run("host_key invalid", host_key_invalid);
    run("host_key valid", host_key_valid);
    run("relative paths", relative_paths);
    run("keepalive_interval invalid", keepalive_invalid);
    run("no default user", no_default_user);
    run("deterministic error", deterministic_error);
    run("failure leaves options empty", failure_leaves_empty);
    run("parse_remote direct", parse_remote_direct);
    run("equal and clone", equal_and_clone);
    run("equal detects each field", equal_detects_each_field);
    run("clone passive", clone_passive);
    run("destroy twice and NULL", destroy_twice_and_null);
    run("operator option defaults", operator_defaults);
    run("operator option values", operator_values);
    run("operator option errors", operator_errors);
    run("socket_mode never world-accessible", socket_mode_never_world);

    return n_failed ? 1 : 0;
}
