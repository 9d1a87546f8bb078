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

/* delay-bridge: a two-port Ethernet relay that adds a fixed delay, for
 * bench/run-bench.sh on kernels without sch_netem.
 *
 *     delay-bridge IF1 IF2 DELAY_1TO2_US DELAY_2TO1_US
 *
 * Every frame received on IF1 is sent on IF2 DELAY_1TO2_US microseconds
 * later, and the other way round.  Order is kept in each direction.  Uses
 * AF_PACKET sockets with virtio-net headers, so that the kernel's GSO
 * super-packets (a veth peer's TSO) cross whole and keep their checksum
 * offload state, as they would through netem.  At most QUEUE_SLOTS frames
 * wait in each direction; beyond that, frames are dropped and counted.
 * SIGTERM or SIGINT prints the counters on stderr and exits. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define QUEUE_SLOTS 8192
#define SLOT_SIZE (65536 + 256)    /* virtio-net header + largest GSO frame. */
#define READ_BURST 64

struct direction {
    const char *name;
    int in, out;                /* Sockets. */
    uint64_t delay_ns;
    uint8_t *slots;             /* QUEUE_SLOTS * SLOT_SIZE, mapped lazily. */
    uint64_t due[QUEUE_SLOTS];
    uint32_t len[QUEUE_SLOTS];
    unsigned int head, count;
    unsigned long long frames, bytes, dropped_full, send_errors;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int
open_port(const char *ifname)
{
    unsigned int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        fprintf(stderr, "delay-bridge: no interface %s\n", ifname);
        exit(1);
    }

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("delay-bridge: socket");
        exit(1);
    }
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one)) {
        perror("delay-bridge: PACKET_VNET_HDR");
        exit(1);
    }
    /* Our own transmissions on this port are not input. */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                   sizeof one)) {
        perror("delay-bridge: PACKET_IGNORE_OUTGOING");
        exit(1);
    }
    int bufsize = 8 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize);

    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = ifindex,
    };
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll)) {
        perror("delay-bridge: bind");
        exit(1);
    }
    struct packet_mreq mr = {
        .mr_ifindex = ifindex,
        .mr_type = PACKET_MR_PROMISC,
    };
    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
    return fd;
}

static void
dir_init(struct direction *d, const char *name, int in, int out,
         uint64_t delay_us)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    d->in = in;
    d->out = out;
    d->delay_ns = delay_us * 1000;
    d->slots = mmap(NULL, (size_t) QUEUE_SLOTS * SLOT_SIZE,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
                    | MAP_NORESERVE, -1, 0);
    if (d->slots == MAP_FAILED) {
        perror("delay-bridge: mmap");
        exit(1);
    }
}

/* Reads what is waiting on d->in (a burst at most) into the queue. */
static void
dir_read(struct direction *d)
{
    for (int i = 0; i < READ_BURST; i++) {
        uint8_t scratch[SLOT_SIZE];
        uint8_t *buf;
        int full = d->count == QUEUE_SLOTS;
        unsigned int slot = (d->head + d->count) % QUEUE_SLOTS;

        buf = full ? scratch : d->slots + (size_t) slot * SLOT_SIZE;
        ssize_t n = recv(d->in, buf, SLOT_SIZE, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            return;             /* EAGAIN, or a transient error. */
        }
        if (full || n > SLOT_SIZE) {
            d->dropped_full++;
            continue;
        }
        d->due[slot] = now_ns() + d->delay_ns;
        d->len[slot] = n;
        d->count++;
    }
}

/* Sends every queued frame that is due.  Returns the time the next one is
 * due, or 0 if the queue is empty. */
static uint64_t
dir_send(struct direction *d, uint64_t now)
{
    while (d->count) {
        unsigned int slot = d->head;
        if (d->due[slot] > now) {
            return d->due[slot];
        }
        ssize_t n = send(d->out, d->slots + (size_t) slot * SLOT_SIZE,
                         d->len[slot], MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
            /* The device queue is full: try again shortly. */
            return now + 20000;
        }
        if (n < 0) {
            d->send_errors++;
        } else {
            d->frames++;
            d->bytes += d->len[slot] - sizeof(struct virtio_net_hdr);
        }
        d->head = (d->head + 1) % QUEUE_SLOTS;
        d->count--;
    }
    return 0;
}

int
main(int argc, char *argv[])
{
    static struct direction d12, d21;

    if (argc != 5) {
        fprintf(stderr, "usage: %s IF1 IF2 DELAY_1TO2_US DELAY_2TO1_US\n",
                argv[0]);
        return 2;
    }
    int fd1 = open_port(argv[1]);
    int fd2 = open_port(argv[2]);
    dir_init(&d12, "1->2", fd1, fd2, strtoull(argv[3], NULL, 10));
    dir_init(&d21, "2->1", fd2, fd1, strtoull(argv[4], NULL, 10));

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    while (!stop) {
        uint64_t now = now_ns();
        uint64_t next = 0, n12 = dir_send(&d12, now), n21 = dir_send(&d21, now);

        next = n12 && (!n21 || n12 < n21) ? n12 : n21;
        /* Wake at the next due frame, and at least every 100 ms to notice
         * a signal. */
        uint64_t wait = 100000000ull;
        if (next) {
            wait = next > now ? next - now : 0;
            if (wait > 100000000ull) {
                wait = 100000000ull;
            }
        }
        struct timespec ts = { .tv_sec = wait / 1000000000ull,
                               .tv_nsec = wait % 1000000000ull };
        struct pollfd pfd[2] = {
            { .fd = fd1, .events = POLLIN },
            { .fd = fd2, .events = POLLIN },
        };
        if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR) {
            perror("delay-bridge: ppoll");
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            dir_read(&d12);
        }
        if (pfd[1].revents & POLLIN) {
            dir_read(&d21);
        }
    }

    for (int i = 0; i < 2; i++) {
        struct direction *d = i ? &d21 : &d12;
        fprintf(stderr, "delay-bridge %s: %llu frames, %llu bytes, %llu "
                "dropped (queue full), %llu send errors, %u still queued\n",
                d->name, d->frames, d->bytes, d->dropped_full, d->send_errors,
                d->count);
    }
    return 0;
}
