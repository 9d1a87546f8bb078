#!/usr/bin/env python3
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# A misbehaving ssh-tap peer for tests/system-hostile.sh.  It connects
# straight to a passive port's unix socket (as sshd would for a logged-in
# account), does ACTION, prints what happened, and exits 0 if vswitchd
# reacted as expected, 1 otherwise (the last lines say why).
#
# usage: python3 tests/hostile-peer.py SOCKET ACTION [N]
#
#   garbage [N]        N connections that answer the HELLO with 4 KiB of
#                      random bytes; each must be closed by vswitchd
#   absurd-length      after the handshake, a DATA header of length 65535;
#                      must be closed
#   nonzero-flags      after the handshake, an ECHO_REQUEST with flags 0x80;
#                      must be closed
#   data-before-hello  a DATA message before any HELLO; must be closed
#   truncated          half a DATA message, then EOF; must be closed
#   oversize           DATA of 2000, 10 and 0 bytes and two messages of
#                      unknown types; the link must stay up (echo answered)
#   hostile-hello      a HELLO with version 200 and a junk software string;
#                      the link must come up.  It then waits for a line on
#                      stdin (while the caller looks at the status) and
#                      checks the link once more
#   flood N            N tiny DATA messages (0..63 bytes) in one go; the
#                      link must stay up
#   rapid N            N connections opened and closed at once
#
# The message layout (type, flags, 16-bit length, payload) is the one of
# docs/protocol.md, written here from scratch on purpose: the peer must be
# able to send what the codec would never produce.
import os
import socket
import struct
import sys
import time

HELLO, DATA, ECHO_REQUEST, ECHO_REPLY = 1, 2, 3, 4
TIMEOUT = 5.0


def msg(mtype, payload=b"", flags=0, length=None):
    if length is None:
        length = len(payload)
    return struct.pack("!BBH", mtype, flags, length) + payload


def hello(max_frame=1518):
    return msg(HELLO, b"STAP" + bytes([1, 0]) + struct.pack("!H", max_frame)
               + b"stap-peer (hostile test)")


def frame(size):
    """An Ethernet frame of SIZE bytes (the header cut short if SIZE < 14)."""
    f = (bytes.fromhex("020000000099") + bytes.fromhex("020000000098")
         + b"\x88\xb5")
    f += bytes(i & 0xff for i in range(max(0, size - len(f))))
    return f[:size]


class Fail(Exception):
    pass


class Peer:
    backlog_full = 0

    def __init__(self, path):
        # A unix socket's connect() fails with EAGAIN instead of waiting
        # while the listener's backlog is full: retry for a while.
        deadline = time.monotonic() + TIMEOUT
        while True:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(TIMEOUT)
            try:
                self.s.connect(path)
                break
            except BlockingIOError:
                self.s.close()
                Peer.backlog_full += 1
                if time.monotonic() > deadline:
                    raise Fail("vswitchd accepted no connection on %s for "
                               "%.0f s" % (path, TIMEOUT))
                time.sleep(0.005)
        self.buf = b""
        self.eof = False

    def send(self, data):
        """Sends DATA; False if vswitchd has already closed the link."""
        try:
            self.s.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.s.settimeout(left)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def next_msg(self, deadline):
        while True:
            if len(self.buf) >= 4:
                mtype, flags, length = struct.unpack("!BBH", self.buf[:4])
                if len(self.buf) >= 4 + length:
                    payload = self.buf[4:4 + length]
                    self.buf = self.buf[4 + length:]
                    return mtype, flags, payload
            if not self._fill(deadline):
                return None

    def expect(self, mtype, payload=None, timeout=TIMEOUT):
        """Reads messages until one of MTYPE (with PAYLOAD, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.next_msg(deadline)
            if m is None:
                raise Fail("no message of type %d from vswitchd within %.0f s%s"
                           % (mtype, timeout,
                              " (it closed the connection)" if self.eof
                              else ""))
            if m[0] == mtype and (payload is None or m[2] == payload):
                return m

    def handshake(self):
        """HELLOs both ways, then an echo that proves the link is up."""
        self.expect(HELLO)
        cookie = os.urandom(8)
        if not self.send(hello() + msg(ECHO_REQUEST, cookie)):
            raise Fail("vswitchd closed the connection during the handshake")
        self.expect(ECHO_REPLY, cookie)

    def closed_by_peer(self, timeout=TIMEOUT):
        """True once vswitchd closes the connection (within TIMEOUT)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline):
                if self.eof:
                    break
                return False
            self.buf = b""
        return True

    def echo_ok(self, timeout=TIMEOUT):
        cookie = os.urandom(8)
        if not self.send(msg(ECHO_REQUEST, cookie)):
            raise Fail("vswitchd closed the connection")
        self.expect(ECHO_REPLY, cookie, timeout)

    def close(self):
        self.s.close()


