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

/* Unit tests of the software segmentation and checksum code
 * (plugin/ssh-tap-gso.c): hand-built frames, every rejection, checksums
 * checked against a plain RFC 1071 implementation written here, and the
 * kernel's own answers for a few frames (tests/gso-vectors/, recorded by
 * tests/system-gso.sh). */

#define PROG "test-gso"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh-tap-gso.h"
#include "unit-test.h"

#include "gso-frames.h"

static uint8_t frame[STAP_OFFLOAD_MAX_FRAME + 64];
static uint8_t seg[STAP_OFFLOAD_MAX_FRAME + 64];

static struct built
build(const struct shape *s)
{
    return build_frame(frame, s);
}

/* Segments the frame of shape 's' with 'gso_size' and checks every segment
 * field by field against the original, with the reference checksum. */
static const char *
check_segments(const struct shape *s, uint16_t gso_size, size_t want_segs)
{
    struct built b = build(s);
    struct stap_offload ol = gso_ol(s, &b, gso_size);
    struct stap_gso_info info;
    const char *error;
    size_t i, done = 0;
    static uint8_t orig[sizeof frame];

    memcpy(orig, frame, b.len);
    error = stap_gso_parse(frame, b.len, &ol, &info);
    CHECK_MSG(!error, "parse: %s", error);
    CHECK(info.gso);
    CHECK(info.l3_ofs == b.l3);
    CHECK(info.l4_ofs == b.l4);
    CHECK(info.hdr_len == b.hdr_len);
    CHECK(info.payload_len == s->payload_len);
    CHECK_MSG(info.n_segs == want_segs, "%u segments, want %zu",
              info.n_segs, want_segs);

    for (i = 0; i < info.n_segs; i++) {
        size_t plen = s->payload_len - done;
        size_t n;
        const uint8_t *ip = seg + b.l3, *tcp = seg + b.l4;
        uint8_t want_flags = s->tcp_flags;

        if (plen > gso_size) {
            plen = gso_size;
        }
        CHECK(stap_gso_segment_len(&info, i) == b.hdr_len + plen);
        CHECK(!stap_gso_segment(frame, b.len, &info, i, seg,
                                b.hdr_len + plen - 1));
        memset(seg, 0x5a, sizeof seg);
        n = stap_gso_segment(frame, b.len, &info, i, seg, sizeof seg);
        CHECK_MSG(n == b.hdr_len + plen, "segment %zu: %zu bytes", i, n);
        CHECK(seg[n] == 0x5a);

        /* Ethernet, and IP apart from the fields that change. */
        CHECK(!memcmp(seg, orig, b.l3));
        if (s->ipv6) {
            CHECK(rd16(ip + 4) == n - b.l4);
            CHECK(!memcmp(ip, orig + b.l3, 4));
            CHECK(!memcmp(ip + 6, orig + b.l3 + 6, 34));
        } else {
            CHECK(rd16(ip + 2) == n - b.l3);
            CHECK(rd16(ip + 4) == (uint16_t) (s->ip_id + i));
            CHECK(ref_fold(ref_sum(0, ip, b.l4 - b.l3)) == 0xffff);
            CHECK(!memcmp(ip, orig + b.l3, 2));
            CHECK(!memcmp(ip + 6, orig + b.l3 + 6, 4));
            CHECK(!memcmp(ip + 12, orig + b.l3 + 12, b.l4 - b.l3 - 12));
        }

        /* TCP. */
        CHECK(!memcmp(tcp, orig + b.l4, 4));
        CHECK(rd32(tcp + 4) == (uint32_t) (s->seq + i * gso_size));
        CHECK(!memcmp(tcp + 8, orig + b.l4 + 8, 5));
        if (i > 0) {
            want_flags &= ~TCP_CWR;
        }
        if (i + 1 < info.n_segs) {
            want_flags &= ~(TCP_FIN | TCP_PSH);
        }
        CHECK_MSG(tcp[13] == want_flags, "segment %zu: flags %#x, want %#x",
                  i, tcp[13], want_flags);
        CHECK(!memcmp(tcp + 14, orig + b.l4 + 14, 2));
        CHECK(!memcmp(tcp + 18, orig + b.l4 + 18, b.hdr_len - b.l4 - 18));
        CHECK_MSG(ref_l4_sum(seg, b.l3, b.l4, n - b.l4, s->ipv6, 6) == 0xffff,
                  "segment %zu: bad TCP checksum", i);
        CHECK(!stap_csum_verify(seg, n));

        /* Payload. */
        CHECK(!memcmp(seg + b.hdr_len, orig + b.hdr_len + done, plen));
        done += plen;
    }
    CHECK(done == s->payload_len);
    CHECK(!stap_gso_segment(frame, b.len, &info, info.n_segs, seg,
                            sizeof seg));
    CHECK(!memcmp(frame, orig, b.len));     /* Input untouched. */
    return NULL;
}

