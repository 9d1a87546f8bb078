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

#ifndef SSH_TAP_LINK_H
#define SSH_TAP_LINK_H 1

/* One ssh-tap protocol endpoint (docs/protocol.md), as a pure state machine.
 *
 * A stap_link is what one end of a link does with the bytes of the channel:
 * the handshake, keepalives and liveness, the RTT, and the receive and send
 * buffers.  It has no file descriptors, reads no clock and includes no OVS
 * header, so that the ssh-tap port (plugin/netdev-ssh-tap.c) and the relay
 * (utilities/ovs-ssh-tap-relay.c) are both thin I/O shells around it, and
 * tests/test-link.c drives it with scripted time, as OVS's
 * tests/test-reconnect.c drives lib/reconnect.
 *
 * The shell's part:
 *
 *   - stap_link_open() when a connection exists, stap_link_close() when it
 *     ends for a reason the shell saw (EOF, a write error, ...).
 *
 *   - Receiving: read into stap_link_rx_room(), report the count with
 *     stap_link_rx_done(), then call stap_link_next() until it returns
 *     STAP_LINK_NONE (or STAP_LINK_CLOSED), handling each event: a frame to
 *     deliver, a frame dropped for its length, the link coming up.
 *
 *   - Sending: whatever is in 'tx' goes to the connection, in order;
 *     stap_buf_pull() what was written.  DATA goes either into 'tx' or,
 *     when 'tx' is empty, straight to the connection (stap_link_frame_limit()
 *     says how long a frame may be).
 *
 *   - Time: stap_link_run() when stap_link_deadline() has passed (it is
 *     harmless to call it more often); it returns the verdict.
 *
 * Times passed in are a monotonic clock in microseconds, not milliseconds
 * as elsewhere in OVS: the ECHO_REQUEST carries that clock (docs/protocol.md)
 * and the RTT of a link on one machine is well under a millisecond.  The
 * keepalive schedule works in whole milliseconds (now_us / 1000), and
 * stap_link_deadline() is in milliseconds on the same clock, which is what
 * OVS's time_msec() and poll_timer_wait_until() use. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh-tap-proto.h"

/* Keepalive intervals without a single byte from the peer after which a
 * link is declared dead. */
#define STAP_LINK_DEAD_INTERVALS 3

/* A byte buffer: base[head, tail) is pending, base[tail, alloc) is
 * tailroom.  Consuming advances 'head'; the pending bytes move to the front
 * only when a caller needs more tailroom than is left, and the allocation
 * grows (up to 'limit' bytes) only when moving them would not make enough.
 * An emptied buffer starts again at the front, without moving anything. */
struct stap_buf {
    uint8_t *base;
    size_t alloc;               /* Bytes allocated at 'base'. */
    size_t head;                /* Offset of the first pending byte. */
    size_t tail;                /* Offset just past the last one. */
    size_t limit;               /* Most bytes 'alloc' may grow to. */
};

void stap_buf_init(struct stap_buf *, size_t limit);
void stap_buf_uninit(struct stap_buf *);
void stap_buf_release(struct stap_buf *);
uint8_t *stap_buf_room(struct stap_buf *, size_t min, size_t *room);
void stap_buf_commit(struct stap_buf *, size_t n);
bool stap_buf_put(struct stap_buf *, const void *, size_t n);
void stap_buf_pull(struct stap_buf *, size_t n);

/* Bytes pending in 'b'. */
static inline size_t
stap_buf_size(const struct stap_buf *b)
{
    return b->tail - b->head;
}

/* The first pending byte of 'b'. */
static inline uint8_t *
stap_buf_data(const struct stap_buf *b)
{
    return b->base + b->head;
}

/* Bytes that can still be added to 'b', moving or growing it if need be. */
static inline size_t
stap_buf_free(const struct stap_buf *b)
{
    return b->limit - stap_buf_size(b);
}

enum stap_link_state {
    STAP_LINK_CLOSED,           /* No connection, or the link ended it. */
    STAP_LINK_HELLO,            /* Our HELLO sent, waiting for the peer's. */
    STAP_LINK_UP,               /* HELLOs exchanged: frames flow. */
};

/* Why the link closed itself. */
enum stap_link_cause {
    STAP_CAUSE_NONE,
    STAP_CAUSE_PROTOCOL,        /* The peer broke docs/protocol.md. */
    STAP_CAUSE_SILENT,          /* Nothing from the peer for 3 intervals. */
    STAP_CAUSE_STALLED,         /* 'tx' full: a control message did not
                                 * fit, the connection is not moving. */
};

