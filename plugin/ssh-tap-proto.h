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

#ifndef SSH_TAP_PROTO_H
#define SSH_TAP_PROTO_H 1

/* The ssh-tap framing protocol: the messages that two ssh-tap ends exchange
 * over the byte stream of one SSH channel.  docs/protocol.md is the
 * specification; this is its codec.
 *
 * Pure logic: no I/O, no allocation, no dependency on OVS, so that it can be
 * unit tested and fuzzed on its own.  Every byte handed to the decoder is
 * treated as hostile.
 *
 * Every message is a 4-byte header followed by 'length' bytes of payload:
 *
 *     0        1        2        3
 *     +--------+--------+--------+--------+
 *     |  type  | flags  |   length (BE)   |   payload...
 *     +--------+--------+--------+--------+
 *
 * Version 1 defines types 1..4 and requires 'flags' to be zero in them.
 * Version 2 adds DATA_OFFLOAD (type 5), whose 'flags' byte holds bits 16..23
 * of its length, so that a 64 kB TCP segment and its offload metadata fit
 * in one message; it is only ever sent to a peer that asked for it in its
 * HELLO (STAP_CAP_OFFLOAD).  Messages of an unknown type are skipped (that
 * is how later versions can add messages), but their length still has to be
 * within the decoder's limit. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh-tap-offload.h"

#define STAP_VERSION 2          /* Highest protocol version this code
                                 * speaks. */
#define STAP_HDR_LEN 4          /* Bytes in a message header. */
#define STAP_MAGIC "STAP"       /* First 4 payload bytes of a HELLO. */
#define STAP_HELLO_MIN_LEN 8    /* magic(4) version(1) caps(1) max(2) */
#define STAP_SOFTWARE_MAX 64    /* Max bytes of software string in HELLO. */
#define STAP_ECHO_LEN 8         /* Payload bytes of an echo message. */
#define STAP_ETH_MIN 14         /* Shortest DATA payload: Ethernet header. */
#define STAP_MAX_PAYLOAD 65535  /* What a 16-bit length can express. */

/* The version 1 receive limit (docs/protocol.md, "What closes a link"): the
 * largest frame any end accepts, a 9000-byte MTU plus Ethernet header and one
 * VLAN tag, rounded up to 9 KiB.  A message longer than this closes the
 * link. */
#define STAP_RX_LIMIT 9216

/* Capabilities: bits in a version 2 HELLO's 'caps' byte (which version 1
 * sends as 0 and ignores).  A sender sets only bits it knows; a receiver
 * ignores bits it does not know, and all of them in a HELLO that announces
 * version 1. */
#define STAP_CAP_OFFLOAD 0x01   /* "Send me DATA_OFFLOAD": the sender takes
                                 * frames with offload metadata. */
#define STAP_KNOWN_CAPS STAP_CAP_OFFLOAD

/* DATA_OFFLOAD: the payload is STAP_OFFLOAD_META_LEN bytes of metadata, then
 * a frame of at most STAP_OFFLOAD_MAX_FRAME bytes.  STAP_MAX_HDR_LEN is the
 * most bytes that any message puts in front of a frame. */
#define STAP_OFFLOAD_META_LEN 12
#define STAP_MAX_HDR_LEN (STAP_HDR_LEN + STAP_OFFLOAD_META_LEN)
#define STAP_DATA_OFFLOAD_MAX_LEN 0xffffff /* What 24 bits express. */

/* The receive limit of an end that advertised STAP_CAP_OFFLOAD: the longest
 * DATA_OFFLOAD payload.  Every other message stays within what 16 bits
 * express, below this. */
#define STAP_OFFLOAD_RX_LIMIT (STAP_OFFLOAD_META_LEN + STAP_OFFLOAD_MAX_FRAME)

enum stap_type {
    STAP_HELLO = 1,             /* First message each way: version, limits. */
    STAP_DATA = 2,              /* One Ethernet frame, starting at dst MAC. */
    STAP_ECHO_REQUEST = 3,      /* Keepalive: 8 opaque bytes. */
    STAP_ECHO_REPLY = 4,        /* Answer: the request's 8 bytes, unchanged. */
    STAP_DATA_OFFLOAD = 5,      /* Version 2: offload metadata, then one
                                 * frame that may exceed the MTU. */
};

/* One decoded message.  'payload' points into the caller's buffer. */
struct stap_msg {
    uint8_t type;               /* enum stap_type, or an unknown value. */
    uint8_t flags;              /* 0 in DATA_OFFLOAD: its byte is length. */
    uint32_t length;            /* Bytes in 'payload'. */
    const uint8_t *payload;
};

/* The contents of a HELLO. */
struct stap_hello {
    uint8_t version;            /* Highest version the sender speaks. */
    uint8_t caps;               /* STAP_CAP_*, only known bits, and none
                                 * when 'version' is 1. */
    uint16_t max_frame;         /* Largest Ethernet frame it accepts. */
    char software[STAP_SOFTWARE_MAX + 1]; /* Printable ASCII, NUL-ended;
                                           * may be empty. */
};

enum stap_decode_status {
    STAP_DECODE_OK,             /* A message was decoded. */
    STAP_DECODE_NEED_MORE,      /* Incomplete: read more bytes, try again. */
    STAP_DECODE_ERROR,          /* The stream is broken: close the link. */
};