static const char *
ipv4_basic(void)
{
    struct shape s = { .payload_len = 3000, .tcp_flags = TCP_ACK,
                       .ip_id = 0x1234, .seq = 1000 };
    return check_segments(&s, 1448, 3);
}

static const char *
ipv6_vlan_odd(void)
{
    struct shape s = { .n_vlans = 1, .ipv6 = true, .payload_len = 2999,
                       .tcp_flags = TCP_ACK | TCP_PSH, .seq = 7 };
    return check_segments(&s, 1000, 3);
}

static const char *
qinq_options_exact_multiple(void)
{
    struct shape s = { .n_vlans = 2, .ip_opt_len = 8, .tcp_opt_len = 12,
                       .payload_len = 2000, .tcp_flags = TCP_ACK,
                       .ip_id = 9, .seq = 0x80000000 };
    return check_segments(&s, 500, 4);
}

static const char *
ipv6_qinq_options(void)
{
    struct shape s = { .n_vlans = 2, .ipv6 = true, .tcp_opt_len = 40,
                       .payload_len = 4097, .tcp_flags = TCP_ACK,
                       .seq = 0xfffff000 };
    return check_segments(&s, 1, 4097) ? why : check_segments(&s, 4096, 2);
}

static const char *
one_segment(void)
{
    struct shape s = { .payload_len = 100,
                       .tcp_flags = TCP_ACK | TCP_FIN | TCP_PSH | TCP_CWR,
                       .ip_id = 5 };
    const char *error = check_segments(&s, 1448, 1);

    if (!error) {
        s.payload_len = 1448;
        error = check_segments(&s, 1448, 1);
    }
    if (!error) {
        s.payload_len = 0;          /* Headers only: still one. */
        error = check_segments(&s, 1448, 1);
    }
    if (!error) {
        s.ipv6 = true;
        s.payload_len = 1449;
        error = check_segments(&s, 1448, 2);
    }
    return error;
}

static const char *
fin_psh_cwr(void)
{
    struct shape s = { .payload_len = 5000,
                       .tcp_flags = TCP_ACK | TCP_FIN | TCP_PSH | TCP_CWR
                                    | TCP_ECE,
                       .ip_id = 77 };
    const char *error = check_segments(&s, 1400, 4);

    if (!error) {
        s.ipv6 = true;
        s.tcp_flags = TCP_SYN | TCP_CWR | TCP_ECE;
        error = check_segments(&s, 1400, 4);
    }
    return error;
}

static const char *
id_and_seq_wrap(void)
{
    struct shape s = { .payload_len = 4000, .tcp_flags = TCP_ACK,
                       .ip_id = 0xfffe, .seq = 0xfffffc00 };
    return check_segments(&s, 1000, 4);
}

static const char *
largest_frame(void)
{
    struct shape s = { .n_vlans = 1, .ipv6 = true,
                       .payload_len = 65535 - 20, .tcp_flags = TCP_ACK };
    struct shape s4 = { .n_vlans = 2, .ip_opt_len = 40, .tcp_opt_len = 40,
                        .payload_len = 65535 - 60 - 60, .tcp_flags = TCP_ACK,
                        .ip_id = 3 };
    const char *error = check_segments(&s, 1448, 46);

    return error ? error : check_segments(&s4, 8948, 8);
}

/* Mixed shapes and sizes, including odd ones. */
static const char *
many_shapes(void)
{
    static const size_t payloads[] = { 1, 2, 3, 999, 1000, 1001, 1447, 1448,
                                       1449, 2896, 9001, 30000 };
    static const uint16_t sizes[] = { 1, 7, 536, 1000, 1448, 8960, 65000 };

    for (int v = 0; v < 3; v++) {
        for (int ip6 = 0; ip6 < 2; ip6++) {
            for (size_t p = 0; p < sizeof payloads / sizeof *payloads; p++) {
                for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
                    struct shape s = { .n_vlans = v, .ipv6 = ip6,
                                       .ip_opt_len = ip6 ? 0 : 4 * v,
                                       .tcp_opt_len = 4 * (int) z,
                                       .payload_len = payloads[p],
                                       .tcp_flags = TCP_ACK | TCP_PSH,
                                       .ip_id = p * 1000, .seq = z };
                    size_t want = (payloads[p] + sizes[z] - 1) / sizes[z];
                    const char *error;

                    if (payloads[p] / sizes[z] > 2000) {
                        continue;
                    }
                    error = check_segments(&s, sizes[z], want);
                    if (error) {
                        return error;
                    }
                }
            }
        }
    }
    return NULL;
}

