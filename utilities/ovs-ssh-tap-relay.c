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

/* ovs-ssh-tap-relay: the far end of an ssh-tap link on a host that has no
 * ssh-tap port of its own, run by sshd as the command of a session channel.
 *
 * Standard input and output are the channel.  In --tap mode the relay is a
 * protocol endpoint (docs/protocol.md) that ties the link to a kernel tap
 * device; in --socket mode it only copies bytes between the channel and a
 * passive ssh-tap port's unix socket, which speaks the protocol itself.
 *
 * This program must run on hosts without Open vSwitch, so it includes no
 * OVS header and links only the frame codec.  Standard output carries the
 * protocol: nothing but whole messages may ever be written to it, which is
 * why diagnostics go to standard error and child processes get /dev/null as
 * their standard output. */

/* For ppoll(), pipe2() and strsignal(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "ssh-tap-link.h"
#include "ssh-tap-proto.h"

#ifndef SSH_TAP_VERSION
#define SSH_TAP_VERSION "0.1.0"
#endif

#define PROGRAM_NAME "ovs-ssh-tap-relay"


/* max_frame is the MTU plus an Ethernet header and one VLAN tag. */
#define ETH_OVERHEAD 18
#define MTU_MIN 68
#define MTU_MAX 9000

#define KEEPALIVE_DEFAULT 5     /* Seconds between our ECHO_REQUESTs. */
#define KEEPALIVE_MAX 3600

/* Buffer sizes.  The input buffer holds at least one largest message plus
 * what one read adds.  The output buffer holds many frames, so that a burst
 * from the tap leaves in one write(2), and still has room for a whole tap
 * read whenever we poll the tap. */
#define IN_SIZE (64 * 1024)
#define OUT_SIZE (1024 * 1024)
#define TAP_READ_MAX 65535      /* A tap read returns one frame, at most. */
#define TAP_BATCH 64            /* Frames read from the tap per wakeup. */
#define OUT_RESERVE 64          /* Output room kept for our own echoes. */
#define PIPE_SIZE (64 * 1024)   /* --socket: buffer in each direction. */
#define DRAIN_MS 1000           /* --socket: time to flush after a close. */

/* Set by the signal handler; the main loops check it after each ppoll(). */
static volatile sig_atomic_t stop_signal;

/* The signal mask ppoll() waits with: the original one, with the signals
 * that stop us unblocked.  They stay blocked everywhere else, so that one
 * arriving between a check of 'stop_signal' and ppoll() is not lost. */
static sigset_t wait_mask;
static sigset_t orig_mask;

/* Command line. */
struct options {
    const char *tap;
    const char *bridge;
    const char *socket;
    int mtu;                    /* 0: leave the tap's MTU alone. */
    int keepalive;              /* Seconds. */
};

/* --tap mode state. */
struct relay {
    const struct options *opts;

    int tap_fd;
    bool created;               /* We created the tap: it goes when we do. */
    bool ovs_port;              /* We added it to an OVS bridge. */

    /* The protocol on standard input and output: 'link.rx' holds what came
     * in and is not decoded yet, 'link.tx' whole messages to go out. */
    struct stap_link link;

    /* Counters, reported when the link closes. */
    uint64_t rx_frames;         /* Peer to tap. */
    uint64_t tx_frames;         /* Tap to peer. */
    uint64_t rx_dropped;        /* DATA too long or too short. */
    uint64_t tx_dropped;        /* Before the HELLO, or too long. */
    uint64_t tap_errors;        /* Writes the tap refused. */
};

static void usage(void) __attribute__((noreturn));

static void
msg(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints PROGRAM_NAME, ": " and the message to standard error, which sshd
 * passes back to the client as extended data (the port logs it). */
static void
msg(const char *format, ...)
{
    va_list args;
    char line[1024];

    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    /* One write, so that the line does not get interleaved with the
     * output of a child process that shares standard error. */
    dprintf(STDERR_FILENO, "%s: %s\n", PROGRAM_NAME, line);
}

static long long int
time_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long int) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
time_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------
 * Buffers. */

/* Writes as much of 'b' to 'fd' (non-blocking) as it takes.  Returns 0 if
 * that was all of it or all 'fd' would take now, otherwise an errno value.
 * Only whole messages are ever put into the buffer, so a partial write
 * merely leaves the rest of a message for next time: the peer sees the
 * same bytes, in the same order, whatever the split. */
