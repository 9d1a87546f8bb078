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

#include "ssh-tap-gso.h"

#include <string.h>

#define ETH_ADDRS_LEN 12        /* Destination and source MAC. */
#define VLAN_TAG_LEN 4
#define MAX_VLAN_TAGS 2
#define IPV4_MIN_HLEN 20
#define IPV6_HLEN 40
#define TCP_MIN_HLEN 20
#define UDP_HLEN 8

#define ETHTYPE_IPV4 0x0800
#define ETHTYPE_IPV6 0x86dd
#define ETHTYPE_VLAN 0x8100
#define ETHTYPE_QINQ 0x88a8

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

#define IPV4_FRAG_MASK 0x3fff   /* MF and the fragment offset. */

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static inline uint16_t
get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static inline void
put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* Adds the Internet checksum of 'n' bytes at 'data' to 'sum', which is an
 * unfolded sum of big-endian 16-bit words.  'data' must be at an even
 * offset from where the checksummed region starts (every caller here sums
 * headers and payloads whose lengths are even, except the very last
 * piece); an odd 'n' pads the last byte with a zero, as RFC 1071 says.
 *
 * The bulk is summed as native 32-bit words into a 64-bit accumulator, four
 * at a time and without a branch per byte; RFC 1071's byte order
 * independence makes the folded native sum the byte swap of the big-endian
 * one.  The result stays far from overflowing for any number of calls a
 * frame can need. */
uint64_t
stap_csum_add(uint64_t sum, const uint8_t *data, size_t n)
{
    uint64_t acc = 0;
    uint32_t w[4];

    while (n >= sizeof w) {
        memcpy(w, data, sizeof w);
        acc += (uint64_t) w[0] + w[1] + w[2] + w[3];
        data += sizeof w;
        n -= sizeof w;
    }
    while (n >= sizeof w[0]) {
        memcpy(w, data, sizeof w[0]);
        acc += w[0];
        data += sizeof w[0];
        n -= sizeof w[0];
    }

    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    sum += acc;
#else
    sum += ((acc & 0xff) << 8) | (acc >> 8);
#endif

    if (n >= 2) {
        sum += get16(data);
        data += 2;
        n -= 2;
    }
    if (n) {
        sum += (uint32_t) data[0] << 8;
    }
    return sum;
}

/* Folds 'sum', an unfolded sum of 16-bit words, to 16 bits with end-around
 * carries.  The result is not complemented: a checksum field holds its
 * complement, and a region that includes a correct checksum folds to
 * 0xffff. */
uint16_t
stap_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* The sum of the transport pseudo-header of the frame that 'info'
 * describes, for 'l4_len' bytes of transport header and data. */
static uint64_t
pseudo_sum(const uint8_t *frame, const struct stap_gso_info *info,
           uint32_t l4_len)
{
    const uint8_t *l3 = frame + info->l3_ofs;
    uint64_t sum = info->l4_proto + (l4_len >> 16) + (l4_len & 0xffff);

    return info->ipv6
           ? stap_csum_add(sum, l3 + 8, 32)     /* Source, destination. */
           : stap_csum_add(sum, l3 + 12, 8);    /* Source, destination. */
}

/* Finds the IP and transport headers of 'frame' and fills the header part
 * of 'info'.  For 'gso', the transport must be TCP and the transport data
 * runs to the end of the frame; otherwise it may be UDP as well and its
 * length comes from the IP header. */
static const char *
parse_headers(const uint8_t *frame, size_t len, bool gso,
              struct stap_gso_info *info)
{
    size_t ofs = ETH_ADDRS_LEN;
    uint16_t ethtype;
    size_t l4_ofs;
    uint32_t l4_len;
    int n_tags = 0;

    for (;;) {
        if (len < ofs + 2) {
            return "truncated Ethernet header";
        }
        ethtype = get16(frame + ofs);
        if (ethtype != ETHTYPE_VLAN && ethtype != ETHTYPE_QINQ) {
            break;
        }
        if (++n_tags > MAX_VLAN_TAGS) {
            return "more than 2 VLAN tags";
        }
        ofs += VLAN_TAG_LEN;
    }
    ofs += 2;
    info->l3_ofs = ofs;