/* A GSO frame's hdr_len is a hint, and its own IP length is not checked:
 * the segments come out the same. */
static const char *
hdr_len_is_a_hint(void)
{
    struct shape s = { .payload_len = 3000, .tcp_flags = TCP_ACK };
    struct built b = build(&s);
    struct stap_offload ol = gso_ol(&s, &b, 1448);
    struct stap_gso_info info;
    static uint8_t want[2][2000];
    size_t n0, n1;

    CHECK(!stap_gso_parse(frame, b.len, &ol, &info));
    n0 = stap_gso_segment(frame, b.len, &info, 0, want[0], sizeof want[0]);
    n1 = stap_gso_segment(frame, b.len, &info, 1, want[1], sizeof want[1]);
    CHECK(n0 && n1);

    for (int k = 0; k < 3; k++) {
        ol.hdr_len = k == 0 ? 0 : k == 1 ? b.hdr_len + 200 : b.len;
        wr16(frame + b.l3 + 2, k == 2 ? 0 : 1500);
        wr16(frame + b.l3 + 10, 0);        /* Nor is its checksum. */
        CHECK(!stap_gso_parse(frame, b.len, &ol, &info));
        CHECK(info.hdr_len == b.hdr_len);
        CHECK(stap_gso_segment(frame, b.len, &info, 0, seg, sizeof seg)
              == n0);
        CHECK(!memcmp(seg, want[0], n0));
        CHECK(stap_gso_segment(frame, b.len, &info, 1, seg, sizeof seg)
              == n1);
        CHECK(!memcmp(seg, want[1], n1));
    }
    /* GSO without CSUM_PARTIAL: full checksums all the same. */
    ol.flags = 0;
    ol.csum_start = ol.csum_offset = 0;
    CHECK(!stap_gso_parse(frame, b.len, &ol, &info));
    CHECK(stap_gso_segment(frame, b.len, &info, 1, seg, sizeof seg) == n1);
    CHECK(!memcmp(seg, want[1], n1));
    return NULL;
}

/* Checksum completion of a frame of wire size, and the pseudo-header sum. */
static const char *
check_csum(const struct shape *s)
{
    struct built b = build(s);
    struct stap_offload ol = csum_ol(s, &b);
    struct stap_gso_info info;
    size_t l4_len = b.hdr_len - b.l4 + s->payload_len;
    uint8_t proto = s->udp ? 17 : 6;
    size_t csum_at = b.l4 + (s->udp ? 6 : 16);
    const char *error;
    uint16_t want;

    error = stap_gso_parse(frame, b.len, &ol, &info);
    CHECK_MSG(!error, "parse: %s", error);
    CHECK(!info.gso && info.csum_partial && info.n_segs == 1);
    CHECK(info.l4_len == l4_len);
    CHECK(stap_csum_verify(frame, b.len));

    /* The segment "iterator" completes it too, in its copy. */
    CHECK(stap_gso_segment_len(&info, 0) == b.len);
    CHECK(stap_gso_segment(frame, b.len, &info, 0, seg, sizeof seg)
          == b.len);
    CHECK(rd16(frame + csum_at) == 0xdead);

    stap_csum_complete(frame, b.len, &info);
    CHECK(!memcmp(frame, seg, b.len));
    wr16(seg + csum_at, 0);
    want = ~ref_l4_sum(seg, b.l3, b.l4, l4_len, s->ipv6, proto);
    if (!want) {
        want = 0xffff;
    }
    CHECK_MSG(rd16(frame + csum_at) == want, "checksum %#x, want %#x",
              rd16(frame + csum_at), want);
    CHECK(!stap_csum_verify(frame, b.len));

    /* The pseudo-header alone: what a tap device wants.  The reference
     * sums a copy whose transport bytes are all zero. */
    stap_csum_pseudo(frame, b.len, &info);
    memset(seg + b.l4, 0, b.len - b.l4);
    want = ref_l4_sum(seg, b.l3, b.l4, l4_len, s->ipv6, proto);
    CHECK_MSG(rd16(frame + csum_at) == want, "pseudo %#x, want %#x",
              rd16(frame + csum_at), want);
    return NULL;
}