static int
buf_flush(struct stap_buf *b, int fd)
{
    while (stap_buf_size(b)) {
        ssize_t n = write(fd, stap_buf_data(b), stap_buf_size(b));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
        }
        stap_buf_pull(b, (size_t) n);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Signals and file descriptors. */

static void
stop_handler(int signr)
{
    stop_signal = signr;
}

/* Stops on SIGTERM, SIGHUP and SIGINT through 'stop_signal', and turns
 * SIGPIPE into EPIPE from write(2): either way the main loop ends and the
 * cleanup (the tap, the OVS port) runs. */
static void
signals_init(void)
{
    static const int stop_signals[] = { SIGTERM, SIGHUP, SIGINT };
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++) {
        sigaction(stop_signals[i], &sa, NULL);
        sigaddset(&block, stop_signals[i]);
    }
    signal(SIGPIPE, SIG_IGN);

    sigprocmask(SIG_BLOCK, &block, &orig_mask);
    wait_mask = orig_mask;
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++) {
        sigdelset(&wait_mask, stop_signals[i]);
    }
}

/* Standard input and output are set non-blocking for the main loop (which
 * never blocks anywhere but in ppoll()) and restored on exit, since the
 * file descriptions may be shared with whoever started us. */
static int saved_flags[2] = { -1, -1 };

static bool
set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return false;
    }
    if (fd == STDIN_FILENO || fd == STDOUT_FILENO) {
        saved_flags[fd] = flags;
    }
    return true;
}

static void
restore_stdio_flags(void)
{
    for (int fd = 0; fd < 2; fd++) {
        if (saved_flags[fd] >= 0) {
            fcntl(fd, F_SETFL, saved_flags[fd]);
        }
    }
}

/* Waits for 'fds' like poll(), but returns early, with 0, when a stop
 * signal arrives.  'timeout' is in milliseconds, negative for none. */
static int
wait_fds(struct pollfd *fds, nfds_t n, long long int timeout)
{
    struct timespec ts, *tsp = NULL;

    if (timeout >= 0) {
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (timeout % 1000) * 1000000;
        tsp = &ts;
    }
    int retval = ppoll(fds, n, tsp, &wait_mask);
    if (retval < 0 && errno == EINTR) {
        return 0;
    }
    return retval;
}

/* ------------------------------------------------------------------------
 * Child processes (ovs-vsctl). */

/* Runs 'argv' (looked up in $PATH) and waits for it.  Its standard input
 * and output are /dev/null: our standard output is the protocol stream.
 * Its standard error is ours.  Returns the exit status, or -1 if it could
 * not be run or died of a signal ('*errnop' says why if it could not be
 * run). */
static int
run_command(char *const argv[], int *errnop)
{
    int pipefd[2];

    *errnop = 0;
    /* The pipe tells the parent whether exec failed, and with which errno:
     * "command not found" deserves its own message. */
    if (pipe2(pipefd, O_CLOEXEC)) {
        *errnop = errno;
        return -1;
    }

    pid_t pid = fork();
    if (pid < 0) {
        *errnop = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    } else if (!pid) {
        int null = open("/dev/null", O_RDWR);

        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &orig_mask, NULL);
        execvp(argv[0], argv);

        int error = errno;
        if (write(pipefd[1], &error, sizeof error) < 0) {
            /* Nothing more to be done. */
        }
        _exit(127);
    }

    close(pipefd[1]);
    int error;
    ssize_t n;
    do {
        n = read(pipefd[0], &error, sizeof error);
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            *errnop = errno;
            return -1;
        }
    }
    if (n == sizeof error) {
        *errnop = error;
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------------
 * The tap device. */

/* Returns an AF_INET datagram socket for interface ioctls, or -1. */
static int
ioctl_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        msg("cannot create a socket for interface ioctls: %s",
            strerror(errno));
    }
    return fd;
}

/* Creates tap 'name', or attaches to it if it already exists.  Sets
 * 'r->tap_fd' and 'r->created'.  Returns false after printing why not.
 *
 * IFF_TUN_EXCL makes creation and "it already exists" one atomic
 * decision, so the relay never mistakes a tap someone else made for its
 * own, and so never deletes one it did not create.  A tap we create is not
 * persistent: the kernel deletes it as soon as our descriptor closes, even
 * if we are killed with SIGKILL. */
