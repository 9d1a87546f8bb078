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

/* Codec for the ssh-tap framing protocol; docs/protocol.md is the
 * specification.
 *
 * This file deliberately includes no OVS header and allocates nothing, so
 * that the unit test and the fuzz target can build it on its own.  Every
 * input byte comes from the network: no length is used before it has been
 * compared against the number of bytes actually available. */

#include "ssh-tap-proto.h"

#include <string.h>

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static void
put_be16(uint8_t *p, uint16_t x)
{
    p[0] = (uint8_t) (x >> 8);
    p[1] = (uint8_t) x;
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t x = 0;

    for (int i = 0; i < 8; i++) {
        x = (x << 8) | p[i];
    }
    return x;
}

static void
put_be64(uint8_t *p, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) x;
        x >>= 8;
    }
}

static bool
is_known_type(uint8_t type)
{
    return type >= STAP_HELLO && type <= STAP_DATA_OFFLOAD;
}

/* Decodes the message at the start of 'buf'.  See the header for the
 * contract. */
enum stap_decode_status
stap_decode(const void *buf_, size_t len, size_t max_payload,
            struct stap_msg *msg, size_t *consumed, const char **error)
{
    const uint8_t *buf = buf_;
    const char *dummy;

    /* Let callers that do not care about the reason pass NULL. */
    if (!error) {
        error = &dummy;
    }
    *error = NULL;
    *consumed = 0;

    if (len < STAP_HDR_LEN) {
        return STAP_DECODE_NEED_MORE;
    }

    uint8_t type = buf[0];
    uint8_t flags = buf[1];
    uint32_t length = get_be16(&buf[2]);

    if (type == STAP_DATA_OFFLOAD) {
        /* The one message whose length needs more than 16 bits. */
        length |= (uint32_t) flags << 16;
        flags = 0;
    }

    /* Both checks need only the header, so a broken stream is reported as
     * soon as the header arrives instead of after the receiver has buffered
     * up to 64 kB of payload it will throw away. */
    if (length > max_payload) {
        *error = "message length exceeds the receiver's limit";
        return STAP_DECODE_ERROR;
    }
    if (flags && is_known_type(type)) {
        *error = "nonzero flags in a message of a known type";
        return STAP_DECODE_ERROR;
    }

    /* 'len' >= STAP_HDR_LEN here, so the subtraction cannot wrap. */
    if (len - STAP_HDR_LEN < length) {
        return STAP_DECODE_NEED_MORE;
    }

    msg->type = type;
    msg->flags = flags;
    msg->length = length;
    msg->payload = buf + STAP_HDR_LEN;
    *consumed = STAP_HDR_LEN + (size_t) length;
    return STAP_DECODE_OK;
}

/* Checks the payload of 'msg' against the layout of its type.  See the
 * header for the contract. */
const char *
stap_check_msg(const struct stap_msg *msg)
{
    switch (msg->type) {
    case STAP_HELLO:
        if (msg->length < STAP_HELLO_MIN_LEN) {
            return "HELLO too short";
        }
        if (memcmp(msg->payload, STAP_MAGIC, 4)) {
            return "HELLO lacks the \"STAP\" magic";
        }
        return NULL;

    case STAP_ECHO_REQUEST:
    case STAP_ECHO_REPLY:
        if (msg->length != STAP_ECHO_LEN) {
            return "echo message length is not 8";
        }
        return NULL;

    case STAP_DATA_OFFLOAD:
        if (msg->length < STAP_OFFLOAD_META_LEN) {
            return "DATA_OFFLOAD shorter than its metadata";
        }
        return NULL;

    case STAP_DATA:
    default:
        return NULL;
    }
}

