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

#ifndef GSO_FRAMES_H
#define GSO_FRAMES_H 1

/* Test frames for the segmentation code, shared by its unit test
 * (tests/test-gso.c) and its comparison with the kernel
 * (tests/gso-kernel.c): a builder of TCP and UDP frames over IPv4 and IPv6
 * with VLAN tags and options, and a plain RFC 1071 checksum to check
 * against. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ssh-tap-gso.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80


static inline uint16_t
rd16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static inline uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v & 0xffff);
}

/* RFC 1071, as the RFC writes it: 16-bit big-endian words, one at a time,
 * carries folded at the end; an odd last byte padded with zero. */
static inline uint32_t
ref_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static inline uint16_t
ref_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/* A frame's parts, as the builder below lays them out. */
struct shape {
    int n_vlans;                /* 0, 1 or 2. */
    bool ipv6;
    bool udp;
    int ip_opt_len;             /* IPv4 options, a multiple of 4. */
    int tcp_opt_len;            /* A multiple of 4. */
    size_t payload_len;
    uint8_t tcp_flags;
    uint16_t ip_id;
    uint32_t seq;
    size_t pad;                 /* Bytes after the IP packet. */
};

struct built {
    size_t len;
    size_t l3, l4, hdr_len;
};

/* The transport checksum of the packet at 'l3' whose transport header is at
 * 'l4' and is 'l4_len' bytes long with its data, the plain way: the
 * pseudo-header spelled out as bytes, then summed. */
static inline uint16_t
ref_l4_sum(const uint8_t *f, size_t l3, size_t l4, size_t l4_len, bool ipv6,
           uint8_t proto)
{
    uint8_t ph[40];
    size_t ph_len;
    uint32_t sum;

    memset(ph, 0, sizeof ph);
    if (ipv6) {
        memcpy(ph, f + l3 + 8, 32);
        wr32(ph + 32, l4_len);
        ph[39] = proto;
        ph_len = 40;
    } else {
        memcpy(ph, f + l3 + 12, 8);
        ph[9] = proto;
        wr16(ph + 10, l4_len);
        ph_len = 12;
    }
    sum = ref_sum(0, ph, ph_len);
    sum = ref_sum(sum, f + l4, l4_len);
    return ref_fold(sum);
}

static uint32_t rng_state = 1;

static inline uint8_t
rng(void)
{
    rng_state = rng_state * 1103515245 + 12345;
    return rng_state >> 16;
}

/* Builds a frame of shape 's' in 'frame', which has room for
 * STAP_OFFLOAD_MAX_FRAME bytes.  The IPv4 header checksum is right; the
 * transport checksum holds junk (0xdead), as it may in an offloaded
 * frame. */
static inline struct built
build_frame(uint8_t *frame, const struct shape *s)
{
    struct built b;
    size_t ofs = 12, ip_hlen, l4_hlen, l4_len;
    uint8_t *ip, *l4;
    int i;

    memcpy(frame, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    for (i = 0; i < s->n_vlans; i++) {
        wr16(frame + ofs, i == 0 && s->n_vlans == 2 ? 0x88a8 : 0x8100);
        wr16(frame + ofs + 2, 100 + i);
        ofs += 4;
    }
    wr16(frame + ofs, s->ipv6 ? 0x86dd : 0x0800);
    ofs += 2;
    b.l3 = ofs;
    ip = frame + ofs;
    ip_hlen = s->ipv6 ? 40 : 20 + s->ip_opt_len;
    l4_hlen = s->udp ? 8 : 20 + s->tcp_opt_len;
    l4_len = l4_hlen + s->payload_len;
    b.l4 = b.l3 + ip_hlen;
    b.hdr_len = b.l4 + l4_hlen;
    b.len = b.hdr_len + s->payload_len + s->pad;
    memset(frame + ofs, 0, b.len - ofs);

    if (s->ipv6) {
        ip[0] = 0x60 | 0x0b;            /* Traffic class and flow label. */
        ip[1] = 0xa1;
        ip[2] = 0x23;
        ip[3] = 0x45;
        wr16(ip + 4, l4_len);
        ip[6] = s->udp ? 17 : 6;
        ip[7] = 64;
        memcpy(ip + 8, "\x20\x01\x0d\xb8\x00\x00\x00\x00"
               "\x00\x00\x00\x00\x00\x00\x00\x01", 16);
        memcpy(ip + 24, "\x20\x01\x0d\xb8\x00\x00\x00\x00"
               "\x00\x00\x00\x00\x00\x00\xfe\x02", 16);
    } else {
        ip[0] = 0x40 | (ip_hlen / 4);
        ip[1] = 0x02;                   /* ECT(0). */
        wr16(ip + 2, ip_hlen + l4_len);
        wr16(ip + 4, s->ip_id);
        wr16(ip + 6, 0x4000);           /* DF. */
        ip[8] = 64;
        ip[9] = s->udp ? 17 : 6;
        memcpy(ip + 12, "\xc6\x33\x64\x01\xc6\x33\x64\xfe", 8);
        for (i = 0; i < s->ip_opt_len; i++) {
            ip[20 + i] = i == s->ip_opt_len - 1 ? 0 : 1;   /* NOPs, EOL. */
        }
        wr16(ip + 10, ~ref_fold(ref_sum(0, ip, ip_hlen)));
    }

    l4 = frame + b.l4;
    wr16(l4, 40000);
    wr16(l4 + 2, s->udp ? 4789 : 5201);
    if (s->udp) {
        wr16(l4 + 4, l4_len);
        wr16(l4 + 6, 0xdead);
    } else {
        wr32(l4 + 4, s->seq);
        wr32(l4 + 8, 0x11223344);
        l4[12] = (l4_hlen / 4) << 4;
        l4[13] = s->tcp_flags;
        wr16(l4 + 14, 501);
        wr16(l4 + 16, 0xdead);
        for (i = 0; i < s->tcp_opt_len; i++) {
            l4[20 + i] = i < 2 ? 1 : (i == 2 ? 8 : (i == 3 ? 10 : rng()));
        }
    }
    for (size_t j = 0; j < s->payload_len; j++) {
        frame[b.hdr_len + j] = rng();
    }
    for (size_t j = 0; j < s->pad; j++) {
        frame[b.hdr_len + s->payload_len + j] = 0;
    }
    return b;
}

static inline struct stap_offload
gso_ol(const struct shape *s, const struct built *b, uint16_t gso_size)
{
    struct stap_offload ol = {
        .gso_type = s->ipv6 ? STAP_GSO_TCPV6 : STAP_GSO_TCPV4,
        .flags = STAP_OL_CSUM_PARTIAL,
        .hdr_len = b->hdr_len,
        .gso_size = gso_size,
        .csum_start = b->l4,
        .csum_offset = 16,
    };
    return ol;
}

static inline struct stap_offload
csum_ol(const struct shape *s, const struct built *b)
{
    struct stap_offload ol = {
        .flags = STAP_OL_CSUM_PARTIAL,
        .csum_start = b->l4,
        .csum_offset = s->udp ? 6 : 16,
    };
    return ol;
}

#endif /* gso-frames.h */
