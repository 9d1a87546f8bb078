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

/* The kernel's segmentation against ours (plugin/ssh-tap-gso.c).
 *
 * usage: gso-kernel SEND-IFACE RECV-IFACE [--record DIR]
 *
 * SEND-IFACE and RECV-IFACE are the two ends of a veth pair, the sending
 * one with TSO and TX checksum offload off (tests/system-gso.sh sets that
 * up in a namespace of its own).  For each case, the frame goes out of
 * SEND-IFACE through an AF_PACKET socket with PACKET_VNET_HDR, its struct
 * virtio_net_hdr asking for GSO or checksum completion; the kernel does
 * either in software on the way out (validate_xmit_skb: skb_gso_segment,
 * skb_checksum_help); the frames that come out of RECV-IFACE are compared,
 * byte for byte, with what stap_gso_segment() makes of the same frame and
 * metadata.  One "PASS: system-gso: CASE" or "FAIL: ..." line per case.
 *
 * With --record DIR, it also writes the kernel's answer for the cases
 * marked to be recorded into DIR/NAME.txt, the test vectors that
 * tests/test-gso.c checks without root (format in tests/gso-vectors/
 * README). */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "gso-frames.h"

#define MAX_SEGS 100
#define BUF_SIZE (STAP_OFFLOAD_MAX_FRAME + 64)

/* Whether a frame's checksum is made to come out 0, so that the kernel's
 * choice between 0 and 0xffff is compared too. */
enum zero_seg {
    ZERO_NONE,
    ZERO_LAST,                  /* The last segment's checksum is 0. */
};

struct gso_case {
    const char *name;
    const char *record;         /* File name under DIR for --record. */
    struct shape shape;
    uint16_t gso_size;          /* 0: checksum completion only. */
    bool no_csum_flag;          /* GSO without NEEDS_CSUM. */
    enum zero_seg zero;
};

#define ACK 0x10
#define PSH 0x08
#define FIN 0x01
#define CWR 0x80
#define ECE 0x40