/* Parses a HELLO.  See the header for the contract. */
const char *
stap_parse_hello(const struct stap_msg *msg, struct stap_hello *hello)
{
    memset(hello, 0, sizeof *hello);

    if (msg->type != STAP_HELLO) {
        return "not a HELLO";
    }

    const char *error = stap_check_msg(msg);
    if (error) {
        return error;
    }

    const uint8_t *p = msg->payload;
    hello->version = p[4];
    /* Version 1 sends p[5] as zero and ignores it, which is what let version
     * 2 make it the capabilities.  Unknown bits are for later versions. */
    hello->caps = hello->version >= 2 ? p[5] & STAP_KNOWN_CAPS : 0;
    hello->max_frame = get_be16(&p[6]);

    if (!hello->version) {
        return "HELLO announces protocol version 0";
    }
    if (hello->max_frame < STAP_ETH_MIN) {
        /* Such a peer could not accept a single Ethernet frame.  Saying so
         * now beats a link that is "up" but silently drops everything. */
        return "HELLO max_frame is smaller than an Ethernet header";
    }

    /* The software string is only ever displayed, but it is the peer's
     * text: keep it printable so that it cannot mess up logs or terminals. */
    size_t n = msg->length - STAP_HELLO_MIN_LEN;
    if (n > STAP_SOFTWARE_MAX) {
        n = STAP_SOFTWARE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[STAP_HELLO_MIN_LEN + i];
        hello->software[i] = c >= 0x20 && c <= 0x7e ? (char) c : '?';
    }
    hello->software[n] = '\0';
    return NULL;
}

/* Parses a DATA_OFFLOAD.  See the header for the contract.
 *
 * Metadata layout (docs/protocol.md): gso_type(1) flags(1) hdr_len(2)
 * gso_size(2) csum_start(2) csum_offset(2) reserved(2). */
const char *
stap_parse_offload(const struct stap_msg *msg, struct stap_offload *ol,
                   const uint8_t **frame, size_t *frame_len)
{
    memset(ol, 0, sizeof *ol);
    *frame = NULL;
    *frame_len = 0;

    if (msg->type != STAP_DATA_OFFLOAD) {
        return "not a DATA_OFFLOAD";
    }
    const char *error = stap_check_msg(msg);
    if (error) {
        return error;
    }

    const uint8_t *p = msg->payload;
    ol->gso_type = p[0];
    ol->flags = p[1];
    ol->hdr_len = get_be16(&p[2]);
    ol->gso_size = get_be16(&p[4]);
    ol->csum_start = get_be16(&p[6]);
    ol->csum_offset = get_be16(&p[8]);
    /* p[10..11] are reserved: sent as zero, ignored. */

    size_t len = msg->length - STAP_OFFLOAD_META_LEN;
    if (ol->flags & ~STAP_OL_KNOWN_FLAGS) {
        return "unknown offload flags";
    }
    if (ol->gso_type != STAP_GSO_NONE && ol->gso_type != STAP_GSO_TCPV4
        && ol->gso_type != STAP_GSO_TCPV6) {
        return "unknown gso_type";
    }
    if ((ol->gso_type != STAP_GSO_NONE) != (ol->gso_size != 0)) {
        return (ol->gso_size ? "gso_size without GSO"
                             : "GSO with gso_size 0");
    }
    if (len > STAP_OFFLOAD_MAX_FRAME) {
        return "offloaded frame longer than STAP_OFFLOAD_MAX_FRAME";
    }
    if ((ol->flags & STAP_OL_CSUM_PARTIAL)
        && (size_t) ol->csum_start + ol->csum_offset + 2 > len) {
        return "checksum field beyond the frame";
    }

    *frame = p + STAP_OFFLOAD_META_LEN;
    *frame_len = len;
    return NULL;
}

size_t
stap_encode_offload_header(uint8_t *hdr, size_t frame_len,
                           const struct stap_offload *ol)
{
    size_t length = STAP_OFFLOAD_META_LEN + frame_len;
    uint8_t *p = hdr + STAP_HDR_LEN;

    hdr[0] = STAP_DATA_OFFLOAD;
    hdr[1] = (uint8_t) (length >> 16);
    put_be16(&hdr[2], (uint16_t) length);
    p[0] = ol->gso_type;
    p[1] = ol->flags;
    put_be16(&p[2], ol->hdr_len);
    put_be16(&p[4], ol->gso_size);
    put_be16(&p[6], ol->csum_start);
    put_be16(&p[8], ol->csum_offset);
    p[10] = p[11] = 0;
    return STAP_MAX_HDR_LEN;
}

