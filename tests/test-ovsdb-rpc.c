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

/* Unit tests of utilities/ovsdb-rpc.c: the remote classification, and the
 * session against fake servers on unix sockets in this process, which play
 * the members of a Raft cluster: who is leader, who has lost the cluster,
 * who changes their mind, who sends garbage. */

#include <config.h>
#include "ovsdb-rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "rpc-decode.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

#define PROG "test-ovsdb-rpc"
#include "unit-test.h"

/* One fake member: a listening socket, at most one client. */
struct fake {
    char *name;                 /* "unix:PATH" for the client. */
    struct pstream *listener;
    struct stream *conn;
    struct rpc_decoder dec;
    const char *model;          /* _Server Database row: "clustered"... */
    bool connected, leader;
    bool no_server_db;          /* Answer the _Server monitor with an error. */
    bool garbage;               /* Answer everything with garbage. */
    int n_accepted;
    int n_transacts;
    char *echo_reply_id;        /* Id of an echo reply received. */
};

static char *dir;

static void
fake_init(struct fake *f, int i)
{
    char *path = xasprintf("%s/m%d.sock", dir, i);
    char *pname = xasprintf("punix:%s", path);

    memset(f, 0, sizeof *f);
    f->name = xasprintf("unix:%s", path);
    if (pstream_open(pname, &f->listener, 0)) {
        fprintf(stderr, "cannot listen on %s\n", pname);
        exit(1);
    }
    rpc_decoder_init(&f->dec, 0);
    f->model = "clustered";
    f->connected = true;
    free(path);
    free(pname);
}

static void
fake_drop(struct fake *f)
{
    stream_close(f->conn);
    f->conn = NULL;
    rpc_decoder_reset(&f->dec);
}

static void
fake_destroy(struct fake *f)
{
    fake_drop(f);
    pstream_close(f->listener);
    rpc_decoder_destroy(&f->dec);
    free(f->echo_reply_id);
    free(f->name);
}

static void
fake_send(struct fake *f, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);

    /* Small messages on a local socket: they go out whole. */
    if (f->conn) {
        stream_send(f->conn, s, strlen(s));
    }
    free(s);
    json_decref(msg);
}

static json_t *
server_row(const struct fake *f)
{
    return json_pack("{s:{s:{s:{s:s, s:s, s:b, s:b}}}}", "Database",
                     "7d5e0d5a-0000-4000-8000-000000000001", "new",
                     "name", "SSH_Tap", "model", f->model,
                     "connected", f->connected, "leader", f->leader);
}

/* Tells the client of 'f' that its _Server row changed. */
static void
fake_update(struct fake *f)
{
    fake_send(f, json_pack("{s:s, s:[s, o], s:n}", "method", "update",
                           "params", "ovsdb-rpc/_Server", server_row(f),
                           "id"));
}

static void
fake_handle(struct fake *f, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");

    if (f->garbage) {
        stream_send(f->conn, "[not, json", 10);
        return;
    }
    if (!method) {
        free(f->echo_reply_id);
        f->echo_reply_id = xstrdup(json_is_string(id)
                                   ? json_string_value(id) : "?");
    } else if (!strcmp(method, "monitor")) {
        if (f->no_server_db) {
            fake_send(f, json_pack("{s:n, s:{s:s}, s:O}", "result", "error",
                                   "error", "unknown database", "id", id));
        } else {
            fake_send(f, json_pack("{s:o, s:n, s:O}", "result",
                                   server_row(f), "error", "id", id));
        }
    } else if (!strcmp(method, "transact")) {
        f->n_transacts++;
        fake_send(f, json_pack("{s:[{}], s:n, s:O}", "result", "error",
                               "id", id));
    } else if (!strcmp(method, "echo")) {
        fake_send(f, json_pack("{s:O, s:n, s:O}", "result",
                               json_object_get(msg, "params"), "error",
                               "id", id));
    }
}