static const struct gso_case cases[] = {
    { "IPv4 3 segments FIN PSH CWR", "ipv4-fin-psh-cwr",
      { .payload_len = 3000, .tcp_flags = ACK | PSH | FIN | CWR | ECE,
        .ip_id = 0x1234, .seq = 1000 }, 1448, false, ZERO_NONE },
    { "IPv4 options, TCP options, odd payload", "ipv4-options",
      { .ip_opt_len = 8, .tcp_opt_len = 12, .payload_len = 4001,
        .tcp_flags = ACK | PSH, .ip_id = 7, .seq = 5 }, 1000, false,
      ZERO_NONE },
    { "IPv4 payload a multiple of gso_size", NULL,
      { .payload_len = 2896, .tcp_flags = ACK, .ip_id = 1 }, 1448, false,
      ZERO_NONE },
    { "IPv4 one segment", NULL,
      { .payload_len = 500, .tcp_flags = ACK | PSH | FIN | CWR }, 1448,
      false, ZERO_NONE },
    { "IPv4 headers only", NULL,
      { .payload_len = 0, .tcp_flags = ACK | FIN }, 1448, false,
      ZERO_NONE },
    { "IPv4 ID and sequence wrap", "ipv4-wrap",
      { .payload_len = 4000, .tcp_flags = ACK, .ip_id = 0xfffe,
        .seq = 0xfffffc00 }, 1000, false, ZERO_NONE },
    { "IPv4 in a VLAN", "ipv4-vlan",
      { .n_vlans = 1, .payload_len = 3333, .tcp_flags = ACK | PSH,
        .ip_id = 99 }, 1400, false, ZERO_NONE },
    { "IPv4 64 KB", NULL,
      { .payload_len = 65000, .tcp_flags = ACK | PSH, .ip_id = 3,
        .seq = 77 }, 1448, false, ZERO_NONE },
    { "IPv4 GSO without NEEDS_CSUM", NULL,
      { .payload_len = 3000, .tcp_flags = ACK }, 1448, true, ZERO_NONE },
    { "IPv4 a segment whose checksum is 0", "ipv4-zero-segment",
      { .payload_len = 2500, .tcp_flags = ACK, .ip_id = 4 }, 1000, false,
      ZERO_LAST },
    { "IPv4 only segment whose checksum is 0", NULL,
      { .payload_len = 500, .tcp_flags = ACK }, 1000, false, ZERO_LAST },
    { "IPv6 3 segments FIN PSH CWR", "ipv6-fin-psh-cwr",
      { .ipv6 = true, .payload_len = 3000,
        .tcp_flags = ACK | PSH | FIN | CWR, .seq = 0xfffff000 }, 1448,
      false, ZERO_NONE },
    { "IPv6 TCP options, odd payload", NULL,
      { .ipv6 = true, .tcp_opt_len = 40, .payload_len = 4097,
        .tcp_flags = ACK }, 1000, false, ZERO_NONE },
    { "IPv6 in QinQ", "ipv6-qinq",
      { .n_vlans = 2, .ipv6 = true, .payload_len = 2222, .tcp_flags = ACK },
      1000, false, ZERO_NONE },
    { "IPv6 64 KB", NULL,
      { .ipv6 = true, .payload_len = 65515, .tcp_flags = ACK | PSH },
      8948, false, ZERO_NONE },
    { "IPv6 a segment whose checksum is 0", NULL,
      { .ipv6 = true, .payload_len = 2500, .tcp_flags = ACK }, 1000, false,
      ZERO_LAST },
    { "checksum TCP over IPv4", NULL,
      { .payload_len = 1000, .tcp_flags = ACK | PSH, .tcp_opt_len = 12 },
      0, false, ZERO_NONE },
    { "checksum TCP over IPv6, odd length", NULL,
      { .ipv6 = true, .payload_len = 1001, .tcp_flags = ACK }, 0, false,
      ZERO_NONE },
    { "checksum UDP over IPv4", NULL,
      { .udp = true, .payload_len = 1200 }, 0, false, ZERO_NONE },
    { "checksum UDP over IPv6 in a VLAN", "udp6-vlan-csum",
      { .udp = true, .ipv6 = true, .n_vlans = 1, .payload_len = 333 }, 0,
      false, ZERO_NONE },
    { "checksum TCP over IPv4 that is 0", "tcp4-zero-csum",
      { .payload_len = 100, .tcp_flags = ACK }, 0, false, ZERO_LAST },
    { "checksum UDP over IPv6 that is 0", NULL,
      { .udp = true, .ipv6 = true, .payload_len = 100 }, 0, false,
      ZERO_LAST },
};

static uint8_t frame[BUF_SIZE];
static uint8_t kframe[BUF_SIZE];
static uint8_t buf[BUF_SIZE];
static uint8_t segs[MAX_SEGS][BUF_SIZE];
static size_t seg_lens[MAX_SEGS];
static uint8_t got[MAX_SEGS][BUF_SIZE];
static size_t got_lens[MAX_SEGS];
static char why_buf[512];
static int tx_ifindex;

static const uint8_t our_dst[6] = { 2, 0, 0, 0, 0, 2 };
static const uint8_t our_src[6] = { 2, 0, 0, 0, 0, 1 };

/* Makes the checksum of the last segment (or of the frame, without GSO)
 * come out 0 by adding that checksum, in ones' complement, to the first
 * payload word of the segment. */
static void
zero_last(const struct gso_case *c, const struct built *b,
          struct stap_offload *ol)
{
    struct stap_gso_info info;
    size_t last, at, csum_at;
    uint32_t w;

    if (stap_gso_parse(frame, b->len, ol, &info)) {
        return;
    }
    last = info.n_segs - 1;
    at = b->hdr_len + (c->gso_size ? last * c->gso_size : 0);
    if (c->shape.udp) {
        at = b->l4 + 8;
    }
    csum_at = b->l4 + (c->shape.udp ? 6 : 16);
    seg_lens[0] = stap_gso_segment(frame, b->len, &info, last, segs[0],
                                   sizeof segs[0]);
    if (!c->gso_size) {
        /* Completion writes 0 as 0xffff: sum with the field 0. */
        wr16(segs[0] + csum_at, 0);
        w = ref_l4_sum(segs[0], b->l3, b->l4, info.l4_len, c->shape.ipv6,
                       c->shape.udp ? 17 : 6);
        w = (uint16_t) ~w;
    } else {
        w = rd16(segs[0] + csum_at);
    }
    w += rd16(frame + at);
    wr16(frame + at, (w & 0xffff) + (w >> 16));
}