static bool
tap_open(struct relay *r, const char *name)
{
    struct ifreq ifr;

    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int error = errno;
        msg("cannot open /dev/net/tun: %s%s", strerror(error),
            error == ENOENT ? " (is the tun module loaded?)"
            : error == EACCES ? " (run as root, or make it mode 0666, as "
                                "udev does, to use a tap made for this "
                                "user)"
            : "");
        return false;
    }

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    /* ifr_flags is a short, IFF_TUN_EXCL its sign bit: the kernel reads
     * the field as unsigned. */
    ifr.ifr_flags = (short) (IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL);
    if (!ioctl(fd, TUNSETIFF, &ifr)) {
        r->created = true;
    } else if (errno == EBUSY) {
        /* 'name' exists.  Attach to it if it is a tap nobody is using. */
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        if (ioctl(fd, TUNSETIFF, &ifr)) {
            int error = errno;
            msg("cannot attach to tap %s: %s%s", name, strerror(error),
                error == EINVAL ? " (it exists and is not a single-queue tap "
                                  "device)"
                : error == EBUSY ? " (another program has it open)"
                : error == EPERM ? " (it belongs to another user: needs "
                                   "CAP_NET_ADMIN, or \"ip tuntap add ... "
                                   "user USER\")"
                : "");
            close(fd);
            return false;
        }
        r->created = false;
    } else {
        int error = errno;
        msg("cannot create tap %s: %s%s", name, strerror(error),
            error == EPERM ? " (needs CAP_NET_ADMIN: run as root or grant "
                             "the capability)" : "");
        close(fd);
        return false;
    }
    r->tap_fd = fd;
    return true;
}

/* Brings tap 'name' up, sets its MTU to 'mtu' unless that is 0, and reads
 * back the MTU into '*mtup'.  Either change is skipped if it is already
 * so, so that an unprivileged relay can use a tap that an administrator
 * prepared.  Returns false after printing why not. */
static bool
tap_configure(const char *name, int mtu, int *mtup)
{
    const char *hint = " (needs CAP_NET_ADMIN, or configure the tap "
                       "beforehand)";
    struct ifreq ifr;
    bool ok = false;

    int s = ioctl_socket();
    if (s < 0) {
        return false;
    }

    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (mtu) {
        if (ioctl(s, SIOCGIFMTU, &ifr)) {
            msg("cannot get the MTU of %s: %s", name, strerror(errno));
            goto out;
        }
        if (ifr.ifr_mtu != mtu) {
            ifr.ifr_mtu = mtu;
            if (ioctl(s, SIOCSIFMTU, &ifr)) {
                msg("cannot set the MTU of %s to %d: %s%s", name, mtu,
                    strerror(errno), errno == EPERM ? hint : "");
                goto out;
            }
        }
    }
    if (ioctl(s, SIOCGIFMTU, &ifr)) {
        msg("cannot get the MTU of %s: %s", name, strerror(errno));
        goto out;
    }
    *mtup = ifr.ifr_mtu;

    if (ioctl(s, SIOCGIFFLAGS, &ifr)) {
        msg("cannot get the flags of %s: %s", name, strerror(errno));
        goto out;
    }
    if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
            msg("cannot bring up %s: %s%s", name, strerror(errno),
                errno == EPERM ? hint : "");
            goto out;
        }
    }
    ok = true;

out:
    close(s);
    return ok;
}

/* Returns true if network device 'name' is already a port of Linux bridge
 * 'bridge'. */
static bool
in_linux_bridge(const char *name, const char *bridge)
{
    char path[64 + IFNAMSIZ], target[PATH_MAX];

    snprintf(path, sizeof path, "/sys/class/net/%s/master", name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
        return false;
    }
    target[n] = '\0';
    const char *slash = strrchr(target, '/');
    return !strcmp(slash ? slash + 1 : target, bridge);
}

/* Adds tap 'name' to 'bridge', a Linux bridge (which has a "bridge"
 * directory in sysfs) or else an Open vSwitch bridge (through ovs-vsctl,
 * so that the relay needs no OVS library and works with any OVS version;
 * an OVS bridge need not have a network device in this namespace).
 * Returns false after printing why not. */