    if (ethtype == ETHTYPE_IPV4) {
        const uint8_t *ip = frame + ofs;
        size_t ihl;

        if (len < ofs + IPV4_MIN_HLEN) {
            return "truncated IPv4 header";
        }
        if (ip[0] >> 4 != 4) {
            return "IPv4 ethertype but IP version is not 4";
        }
        ihl = (ip[0] & 0x0f) * 4;
        if (ihl < IPV4_MIN_HLEN) {
            return "IPv4 IHL below 5";
        }
        if (len < ofs + ihl) {
            return "truncated IPv4 options";
        }
        if (get16(ip + 6) & IPV4_FRAG_MASK) {
            return "IPv4 fragment";
        }
        info->ipv6 = false;
        info->l4_proto = ip[9];
        l4_ofs = ofs + ihl;
        if (gso) {
            l4_len = len - l4_ofs;
        } else {
            size_t tot_len = get16(ip + 2);

            if (tot_len < ihl) {
                return "IPv4 total length below its header length";
            }
            if (tot_len > len - ofs) {
                return "IPv4 total length beyond the frame";
            }
            l4_len = tot_len - ihl;
        }
    } else if (ethtype == ETHTYPE_IPV6) {
        const uint8_t *ip = frame + ofs;

        if (len < ofs + IPV6_HLEN) {
            return "truncated IPv6 header";
        }
        if (ip[0] >> 4 != 6) {
            return "IPv6 ethertype but IP version is not 6";
        }
        info->ipv6 = true;
        info->l4_proto = ip[6];
        l4_ofs = ofs + IPV6_HLEN;
        if (gso) {
            l4_len = len - l4_ofs;
        } else {
            size_t plen = get16(ip + 4);

            if (plen > len - l4_ofs) {
                return "IPv6 payload length beyond the frame";
            }
            l4_len = plen;
        }
    } else {
        return "neither IPv4 nor IPv6";
    }
    info->l4_ofs = l4_ofs;
    info->l4_len = l4_len;

    if (info->l4_proto == IPPROTO_TCP_) {
        const uint8_t *tcp = frame + l4_ofs;
        size_t doff;

        if (l4_len < TCP_MIN_HLEN) {
            return "truncated TCP header";
        }
        doff = (tcp[12] >> 4) * 4;
        if (doff < TCP_MIN_HLEN) {
            return "TCP data offset below 5";
        }
        if (l4_len < doff) {
            return "truncated TCP options";
        }
        info->hdr_len = l4_ofs + doff;
        info->csum_ofs = l4_ofs + 16;
    } else if (info->l4_proto == IPPROTO_UDP_ && !gso) {
        if (l4_len < UDP_HLEN) {
            return "truncated UDP header";
        }
        info->hdr_len = l4_ofs + UDP_HLEN;
        info->csum_ofs = l4_ofs + 6;
    } else if (gso) {
        return (info->ipv6
                ? "GSO over IPv6 whose next header is not TCP"
                : "GSO over IPv4 whose protocol is not TCP");
    } else {
        return (info->ipv6
                ? "checksum offload over IPv6 whose next header is neither "
                  "TCP nor UDP"
                : "checksum offload over IPv4 whose protocol is neither "
                  "TCP nor UDP");
    }
    return NULL;
}

/* Validates 'frame', 'len' bytes, against its offload metadata 'ol' and
 * fills 'info' for stap_gso_segment(), stap_csum_complete() and
 * stap_csum_pseudo().  Returns NULL if the frame is fine, else a constant
 * string that says what is wrong with it ('info' is then unspecified).
 *
 * A frame whose metadata asks for nothing (!stap_offload_is_set()) is
 * always fine: 'info' then says so ('offload' false, one segment, which is
 * the frame as it is). */