static const char *
csum_complete(void)
{
    for (int v = 0; v < 3; v++) {
        for (int ip6 = 0; ip6 < 2; ip6++) {
            for (int udp = 0; udp < 2; udp++) {
                static const size_t lens[] = { 0, 1, 2, 3, 63, 1472, 9000,
                                               65000 };

                for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
                    struct shape s = { .n_vlans = v, .ipv6 = ip6, .udp = udp,
                                       .ip_opt_len = ip6 ? 0 : 4,
                                       .tcp_opt_len = udp ? 0 : 12,
                                       .payload_len = lens[l],
                                       .tcp_flags = TCP_ACK,
                                       .pad = lens[l] < 30 ? 7 : 0 };
                    const char *error = check_csum(&s);

                    if (error) {
                        return error;
                    }
                }
            }
        }
    }
    return NULL;
}

/* A checksum that comes out 0 goes as 0xffff, UDP's (where 0 means none)
 * and TCP's too, as Linux's skb_checksum_help() writes it; in a segment,
 * TCP's stays 0, as in Linux's segments. */
static const char *
zero_checksum(void)
{
    for (int ip6 = 0; ip6 < 2; ip6++) {
        for (int udp = 0; udp < 2; udp++) {
            struct shape s = { .ipv6 = ip6, .udp = udp, .payload_len = 40,
                               .tcp_flags = TCP_ACK };
            struct built b = build(&s);
            struct stap_offload ol = csum_ol(&s, &b);
            struct stap_gso_info info;
            size_t csum_at = b.l4 + (udp ? 6 : 16);
            size_t l4_len = b.hdr_len - b.l4 + s.payload_len;
            uint16_t fold;

            /* Make the payload's last word cancel the rest. */
            wr16(frame + csum_at, 0);
            wr16(frame + b.len - 2, 0);
            fold = ref_l4_sum(frame, b.l3, b.l4, l4_len, ip6, udp ? 17 : 6);
            wr16(frame + b.len - 2, ~fold);
            CHECK(ref_l4_sum(frame, b.l3, b.l4, l4_len, ip6, udp ? 17 : 6)
                  == 0xffff);

            CHECK(!stap_gso_parse(frame, b.len, &ol, &info));
            stap_csum_complete(frame, b.len, &info);
            CHECK_MSG(rd16(frame + csum_at) == 0xffff,
                      "%s %s: %#x", ip6 ? "IPv6" : "IPv4",
                      udp ? "UDP" : "TCP", rd16(frame + csum_at));
            CHECK(!stap_csum_verify(frame, b.len));

            if (!udp) {
                struct stap_offload g = gso_ol(&s, &b, 1448);

                /* A GSO frame's only segment: as Linux completes it. */
                CHECK(!stap_gso_parse(frame, b.len, &g, &info));
                CHECK(stap_gso_segment(frame, b.len, &info, 0, seg,
                                       sizeof seg) == b.len);
                CHECK(rd16(seg + csum_at) == 0xffff);
                CHECK(!stap_csum_verify(seg, b.len));
            }
        }
    }

    /* A segment of several whose checksum is 0: it stays 0. */
    for (int ip6 = 0; ip6 < 2; ip6++) {
        struct shape s = { .ipv6 = ip6, .payload_len = 3001,
                           .tcp_flags = TCP_ACK };
        struct built b = build(&s);
        struct stap_offload g = gso_ol(&s, &b, 1000);
        struct stap_gso_info info;
        uint32_t w;

        /* Add segment 2's checksum to its first payload word. */
        CHECK(!stap_gso_parse(frame, b.len, &g, &info));
        CHECK(stap_gso_segment(frame, b.len, &info, 2, seg, sizeof seg));
        w = rd16(frame + b.hdr_len + 2000) + rd16(seg + b.l4 + 16);
        wr16(frame + b.hdr_len + 2000, (w & 0xffff) + (w >> 16));
        CHECK(stap_gso_segment(frame, b.len, &info, 2, seg, sizeof seg));
        CHECK(rd16(seg + b.l4 + 16) == 0);
        CHECK(!stap_csum_verify(seg, stap_gso_segment_len(&info, 2)));
    }
    return NULL;
}

