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

/* Unit tests of the "ssh:" name syntax (utilities/stream-ssh.h) and of
 * stream_ssh_configure()'s checks: pure, no network. */

#include <config.h>

#include "stream-ssh.h"

#include <stdlib.h>
#include <string.h>

#define PROG "test-stream-ssh-name"
#include "unit-test.h"

static bool
streq_null(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Parses 'name' and checks each part ('user' NULL: absent). */
static const char *
parses(int line, const char *name, const char *user, const char *host,
       unsigned int port, const char *socket)
{
    struct stream_ssh_name n;
    char *error = stream_ssh_parse_name(name, &n);
    if (error) {
        snprintf(why, sizeof why, "line %d: %s: unexpected error: %s",
                 line, name, error);
        free(error);
        return why;
    }
    bool ok = (streq_null(n.user, user) && streq_null(n.host, host)
               && n.port == port && streq_null(n.socket, socket));
    if (!ok) {
        snprintf(why, sizeof why, "line %d: %s: got user=%s host=%s port=%u "
                 "socket=%s", line, name, n.user ? n.user : "(none)",
                 n.host ? n.host : "(none)", (unsigned int) n.port,
                 n.socket ? n.socket : "(none)");
    }
    stream_ssh_name_destroy(&n);
    return ok ? NULL : why;
}

/* Checks that 'name' is refused with an error containing 'needle'. */
static const char *
refused(int line, const char *name, const char *needle)
{
    struct stream_ssh_name n;
    char *error = stream_ssh_parse_name(name, &n);
    if (!error) {
        snprintf(why, sizeof why, "line %d: %s: accepted", line, name);
        stream_ssh_name_destroy(&n);
        return why;
    }
    bool ok = (strstr(error, needle) && !strncmp(error, name, strlen(name))
               && !n.user && !n.host && !n.socket && !n.port);
    if (!ok) {
        snprintf(why, sizeof why, "line %d: %s: error '%s' (wanted the name "
                 "and '%s', and an empty result)", line, name, error, needle);
    }
    free(error);
    return ok ? NULL : why;
}

#define PARSES(...)                                     \
    do {                                                \
        const char *e_ = parses(__LINE__, __VA_ARGS__); \
        if (e_) {                                       \
            return e_;                                  \
        }                                               \
    } while (0)

#define REFUSED(...)                                    \
    do {                                                \
        const char *e_ = refused(__LINE__, __VA_ARGS__);\
        if (e_) {                                       \
            return e_;                                  \
        }                                               \
    } while (0)

static const char *
full_names(void)
{
    PARSES("ssh:ops@site-a.example:2222:/var/run/openvswitch/db.sock",
           "ops", "site-a.example", 2222, "/var/run/openvswitch/db.sock");
    PARSES("ssh:ops@192.0.2.1:22:/run/db.sock", "ops", "192.0.2.1", 22,
           "/run/db.sock");
    return NULL;
}

static const char *
optional_parts(void)
{
    PARSES("ssh:site-a:/run/db.sock", NULL, "site-a", 0, "/run/db.sock");
    PARSES("ssh:ops@site-a:/run/db.sock", "ops", "site-a", 0,
           "/run/db.sock");
    PARSES("ssh:site-a:65535:/s", NULL, "site-a", 65535, "/s");
    return NULL;
}

static const char *
ipv6(void)
{
    PARSES("ssh:ops@[2001:db8::1]:2222:/run/db.sock", "ops", "2001:db8::1",
           2222, "/run/db.sock");
    PARSES("ssh:[::1]:/run/db.sock", NULL, "::1", 0, "/run/db.sock");
    PARSES("ssh:[fe80::1%eth0]:22:/s", NULL, "fe80::1%eth0", 22, "/s");
    return NULL;
}

static const char *
socket_paths(void)
{
    /* Everything after the first ":/" is the path, colons and '@'
     * included. */
    PARSES("ssh:h:/a:b@c/d:/e", NULL, "h", 0, "/a:b@c/d:/e");
    PARSES("ssh:h:22:/", NULL, "h", 22, "/");

    char name[200];
    char path[110];
    memset(path, 'x', sizeof path);
    path[0] = '/';
    path[107] = '\0';           /* 107 bytes: the longest sun_path. */
    snprintf(name, sizeof name, "ssh:h:%s", path);
    PARSES(name, NULL, "h", 0, path);
    path[107] = 'x';
    path[108] = '\0';
    snprintf(name, sizeof name, "ssh:h:%s", path);
    REFUSED(name, "longer than 107 bytes");
    REFUSED("ssh:h:/a\nb", "control character");
    return NULL;
}

static const char *
malformed(void)
{
    REFUSED("ssh:", "missing the far socket");
    REFUSED("ssh:host", "missing the far socket");
    REFUSED("ssh:host:22", "missing the far socket");
    REFUSED("ssh:host:relative/sock", "missing the far socket");
    REFUSED("ssh::/sock", "empty host name");
    REFUSED("ssh:@host:/sock", "empty user name");
    REFUSED("ssh:host:0:/sock", "out of range");
    REFUSED("ssh:host:65536:/sock", "out of range");
    REFUSED("ssh:host:2x:/sock", "invalid port");
    REFUSED("ssh:[::1:/sock", "missing ']'");
    REFUSED("ssh:[::1]x:/sock", "unexpected");
    REFUSED("tcp:1.2.3.4:6640", "not an ssh: name");
    return NULL;
}

static const char *
is_ssh_and_verify(void)
{
    CHECK(stream_ssh_is_ssh("ssh:h:/s"));
    CHECK(!stream_ssh_is_ssh("unix:/s"));
    CHECK(!stream_ssh_is_ssh("sshx:h:/s"));
    CHECK(!stream_ssh_is_ssh("SSH:h:/s"));

    char *error = stream_ssh_verify_name("ssh:ops@h:22:/s");
    CHECK_MSG(!error, "%s", error);
    error = stream_ssh_verify_name("ssh:ops@h:22");
    CHECK(error && strstr(error, "missing the far socket"));
    free(error);
    return NULL;
}

static const char *
configure_checks(void)
{
    struct stream_ssh_config cfg = { .host_key = "SHA256:nope" };
    char *error = stream_ssh_configure(&cfg);
    CHECK(error && strstr(error, "SHA256:nope"));
    free(error);

    cfg = (struct stream_ssh_config) {
        .host_key = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        .known_hosts = "/k",
    };
    error = stream_ssh_configure(&cfg);
    CHECK(error && strstr(error, "mutually exclusive"));
    free(error);

    cfg.known_hosts = NULL;
    error = stream_ssh_configure(&cfg);
    CHECK_MSG(!error, "%s", error);

    cfg = (struct stream_ssh_config) { .key = "/k", .known_hosts = "/kh",
                                       .proxy_command = "nc %h %p" };
    error = stream_ssh_configure(&cfg);
    CHECK_MSG(!error, "%s", error);
    return NULL;
}

int
main(void)
{
    run("full names", full_names);
    run("user and port optional", optional_parts);
    run("IPv6 in brackets", ipv6);
    run("socket paths", socket_paths);
    run("malformed names", malformed);
    run("is_ssh and verify_name", is_ssh_and_verify);
    run("configure checks", configure_checks);
    return n_failed ? 1 : 0;
}
