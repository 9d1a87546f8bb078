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

/* The client of tests/system-stream-ssh.sh: opens an "ssh:" stream
 * (utilities/stream-ssh.h) and speaks JSON-RPC on it with OVS's own jsonrpc
 * library, which drives the stream through stream_run(), stream_run_wait(),
 * stream_recv_wait() and the poll loop as the utilities will.
 *
 *     test-stream-ssh [OPTIONS] NAME
 *
 *     --key=FILE --known-hosts=FILE --host-key=SHA256:... --proxy-command=C
 *                        as the utilities' --ssh-* options
 *     --timeout=SECS     give up after SECS (default 30)
 *     --exit-early       exit right after opening, the login still running
 *     --exit-connected   exit once connected, without closing the stream
 *     --verbose          log at debug level on stderr
 *     --until-eof        after the requests, wait for the far end to close
 *                        and print "eof: REASON" (stream_ssh_last_error())
 *
 * Prints what it saw, one "key: value" per line: "first-connect: EAGAIN",
 * "open-ms: N", "connected", "host-key: SHA256:...", "cipher: ...",
 * "echo: ok", "dbs: [...]", or "error: ERRNO: REASON".  Exits 0 if the
 * connection and both requests worked, 1 if the connection failed, 2 on any
 * other problem. */

#include <config.h>

#include "stream-ssh.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

static int
die(const char *what)
{
    printf("problem: %s\n", what);
    fflush(stdout);
    exit(2);
}

/* Sends 'method' with 'params' and returns the reply's result, or exits. */
static struct json *
transact(struct jsonrpc *rpc, const char *method, struct json *params)
{
    struct jsonrpc_msg *reply = NULL;
    struct jsonrpc_msg *request = jsonrpc_create_request(method, params,
                                                         NULL);
    int error = jsonrpc_transact_block(rpc, request, &reply);
    if (error || !reply || reply->type != JSONRPC_REPLY || !reply->result) {
        printf("problem: %s: %s\n", method,
               error ? ovs_strerror(error) : "no result");
        exit(2);
    }
    struct json *result = json_clone(reply->result);
    jsonrpc_msg_destroy(reply);
    return result;
}

int
main(int argc, char *argv[])
{
    struct stream_ssh_config cfg = { NULL };
    int timeout = 30;
    bool exit_early = false, exit_connected = false, until_eof = false;
    enum {
        OPT_KEY = 256, OPT_KNOWN_HOSTS, OPT_HOST_KEY, OPT_PROXY_COMMAND,
        OPT_TIMEOUT, OPT_EXIT_EARLY, OPT_EXIT_CONNECTED, OPT_UNTIL_EOF,
    };
    static const struct option long_options[] = {
        { "key", required_argument, NULL, OPT_KEY },
        { "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS },
        { "host-key", required_argument, NULL, OPT_HOST_KEY },
        { "proxy-command", required_argument, NULL, OPT_PROXY_COMMAND },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "exit-early", no_argument, NULL, OPT_EXIT_EARLY },
        { "exit-connected", no_argument, NULL, OPT_EXIT_CONNECTED },
        { "until-eof", no_argument, NULL, OPT_UNTIL_EOF },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    for (;;) {
        int c = getopt_long(argc, argv, "", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_KEY: cfg.key = optarg; break;
        case OPT_KNOWN_HOSTS: cfg.known_hosts = optarg; break;
        case OPT_HOST_KEY: cfg.host_key = optarg; break;
        case OPT_PROXY_COMMAND: cfg.proxy_command = optarg; break;
        case OPT_TIMEOUT: timeout = atoi(optarg); break;
        case OPT_EXIT_EARLY: exit_early = true; break;
        case OPT_EXIT_CONNECTED: exit_connected = true; break;
        case OPT_UNTIL_EOF: until_eof = true; break;
        case 'v': vlog_set_levels(NULL, VLF_CONSOLE, VLL_DBG); break;
        default: die("bad option");
        }
    }
    if (optind != argc - 1) {
        die("usage: test-stream-ssh [OPTIONS] ssh:NAME");
    }
    const char *name = argv[optind];

    char *error = stream_ssh_configure(&cfg);
    if (error) {
        die(error);
    }

    /* Neither opening nor the first connect may wait for the network. */
    struct stream *stream;
    long long int t0 = time_msec();
    int retval = stream_ssh_open(name, &stream);
    if (retval) {
        printf("error: %s: open failed\n", ovs_strerror(retval));
        return 1;
    }
    retval = stream_connect(stream);
    long long int open_ms = time_msec() - t0;
    printf("first-connect: %s\n", retval == EAGAIN ? "EAGAIN"
           : retval ? ovs_strerror(retval) : "0");
    printf("open-ms: %lld\n", open_ms);
    fflush(stdout);
    if (exit_early) {
        /* The pump is logging in: the exit handler must stop it cleanly. */
        exit(0);
    }

    long long int deadline = time_msec() + timeout * 1000LL;
    while ((retval = stream_connect(stream)) == EAGAIN) {
        if (time_msec() >= deadline) {
            die("timed out waiting for stream_connect()");
        }
        stream_run(stream);
        stream_run_wait(stream);
        stream_connect_wait(stream);
        poll_timer_wait_until(deadline);
        poll_block();
    }
    if (retval) {
        const char *reason = stream_ssh_error(stream);
        printf("error: %s: %s\n", ovs_strerror(retval),
               reason ? reason : "(no reason given)");
        stream_close(stream);
        return 1;
    }
    const char *cipher;
    const char *host_key = stream_ssh_host_key(stream, &cipher);
    printf("connected\nhost-key: %s\ncipher: %s\n",
           host_key ? host_key : "(none)", cipher ? cipher : "(none)");
    fflush(stdout);
    if (exit_connected) {
        /* The pump is pumping: the exit handler must stop it cleanly. */
        exit(0);
    }

    struct jsonrpc *rpc = jsonrpc_open(stream);

    /* A payload several channel packets long, to see it whole. */
    char *big = xmalloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    struct json *params = json_array_create_2(json_string_create("hello"),
                                              json_string_create_nocopy(big));
    struct json *expect = json_clone(params);
    struct json *result = transact(rpc, "echo", params);
    printf("echo: %s\n", json_equal(result, expect) ? "ok" : "MISMATCH");
    bool ok = json_equal(result, expect);
    json_destroy(result);
    json_destroy(expect);

    result = transact(rpc, "list_dbs", json_array_create_empty());
    char *dbs = json_to_string(result, 0);
    printf("dbs: %s\n", dbs);
    free(dbs);
    json_destroy(result);
    fflush(stdout);

    if (until_eof) {
        /* jsonrpc closes the stream when it sees the end, so the reason
         * comes from stream_ssh_last_error(). */
        struct jsonrpc_msg *msg;
        while (!(retval = jsonrpc_recv_block(rpc, &msg))) {
            jsonrpc_msg_destroy(msg);
        }
        char *reason = stream_ssh_last_error(name);
        printf("eof: %s: %s\n", retval == EOF ? "EOF" : ovs_strerror(retval),
               reason ? reason : "(no reason given)");
        free(reason);
    }

    jsonrpc_close(rpc);
    fflush(stdout);
    return ok ? 0 : 2;
}