const char *
stap_gso_parse(const uint8_t *frame, size_t len,
               const struct stap_offload *ol, struct stap_gso_info *info)
{
    const char *error;

    memset(info, 0, sizeof *info);
    info->frame_len = len;
    info->n_segs = 1;
    if (ol->flags & ~STAP_OL_KNOWN_FLAGS) {
        return "unknown offload flags";
    }
    if (ol->gso_type != STAP_GSO_NONE && ol->gso_type != STAP_GSO_TCPV4
        && ol->gso_type != STAP_GSO_TCPV6) {
        return "unknown gso_type";
    }
    if (!stap_offload_is_set(ol)) {
        return NULL;
    }
    if (len > STAP_OFFLOAD_MAX_FRAME) {
        return "offloaded frame longer than STAP_OFFLOAD_MAX_FRAME";
    }
    if (ol->hdr_len > len) {
        return "hdr_len beyond the frame";
    }

    info->offload = true;
    info->gso = ol->gso_type != STAP_GSO_NONE;
    info->csum_partial = (ol->flags & STAP_OL_CSUM_PARTIAL) != 0;
    error = parse_headers(frame, len, info->gso, info);
    if (error) {
        return error;
    }

    if (info->csum_partial
        && (ol->csum_start != info->l4_ofs
            || (uint32_t) ol->csum_start + ol->csum_offset
               != info->csum_ofs)) {
        return (info->l4_proto == IPPROTO_TCP_
                ? "csum_start or csum_offset not at the TCP checksum"
                : "csum_start or csum_offset not at the UDP checksum");
    }

    if (info->gso) {
        size_t seg_ip_len;

        if (ol->gso_type == STAP_GSO_TCPV4 && info->ipv6) {
            return "gso_type TCPV4 on an IPv6 frame";
        }
        if (ol->gso_type == STAP_GSO_TCPV6 && !info->ipv6) {
            return "gso_type TCPV6 on an IPv4 frame";
        }
        if (!ol->gso_size) {
            return "GSO with gso_size 0";
        }
        info->gso_size = ol->gso_size;
        info->payload_len = len - info->hdr_len;
        if (info->payload_len > info->gso_size) {
            info->n_segs = (info->payload_len + info->gso_size - 1)
                           / info->gso_size;
        }

        /* The largest segment's IPv4 total length or IPv6 payload length
         * has to fit its 16 bits. */
        seg_ip_len = info->hdr_len - (info->ipv6 ? info->l4_ofs
                                                 : info->l3_ofs)
                     + (info->payload_len < info->gso_size
                        ? info->payload_len : info->gso_size);
        if (seg_ip_len > UINT16_MAX) {
            return "gso_size makes segments longer than IP allows";
        }
    }
    return NULL;
}

/* The length of segment 'i' (less than info->n_segs) of the frame that
 * 'info' describes. */
size_t
stap_gso_segment_len(const struct stap_gso_info *info, size_t i)
{
    size_t ofs, rest;

    if (!info->gso) {
        return info->frame_len;
    }
    ofs = i * info->gso_size;
    rest = ofs < info->payload_len ? info->payload_len - ofs : 0;
    return info->hdr_len + (rest < info->gso_size ? rest : info->gso_size);
}

/* Writes segment 'i' (counting from 0, less than info->n_segs) of 'frame',
 * 'len' bytes, which stap_gso_parse() accepted and described in 'info',
 * into 'out', 'out_size' bytes.  Returns the segment's length, or 0 if 'i'
 * is out of range, 'out_size' is less than stap_gso_segment_len() or 'len'
 * is not the length that stap_gso_parse() saw (or the frame, without
 * offload metadata, is empty).  'out' must not overlap
 * 'frame'.
 *
 * The segment is ready to send: its checksums are complete.  For a frame
 * without GSO, the one segment is the frame, its checksum completed if the
 * metadata asked for that (STAP_OL_CSUM_PARTIAL). */
size_t
stap_gso_segment(const uint8_t *frame, size_t len,
                 const struct stap_gso_info *info, size_t i,
                 uint8_t *out, size_t out_size)
{
    size_t seg_len, pay_ofs;
    uint8_t *l3, *tcp;
    uint64_t sum;
    uint16_t csum;

    if (len != info->frame_len || i >= info->n_segs) {
        return 0;
    }
    seg_len = stap_gso_segment_len(info, i);
    if (out_size < seg_len) {
        return 0;
    }
    if (!info->gso) {
        memcpy(out, frame, len);
        if (info->csum_partial) {
            stap_csum_complete(out, len, info);
        }
        return len;
    }

    pay_ofs = i * info->gso_size;
    memcpy(out, frame, info->hdr_len);
    memcpy(out + info->hdr_len, frame + info->hdr_len + pay_ofs,
           seg_len - info->hdr_len);

    l3 = out + info->l3_ofs;
    if (info->ipv6) {
        put16(l3 + 4, seg_len - info->l4_ofs);
    } else {
        size_t ihl = info->l4_ofs - info->l3_ofs;

        put16(l3 + 2, seg_len - info->l3_ofs);
        put16(l3 + 4, get16(l3 + 4) + i);
        put16(l3 + 10, 0);
        put16(l3 + 10, ~stap_csum_fold(stap_csum_add(0, l3, ihl)));
    }

    tcp = out + info->l4_ofs;
    put32(tcp + 4, get32(tcp + 4) + (uint32_t) pay_ofs);
    if (i > 0) {
        tcp[13] &= ~TCP_CWR;
    }
    if (i + 1 < info->n_segs) {
        tcp[13] &= ~(TCP_FIN | TCP_PSH);
    }
    put16(tcp + 16, 0);
    sum = pseudo_sum(out, info, seg_len - info->l4_ofs);
    sum = stap_csum_add(sum, tcp, seg_len - info->l4_ofs);
    csum = ~stap_csum_fold(sum);
    if (!csum && info->n_segs == 1) {
        /* Linux does not segment a frame that fits one segment: it
         * completes its checksum as any other, which writes 0 as 0xffff
         * (see stap_csum_complete()). */
        csum = 0xffff;
    }
    put16(tcp + 16, csum);
    return seg_len;
}