/* Returns the value carried by an echo message, or 0 if 'msg' is too short
 * to carry one (stap_check_msg() rejects such a message anyway). */
uint64_t
stap_echo_value(const struct stap_msg *msg)
{
    return msg->length >= STAP_ECHO_LEN ? get_be64(msg->payload) : 0;
}

long long int
stap_next_echo(long long int now, int interval)
{
    return (now / interval + 1) * interval;
}

bool
stap_rtt_publish_due(long long int published_us, long long int published_at,
                     long long int rtt_us, long long int now)
{
    if (published_us < 0) {
        return true;
    }

    /* 'delta' > 'published_us' / 4 in integers is exactly 4 * 'delta' >
     * 'published_us', without the overflow. */
    long long int delta = (rtt_us > published_us ? rtt_us - published_us
                                                 : published_us - rtt_us);
    return delta > published_us / 4
           || now - published_at >= STAP_RTT_REFRESH_MS;
}

/* Writes a message header with zero flags. */
void
stap_put_header(uint8_t hdr[STAP_HDR_LEN], uint8_t type, uint16_t length)
{
    hdr[0] = type;
    hdr[1] = 0;
    put_be16(&hdr[2], length);
}

static size_t
software_len(const struct stap_hello *hello)
{
    /* 'software' is NUL-terminated in a well-formed struct, but bound the
     * scan anyway in case the caller filled all of it. */
    const char *nul = memchr(hello->software, '\0', STAP_SOFTWARE_MAX);
    return nul ? (size_t) (nul - hello->software) : STAP_SOFTWARE_MAX;
}

/* Returns the number of bytes stap_encode_hello() writes for 'hello'. */
size_t
stap_hello_len(const struct stap_hello *hello)
{
    return STAP_HDR_LEN + STAP_HELLO_MIN_LEN + software_len(hello);
}

/* Encodes 'hello' as a complete HELLO message into 'buf', which must have
 * room for stap_hello_len(hello) bytes.  The software string is sent as is
 * (at most STAP_SOFTWARE_MAX bytes, without the NUL). */
size_t
stap_encode_hello(uint8_t *buf, const struct stap_hello *hello)
{
    size_t sw_len = software_len(hello);
    uint8_t *p = buf + STAP_HDR_LEN;

    stap_put_header(buf, STAP_HELLO,
                    (uint16_t) (STAP_HELLO_MIN_LEN + sw_len));
    memcpy(p, STAP_MAGIC, 4);
    p[4] = hello->version;
    p[5] = hello->version >= 2 ? hello->caps & STAP_KNOWN_CAPS : 0;
    put_be16(&p[6], hello->max_frame);
    memcpy(&p[STAP_HELLO_MIN_LEN], hello->software, sw_len);
    return STAP_HDR_LEN + STAP_HELLO_MIN_LEN + sw_len;
}

/* Encodes an echo message of 'type' (STAP_ECHO_REQUEST or STAP_ECHO_REPLY)
 * carrying 'value' into 'buf', which must have room for STAP_ECHO_MSG_LEN
 * bytes. */
size_t
stap_encode_echo(uint8_t *buf, uint8_t type, uint64_t value)
{
    stap_put_header(buf, type, STAP_ECHO_LEN);
    put_be64(buf + STAP_HDR_LEN, value);
    return STAP_ECHO_MSG_LEN;
}

/* Returns a static, human-readable name for message 'type'. */
const char *
stap_type_name(uint8_t type)
{
    switch (type) {
    case STAP_HELLO:
        return "hello";
    case STAP_DATA:
        return "data";
    case STAP_ECHO_REQUEST:
        return "echo-request";
    case STAP_ECHO_REPLY:
        return "echo-reply";
    case STAP_DATA_OFFLOAD:
        return "data-offload";
    default:
        return "unknown";
    }
}
