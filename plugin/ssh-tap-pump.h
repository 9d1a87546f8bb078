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

#ifndef SSH_TAP_PUMP_H
#define SSH_TAP_PUMP_H 1

/* The byte pump between a libssh channel and a local stream socket.
 *
 * Both users of an SSH channel, an active port's SSH thread
 * (ssh-tap-session.c) and an ssh: stream's thread (utilities/stream-ssh.c),
 * copy bytes between the channel and their end of a socketpair whose other
 * end a poll loop reads and writes.  This is that copy, on the thread that
 * owns the libssh session, in three steps its caller loops over:
 *
 *     ssh_tap_pump_down()   channel -> socket ("down": from the far end)
 *     ssh_tap_pump_up()     socket -> channel
 *     ssh_tap_pump_wait()   sleep until either can move again
 *
 * Back-pressure is carried both ways: the down pump leaves the channel alone
 * while the socket has not taken what it read (so the SSH window stops
 * growing and the far end stops sending), and the up pump reads the socket
 * only as far as the channel's window allows.
 *
 * The session must be non-blocking (ssh-tap-login.c leaves it so). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

/* What a step did. */
enum ssh_tap_pump_status {
    SSH_TAP_PUMP_IDLE,          /* Nothing moved. */
    SSH_TAP_PUMP_MOVED,         /* Some bytes moved. */
    SSH_TAP_PUMP_FAR_EOF,       /* The far end sent EOF on the channel. */
    SSH_TAP_PUMP_LOCAL_CLOSED,  /* The socket's other end closed or failed. */
    SSH_TAP_PUMP_FAILED,        /* SSH or poll() error: see '*errorp'. */
};

/* True if 'status' says the pump is done. */
static inline bool
ssh_tap_pump_ended(enum ssh_tap_pump_status status)
{
    return status >= SSH_TAP_PUMP_FAR_EOF;
}

/* Whether the down pump may keep a wide receive window open (see
 * RX_WINDOW in ssh-tap-pump.c). */
enum ssh_tap_pump_window {
    SSH_TAP_PUMP_WINDOW_LIBSSH, /* Leave the window to libssh. */
    SSH_TAP_PUMP_WINDOW_WIDE,   /* Widen it for bulk traffic, when that
                                 * helps the libssh we run with. */
};

struct ssh_tap_pump {
    ssh_session ssh;
    ssh_channel channel;
    int sock;                   /* Our end of the socketpair. */
    const char *peer;           /* "user@host:port", for error messages. */
    bool wide_window;           /* May widen the window (and does help). */

    /* Channel to socket.  'down' grows to the wide window's size once, on
     * the first burst; 'since_top_up' counts bytes read since the window
     * was last topped up to that size. */
    uint8_t *down;
    size_t down_size, down_len, down_ofs;
    size_t since_top_up;

    /* Socket to channel. */
    uint8_t *up;
    size_t up_len, up_ofs;
};

void ssh_tap_pump_init(struct ssh_tap_pump *, ssh_session, ssh_channel,
                       int sock, const char *peer, enum ssh_tap_pump_window);
void ssh_tap_pump_destroy(struct ssh_tap_pump *);

/* One step of each direction.  Each returns IDLE or MOVED, or the reason the
 * pump is done; on FAILED it stores a malloc()ed message in '*errorp'. */
enum ssh_tap_pump_status ssh_tap_pump_down(struct ssh_tap_pump *,
                                           char **errorp);
enum ssh_tap_pump_status ssh_tap_pump_up(struct ssh_tap_pump *,
                                         char **errorp);

/* True while bytes read from the channel wait for the socket. */
bool ssh_tap_pump_down_pending(const struct ssh_tap_pump *);

/* Sleeps until a step can move bytes, 'wake_fd' becomes readable or
 * 'timeout_ms' pass.  Sets '*woken' if 'wake_fd' is readable.  Returns IDLE,
 * LOCAL_CLOSED if the socket's other end hung up, or FAILED. */
enum ssh_tap_pump_status ssh_tap_pump_wait(struct ssh_tap_pump *,
                                           int wake_fd, int timeout_ms,
                                           bool *woken, char **errorp);

#endif /* ssh-tap-pump.h */
