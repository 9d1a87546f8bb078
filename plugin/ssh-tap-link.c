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

/* One ssh-tap protocol endpoint; see ssh-tap-link.h.
 *
 * Like the codec, this file includes no OVS header, so that the relay,
 * which runs on hosts without Open vSwitch, and the unit test can link it
 * alone.  Only the codec (ssh-tap-proto.c) ever parses bytes from the
 * peer. */

#include "ssh-tap-link.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest allocation of a growing buffer. */
#define STAP_BUF_MIN_ALLOC 4096

/* Tailroom the receive buffer keeps: one largest version 1 message, so that
 * a message that has started always fits, and no read is ever tiny. */
#define RX_MIN_ROOM (STAP_HDR_LEN + STAP_RX_LIMIT)

/* The same for a link that takes DATA_OFFLOAD, and the receive buffer such a
 * link holds at least: two of the largest, so that one can arrive while the
 * one before it is still being handed out. */
#define RX_MIN_ROOM_OFFLOAD (STAP_HDR_LEN + STAP_OFFLOAD_RX_LIMIT)
#define RX_SIZE_OFFLOAD (2 * RX_MIN_ROOM_OFFLOAD)

/* Buffers. */

/* Initializes 'b' as an empty buffer that may grow to 'limit' bytes.
 * Nothing is allocated until bytes are added. */
