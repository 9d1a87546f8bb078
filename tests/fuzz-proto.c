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

/* libFuzzer target for the ssh-tap framing decoder.
 *
 * The input is treated as everything a peer sent on one channel, and is
 * processed the way a receiver processes it (docs/protocol.md): decode,
 * check, require a HELLO first, then handle DATA, echoes and unknown types
 * until the stream runs out or turns out to be broken.  Besides the memory
 * errors that AddressSanitizer reports, the target aborts if the codec
 * breaks one of its own promises (consumed bytes within the input, payload
 * within the message, a printable NUL-terminated software string, HELLO and
 * echo surviving a re-encode).
 *
 * All of it twice: as a receiver that did not offer offloads (version 1's
 * limits; a DATA_OFFLOAD closes the link) and as one that did (the larger
 * limit, DATA_OFFLOAD frames whose metadata stap_parse_offload() checks).
 *
 * The same input then goes through the protocol endpoint (ssh-tap-link.c),
 * in reads whose sizes the input itself picks, and the target aborts if the
 * endpoint's verdict (closed or not), frames or drops differ from those of
 * the receiver written out here, or if what it queues for the peer is not a
 * sequence of well-formed messages.
 *
 * Build and run (the seeds are in tests/fuzz-corpus/proto/):
 *
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -Iplugin \
 *         tests/fuzz-proto.c plugin/ssh-tap-proto.c plugin/ssh-tap-link.c \
 *         -o fuzz-proto
 *     mkdir -p /tmp/corpus && \
 *         ./fuzz-proto -max_total_time=30 /tmp/corpus tests/fuzz-corpus/proto
 *
 * (New inputs go to the first directory, so the committed seeds stay as
 * they are.) */

#include "ssh-tap-link.h"
#include "ssh-tap-proto.h"

#include <stdlib.h>
#include <string.h>

/* The receiver's limit on any message's payload, as in docs/protocol.md:
 * RX_LIMIT without offloads, STAP_OFFLOAD_RX_LIMIT with. */
#define RX_LIMIT 9216

/* What this simulated receiver advertises as its max_frame. */
#define OUR_MAX_FRAME 1518

#define ASSERT(COND) do { if (!(COND)) { abort(); } } while (0)

static void
check_hello(const struct stap_hello *h)
{
    size_t len = strnlen(h->software, sizeof h->software);

    ASSERT(len <= STAP_SOFTWARE_MAX);
    for (size_t i = 0; i < len; i++) {
        ASSERT(h->software[i] >= 0x20 && h->software[i] <= 0x7e);
    }
    ASSERT(h->version != 0);
    ASSERT(h->max_frame >= STAP_ETH_MIN);

    /* Re-encoding what was parsed must give back the same HELLO. */
    uint8_t buf[STAP_HDR_LEN + STAP_HELLO_MIN_LEN + STAP_SOFTWARE_MAX];
    size_t n = stap_encode_hello(buf, h);
    struct stap_msg msg;
    struct stap_hello h2;
    size_t consumed;

    ASSERT(n == stap_hello_len(h) && n <= sizeof buf);
    ASSERT(stap_decode(buf, n, RX_LIMIT, &msg, &consumed, NULL)
           == STAP_DECODE_OK);
    ASSERT(consumed == n);
    ASSERT(stap_parse_hello(&msg, &h2) == NULL);
    ASSERT(h2.version == h->version && h2.caps == h->caps
           && h2.max_frame == h->max_frame);
    ASSERT(!strcmp(h2.software, h->software));
}

static void
check_echo(const struct stap_msg *msg)
{
    uint8_t buf[STAP_ECHO_MSG_LEN];
    uint64_t value = stap_echo_value(msg);
    struct stap_msg reply;
    size_t consumed;

    /* A request is answered with a reply that carries the same bytes. */
    ASSERT(stap_encode_echo(buf, STAP_ECHO_REPLY, value)
           == STAP_ECHO_MSG_LEN);
    ASSERT(stap_decode(buf, sizeof buf, RX_LIMIT, &reply, &consumed, NULL)
           == STAP_DECODE_OK);
    ASSERT(!memcmp(reply.payload, msg->payload, STAP_ECHO_LEN));
    ASSERT(stap_echo_value(&reply) == value);
}