static bool
bridge_add(struct relay *r, const char *name, const char *bridge)
{
    char path[64 + IFNAMSIZ];
    int error;

    snprintf(path, sizeof path, "/sys/class/net/%s/bridge", bridge);
    if (!access(path, F_OK)) {
        if (in_linux_bridge(name, bridge)) {
            return true;
        }

        struct ifreq ifr;
        int s = ioctl_socket();
        if (s < 0) {
            return false;
        }
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", bridge);
        ifr.ifr_ifindex = (int) if_nametoindex(name);
        error = ioctl(s, SIOCBRADDIF, &ifr) ? errno : 0;
        close(s);
        if (error) {
            msg("cannot add %s to Linux bridge %s: %s%s", name, bridge,
                strerror(error),
                error == EPERM ? " (needs CAP_NET_ADMIN)"
                : error == EBUSY ? " (it is a port of another bridge)" : "");
            return false;
        }
        return true;
    }

    char *exists[] = { "ovs-vsctl", "--timeout=10", "br-exists",
                       (char *) bridge, NULL };
    int status = run_command(exists, &error);
    if (status == 2) {
        msg("cannot add %s to bridge %s: there is no Linux bridge or Open "
            "vSwitch bridge %s", name, bridge, bridge);
        return false;
    } else if (status != 0) {
        msg("cannot add %s to bridge %s: it is not a Linux bridge, and "
            "\"ovs-vsctl br-exists\" failed%s%s", name, bridge,
            error ? ": cannot run ovs-vsctl: " : "",
            error ? strerror(error) : "");
        return false;
    }

    char *add[] = { "ovs-vsctl", "--timeout=10", "--", "--may-exist",
                    "add-port", (char *) bridge, (char *) name, NULL };
    status = run_command(add, &error);
    if (status != 0) {
        msg("cannot add %s to Open vSwitch bridge %s: \"ovs-vsctl "
            "add-port\" failed%s%s", name, bridge,
            error ? ": cannot run ovs-vsctl: " : "",
            error ? strerror(error) : "");
        return false;
    }
    /* A tap we created vanishes with us; its port must go too, or OVS
     * would keep reporting a missing device.  A tap that was there before
     * stays, and so does its port. */
    r->ovs_port = r->created;
    return true;
}

/* Undoes what the relay did to the system: removes the OVS port of a tap
 * it created, and deletes that tap (by closing it: it is not persistent). */
static void
tap_cleanup(struct relay *r)
{
    if (r->ovs_port) {
        char *del[] = { "ovs-vsctl", "--timeout=10", "--", "--if-exists",
                        "del-port", (char *) r->opts->bridge,
                        (char *) r->opts->tap, NULL };
        int error;

        if (run_command(del, &error) != 0) {
            msg("could not remove port %s from Open vSwitch bridge %s",
                r->opts->tap, r->opts->bridge);
        }
        r->ovs_port = false;
    }
    if (r->tap_fd >= 0) {
        close(r->tap_fd);
        r->tap_fd = -1;
    }
}

/* ------------------------------------------------------------------------
 * --tap: the I/O shell around the protocol endpoint (ssh-tap-link.c). */

