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

/* ssh-sink: the raw SSH stream ceiling for bench/run-bench.sh.
 *
 * Logs in with libssh (public key, host key checked against a known_hosts
 * file), opens a direct-streamlocal@openssh.com channel to a unix socket on
 * the far host -- the same kind of channel an active ssh-tap port opens --
 * writes MB mebibytes of zeros into it, sends EOF and waits for the far end
 * to close.  Prints one line:
 *
 *     BYTES SECONDS MBIT_PER_S CIPHER
 *
 * The time runs from the first write to the far end's close, so it covers
 * everything that had to cross.
 *
 * usage: ssh-sink HOST PORT USER KEY KNOWN_HOSTS CIPHERS SOCKET MB */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh/libssh.h>

#define CHUNK 65536

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(ssh_session ssh, const char *what)
{
    fprintf(stderr, "ssh-sink: %s: %s\n", what,
            ssh ? ssh_get_error(ssh) : "failed");
    exit(1);
}

int
main(int argc, char *argv[])
{
    if (argc != 9) {
        fprintf(stderr, "usage: %s HOST PORT USER KEY KNOWN_HOSTS CIPHERS "
                "SOCKET MB\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    unsigned int port = strtoul(argv[2], NULL, 10);
    const char *user = argv[3];
    const char *keyfile = argv[4];
    const char *known_hosts = argv[5];
    const char *ciphers = argv[6];
    const char *socket_path = argv[7];
    uint64_t total = strtoull(argv[8], NULL, 10) * 1024 * 1024;
    long timeout = 10;
    int no = 0, yes = 1;

    ssh_init();
    ssh_session ssh = ssh_new();
    if (!ssh) {
        die(NULL, "ssh_new");
    }
    if (ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no)
        || ssh_options_set(ssh, SSH_OPTIONS_HOST, host)
        || ssh_options_set(ssh, SSH_OPTIONS_PORT, &port)
        || ssh_options_set(ssh, SSH_OPTIONS_USER, user)
        || ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout)
        || ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &yes)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_C_S, ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_S_C, ciphers)
        || ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, known_hosts)
        || ssh_options_set(ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
                           known_hosts)) {
        die(ssh, "setting options");
    }
    if (ssh_connect(ssh) != SSH_OK) {
        die(ssh, "connect");
    }
    if (ssh_session_is_known_server(ssh) != SSH_KNOWN_HOSTS_OK) {
        die(ssh, "host key not in known_hosts");
    }

    ssh_key key = NULL;
    if (ssh_pki_import_privkey_file(keyfile, NULL, NULL, NULL, &key)
        != SSH_OK) {
        die(ssh, "loading the private key");
    }
    if (ssh_userauth_publickey(ssh, NULL, key) != SSH_AUTH_SUCCESS) {
        die(ssh, "public key authentication");
    }
    ssh_key_free(key);

    ssh_channel channel = ssh_channel_new(ssh);
    if (!channel
        || ssh_channel_open_forward_unix(channel, socket_path, "127.0.0.1",
                                         0) != SSH_OK) {
        die(ssh, "opening the direct-streamlocal channel");
    }

    char *buf = calloc(1, CHUNK);
    if (!buf) {
        die(NULL, "out of memory");
    }

    double start = now_s();
    uint64_t sent = 0;
    while (sent < total) {
        uint32_t n = total - sent < CHUNK ? total - sent : CHUNK;
        int w = ssh_channel_write(channel, buf, n);
        if (w == SSH_ERROR) {
            die(ssh, "write");
        }
        sent += w;
    }
    if (ssh_channel_send_eof(channel) != SSH_OK) {
        die(ssh, "sending EOF");
    }
    /* The sink closes its end once it has read everything; the channel's
     * EOF tells us so. */
    double deadline = now_s() + 60;
    while (!ssh_channel_is_eof(channel) && ssh_channel_is_open(channel)) {
        char junk[256];
        int r = ssh_channel_read_timeout(channel, junk, sizeof junk, 0, 1000);
        if (r == SSH_ERROR || now_s() > deadline) {
            break;
        }
    }
    double secs = now_s() - start;

    printf("%llu %.3f %.1f %s\n", (unsigned long long) sent, secs,
           sent * 8 / secs / 1e6, ssh_get_cipher_out(ssh));

    free(buf);
    ssh_channel_close(channel);
    ssh_channel_free(channel);
    ssh_disconnect(ssh);
    ssh_free(ssh);
    ssh_finalize();
    return 0;
}