static void
fake_run(struct fake *f)
{
    struct stream *s;
    char buf[4096];
    int n;

    if (!pstream_accept(f->listener, &s)) {
        fake_drop(f);
        f->conn = s;
        f->n_accepted++;
    }
    while (f->conn && (n = stream_recv(f->conn, buf, sizeof buf)) > 0) {
        json_t *msg;

        rpc_decoder_feed(&f->dec, buf, n);
        while (rpc_decoder_next(&f->dec, &msg) == 1) {
            fake_handle(f, msg);
            json_decref(msg);
        }
    }
    if (f->conn && n != -EAGAIN) {
        fake_drop(f);
    }
}

static void
fake_wait(struct fake *f)
{
    pstream_wait(f->listener);
    if (f->conn) {
        stream_recv_wait(f->conn);
    }
}

#define N_FAKES 3
static struct fake fakes[N_FAKES];

static char *
remote_list(void)
{
    return xasprintf("%s,%s,%s", fakes[0].name, fakes[1].name,
                     fakes[2].name);
}

/* Runs 'rpc' and the fakes until 'done' holds or 'ms' pass.  Returns
 * whether 'done' held. */
static bool
run_until(struct ovsdb_rpc *rpc, bool (*done)(struct ovsdb_rpc *),
          long long int ms)
{
    long long int deadline = time_msec() + ms;

    for (;;) {
        ovsdb_rpc_run(rpc);
        for (int i = 0; i < N_FAKES; i++) {
            fake_run(&fakes[i]);
        }
        if (done(rpc)) {
            return true;
        }
        if (time_msec() >= deadline) {
            return false;
        }
        ovsdb_rpc_wait(rpc);
        for (int i = 0; i < N_FAKES; i++) {
            fake_wait(&fakes[i]);
        }
        poll_timer_wait_until(deadline);
        poll_block();
    }
}

static bool
is_ready(struct ovsdb_rpc *rpc)
{
    return ovsdb_rpc_is_ready(rpc);
}

static void
reset_fakes(void)
{
    for (int i = 0; i < N_FAKES; i++) {
        fake_drop(&fakes[i]);
        fakes[i].model = "clustered";
        fakes[i].connected = true;
        fakes[i].leader = false;
        fakes[i].no_server_db = fakes[i].garbage = false;
        fakes[i].n_accepted = fakes[i].n_transacts = 0;
    }
}

static const char *
test_security(void)
{
    static const struct {
        const char *remote;
        enum ovsdb_rpc_security sec;
    } cases[] = {
        { "unix:/run/x.sock", OVSDB_RPC_SEC_UNIX },
        { "ssl:192.0.2.1:6640", OVSDB_RPC_SEC_SSL },
        { "ssh:ops@site-a:/run/registry.sock", OVSDB_RPC_SEC_SSH },
        { "tcp:127.0.0.1:6640", OVSDB_RPC_SEC_TCP_LOOPBACK },
        { "tcp:127.9.8.7:6640", OVSDB_RPC_SEC_TCP_LOOPBACK },
        { "tcp:localhost:6640", OVSDB_RPC_SEC_TCP_LOOPBACK },
        { "tcp:[::1]:6640", OVSDB_RPC_SEC_TCP_LOOPBACK },
        { "tcp:[::ffff:127.0.0.1]:6640", OVSDB_RPC_SEC_TCP_LOOPBACK },
        { "tcp:192.0.2.1:6640", OVSDB_RPC_SEC_INSECURE },
        { "tcp:128.0.0.1:6640", OVSDB_RPC_SEC_INSECURE },
        { "tcp:[2001:db8::1]:6640", OVSDB_RPC_SEC_INSECURE },
        { "tcp:registry.example:6640", OVSDB_RPC_SEC_INSECURE },
        { "tcp:localhost.evil.example:6640", OVSDB_RPC_SEC_INSECURE },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum ovsdb_rpc_security sec =
            ovsdb_rpc_remote_security(cases[i].remote);

        CHECK_MSG(sec == cases[i].sec, "%s: %s, expected %s",
                  cases[i].remote, ovsdb_rpc_security_name(sec),
                  ovsdb_rpc_security_name(cases[i].sec));
    }
    return NULL;
}