/* Writes one frame from the peer to the tap. */
static void
tap_write_frame(struct relay *r, const struct stap_frame *frame)
{
    ssize_t n;
    do {
        n = write(r->tap_fd, frame->data, frame->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (!r->tap_errors) {
            msg("%s: cannot write a frame: %s (counting, not logging, "
                "further errors)", r->opts->tap, strerror(errno));
        }
        r->tap_errors++;
    } else {
        r->rx_frames++;
    }
}

/* Reads from standard input and handles every complete message.  Returns
 * 0 to go on, 1 when the peer closed the channel, -1 on an error (printed
 * here). */
static int
read_stdin(struct relay *r)
{
    struct stap_link *l = &r->link;
    size_t room;

    /* A reply is as long as its request: reading no more than the output
     * buffer has room for, beyond OUT_RESERVE for our own requests, leaves
     * room for the replies to all that is read. */
    uint8_t *p = stap_link_rx_room(l, &room);
    size_t out_room = stap_buf_free(&l->tx) - OUT_RESERVE;
    if (room > out_room) {
        room = out_room;
    }

    ssize_t n = read(STDIN_FILENO, p, room);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        msg("%s: cannot read from the channel: %s", r->opts->tap,
            strerror(errno));
        return -1;
    } else if (!n) {
        return 1;
    }
    long long int now = time_usec();
    stap_link_rx_done(l, (size_t) n, now);

    for (;;) {
        struct stap_frame frame;

        switch (stap_link_next(l, now, true, &frame)) {
        case STAP_LINK_NONE:
            return 0;
        case STAP_LINK_FRAME:
            tap_write_frame(r, &frame);
            break;
        case STAP_LINK_TOO_LONG:
        case STAP_LINK_TOO_SHORT:
        case STAP_LINK_BAD_OFFLOAD:
            /* Dropped, never truncated: the stream itself is intact.  (The
             * relay does not offer offloads, so the link closes on any
             * DATA_OFFLOAD before it could be bad.) */
            r->rx_dropped++;
            break;
        case STAP_LINK_WENT_UP:
            msg("%s: link up: peer \"%s\", protocol version %d, max_frame "
                "%u", r->opts->tap, l->peer.software, stap_link_version(l),
                l->peer.max_frame);
            break;
        case STAP_LINK_CLOSED_NOW:
            msg("%s: closing: %s", r->opts->tap, stap_link_reason(l));
            return -1;
        }
    }
}

/* Reads up to TAP_BATCH frames from the tap straight into the output
 * buffer, each behind a DATA header, so that they all leave in the next
 * write(2).  Returns false on an error (printed here). */
static bool
read_tap(struct relay *r)
{
    struct stap_link *l = &r->link;

    for (int i = 0; i < TAP_BATCH; i++) {
        size_t room;
        uint8_t *hdr = stap_buf_room(&l->tx, STAP_HDR_LEN + TAP_READ_MAX,
                                     &room);
        if (!hdr) {
            break;
        }

        ssize_t n = read(r->tap_fd, hdr + STAP_HDR_LEN, TAP_READ_MAX);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            msg("%s: cannot read from the tap: %s", r->opts->tap,
                strerror(errno));
            return false;
        }

        /* Until the peer's HELLO we do not know what it accepts, or
         * whether it speaks the protocol at all: the limit is 0 and
         * nothing but HELLO is sent yet. */
        int limit = stap_link_frame_limit(l);
        if (!limit || n > limit) {
            r->tx_dropped++;
            continue;
        }
        stap_encode_data_header(hdr, (size_t) n);
        stap_buf_commit(&l->tx, STAP_HDR_LEN + (size_t) n);
        r->tx_frames++;
    }
    return true;
}

/* Runs the link until it closes.  Returns the exit status. */
static int
run_tap_link(struct relay *r)
{
    struct stap_link *l = &r->link;
    const char *why = NULL;
    int status = EXIT_SUCCESS;

    stap_link_open(l, time_usec());
    for (;;) {
        struct pollfd fds[3];
        nfds_t n = 0;
        int error;

        if (stop_signal) {
            why = strsignal(stop_signal);
            break;
        }

        /* Keepalives, and liveness, which applies from the start, so that
         * a peer that never sends its HELLO cannot hold the tap forever. */
        if (stap_link_run(l, time_usec()) == STAP_LINK_CLOSED) {
            msg("%s: closing: %s", r->opts->tap, stap_link_reason(l));
            status = EXIT_FAILURE;
            break;
        }

        error = buf_flush(&l->tx, STDOUT_FILENO);
        if (error == EPIPE) {
            why = "the channel closed";
            break;
        } else if (error) {
            msg("%s: cannot write to the channel: %s", r->opts->tap,
                strerror(error));
            status = EXIT_FAILURE;
            break;
        }

        /* Stop reading whatever would overfill the output buffer: the
         * channel's own flow control then pushes back on the peer, and the
         * tap's queue on the local side. */
        int in_idx = -1, tap_idx = -1;
        size_t rx_room;
        stap_link_rx_room(l, &rx_room);
        if (rx_room
            && stap_buf_free(&l->tx) > OUT_RESERVE + STAP_ECHO_MSG_LEN) {
            in_idx = n;
            fds[n++] = (struct pollfd) { .fd = STDIN_FILENO,
                                         .events = POLLIN };
        }
        if (stap_buf_free(&l->tx) >= STAP_HDR_LEN + TAP_READ_MAX
                                     + OUT_RESERVE) {
            tap_idx = n;
            fds[n++] = (struct pollfd) { .fd = r->tap_fd, .events = POLLIN };
        }
        if (stap_buf_size(&l->tx)) {
            fds[n++] = (struct pollfd) { .fd = STDOUT_FILENO,
                                         .events = POLLOUT };
        }

        long long int timeout = stap_link_deadline(l) - time_msec();
        if (wait_fds(fds, n, timeout < 0 ? 0 : timeout) < 0) {
            msg("poll failed: %s", strerror(errno));
            status = EXIT_FAILURE;
            break;
        }

        if (in_idx >= 0 && fds[in_idx].revents) {
            int retval = read_stdin(r);
            if (retval > 0) {
                why = "the peer closed the channel";
                break;
            } else if (retval < 0) {
                status = EXIT_FAILURE;
                break;
            }
        }
        if (tap_idx >= 0 && fds[tap_idx].revents && !read_tap(r)) {
            status = EXIT_FAILURE;
            break;
        }
    }
    stap_link_close(l);

    if (why) {
        msg("%s: closing: %s", r->opts->tap, why);
    }
    msg("%s: %"PRIu64" frames to the tap, %"PRIu64" from it; dropped %"PRIu64
        " from the peer (bad length), %"PRIu64" for the peer, %"PRIu64
        " tap write errors", r->opts->tap, r->rx_frames, r->tx_frames,
        r->rx_dropped, r->tx_dropped, r->tap_errors);
    return status;
}