def must_close(p, what):
    t0 = time.monotonic()
    if not p.closed_by_peer():
        raise Fail("vswitchd kept the connection open %.0f s after %s"
                   % (TIMEOUT, what))
    print("%s: vswitchd closed the connection after %.3f s"
          % (what, time.monotonic() - t0))


def main():
    path, action = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1

    if action == "garbage":
        # Random bytes instead of a HELLO, N connections in a row.
        for i in range(n):
            p = Peer(path)
            p.expect(HELLO)
            p.send(os.urandom(4096))
            must_close(p, "4 KiB of random bytes (connection %d)" % (i + 1))
            p.close()
    elif action == "absurd-length":
        p = Peer(path)
        p.handshake()
        p.send(msg(DATA, b"\0" * 64, length=0xffff))
        must_close(p, "a DATA header with length 65535")
    elif action == "nonzero-flags":
        p = Peer(path)
        p.handshake()
        p.send(msg(ECHO_REQUEST, os.urandom(8), flags=0x80))
        must_close(p, "an ECHO_REQUEST with flags 0x80")
    elif action == "data-before-hello":
        p = Peer(path)
        p.expect(HELLO)
        p.send(msg(DATA, frame(60)))
        must_close(p, "a DATA message before any HELLO")
    elif action == "truncated":
        # Half a frame, then the end of the stream.
        p = Peer(path)
        p.handshake()
        p.send(msg(DATA, frame(1000))[:500])
        p.s.shutdown(socket.SHUT_WR)
        must_close(p, "half a DATA message and EOF")
    elif action == "oversize":
        # Frames that do not fit max_frame are dropped, the link stays up.
        p = Peer(path)
        p.handshake()
        p.send(msg(DATA, frame(2000)) + msg(DATA, frame(10))
               + msg(DATA, b""))
        # Unknown types (0 is reserved, 200 unassigned), as long as the
        # receive limit allows, are skipped.
        p.send(msg(0, b"") + msg(200, os.urandom(9216), flags=0xff))
        p.echo_ok()
        print("3 DATA messages of 2000, 10 and 0 bytes and 2 of unknown "
              "types: the link is still up (ECHO_REPLY received)")
        p.close()
    elif action == "hostile-hello":
        # A version far above ours, a nonzero reserved byte, and a software
        # string of quotes, a backslash, a newline, non-UTF-8 bytes and then
        # 165 bytes of control and high bytes: the link comes up and
        # vswitchd keeps what it shows sane.
        p = Peer(path)
        p.expect(HELLO)
        junk = b'"\\\n\xff\xfe{}=, ' + bytes(range(0, 32))
        junk += bytes(range(127, 256)) + b"\0\0\0\0"
        p.send(msg(HELLO, b"STAP" + bytes([200, 0xff]) + struct.pack("!H", 9018)
                   + junk))
        p.echo_ok()
        print("HELLO with version 200 and %d bytes of junk software: link up"
              % len(junk))
        # Hold the link while the shell looks at the status.
        input()
        p.echo_ok()
        p.close()
    elif action == "flood":
        # N tiny DATA messages of 0..63 bytes in one go.
        p = Peer(path)
        p.handshake()
        sizes = [i % 64 for i in range(n)]
        blob = b"".join(msg(DATA, frame(s)) for s in sizes)
        short = sum(1 for s in sizes if s < 14)
        t0 = time.monotonic()
        if not p.send(blob):
            raise Fail("vswitchd closed the connection during the flood")
        p.echo_ok(timeout=30)
        print("flood: %d DATA messages (%d bytes) in %.3f s, link still up; "
              "valid %d short %d" % (n, len(blob), time.monotonic() - t0,
                                     n - short, short))
        p.close()
    elif action == "rapid":
        # N connections opened and closed at once; every other one says
        # hello first.
        for i in range(n):
            p = Peer(path)
            if i % 2:
                p.send(hello())
            p.close()
        print("rapid: %d connections opened and closed (%d connect() "
              "attempts found the listen backlog full and were retried)"
              % (n, Peer.backlog_full))
    else:
        raise Fail("unknown action " + action)


try:
    main()
except Fail as e:
    print("FAILED: %s" % e)
    sys.exit(1)
except OSError as e:
    print("FAILED: %s" % e)
    sys.exit(1)