static const char *
verify(void)
{
    struct shape s = { .n_vlans = 1, .payload_len = 333,
                       .tcp_flags = TCP_ACK };
    struct stap_gso_info info;
    struct stap_offload ol;
    struct built b;

    b = build(&s);
    ol = csum_ol(&s, &b);
    CHECK(!stap_gso_parse(frame, b.len, &ol, &info));
    stap_csum_complete(frame, b.len, &info);
    CHECK(!stap_csum_verify(frame, b.len));
    frame[b.len - 1] ^= 1;
    CHECK(!strcmp(stap_csum_verify(frame, b.len), "bad TCP checksum"));
    frame[b.len - 1] ^= 1;
    frame[b.l3 + 8]--;                      /* TTL. */
    CHECK(!strcmp(stap_csum_verify(frame, b.len),
                  "bad IPv4 header checksum"));

    /* UDP: 0 means none over IPv4 only. */
    s.udp = true;
    b = build(&s);
    wr16(frame + b.l4 + 6, 0);
    CHECK(!stap_csum_verify(frame, b.len));
    s.ipv6 = true;
    b = build(&s);
    wr16(frame + b.l4 + 6, 0);
    CHECK(!strcmp(stap_csum_verify(frame, b.len),
                  "UDP over IPv6 without a checksum"));
    wr16(frame + b.l4 + 6, 1);
    CHECK(!strcmp(stap_csum_verify(frame, b.len), "bad UDP checksum"));

    /* What it cannot vouch for. */
    wr16(frame + 12, 0x0806);
    CHECK(stap_csum_verify(frame, b.len));
    CHECK(stap_csum_verify(frame, 10));
    return NULL;
}

/* Metadata that asks for nothing: the frame goes as it is. */
static const char *
no_offload(void)
{
    static const uint8_t junk[] = { 1, 2, 3 };
    struct stap_offload ol = { .flags = STAP_OL_CSUM_VALID, .hdr_len = 999 };
    struct stap_gso_info info;

    CHECK(!stap_gso_parse(junk, sizeof junk, &ol, &info));
    CHECK(!info.offload && !info.gso && info.n_segs == 1);
    CHECK(stap_gso_segment(junk, sizeof junk, &info, 0, seg, sizeof seg)
          == sizeof junk);
    CHECK(!memcmp(seg, junk, sizeof junk));
    CHECK(!stap_gso_segment(junk, sizeof junk, &info, 0, seg, 2));
    CHECK(!stap_gso_segment(junk, 2, &info, 0, seg, sizeof seg));
    CHECK(!stap_gso_segment(junk, sizeof junk, &info, 1, seg, sizeof seg));
    stap_csum_complete(seg, sizeof junk, &info);
    stap_csum_pseudo(seg, sizeof junk, &info);
    CHECK(!memcmp(seg, junk, sizeof junk));
    return NULL;
}

/* Every rejection, each with the error it should give. */
static const char *
expect_error(const uint8_t *f, size_t len, const struct stap_offload *ol,
             const char *want)
{
    struct stap_gso_info info;
    const char *error = stap_gso_parse(f, len, ol, &info);

    CHECK_MSG(error && !strcmp(error, want), "got \"%s\", want \"%s\"",
              error ? error : "(none)", want);
    return NULL;
}

#define EXPECT(LEN, OL, WANT)                                   \
    do {                                                        \
        const char *e_ = expect_error(frame, LEN, OL, WANT);    \
        if (e_) {                                               \
            return e_;                                          \
        }                                                       \
    } while (0)

