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

#ifndef SSH_TAP_GSO_H
#define SSH_TAP_GSO_H 1

/* Software segmentation (GSO) and checksum completion for frames that carry
 * offload metadata (struct stap_offload, ssh-tap-offload.h).
 *
 * Used wherever a frame with offload metadata has to go somewhere that
 * cannot take it: a far end that speaks only protocol version 1, a port
 * that cannot take offloaded frames while OVS has no GSO of its own (OVS
 * 3.1), and the relay.  The output is what Linux's software GSO
 * (tcp_gso_segment, inet_gso_segment, ipv6_gso_segment) and
 * skb_checksum_help produce for the same input on a device without
 * checksum offload: tests/system-gso.sh compares the two byte for byte, and
 * tests/gso-vectors/ keeps some of the kernel's answers for the unit test.
 *
 * Pure logic: no I/O, no allocation, no OVS or libssh header.  Every byte
 * of a frame is hostile: a frame that does not match its metadata yields an
 * error string from stap_gso_parse(), never an access outside the frame.
 *
 * Typical use:
 *
 *     struct stap_gso_info info;
 *     const char *error = stap_gso_parse(frame, len, &ol, &info);
 *     if (error) {
 *         drop, count and log 'error';
 *     } else if (info.gso) {
 *         for (size_t i = 0; i < info.n_segs; i++) {
 *             size_t n = stap_gso_segment(frame, len, &info, i,
 *                                         buf, sizeof buf);
 *             send buf[0..n);
 *         }
 *     } else {
 *         if (info.csum_partial) {
 *             stap_csum_complete(frame, len, &info);
 *         }
 *         send frame;
 *     }
 *
 * What stap_gso_parse() accepts:
 *
 *   - Ethernet, with 0, 1 or 2 VLAN tags (TPID 0x8100 or 0x88a8), then IPv4
 *     (IHL >= 5, the header within the frame, not a fragment) or IPv6 whose
 *     next header is the transport itself (no extension headers), then a
 *     TCP header (data offset >= 5, within the frame) or, for checksum
 *     completion only, a UDP header.
 *   - STAP_GSO_TCPV4 only over IPv4 and STAP_GSO_TCPV6 only over IPv6, with
 *     a nonzero gso_size, and segments whose IP length fits 16 bits.
 *   - With STAP_OL_CSUM_PARTIAL: csum_start at the transport header and
 *     csum_offset at its checksum field (16 for TCP, 6 for UDP), since the
 *     pseudo-header is recomputed from the IP header.  A GSO frame without
 *     CSUM_PARTIAL is accepted as well (Linux accepts it from a vnet
 *     header); its segments get complete checksums all the same.
 *
 * 'hdr_len' in the metadata is a hint, as it is in a virtio-net header:
 * Linux's tap and virtio-net drivers put skb_headlen() there, which may
 * exceed the headers.  It must not exceed the frame (Linux's AF_PACKET
 * refuses that too), but the header length used is the one computed from
 * the headers (info->hdr_len).
 *
 * A GSO frame's own IPv4 total length and IPv6 payload length are not
 * checked, as Linux does not check them: each segment's are rewritten.  A
 * non-GSO frame's are, since they say where the transport data ends: bytes
 * past it (Ethernet padding) are left out of the checksum.
 *
 * Segments: each repeats the frame's headers (info->hdr_len bytes) and
 * carries the next gso_size payload bytes, the last possibly fewer; a GSO
 * frame whose payload fits one segment yields one.  In segment i, the IPv4
 * total length is rewritten and its header checksum recomputed, the IPv4
 * ID is the frame's plus i (modulo 2^16: the metadata has nothing like
 * Linux's SKB_GSO_TCP_FIXEDID, which only GRO sets), the IPv6 payload
 * length is rewritten, the TCP sequence number is advanced by the payload
 * offset, FIN and PSH are kept only on the last segment and CWR only on the
 * first, and the TCP checksum is complete.  A checksum that comes out 0
 * stays 0 there, as in Linux's segments, except in a frame's only segment:
 * Linux does not segment that frame but completes its checksum, and
 * skb_checksum_help() writes 0 as 0xffff, as stap_csum_complete() does.  Everything else (VLAN tags,
 * TOS, flow label, TTL, IP and TCP options, URG) is copied as it is. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ssh-tap-offload.h"

/* What stap_gso_parse() found.  Offsets are from the frame's first byte. */
struct stap_gso_info {
    bool offload;               /* stap_offload_is_set(): else the frame
                                 * needs nothing and no other member but
                                 * 'frame_len' and 'n_segs' is set. */
    bool gso;                   /* Segmentation requested. */
    bool csum_partial;          /* STAP_OL_CSUM_PARTIAL was set. */
    bool ipv6;                  /* IPv6, else IPv4. */
    uint8_t l4_proto;           /* 6 (TCP) or 17 (UDP). */
    uint16_t l3_ofs;            /* IP header. */
    uint16_t l4_ofs;            /* TCP or UDP header. */
    uint16_t hdr_len;           /* l4_ofs plus the transport header: what
                                 * every segment repeats. */
    uint16_t csum_ofs;          /* The transport checksum field. */
    uint16_t gso_size;          /* Payload bytes per segment (GSO). */
    uint32_t frame_len;         /* The frame's length. */
    uint32_t l4_len;            /* Transport header plus data: to the end of
                                 * the frame for GSO, as the IP header says
                                 * otherwise. */
    uint32_t payload_len;       /* GSO: frame_len - hdr_len. */
    uint32_t n_segs;            /* Segments that stap_gso_segment() makes:
                                 * 1 unless GSO. */
};

const char *stap_gso_parse(const uint8_t *frame, size_t len,
                           const struct stap_offload *ol,
                           struct stap_gso_info *info);

size_t stap_gso_segment_len(const struct stap_gso_info *info, size_t i);
size_t stap_gso_segment(const uint8_t *frame, size_t len,
                        const struct stap_gso_info *info, size_t i,
                        uint8_t *out, size_t out_size);

void stap_csum_complete(uint8_t *frame, size_t len,
                        const struct stap_gso_info *info);
void stap_csum_pseudo(uint8_t *frame, size_t len,
                      const struct stap_gso_info *info);
const char *stap_csum_verify(const uint8_t *frame, size_t len);

/* Internet checksum (RFC 1071) building blocks, exposed for the tests and
 * for callers that checksum something of their own. */
uint64_t stap_csum_add(uint64_t sum, const uint8_t *data, size_t n);
uint16_t stap_csum_fold(uint64_t sum);

#endif /* ssh-tap-gso.h */
