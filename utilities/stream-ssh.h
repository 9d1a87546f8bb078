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

#ifndef STREAM_SSH_H
#define STREAM_SSH_H 1

/* "ssh:" remotes for the utilities: an OVS stream (lib/stream-provider.h)
 * whose bytes travel through a direct-streamlocal@openssh.com channel to a
 * unix socket on the far host, typically the registry's ovsdb-server.
 *
 *     ssh:[USER@]HOST[:PORT]:/ABSOLUTE/SOCKET      (IPv6: [ADDR])
 *
 * The SSH login (resolve, connect, host key, key file, auth, channel) is
 * the same code as ssh-tap ports use, plugin/ssh-tap-login.c, with the same
 * checks: host keys strict by default (known_hosts or a pinned SHA256:
 * fingerprint, no silent trust on first use), a key file readable by others
 * refused.
 *
 * OVS's stream library has no way to add a stream class, so these streams
 * are made by stream_ssh_open() instead of stream_open(); after that they
 * are ordinary OVS streams: stream_connect(), stream_recv(), stream_send(),
 * stream_run(), stream_wait(), stream_close().  Opening never blocks: the
 * login runs in a thread of its own, and stream_connect() returns EAGAIN
 * until the channel is open (as a TCP connect in progress does), then 0, or
 * a positive errno value if the login failed, in which case
 * stream_ssh_error() says why in an operator's words, e.g.
 * "host key mismatch for ops@site-a:22: expected SHA256:..., got SHA256:...".
 *
 * Threads and fork(): each stream's login and byte pump run in a thread of
 * its own (ovs_thread_create()), and OVS forbids fork() once a process has
 * threads.  A program that daemonizes (lib/daemon: --detach, --monitor)
 * must therefore do so before its first stream_ssh_open().
 *
 * At exit, a handler stops every pump still running (and waits for it, up
 * to 3 s) before libssh and OpenSSL tear themselves down.
 */

#include <stdbool.h>
#include <stdint.h>

struct stream;

/* Settings shared by every ssh: remote of the process, from the command
 * line (--ssh-key, --ssh-known-hosts, --ssh-host-key, --ssh-proxy-command).
 * NULL members take the defaults: key and known_hosts under
 * <ovs dbdir>/ssh-tap/, as for ssh-tap ports. */
struct stream_ssh_config {
    const char *key;            /* Private key file. */
    const char *known_hosts;    /* known_hosts file. */
    const char *host_key;       /* Pinned "SHA256:..." fingerprint. */
    const char *proxy_command;  /* As ssh's ProxyCommand (%h, %p, %r). */
};

/* Copies 'cfg' for use by later stream_ssh_open() calls.  Returns NULL, or
 * a malloc()ed error (e.g. a malformed --ssh-host-key, or both
 * --ssh-known-hosts and --ssh-host-key given). */
char *stream_ssh_configure(const struct stream_ssh_config *cfg);

/* True if 'name' starts with "ssh:". */
bool stream_ssh_is_ssh(const char *name);

/* Checks the syntax of an "ssh:" name without opening anything.  Returns
 * NULL if it is well formed, otherwise a malloc()ed description. */
char *stream_ssh_verify_name(const char *name);

/* An "ssh:" name, taken apart. */
struct stream_ssh_name {
    char *user;                 /* Login name, or NULL if absent. */
    char *host;                 /* Host name or address, no brackets. */
    uint16_t port;              /* sshd's port, or 0 if absent. */
    char *socket;               /* Absolute path of the far unix socket. */
};

/* Parses 'name', "ssh:[USER@]HOST[:PORT]:/ABSOLUTE/SOCKET" (an IPv6
 * address as "[ADDR]").  Pure: looks nothing up.  Returns NULL and fills in
 * '*n' (free with stream_ssh_name_destroy()), or a malloc()ed description
 * that starts with 'name' and leaves '*n' empty. */
char *stream_ssh_parse_name(const char *name, struct stream_ssh_name *n);
void stream_ssh_name_destroy(struct stream_ssh_name *);

/* Starts opening 'name' (an "ssh:" name).  Returns 0 and stores a new
 * stream in '*streamp', or a positive errno value (EINVAL for a malformed
 * name, logged) and NULL.  Never blocks.  Without USER, logs in as the user
 * the process runs as; without PORT, port 22.  The stream needs probes
 * (stream_class 'needs_probes'): a silent path is found out only by
 * traffic. */
int stream_ssh_open(const char *name, struct stream **streamp);

/* If 'stream' is an ssh: stream whose login or channel failed (or whose
 * connection later ended), returns why; otherwise NULL.  The string is
 * owned by the stream. */
const char *stream_ssh_error(const struct stream *stream);

/* Returns a malloc()ed copy of the reason the last ssh: stream named 'name'
 * failed or ended (as stream_ssh_error() gave it), or NULL if none has.
 * For callers that no longer hold the stream: OVS's jsonrpc closes its
 * stream as soon as it sees an error or the end. */
char *stream_ssh_last_error(const char *name);

/* If 'stream' is an ssh: stream that has logged in, returns the far host's
 * key fingerprint ("SHA256:...") and stores the cipher in '*cipher';
 * otherwise NULL.  Owned by the stream. */
const char *stream_ssh_host_key(const struct stream *stream,
                                const char **cipher);

#endif /* stream-ssh.h */