static int
do_tap(const struct options *opts)
{
    struct relay r;
    int mtu;

    memset(&r, 0, sizeof r);
    r.opts = opts;
    r.tap_fd = -1;

    if (!tap_open(&r, opts->tap)) {
        return EXIT_FAILURE;
    }
    if (!tap_configure(opts->tap, opts->mtu, &mtu)
        || (opts->bridge && !bridge_add(&r, opts->tap, opts->bridge))) {
        tap_cleanup(&r);
        return EXIT_FAILURE;
    }
    if (mtu < MTU_MIN || mtu > MTU_MAX) {
        /* An existing tap may have any MTU; what we advertise must stay
         * within what version 1 peers can receive. */
        int clamped = mtu < MTU_MIN ? MTU_MIN : MTU_MAX;
        msg("%s: MTU %d is outside %d..%d: advertising %d", opts->tap, mtu,
            MTU_MIN, MTU_MAX, clamped);
        mtu = clamped;
    }

    msg("%s: %s, mtu %d%s%s", opts->tap,
        r.created ? "created" : "attached to existing tap", mtu,
        opts->bridge ? ", bridge " : "", opts->bridge ? opts->bridge : "");

    int status = EXIT_FAILURE;
    if (!set_nonblocking(STDIN_FILENO) || !set_nonblocking(STDOUT_FILENO)) {
        msg("cannot make standard input and output non-blocking: %s",
            strerror(errno));
    } else {
        stap_link_init(&r.link, PROGRAM_NAME " " SSH_TAP_VERSION,
                       (uint16_t) (mtu + ETH_OVERHEAD),
                       opts->keepalive * 1000, IN_SIZE, OUT_SIZE);
        status = run_tap_link(&r);
        stap_link_destroy(&r.link);
    }
    tap_cleanup(&r);
    return status;
}

/* ------------------------------------------------------------------------
 * --socket: a byte pump. */

/* One direction of the copy. */
struct pump {
    int in, out;
    struct stap_buf buf;
    const char *in_name, *out_name;
};

static int
connect_socket(const char *path)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        msg("%s: socket path too long (at most %zu bytes)", path,
            sizeof sun.sun_path - 1);
        return -1;
    }
    strcpy(sun.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        msg("cannot create a unix socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        int error = errno;
        msg("cannot connect to %s: %s%s", path, strerror(error),
            error == EACCES ? " (this account needs write access to the "
                              "socket: see the port's options:socket_group)"
            : error == ENOENT || error == ECONNREFUSED
            ? " (is the passive ssh-tap port there?)" : "");
        close(fd);
        return -1;
    }
    return fd;
}