/* What a receiver made of one input. */
struct verdict {
    bool closed;
    unsigned long n_frames;
    unsigned long n_dropped;
    unsigned long n_bad_offload;
};

/* Checks that 'tx' holds nothing but whole, well-formed messages that an
 * endpoint may send: HELLOs and echoes. */
static void
check_sent(const struct stap_buf *tx)
{
    const uint8_t *p = stap_buf_data(tx);
    size_t left = stap_buf_size(tx);

    while (left) {
        struct stap_msg msg;
        struct stap_hello hello;
        size_t consumed;

        ASSERT(stap_decode(p, left, RX_LIMIT, &msg, &consumed, NULL)
               == STAP_DECODE_OK);
        ASSERT(!stap_check_msg(&msg));
        ASSERT(msg.type == STAP_HELLO || msg.type == STAP_ECHO_REQUEST
               || msg.type == STAP_ECHO_REPLY);
        if (msg.type == STAP_HELLO) {
            ASSERT(!stap_parse_hello(&msg, &hello));
        }
        p += consumed;
        left -= consumed;
    }
}

/* Gives 'data' to a stap_link in reads of sizes taken from 'data' itself,
 * and returns its verdict. */
static struct verdict
run_link(const uint8_t *data, size_t size, bool offload)
{
    struct verdict v = { false, 0, 0, 0 };
    size_t limit = offload ? STAP_OFFLOAD_RX_LIMIT : RX_LIMIT;
    struct stap_link l;
    long long int now = 1000000;
    size_t off = 0;

    stap_link_init(&l, "fuzz", OUR_MAX_FRAME, 5000, 16 * 1024, 64 * 1024);
    stap_link_set_offload(&l, offload);
    stap_link_open(&l, now);
    while (!v.closed && off < size) {
        size_t room;
        uint8_t *dst = stap_link_rx_room(&l, &room);
        size_t n = 1 + (data[off] * 131u + off) % 4096;

        /* A message that has started always fits. */
        ASSERT(stap_buf_size(&l.rx) + room >= STAP_HDR_LEN + limit);
        n = n < room ? n : room;
        n = n < size - off ? n : size - off;
        memcpy(dst, data + off, n);
        off += n;
        now += 100;
        stap_link_rx_done(&l, n, now);

        for (;;) {
            struct stap_frame f;
            enum stap_link_event e = stap_link_next(&l, now, true, &f);

            if (e == STAP_LINK_NONE) {
                break;
            } else if (e == STAP_LINK_FRAME) {
                ASSERT(f.len >= STAP_ETH_MIN);
                ASSERT(f.len <= OUR_MAX_FRAME
                       || (offload && f.has_ol && f.ol.gso_type
                           && f.len <= STAP_OFFLOAD_MAX_FRAME));
                ASSERT(offload || !f.has_ol);
                ASSERT(f.data >= l.rx.base
                       && f.data + f.len <= l.rx.base + l.rx.alloc);
                volatile uint8_t sink = f.data[0] ^ f.data[f.len - 1];
                (void) sink;
                v.n_frames++;
            } else if (e == STAP_LINK_TOO_LONG || e == STAP_LINK_TOO_SHORT) {
                v.n_dropped++;
            } else if (e == STAP_LINK_BAD_OFFLOAD) {
                ASSERT(offload && f.error && *f.error);
                v.n_bad_offload++;
            } else if (e == STAP_LINK_CLOSED_NOW) {
                ASSERT(stap_link_state(&l) == STAP_LINK_CLOSED);
                ASSERT(l.cause == STAP_CAUSE_PROTOCOL && l.reason[0]);
                v.closed = true;
                break;
            } else {
                ASSERT(e == STAP_LINK_WENT_UP && stap_link_is_up(&l));
            }
        }
        check_sent(&l.tx);
        stap_buf_pull(&l.tx, stap_buf_size(&l.tx));
    }
    stap_link_destroy(&l);
    return v;
}