static const char *
test_verify(void)
{
    char *e;

    CHECK(!ovsdb_rpc_verify_remotes("unix:/a,tcp:127.0.0.1:1"));
    e = ovsdb_rpc_verify_remotes("unix:/a,bogus:x");
    CHECK_MSG(e && strstr(e, "bogus:x"), "%s", e ? e : "(none)");
    free(e);
    e = ovsdb_rpc_verify_remotes(" , ");
    CHECK(e);
    free(e);
    e = ovsdb_rpc_verify_remotes("ssl:192.0.2.1:6640");
    CHECK_MSG(e && strstr(e, "--private-key"), "%s", e ? e : "(none)");
    free(e);
    return NULL;
}

/* m1 follows, m2 has lost the cluster, m3 leads: a writer ends on m3,
 * in one round, without backoff. */
static const char *
test_leader_only(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap",
                                      .leader_only = true };
    char *remotes = remote_list();
    struct ovsdb_rpc *rpc;
    long long int t0 = time_msec();

    reset_fakes();
    fakes[1].connected = false;
    fakes[2].leader = true;
    rpc = ovsdb_rpc_create(remotes, &opts);
    CHECK(run_until(rpc, is_ready, 5000));
    CHECK_MSG(!strcmp(ovsdb_rpc_member(rpc), fakes[2].name), "on %s",
              ovsdb_rpc_member(rpc));
    CHECK(ovsdb_rpc_is_leader(rpc));
    CHECK(!strcmp(ovsdb_rpc_role(rpc), "leader"));
    CHECK(ovsdb_rpc_security(rpc) == OVSDB_RPC_SEC_UNIX);
    CHECK(fakes[0].n_accepted == 1 && fakes[1].n_accepted == 1);
    CHECK_MSG(time_msec() - t0 < 900, "took %lld ms", time_msec() - t0);
    CHECK_MSG(strstr(ovsdb_rpc_last_error(rpc), "not connected"),
              "last error %s", ovsdb_rpc_last_error(rpc));
    ovsdb_rpc_destroy(rpc);
    free(remotes);
    return NULL;
}

/* A reader takes the first member connected to its cluster. */
static const char *
test_any_member(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap" };
    char *remotes = remote_list();
    struct ovsdb_rpc *rpc;

    reset_fakes();
    fakes[0].connected = false;
    rpc = ovsdb_rpc_create(remotes, &opts);
    CHECK(run_until(rpc, is_ready, 5000));
    CHECK(!strcmp(ovsdb_rpc_member(rpc), fakes[1].name));
    CHECK(!ovsdb_rpc_is_leader(rpc));
    CHECK(!strcmp(ovsdb_rpc_role(rpc), "follower"));
    ovsdb_rpc_destroy(rpc);
    free(remotes);
    return NULL;
}

static unsigned int seqno_at_start;

static bool
ready_again(struct ovsdb_rpc *rpc)
{
    return ovsdb_rpc_is_ready(rpc)
           && ovsdb_rpc_get_seqno(rpc) != seqno_at_start;
}

/* The leader steps down while we are on it: the session leaves it, the
 * seqno changes, and it ends on the new leader. */
static const char *
test_leader_moves(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap",
                                      .leader_only = true };
    char *remotes = remote_list();
    struct ovsdb_rpc *rpc;

    reset_fakes();
    fakes[0].leader = true;
    rpc = ovsdb_rpc_create(remotes, &opts);
    CHECK(run_until(rpc, is_ready, 5000));
    CHECK(!strcmp(ovsdb_rpc_member(rpc), fakes[0].name));

    seqno_at_start = ovsdb_rpc_get_seqno(rpc);
    fakes[0].leader = false;
    fakes[2].leader = true;
    fake_update(&fakes[0]);
    CHECK(run_until(rpc, ready_again, 10000));
    CHECK_MSG(!strcmp(ovsdb_rpc_member(rpc), fakes[2].name), "on %s",
              ovsdb_rpc_member(rpc));
    CHECK(ovsdb_rpc_get_seqno(rpc) == seqno_at_start + 2);
    ovsdb_rpc_destroy(rpc);
    free(remotes);
    return NULL;
}