static int
do_socket(const struct options *opts)
{
    int fd = connect_socket(opts->socket);
    if (fd < 0) {
        return EXIT_FAILURE;
    }
    if (!set_nonblocking(fd) || !set_nonblocking(STDIN_FILENO)
        || !set_nonblocking(STDOUT_FILENO)) {
        msg("cannot make file descriptors non-blocking: %s",
            strerror(errno));
        close(fd);
        return EXIT_FAILURE;
    }

    struct pump pumps[2] = {
        { STDIN_FILENO, fd, { 0 }, "the channel", opts->socket },
        { fd, STDOUT_FILENO, { 0 }, opts->socket, "the channel" },
    };
    stap_buf_init(&pumps[0].buf, PIPE_SIZE);
    stap_buf_init(&pumps[1].buf, PIPE_SIZE);

    /* Once either side closes (or a signal arrives) the link is over, but
     * bytes already read still get a short chance to reach the other
     * side, as they would through a plain pipe. */
    long long int drain_until = 0;
    const char *why = NULL;
    int status = EXIT_SUCCESS;

    for (;;) {
        struct pollfd fds[4];
        int idx[4];
        nfds_t n = 0;

        if (stop_signal && !why) {
            why = strsignal(stop_signal);
            drain_until = time_msec() + DRAIN_MS;
        }
        for (int i = 0; i < 2; i++) {
            struct pump *p = &pumps[i];
            int error = buf_flush(&p->buf, p->out);
            if (error == EPIPE || error == ECONNRESET) {
                why = why ? why : "the other side closed";
                goto done;
            } else if (error) {
                msg("cannot write to %s: %s", p->out_name, strerror(error));
                status = EXIT_FAILURE;
                goto done;
            }
        }
        if (why && ((!stap_buf_size(&pumps[0].buf)
                     && !stap_buf_size(&pumps[1].buf))
                    || time_msec() >= drain_until)) {
            break;
        }

        for (int i = 0; i < 2; i++) {
            struct pump *p = &pumps[i];
            if (stap_buf_size(&p->buf)) {
                idx[n] = i;
                fds[n++] = (struct pollfd) { .fd = p->out,
                                             .events = POLLOUT };
            } else if (!why) {
                idx[n] = i;
                fds[n++] = (struct pollfd) { .fd = p->in, .events = POLLIN };
            }
        }
        long long int timeout = why ? drain_until - time_msec() : -1;
        if (wait_fds(fds, n, why && timeout < 0 ? 0 : timeout) < 0) {
            msg("poll failed: %s", strerror(errno));
            status = EXIT_FAILURE;
            break;
        }

        for (nfds_t j = 0; j < n && !why; j++) {
            struct pump *p = &pumps[idx[j]];
            if (!(fds[j].events & POLLIN) || !fds[j].revents) {
                continue;
            }
            /* Only an empty buffer is read into, so this is all of it. */
            size_t room;
            uint8_t *dst = stap_buf_room(&p->buf, PIPE_SIZE, &room);
            ssize_t got = read(p->in, dst, room);
            if (got > 0) {
                stap_buf_commit(&p->buf, (size_t) got);
            } else if (!got || errno == ECONNRESET) {
                why = p->in == fd ? "the socket closed"
                                  : "the peer closed the channel";
                drain_until = time_msec() + DRAIN_MS;
            } else if (errno != EINTR && errno != EAGAIN
                       && errno != EWOULDBLOCK) {
                msg("cannot read from %s: %s", p->in_name, strerror(errno));
                status = EXIT_FAILURE;
                goto done;
            }
        }
    }

done:
    if (why) {
        msg("%s: closing: %s", opts->socket, why);
    }
    close(fd);
    stap_buf_uninit(&pumps[0].buf);
    stap_buf_uninit(&pumps[1].buf);
    return status;
}

/* ------------------------------------------------------------------------
 * Command line. */

/* Returns true if 'name' can be a network device name: what the kernel's
 * dev_valid_name() accepts, minus '%' (a name template would make the
 * kernel pick a name we did not ask for) and a leading '-' (which would
 * look like an option to ovs-vsctl). */
static bool
ifname_is_valid(const char *name)
{
    size_t len = strlen(name);

    if (!len || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, "..")
        || name[0] == '-') {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (*p == '/' || *p == ':' || *p == '%' || *p <= ' ' || *p > '~') {
            return false;
        }
    }
    return true;
}

