#!/usr/bin/env python3
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# A user-space "wire" between two network namespaces, for
# tests/system-faults.sh on kernels without sch_netem: a tap device NAME in
# each namespace, frames copied between them, each direction with its own
# loss (%) and delay (ms).  Once both taps exist it writes "ready" into the
# file READY; it runs until killed, and the taps go away with the process.
# The caller brings the taps up and steers traffic through them.
#
# usage: python3 tests/impair-wire.py NS_A NS_B NAME LOSS_AB DELAY_AB \
#            LOSS_BA DELAY_BA READY
#
# NS_A and NS_B are names under /run/netns ("ip netns add"); it needs root
# (setns, /dev/net/tun).
import collections
import ctypes
import fcntl
import os
import random
import select
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
libc = ctypes.CDLL(None, use_errno=True)


def tap(ns, name):
    nsfd = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(nsfd, CLONE_NEWNET):
        err = ctypes.get_errno()
        raise OSError(err, "setns %s: %s" % (ns, os.strerror(err)))
    os.close(nsfd)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF,
                struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    ns_a, ns_b, name = sys.argv[1:4]
    loss_ab, delay_ab, loss_ba, delay_ba = (float(x) for x in sys.argv[4:8])
    fa = tap(ns_a, name)
    fb = tap(ns_b, name)
    # input fd -> [output fd, loss %, delay s, frames waiting (due, frame)]
    dirs = {fa: [fb, loss_ab, delay_ab / 1000.0, collections.deque()],
            fb: [fa, loss_ba, delay_ba / 1000.0, collections.deque()]}
    with open(sys.argv[8], "w") as f:
        f.write("ready\n")
    while True:
        now = time.monotonic()
        timeout = None
        for out, _, _, q in dirs.values():
            while q and q[0][0] <= now:
                try:
                    os.write(out, q.popleft()[1])
                except OSError:
                    pass
            if q:
                t = q[0][0] - now
                timeout = t if timeout is None else min(timeout, t)
        ready, _, _ = select.select(list(dirs), [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            out, loss, delay, q = dirs[fd]
            for _ in range(64):
                try:
                    frame = os.read(fd, 65536)
                except OSError:
                    break
                if loss and random.random() * 100.0 < loss:
                    continue
                if delay:
                    q.append((now + delay, frame))
                else:
                    try:
                        os.write(out, frame)
                    except OSError:
                        pass


main()
