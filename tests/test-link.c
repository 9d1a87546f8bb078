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

/* Unit tests for the ssh-tap protocol endpoint (plugin/ssh-tap-link.c).
 *
 * In the manner of OVS's tests/test-reconnect.c: time is scripted, bytes go
 * in as the peer would send them, and what comes out (events, and the
 * messages the link queues for the peer) is written down as a transcript
 * and compared with the expected one.  A transcript line per event:
 *
 *     up                        the handshake completed
 *     frame N                   a frame of N bytes to deliver
 *     frame N ol T/F/H/S/C/O    one from a DATA_OFFLOAD, with its metadata
 *                               (gso_type, flags, hdr_len, gso_size,
 *                               csum_start, csum_offset)
 *     too-long N, too-short N   a frame dropped for its length
 *     bad-offload: WHY          a DATA_OFFLOAD dropped for its metadata
 *     closed: REASON            the link closed itself
 *
 * and per message queued for the peer:
 *
 *     > hello v2 max M "SOFTWARE" [offload]
 *     > echo-request V, > echo-reply V, > data N
 *
 * Prints one "PASS: test-link: <case>" or "FAIL: test-link: <case>: <why>"
 * line per case and exits with status 1 if any case failed. */

#include "ssh-tap-link.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "test-link"
#include "unit-test.h"

#define SW "test-link 1"
#define MS 1000LL               /* Microseconds in a millisecond. */
#define INTERVAL 1000           /* Keepalive interval of the tests (ms). */

/* A transcript being written. */
struct transcript {
    char text[8192];
    size_t len;
};

static void
say(struct transcript *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct transcript *t, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    int n = vsnprintf(t->text + t->len, sizeof t->text - t->len, format,
                      args);
    va_end(args);
    if (n > 0) {
        t->len += (size_t) n;
        if (t->len >= sizeof t->text) {
            t->len = sizeof t->text - 1;
        }
    }
    if (t->len < sizeof t->text - 1) {
        t->text[t->len++] = '\n';
        t->text[t->len] = '\0';
    }
}

static void
reset(struct transcript *t)
{
    t->len = 0;
    t->text[0] = '\0';
}