static int
open_socket(const char *ifname, bool tx)
{
    struct sockaddr_ll sll;
    int one = 1;
    int fd;

    fd = socket(AF_PACKET, SOCK_RAW, tx ? 0 : htons(ETH_P_ALL));
    if (fd < 0) {
        perror("socket(AF_PACKET)");
        exit(2);
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = tx ? 0 : htons(ETH_P_ALL);
    sll.sll_ifindex = if_nametoindex(ifname);
    if (!sll.sll_ifindex) {
        fprintf(stderr, "%s: no such interface\n", ifname);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
        perror("bind");
        exit(2);
    }
    if (tx) {
        if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one)) {
            perror("PACKET_VNET_HDR");
            exit(2);
        }
    } else {
        int size = 16 << 20;

        if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one)) {
            perror("PACKET_AUXDATA");
            exit(2);
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    }
    return fd;
}

/* Receives one frame of ours into 'out' (its VLAN tag put back in place
 * if the receive path took it out), waiting up to 'ms'.  Returns its
 * length, 0 on timeout. */
static size_t
recv_frame(int fd, uint8_t *out, int ms)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } ctl;
        struct sockaddr_ll from;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
        struct msghdr msg = {
            .msg_name = &from, .msg_namelen = sizeof from,
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = &ctl, .msg_controllen = sizeof ctl,
        };
        struct tpacket_auxdata aux;
        bool have_aux = false;
        struct cmsghdr *cm;
        ssize_t n;

        if (poll(&pfd, 1, ms) <= 0) {
            return 0;
        }
        n = recvmsg(fd, &msg, MSG_TRUNC);
        if (n < 0) {
            perror("recvmsg");
            exit(2);
        }
        if (from.sll_pkttype == PACKET_OUTGOING || n < 14
            || (size_t) n > sizeof buf
            || memcmp(buf, our_dst, 6) || memcmp(buf + 6, our_src, 6)) {
            continue;
        }
        for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_PACKET
                && cm->cmsg_type == PACKET_AUXDATA) {
                memcpy(&aux, CMSG_DATA(cm), sizeof aux);
                have_aux = true;
            }
        }
        if (have_aux && aux.tp_status & TP_STATUS_VLAN_VALID) {
            uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID
                             ? aux.tp_vlan_tpid : ETH_P_8021Q);

            memcpy(out, buf, 12);
            wr16(out + 12, tpid);
            wr16(out + 14, aux.tp_vlan_tci);
            memcpy(out + 16, buf + 12, n - 12);
            return n + 4;
        }
        memcpy(out, buf, n);
        return n;
    }
}

static void
hex_line(FILE *f, const char *tag, const uint8_t *p, size_t n)
{
    fprintf(f, "%s", tag);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%02x", i % 32 ? "" : " ", p[i]);
    }
    fprintf(f, "\n");
}

/* Writes the case's frame, metadata and the kernel's frames to
 * DIR/NAME.txt. */
static void
record(const char *dir, const struct gso_case *c, const struct built *b,
       const struct stap_offload *ol, size_t n_got)
{
    char path[4096];
    struct utsname u;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.txt", dir, c->record);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    uname(&u);
    fprintf(f, "# %s: the kernel's frames, from Linux %s\n", c->name,
            u.release);
    fprintf(f, "# (tests/gso-kernel.c --record; format in README).\n");
    fprintf(f, "offload %u %u %u %u %u %u\n", ol->gso_type, ol->flags,
            ol->hdr_len, ol->gso_size, ol->csum_start, ol->csum_offset);
    hex_line(f, "frame", frame, b->len);
    for (size_t i = 0; i < n_got; i++) {
        hex_line(f, "out", got[i], got_lens[i]);
    }
    if (fclose(f)) {
        perror(path);
        exit(2);
    }
}

/* Runs case 'c': returns NULL if the kernel's frames are ours, else why
 * not. */