/* Decodes the message at the start of 'buf' ('len' bytes available).
 *
 * On STAP_DECODE_OK, fills in '*msg' and sets '*consumed' to the bytes the
 * message occupies (header plus payload).  On STAP_DECODE_NEED_MORE nothing is
 * consumed ('*consumed' is set to 0).  On STAP_DECODE_ERROR, '*error' points
 * to a static string that says what was wrong ('error' may be NULL if the
 * caller does not want it; otherwise '*error' is NULL on success).
 *
 * A message whose length exceeds 'max_payload' is an error (the stream cannot
 * be trusted any further), as is a nonzero 'flags' on a known type other
 * than DATA_OFFLOAD (whose 'flags' byte is the top of its 24-bit length).
 * The payload of a known type is not otherwise checked here: see
 * stap_check_msg(). */
enum stap_decode_status stap_decode(const void *buf, size_t len,
                                    size_t max_payload, struct stap_msg *msg,
                                    size_t *consumed, const char **error);

/* Checks that the payload of 'msg' is well formed for its type: a HELLO of at
 * least STAP_HELLO_MIN_LEN bytes with the magic, an echo of exactly
 * STAP_ECHO_LEN bytes, a DATA_OFFLOAD with room for its metadata.  DATA and
 * unknown types always pass (a short or long frame is the caller's to drop
 * and count).  Returns NULL if good,
 * otherwise a static string describing the problem. */
const char *stap_check_msg(const struct stap_msg *msg);

/* Parses the HELLO in 'msg' into '*hello'.  Returns NULL on success,
 * otherwise a static error string: 'msg' is not a well-formed HELLO (see
 * stap_check_msg()), announces version 0, or has a max_frame smaller than
 * STAP_ETH_MIN.  Non-printable bytes of the software string are replaced by
 * '?'; bytes beyond STAP_SOFTWARE_MAX are ignored. */
const char *stap_parse_hello(const struct stap_msg *msg,
                             struct stap_hello *hello);

/* Parses the DATA_OFFLOAD in 'msg': its metadata into '*ol' and the frame
 * behind it into '*frame' and '*frame_len'.  Returns NULL on success,
 * otherwise a static error string: unknown gso_type or flags, GSO without a
 * segment size or a segment size without GSO, a checksum field outside the
 * frame.  Whether the metadata matches the frame's headers is
 * stap_gso_parse()'s to check (ssh-tap-gso.h).  A frame rejected here costs
 * only itself: the stream is intact. */
const char *stap_parse_offload(const struct stap_msg *msg,
                               struct stap_offload *ol,
                               const uint8_t **frame, size_t *frame_len);

/* Returns the 8 bytes of an echo message's payload as a big-endian number,
 * or 0 if the payload is shorter than STAP_ECHO_LEN. */
uint64_t stap_echo_value(const struct stap_msg *msg);

/* Encoders.  Each stap_encode_*() writes one complete message to 'buf', which
 * must have room for the number of bytes returned by the matching *_len()
 * function (STAP_ECHO_MSG_LEN for echoes), and returns the number of bytes
 * written.  stap_put_header() writes only a header, with zero flags. */
void stap_put_header(uint8_t hdr[STAP_HDR_LEN], uint8_t type, uint16_t length);

size_t stap_hello_len(const struct stap_hello *);
size_t stap_encode_hello(uint8_t *buf, const struct stap_hello *);

#define STAP_ECHO_MSG_LEN (STAP_HDR_LEN + STAP_ECHO_LEN)
size_t stap_encode_echo(uint8_t *buf, uint8_t type, uint64_t value);

/* For DATA the frame usually lives in a packet buffer of its own, so only
 * the header is encoded; the caller sends 'frame_len' bytes of frame right
 * after it.  'frame_len' must not exceed STAP_MAX_PAYLOAD. */
static inline void
stap_encode_data_header(uint8_t hdr[STAP_HDR_LEN], size_t frame_len)
{
    stap_put_header(hdr, STAP_DATA, (uint16_t) frame_len);
}

/* Likewise for DATA_OFFLOAD: writes the header and 'ol' (STAP_MAX_HDR_LEN
 * bytes, which it returns) for a frame of 'frame_len' bytes, at most
 * STAP_OFFLOAD_MAX_FRAME, that the caller sends right after.  Only for a
 * peer that advertised STAP_CAP_OFFLOAD: to any other this is garbage. */
size_t stap_encode_offload_header(uint8_t *hdr, size_t frame_len,
                                  const struct stap_offload *ol);

/* Keepalive timing.  Returns when the next ECHO_REQUEST after 'now' is due
 * for a link with keepalive interval 'interval' (both in ms, 'interval' >
 * 0, 'now' >= 0): the next multiple of 'interval', strictly after 'now'.
 * Every link with the same interval then sends its echo in the same
 * main-loop iteration, so many idle links wake vswitchd a few times per
 * interval rather than hundreds (docs/protocol.md). */
long long int stap_next_echo(long long int now, int interval);

/* How often a link's round-trip time reaches Interface:status.  OVS rewrites
 * Interface:status only when the netdev's change_seq moves, and moving it on
 * every keepalive would write to OVSDB every few seconds per port for
 * nothing.  So the RTT is published when the first measurement arrives
 * (right after the handshake), when it differs from the published value by
 * more than a quarter, or when the published value is STAP_RTT_REFRESH_MS
 * old. */
#define STAP_RTT_REFRESH_MS 60000

/* Returns true if a new measurement 'rtt_us' (>= 0) taken at 'now' (ms)
 * should be published, given the value published last, 'published_us' (-1
 * if none yet), at 'published_at' (ms). */
bool stap_rtt_publish_due(long long int published_us,
                          long long int published_at,
                          long long int rtt_us, long long int now);

/* Returns a static name for 'type' ("hello", "data", ...; "unknown"). */
const char *stap_type_name(uint8_t type);

#endif /* ssh-tap-proto.h */
