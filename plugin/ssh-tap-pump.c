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

#include "ssh-tap-pump.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "openvswitch/util.h"
#include "util.h"

/* Size of each direction's copy buffer.  64 KiB holds dozens of frames, so
 * one ssh_channel_write() usually carries a whole batch. */
#define PUMP_BUF 65536

/* The receive window the down pump keeps open to the far end once the link
 * carries bulk traffic, with libssh before 0.11.  By itself libssh 0.10 tops
 * a channel's window up to 1.28 MB only when it has fallen under 640 kB, so
 * no more than about 0.6-1.2 MB are ever in flight towards us: 238 Mbit/s
 * with 20 ms of round trip, against 657-807 with RX_WINDOW (docs/
 * performance.md).  A read that asks for more than libssh holds and has
 * granted makes 0.10 grant the difference, so reading with a count of
 * RX_WINDOW keeps that much open; the destination must be that large, which
 * is why the buffer grows only for a link that shows it needs it.
 *
 * libssh 0.11 keeps a 2 MiB window itself and tops it up whatever the count
 * of a read, so there this changes nothing (measured: 381-389 Mbit/s either
 * way at 20 ms) but the 4 MiB buffer: the pump leaves it out. */
#define RX_WINDOW (4 * 1024 * 1024)

void
ssh_tap_pump_init(struct ssh_tap_pump *p, ssh_session ssh,
                  ssh_channel channel, int sock, const char *peer,
                  enum ssh_tap_pump_window window)
{
    memset(p, 0, sizeof *p);
    p->ssh = ssh;
    p->channel = channel;
    p->sock = sock;
    p->peer = peer;
    /* Whether the libssh we run with (0.10 and 0.11 share a soname) grows
     * the window to a read's count, i.e. whether RX_WINDOW helps. */
    p->wide_window = (window == SSH_TAP_PUMP_WINDOW_WIDE
                      && !ssh_version(SSH_VERSION_INT(0, 11, 0)));
    p->down = xmalloc(PUMP_BUF);
    p->down_size = PUMP_BUF;
    p->up = xmalloc(PUMP_BUF);
    ssh_set_blocking(ssh, 0);
}

void
ssh_tap_pump_destroy(struct ssh_tap_pump *p)
{
    if (p) {
        free(p->down);
        free(p->up);
        p->down = p->up = NULL;
    }
}

/* The window policy: given 'avail' bytes waiting in the channel, returns
 * how many to ask ssh_channel_read_timeout() for.  The first burst of a
 * link that may keep a wide window grows 'down' to RX_WINDOW.  A read with
 * a count of RX_WINDOW makes libssh top the window up to that; once a
 * quarter of it is used is often enough (each top-up is a packet to the far
 * end). */
static uint32_t
pump_read_count(struct ssh_tap_pump *p, int avail)
{
    if (!p->wide_window) {
        return MIN(avail, PUMP_BUF);
    }
    if (p->down_size < RX_WINDOW && avail >= PUMP_BUF / 2) {
        /* A burst: this link is worth a bigger window. */
        free(p->down);
        p->down = xmalloc(RX_WINDOW);
        p->down_size = RX_WINDOW;
        p->since_top_up = RX_WINDOW;
    }
    if (p->down_size == RX_WINDOW && p->since_top_up >= RX_WINDOW / 4) {
        p->since_top_up = 0;
        return RX_WINDOW;
    }
    return MIN(avail, PUMP_BUF);
}

/* Reads from the channel, if what was read before has all gone to the
 * socket, and sends what is pending to the socket. */
enum ssh_tap_pump_status
ssh_tap_pump_down(struct ssh_tap_pump *p, char **errorp)
{
    if (!p->down_len) {
        int n = ssh_channel_poll(p->channel, 0);
        if (n > 0) {
            n = ssh_channel_read_timeout(p->channel, p->down,
                                         pump_read_count(p, n), 0, 0);
        }
        if (n == SSH_EOF) {
            return SSH_TAP_PUMP_FAR_EOF;
        } else if (n < 0) {
            *errorp = xasprintf("SSH read from %s failed: %s", p->peer,
                                ssh_get_error(p->ssh));
            return SSH_TAP_PUMP_FAILED;
        }
        p->since_top_up += n;
        p->down_len = n;
        p->down_ofs = 0;
    }
    if (p->down_len > p->down_ofs) {
        ssize_t n = send(p->sock, p->down + p->down_ofs,
                         p->down_len - p->down_ofs,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            p->down_ofs += n;
            if (p->down_ofs == p->down_len) {
                p->down_len = p->down_ofs = 0;
            }
            return SSH_TAP_PUMP_MOVED;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return SSH_TAP_PUMP_LOCAL_CLOSED;
        }
    }
    return SSH_TAP_PUMP_IDLE;
}