static const char *
run_case(const struct gso_case *c, int tx, int rx, const char *record_dir)
{
    struct virtio_net_hdr vh;
    struct stap_offload ol;
    struct stap_gso_info info;
    struct built b;
    const char *error;
    struct iovec iov[2];
    struct msghdr msg;
    struct sockaddr_ll to;
    size_t n_got = 0, i;
    ssize_t n;

    b = build_frame(frame, &c->shape);
    ol = c->gso_size ? gso_ol(&c->shape, &b, c->gso_size)
                     : csum_ol(&c->shape, &b);
    if (c->no_csum_flag) {
        ol.flags = 0;
        ol.csum_start = ol.csum_offset = 0;
    }
    if (c->zero == ZERO_LAST) {
        zero_last(c, &b, &ol);
    }

    /* Ours. */
    error = stap_gso_parse(frame, b.len, &ol, &info);
    if (error) {
        snprintf(why_buf, sizeof why_buf, "stap_gso_parse: %s", error);
        return why_buf;
    }
    if (info.n_segs > MAX_SEGS) {
        return "too many segments for this test";
    }
    for (i = 0; i < info.n_segs; i++) {
        seg_lens[i] = stap_gso_segment(frame, b.len, &info, i, segs[i],
                                       sizeof segs[i]);
    }

    /* The kernel's: it wants the pseudo-header sum in the checksum field,
     * and the frame's own checksum junk is ours to ignore. */
    memcpy(kframe, frame, b.len);
    stap_csum_pseudo(kframe, b.len, &info);
    memset(&vh, 0, sizeof vh);
    if (!c->no_csum_flag) {
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_start = ol.csum_start;
        vh.csum_offset = ol.csum_offset;
    }
    if (c->gso_size) {
        vh.gso_type = (c->shape.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6
                                     : VIRTIO_NET_HDR_GSO_TCPV4);
        vh.gso_size = c->gso_size;
        vh.hdr_len = b.hdr_len;
    }

    while (recv_frame(rx, got[0], 0)) {
        continue;               /* Stale frames. */
    }
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = tx_ifindex;
    memcpy(&to.sll_protocol, kframe + 12, 2);   /* The outer ethertype. */
    iov[0].iov_base = &vh;
    iov[0].iov_len = sizeof vh;
    iov[1].iov_base = kframe;
    iov[1].iov_len = b.len;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    n = sendmsg(tx, &msg, 0);
    if (n < 0) {
        snprintf(why_buf, sizeof why_buf, "sendmsg: %s", strerror(errno));
        return why_buf;
    }

    while (n_got < MAX_SEGS) {
        got_lens[n_got] = recv_frame(rx, got[n_got],
                                     n_got < info.n_segs ? 2000 : 200);
        if (!got_lens[n_got]) {
            break;
        }
        n_got++;
    }
    if (n_got != info.n_segs) {
        snprintf(why_buf, sizeof why_buf, "kernel sent %zu frames, we %u",
                 n_got, info.n_segs);
        return why_buf;
    }
    for (i = 0; i < n_got; i++) {
        size_t k;

        if (got_lens[i] != seg_lens[i]) {
            snprintf(why_buf, sizeof why_buf,
                     "frame %zu: kernel's %zu bytes, ours %zu", i,
                     got_lens[i], seg_lens[i]);
            return why_buf;
        }
        for (k = 0; k < seg_lens[i] && got[i][k] == segs[i][k]; k++) {
            continue;
        }
        if (k < seg_lens[i]) {
            snprintf(why_buf, sizeof why_buf,
                     "frame %zu of %zu: byte %zu: kernel's %02x, ours %02x",
                     i, n_got, k, got[i][k], segs[i][k]);
            return why_buf;
        }
    }
    if (record_dir && c->record) {
        record(record_dir, c, &b, &ol, n_got);
    }
    return NULL;
}

int
main(int argc, char *argv[])
{
    const char *record_dir = NULL;
    int tx, rx, n_failed = 0;

    if (argc == 5 && !strcmp(argv[3], "--record")) {
        record_dir = argv[4];
    } else if (argc != 3) {
        fprintf(stderr, "usage: %s SEND-IFACE RECV-IFACE [--record DIR]\n",
                argv[0]);
        return 2;
    }
    tx = open_socket(argv[1], true);
    tx_ifindex = if_nametoindex(argv[1]);
    rx = open_socket(argv[2], false);

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *error = run_case(&cases[i], tx, rx, record_dir);

        if (error) {
            printf("FAIL: system-gso: %s: %s\n", cases[i].name, error);
            n_failed++;
        } else {
            printf("PASS: system-gso: %s\n", cases[i].name);
        }
        fflush(stdout);
    }
    return n_failed ? 1 : 0;
}