void
stap_buf_init(struct stap_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

/* Frees what 'b' holds.  'b' stays usable, as an empty buffer. */
void
stap_buf_release(struct stap_buf *b)
{
    free(b->base);
    b->base = NULL;
    b->alloc = b->head = b->tail = 0;
}

void
stap_buf_uninit(struct stap_buf *b)
{
    stap_buf_release(b);
}

/* Returns a pointer to at least 'min' bytes of tailroom in 'b', and sets
 * '*room' to all the tailroom there is.  Only if the tailroom is shorter
 * than 'min' are the pending bytes moved to the front, and only if that is
 * not enough either does the allocation grow.  Returns NULL, with '*room'
 * set to the tailroom as it is, if 'b' cannot hold 'min' more bytes within
 * its limit. */
uint8_t *
stap_buf_room(struct stap_buf *b, size_t min, size_t *room)
{
    size_t used = stap_buf_size(b);

    if (b->alloc - b->tail < min) {
        if (min > b->limit - used) {
            *room = b->alloc - b->tail;
            return NULL;
        }
        if (b->head) {
            memmove(b->base, b->base + b->head, used);
            b->head = 0;
            b->tail = used;
        }
        if (b->alloc - b->tail < min) {
            size_t alloc = b->alloc * 2;

            if (alloc < used + min) {
                alloc = used + min;
            }
            if (alloc < STAP_BUF_MIN_ALLOC) {
                alloc = STAP_BUF_MIN_ALLOC;
            }
            if (alloc > b->limit) {
                alloc = b->limit;
            }
            uint8_t *base = realloc(b->base, alloc);
            if (!base) {
                abort();
            }
            b->base = base;
            b->alloc = alloc;
        }
    }
    *room = b->alloc - b->tail;
    return b->base + b->tail;
}

/* Adds the 'n' bytes just written into the tailroom of 'b'. */
void
stap_buf_commit(struct stap_buf *b, size_t n)
{
    b->tail += n;
}

/* Appends 'n' bytes at 'p' to 'b'.  Returns false, adding nothing, if they
 * would take 'b' over its limit. */
bool
stap_buf_put(struct stap_buf *b, const void *p, size_t n)
{
    size_t room;
    uint8_t *dst = stap_buf_room(b, n, &room);

    if (!dst) {
        return false;
    }
    memcpy(dst, p, n);
    stap_buf_commit(b, n);
    return true;
}

/* Consumes the first 'n' pending bytes of 'b'.  They stay where they are in
 * memory until the next stap_buf_room(). */
void
stap_buf_pull(struct stap_buf *b, size_t n)
{
    b->head += n;
    if (b->head == b->tail) {
        b->head = b->tail = 0;
    }
}

/* The link. */

/* Initializes 'l' as a closed link that advertises 'max_frame', sends a
 * keepalive every 'keepalive_ms' (> 0) and names itself 'software' in its
 * HELLO (at most STAP_SOFTWARE_MAX bytes of it are sent).  While open it
 * holds a receive buffer of 'rx_size' bytes (at least a largest message,
 * STAP_HDR_LEN + STAP_RX_LIMIT) and queues up to 'tx_max' bytes to send. */
void
stap_link_init(struct stap_link *l, const char *software, uint16_t max_frame,
               int keepalive_ms, size_t rx_size, size_t tx_max)
{
    memset(l, 0, sizeof *l);
    snprintf(l->software, sizeof l->software, "%s", software);
    l->max_frame = max_frame;
    l->keepalive_ms = keepalive_ms;
    l->state = STAP_LINK_CLOSED;
    l->rtt_us = -1;
    l->rtt_published_us = -1;
    l->rx_size = rx_size < RX_MIN_ROOM ? RX_MIN_ROOM : rx_size;
    stap_buf_init(&l->rx, l->rx_size);
    stap_buf_init(&l->tx, tx_max);
}

/* Frees what 'l' holds. */
void
stap_link_destroy(struct stap_link *l)
{
    stap_buf_uninit(&l->rx);
    stap_buf_uninit(&l->tx);
}

static void link_fail(struct stap_link *, enum stap_link_cause,
                      const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Closes 'l' from within: records why, and drops what was still to be sent
 * (nothing more goes to a peer the link has given up on). */
static void
link_fail(struct stap_link *l, enum stap_link_cause cause,
          const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(l->reason, sizeof l->reason, format, args);
    va_end(args);
    l->cause = cause;
    l->closed_up = l->state == STAP_LINK_UP;
    l->state = STAP_LINK_CLOSED;
    l->tx.head = l->tx.tail = 0;
}

static void
link_protocol_error(struct stap_link *l, const char *error)
{
    link_fail(l, STAP_CAUSE_PROTOCOL, "protocol error from peer: %s", error);
}

/* Queues a control message.  Returns false if it did not fit, in which case
 * the link has closed: a queue full of frames means that the connection is
 * not moving at all. */
static bool
link_send_control(struct stap_link *l, const uint8_t *msg, size_t len)
{
    if (!stap_buf_put(&l->tx, msg, len)) {
        link_fail(l, STAP_CAUSE_STALLED, "link stalled: %zu bytes queued",
                  l->tx.limit);
        return false;
    }
    return true;
}

static bool
link_send_hello(struct stap_link *l)
{
    uint8_t buf[STAP_HDR_LEN + STAP_HELLO_MIN_LEN + STAP_SOFTWARE_MAX];
    struct stap_hello hello;

    memset(&hello, 0, sizeof hello);
    hello.version = STAP_VERSION;
    hello.caps = l->offload ? STAP_CAP_OFFLOAD : 0;
    hello.max_frame = l->max_frame;
    memcpy(hello.software, l->software, sizeof hello.software);
    return link_send_control(l, buf, stap_encode_hello(buf, &hello));
}

static bool
link_send_echo(struct stap_link *l, uint8_t type, uint64_t value)
{
    uint8_t buf[STAP_ECHO_MSG_LEN];

    return link_send_control(l, buf, stap_encode_echo(buf, type, value));
}

/* Sets the keepalive interval, from the next keepalive on. */
void
stap_link_set_keepalive(struct stap_link *l, int keepalive_ms)
{
    l->keepalive_ms = keepalive_ms;
}

/* Sets the largest frame 'l' accepts.  On an open link a fresh HELLO
 * tells the peer (docs/protocol.md, "Handshake and versions"); if it does
 * not fit in the send queue the link closes (see stap_link_state()). */
void
stap_link_set_max_frame(struct stap_link *l, uint16_t max_frame)
{
    if (l->max_frame != max_frame) {
        l->max_frame = max_frame;
        if (l->state != STAP_LINK_CLOSED) {
            link_send_hello(l);
        }
    }
}

/* The longest message the link accepts, and the receive buffer it
 * holds. */
static size_t
link_rx_limit(const struct stap_link *l)
{
    return l->rx_offload ? STAP_OFFLOAD_RX_LIMIT : STAP_RX_LIMIT;
}

static size_t
link_rx_size(const struct stap_link *l)
{
    return (l->rx_offload && l->rx_size < RX_SIZE_OFFLOAD
            ? RX_SIZE_OFFLOAD : l->rx_size);
}

/* Says whether we take frames with offload metadata (STAP_CAP_OFFLOAD),
 * from now on; an open link tells the peer in a new HELLO.  Once offered on
 * a connection, DATA_OFFLOAD stays acceptable on it until it closes, since
 * the peer may send some before it sees a HELLO that withdraws the
 * offer. */
void
stap_link_set_offload(struct stap_link *l, bool on)
{
    if (l->offload != on) {
        l->offload = on;
        if (l->state != STAP_LINK_CLOSED) {
            if (on) {
                l->rx_offload = true;
                l->rx.limit = link_rx_size(l);
            }
            link_send_hello(l);
        }
    }
}

/* Starts a link on a connection that just opened: queues our HELLO and
 * starts the liveness clock, which applies from now on, so that a peer
 * that never sends its HELLO cannot hold the link forever. */
void
stap_link_open(struct stap_link *l, long long int now_us)
{
    long long int now = now_us / 1000;
    size_t room;

    stap_link_close(l);
    l->state = STAP_LINK_HELLO;
    memset(&l->peer, 0, sizeof l->peer);
    l->up_since = 0;
    l->last_rx = now;
    l->next_echo = stap_next_echo(now, l->keepalive_ms);
    l->changed = false;
    l->cause = STAP_CAUSE_NONE;
    l->reason[0] = '\0';
    l->rx_offload = l->offload;
    l->rx.limit = link_rx_size(l);
    stap_buf_room(&l->rx, l->rx.limit, &room);
    link_send_hello(l);
}

/* Ends the link, if it is open (the shell saw the connection end, or gave
 * up on it), and frees its buffers.  Returns true if that takes the link
 * down from up, including when the link closed itself while up and the
 * shell is now catching up: that is one carrier reset either way. */
bool
stap_link_close(struct stap_link *l)
{
    bool was_up = l->state == STAP_LINK_UP || l->closed_up;

    l->state = STAP_LINK_CLOSED;
    l->closed_up = false;
    l->rtt_us = -1;
    l->rtt_published_us = -1;
    stap_buf_release(&l->rx);
    stap_buf_release(&l->tx);
    return was_up;
}

/* Receiving. */

/* Returns where the shell should read bytes from the peer to, and in
 * '*room' how many it may read (0 if the link is closed, or if the buffer
 * is full of whole messages that stap_link_next() has yet to hand out). */
uint8_t *
stap_link_rx_room(struct stap_link *l, size_t *room)
{
    if (l->state == STAP_LINK_CLOSED) {
        *room = 0;
        return NULL;
    }

    size_t min = l->rx_offload ? RX_MIN_ROOM_OFFLOAD : RX_MIN_ROOM;
    uint8_t *p = stap_buf_room(&l->rx, min, room);
    if (!p) {
        /* Not a whole largest message's room behind what is pending: take
         * all the room there is, which still completes the pending message,
         * since the buffer holds at least one largest message. */
        p = stap_buf_room(&l->rx, stap_buf_free(&l->rx), room);
    }
    return p ? p : l->rx.base + l->rx.tail;
}

/* Tells 'l' that the shell read 'n' > 0 bytes into stap_link_rx_room() at
 * 'now_us'.  Any byte proves the peer alive. */
void
stap_link_rx_done(struct stap_link *l, size_t n, long long int now_us)
{
    stap_buf_commit(&l->rx, n);
    l->last_rx = now_us / 1000;
}

/* True if the receive buffer holds a whole message (or a header that breaks
 * the stream), that is, if stap_link_next() has something to do without
 * another read. */
bool
stap_link_rx_ready(const struct stap_link *l)
{
    struct stap_msg msg;
    size_t consumed;

    return (l->state != STAP_LINK_CLOSED
            && stap_decode(stap_buf_data(&l->rx), stap_buf_size(&l->rx),
                           link_rx_limit(l), &msg, &consumed, NULL)
               != STAP_DECODE_NEED_MORE);
}

/* A DATA message: a frame to deliver, unless its length is wrong, in which
 * case it is dropped, never truncated: the stream itself is fine. */
static enum stap_link_event
link_data(const struct stap_link *l, const struct stap_msg *msg,
          struct stap_frame *frame)
{
    if (msg->length > l->max_frame) {
        return STAP_LINK_TOO_LONG;
    } else if (msg->length < STAP_ETH_MIN) {
        return STAP_LINK_TOO_SHORT;
    }
    frame->data = msg->payload;
    frame->len = msg->length;
    frame->has_ol = false;
    return STAP_LINK_FRAME;
}

/* A DATA_OFFLOAD message.  Only its metadata is checked here; a frame may
 * exceed max_frame only if it is to be segmented. */
static enum stap_link_event
link_data_offload(struct stap_link *l, const struct stap_msg *msg,
                  struct stap_frame *frame)
{
    if (!l->rx_offload) {
        /* Its length field means something else to an end that did not ask
         * for it: nothing that follows can be trusted. */
        link_protocol_error(l, "DATA_OFFLOAD although we did not offer "
                            "offloads");
        return STAP_LINK_CLOSED_NOW;
    }

    frame->error = stap_parse_offload(msg, &frame->ol, &frame->data,
                                      &frame->len);
    if (frame->error) {
        return STAP_LINK_BAD_OFFLOAD;
    } else if (frame->len < STAP_ETH_MIN) {
        return STAP_LINK_TOO_SHORT;
    } else if (frame->len > l->max_frame
               && frame->ol.gso_type == STAP_GSO_NONE) {
        return STAP_LINK_TOO_LONG;
    }
    frame->has_ol = true;
    return STAP_LINK_FRAME;
}

static bool
hello_equal(const struct stap_hello *a, const struct stap_hello *b)
{
    return (a->version == b->version && a->caps == b->caps
            && a->max_frame == b->max_frame
            && !strcmp(a->software, b->software));
}

/* The peer's HELLO: the first completes the handshake, a later one (its MTU
 * changed) updates what we know of the peer. */
static enum stap_link_event
link_hello(struct stap_link *l, const struct stap_msg *msg,
           long long int now_us)
{
    struct stap_hello hello;
    const char *error = stap_parse_hello(msg, &hello);

    if (error) {
        link_protocol_error(l, error);
        return STAP_LINK_CLOSED_NOW;
    }
    if (l->state == STAP_LINK_UP) {
        if (!hello_equal(&hello, &l->peer)) {
            l->peer = hello;
            l->changed = true;
        }
        return STAP_LINK_NONE;
    }

    l->peer = hello;
    l->state = STAP_LINK_UP;
    l->up_since = now_us / 1000;
    l->changed = true;

    /* Measure the RTT now rather than at the next keepalive, so that the
     * status has it as soon as the link is up. */
    if (!link_send_echo(l, STAP_ECHO_REQUEST, now_us)) {
        return STAP_LINK_CLOSED_NOW;
    }
    return STAP_LINK_WENT_UP;
}

/* The answer to one of our ECHO_REQUESTs.  The value is ours, echoed back,
 * but the peer may lie: only a time in the past is taken. */
static void
link_echo_reply(struct stap_link *l, const struct stap_msg *msg,
                long long int now_us)
{
    uint64_t sent = stap_echo_value(msg);
    uint64_t now = now_us;

    if (sent <= now) {
        l->rtt_us = now - sent;
        if (stap_rtt_publish_due(l->rtt_published_us, l->rtt_published_at,
                                 l->rtt_us, now_us / 1000)) {
            l->changed = true;
        }
    }
}

/* Handles one message that is not DATA. */
static enum stap_link_event
link_control(struct stap_link *l, const struct stap_msg *msg,
             long long int now_us)
{
    switch (msg->type) {
    case STAP_HELLO:
        return link_hello(l, msg, now_us);

    case STAP_ECHO_REQUEST:
        return (link_send_echo(l, STAP_ECHO_REPLY, stap_echo_value(msg))
                ? STAP_LINK_NONE : STAP_LINK_CLOSED_NOW);

    case STAP_ECHO_REPLY:
        link_echo_reply(l, msg, now_us);
        return STAP_LINK_NONE;

    case STAP_DATA:
    case STAP_DATA_OFFLOAD:
    default:
        /* Unknown types are skipped: later versions may add some. */
        return STAP_LINK_NONE;
    }
}

/* Decodes the receive buffer up to the next event, handling control
 * messages (answers go into 'tx') on the way, and returns that event:
 *
 *   - STAP_LINK_FRAME: '*frame' is a frame to deliver.
 *   - STAP_LINK_TOO_LONG, STAP_LINK_TOO_SHORT: a frame was dropped.
 *   - STAP_LINK_WENT_UP: the handshake just completed.
 *   - STAP_LINK_CLOSED_NOW: the link closed itself (stap_link_reason());
 *     the shell closes the connection.
 *   - STAP_LINK_NONE: nothing more without another read.
 *
 * With 'frames' false, stops before the first DATA message and leaves it
 * for a later call, as for a port that has no receive queue yet. */
enum stap_link_event
stap_link_next(struct stap_link *l, long long int now_us, bool frames,
               struct stap_frame *frame)
{
    while (l->state != STAP_LINK_CLOSED) {
        struct stap_msg msg;
        const char *error;
        size_t consumed;

        enum stap_decode_status status
            = stap_decode(stap_buf_data(&l->rx), stap_buf_size(&l->rx),
                          link_rx_limit(l), &msg, &consumed, &error);
        if (status == STAP_DECODE_NEED_MORE) {
            return STAP_LINK_NONE;
        } else if (status == STAP_DECODE_ERROR) {
            link_protocol_error(l, error);
            return STAP_LINK_CLOSED_NOW;
        }
        error = stap_check_msg(&msg);
        if (error) {
            link_protocol_error(l, error);
            return STAP_LINK_CLOSED_NOW;
        }
        if (l->state == STAP_LINK_HELLO && msg.type != STAP_HELLO) {
            link_protocol_error(l, "first message is not a hello");
            return STAP_LINK_CLOSED_NOW;
        }

        bool is_data = (msg.type == STAP_DATA
                        || msg.type == STAP_DATA_OFFLOAD);
        if (is_data && !frames) {
            return STAP_LINK_NONE;
        }
        /* 'msg.payload' stays valid: pulling moves no byte. */
        stap_buf_pull(&l->rx, consumed);
        if (msg.type == STAP_DATA) {
            return link_data(l, &msg, frame);
        } else if (msg.type == STAP_DATA_OFFLOAD) {
            return link_data_offload(l, &msg, frame);
        }
        enum stap_link_event event = link_control(l, &msg, now_us);
        if (event != STAP_LINK_NONE) {
            return event;
        }
    }
    return STAP_LINK_NONE;
}

/* Time. */

/* Keepalives and liveness at 'now_us': closes a link that has heard nothing
 * for STAP_LINK_DEAD_INTERVALS keepalive intervals, and queues an
 * ECHO_REQUEST when one is due.  Returns the link's state: the verdict. */
enum stap_link_state
stap_link_run(struct stap_link *l, long long int now_us)
{
    long long int now = now_us / 1000;
    long long int interval = l->keepalive_ms;

    if (l->state == STAP_LINK_CLOSED) {
        return l->state;
    }
    if (now - l->last_rx >= STAP_LINK_DEAD_INTERVALS * interval) {
        link_fail(l, STAP_CAUSE_SILENT,
                  "peer silent for %lld ms (%d keepalives missed)",
                  now - l->last_rx, STAP_LINK_DEAD_INTERVALS);
        return l->state;
    }
    if (now >= l->next_echo) {
        /* Due at multiples of the interval (stap_next_echo()), so that
         * every link of a process sends its keepalive in the same wakeup.
         * During the handshake nothing but HELLO may be sent. */
        if (l->state == STAP_LINK_UP
            && !link_send_echo(l, STAP_ECHO_REQUEST, now_us)) {
            return l->state;
        }
        l->next_echo = stap_next_echo(now, l->keepalive_ms);
    }
    return l->state;
}

/* When stap_link_run() next has something to do, in ms (LLONG_MAX if the
 * link is closed). */
long long int
stap_link_deadline(const struct stap_link *l)
{
    if (l->state == STAP_LINK_CLOSED) {
        return LLONG_MAX;
    }

    long long int dead = (l->last_rx + STAP_LINK_DEAD_INTERVALS
                          * (long long int) l->keepalive_ms);
    return l->next_echo < dead ? l->next_echo : dead;
}

/* Sending and status. */

/* The longest frame that may be sent now: what both ends accept, or 0
 * before the handshake completes (nothing but HELLO may be sent yet). */
int
stap_link_frame_limit(const struct stap_link *l)
{
    if (l->state != STAP_LINK_UP) {
        return 0;
    }
    return l->max_frame < l->peer.max_frame ? l->max_frame
                                            : l->peer.max_frame;
}

/* True if the link is up and the peer takes DATA_OFFLOAD: a frame with
 * offload metadata may go to it whole. */
bool
stap_link_peer_offload(const struct stap_link *l)
{
    return l->state == STAP_LINK_UP && (l->peer.caps & STAP_CAP_OFFLOAD);
}

/* The protocol version the link speaks, the lower of the two ends', or 0
 * before the handshake completes. */
int
stap_link_version(const struct stap_link *l)
{
    if (l->state != STAP_LINK_UP) {
        return 0;
    }
    return l->peer.version < STAP_VERSION ? l->peer.version : STAP_VERSION;
}

/* True if 'l' is up and heard from its peer within the last two keepalive
 * intervals: a link that a newcomer must not replace. */
bool
stap_link_healthy(const struct stap_link *l, long long int now_us)
{
    return (l->state == STAP_LINK_UP
            && now_us / 1000 - l->last_rx < 2LL * l->keepalive_ms);
}

/* True if something the shell shows (the peer's HELLO, the RTT) changed
 * enough to be published: the handshake, a later HELLO that differs, the
 * first RTT, or one that stap_rtt_publish_due() lets through. */
bool
stap_link_changed(const struct stap_link *l)
{
    return l->changed;
}

/* Tells 'l' that the shell published its status at 'now_us', RTT
 * included. */
void
stap_link_published(struct stap_link *l, long long int now_us)
{
    l->changed = false;
    l->rtt_published_us = l->rtt_us;
    l->rtt_published_at = now_us / 1000;
}