static const char *
rejections(void)
{
    struct shape s4 = { .n_vlans = 1, .payload_len = 3000,
                        .tcp_flags = TCP_ACK };
    struct shape s6 = { .ipv6 = true, .payload_len = 3000,
                        .tcp_flags = TCP_ACK };
    struct shape su = { .udp = true, .payload_len = 100 };
    struct stap_offload ol, o;
    struct built b;

    b = build(&s4);
    ol = gso_ol(&s4, &b, 1448);

    o = ol;
    o.flags |= 0x80;
    EXPECT(b.len, &o, "unknown offload flags");
    o = ol;
    o.gso_type = 3;
    EXPECT(b.len, &o, "unknown gso_type");
    EXPECT(STAP_OFFLOAD_MAX_FRAME + 1, &ol,
           "offloaded frame longer than STAP_OFFLOAD_MAX_FRAME");
    o = ol;
    o.hdr_len = b.len + 1;
    EXPECT(b.len, &o, "hdr_len beyond the frame");

    /* Truncations, at every length. */
    for (size_t len = 0; len < b.hdr_len; len++) {
        struct stap_offload t = ol;
        const char *want;

        t.hdr_len = 0;
        want = (len < 18 ? "truncated Ethernet header"
                : len < b.l4 ? "truncated IPv4 header"
                : "truncated TCP header");
        EXPECT(len, &t, want);
    }
    frame[b.l4 + 12] = 0xf0;
    EXPECT(b.l4 + 59, &ol, "truncated TCP options");
    frame[b.l4 + 12] = 0x40;
    EXPECT(b.len, &ol, "TCP data offset below 5");
    frame[b.l4 + 12] = 0x50;
    frame[b.l3] = 0x44;
    EXPECT(b.len, &ol, "IPv4 IHL below 5");
    frame[b.l3] = 0x4f;
    EXPECT(b.l3 + 59, &ol, "truncated IPv4 options");
    frame[b.l3] = 0x65;
    EXPECT(b.len, &ol, "IPv4 ethertype but IP version is not 4");
    frame[b.l3] = 0x45;

    wr16(frame + b.l3 + 6, 0x2000);         /* MF. */
    EXPECT(b.len, &ol, "IPv4 fragment");
    wr16(frame + b.l3 + 6, 0x0001);         /* Offset 8. */
    EXPECT(b.len, &ol, "IPv4 fragment");
    wr16(frame + b.l3 + 6, 0x4000);

    frame[b.l3 + 9] = 17;
    EXPECT(b.len, &ol, "GSO over IPv4 whose protocol is not TCP");
    frame[b.l3 + 9] = 6;

    o = ol;
    o.csum_start++;
    EXPECT(b.len, &o, "csum_start or csum_offset not at the TCP checksum");
    o = ol;
    o.csum_offset = 6;
    EXPECT(b.len, &o, "csum_start or csum_offset not at the TCP checksum");
    o = ol;
    o.csum_start = 0xffff;
    o.csum_offset = 0xffff;
    EXPECT(b.len, &o, "csum_start or csum_offset not at the TCP checksum");
    o = ol;
    o.gso_type = STAP_GSO_TCPV6;
    EXPECT(b.len, &o, "gso_type TCPV6 on an IPv4 frame");
    o = ol;
    o.gso_size = 0;
    EXPECT(b.len, &o, "GSO with gso_size 0");

    wr16(frame + 12, 0x8100);
    wr16(frame + 16, 0x8100);
    wr16(frame + 20, 0x8100);
    EXPECT(b.len, &ol, "more than 2 VLAN tags");
    wr16(frame + 16, 0x0806);
    EXPECT(b.len, &ol, "neither IPv4 nor IPv6");

    /* IPv6. */
    b = build(&s6);
    ol = gso_ol(&s6, &b, 1448);
    o = ol;
    o.hdr_len = 0;
    EXPECT(b.l3 + 39, &o, "truncated IPv6 header");
    frame[b.l3] = 0x40;
    EXPECT(b.len, &ol, "IPv6 ethertype but IP version is not 6");
    frame[b.l3] = 0x60;
    frame[b.l3 + 6] = 0;                    /* Hop-by-hop. */
    EXPECT(b.len, &ol, "GSO over IPv6 whose next header is not TCP");
    frame[b.l3 + 6] = 44;                   /* Fragment. */
    EXPECT(b.len, &ol, "GSO over IPv6 whose next header is not TCP");
    frame[b.l3 + 6] = 6;
    o = ol;
    o.gso_type = STAP_GSO_TCPV4;
    EXPECT(b.len, &o, "gso_type TCPV4 on an IPv6 frame");
    o = ol;
    o.gso_size = 0xffff;                    /* 20 + 65535 > 65535. */
    {
        struct shape big = s6;

        big.payload_len = 65535 - 20 + 1;
        b = build(&big);
        EXPECT(b.len, &o, "gso_size makes segments longer than IP allows");
        o.gso_size = 65535 - 20;
        CHECK(!stap_gso_parse(frame, b.len, &o, &(struct stap_gso_info) {0}));
    }

    /* Checksum only: the IP lengths count now. */
    b = build(&su);
    ol = csum_ol(&su, &b);
    o = ol;
    o.csum_offset = 16;
    EXPECT(b.len, &o, "csum_start or csum_offset not at the UDP checksum");
    wr16(frame + b.l3 + 2, 19);
    EXPECT(b.len, &ol, "IPv4 total length below its header length");
    wr16(frame + b.l3 + 2, b.len - b.l3 + 1);
    EXPECT(b.len, &ol, "IPv4 total length beyond the frame");
    wr16(frame + b.l3 + 2, 27);
    EXPECT(b.len, &ol, "truncated UDP header");
    wr16(frame + b.l3 + 2, b.len - b.l3);
    frame[b.l3 + 9] = 1;
    EXPECT(b.len, &ol, "checksum offload over IPv4 whose protocol is "
           "neither TCP nor UDP");
    frame[b.l3 + 9] = 17;
    wr16(frame + b.l3 + 6, 0x2000);
    EXPECT(b.len, &ol, "IPv4 fragment");

    su.ipv6 = true;
    b = build(&su);
    ol = csum_ol(&su, &b);
    wr16(frame + b.l3 + 4, b.len - b.l4 + 1);
    EXPECT(b.len, &ol, "IPv6 payload length beyond the frame");
    wr16(frame + b.l3 + 4, 7);
    EXPECT(b.len, &ol, "truncated UDP header");
    wr16(frame + b.l3 + 4, b.len - b.l4);
    frame[b.l3 + 6] = 58;
    EXPECT(b.len, &ol, "checksum offload over IPv6 whose next header is "
           "neither TCP nor UDP");
    frame[b.l3 + 6] = 6;
    wr16(frame + b.l3 + 4, 19);
    o = ol;
    o.csum_offset = 16;
    EXPECT(b.len, &o, "truncated TCP header");
    return NULL;
}