/* What stap_link_next() found. */
enum stap_link_event {
    STAP_LINK_NONE,             /* Nothing more until more bytes arrive. */
    STAP_LINK_FRAME,            /* A frame to deliver: '*frame'. */
    STAP_LINK_TOO_LONG,         /* A DATA message longer than our max_frame
                                 * was dropped. */
    STAP_LINK_TOO_SHORT,        /* A DATA message shorter than an Ethernet
                                 * header was dropped. */
    STAP_LINK_BAD_OFFLOAD,      /* A DATA_OFFLOAD whose metadata is invalid
                                 * was dropped: '*frame' has 'error'. */
    STAP_LINK_WENT_UP,          /* The peer's HELLO completed the
                                 * handshake: see 'peer'. */
    STAP_LINK_CLOSED_NOW,       /* The link closed: stap_link_reason(). */
};

/* A received Ethernet frame.  'data' points into the receive buffer and
 * stays valid until the next call to stap_link_rx_room() or
 * stap_link_close().  A frame that came in a DATA_OFFLOAD has 'has_ol' and
 * its metadata in 'ol', checked by stap_parse_offload() but not yet against
 * the frame's headers (stap_gso_parse() does that). */
struct stap_frame {
    const uint8_t *data;
    size_t len;
    bool has_ol;
    struct stap_offload ol;
    const char *error;          /* Why, for STAP_LINK_BAD_OFFLOAD. */
};

/* The offload metadata of 'F', a received struct stap_frame *, or NULL if
 * it came as plain DATA. */
#define STAP_FRAME_OFFLOAD(F) ((F)->has_ol ? &(F)->ol : NULL)

struct stap_link {
    /* Configuration: stap_link_init() and the setters. */
    char software[STAP_SOFTWARE_MAX + 1];
    uint16_t max_frame;         /* What we accept, and advertise. */
    int keepalive_ms;
    bool offload;               /* We advertise STAP_CAP_OFFLOAD. */

    enum stap_link_state state;
    struct stap_hello peer;     /* The peer's latest HELLO, once up. */
    long long int up_since;     /* When the handshake completed (ms). */
    long long int last_rx;      /* When bytes last arrived (ms). */
    long long int next_echo;    /* When our next ECHO_REQUEST is due (ms). */

    /* The round-trip time, and what of it the shell has published
     * (stap_link_changed(), stap_link_published()). */
    long long int rtt_us;       /* -1 until measured. */
    long long int rtt_published_us;
    long long int rtt_published_at;
    bool changed;               /* Something in the status changed. */

    /* Set when the link closes itself. */
    enum stap_link_cause cause;
    char reason[160];
    bool closed_up;             /* It was up when it closed itself. */

    struct stap_buf rx;         /* From the peer, not yet decoded. */
    struct stap_buf tx;         /* Whole messages for the peer. */
    size_t rx_size;             /* 'rx' is this large while open (more
                                 * while 'rx_offload'). */
    bool rx_offload;            /* We advertised STAP_CAP_OFFLOAD since the
                                 * connection opened: DATA_OFFLOAD may come,
                                 * up to STAP_OFFLOAD_RX_LIMIT. */
};

void stap_link_init(struct stap_link *, const char *software,
                    uint16_t max_frame, int keepalive_ms,
                    size_t rx_size, size_t tx_max);
void stap_link_destroy(struct stap_link *);

void stap_link_set_keepalive(struct stap_link *, int keepalive_ms);
void stap_link_set_max_frame(struct stap_link *, uint16_t max_frame);
void stap_link_set_offload(struct stap_link *, bool on);

void stap_link_open(struct stap_link *, long long int now_us);
bool stap_link_close(struct stap_link *);

uint8_t *stap_link_rx_room(struct stap_link *, size_t *room);
void stap_link_rx_done(struct stap_link *, size_t n, long long int now_us);
bool stap_link_rx_ready(const struct stap_link *);
enum stap_link_event stap_link_next(struct stap_link *, long long int now_us,
                                    bool frames, struct stap_frame *frame);

enum stap_link_state stap_link_run(struct stap_link *, long long int now_us);
long long int stap_link_deadline(const struct stap_link *);

int stap_link_frame_limit(const struct stap_link *);
bool stap_link_peer_offload(const struct stap_link *);
int stap_link_version(const struct stap_link *);
bool stap_link_healthy(const struct stap_link *, long long int now_us);

bool stap_link_changed(const struct stap_link *);
void stap_link_published(struct stap_link *, long long int now_us);

/* The link's state. */
static inline enum stap_link_state
stap_link_state(const struct stap_link *l)
{
    return l->state;
}

static inline bool
stap_link_is_up(const struct stap_link *l)
{
    return l->state == STAP_LINK_UP;
}

/* Why the link closed itself (a sentence without a final period, for logs
 * and Interface:status), or "" if it did not. */
static inline const char *
stap_link_reason(const struct stap_link *l)
{
    return l->reason;
}

#endif /* ssh-tap-link.h */