static int
parse_int(const char *option, const char *s, int min, int max)
{
    char *end;

    errno = 0;
    long value = strtol(s, &end, 10);
    if (errno || end == s || *end || value < min || value > max) {
        msg("%s: '%s' is not an integer in %d..%d (use --help for help)",
            option, s, min, max);
        exit(EXIT_FAILURE);
    }
    return (int) value;
}

static void
parse_options(int argc, char *argv[], struct options *opts)
{
    static const struct option long_options[] = {
        {"tap", required_argument, NULL, 't'},
        {"bridge", required_argument, NULL, 'b'},
        {"mtu", required_argument, NULL, 'm'},
        {"keepalive", required_argument, NULL, 'k'},
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };

    memset(opts, 0, sizeof *opts);
    opts->keepalive = KEEPALIVE_DEFAULT;
    bool tap_only = false;

    for (;;) {
        int c = getopt_long(argc, argv, "hV", long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case 't':
            opts->tap = optarg;
            break;
        case 'b':
            opts->bridge = optarg;
            tap_only = true;
            break;
        case 'm':
            opts->mtu = parse_int("--mtu", optarg, MTU_MIN, MTU_MAX);
            tap_only = true;
            break;
        case 'k':
            opts->keepalive = parse_int("--keepalive", optarg, 1,
                                        KEEPALIVE_MAX);
            tap_only = true;
            break;
        case 's':
            opts->socket = optarg;
            break;
        case 'h':
            usage();
        case 'V':
            printf("%s (ovs-ssh-tap) %s\n", PROGRAM_NAME, SSH_TAP_VERSION);
            exit(EXIT_SUCCESS);
        case '?':
        default:
            /* getopt_long() has said what was wrong. */
            msg("use --help for help");
            exit(EXIT_FAILURE);
        }
    }

    if (optind < argc) {
        msg("unexpected argument '%s' (use --help for help)", argv[optind]);
        exit(EXIT_FAILURE);
    }
    if (!opts->tap == !opts->socket) {
        msg("exactly one of --tap and --socket is required (use --help for "
            "help)");
        exit(EXIT_FAILURE);
    }
    if (opts->socket && tap_only) {
        msg("--bridge, --mtu and --keepalive go with --tap only");
        exit(EXIT_FAILURE);
    }
    if (opts->tap && !ifname_is_valid(opts->tap)) {
        msg("--tap: '%s' is not a valid network device name", opts->tap);
        exit(EXIT_FAILURE);
    }
    if (opts->bridge && !ifname_is_valid(opts->bridge)) {
        msg("--bridge: '%s' is not a valid network device name",
            opts->bridge);
        exit(EXIT_FAILURE);
    }
    if (opts->socket && !opts->socket[0]) {
        msg("--socket: empty path");
        exit(EXIT_FAILURE);
    }
}

static void
usage(void)
{
    printf("%s: the far end of an ssh-tap link, run by sshd\n"
           "usage: %s --tap=NAME [--bridge=BR] [--mtu=N] [--keepalive=SECS]\n"
           "       %s --socket=PATH\n"
           "\n"
           "Speaks the ssh-tap framing protocol on standard input and output\n"
           "(an SSH session channel) and ties the link to one of:\n"
           "  --tap=NAME        kernel tap device NAME, created if it does\n"
           "                    not exist (and then removed on exit)\n"
           "  --socket=PATH     the unix socket of a passive ssh-tap port\n"
           "\n"
           "Options for --tap:\n"
           "  --bridge=BR       add the tap to BR, a Linux bridge or an Open\n"
           "                    vSwitch bridge\n"
           "  --mtu=N           set the tap's MTU to N (%d..%d)\n"
           "  --keepalive=SECS  seconds between keepalives (default %d); the\n"
           "                    link closes after %d silent intervals\n"
           "\n"
           "Other options:\n"
           "  -h, --help        display this help message\n"
           "  -V, --version     display version information\n",
           PROGRAM_NAME, PROGRAM_NAME, PROGRAM_NAME, MTU_MIN, MTU_MAX,
           KEEPALIVE_DEFAULT, STAP_LINK_DEAD_INTERVALS);
    exit(EXIT_SUCCESS);
}

int
main(int argc, char *argv[])
{
    struct options opts;

    parse_options(argc, argv, &opts);
    signals_init();

    int status = opts.tap ? do_tap(&opts) : do_socket(&opts);
    restore_stdio_flags();
    return status;
}