/* Hostile frames: every truncation and random corruption of good ones
 * either parses or fails, and what parses segments within bounds (run it
 * under AddressSanitizer to make "within" mean something). */
static const char *
hostile(void)
{
    struct shape s = { .n_vlans = 1, .ip_opt_len = 4, .tcp_opt_len = 8,
                       .payload_len = 1000, .tcp_flags = TCP_ACK };
    static uint8_t orig[2000];
    struct built b = build(&s);
    struct stap_offload ol = gso_ol(&s, &b, 300);

    memcpy(orig, frame, b.len);
    rng_state = 42;
    for (int round = 0; round < 20000; round++) {
        struct stap_gso_info info;
        size_t len = round < (int) b.len ? (size_t) round : b.len;
        struct stap_offload o = ol;
        uint8_t *f = malloc(len ? len : 1);

        memcpy(f, orig, len);
        if (round >= (int) b.len) {
            int n = 1 + rng() % 4;

            for (int k = 0; k < n; k++) {
                f[rng() % b.hdr_len] = rng();
            }
            if (rng() < 32) {
                o.gso_type = rng() % 3;
                o.flags = rng() % 4;
                o.csum_start = rng();
                o.csum_offset = rng() % 20;
            }
        }
        if (!stap_gso_parse(f, len, &o, &info)) {
            CHECK(info.n_segs >= 1);
            CHECK(info.hdr_len <= len || !info.offload);
            for (size_t i = 0; i < info.n_segs; i++) {
                size_t n = stap_gso_segment(f, len, &info, i, seg,
                                            sizeof seg);

                CHECK(n && n == stap_gso_segment_len(&info, i));
            }
            stap_csum_complete(f, len, &info);
            stap_csum_pseudo(f, len, &info);
        }
        (void) stap_csum_verify(f, len);
        free(f);
    }
    return NULL;
}

/* The fast sum against the reference, for every alignment and many
 * lengths. */
static const char *
csum_add(void)
{
    static uint8_t buf[70000];

    rng_state = 7;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = rng();
    }
    for (size_t al = 0; al < 8; al++) {
        for (size_t n = 0; n < 300; n++) {
            CHECK(stap_csum_fold(stap_csum_add(0, buf + al, n))
                  == ref_fold(ref_sum(0, buf + al, n)));
        }
        CHECK(stap_csum_fold(stap_csum_add(0, buf + al, 65600))
              == ref_fold(ref_sum(0, buf + al, 65600)));
    }
    memset(buf, 0xff, sizeof buf);
    CHECK(stap_csum_fold(stap_csum_add(0, buf, 65600)) == 0xffff);
    CHECK(stap_csum_fold(stap_csum_add(0, buf, 65601))
          == ref_fold(ref_sum(0, buf, 65601)));
    memset(buf, 0, sizeof buf);
    CHECK(stap_csum_fold(stap_csum_add(0, buf, 65600)) == 0);
    CHECK(stap_csum_fold(stap_csum_add(0xffffffffffffULL, buf, 4))
          == ref_fold(0xffff + 0xffff + 0xffff));
    return NULL;
}

/* Parses the hex bytes after the tag of 'line' into 'out', which has room
 * for 'size'.  Returns their number, or -1 if the line is not hex. */
static long
parse_hex(const char *line, uint8_t *out, size_t size)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = line; *p && *p != '\n'; p++) {
        int v;

        if (*p == ' ') {
            if (hi >= 0) {
                return -1;
            }
            continue;
        }
        if (*p >= '0' && *p <= '9') {
            v = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            v = *p - 'a' + 10;
        } else {
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= size) {
                return -1;
            }
            out[n++] = hi << 4 | v;
            hi = -1;
        }
    }
    return hi < 0 ? (long) n : -1;
}