/* Completes the transport checksum of 'frame', 'len' bytes, in place, as a
 * device does for a frame whose checksum was left to it: the TCP or UDP
 * checksum over the pseudo-header and info->l4_len bytes of transport
 * header and data, whatever the field held before.  A checksum that comes
 * out 0 is written as 0xffff, its other form in ones' complement: UDP needs
 * that (0 means "no checksum"), and Linux's skb_checksum_help() does it for
 * TCP as well, so the frame is byte for byte what Linux would send.  'info' is
 * what stap_gso_parse() said of the frame; does nothing for a frame without
 * offload metadata or if 'len' is not the length it saw.
 *
 * For a GSO frame this yields the checksum of the unsegmented frame, which
 * is only of use to something that will not segment it. */
void
stap_csum_complete(uint8_t *frame, size_t len,
                   const struct stap_gso_info *info)
{
    uint8_t *field;
    uint64_t sum;
    uint16_t csum;

    if (!info->offload || len != info->frame_len) {
        return;
    }
    field = frame + info->csum_ofs;
    put16(field, 0);
    sum = pseudo_sum(frame, info, info->l4_len);
    sum = stap_csum_add(sum, frame + info->l4_ofs, info->l4_len);
    csum = ~stap_csum_fold(sum);
    put16(field, csum ? csum : 0xffff);
}

/* Writes into the transport checksum field of 'frame', 'len' bytes, the
 * folded sum of its pseudo-header alone (not complemented): what Linux
 * expects there in a frame handed over with CHECKSUM_PARTIAL, e.g. written
 * to a tap device with a virtio-net header that has
 * VIRTIO_NET_HDR_F_NEEDS_CSUM, GSO or not (its segmentation adjusts the sum
 * for each segment's length).  'info' is what stap_gso_parse() said of the
 * frame; does nothing for a frame without offload metadata or if 'len' is
 * not the length it saw. */
void
stap_csum_pseudo(uint8_t *frame, size_t len,
                 const struct stap_gso_info *info)
{
    if (!info->offload || len != info->frame_len) {
        return;
    }
    put16(frame + info->csum_ofs,
          stap_csum_fold(pseudo_sum(frame, info, info->l4_len)));
}

/* Checks the checksums of 'frame', 'len' bytes, a frame of wire size: the
 * IPv4 header checksum, if IPv4, and the TCP or UDP checksum (a UDP
 * checksum of 0 over IPv4 means none and passes).  Returns NULL if they are
 * right, else a constant string that says what is wrong, including that
 * the frame is not TCP or UDP over IPv4 or IPv6 (whose checksums this
 * cannot vouch for, so that a caller setting STAP_OL_CSUM_VALID on a NULL
 * return sets it only when it means something). */
const char *
stap_csum_verify(const uint8_t *frame, size_t len)
{
    struct stap_gso_info info;
    const char *error;
    uint64_t sum;

    memset(&info, 0, sizeof info);
    error = parse_headers(frame, len, false, &info);
    if (error) {
        return error;
    }
    if (!info.ipv6
        && stap_csum_fold(stap_csum_add(0, frame + info.l3_ofs,
                                        info.l4_ofs - info.l3_ofs))
           != 0xffff) {
        return "bad IPv4 header checksum";
    }
    if (info.l4_proto == IPPROTO_UDP_ && !get16(frame + info.csum_ofs)) {
        return info.ipv6 ? "UDP over IPv6 without a checksum" : NULL;
    }
    sum = pseudo_sum(frame, &info, info.l4_len);
    sum = stap_csum_add(sum, frame + info.l4_ofs, info.l4_len);
    if (stap_csum_fold(sum) != 0xffff) {
        return (info.l4_proto == IPPROTO_TCP_
                ? "bad TCP checksum" : "bad UDP checksum");
    }
    return NULL;
}