static void
open_link(struct stap_link *l, uint16_t max_frame, long long int now_us)
{
    stap_link_init(l, SW, max_frame, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_open(l, now_us);
}

/* Runs stap_link_next() on 'l' until nothing is left, writing each event
 * to 't'.  Frames go to 'frames' (if nonnull), back to back. */
static void
drain(struct stap_link *l, long long int now_us, bool want_frames,
      struct transcript *t, uint8_t *frames, size_t *frames_len)
{
    for (;;) {
        struct stap_frame f;

        switch (stap_link_next(l, now_us, want_frames, &f)) {
        case STAP_LINK_NONE:
            return;
        case STAP_LINK_FRAME:
            if (f.has_ol) {
                say(t, "frame %zu ol %d/%d/%d/%d/%d/%d", f.len, f.ol.gso_type,
                    f.ol.flags, f.ol.hdr_len, f.ol.gso_size, f.ol.csum_start,
                    f.ol.csum_offset);
            } else {
                say(t, "frame %zu", f.len);
            }
            if (frames) {
                memcpy(frames + *frames_len, f.data, f.len);
                *frames_len += f.len;
            }
            break;
        case STAP_LINK_TOO_LONG:
            say(t, "too-long");
            break;
        case STAP_LINK_TOO_SHORT:
            say(t, "too-short");
            break;
        case STAP_LINK_BAD_OFFLOAD:
            say(t, "bad-offload: %s", f.error);
            break;
        case STAP_LINK_WENT_UP:
            say(t, "up");
            break;
        case STAP_LINK_CLOSED_NOW:
            say(t, "closed: %s", stap_link_reason(l));
            return;
        }
    }
}

/* Gives 'l' 'n' bytes from the peer at 'now_us', as reads of at most
 * 'chunk' bytes, each followed by a drain(). */
static void
feed_chunked(struct stap_link *l, long long int now_us, const void *p_,
             size_t n, size_t chunk, struct transcript *t)
{
    const uint8_t *p = p_;

    while (n && stap_link_state(l) != STAP_LINK_CLOSED) {
        size_t room;
        uint8_t *dst = stap_link_rx_room(l, &room);
        size_t k = n < room ? n : room;

        if (k > chunk) {
            k = chunk;
        }
        if (!k) {
            say(t, "rx full");
            return;
        }
        memcpy(dst, p, k);
        stap_link_rx_done(l, k, now_us);
        p += k;
        n -= k;
        drain(l, now_us, true, t, NULL, NULL);
    }
}

static void
feed(struct stap_link *l, long long int now_us, const void *p, size_t n,
     struct transcript *t)
{
    feed_chunked(l, now_us, p, n, SIZE_MAX, t);
}

/* Takes every message queued in 'l->tx' and writes it to 't'. */
static void
sent(struct stap_link *l, struct transcript *t)
{
    struct stap_buf *tx = &l->tx;

    for (;;) {
        struct stap_msg msg;
        struct stap_hello hello;
        size_t consumed;

        enum stap_decode_status status
            = stap_decode(stap_buf_data(tx), stap_buf_size(tx),
                          STAP_OFFLOAD_RX_LIMIT, &msg, &consumed, NULL);
        if (status != STAP_DECODE_OK) {
            if (stap_buf_size(tx)) {
                say(t, "> %zu undecodable bytes", stap_buf_size(tx));
                stap_buf_pull(tx, stap_buf_size(tx));
            }
            return;
        }
        switch (msg.type) {
        case STAP_HELLO:
            if (stap_parse_hello(&msg, &hello)) {
                say(t, "> bad hello");
            } else {
                say(t, "> hello v%d max %d \"%s\"%s", hello.version,
                    hello.max_frame, hello.software,
                    hello.caps & STAP_CAP_OFFLOAD ? " offload" : "");
            }
            break;
        case STAP_ECHO_REQUEST:
        case STAP_ECHO_REPLY:
            say(t, "> %s %"PRIu64, stap_type_name(msg.type),
                stap_echo_value(&msg));
            break;
        default:
            say(t, "> %s %d", stap_type_name(msg.type), msg.length);
            break;
        }
        stap_buf_pull(tx, consumed);
    }
}

/* Moves what 'from' queued into 'to', as the channel would, and drains
 * 'to'. */
static void
carry(struct stap_link *from, struct stap_link *to, long long int now_us,
      struct transcript *t)
{
    struct stap_buf *tx = &from->tx;
    size_t n = stap_buf_size(tx);

    feed(to, now_us, stap_buf_data(tx), n, t);
    stap_buf_pull(tx, n);
}

#define CHECK_TRANSCRIPT(T, EXPECTED)                                   \
    CHECK_MSG(!strcmp((T)->text, EXPECTED),                             \
              "transcript:\n%s--- expected:\n%s", (T)->text, EXPECTED)

/* Message builders. */

static size_t
put_msg(uint8_t *buf, uint8_t type, uint8_t flags, uint16_t length,
        const void *payload, size_t payload_len)
{
    stap_put_header(buf, type, length);
    buf[1] = flags;
    if (payload_len) {
        memcpy(buf + STAP_HDR_LEN, payload, payload_len);
    }
    return STAP_HDR_LEN + payload_len;
}

static size_t
put_hello(uint8_t *buf, uint8_t version, uint16_t max_frame,
          const char *software)
{
    struct stap_hello h;

    memset(&h, 0, sizeof h);
    h.version = version;
    h.max_frame = max_frame;
    snprintf(h.software, sizeof h.software, "%s", software);
    return stap_encode_hello(buf, &h);
}

static size_t
put_data(uint8_t *buf, size_t len, uint8_t fill)
{
    stap_encode_data_header(buf, len);
    memset(buf + STAP_HDR_LEN, fill, len);
    return STAP_HDR_LEN + len;
}

/* A DATA_OFFLOAD message carrying a 'len'-byte frame of 'fill' bytes. */
static size_t
put_offload(uint8_t *buf, size_t len, const struct stap_offload *ol,
            uint8_t fill)
{
    size_t n = stap_encode_offload_header(buf, len, ol);
    memset(buf + n, fill, len);
    return n + len;
}

/* A HELLO of 'version' with 'caps' in its capabilities byte, whatever the
 * version (stap_encode_hello() would leave them out of a version 1
 * HELLO). */
static size_t
put_hello_caps(uint8_t *buf, uint8_t version, uint8_t caps,
               uint16_t max_frame)
{
    size_t n = put_hello(buf, version, max_frame, "peer");
    buf[STAP_HDR_LEN + 5] = caps;
    return n;
}

/* A link at 0 ms that has completed its handshake with a peer that accepts
 * 'peer_max' bytes, its queue emptied. */
static void
up_link(struct stap_link *l, uint16_t peer_max)
{
    struct transcript t;
    uint8_t buf[128];

    reset(&t);
    open_link(l, 1518, 0);
    feed(l, 0, buf, put_hello(buf, 1, peer_max, "peer"), &t);
    stap_buf_pull(&l->tx, stap_buf_size(&l->tx));
}

/* The cases. */

static const char *
handshake(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[128];

    reset(&t);
    open_link(&l, 1518, 5 * MS);
    sent(&l, &t);
    CHECK(stap_link_state(&l) == STAP_LINK_HELLO);
    CHECK(!stap_link_frame_limit(&l));
    CHECK(!stap_link_changed(&l));

    feed(&l, 7 * MS, buf, put_hello(buf, 1, 9018, "peer 2"), &t);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t,
                     "> hello v2 max 1518 \"" SW "\"\n"
                     "up\n"
                     "> echo-request 7000\n");
    CHECK(stap_link_is_up(&l));
    CHECK(l.up_since == 7);
    CHECK(l.peer.max_frame == 9018);
    CHECK(!strcmp(l.peer.software, "peer 2"));
    CHECK(stap_link_frame_limit(&l) == 1518);
    CHECK(stap_link_changed(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* Both ends send their HELLO at once, neither waiting for the other's. */
static const char *
crossing_hellos(void)
{
    struct stap_link a, b;
    struct transcript ta, tb;

    reset(&ta);
    reset(&tb);
    stap_link_init(&a, "a", 1518, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_init(&b, "b", 9018, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_open(&a, 100 * MS);
    stap_link_open(&b, 100 * MS);

    /* The HELLOs cross on the wire: both are queued before either
     * arrives. */
    uint8_t a_hello[128], b_hello[128];
    size_t a_len = stap_buf_size(&a.tx), b_len = stap_buf_size(&b.tx);
    CHECK(a_len <= sizeof a_hello && b_len <= sizeof b_hello);
    memcpy(a_hello, stap_buf_data(&a.tx), a_len);
    memcpy(b_hello, stap_buf_data(&b.tx), b_len);
    stap_buf_pull(&a.tx, a_len);
    stap_buf_pull(&b.tx, b_len);
    feed(&b, 101 * MS, a_hello, a_len, &tb);
    feed(&a, 101 * MS, b_hello, b_len, &ta);
    CHECK_TRANSCRIPT(&ta, "up\n");
    CHECK_TRANSCRIPT(&tb, "up\n");
    CHECK(stap_link_frame_limit(&a) == 1518);
    CHECK(stap_link_frame_limit(&b) == 1518);

    /* The echoes that follow the handshake measure the RTT both ways. */
    carry(&a, &b, 101 * MS + 300, &tb);
    carry(&b, &a, 101 * MS + 300, &ta);
    CHECK(a.rtt_us == 300 && b.rtt_us == -1);
    carry(&a, &b, 101 * MS + 700, &tb);
    CHECK(a.rtt_us == 300 && b.rtt_us == 700);
    CHECK(stap_link_changed(&a) && stap_link_changed(&b));
    stap_link_destroy(&a);
    stap_link_destroy(&b);
    return NULL;
}

/* A HELLO that arrives in the same read as what follows it. */
static const char *
hello_and_frames_in_one_read(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[4096], frames[4096];
    size_t n = 0, frames_len = 0;

    reset(&t);
    open_link(&l, 1518, 0);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    n += put_hello(buf + n, 1, 1518, "peer");
    n += put_data(buf + n, 60, 0xaa);
    n += put_data(buf + n, 1518, 0xbb);
    n += put_msg(buf + n, STAP_ECHO_REQUEST, 0, 8, "\0\0\0\0\0\0\0\x2a", 8);

    size_t room;
    memcpy(stap_link_rx_room(&l, &room), buf, n);
    stap_link_rx_done(&l, n, 3 * MS);
    drain(&l, 3 * MS, true, &t, frames, &frames_len);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t,
                     "up\n"
                     "frame 60\n"
                     "frame 1518\n"
                     "> echo-request 3000\n"
                     "> echo-reply 42\n");
    CHECK(frames_len == 60 + 1518);
    CHECK(frames[0] == 0xaa && frames[59] == 0xaa && frames[60] == 0xbb
          && frames[frames_len - 1] == 0xbb);
    stap_link_destroy(&l);
    return NULL;
}

/* With 'frames' false (a port without a receive queue yet), control
 * messages are handled and the first frame waits. */
static const char *
control_only_leaves_frames(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[256];
    size_t n = 0;

    reset(&t);
    open_link(&l, 1518, 0);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    n += put_hello(buf + n, 1, 1518, "peer");
    n += put_data(buf + n, 60, 1);

    size_t room;
    memcpy(stap_link_rx_room(&l, &room), buf, n);
    stap_link_rx_done(&l, n, 0);
    CHECK(stap_link_rx_ready(&l));
    drain(&l, 0, false, &t, NULL, NULL);
    CHECK_TRANSCRIPT(&t, "up\n");
    CHECK(stap_link_rx_ready(&l));
    CHECK(stap_buf_size(&l.rx) == STAP_HDR_LEN + 60);
    drain(&l, 0, true, &t, NULL, NULL);
    CHECK_TRANSCRIPT(&t, "up\nframe 60\n");
    CHECK(!stap_link_rx_ready(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* A later HELLO on a live link: ours when our MTU changes, the peer's when
 * its MTU does. */
static const char *
mtu_change_on_live_link(void)
{
    struct stap_link a, b;
    struct transcript ta, tb;
    uint8_t buf[9100];

    reset(&ta);
    reset(&tb);
    stap_link_init(&a, "a", 1518, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_init(&b, "b", 9018, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_open(&a, 0);
    stap_link_open(&b, 0);
    carry(&a, &b, 0, &tb);
    carry(&b, &a, 0, &ta);
    stap_buf_pull(&a.tx, stap_buf_size(&a.tx));
    stap_buf_pull(&b.tx, stap_buf_size(&b.tx));
    stap_link_published(&a, 0);
    stap_link_published(&b, 0);
    CHECK(stap_link_frame_limit(&b) == 1518);

    /* Before: a drops a 9000-byte frame. */
    feed(&a, 10 * MS, buf, put_data(buf, 9000, 7), &ta);
    CHECK_TRANSCRIPT(&ta, "up\ntoo-long\n");

    /* Same MTU again: nothing is sent. */
    stap_link_set_max_frame(&a, 1518);
    CHECK(!stap_buf_size(&a.tx));

    stap_link_set_max_frame(&a, 9018);
    sent(&a, &ta);
    CHECK_TRANSCRIPT(&ta, "up\ntoo-long\n> hello v2 max 9018 \"a\"\n");
    stap_link_set_max_frame(&a, 1518);
    stap_link_set_max_frame(&a, 9018);
    carry(&a, &b, 11 * MS, &tb);
    CHECK_TRANSCRIPT(&tb, "up\n");
    CHECK(stap_link_is_up(&b));
    CHECK(b.peer.max_frame == 9018);
    CHECK(stap_link_frame_limit(&b) == 9018);
    CHECK(stap_link_changed(&b));

    /* After: a takes it. */
    feed(&a, 12 * MS, buf, put_data(buf, 9000, 7), &ta);
    CHECK_TRANSCRIPT(&ta, "up\ntoo-long\n> hello v2 max 9018 \"a\"\n"
                     "frame 9000\n");

    /* The same HELLO again changes nothing that is shown. */
    stap_link_published(&b, 12 * MS);
    feed(&b, 12 * MS, buf, put_hello(buf, 2, 9018, "a"), &tb);
    CHECK(!stap_link_changed(&b));

    /* A malformed later HELLO closes the link. */
    feed(&b, 13 * MS, buf, put_msg(buf, STAP_HELLO, 0, 8, "STAP\0\0\x05\xee",
                                   8), &tb);
    CHECK_TRANSCRIPT(&tb, "up\nclosed: protocol error from peer: HELLO "
                     "announces protocol version 0\n");
    stap_link_destroy(&a);
    stap_link_destroy(&b);
    return NULL;
}

/* Nothing at all from the peer for three intervals closes the link, from
 * the moment it opens; any byte restarts the count. */
static const char *
three_silent_intervals(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[128];

    /* A peer that never sends its HELLO. */
    reset(&t);
    open_link(&l, 1518, 0);
    CHECK(stap_link_deadline(&l) == INTERVAL);
    CHECK(stap_link_run(&l, 2999 * MS) == STAP_LINK_HELLO);
    CHECK(stap_link_deadline(&l) == 3 * INTERVAL);
    CHECK(stap_link_run(&l, 3000 * MS) == STAP_LINK_CLOSED);
    CHECK(!strcmp(stap_link_reason(&l),
                  "peer silent for 3000 ms (3 keepalives missed)"));
    CHECK(l.cause == STAP_CAUSE_SILENT);
    CHECK(stap_link_deadline(&l) == LLONG_MAX);
    CHECK(!stap_link_close(&l));

    /* A peer that answers, then goes quiet. */
    reset(&t);
    open_link(&l, 1518, 0);
    feed(&l, 500 * MS, buf, put_hello(buf, 1, 1518, "peer"), &t);
    CHECK(stap_link_run(&l, 3000 * MS) == STAP_LINK_UP);
    CHECK(stap_link_deadline(&l) == 3500);
    CHECK(stap_link_run(&l, 3499 * MS) == STAP_LINK_UP);
    CHECK(stap_link_run(&l, 3500 * MS) == STAP_LINK_CLOSED);
    CHECK(!strcmp(stap_link_reason(&l),
                  "peer silent for 3000 ms (3 keepalives missed)"));
    /* Closed from up: one carrier reset, counted once. */
    CHECK(stap_link_close(&l));
    CHECK(!stap_link_close(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* The keepalive schedule: requests due at multiples of the interval
 * (stap_next_echo()), none during the handshake. */
static const char *
keepalive_schedule(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[128];

    reset(&t);
    open_link(&l, 1518, 1234 * MS);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    CHECK(stap_link_deadline(&l) == 2000);
    CHECK(stap_link_run(&l, 2000 * MS) == STAP_LINK_HELLO);
    CHECK(!stap_buf_size(&l.tx));
    CHECK(stap_link_deadline(&l) == 3000);

    feed(&l, 2100 * MS, buf, put_hello(buf, 1, 1518, "peer"), &t);
    CHECK(stap_link_run(&l, 2999 * MS) == STAP_LINK_UP);
    CHECK(stap_link_run(&l, 3000 * MS + 17) == STAP_LINK_UP);
    CHECK(stap_link_deadline(&l) == 4000);
    /* Calling it again before the deadline does nothing. */
    CHECK(stap_link_run(&l, 3500 * MS) == STAP_LINK_UP);
    /* A late wakeup still sends one request, and keeps the grid. */
    CHECK(stap_link_run(&l, 4321 * MS) == STAP_LINK_UP);
    CHECK(stap_link_deadline(&l) == 5000);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t,
                     "up\n"
                     "> echo-request 2100000\n"
                     "> echo-request 3000017\n"
                     "> echo-request 4321000\n");
    stap_link_destroy(&l);
    return NULL;
}

/* Echo RTT, and when it is worth publishing. */
static const char *
echo_rtt(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[64];

    reset(&t);
    up_link(&l, 1518);
    CHECK(l.rtt_us == -1);

    /* The reply to the echo sent at the handshake (at 0). */
    feed(&l, 250, buf, stap_encode_echo(buf, STAP_ECHO_REPLY, 0), &t);
    CHECK(l.rtt_us == 250);
    CHECK(stap_link_changed(&l));
    stap_link_published(&l, 250);
    CHECK(!stap_link_changed(&l));

    /* A change of a quarter or less is not worth a database write. */
    feed(&l, 5000 * MS + 300, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, 5000 * MS), &t);
    CHECK(l.rtt_us == 300);
    CHECK(!stap_link_changed(&l));

    /* More than a quarter is. */
    feed(&l, 6000 * MS + 400, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, 6000 * MS), &t);
    CHECK(l.rtt_us == 400);
    CHECK(stap_link_changed(&l));
    stap_link_published(&l, 6000 * MS + 400);

    /* So is a value a minute old. */
    feed(&l, 65999 * MS, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, 65999 * MS - 400), &t);
    CHECK(!stap_link_changed(&l));
    feed(&l, 66000 * MS, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, 66000 * MS - 400), &t);
    CHECK(stap_link_changed(&l));

    /* A value in the future is a lie, and ignored. */
    feed(&l, 70000 * MS, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, 70000 * MS + 1), &t);
    CHECK(l.rtt_us == 400);
    feed(&l, 70000 * MS, buf,
         stap_encode_echo(buf, STAP_ECHO_REPLY, UINT64_MAX), &t);
    CHECK(l.rtt_us == 400);

    /* Requests are answered with their 8 bytes unchanged. */
    feed(&l, 71000 * MS, buf,
         stap_encode_echo(buf, STAP_ECHO_REQUEST, UINT64_MAX), &t);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t, "> echo-reply 18446744073709551615\n");

    /* Closing forgets the RTT. */
    CHECK(stap_link_close(&l));
    CHECK(l.rtt_us == -1);
    stap_link_destroy(&l);
    return NULL;
}

/* Frames of the wrong length are dropped, the link stays up; the limits are
 * inclusive. */
static const char *
frame_lengths(void)
{
    struct stap_link l;
    struct transcript t;
    static uint8_t buf[4 * 10000];
    size_t n = 0;

    reset(&t);
    up_link(&l, 9018);
    n += put_data(buf + n, 1518, 1);
    n += put_data(buf + n, 1519, 2);
    n += put_data(buf + n, 9216, 3);
    n += put_data(buf + n, 14, 4);
    n += put_data(buf + n, 13, 5);
    n += put_data(buf + n, 0, 6);
    feed(&l, MS, buf, n, &t);
    CHECK_TRANSCRIPT(&t,
                     "frame 1518\n"
                     "too-long\n"
                     "too-long\n"
                     "frame 14\n"
                     "too-short\n"
                     "too-short\n");
    CHECK(stap_link_is_up(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* One hostile input: what it does to a link that is up ('up') or that has
 * only just opened. */
struct hostile {
    const char *name;
    bool up;
    uint8_t bytes[32];
    size_t len;
    const char *expected;
};

static const struct hostile hostiles[] = {
    { "data before hello", false, { 2, 0, 0, 14 }, 4 + 14,
      "closed: protocol error from peer: first message is not a hello\n" },
    { "echo before hello", false, { 3, 0, 0, 8 }, 4 + 8,
      "closed: protocol error from peer: first message is not a hello\n" },
    { "unknown type before hello", false, { 200, 0, 0, 0 }, 4,
      "closed: protocol error from peer: first message is not a hello\n" },
    { "reserved type 0 before hello", false, { 0, 0, 0, 0 }, 4,
      "closed: protocol error from peer: first message is not a hello\n" },
    { "hello too short", false, { 1, 0, 0, 7, 'S', 'T', 'A', 'P', 1, 0, 5 },
      4 + 7, "closed: protocol error from peer: HELLO too short\n" },
    { "hello without magic", false,
      { 1, 0, 0, 8, 'S', 'T', 'A', 'Q', 1, 0, 5, 0xee }, 4 + 8,
      "closed: protocol error from peer: HELLO lacks the \"STAP\" magic\n" },
    { "hello version 0", false,
      { 1, 0, 0, 8, 'S', 'T', 'A', 'P', 0, 0, 5, 0xee }, 4 + 8,
      "closed: protocol error from peer: HELLO announces protocol "
      "version 0\n" },
    { "hello max_frame 13", false,
      { 1, 0, 0, 8, 'S', 'T', 'A', 'P', 1, 0, 0, 13 }, 4 + 8,
      "closed: protocol error from peer: HELLO max_frame is smaller than "
      "an Ethernet header\n" },
    { "hello with flags", false,
      { 1, 1, 0, 8, 'S', 'T', 'A', 'P', 1, 0, 5, 0xee }, 4 + 8,
      "closed: protocol error from peer: nonzero flags in a message of a "
      "known type\n" },
    { "length 65535", true, { 2, 0, 0xff, 0xff }, 4,
      "closed: protocol error from peer: message length exceeds the "
      "receiver's limit\n" },
    { "length 9217, unknown type", true, { 77, 0, 0x24, 0x01 }, 4,
      "closed: protocol error from peer: message length exceeds the "
      "receiver's limit\n" },
    { "echo of 7 bytes", true, { 3, 0, 0, 7 }, 4 + 7,
      "closed: protocol error from peer: echo message length is not 8\n" },
    { "echo reply of 9 bytes", true, { 4, 0, 0, 9 }, 4 + 9,
      "closed: protocol error from peer: echo message length is not 8\n" },
    { "data with flags", true, { 2, 0x80, 0, 14 }, 4 + 14,
      "closed: protocol error from peer: nonzero flags in a message of a "
      "known type\n" },
    { "unknown types skipped", true,
      { 0, 0, 0, 0, 200, 0xff, 0, 3, 1, 2, 3, 6, 0, 0, 1, 9 }, 16, "" },
};

static const char *
hostile_sequences(void)
{
    for (size_t i = 0; i < sizeof hostiles / sizeof *hostiles; i++) {
        const struct hostile *h = &hostiles[i];
        struct stap_link l;
        struct transcript t;

        reset(&t);
        if (h->up) {
            up_link(&l, 1518);
        } else {
            open_link(&l, 1518, 0);
        }
        feed(&l, MS, h->bytes, h->len, &t);
        CHECK_MSG(!strcmp(t.text, h->expected), "%s: got \"%s\"", h->name,
                  t.text);
        if (h->expected[0]) {
            CHECK_MSG(l.cause == STAP_CAUSE_PROTOCOL, "%s", h->name);
            CHECK_MSG(!stap_buf_size(&l.tx), "%s: bytes still queued",
                      h->name);
            CHECK_MSG(stap_link_close(&l) == h->up, "%s", h->name);
        } else {
            CHECK_MSG(stap_link_is_up(&l), "%s", h->name);
        }
        stap_link_destroy(&l);
    }
    return NULL;
}

/* The length limit is checked on the header alone: the link closes as soon
 * as the 4 bytes are there, not after 64 KiB of payload. */
static const char *
oversize_header_alone(void)
{
    struct stap_link l;
    struct transcript t;
    const uint8_t hdr[] = { 2, 0, 0x24, 0x01 };     /* DATA of 9217. */

    reset(&t);
    up_link(&l, 1518);
    feed_chunked(&l, MS, hdr, 3, 1, &t);
    CHECK_TRANSCRIPT(&t, "");
    feed(&l, MS, hdr + 3, 1, &t);
    CHECK_TRANSCRIPT(&t, "closed: protocol error from peer: message length "
                     "exceeds the receiver's limit\n");
    stap_link_destroy(&l);
    return NULL;
}

/* A stream cut at every byte, in two reads and in reads of one byte: the
 * same transcript and the same frames as in one read. */
static const char *
split_at_every_byte(void)
{
    static uint8_t stream[8192];
    uint8_t whole_frames[8192], frames[8192];
    size_t n = 0, whole_len = 0;
    struct transcript whole;

    n += put_hello(stream + n, 1, 1518, "peer");
    n += put_data(stream + n, 60, 0x11);
    n += stap_encode_echo(stream + n, STAP_ECHO_REQUEST, 0x0102030405060708);
    n += put_msg(stream + n, 99, 0xff, 2, "zz", 2);
    n += put_data(stream + n, 14, 0x22);
    n += put_data(stream + n, 2000, 0x33);
    n += put_data(stream + n, 1518, 0x44);
    n += stap_encode_echo(stream + n, STAP_ECHO_REPLY, 0);

    struct stap_link l;
    reset(&whole);
    open_link(&l, 1518, 0);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    size_t room;
    memcpy(stap_link_rx_room(&l, &room), stream, n);
    stap_link_rx_done(&l, n, MS);
    drain(&l, MS, true, &whole, whole_frames, &whole_len);
    sent(&l, &whole);
    CHECK_TRANSCRIPT(&whole,
                     "up\n"
                     "frame 60\n"
                     "frame 14\n"
                     "too-long\n"
                     "frame 1518\n"
                     "> echo-request 1000\n"
                     "> echo-reply 72623859790382856\n");
    stap_link_destroy(&l);

    for (size_t cut = 0; cut <= n; cut++) {
        size_t frames_len = 0;
        struct transcript t;

        reset(&t);
        open_link(&l, 1518, 0);
        stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
        for (int part = 0; part < 2; part++) {
            size_t ofs = part ? cut : 0;
            size_t len = part ? n - cut : cut;
            uint8_t *dst = stap_link_rx_room(&l, &room);

            CHECK(room >= len);
            memcpy(dst, stream + ofs, len);
            if (len) {
                stap_link_rx_done(&l, len, MS);
            }
            drain(&l, MS, true, &t, frames, &frames_len);
        }
        sent(&l, &t);
        CHECK_MSG(!strcmp(t.text, whole.text), "cut at %zu:\n%s", cut,
                  t.text);
        CHECK_MSG(frames_len == whole_len
                  && !memcmp(frames, whole_frames, whole_len),
                  "cut at %zu: frames differ", cut);
        stap_link_destroy(&l);
    }

    /* One byte per read. */
    struct transcript t;
    reset(&t);
    open_link(&l, 1518, 0);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    feed_chunked(&l, MS, stream, n, 1, &t);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t, whole.text);
    stap_link_destroy(&l);
    return NULL;
}

/* A link whose queue never drains closes rather than lose a control
 * message. */
static const char *
stalled_link(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[128];

    reset(&t);
    stap_link_init(&l, SW, 1518, INTERVAL, 64 * 1024, 100);
    stap_link_open(&l, 0);
    feed(&l, 0, buf, put_hello(buf, 1, 1518, "peer"), &t);
    CHECK_TRANSCRIPT(&t, "up\n");
    /* HELLO (23) + echo (12) queued; 5 replies more take it to 95. */
    for (int i = 0; i < 6; i++) {
        feed(&l, MS, buf, stap_encode_echo(buf, STAP_ECHO_REQUEST, i), &t);
    }
    CHECK_TRANSCRIPT(&t, "up\nclosed: link stalled: 100 bytes queued\n");
    CHECK(l.cause == STAP_CAUSE_STALLED);
    stap_link_destroy(&l);
    return NULL;
}

/* Whether a newcomer may replace the link. */
static const char *
healthy(void)
{
    struct stap_link l;

    open_link(&l, 1518, 0);
    CHECK(!stap_link_healthy(&l, 0));
    stap_link_destroy(&l);

    up_link(&l, 1518);
    CHECK(stap_link_healthy(&l, 1999 * MS));
    CHECK(!stap_link_healthy(&l, 2000 * MS));
    stap_link_destroy(&l);
    return NULL;
}

/* A closed link takes no bytes, has no deadline and hands out nothing. */
static const char *
closed_link(void)
{
    struct stap_link l;
    struct stap_frame f;
    size_t room;

    stap_link_init(&l, SW, 1518, INTERVAL, 64 * 1024, 1024 * 1024);
    CHECK(!stap_link_rx_room(&l, &room) && !room);
    CHECK(!stap_link_rx_ready(&l));
    CHECK(stap_link_next(&l, 0, true, &f) == STAP_LINK_NONE);
    CHECK(stap_link_run(&l, 0) == STAP_LINK_CLOSED);
    CHECK(stap_link_deadline(&l) == LLONG_MAX);
    CHECK(!stap_link_frame_limit(&l));
    stap_link_set_max_frame(&l, 9018);
    CHECK(!stap_buf_size(&l.tx));
    CHECK(!stap_link_close(&l));

    /* Reopened, it starts from scratch with the new max_frame. */
    struct transcript t;
    reset(&t);
    stap_link_open(&l, 0);
    sent(&l, &t);
    CHECK_TRANSCRIPT(&t, "> hello v2 max 9018 \"" SW "\"\n");
    stap_link_destroy(&l);
    return NULL;
}

/* The receive buffer: its pending bytes move only when the tailroom runs
 * out, and a read always has room for a largest message. */
static const char *
rx_buffer_compaction(void)
{
    struct stap_link l;
    struct transcript t;
    static uint8_t buf[70000];
    size_t room, n = 0;

    reset(&t);
    up_link(&l, 1518);
    uint8_t *base = l.rx.base;
    CHECK(l.rx.alloc == 64 * 1024);

    /* 40 frames of 1000 bytes and half a frame. */
    for (int i = 0; i < 41; i++) {
        n += put_data(buf + n, 1000, (uint8_t) i);
    }
    size_t half = n - 504;
    uint8_t *dst = stap_link_rx_room(&l, &room);
    CHECK(dst == base && room == 64 * 1024);
    memcpy(dst, buf, half);
    stap_link_rx_done(&l, half, MS);
    drain(&l, MS, true, &t, NULL, NULL);
    CHECK(l.rx.head == 40 * 1004 && l.rx.tail == half);

    /* Tailroom left: nothing moves. */
    dst = stap_link_rx_room(&l, &room);
    CHECK(dst == base + half && room == 64 * 1024 - half);
    memcpy(dst, buf + half, 504);
    stap_link_rx_done(&l, 504, MS);
    for (int i = 0; i < 15; i++) {
        dst = stap_link_rx_room(&l, &room);
        CHECK(room >= 1004);
        memcpy(dst, buf, 1004);
        stap_link_rx_done(&l, 1004, MS);
    }
    drain(&l, MS, true, &t, NULL, NULL);
    CHECK(l.rx.head == 0 && l.rx.tail == 0);  /* Emptied: back to 0. */

    /* Now fill until less than a largest message of tailroom is left,
     * with half a frame pending: that half moves to the front. */
    size_t fill = 64 * 1024 - 9000;
    n = 0;
    while (n + 1004 <= fill) {
        n += put_data(buf + n, 1000, 1);
    }
    size_t whole = n;
    n += put_data(buf + n, 1000, 2) - 300;
    dst = stap_link_rx_room(&l, &room);
    memcpy(dst, buf, n);
    stap_link_rx_done(&l, n, MS);
    drain(&l, MS, true, &t, NULL, NULL);
    CHECK(l.rx.head == whole);
    dst = stap_link_rx_room(&l, &room);
    CHECK(l.rx.head == 0 && l.rx.tail == n - whole);
    CHECK(dst == base + (n - whole));
    CHECK(room >= STAP_HDR_LEN + STAP_RX_LIMIT);
    CHECK(l.rx.base[0] == STAP_DATA && l.rx.base[STAP_HDR_LEN] == 2);
    stap_link_destroy(&l);
    return NULL;
}

static const char *
buffer_growth(void)
{
    struct stap_buf b;
    uint8_t bytes[10000];
    size_t room;

    memset(bytes, 0x5a, sizeof bytes);
    stap_buf_init(&b, 10000);
    CHECK(!b.alloc && !stap_buf_size(&b) && stap_buf_free(&b) == 10000);
    CHECK(stap_buf_put(&b, bytes, 100));
    CHECK(b.alloc == 4096);
    CHECK(stap_buf_put(&b, bytes, 5000));
    CHECK(b.alloc == 8192);
    stap_buf_pull(&b, 100);
    CHECK(b.head == 100);
    /* Moving the pending bytes makes room: no growth. */
    CHECK(stap_buf_put(&b, bytes, 3100));
    CHECK(b.alloc == 8192 && b.head == 0 && stap_buf_size(&b) == 8100);
    /* Past the limit: refused, nothing changes. */
    CHECK(!stap_buf_put(&b, bytes, 1901));
    CHECK(stap_buf_size(&b) == 8100);
    CHECK(!stap_buf_room(&b, 1901, &room) && room == 92);
    CHECK(stap_buf_put(&b, bytes, 1900));
    CHECK(b.alloc == 10000 && stap_buf_free(&b) == 0);
    stap_buf_pull(&b, 10000);
    CHECK(!stap_buf_size(&b) && b.head == 0 && b.tail == 0);
    stap_buf_uninit(&b);
    return NULL;
}

/* Protocol version 2. */

/* Capabilities cross in the HELLOs: each side learns what the other takes,
 * and a later HELLO changes it on a live link. */
static const char *
offload_negotiation(void)
{
    struct stap_link a, b;
    struct transcript ta, tb;

    reset(&ta);
    reset(&tb);
    stap_link_init(&a, "a", 1518, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_init(&b, "b", 1518, INTERVAL, 64 * 1024, 1024 * 1024);
    stap_link_set_offload(&a, true);
    CHECK(!stap_buf_size(&a.tx));           /* Closed: nothing to tell. */
    stap_link_open(&a, 0);
    stap_link_open(&b, 0);
    CHECK(stap_link_version(&a) == 0);
    CHECK(!stap_link_peer_offload(&b));
    carry(&a, &b, 0, &tb);
    CHECK(b.peer.caps == STAP_CAP_OFFLOAD);
    carry(&b, &a, 0, &ta);
    CHECK_TRANSCRIPT(&ta, "up\n");
    CHECK_TRANSCRIPT(&tb, "up\n");
    CHECK(stap_link_version(&a) == 2 && stap_link_version(&b) == 2);
    CHECK(stap_link_peer_offload(&b));
    CHECK(!stap_link_peer_offload(&a));

    /* b offers too, in a new HELLO; the same offer again sends nothing. */
    stap_buf_pull(&a.tx, stap_buf_size(&a.tx));
    stap_link_published(&a, 0);
    stap_link_set_offload(&b, true);
    size_t n = stap_buf_size(&b.tx);
    stap_link_set_offload(&b, true);
    CHECK(stap_buf_size(&b.tx) == n);
    carry(&b, &a, MS, &ta);
    CHECK(stap_link_peer_offload(&a));
    CHECK(stap_link_changed(&a));

    /* And withdraws it. */
    stap_link_set_offload(&b, false);
    carry(&b, &a, MS, &ta);
    CHECK(!stap_link_peer_offload(&a));
    CHECK_TRANSCRIPT(&ta, "up\n");
    stap_link_destroy(&a);
    stap_link_destroy(&b);
    return NULL;
}

/* A version 1 peer: the link speaks version 1, and whatever its reserved
 * byte holds is not an offer. */
static const char *
offload_v1_peer(void)
{
    struct stap_link l;
    struct transcript t;
    uint8_t buf[128];

    reset(&t);
    open_link(&l, 1518, 0);
    stap_link_set_offload(&l, true);
    feed(&l, 0, buf, put_hello_caps(buf, 1, STAP_CAP_OFFLOAD, 1518), &t);
    CHECK_TRANSCRIPT(&t, "up\n");
    CHECK(stap_link_version(&l) == 1);
    CHECK(!stap_link_peer_offload(&l));
    CHECK(l.peer.caps == 0);

    /* A later version: unknown capability bits are ignored. */
    reset(&t);
    feed(&l, 0, buf, put_hello_caps(buf, 9, 0xff, 1518), &t);
    CHECK_TRANSCRIPT(&t, "");
    CHECK(stap_link_version(&l) == STAP_VERSION);
    CHECK(l.peer.caps == STAP_CAP_OFFLOAD);
    CHECK(stap_link_peer_offload(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* DATA_OFFLOAD on a link that offered offloads: a 64 kB segment passes the
 * MTU, bad metadata costs its frame only, and a frame of wire size that
 * exceeds max_frame is too long all the same. */
static const char *
offload_frames(void)
{
    static uint8_t buf[4 * (STAP_MAX_HDR_LEN + STAP_OFFLOAD_MAX_FRAME)];
    struct stap_offload ol = {
        .gso_type = STAP_GSO_TCPV4, .flags = STAP_OL_CSUM_PARTIAL,
        .hdr_len = 66, .gso_size = 1448, .csum_start = 34, .csum_offset = 16,
    };
    struct stap_link l;
    struct transcript t;
    size_t n = 0;

    reset(&t);
    up_link(&l, 1518);
    stap_link_set_offload(&l, true);
    stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    n += put_offload(buf + n, STAP_OFFLOAD_MAX_FRAME, &ol, 1);
    struct stap_offload bad = ol;
    bad.flags |= 0x80;
    n += put_offload(buf + n, 100, &bad, 2);
    bad = ol;
    bad.gso_size = 0;
    n += put_offload(buf + n, 100, &bad, 2);
    bad = ol;
    bad.csum_start = 90;
    n += put_offload(buf + n, 100, &bad, 2);
    struct stap_offload csum = {
        .flags = STAP_OL_CSUM_PARTIAL, .csum_start = 34, .csum_offset = 6,
    };
    struct stap_offload ol_none = { .flags = STAP_OL_CSUM_VALID };
    n += put_offload(buf + n, 1518, &csum, 3);
    n += put_offload(buf + n, 1519, &csum, 3);
    n += put_offload(buf + n, 13, &ol_none, 3);
    n += put_data(buf + n, 60, 4);
    feed_chunked(&l, MS, buf, n, 1000, &t);
    CHECK_TRANSCRIPT(&t,
                     "frame 65600 ol 1/1/66/1448/34/16\n"
                     "bad-offload: unknown offload flags\n"
                     "bad-offload: GSO with gso_size 0\n"
                     "bad-offload: checksum field beyond the frame\n"
                     "frame 1518 ol 0/1/0/0/34/6\n"
                     "too-long\n"
                     "too-short\n"
                     "frame 60\n");
    CHECK(stap_link_is_up(&l));
    stap_link_destroy(&l);
    return NULL;
}

/* DATA_OFFLOAD where it was never offered closes the link: its length byte
 * means something else to such an end.  Once offered on a connection it
 * stays acceptable there, even after the offer is withdrawn. */
static const char *
offload_unoffered(void)
{
    static uint8_t buf[STAP_MAX_HDR_LEN + 2000];
    struct stap_offload ol = { .flags = STAP_OL_CSUM_VALID };
    struct stap_link l;
    struct transcript t;

    reset(&t);
    up_link(&l, 1518);
    feed(&l, MS, buf, put_offload(buf, 60, &ol, 1), &t);
    CHECK_TRANSCRIPT(&t, "closed: protocol error from peer: DATA_OFFLOAD "
                     "although we did not offer offloads\n");
    CHECK(l.cause == STAP_CAUSE_PROTOCOL);
    stap_link_destroy(&l);

    reset(&t);
    up_link(&l, 1518);
    stap_link_set_offload(&l, true);
    stap_link_set_offload(&l, false);
    sent(&l, &t);
    feed(&l, MS, buf, put_offload(buf, 60, &ol, 1), &t);
    CHECK_TRANSCRIPT(&t, "> hello v2 max 1518 \"" SW "\" offload\n"
                     "> hello v2 max 1518 \"" SW "\"\n"
                     "frame 60 ol 0/2/0/0/0/0\n");

    /* A new connection starts from the offer as it is now. */
    reset(&t);
    stap_link_open(&l, 2 * MS);
    feed(&l, 2 * MS, buf, put_hello(buf, 2, 1518, "peer"), &t);
    feed(&l, 2 * MS, buf, put_offload(buf, 60, &ol, 1), &t);
    CHECK_TRANSCRIPT(&t, "up\nclosed: protocol error from peer: "
                     "DATA_OFFLOAD although we did not offer offloads\n");
    stap_link_destroy(&l);
    return NULL;
}

/* The 24-bit length is checked against the limit on the header alone. */
static const char *
offload_oversize_header(void)
{
    /* DATA_OFFLOAD of STAP_OFFLOAD_RX_LIMIT + 1 = 65613 = 0x01004d. */
    const uint8_t hdr[] = { 5, 0x01, 0x00, 0x4d };
    const uint8_t max[] = { 5, 0xff, 0xff, 0xff };
    struct stap_link l;
    struct transcript t;

    reset(&t);
    up_link(&l, 1518);
    stap_link_set_offload(&l, true);
    feed(&l, MS, hdr, sizeof hdr, &t);
    CHECK_TRANSCRIPT(&t, "closed: protocol error from peer: message length "
                     "exceeds the receiver's limit\n");
    stap_link_destroy(&l);

    reset(&t);
    up_link(&l, 1518);
    stap_link_set_offload(&l, true);
    feed(&l, MS, max, sizeof max, &t);
    CHECK_TRANSCRIPT(&t, "closed: protocol error from peer: message length "
                     "exceeds the receiver's limit\n");
    stap_link_destroy(&l);
    return NULL;
}

int
main(void)
{
    run("handshake", handshake);
    run("crossing HELLOs", crossing_hellos);
    run("HELLO and frames in one read", hello_and_frames_in_one_read);
    run("control messages only: frames wait", control_only_leaves_frames);
    run("MTU change on a live link", mtu_change_on_live_link);
    run("three silent intervals close the link", three_silent_intervals);
    run("keepalive schedule", keepalive_schedule);
    run("echo RTT and its publication", echo_rtt);
    run("frame lengths", frame_lengths);
    run("hostile sequences", hostile_sequences);
    run("oversize length on the header alone", oversize_header_alone);
    run("stream split at every byte", split_at_every_byte);
    run("stalled link", stalled_link);
    run("healthy link", healthy);
    run("closed link", closed_link);
    run("receive buffer compaction", rx_buffer_compaction);
    run("buffer growth", buffer_growth);
    run("v2: offload negotiation", offload_negotiation);
    run("v2: version 1 peer", offload_v1_peer);
    run("v2: DATA_OFFLOAD frames", offload_frames);
    run("v2: DATA_OFFLOAD never offered", offload_unoffered);
    run("v2: oversize 24-bit length on the header", offload_oversize_header);
    return n_failed ? 1 : 0;
}
