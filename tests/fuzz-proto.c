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
 * Build and run (the seeds are in tests/fuzz-corpus/proto/):
 *
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -Iplugin \
 *         tests/fuzz-proto.c plugin/ssh-tap-proto.c -o fuzz-proto
 *     mkdir -p /tmp/corpus && \
 *         ./fuzz-proto -max_total_time=30 /tmp/corpus tests/fuzz-corpus/proto
 *
 * (New inputs go to the first directory, so the committed seeds stay as
 * they are.) */

#include "ssh-tap-proto.h"

#include <stdlib.h>
#include <string.h>

/* The receiver's limit on any message's payload, as in docs/protocol.md. */
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
    ASSERT(h2.version == h->version && h2.max_frame == h->max_frame);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer entry point: 'data' is one peer's side of a channel. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool have_hello = false;
    size_t off = 0;
    unsigned long n_dropped = 0;

    for (;;) {
        struct stap_msg msg;
        const char *error = NULL;
        size_t consumed = 0;
        enum stap_decode_status s;

        s = stap_decode(data + off, size - off, RX_LIMIT, &msg, &consumed,
                        &error);
        if (s == STAP_DECODE_NEED_MORE) {
            ASSERT(consumed == 0 && error == NULL);
            break;
        } else if (s == STAP_DECODE_ERROR) {
            ASSERT(consumed == 0 && error && *error);
            break;
        }
        ASSERT(s == STAP_DECODE_OK);
        ASSERT(error == NULL);
        ASSERT(consumed >= STAP_HDR_LEN && consumed <= size - off);
        ASSERT(consumed == STAP_HDR_LEN + (size_t) msg.length);
        ASSERT(msg.length <= RX_LIMIT);
        ASSERT(msg.payload == data + off + STAP_HDR_LEN);
        ASSERT(stap_type_name(msg.type) != NULL);
        off += consumed;

        if (stap_check_msg(&msg)) {
            break;              /* Malformed known message: close. */
        }

        if (!have_hello) {
            struct stap_hello hello;

            if (msg.type != STAP_HELLO || stap_parse_hello(&msg, &hello)) {
                break;          /* Must start with a valid HELLO: close. */
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
                return 0;
            }
            check_hello(&hello);
            break;
        }

        case STAP_DATA:
            if (msg.length < STAP_ETH_MIN || msg.length > OUR_MAX_FRAME) {
                n_dropped++;
            } else {
                /* Touch the frame as a datapath would when it copies it. */
                const uint8_t *frame = msg.payload;
                volatile uint8_t sink = frame[0] ^ frame[msg.length - 1];
                (void) sink;
            }
            break;

        case STAP_ECHO_REQUEST:
        case STAP_ECHO_REPLY:
            ASSERT(msg.length == STAP_ECHO_LEN);
            check_echo(&msg);
            break;

        default:
            /* Unknown type: skipped, for forward compatibility. */
            break;
        }
    }
    ASSERT(off <= size);
    (void) n_dropped;
    return 0;
}