/* What docs/protocol.md says a receiver makes of 'data', written out
 * directly on the codec. */
static struct verdict
model(const uint8_t *data, size_t size, bool offload)
{
    struct verdict v = { false, 0, 0, 0 };
    size_t limit = offload ? STAP_OFFLOAD_RX_LIMIT : RX_LIMIT;
    bool have_hello = false;
    size_t off = 0;

    for (;;) {
        struct stap_msg msg;
        const char *error = NULL;
        size_t consumed = 0;
        enum stap_decode_status s;

        s = stap_decode(data + off, size - off, limit, &msg, &consumed,
                        &error);
        if (s == STAP_DECODE_NEED_MORE) {
            ASSERT(consumed == 0 && error == NULL);
            break;
        } else if (s == STAP_DECODE_ERROR) {
            ASSERT(consumed == 0 && error && *error);
            v.closed = true;
            break;
        }
        ASSERT(s == STAP_DECODE_OK);
        ASSERT(error == NULL);
        ASSERT(consumed >= STAP_HDR_LEN && consumed <= size - off);
        ASSERT(consumed == STAP_HDR_LEN + (size_t) msg.length);
        ASSERT(msg.length <= limit);
        ASSERT(msg.payload == data + off + STAP_HDR_LEN);
        ASSERT(stap_type_name(msg.type) != NULL);
        off += consumed;

        if (stap_check_msg(&msg)) {
            v.closed = true;    /* Malformed known message: close. */
            break;
        }

        if (!have_hello) {
            struct stap_hello hello;

            if (msg.type != STAP_HELLO || stap_parse_hello(&msg, &hello)) {
                v.closed = true; /* Must start with a valid HELLO: close. */
                break;
            }
            check_hello(&hello);
            have_hello = true;
            continue;
        }

        switch (msg.type) {
        case STAP_HELLO: {
            /* A later HELLO (the peer's MTU changed) replaces the first;
             * a malformed one still closes the link. */
            struct stap_hello hello;

            if (stap_parse_hello(&msg, &hello)) {
                v.closed = true;
                break;
            }
            check_hello(&hello);
            break;
        }

        case STAP_DATA:
            if (msg.length < STAP_ETH_MIN || msg.length > OUR_MAX_FRAME) {
                v.n_dropped++;
            } else {
                v.n_frames++;
                /* Touch the frame as a datapath would when it copies it. */
                const uint8_t *frame = msg.payload;
                volatile uint8_t sink = frame[0] ^ frame[msg.length - 1];
                (void) sink;
            }
            break;

        case STAP_DATA_OFFLOAD: {
            struct stap_offload ol;
            const uint8_t *frame;
            size_t len;

            if (!offload) {
                v.closed = true;
            } else if (stap_parse_offload(&msg, &ol, &frame, &len)) {
                v.n_bad_offload++;
            } else if (len < STAP_ETH_MIN
                       || (len > OUR_MAX_FRAME && !ol.gso_type)) {
                v.n_dropped++;
            } else {
                ASSERT(frame == msg.payload + STAP_OFFLOAD_META_LEN);
                ASSERT(frame + len == msg.payload + msg.length);
                v.n_frames++;
                volatile uint8_t sink = frame[0] ^ frame[len - 1];
                (void) sink;
            }
            break;
        }

        case STAP_ECHO_REQUEST:
        case STAP_ECHO_REPLY:
            ASSERT(msg.length == STAP_ECHO_LEN);
            check_echo(&msg);
            break;

        default:
            /* Unknown type: skipped, for forward compatibility. */
            break;
        }
        if (v.closed) {
            break;
        }
    }
    ASSERT(off <= size);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer entry point: 'data' is one peer's side of a channel. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int offload = 0; offload < 2; offload++) {
        struct verdict v = model(data, size, offload);
        struct verdict lv = run_link(data, size, offload);

        ASSERT(lv.closed == v.closed);
        ASSERT(lv.n_frames == v.n_frames && lv.n_dropped == v.n_dropped);
        ASSERT(lv.n_bad_offload == v.n_bad_offload);
    }
    return 0;
}
