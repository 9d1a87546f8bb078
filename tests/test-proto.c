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

/* Unit tests for the ssh-tap framing codec (plugin/ssh-tap-proto.c).
 *
 * Prints one "PASS: test-proto: <case>" or "FAIL: test-proto: <case>: <why>"
 * line per case and exits with status 1 if any case failed.  Needs nothing
 * but the codec, so it also runs cleanly under valgrind: buffers handed to
 * the decoder are malloc()ed at their exact size, so that any read past the
 * end is caught. */

#include "ssh-tap-proto.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "test-proto"
#include "unit-test.h"

/* Returns a malloc()ed copy of 'n' bytes of 'p', so that the decoder works
 * on a block whose end valgrind knows. */
static uint8_t *
dup_exact(const void *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    if (!q) {
        abort();
    }
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

static void
make_hello(struct stap_hello *h, uint8_t version, uint16_t max_frame,
           const char *software)
{
    memset(h, 0, sizeof *h);
    h->version = version;
    h->max_frame = max_frame;
    snprintf(h->software, sizeof h->software, "%s", software);
}

/* The examples of docs/protocol.md, byte for byte. */
static const uint8_t doc_hello[] = {
    0x01, 0x00, 0x00, 0x17,                         /* HELLO, 23 bytes */
    0x53, 0x54, 0x41, 0x50,                         /* "STAP" */
    0x01, 0x00, 0x05, 0xee,                         /* v1, rsvd, 1518 */
    0x6f, 0x76, 0x73, 0x2d, 0x73, 0x73, 0x68, 0x2d, /* "ovs-ssh-" */
    0x74, 0x61, 0x70, 0x20, 0x30, 0x2e, 0x31,       /* "tap 0.1" */
};

static const uint8_t doc_hello_v2[] = {
    0x01, 0x00, 0x00, 0x17,                         /* HELLO, 23 bytes */
    0x53, 0x54, 0x41, 0x50,                         /* "STAP" */
    0x02, 0x01, 0x05, 0xee,                         /* v2, OFFLOAD, 1518 */
    0x6f, 0x76, 0x73, 0x2d, 0x73, 0x73, 0x68, 0x2d, /* "ovs-ssh-" */
    0x74, 0x61, 0x70, 0x20, 0x30, 0x2e, 0x32,       /* "tap 0.2" */
};

/* The header and metadata of a DATA_OFFLOAD carrying a 9014-byte TCP/IPv4
 * frame to be cut into 1448-byte segments, and those of one carrying the
 * largest frame. */
static const uint8_t doc_offload[] = {
    0x05, 0x00, 0x23, 0x42,                         /* 12 + 9014 = 9026 */
    0x01, 0x01, 0x00, 0x42,                         /* TCPV4, CSUM_PARTIAL,
                                                     * hdr_len 66 */
    0x05, 0xa8, 0x00, 0x22,                         /* 1448, start 34 */
    0x00, 0x10, 0x00, 0x00,                         /* offset 16, rsvd */
};

static const uint8_t doc_offload_max[] = {
    0x05, 0x01, 0x00, 0x4c,                         /* 12 + 65600 = 65612 */
};

static const uint8_t doc_data[] = {
    0x02, 0x00, 0x00, 0x2a,                         /* DATA, 42 bytes */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* dst MAC */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,             /* src MAC */
    0x08, 0x06,                                     /* ARP */
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, /* request */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,             /* sender MAC */
    0x0a, 0x00, 0x00, 0x01,                         /* 10.0.0.1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             /* target MAC */
    0x0a, 0x00, 0x00, 0x02,                         /* 10.0.0.2 */
};

static const uint8_t doc_echo[] = {
    0x03, 0x00, 0x00, 0x08,                         /* ECHO_REQUEST */
    0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a,
};

/* A valid stream: the three examples above, then an echo reply. */
static size_t
make_stream(uint8_t *buf)
{
    size_t n = 0;

    memcpy(buf + n, doc_hello, sizeof doc_hello);
    n += sizeof doc_hello;
    memcpy(buf + n, doc_data, sizeof doc_data);
    n += sizeof doc_data;
    memcpy(buf + n, doc_echo, sizeof doc_echo);
    n += sizeof doc_echo;
    n += stap_encode_echo(buf + n, STAP_ECHO_REPLY, 0x123456789aULL);
    return n;
}

/* Decodes exactly one message that must take all 'n' bytes of 'p'. */
static enum stap_decode_status
decode_one(const void *p, size_t n, size_t max, struct stap_msg *msg,
           const char **error)
{
    uint8_t *copy = dup_exact(p, n);
    size_t consumed;
    enum stap_decode_status s;

    s = stap_decode(copy, n, max, msg, &consumed, error);
    if (s == STAP_DECODE_OK && consumed != n) {
        s = STAP_DECODE_ERROR;
        *error = "test: consumed != n";
    }
    /* 'msg->payload' would dangle; callers only look at the header fields
     * and at payload offsets, so point it back at the original. */
    if (s == STAP_DECODE_OK) {
        msg->payload = (const uint8_t *) p + (msg->payload - copy);
    }
    free(copy);
    return s;
}

/* Round trips. */

static const char *
hello_roundtrip(void)
{
    struct stap_hello in, out;
    struct stap_msg msg;
    const char *error;
    uint8_t buf[128];

    make_hello(&in, STAP_VERSION, 1518, "ovs-ssh-tap 0.1");
    size_t n = stap_encode_hello(buf, &in);
    CHECK(n == stap_hello_len(&in));
    CHECK(n == STAP_HDR_LEN + STAP_HELLO_MIN_LEN + 15);
    CHECK(decode_one(buf, n, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(msg.type == STAP_HELLO);
    CHECK(msg.flags == 0);
    CHECK(msg.length == n - STAP_HDR_LEN);
    CHECK(stap_check_msg(&msg) == NULL);
    CHECK(stap_parse_hello(&msg, &out) == NULL);
    CHECK(out.version == STAP_VERSION);
    CHECK(out.max_frame == 1518);
    CHECK(!strcmp(out.software, "ovs-ssh-tap 0.1"));
    return NULL;
}

static const char *
hello_roundtrip_empty_software(void)
{
    struct stap_hello in, out;
    struct stap_msg msg;
    const char *error;
    uint8_t buf[128];

    make_hello(&in, 1, 9018, "");
    size_t n = stap_encode_hello(buf, &in);
    CHECK(n == STAP_HDR_LEN + STAP_HELLO_MIN_LEN);
    CHECK(decode_one(buf, n, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(msg.length == STAP_HELLO_MIN_LEN);
    CHECK(stap_parse_hello(&msg, &out) == NULL);
    CHECK(out.max_frame == 9018);
    CHECK(out.software[0] == '\0');
    return NULL;
}

static const char *
hello_roundtrip_max_software(void)
{
    struct stap_hello in, out;
    struct stap_msg msg;
    const char *error;
    uint8_t buf[128];

    /* A full 'software' array without a NUL in its first 64 bytes must
     * still encode exactly 64 bytes. */
    memset(&in, 0, sizeof in);
    in.version = 1;
    in.max_frame = 0xffff;
    memset(in.software, 'x', sizeof in.software);
    size_t n = stap_encode_hello(buf, &in);
    CHECK(n == stap_hello_len(&in));
    CHECK(n == STAP_HDR_LEN + STAP_HELLO_MIN_LEN + STAP_SOFTWARE_MAX);
    CHECK(decode_one(buf, n, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(stap_parse_hello(&msg, &out) == NULL);
    CHECK(out.max_frame == 0xffff);
    CHECK(strlen(out.software) == STAP_SOFTWARE_MAX);
    CHECK(strspn(out.software, "x") == STAP_SOFTWARE_MAX);
    return NULL;
}

static const char *
hello_wire_format(void)
{
    struct stap_hello h;
    uint8_t buf[128];

    make_hello(&h, 1, 1518, "ovs-ssh-tap 0.1");
    size_t n = stap_encode_hello(buf, &h);
    CHECK(n == sizeof doc_hello);
    CHECK(!memcmp(buf, doc_hello, n));
    return NULL;
}

static const char *
data_roundtrip(void)
{
    uint8_t frame[1514], buf[STAP_HDR_LEN + sizeof frame];
    struct stap_msg msg;
    const char *error;

    for (size_t i = 0; i < sizeof frame; i++) {
        frame[i] = (uint8_t) (i * 7 + 3);
    }
    stap_encode_data_header(buf, sizeof frame);
    memcpy(buf + STAP_HDR_LEN, frame, sizeof frame);
    CHECK(decode_one(buf, sizeof buf, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(msg.type == STAP_DATA);
    CHECK(msg.length == sizeof frame);
    CHECK(msg.payload == buf + STAP_HDR_LEN);
    CHECK(!memcmp(msg.payload, frame, sizeof frame));
    CHECK(stap_check_msg(&msg) == NULL);
    return NULL;
}

static const char *
data_wire_format(void)
{
    uint8_t hdr[STAP_HDR_LEN];

    stap_encode_data_header(hdr, 42);
    CHECK(!memcmp(hdr, doc_data, STAP_HDR_LEN));
    stap_encode_data_header(hdr, 0x1234);
    CHECK(hdr[0] == 2 && hdr[1] == 0 && hdr[2] == 0x12 && hdr[3] == 0x34);
    return NULL;
}

static const char *
data_zero_bytes(void)
{
    uint8_t hdr[STAP_HDR_LEN];
    struct stap_msg msg;
    const char *error;

    stap_encode_data_header(hdr, 0);
    CHECK(decode_one(hdr, sizeof hdr, 9216, &msg, &error)
          == STAP_DECODE_OK);
    CHECK(msg.type == STAP_DATA);
    CHECK(msg.length == 0);
    /* A runt frame is the caller's to drop and count, not a broken
     * stream. */
    CHECK(stap_check_msg(&msg) == NULL);
    return NULL;
}

static const char *
data_65535_bytes(void)
{
    size_t n = STAP_HDR_LEN + STAP_MAX_PAYLOAD;
    uint8_t *buf = calloc(1, n);
    struct stap_msg msg;
    const char *error;
    enum stap_decode_status s;
    uint16_t len;

    stap_encode_data_header(buf, STAP_MAX_PAYLOAD);
    buf[n - 1] = 0xa5;
    s = decode_one(buf, n, STAP_MAX_PAYLOAD, &msg, &error);
    len = msg.length;
    free(buf);
    CHECK(s == STAP_DECODE_OK);
    CHECK(len == STAP_MAX_PAYLOAD);

    /* The same header against a realistic limit: rejected before any
     * payload arrives. */
    uint8_t hdr[STAP_HDR_LEN];
    stap_encode_data_header(hdr, STAP_MAX_PAYLOAD);
    CHECK(decode_one(hdr, sizeof hdr, 9216, &msg, &error)
          == STAP_DECODE_ERROR);
    return NULL;
}

static const char *
echo_request_roundtrip(void)
{
    uint8_t buf[STAP_ECHO_MSG_LEN];
    struct stap_msg msg;
    const char *error;

    CHECK(stap_encode_echo(buf, STAP_ECHO_REQUEST, 0x0102030405060708ULL)
          == STAP_ECHO_MSG_LEN);
    CHECK(decode_one(buf, sizeof buf, 9216, &msg, &error)
          == STAP_DECODE_OK);
    CHECK(msg.type == STAP_ECHO_REQUEST);
    CHECK(msg.length == STAP_ECHO_LEN);
    CHECK(stap_check_msg(&msg) == NULL);
    CHECK(stap_echo_value(&msg) == 0x0102030405060708ULL);
    CHECK(buf[4] == 1 && buf[11] == 8);
    return NULL;
}

static const char *
echo_reply_roundtrip(void)
{
    static const uint64_t values[] = { 0, 1, UINT64_MAX, 0x8000000000000000ULL,
                                       1234567890123ULL };
    uint8_t buf[STAP_ECHO_MSG_LEN];
    struct stap_msg msg;
    const char *error;

    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        stap_encode_echo(buf, STAP_ECHO_REPLY, values[i]);
        CHECK(decode_one(buf, sizeof buf, 9216, &msg, &error)
              == STAP_DECODE_OK);
        CHECK(msg.type == STAP_ECHO_REPLY);
        CHECK(stap_check_msg(&msg) == NULL);
        CHECK_MSG(stap_echo_value(&msg) == values[i], "value %" PRIu64,
                  values[i]);
    }
    return NULL;
}

static const char *
echo_wire_format(void)
{
    uint8_t buf[STAP_ECHO_MSG_LEN];

    stap_encode_echo(buf, STAP_ECHO_REQUEST, 0x123456789aULL);
    CHECK(!memcmp(buf, doc_echo, sizeof buf));
    return NULL;
}

static const char *
put_header_layout(void)
{
    uint8_t hdr[STAP_HDR_LEN] = { 0xff, 0xff, 0xff, 0xff };

    stap_put_header(hdr, 0xee, 0xabcd);
    CHECK(hdr[0] == 0xee);
    CHECK(hdr[1] == 0);
    CHECK(hdr[2] == 0xab);
    CHECK(hdr[3] == 0xcd);
    return NULL;
}

/* Streams. */

static const char *
every_prefix(void)
{
    uint8_t stream[256];
    size_t total = make_stream(stream);

    for (size_t n = 0; n <= total; n++) {
        uint8_t *buf = dup_exact(stream, n);
        size_t off = 0, n_msgs = 0;

        /* Decode as much as the prefix holds. */
        for (;;) {
            struct stap_msg msg;
            const char *error = "unset";
            size_t consumed = 12345;
            enum stap_decode_status s;

            s = stap_decode(buf + off, n - off, 9216, &msg, &consumed,
                            &error);
            if (s == STAP_DECODE_NEED_MORE) {
                if (consumed != 0 || error != NULL) {
                    free(buf);
                    CHECK_MSG(0, "prefix %zu: NEED_MORE changed outputs", n);
                }
                break;
            }
            if (s != STAP_DECODE_OK) {
                free(buf);
                CHECK_MSG(0, "prefix %zu: status %d (%s)", n, s, error);
            }
            if (error != NULL || consumed == 0 || consumed > n - off) {
                free(buf);
                CHECK_MSG(0, "prefix %zu: bad consumed %zu", n, consumed);
            }
            off += consumed;
            n_msgs++;
        }
        free(buf);

        /* The number of complete messages in each prefix is known. */
        size_t b1 = sizeof doc_hello, b2 = b1 + sizeof doc_data;
        size_t b3 = b2 + sizeof doc_echo, b4 = b3 + STAP_ECHO_MSG_LEN;
        size_t expect = (n >= b1) + (n >= b2) + (n >= b3) + (n >= b4);
        CHECK_MSG(n_msgs == expect, "prefix %zu: %zu messages, expected %zu",
                  n, n_msgs, expect);
        CHECK(b4 == total);
    }
    return NULL;
}

static const char *
multiple_messages(void)
{
    uint8_t stream[256];
    size_t total = make_stream(stream);
    uint8_t *buf = dup_exact(stream, total);
    static const uint8_t types[] = { STAP_HELLO, STAP_DATA, STAP_ECHO_REQUEST,
                                     STAP_ECHO_REPLY };
    struct stap_msg msgs[4];
    size_t off = 0, n = 0;
    const char *result = NULL;

    while (off < total && n < 4) {
        size_t consumed;
        const char *error;

        if (stap_decode(buf + off, total - off, 9216, &msgs[n], &consumed,
                        &error) != STAP_DECODE_OK) {
            result = "decode failed";
            break;
        }
        if (stap_check_msg(&msgs[n])) {
            result = "check failed";
            break;
        }
        off += consumed;
        n++;
    }
    if (!result) {
        struct stap_hello h;

        if (n != 4 || off != total) {
            result = "wrong message count";
        } else if (stap_parse_hello(&msgs[0], &h)
                   || strcmp(h.software, "ovs-ssh-tap 0.1")) {
            result = "hello content";
        } else if (msgs[1].length != 42 || msgs[1].payload[12] != 0x08) {
            result = "data content";
        } else if (stap_echo_value(&msgs[2]) != 0x123456789aULL
                   || stap_echo_value(&msgs[3]) != 0x123456789aULL) {
            result = "echo content";
        } else {
            for (size_t i = 0; i < 4; i++) {
                if (msgs[i].type != types[i]) {
                    result = "wrong type order";
                }
            }
        }
    }
    free(buf);
    return result;
}

static const char *
split_reads(void)
{
    /* A receiver that gets the stream in reads of every size from 1 to
     * 'total' bytes, appending to a buffer and decoding what it can, must
     * see the same four messages each time. */
    uint8_t stream[256];
    size_t total = make_stream(stream);

    for (size_t chunk = 1; chunk <= total; chunk++) {
        uint8_t rx[256];
        size_t have = 0, fed = 0, start = 0, n_msgs = 0;
        uint8_t seen[4];

        while (fed < total) {
            size_t n = total - fed < chunk ? total - fed : chunk;
            memcpy(rx + have, stream + fed, n);
            have += n;
            fed += n;

            for (;;) {
                struct stap_msg msg;
                size_t consumed;
                const char *error;
                enum stap_decode_status s;

                s = stap_decode(rx + start, have - start, 9216, &msg,
                                &consumed, &error);
                if (s == STAP_DECODE_NEED_MORE) {
                    break;
                }
                CHECK_MSG(s == STAP_DECODE_OK, "chunk %zu: %s", chunk, error);
                CHECK(n_msgs < 4);
                seen[n_msgs++] = msg.type;
                start += consumed;
            }
        }
        CHECK_MSG(n_msgs == 4 && start == total, "chunk %zu: %zu messages",
                  chunk, n_msgs);
        CHECK(seen[0] == STAP_HELLO && seen[1] == STAP_DATA
              && seen[2] == STAP_ECHO_REQUEST && seen[3] == STAP_ECHO_REPLY);
    }
    return NULL;
}

static const char *
empty_input(void)
{
    struct stap_msg msg;
    size_t consumed = 99;
    const char *error = "unset";

    CHECK(stap_decode(NULL, 0, 9216, &msg, &consumed, &error)
          == STAP_DECODE_NEED_MORE);
    CHECK(consumed == 0);
    CHECK(error == NULL);

    uint8_t *b = dup_exact("\x02\x00\x00", 3);
    enum stap_decode_status s = stap_decode(b, 3, 9216, &msg, &consumed,
                                            &error);
    free(b);
    CHECK(s == STAP_DECODE_NEED_MORE);
    return NULL;
}

static const char *
null_error_pointer(void)
{
    uint8_t hdr[STAP_HDR_LEN];
    struct stap_msg msg;
    size_t consumed;

    stap_put_header(hdr, STAP_DATA, 10000);
    CHECK(stap_decode(hdr, sizeof hdr, 9216, &msg, &consumed, NULL)
          == STAP_DECODE_ERROR);
    stap_put_header(hdr, STAP_DATA, 0);
    CHECK(stap_decode(hdr, sizeof hdr, 9216, &msg, &consumed, NULL)
          == STAP_DECODE_OK);
    return NULL;
}

/* Stream errors. */

static const char *
length_over_limit(void)
{
    uint8_t hdr[STAP_HDR_LEN];
    struct stap_msg msg;
    size_t consumed = 99;
    const char *error = NULL;

    /* Only the header is present: the error must not wait for the
     * payload. */
    stap_put_header(hdr, STAP_DATA, 9217);
    CHECK(stap_decode(hdr, sizeof hdr, 9216, &msg, &consumed, &error)
          == STAP_DECODE_ERROR);
    CHECK(error != NULL && strstr(error, "length"));
    CHECK(consumed == 0);

    /* Also for a type this version does not know. */
    stap_put_header(hdr, 0x7f, 9217);
    CHECK(stap_decode(hdr, sizeof hdr, 9216, &msg, &consumed, &error)
          == STAP_DECODE_ERROR);

    /* A limit of zero admits only empty payloads. */
    stap_put_header(hdr, STAP_DATA, 1);
    CHECK(stap_decode(hdr, sizeof hdr, 0, &msg, &consumed, &error)
          == STAP_DECODE_ERROR);
    return NULL;
}

static const char *
length_at_limit(void)
{
    uint8_t *buf = calloc(1, STAP_HDR_LEN + 9216);
    struct stap_msg msg;
    const char *error;

    stap_put_header(buf, STAP_DATA, 9216);
    enum stap_decode_status s = decode_one(buf, STAP_HDR_LEN + 9216, 9216,
                                           &msg, &error);
    free(buf);
    CHECK(s == STAP_DECODE_OK);
    CHECK(msg.length == 9216);
    return NULL;
}

static const char *
flags_nonzero_known_type(void)
{
    for (int type = STAP_HELLO; type <= STAP_ECHO_REPLY; type++) {
        for (int flags = 1; flags < 256; flags <<= 1) {
            uint8_t hdr[STAP_HDR_LEN];
            struct stap_msg msg;
            size_t consumed;
            const char *error = NULL;

            stap_put_header(hdr, (uint8_t) type, 0);
            hdr[1] = (uint8_t) flags;
            CHECK_MSG(stap_decode(hdr, sizeof hdr, 9216, &msg, &consumed,
                                  &error) == STAP_DECODE_ERROR,
                      "type %d flags %#x accepted", type, flags);
            CHECK(error && strstr(error, "flags"));
        }
    }
    return NULL;
}

static const char *
flags_nonzero_unknown_type(void)
{
    uint8_t buf[STAP_HDR_LEN + 3] = { 0x42, 0x80, 0x00, 0x03, 'a', 'b', 'c' };
    struct stap_msg msg;
    const char *error;

    CHECK(decode_one(buf, sizeof buf, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(msg.type == 0x42);
    CHECK(msg.flags == 0x80);
    CHECK(msg.length == 3);
    return NULL;
}

static const char *
unknown_type_skipped(void)
{
    /* HELLO, then three messages of types version 1 does not define, then
     * DATA: a receiver that skips by 'consumed' lands on the DATA. */
    uint8_t stream[256];
    size_t n = 0;

    memcpy(stream, doc_hello, sizeof doc_hello);
    n += sizeof doc_hello;
    static const uint8_t unknown[] = {
        0x00, 0x00, 0x00, 0x02, 0xde, 0xad,
        0x06, 0x00, 0x00, 0x00,
        0xff, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05,
    };
    memcpy(stream + n, unknown, sizeof unknown);
    n += sizeof unknown;
    memcpy(stream + n, doc_data, sizeof doc_data);
    n += sizeof doc_data;

    uint8_t *buf = dup_exact(stream, n);
    uint8_t types[8];
    size_t off = 0, n_msgs = 0;
    const char *result = NULL;

    while (off < n && n_msgs < 8) {
        struct stap_msg msg;
        size_t consumed;
        const char *error;

        if (stap_decode(buf + off, n - off, 9216, &msg, &consumed, &error)
            != STAP_DECODE_OK) {
            result = "decode failed";
            break;
        }
        if (stap_check_msg(&msg)) {
            result = "check failed";
            break;
        }
        types[n_msgs++] = msg.type;
        off += consumed;
    }
    free(buf);
    if (result) {
        return result;
    }
    CHECK(n_msgs == 5);
    CHECK(types[0] == STAP_HELLO);
    CHECK(types[1] == 0x00 && types[2] == 0x06 && types[3] == 0xff);
    CHECK(types[4] == STAP_DATA);
    return NULL;
}

/* HELLO contents. */

/* Builds a HELLO message with the given raw payload in 'buf' and decodes
 * it into '*msg' (whose payload then points into 'buf'). */
static const char *
raw_hello(uint8_t *buf, const void *payload, size_t len, struct stap_msg *msg)
{
    size_t consumed;
    const char *error;

    stap_put_header(buf, STAP_HELLO, (uint16_t) len);
    memcpy(buf + STAP_HDR_LEN, payload, len);
    if (stap_decode(buf, STAP_HDR_LEN + len, 9216, msg, &consumed, &error)
        != STAP_DECODE_OK) {
        return "raw hello did not decode";
    }
    return NULL;
}

static const char *
hello_too_short(void)
{
    static const uint8_t p[] = "STAP\x01\x00\x05\xee";
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    for (size_t len = 0; len < STAP_HELLO_MIN_LEN; len++) {
        /* Exact-size copies so that valgrind sees any over-read. */
        uint8_t *exact = dup_exact(p, len);
        const char *e = raw_hello(buf, exact, len, &msg);
        free(exact);
        CHECK(e == NULL);

        uint8_t *copy = dup_exact(buf + STAP_HDR_LEN, len);
        msg.payload = copy;
        const char *check = stap_check_msg(&msg);
        const char *parse = stap_parse_hello(&msg, &h);
        free(copy);
        CHECK_MSG(check != NULL, "length %zu passed check", len);
        CHECK_MSG(parse != NULL, "length %zu parsed", len);
        CHECK(strstr(check, "short"));
    }
    CHECK(raw_hello(buf, p, STAP_HELLO_MIN_LEN, &msg) == NULL);
    CHECK(stap_check_msg(&msg) == NULL);
    return NULL;
}

static const char *
hello_bad_magic(void)
{
    static const char *bad[] = { "STAQ", "stap", "\0TAP", "PATS", "STA\0" };
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t p[8] = { 0, 0, 0, 0, 1, 0, 0x05, 0xee };
        memcpy(p, bad[i], 4);
        CHECK(raw_hello(buf, p, sizeof p, &msg) == NULL);
        const char *e = stap_check_msg(&msg);
        CHECK_MSG(e && strstr(e, "magic"), "magic %zu accepted", i);
        CHECK(stap_parse_hello(&msg, &h) != NULL);
    }
    return NULL;
}

static const char *
hello_version_0(void)
{
    static const uint8_t p[] = "STAP\x00\x00\x05\xee" "x";
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    CHECK(raw_hello(buf, p, 9, &msg) == NULL);
    CHECK(stap_check_msg(&msg) == NULL);
    const char *e = stap_parse_hello(&msg, &h);
    CHECK(e && strstr(e, "version 0"));
    return NULL;
}

static const char *
hello_newer_version(void)
{
    /* A peer that speaks a later version is fine: we talk version 1. */
    static const uint8_t p[] = "STAP\x07\x00\x05\xee" "future";
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    CHECK(raw_hello(buf, p, 14, &msg) == NULL);
    CHECK(stap_parse_hello(&msg, &h) == NULL);
    CHECK(h.version == 7);
    CHECK(!strcmp(h.software, "future"));
    return NULL;
}

static const char *
hello_reserved_ignored(void)
{
    static const uint8_t p[] = "STAP\x01\xff\x23\x7a";
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    CHECK(raw_hello(buf, p, 8, &msg) == NULL);
    CHECK(stap_parse_hello(&msg, &h) == NULL);
    CHECK(h.version == 1);
    CHECK(h.caps == 0);             /* Not capabilities in version 1. */
    CHECK(h.max_frame == 9082);
    return NULL;
}

static const char *
hello_small_max_frame(void)
{
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    for (unsigned int mf = 0; mf <= STAP_ETH_MIN; mf++) {
        uint8_t p[8] = { 'S', 'T', 'A', 'P', 1, 0, 0, (uint8_t) mf };
        CHECK(raw_hello(buf, p, sizeof p, &msg) == NULL);
        const char *e = stap_parse_hello(&msg, &h);
        if (mf < STAP_ETH_MIN) {
            CHECK_MSG(e && strstr(e, "max_frame"), "max_frame %u", mf);
        } else {
            CHECK_MSG(e == NULL, "max_frame %u: %s", mf, e);
        }
    }
    return NULL;
}

static const char *
hello_nonprintable_software(void)
{
    static const uint8_t p[] = "STAP\x01\x00\x05\xee"
                               "a\x01\x1b[31m\x7f\x80\xff\tz ~";
    uint8_t buf[64];
    struct stap_msg msg;
    struct stap_hello h;

    CHECK(raw_hello(buf, p, sizeof p - 1, &msg) == NULL);
    CHECK(stap_parse_hello(&msg, &h) == NULL);
    CHECK_MSG(!strcmp(h.software, "a??[31m????z ~"), "got '%s'",
              h.software);

    /* An embedded NUL must not truncate the string or survive as NUL. */
    static const uint8_t q[] = "STAP\x01\x00\x05\xee" "ab\0cd";
    CHECK(raw_hello(buf, q, 13, &msg) == NULL);
    CHECK(stap_parse_hello(&msg, &h) == NULL);
    CHECK_MSG(!strcmp(h.software, "ab?cd"), "got '%s'", h.software);
    return NULL;
}

static const char *
hello_long_software(void)
{
    uint8_t p[STAP_HELLO_MIN_LEN + 200];
    uint8_t buf[sizeof p + STAP_HDR_LEN];
    struct stap_msg msg;
    struct stap_hello h;

    memcpy(p, "STAP\x01\x00\x05\xee", STAP_HELLO_MIN_LEN);
    for (size_t i = STAP_HELLO_MIN_LEN; i < sizeof p; i++) {
        p[i] = (uint8_t) ('A' + (i - STAP_HELLO_MIN_LEN) % 26);
    }
    for (size_t n = 60; n <= 200; n++) {
        CHECK(raw_hello(buf, p, STAP_HELLO_MIN_LEN + n, &msg) == NULL);
        memset(&h, 0x55, sizeof h);
        CHECK(stap_parse_hello(&msg, &h) == NULL);
        size_t expect = n < STAP_SOFTWARE_MAX ? n : STAP_SOFTWARE_MAX;
        CHECK_MSG(strlen(h.software) == expect, "n=%zu: strlen %zu", n,
                  strlen(h.software));
        CHECK(!memcmp(h.software, p + STAP_HELLO_MIN_LEN, expect));
    }
    return NULL;
}

static const char *
parse_hello_wrong_type(void)
{
    struct stap_msg msg = {
        .type = STAP_DATA,
        .length = sizeof doc_hello - STAP_HDR_LEN,
        .payload = doc_hello + STAP_HDR_LEN,
    };
    struct stap_hello h;

    CHECK(stap_parse_hello(&msg, &h) != NULL);
    msg.type = STAP_HELLO;
    CHECK(stap_parse_hello(&msg, &h) == NULL);
    return NULL;
}

/* Echo contents. */

static const char *
echo_wrong_length(void)
{
    static const uint8_t bytes[16] = { 0 };
    static const size_t lens[] = { 0, 1, 7, 9, 16 };

    for (int type = STAP_ECHO_REQUEST; type <= STAP_ECHO_REPLY; type++) {
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            uint8_t *payload = dup_exact(bytes, lens[i]);
            struct stap_msg msg = {
                .type = (uint8_t) type,
                .length = (uint16_t) lens[i],
                .payload = payload,
            };
            const char *e = stap_check_msg(&msg);
            free(payload);
            CHECK_MSG(e != NULL, "type %d length %zu accepted", type,
                      lens[i]);
        }
    }
    return NULL;
}

static const char *
echo_value_short(void)
{
    uint8_t *payload = dup_exact("\xff\xff\xff", 3);
    struct stap_msg msg = {
        .type = STAP_ECHO_REPLY, .length = 3, .payload = payload,
    };
    uint64_t v = stap_echo_value(&msg);

    free(payload);
    CHECK(v == 0);
    return NULL;
}

static const char *
check_msg_data_and_unknown(void)
{
    static const uint8_t bytes[20] = { 0 };
    static const uint8_t types[] = { STAP_DATA, 0, 6, 0x80, 0xff };

    for (size_t i = 0; i < sizeof types; i++) {
        for (size_t len = 0; len <= sizeof bytes; len++) {
            struct stap_msg msg = {
                .type = types[i], .length = (uint16_t) len, .payload = bytes,
            };
            CHECK(stap_check_msg(&msg) == NULL);
        }
    }
    return NULL;
}

static const char *
type_names(void)
{
    CHECK(!strcmp(stap_type_name(STAP_HELLO), "hello"));
    CHECK(!strcmp(stap_type_name(STAP_DATA), "data"));
    CHECK(!strcmp(stap_type_name(STAP_ECHO_REQUEST), "echo-request"));
    CHECK(!strcmp(stap_type_name(STAP_ECHO_REPLY), "echo-reply"));
    CHECK(!strcmp(stap_type_name(0), "unknown"));
    CHECK(!strcmp(stap_type_name(STAP_DATA_OFFLOAD), "data-offload"));
    CHECK(!strcmp(stap_type_name(6), "unknown"));
    CHECK(!strcmp(stap_type_name(255), "unknown"));
    return NULL;
}

/* Garbage. */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
xorshift64(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Fills 'buf' with bytes that are mostly plausible headers, so that the
 * loop exercises the OK paths (HELLOs, echoes, unknown types) as well as
 * the errors. */
static void
fill_garbage(uint8_t *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint64_t r = xorshift64();

        switch (r % 4) {
        case 0:                 /* Pure noise. */
            buf[i++] = (uint8_t) (r >> 8);
            break;
        case 1: {               /* A header with a small length. */
            uint8_t hdr[STAP_HDR_LEN];
            stap_put_header(hdr, (uint8_t) ((r >> 8) % 7),
                            (uint16_t) ((r >> 16) % 80));
            if ((r >> 32) % 16 == 0) {
                hdr[1] = (uint8_t) (r >> 40);
            }
            for (size_t j = 0; j < STAP_HDR_LEN && i < len; j++) {
                buf[i++] = hdr[j];
            }
            break;
        }
        case 2:                 /* The magic, to reach parse_hello. */
            for (size_t j = 0; j < 4 && i < len; j++) {
                buf[i++] = (uint8_t) STAP_MAGIC[j];
            }
            break;
        default:                /* A run of small values. */
            for (size_t j = 0; j < (r >> 8) % 8 && i < len; j++) {
                buf[i++] = (uint8_t) ((r >> (16 + j)) % 3);
            }
            break;
        }
    }
}

static const char *
garbage_loop(void)
{
    static const size_t limits[] = { 0, 8, 64, 9216, STAP_MAX_PAYLOAD,
                                     STAP_OFFLOAD_RX_LIMIT };
    unsigned long n_ok = 0, n_err = 0, n_more = 0, n_hello = 0;

    for (int iter = 0; iter < 100000; iter++) {
        size_t len = (size_t) (xorshift64() % 300);
        size_t max = limits[xorshift64() % 6];
        uint8_t *buf = malloc(len ? len : 1);
        size_t off = 0;

        fill_garbage(buf, len);
        for (;;) {
            struct stap_msg msg;
            size_t consumed = 777;
            const char *error = NULL;
            enum stap_decode_status s;

            s = stap_decode(buf + off, len - off, max, &msg, &consumed,
                            &error);
            if (s == STAP_DECODE_NEED_MORE) {
                n_more++;
                if (consumed) {
                    free(buf);
                    CHECK_MSG(0, "iter %d: NEED_MORE consumed", iter);
                }
                break;
            } else if (s == STAP_DECODE_ERROR) {
                n_err++;
                if (!error || consumed) {
                    free(buf);
                    CHECK_MSG(0, "iter %d: ERROR without reason", iter);
                }
                break;
            } else if (s != STAP_DECODE_OK) {
                free(buf);
                CHECK_MSG(0, "iter %d: bad status %d", iter, s);
            }

            n_ok++;
            const uint8_t *end = buf + len;
            if (consumed < STAP_HDR_LEN || consumed > len - off
                || consumed != STAP_HDR_LEN + (size_t) msg.length
                || msg.payload != buf + off + STAP_HDR_LEN
                || msg.payload + msg.length > end
                || msg.length > max) {
                free(buf);
                CHECK_MSG(0, "iter %d: out of bounds (off %zu len %zu "
                          "consumed %zu)", iter, off, len, consumed);
            }

            /* What a receiver does next must be safe too. */
            if (!stap_check_msg(&msg)) {
                struct stap_hello h;

                if (msg.type == STAP_HELLO && !stap_parse_hello(&msg, &h)) {
                    n_hello++;
                    size_t sl = strnlen(h.software, sizeof h.software);
                    if (sl > STAP_SOFTWARE_MAX) {
                        free(buf);
                        CHECK_MSG(0, "iter %d: software unterminated", iter);
                    }
                    for (size_t k = 0; k < sl; k++) {
                        if (h.software[k] < 0x20 || h.software[k] > 0x7e) {
                            free(buf);
                            CHECK_MSG(0, "iter %d: unprintable", iter);
                        }
                    }
                } else if (msg.type == STAP_ECHO_REQUEST
                           || msg.type == STAP_ECHO_REPLY) {
                    (void) stap_echo_value(&msg);
                } else if (msg.type == STAP_DATA_OFFLOAD) {
                    struct stap_offload ol;
                    const uint8_t *f;
                    size_t fl;

                    if (!stap_parse_offload(&msg, &ol, &f, &fl)
                        && (f < msg.payload || f + fl > end
                            || f + fl != msg.payload + msg.length)) {
                        free(buf);
                        CHECK_MSG(0, "iter %d: offload frame out of bounds",
                                  iter);
                    }
                }
            }
            off += consumed;
        }
        free(buf);
    }

    /* The generator must actually reach each outcome, or this case tests
     * less than it claims. */
    CHECK_MSG(n_ok > 10000 && n_err > 1000 && n_more > 1000 && n_hello > 10,
              "ok %lu err %lu more %lu hello %lu", n_ok, n_err, n_more,
              n_hello);
    return NULL;
}

static const char *
next_echo_grid(void)
{
    /* Strictly after 'now', on a multiple of the interval. */
    CHECK(stap_next_echo(0, 5000) == 5000);
    CHECK(stap_next_echo(1, 5000) == 5000);
    CHECK(stap_next_echo(4999, 5000) == 5000);
    CHECK(stap_next_echo(5000, 5000) == 10000);
    CHECK(stap_next_echo(5001, 5000) == 10000);
    CHECK(stap_next_echo(1000, 1000) == 2000);

    /* Links that came up at different times share their due times, and
     * each next one is one interval later. */
    long long int a = stap_next_echo(123456789, 5000);
    long long int b = stap_next_echo(123458000, 5000);
    CHECK(a == b && a % 5000 == 0 && a > 123458000);
    CHECK(stap_next_echo(a, 5000) == a + 5000);

    /* Monotonic clocks after months of uptime, and the longest interval
     * the options allow (3600 s). */
    long long int month = 31LL * 24 * 3600 * 1000;
    CHECK(stap_next_echo(month + 1, 3600000) % 3600000 == 0);
    CHECK(stap_next_echo(month + 1, 3600000) > month + 1);
    CHECK(stap_next_echo(month + 1, 3600000) <= month + 1 + 3600000);
    return NULL;
}

static const char *
rtt_publication(void)
{
    /* The first measurement is always published, even 0 us. */
    CHECK(stap_rtt_publish_due(-1, 0, 0, 0));
    CHECK(stap_rtt_publish_due(-1, 0, 1500, 123456));

    /* Within a quarter of the published value: not yet. */
    CHECK(!stap_rtt_publish_due(1000, 0, 1000, 1000));
    CHECK(!stap_rtt_publish_due(1000, 0, 1250, 1000));
    CHECK(!stap_rtt_publish_due(1000, 0, 750, 1000));

    /* More than a quarter, either way: at once. */
    CHECK(stap_rtt_publish_due(1000, 0, 1251, 1000));
    CHECK(stap_rtt_publish_due(1000, 0, 749, 1000));
    CHECK(stap_rtt_publish_due(1000, 0, 30000, 1));
    CHECK(stap_rtt_publish_due(1000, 0, 0, 1));

    /* The boundary for a value not divisible by 4: 4 * delta > 1001. */
    CHECK(!stap_rtt_publish_due(1001, 0, 1251, 10));
    CHECK(stap_rtt_publish_due(1001, 0, 1252, 10));

    /* A published 0 (loopback) moves on any change. */
    CHECK(!stap_rtt_publish_due(0, 0, 0, 10));
    CHECK(stap_rtt_publish_due(0, 0, 1, 10));

    /* Unchanged, but a minute old: refreshed. */
    CHECK(!stap_rtt_publish_due(1000, 5000,
                                1010, 5000 + STAP_RTT_REFRESH_MS - 1));
    CHECK(stap_rtt_publish_due(1000, 5000, 1010, 5000 + STAP_RTT_REFRESH_MS));

    /* The largest RTTs a clock can give do not overflow. */
    CHECK(!stap_rtt_publish_due(LLONG_MAX / 2, 0, LLONG_MAX / 2 + 1, 1));
    CHECK(stap_rtt_publish_due(LLONG_MAX / 2, 0, LLONG_MAX, 1));
    return NULL;
}

/* Protocol version 2. */

static const char *
hello_v2_wire_format(void)
{
    struct stap_hello h, out;
    struct stap_msg msg;
    const char *error;
    uint8_t buf[128];

    make_hello(&h, 2, 1518, "ovs-ssh-tap 0.2");
    h.caps = STAP_CAP_OFFLOAD | 0x80;   /* Unknown bits are not sent. */
    size_t n = stap_encode_hello(buf, &h);
    CHECK(n == sizeof doc_hello_v2);
    CHECK(!memcmp(buf, doc_hello_v2, n));
    CHECK(decode_one(buf, n, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(stap_parse_hello(&msg, &out) == NULL);
    CHECK(out.version == 2 && out.caps == STAP_CAP_OFFLOAD);

    /* A version 1 HELLO carries no capabilities, whatever the struct
     * says. */
    make_hello(&h, 1, 1518, "ovs-ssh-tap 0.1");
    h.caps = STAP_CAP_OFFLOAD;
    n = stap_encode_hello(buf, &h);
    CHECK(n == sizeof doc_hello && !memcmp(buf, doc_hello, n));

    /* Received: unknown bits are dropped. */
    buf[STAP_HDR_LEN + 4] = 3;
    buf[STAP_HDR_LEN + 5] = 0xff;
    CHECK(decode_one(buf, n, 9216, &msg, &error) == STAP_DECODE_OK);
    CHECK(stap_parse_hello(&msg, &out) == NULL);
    CHECK(out.version == 3 && out.caps == STAP_CAP_OFFLOAD);
    return NULL;
}

static const char *
offload_wire_format(void)
{
    struct stap_offload ol = {
        .gso_type = STAP_GSO_TCPV4, .flags = STAP_OL_CSUM_PARTIAL,
        .hdr_len = 66, .gso_size = 1448, .csum_start = 34, .csum_offset = 16,
    };
    uint8_t hdr[STAP_MAX_HDR_LEN];

    CHECK(stap_encode_offload_header(hdr, 9014, &ol) == STAP_MAX_HDR_LEN);
    CHECK(!memcmp(hdr, doc_offload, sizeof doc_offload));
    CHECK(stap_encode_offload_header(hdr, STAP_OFFLOAD_MAX_FRAME, &ol)
          == STAP_MAX_HDR_LEN);
    CHECK(!memcmp(hdr, doc_offload_max, sizeof doc_offload_max));
    return NULL;
}

/* Every frame length up to the largest, through encoder, decoder and
 * parser, with every field at a distinct value. */
static const char *
offload_roundtrip(void)
{
    static uint8_t buf[STAP_MAX_HDR_LEN + STAP_OFFLOAD_MAX_FRAME];
    static const size_t lens[] = {
        14, 60, 1514, 9018, 65535, 65536, 65599, STAP_OFFLOAD_MAX_FRAME,
    };

    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        struct stap_offload in = {
            .gso_type = STAP_GSO_TCPV6, .flags = STAP_OL_KNOWN_FLAGS,
            .hdr_len = 86, .gso_size = 1428, .csum_start = 4,
            .csum_offset = 8,
        }, out;
        struct stap_msg msg;
        const char *error;
        const uint8_t *frame;
        size_t frame_len;

        size_t n = stap_encode_offload_header(buf, lens[i], &in);
        for (size_t k = 0; k < lens[i]; k++) {
            buf[n + k] = (uint8_t) (k * 7);
        }
        CHECK(decode_one(buf, n + lens[i], STAP_OFFLOAD_RX_LIMIT, &msg,
                         &error) == STAP_DECODE_OK);
        CHECK(msg.type == STAP_DATA_OFFLOAD && msg.flags == 0);
        CHECK(msg.length == STAP_OFFLOAD_META_LEN + lens[i]);
        CHECK(stap_check_msg(&msg) == NULL);
        CHECK(stap_parse_offload(&msg, &out, &frame, &frame_len) == NULL);
        CHECK(!memcmp(&in, &out, sizeof in));
        CHECK(frame == buf + STAP_MAX_HDR_LEN && frame_len == lens[i]);

        /* One byte less of limit and it breaks the stream. */
        CHECK(decode_one(buf, n + lens[i], msg.length - 1, &msg, &error)
              == STAP_DECODE_ERROR);
    }
    return NULL;
}

/* What stap_parse_offload() rejects: each costs its frame only. */
static const char *
offload_rejections(void)
{
    static const struct {
        struct stap_offload ol;
        size_t len;
        const char *error;
    } cases[] = {
        { { .flags = 0x04 }, 60, "unknown offload flags" },
        { { .gso_type = 3, .gso_size = 1 }, 60, "unknown gso_type" },
        { { .gso_type = STAP_GSO_TCPV4 }, 60, "GSO with gso_size 0" },
        { { .gso_size = 1448 }, 60, "gso_size without GSO" },
        { { .flags = STAP_OL_CSUM_PARTIAL, .csum_start = 50,
            .csum_offset = 9 }, 60, "checksum field beyond the frame" },
        { { .flags = STAP_OL_CSUM_PARTIAL, .csum_start = 0xffff,
            .csum_offset = 0xffff }, 60, "checksum field beyond the frame" },
        { { .flags = STAP_OL_CSUM_PARTIAL, .csum_start = 50,
            .csum_offset = 8 }, 60, NULL },
        { { 0 }, STAP_OFFLOAD_MAX_FRAME + 1,
          "offloaded frame longer than STAP_OFFLOAD_MAX_FRAME" },
        { { 0 }, 0, NULL },
    };
    static uint8_t buf[STAP_MAX_HDR_LEN + STAP_OFFLOAD_MAX_FRAME + 1];

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct stap_offload out;
        struct stap_msg msg;
        const char *error;
        const uint8_t *frame;
        size_t frame_len;

        size_t n = stap_encode_offload_header(buf, cases[i].len,
                                              &cases[i].ol);
        memset(buf + n, 0, cases[i].len);
        CHECK(decode_one(buf, n + cases[i].len, STAP_DATA_OFFLOAD_MAX_LEN,
                         &msg, &error) == STAP_DECODE_OK);
        error = stap_parse_offload(&msg, &out, &frame, &frame_len);
        if (cases[i].error) {
            CHECK_MSG(error && !strcmp(error, cases[i].error),
                      "case %zu: got \"%s\"", i, error ? error : "(null)");
            CHECK(!frame && !frame_len);
        } else {
            CHECK_MSG(!error, "case %zu: %s", i, error);
        }
    }

    /* Shorter than its metadata: the message itself is malformed. */
    for (uint8_t len = 0; len < STAP_OFFLOAD_META_LEN; len++) {
        struct stap_offload out;
        struct stap_msg msg;
        const char *error;
        const uint8_t *frame;
        size_t frame_len;

        memset(buf, 0, sizeof buf);
        buf[0] = STAP_DATA_OFFLOAD;
        buf[3] = len;
        CHECK(decode_one(buf, STAP_HDR_LEN + len, 9216, &msg, &error)
              == STAP_DECODE_OK);
        CHECK(stap_check_msg(&msg) != NULL);
        CHECK(stap_parse_offload(&msg, &out, &frame, &frame_len) != NULL);
    }

    /* Not a DATA_OFFLOAD at all. */
    struct stap_msg msg = { .type = STAP_DATA, .length = 20, .payload = buf };
    struct stap_offload out;
    const uint8_t *frame;
    size_t frame_len;
    CHECK(stap_parse_offload(&msg, &out, &frame, &frame_len) != NULL);
    return NULL;
}

/* The flags byte of a DATA_OFFLOAD is length, checked on the header
 * alone; that of every other known type must still be zero. */
static const char *
offload_length_bits(void)
{
    const uint8_t big[] = { 5, 0xff, 0xff, 0xff };
    struct stap_msg msg;
    size_t consumed;
    const char *error;

    CHECK(stap_decode(big, sizeof big, STAP_OFFLOAD_RX_LIMIT, &msg,
                      &consumed, &error) == STAP_DECODE_ERROR);
    CHECK(error && strstr(error, "limit"));
    CHECK(stap_decode(big, sizeof big, STAP_DATA_OFFLOAD_MAX_LEN, &msg,
                      &consumed, &error) == STAP_DECODE_NEED_MORE);
    CHECK(stap_decode(doc_offload_max, sizeof doc_offload_max,
                      STAP_OFFLOAD_RX_LIMIT, &msg, &consumed, &error)
          == STAP_DECODE_NEED_MORE);
    CHECK(stap_decode(doc_offload_max, sizeof doc_offload_max,
                      STAP_OFFLOAD_RX_LIMIT - 1, &msg, &consumed, &error)
          == STAP_DECODE_ERROR);
    return NULL;
}

int
main(void)
{
    run("hello round trip", hello_roundtrip);
    run("hello round trip, empty software", hello_roundtrip_empty_software);
    run("hello round trip, 64-byte software", hello_roundtrip_max_software);
    run("hello wire format", hello_wire_format);
    run("data round trip", data_roundtrip);
    run("data wire format", data_wire_format);
    run("data of 0 bytes", data_zero_bytes);
    run("data of 65535 bytes", data_65535_bytes);
    run("echo request round trip", echo_request_roundtrip);
    run("echo reply round trip", echo_reply_roundtrip);
    run("echo wire format", echo_wire_format);
    run("header layout", put_header_layout);
    run("every prefix needs more, then decodes", every_prefix);
    run("multiple messages in one buffer", multiple_messages);
    run("stream split into reads of every size", split_reads);
    run("empty and short input", empty_input);
    run("error pointer may be NULL", null_error_pointer);
    run("length over limit", length_over_limit);
    run("length at limit", length_at_limit);
    run("nonzero flags on known type", flags_nonzero_known_type);
    run("nonzero flags on unknown type", flags_nonzero_unknown_type);
    run("unknown types skipped", unknown_type_skipped);
    run("hello too short", hello_too_short);
    run("hello bad magic", hello_bad_magic);
    run("hello version 0", hello_version_0);
    run("hello newer version", hello_newer_version);
    run("hello reserved byte ignored", hello_reserved_ignored);
    run("hello max_frame below ethernet header", hello_small_max_frame);
    run("hello non-printable software", hello_nonprintable_software);
    run("hello software over 64 bytes", hello_long_software);
    run("parse_hello on a non-hello", parse_hello_wrong_type);
    run("echo wrong length", echo_wrong_length);
    run("echo value of short payload", echo_value_short);
    run("check_msg passes data and unknown types",
        check_msg_data_and_unknown);
    run("type names", type_names);
    run("keepalives due on a shared grid", next_echo_grid);
    run("RTT reaches Interface:status on change or once a minute",
        rtt_publication);
    run("garbage loop", garbage_loop);
    run("v2: hello with capabilities, wire format", hello_v2_wire_format);
    run("v2: DATA_OFFLOAD wire format", offload_wire_format);
    run("v2: DATA_OFFLOAD round trip", offload_roundtrip);
    run("v2: DATA_OFFLOAD rejections", offload_rejections);
    run("v2: DATA_OFFLOAD 24-bit length", offload_length_bits);

    return n_failed ? 1 : 0;
}