/* Checks one recorded vector file, 'name' in 'dir': our segments of its
 * frame must be the kernel's, byte for byte. */
static const char *
check_vector(const char *dir, const char *name)
{
    static uint8_t want[sizeof seg];
    struct stap_offload ol;
    struct stap_gso_info info;
    unsigned int v[6];
    size_t frame_len = 0, n_out = 0, line_size = 0;
    bool have_ol = false, have_frame = false;
    char *line = NULL;
    const char *error = NULL;
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    CHECK_MSG(f, "%.200s: %s", name, strerror(errno));
    while (!error && getline(&line, &line_size, f) > 0) {
        long n;

        if (line[0] == '#' || line[0] == '\n') {
            continue;
        } else if (sscanf(line, "offload %u %u %u %u %u %u", &v[0], &v[1],
                          &v[2], &v[3], &v[4], &v[5]) == 6) {
            ol.gso_type = v[0];
            ol.flags = v[1];
            ol.hdr_len = v[2];
            ol.gso_size = v[3];
            ol.csum_start = v[4];
            ol.csum_offset = v[5];
            have_ol = true;
        } else if (!strncmp(line, "frame ", 6)) {
            n = parse_hex(line + 6, frame, sizeof frame);
            if (n < 0 || !have_ol) {
                error = "bad frame line";
            } else {
                frame_len = n;
                error = stap_gso_parse(frame, frame_len, &ol, &info);
                have_frame = true;
            }
        } else if (!strncmp(line, "out ", 4)) {
            n = parse_hex(line + 4, want, sizeof want);
            if (n < 0 || !have_frame) {
                error = "bad out line";
            } else if (stap_gso_segment(frame, frame_len, &info, n_out, seg,
                                        sizeof seg) != (size_t) n
                       || memcmp(seg, want, n)) {
                error = "a segment differs from the kernel's";
            } else {
                n_out++;
            }
        } else {
            error = "unknown line";
        }
    }
    free(line);
    fclose(f);
    CHECK_MSG(!error, "%.200s: segment %zu: %s", name, n_out, error);
    CHECK_MSG(have_frame && n_out == info.n_segs,
              "%.200s: %zu segments recorded, we make %u", name, n_out,
              info.n_segs);
    return NULL;
}

#ifndef GSO_VECTORS_DIR
#define GSO_VECTORS_DIR "tests/gso-vectors"
#endif

/* The kernel's answers, recorded (tests/gso-vectors/README). */
static const char *
kernel_vectors(void)
{
    const char *dir_name = getenv("GSO_VECTORS");
    struct dirent *de;
    int n = 0;
    DIR *dir;

    if (!dir_name) {
        dir_name = GSO_VECTORS_DIR;
    }
    dir = opendir(dir_name);
    CHECK_MSG(dir, "%.500s: %s", dir_name, strerror(errno));
    while ((de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        const char *error;

        if (len < 4 || strcmp(de->d_name + len - 4, ".txt")) {
            continue;
        }
        error = check_vector(dir_name, de->d_name);
        if (error) {
            closedir(dir);
            return error;
        }
        n++;
    }
    closedir(dir);
    CHECK_MSG(n >= 5, "only %d vectors in %.500s", n, dir_name);
    return NULL;
}

int
main(void)
{
    run("IPv4, 3 segments", ipv4_basic);
    run("IPv6 in a VLAN, odd payload", ipv6_vlan_odd);
    run("QinQ, IP and TCP options, payload a multiple of gso_size",
        qinq_options_exact_multiple);
    run("IPv6 in QinQ, 40 bytes of TCP options", ipv6_qinq_options);
    run("payload that fits one segment", one_segment);
    run("FIN and PSH on the last segment, CWR on the first", fin_psh_cwr);
    run("IP ID and sequence number wrap", id_and_seq_wrap);
    run("largest frames", largest_frame);
    run("many shapes and sizes", many_shapes);
    run("hdr_len and a GSO frame's IP length are hints", hdr_len_is_a_hint);
    run("checksum completion and pseudo-header sum", csum_complete);
    run("checksum 0 goes as 0xffff", zero_checksum);
    run("checksum verification", verify);
    run("no offload: the frame as it is", no_offload);
    run("rejections", rejections);
    run("hostile frames", hostile);
    run("checksum against RFC 1071", csum_add);
    run("the kernel's recorded segments", kernel_vectors);
    return n_failed ? 1 : 0;
}
