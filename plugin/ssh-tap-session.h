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

#ifndef SSH_TAP_SESSION_H
#define SSH_TAP_SESSION_H 1

/* The SSH side of an active ssh-tap port.
 *
 * A session owns one thread.  That thread, and only it, uses the libssh
 * session: it resolves the remote, connects, verifies the host key,
 * authenticates, opens a direct-streamlocal@openssh.com channel to the far
 * port's socket, and then copies bytes both ways between the channel and one
 * end of a socketpair.  The other end is handed to the caller (vswitchd's
 * main thread), which speaks the framing protocol on it with non-blocking
 * I/O, exactly as on a passive port's accepted connection.  The socketpair's
 * buffers are the bounded queues between the two threads; the SSH channel's
 * window carries the back-pressure on to the far end.
 *
 * When the channel or the socketpair closes, the thread tears the SSH
 * connection down and reconnects with OVS's reconnect state machine
 * (exponential backoff).
 *
 * Nothing here blocks the caller: ssh_tap_session_destroy() only signals the
 * thread, which finishes on its own and frees what it holds. */

#include <stdbool.h>

struct smap;
struct ssh_tap_options;

struct ssh_tap_session *ssh_tap_session_create(const char *ifname,
                                               const struct ssh_tap_options *);
void ssh_tap_session_destroy(struct ssh_tap_session *);

/* Drops the current connection, if any, and connects again at once. */
void ssh_tap_session_reconnect(struct ssh_tap_session *);

/* Returns the caller's end of a newly established link (a non-blocking
 * stream socket), or -1 if there is none.  The caller owns the returned fd
 * and closes it when the link ends; the session then reconnects. */
int ssh_tap_session_take_link(struct ssh_tap_session *);

/* Returns true, once, after the session's state changed since the previous
 * call, so that the caller can refresh what it publishes. */
bool ssh_tap_session_changed(struct ssh_tap_session *);

/* Wakes the caller's poll loop when a link is ready or the state changes. */
void ssh_tap_session_wait(struct ssh_tap_session *);

/* Adds the session's state to 'status': "state", "host_key", "cipher",
 * "reconnects", and "last_error" when there is one. */
void ssh_tap_session_get_status(struct ssh_tap_session *, struct smap *status);

#endif /* ssh-tap-session.h */