/* A server without _Server counts as standalone; a transaction works. */
static const char *
test_standalone_call(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap",
                                      .leader_only = true };
    struct ovsdb_rpc *rpc;
    json_t *result;
    char *err;

    reset_fakes();
    fakes[0].no_server_db = true;
    rpc = ovsdb_rpc_create(fakes[0].name, &opts);
    /* The fake answers in this thread, so drive both until ready first. */
    CHECK(run_until(rpc, is_ready, 5000));
    CHECK(ovsdb_rpc_is_leader(rpc));
    CHECK(!strcmp(ovsdb_rpc_role(rpc), "standalone"));
    CHECK(ovsdb_rpc_send(rpc, ovsdb_rpc_request("transact",
                                                json_pack("[s]", "SSH_Tap"),
                                                "t1")) == 0);
    CHECK(run_until(rpc, is_ready, 200));
    fake_run(&fakes[0]);
    CHECK(fakes[0].n_transacts == 1);

    /* ovsdb_rpc_call_block() cannot run the fake, so only its failure
     * path is tested here: a dead remote, given up at once. */
    ovsdb_rpc_destroy(rpc);
    struct ovsdb_rpc_options fail_fast = { .max_failures = 1 };
    char *nowhere = xasprintf("unix:%s/nowhere.sock", dir);
    rpc = ovsdb_rpc_create(nowhere, &fail_fast);
    result = ovsdb_rpc_call_block(rpc, "transact", json_array(), 5000,
                                  &err);
    CHECK(!result && err && strstr(err, "nowhere.sock"));
    CHECK(!ovsdb_rpc_is_alive(rpc));
    free(err);
    free(nowhere);
    ovsdb_rpc_destroy(rpc);
    return NULL;
}

/* Garbage from the server costs the connection, with a reason; the
 * session then moves on to the next member. */
static const char *
test_garbage_server(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap" };
    char *remotes = remote_list();
    struct ovsdb_rpc *rpc;

    reset_fakes();
    fakes[0].garbage = true;
    rpc = ovsdb_rpc_create(remotes, &opts);
    CHECK(run_until(rpc, is_ready, 5000));
    CHECK(!strcmp(ovsdb_rpc_member(rpc), fakes[1].name));
    CHECK_MSG(strstr(ovsdb_rpc_last_error(rpc), "expected a JSON object"),
              "last error %s", ovsdb_rpc_last_error(rpc));
    ovsdb_rpc_destroy(rpc);
    free(remotes);
    return NULL;
}

static bool
echo_answered(struct ovsdb_rpc *rpc)
{
    return fakes[0].echo_reply_id != NULL;
}

/* The server's echo gets its reply, with the server's id; the echo never
 * reaches the caller. */
static const char *
test_echo(void)
{
    struct ovsdb_rpc_options opts = { .database = "SSH_Tap" };
    struct ovsdb_rpc *rpc;

    reset_fakes();
    rpc = ovsdb_rpc_create(fakes[0].name, &opts);
    CHECK(run_until(rpc, is_ready, 5000));
    free(fakes[0].echo_reply_id);
    fakes[0].echo_reply_id = NULL;
    fake_send(&fakes[0], json_pack("{s:s, s:[s], s:s}", "method", "echo",
                                   "params", "x", "id", "srv-echo-1"));
    CHECK(run_until(rpc, echo_answered, 2000));
    CHECK_MSG(!strcmp(fakes[0].echo_reply_id, "srv-echo-1"), "id %s",
              fakes[0].echo_reply_id);
    CHECK(!ovsdb_rpc_recv(rpc));
    ovsdb_rpc_destroy(rpc);
    return NULL;
}

int
main(int argc OVS_UNUSED, char *argv[])
{
    char template[] = "/tmp/test-ovsdb-rpc.XXXXXX";

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    dir = mkdtemp(template);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < N_FAKES; i++) {
        fake_init(&fakes[i], i + 1);
    }

    run("security", test_security);
    run("verify", test_verify);
    run("leader-only", test_leader_only);
    run("any-member", test_any_member);
    run("leader-moves", test_leader_moves);
    run("standalone-call", test_standalone_call);
    run("garbage-server", test_garbage_server);
    run("echo", test_echo);

    for (int i = 0; i < N_FAKES; i++) {
        char *path = xasprintf("%s/m%d.sock", dir, i + 1);

        fake_destroy(&fakes[i]);
        unlink(path);
        free(path);
    }
    rmdir(dir);
    return n_failed ? 1 : 0;
}
