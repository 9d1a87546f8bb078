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

#ifndef SSH_TAP_OFFLOAD_H
#define SSH_TAP_OFFLOAD_H 1

/* Offload metadata: what travels with a frame that one end hands to the
 * other unsegmented, or with its transport checksum left to be filled in.
 *
 * It is the vocabulary shared by three pure parts, none of which includes
 * an OVS or libssh header:
 *
 *   - the codec (ssh-tap-proto.c), which puts it on the wire in protocol
 *     version 2's DATA_OFFLOAD message (docs/protocol.md) and checks what
 *     arrives against the frame it describes;
 *   - the software segmentation and checksum code (ssh-tap-gso.c), used for
 *     version-1 peers and wherever OVS has no GSO of its own;
 *   - the shells: the port (netdev-ssh-tap.c, through the OVS version
 *     compat header, which maps dp_packet offload flags to and from this)
 *     and the relay (a tap device's struct virtio_net_hdr maps to this one
 *     field for field).
 *
 * The fields follow struct virtio_net_hdr on purpose: it is what Linux tap
 * devices, OVS's netdev-linux and virtio guests already speak, so that a
 * frame can go from a VM's vnet header to the wire and back to a far VM's
 * vnet header without losing anything. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What segmentation the frame still needs ('gso_type'). */
enum stap_gso_type {
    STAP_GSO_NONE = 0,          /* A frame of wire size: no segmentation. */
    STAP_GSO_TCPV4 = 1,         /* TCP over IPv4, to be cut into segments
                                 * of 'gso_size' payload bytes. */
    STAP_GSO_TCPV6 = 2,         /* TCP over IPv6, likewise. */
};

/* Bits in 'flags'. */
#define STAP_OL_CSUM_PARTIAL 0x01 /* The transport checksum at
                                   * csum_start + csum_offset is not
                                   * computed; the receiver (or whatever it
                                   * hands the frame to) completes it.  The
                                   * field's content on the wire is
                                   * unspecified: receivers recompute it. */
#define STAP_OL_CSUM_VALID 0x02   /* The sender verified the frame's
                                   * checksums, or built them itself. */
#define STAP_OL_KNOWN_FLAGS (STAP_OL_CSUM_PARTIAL | STAP_OL_CSUM_VALID)

struct stap_offload {
    uint8_t gso_type;           /* enum stap_gso_type. */
    uint8_t flags;              /* STAP_OL_*. */
    uint16_t hdr_len;           /* Bytes of Ethernet, IP and TCP headers
                                 * that every segment repeats (GSO only). */
    uint16_t gso_size;          /* Most TCP payload bytes per segment (GSO
                                 * only; nonzero then). */
    uint16_t csum_start;        /* Offset from the frame's first byte where
                                 * checksumming starts (CSUM_PARTIAL). */
    uint16_t csum_offset;       /* Offset from csum_start of the 16-bit
                                 * checksum field (CSUM_PARTIAL). */
};

/* True if 'ol' asks for anything at all: a frame without it can go as a
 * plain version-1 DATA message. */
static inline bool
stap_offload_is_set(const struct stap_offload *ol)
{
    return ol->gso_type != STAP_GSO_NONE
           || (ol->flags & STAP_OL_CSUM_PARTIAL);
}

/* The largest frame a DATA_OFFLOAD message may carry: an IPv6 packet with
 * a full 65535-byte payload behind its 40-byte header, an Ethernet header
 * and one VLAN tag (65593), rounded up. */
#define STAP_OFFLOAD_MAX_FRAME 65600

#endif /* ssh-tap-offload.h */