/* Reads from the socket no more than the channel's window allows, so that
 * a non-blocking write takes all of it, and writes what is pending to the
 * channel. */
enum ssh_tap_pump_status
ssh_tap_pump_up(struct ssh_tap_pump *p, char **errorp)
{
    if (!p->up_len) {
        uint32_t window = ssh_channel_window_size(p->channel);
        if (window > 0) {
            ssize_t n = recv(p->sock, p->up, MIN(window, PUMP_BUF),
                             MSG_DONTWAIT);
            if (n == 0) {
                return SSH_TAP_PUMP_LOCAL_CLOSED;
            } else if (n > 0) {
                p->up_len = n;
                p->up_ofs = 0;
            } else if (errno != EAGAIN && errno != EINTR) {
                return SSH_TAP_PUMP_LOCAL_CLOSED;
            }
        }
    }
    if (p->up_len > p->up_ofs) {
        int n = ssh_channel_write(p->channel, p->up + p->up_ofs,
                                  p->up_len - p->up_ofs);
        if (n == SSH_ERROR) {
            *errorp = xasprintf("SSH write to %s failed: %s", p->peer,
                                ssh_get_error(p->ssh));
            return SSH_TAP_PUMP_FAILED;
        } else if (n > 0) {
            p->up_ofs += n;
            if (p->up_ofs == p->up_len) {
                p->up_len = p->up_ofs = 0;
            }
            return SSH_TAP_PUMP_MOVED;
        }
    }
    return SSH_TAP_PUMP_IDLE;
}

bool
ssh_tap_pump_down_pending(const struct ssh_tap_pump *p)
{
    return p->down_len > 0;
}

/* Acknowledges the far sshd's segments at once.  sshd does not set
 * TCP_NODELAY on a forwarding connection, so Nagle there holds its next
 * small segment (a ping reply, an ACK-sized frame) until ours is
 * acknowledged, and a delayed ACK here turned a 1 ms round trip into 16 ms.
 * Linux leaves quick-ack mode again as soon as we answer promptly, hence
 * before every wait (measured again when the pump was split out: without
 * it, 11-62% of 1000 pings took 10-48 ms, median of those 16.3 ms; with it,
 * 0-1%). */
static void
pump_quickack(struct ssh_tap_pump *p)
{
    int one = 1;
    setsockopt(ssh_get_fd(p->ssh), IPPROTO_TCP, TCP_QUICKACK,
               &one, sizeof one);
}

enum ssh_tap_pump_status
ssh_tap_pump_wait(struct ssh_tap_pump *p, int wake_fd, int timeout_ms,
                  bool *woken, char **errorp)
{
    struct pollfd pfds[3] = {
        /* While the socket has not taken what we already read, leave the
         * SSH socket alone: that is the back-pressure towards the far end
         * (its window stops growing). */
        { .fd = ssh_get_fd(p->ssh), .events = p->down_len ? 0 : POLLIN },
        { .fd = p->sock, .events = 0 },
        { .fd = wake_fd, .events = POLLIN },
    };
    if (ssh_get_poll_flags(p->ssh) & SSH_WRITE_PENDING) {
        pfds[0].events |= POLLOUT;
    }
    if (p->down_len > p->down_ofs) {
        pfds[1].events |= POLLOUT;
    }
    if (!p->up_len && ssh_channel_window_size(p->channel) > 0) {
        pfds[1].events |= POLLIN;
    }

    /* Readiness wakes us: libssh has consumed every complete packet it read
     * by the time the steps return.  The timeout is only a safety net. */
    pump_quickack(p);
    *woken = false;
    if (poll(pfds, 3, timeout_ms) < 0 && errno != EINTR) {
        *errorp = xasprintf("poll failed: %s", ovs_strerror(errno));
        return SSH_TAP_PUMP_FAILED;
    }
    *woken = pfds[2].revents != 0;
    if (pfds[1].revents & (POLLHUP | POLLERR)
        && !(pfds[1].revents & POLLIN)) {
        return SSH_TAP_PUMP_LOCAL_CLOSED;
    }
    if (pfds[0].revents & POLLOUT) {
        ssh_blocking_flush(p->ssh, 0);
    }
    return SSH_TAP_PUMP_IDLE;
}
