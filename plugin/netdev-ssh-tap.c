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

/* The "ssh-tap" netdev class: the OVS glue.
 *
 * Each port has at most one link: a non-blocking stream socket on which the
 * framing protocol of docs/protocol.md runs.  For an active port the link is
 * the main thread's end of a socketpair whose other end an SSH session thread
 * (ssh-tap-session.c) ties to an SSH channel; for a passive port it is a
 * connection accepted on the port's unix socket, made by the far end's sshd.
 * Everything in this file runs on vswitchd's main thread (or a datapath
 * thread calling send()) and never blocks: reads and writes are
 * non-blocking, and what cannot be written at once waits in a bounded
 * buffer, beyond which frames are dropped and counted. */

#include <config.h>

#include "netdev-ssh-tap.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coverage.h"
#include "dirs.h"
#include "dp-packet.h"
#include "dpif-netdev.h"
#include "fatal-signal.h"
#include "netdev-provider.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "packets.h"
#include "smap.h"
#include "socket-util.h"
#include "ssh-tap-link.h"
#include "ssh-tap-options.h"
#include "ssh-tap-proto.h"
#include "ssh-tap-session.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(netdev_ssh_tap);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

COVERAGE_DEFINE(ssh_tap_protocol_error);
COVERAGE_DEFINE(ssh_tap_tx_queue_full);
COVERAGE_DEFINE(ssh_tap_oversize);

/* Largest MTU a port accepts.  STAP_RX_LIMIT leaves room for its frames. */
#define SSH_TAP_MAX_MTU 9000

/* Receive buffer: room for many frames per read().  Allocated only while
 * there is a link. */
#define RXBUF_SIZE (128 * 1024)

/* Bytes that may wait in user space when the link's socket is full.  A
 * partly written batch always fits, so framing is never broken; beyond this
 * new frames are dropped and counted as tx_dropped. */
#define TXBUF_MAX (1024 * 1024)

#define SSH_TAP_SOFTWARE "ovs-ssh-tap " SSH_TAP_VERSION

struct netdev_ssh_tap {
    struct netdev up;

    /* In ssh_tap_list, guarded by ssh_tap_list_mutex. */
    struct ovs_list list_node;

    struct ovs_mutex mutex;
    struct eth_addr etheraddr OVS_GUARDED;
    int mtu OVS_GUARDED;
    enum netdev_flags flags OVS_GUARDED;
    struct netdev_stats stats OVS_GUARDED;
    struct smap config OVS_GUARDED;     /* Options as given. */
    struct ssh_tap_options opts OVS_GUARDED;
    bool configured OVS_GUARDED;

    /* Passive ports. */
    int listen_fd OVS_GUARDED;
    char *listen_path OVS_GUARDED;

    /* Active ports. */
    struct ssh_tap_session *session OVS_GUARDED;

    /* The link: the connection, and the protocol on it. */
    int fd OVS_GUARDED;                 /* -1 if none. */
    struct stap_link link OVS_GUARDED;
    long long int carrier_resets OVS_GUARDED;
    unsigned int n_links OVS_GUARDED;
    char *last_error OVS_GUARDED;
    bool changed OVS_GUARDED;           /* Tell the bridge in run(). */
};

struct netdev_rxq_ssh_tap {
    struct netdev_rxq up;
};

static struct ovs_mutex ssh_tap_list_mutex = OVS_MUTEX_INITIALIZER;
static struct ovs_list ssh_tap_list OVS_GUARDED_BY(ssh_tap_list_mutex)
    = OVS_LIST_INITIALIZER(&ssh_tap_list);

static const struct netdev_class ssh_tap_class;

static bool
is_ssh_tap_class(const struct netdev_class *class)
{
    return class->construct == ssh_tap_class.construct;
}

static struct netdev_ssh_tap *
netdev_ssh_tap_cast(const struct netdev *netdev)
{
    ovs_assert(is_ssh_tap_class(netdev_get_class(netdev)));
    return CONTAINER_OF(netdev, struct netdev_ssh_tap, up);
}

static struct netdev_rxq_ssh_tap *
netdev_rxq_ssh_tap_cast(const struct netdev_rxq *rx)
{
    return CONTAINER_OF(rx, struct netdev_rxq_ssh_tap, up);
}

static int
max_frame(int mtu)
{
    return mtu + VLAN_ETH_HEADER_LEN;
}

/* The link: the I/O shell around dev->link (ssh-tap-link.c), which holds
 * the protocol itself. */

static void link_flush(struct netdev_ssh_tap *) OVS_REQUIRES(dev->mutex);

static void
link_close(struct netdev_ssh_tap *dev, const char *fmt, ...)
    OVS_REQUIRES(dev->mutex) OVS_PRINTF_FORMAT(2, 3);

/* Who is at the other end, for logs: the far host of an active port, the
 * far end behind the socket of a passive one. */
static const char *
link_peer_name(const struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->opts.active) {
        return dev->opts.host;
    }
    return dev->listen_path ? dev->listen_path : "the far end";
}

static void
link_close(struct netdev_ssh_tap *dev, const char *fmt, ...)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->fd < 0) {
        return;
    }

    if (fmt) {
        va_list args;

        va_start(args, fmt);
        free(dev->last_error);
        dev->last_error = xvasprintf(fmt, args);
        va_end(args);
        VLOG_WARN_RL(&rl, "%s: link with %s closed: %s",
                     netdev_get_name(&dev->up), link_peer_name(dev),
                     dev->last_error);
    } else {
        VLOG_INFO("%s: link with %s closed", netdev_get_name(&dev->up),
                  link_peer_name(dev));
    }

    close(dev->fd);
    dev->fd = -1;
    if (stap_link_close(&dev->link)) {
        dev->carrier_resets++;
    }
    dev->changed = true;
}

/* Closes the connection of a link that closed itself. */
static void
link_closed_itself(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->link.cause == STAP_CAUSE_PROTOCOL) {
        COVERAGE_INC(ssh_tap_protocol_error);
        dev->stats.rx_errors++;
    }
    link_close(dev, "%s", stap_link_reason(&dev->link));
}

/* Writes 'n_iov' buffers totalling 'total' bytes, whole messages, to the
 * link: straight from the caller's buffers if nothing is queued, and
 * queues what the socket does not take.  Returns false, writing nothing,
 * if they would overflow the queue. */
static bool
link_write(struct netdev_ssh_tap *dev, const struct iovec *iov, int n_iov,
           size_t total)
    OVS_REQUIRES(dev->mutex)
{
    struct stap_buf *tx = &dev->link.tx;
    size_t written = 0;

    if (total > stap_buf_free(tx)) {
        return false;
    }
    if (!stap_buf_size(tx)) {
        struct msghdr msg = { .msg_iov = CONST_CAST(struct iovec *, iov),
                              .msg_iovlen = n_iov };
        ssize_t n = sendmsg(dev->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                link_close(dev, "write failed: %s", ovs_strerror(errno));
                return true;
            }
        } else {
            written = n;
        }
    }

    /* Keep the unwritten rest, so that no message is ever cut. */
    for (int i = 0; i < n_iov; i++) {
        if (written >= iov[i].iov_len) {
            written -= iov[i].iov_len;
        } else {
            stap_buf_put(tx, (const uint8_t *) iov[i].iov_base + written,
                         iov[i].iov_len - written);
            written = 0;
        }
    }
    if (stap_buf_size(tx)) {
        COVERAGE_INC(ssh_tap_tx_queue_full);
    }
    return true;
}

/* Writes what the link has queued: HELLOs, echoes, and frames the socket
 * did not take at once. */
static void
link_flush(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    struct stap_buf *tx = &dev->link.tx;

    if (dev->fd < 0 || !stap_buf_size(tx)) {
        return;
    }
    ssize_t n = send(dev->fd, stap_buf_data(tx), stap_buf_size(tx),
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
        stap_buf_pull(tx, n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        link_close(dev, "write failed: %s", ovs_strerror(errno));
    }
}

static void
link_install(struct netdev_ssh_tap *dev, int fd, const char *how)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->fd >= 0) {
        link_close(dev, "replaced by a new connection");
    }
    dev->fd = fd;
    stap_link_set_keepalive(&dev->link, dev->opts.keepalive_ms);
    stap_link_set_max_frame(&dev->link, max_frame(dev->mtu));
    stap_link_open(&dev->link, time_usec());
    dev->n_links++;
    dev->changed = true;
    VLOG_INFO("%s: link with %s %s, sending hello",
              netdev_get_name(&dev->up), link_peer_name(dev), how);
    link_flush(dev);
}

static void
link_went_up(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    const struct stap_hello *peer = &dev->link.peer;

    dev->changed = true;
    free(dev->last_error);
    dev->last_error = NULL;
    VLOG_INFO("%s: link up: peer speaks protocol version %d (%s), "
              "accepts frames up to %d bytes", netdev_get_name(&dev->up),
              peer->version, peer->software, peer->max_frame);
}

/* Counts a DATA message that the link dropped for its length.  The RFC
 * 2819 counters are the ones OVS shows in Interface:statistics. */
static void
link_count_bad_length(struct netdev_ssh_tap *dev, bool too_long)
    OVS_REQUIRES(dev->mutex)
{
    COVERAGE_INC(ssh_tap_oversize);
    dev->stats.rx_dropped++;
    dev->stats.rx_length_errors++;
    if (too_long) {
        dev->stats.rx_oversize_errors++;
    } else {
        dev->stats.rx_undersized_errors++;
    }
    dev->stats.rx_errors++;
}

/* Hands one received frame to 'batch', or drops it without a batch (not in
 * a datapath: nobody to hand it to). */
static void
link_deliver(struct netdev_ssh_tap *dev, const struct stap_frame *frame,
             struct dp_packet_batch *batch)
    OVS_REQUIRES(dev->mutex)
{
    if (!batch) {
        dev->stats.rx_dropped++;
        return;
    }

    struct dp_packet *pkt
        = dp_packet_new_with_headroom(frame->len, DP_NETDEV_HEADROOM);
    dp_packet_put(pkt, frame->data, frame->len);
    dp_packet_batch_add(batch, pkt);
    dev->stats.rx_packets++;
    dev->stats.rx_bytes += frame->len;
}

/* Decodes what the link has received, adding frames to 'batch' until it is
 * full.  Without a batch, frames are dropped, unless 'control_only', which
 * stops at the first frame and leaves it for rxq_recv(). */
static void
link_decode(struct netdev_ssh_tap *dev, struct dp_packet_batch *batch,
            bool control_only)
    OVS_REQUIRES(dev->mutex)
{
    long long int now = time_usec();

    while (dev->fd >= 0 && (!batch || !dp_packet_batch_is_full(batch))) {
        struct stap_frame frame;

        switch (stap_link_next(&dev->link, now, !control_only, &frame)) {
        case STAP_LINK_NONE:
            goto out;
        case STAP_LINK_FRAME:
            link_deliver(dev, &frame, batch);
            break;
        case STAP_LINK_TOO_LONG:
            link_count_bad_length(dev, true);
            break;
        case STAP_LINK_TOO_SHORT:
        case STAP_LINK_BAD_OFFLOAD:
            /* (This port does not offer offloads, so the link closes on any
             * DATA_OFFLOAD before it could be a bad one.) */
            link_count_bad_length(dev, false);
            break;
        case STAP_LINK_WENT_UP:
            link_went_up(dev);
            break;
        case STAP_LINK_CLOSED_NOW:
            link_closed_itself(dev);
            return;
        }
    }
out:
    /* Echo replies, and the echo that follows the handshake. */
    link_flush(dev);
}

/* Reads what the link has, then decodes it as link_decode() does. */
static void
link_receive(struct netdev_ssh_tap *dev, struct dp_packet_batch *batch,
             bool control_only)
    OVS_REQUIRES(dev->mutex)
{
    size_t room;

    if (dev->fd < 0) {
        return;
    }
    uint8_t *p = stap_link_rx_room(&dev->link, &room);
    if (room) {
        ssize_t n = recv(dev->fd, p, room, MSG_DONTWAIT);
        if (n > 0) {
            stap_link_rx_done(&dev->link, n, time_usec());
        } else if (!n) {
            link_close(dev, "connection closed by peer");
            return;
        } else if (errno != EAGAIN && errno != EINTR) {
            link_close(dev, "read failed: %s", ovs_strerror(errno));
            return;
        }
    }
    link_decode(dev, batch, control_only);
}

/* True if the receive buffer already holds a whole message. */
static bool
link_rx_ready(const struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    return dev->fd >= 0 && stap_link_rx_ready(&dev->link);
}

/* Keepalives and liveness: called from run(). */
static void
link_run(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->fd < 0) {
        return;
    }
    if (stap_link_run(&dev->link, time_usec()) == STAP_LINK_CLOSED) {
        link_closed_itself(dev);
        return;
    }
    link_flush(dev);
}

static void
link_wait(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->fd < 0) {
        return;
    }
    poll_timer_wait_until(stap_link_deadline(&dev->link));
    if (stap_buf_size(&dev->link.tx)) {
        poll_fd_wait(dev->fd, POLLOUT);
    }
    if (stap_link_state(&dev->link) == STAP_LINK_HELLO) {
        /* Nothing else reads during the handshake if the port has no rxq. */
        poll_fd_wait(dev->fd, POLLIN);
    }
}

/* Passive ports: the listener. */

static void
listener_close(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    if (dev->listen_fd >= 0) {
        close(dev->listen_fd);
        dev->listen_fd = -1;
        fatal_signal_unlink_file_now(dev->listen_path);
    }
    free(dev->listen_path);
    dev->listen_path = NULL;
}

/* Looks up options:socket_owner and options:socket_group.  Returns NULL or
 * a malloc()ed error. */
static char *
lookup_socket_ids(const struct netdev_ssh_tap *dev, uid_t *uid, gid_t *gid)
    OVS_REQUIRES(dev->mutex)
{
    *uid = -1;
    *gid = -1;
    if (dev->opts.socket_owner) {
        struct passwd *pw = getpwnam(dev->opts.socket_owner);
        if (!pw) {
            return xasprintf("%s: options:socket_owner: no user '%s'",
                             netdev_get_name(&dev->up),
                             dev->opts.socket_owner);
        }
        *uid = pw->pw_uid;
    }
    if (dev->opts.socket_group) {
        struct group *gr = getgrnam(dev->opts.socket_group);
        if (!gr) {
            return xasprintf("%s: options:socket_group: no group '%s'",
                             netdev_get_name(&dev->up),
                             dev->opts.socket_group);
        }
        *gid = gr->gr_gid;
    }
    return NULL;
}

static char *
listener_open(struct netdev_ssh_tap *dev, const char *path)
    OVS_REQUIRES(dev->mutex)
{
    char *dir = dir_name(path);
    int error = 0;
    uid_t uid;
    gid_t gid;

    char *msg = lookup_socket_ids(dev, &uid, &gid);
    if (msg) {
        free(dir);
        return msg;
    }

    if (mkdir(dir, 0755) && errno != EEXIST) {
        error = errno;
    }
    if (error) {
        msg = xasprintf("%s: cannot create directory %s for options:socket: "
                        "%s", netdev_get_name(&dev->up), dir,
                        ovs_strerror(error));
        free(dir);
        return msg;
    }
    free(dir);

    int fd = make_unix_socket(SOCK_STREAM, true, path, NULL);
    if (fd < 0) {
        return xasprintf("%s: cannot listen on %s (options:socket): %s",
                         netdev_get_name(&dev->up), path, ovs_strerror(-fd));
    }
    /* Reachable by the owner and group (sshd connects as the account that
     * logged in, which is one of them), never by everyone: options.c
     * refuses a mode with any bit for others. */
    if (chmod(path, dev->opts.socket_mode)
        || ((uid != (uid_t) -1 || gid != (gid_t) -1)
            && chown(path, uid, gid))
        || listen(fd, 8)) {
        error = errno;
        close(fd);
        fatal_signal_unlink_file_now(path);
        return xasprintf("%s: cannot listen on %s (options:socket): %s",
                         netdev_get_name(&dev->up), path,
                         ovs_strerror(error));
    }
    dev->listen_fd = fd;
    dev->listen_path = xstrdup(path);
    VLOG_INFO("%s: listening on %s", netdev_get_name(&dev->up), path);
    return NULL;
}

static void
listener_run(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    while (dev->listen_fd >= 0) {
        int fd = accept(dev->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                VLOG_WARN_RL(&rl, "%s: accept on %s failed: %s",
                             netdev_get_name(&dev->up), dev->listen_path,
                             ovs_strerror(errno));
            }
            return;
        }

        /* One link at a time: a newcomer replaces a link that is dead or
         * silent, never a healthy one. */
        if (stap_link_healthy(&dev->link, time_usec())) {
            VLOG_WARN_RL(&rl, "%s: refusing a second connection on %s while "
                         "the link is up", netdev_get_name(&dev->up),
                         dev->listen_path);
            close(fd);
            continue;
        }
        set_nonblocking(fd);
        link_install(dev, fd, "accepted");
    }
}

/* Configuration. */

static void
ssh_tap_unconfigure(struct netdev_ssh_tap *dev)
    OVS_REQUIRES(dev->mutex)
{
    ssh_tap_session_destroy(dev->session);
    dev->session = NULL;
    listener_close(dev);
    link_close(dev, NULL);
    ssh_tap_options_destroy(&dev->opts);
    dev->configured = false;
}

static const char *
current_user(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;
    static char *user;

    if (ovsthread_once_start(&once)) {
        struct passwd *pw = getpwuid(geteuid());
        user = xstrdup(pw ? pw->pw_name : "root");
        ovsthread_once_done(&once);
    }
    return user;
}

static int
netdev_ssh_tap_set_config(struct netdev *netdev, const struct smap *args,
                          char **errp)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);
    const char *name = netdev_get_name(netdev);
    struct ssh_tap_dirs dirs = {
        .rundir = ovs_rundir(),
        .confdir = ovs_dbdir(),
        .user = current_user(),
    };
    struct ssh_tap_options opts;
    char *error = NULL;

    if (ssh_tap_options_parse(name, args, &dirs, &opts, &error)) {
        VLOG_WARN("%s", error);
        *errp = error;
        return EINVAL;
    }

    ovs_mutex_lock(&dev->mutex);
    if (dev->configured && ssh_tap_options_equal(&opts, &dev->opts)) {
        ovs_mutex_unlock(&dev->mutex);
        ssh_tap_options_destroy(&opts);
        return 0;
    }

    ssh_tap_unconfigure(dev);
    smap_destroy(&dev->config);
    smap_clone(&dev->config, args);
    dev->opts = opts;
    if (opts.active) {
        dev->session = ssh_tap_session_create(name, &dev->opts);
    } else {
        error = listener_open(dev, dev->opts.socket);
    }
    if (error) {
        ssh_tap_options_destroy(&dev->opts);
        free(dev->last_error);
        dev->last_error = xstrdup(error);
        VLOG_WARN("%s", error);
        *errp = error;
    } else {
        dev->configured = true;
    }
    dev->changed = true;
    ovs_mutex_unlock(&dev->mutex);
    return error ? EINVAL : 0;
}

static int
netdev_ssh_tap_get_config(const struct netdev *netdev, struct smap *args)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    smap_clone(args, &dev->config);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* Class functions. */

/* Returns a malloc()ed array with one entry per port in ssh_tap_list, in
 * list order, telling whether its listening socket has a connection waiting
 * (found with one poll() for all of them, rather than an accept() per port
 * per main-loop iteration). */
static bool *
listeners_ready(void)
    OVS_REQUIRES(ssh_tap_list_mutex)
{
    size_t n = ovs_list_size(&ssh_tap_list);
    struct pollfd *pfds = xcalloc(n ? n : 1, sizeof *pfds);
    bool *ready = xcalloc(n ? n : 1, sizeof *ready);
    struct netdev_ssh_tap *dev;
    size_t i = 0, n_listening = 0;

    LIST_FOR_EACH (dev, list_node, &ssh_tap_list) {
        ovs_mutex_lock(&dev->mutex);
        pfds[i].fd = dev->listen_fd;
        pfds[i].events = POLLIN;
        n_listening += dev->listen_fd >= 0;
        ovs_mutex_unlock(&dev->mutex);
        i++;
    }
    if (n_listening && poll(pfds, n, 0) > 0) {
        for (i = 0; i < n; i++) {
            ready[i] = pfds[i].revents != 0;
        }
    }
    free(pfds);
    return ready;
}

static void
netdev_ssh_tap_run(const struct netdev_class *netdev_class OVS_UNUSED)
{
    struct netdev_ssh_tap *dev;
    size_t i = 0;

    ovs_mutex_lock(&ssh_tap_list_mutex);
    bool *ready = listeners_ready();
    LIST_FOR_EACH (dev, list_node, &ssh_tap_list) {
        ovs_mutex_lock(&dev->mutex);
        if (dev->session) {
            if (ssh_tap_session_changed(dev->session)) {
                dev->changed = true;
            }
            int fd = ssh_tap_session_take_link(dev->session);
            if (fd >= 0) {
                link_install(dev, fd, "connected through SSH");
            }
        }
        if (ready[i++]) {
            listener_run(dev);
        }
        if (stap_link_state(&dev->link) == STAP_LINK_HELLO) {
            link_receive(dev, NULL, true);
        }
        link_run(dev);
        if (dev->changed || stap_link_changed(&dev->link)) {
            /* Interface:status, the RTT in it included, is rewritten now
             * (stap_rtt_publish_due() says when the RTT is worth it). */
            dev->changed = false;
            stap_link_published(&dev->link, time_usec());
            netdev_change_seq_changed(&dev->up);
        }
        ovs_mutex_unlock(&dev->mutex);
    }
    ovs_mutex_unlock(&ssh_tap_list_mutex);
    free(ready);
}

static void
netdev_ssh_tap_wait(const struct netdev_class *netdev_class OVS_UNUSED)
{
    struct netdev_ssh_tap *dev;

    ovs_mutex_lock(&ssh_tap_list_mutex);
    LIST_FOR_EACH (dev, list_node, &ssh_tap_list) {
        ovs_mutex_lock(&dev->mutex);
        if (dev->session) {
            ssh_tap_session_wait(dev->session);
        }
        if (dev->listen_fd >= 0) {
            poll_fd_wait(dev->listen_fd, POLLIN);
        }
        link_wait(dev);
        if (dev->changed || stap_link_changed(&dev->link)) {
            poll_immediate_wake();
        }
        ovs_mutex_unlock(&dev->mutex);
    }
    ovs_mutex_unlock(&ssh_tap_list_mutex);
}

static struct netdev *
netdev_ssh_tap_alloc(void)
{
    struct netdev_ssh_tap *dev = xzalloc(sizeof *dev);
    return &dev->up;
}

static int
netdev_ssh_tap_construct(struct netdev *netdev)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_init(&dev->mutex);
    eth_addr_random(&dev->etheraddr);
    dev->mtu = ETH_PAYLOAD_MAX;
    /* Administratively up from the start, like a tunnel port: the link
     * itself is what the carrier reports. */
    dev->flags = NETDEV_UP;
    smap_init(&dev->config);
    dev->listen_fd = -1;
    dev->fd = -1;
    dev->opts.keepalive_ms = SSH_TAP_DEFAULT_KEEPALIVE_MS;
    stap_link_init(&dev->link, SSH_TAP_SOFTWARE, max_frame(dev->mtu),
                   dev->opts.keepalive_ms, RXBUF_SIZE, TXBUF_MAX);

    ovs_mutex_lock(&ssh_tap_list_mutex);
    ovs_list_push_back(&ssh_tap_list, &dev->list_node);
    ovs_mutex_unlock(&ssh_tap_list_mutex);
    return 0;
}

static void
netdev_ssh_tap_destruct(struct netdev *netdev)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&ssh_tap_list_mutex);
    ovs_list_remove(&dev->list_node);
    ovs_mutex_unlock(&ssh_tap_list_mutex);

    ovs_mutex_lock(&dev->mutex);
    ssh_tap_unconfigure(dev);
    smap_destroy(&dev->config);
    stap_link_destroy(&dev->link);
    free(dev->last_error);
    ovs_mutex_unlock(&dev->mutex);
    ovs_mutex_destroy(&dev->mutex);
}

static void
netdev_ssh_tap_dealloc(struct netdev *netdev)
{
    free(netdev_ssh_tap_cast(netdev));
}

static int
netdev_ssh_tap_send(struct netdev *netdev, int qid OVS_UNUSED,
                    struct dp_packet_batch *batch,
                    bool concurrent_txq OVS_UNUSED)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);
    uint8_t hdrs[NETDEV_MAX_BURST][STAP_HDR_LEN];
    struct iovec iov[2 * NETDEV_MAX_BURST];
    struct dp_packet *packet;
    size_t total = 0;
    int n_iov = 0, n_frames = 0;
    uint64_t bytes = 0;

    ovs_mutex_lock(&dev->mutex);
    int limit = stap_link_frame_limit(&dev->link);
    if (!limit) {
        dev->stats.tx_dropped += dp_packet_batch_size(batch);
        goto out;
    }

    /* The whole batch goes out in one write: several frames per SSH packet
     * is what makes this faster than one frame per packet. */
    DP_PACKET_BATCH_FOR_EACH (i, packet, batch) {
        size_t size = dp_packet_size(packet);
        if (size > limit) {
            /* Dropped, never truncated. */
            COVERAGE_INC(ssh_tap_oversize);
            dev->stats.tx_dropped++;
            continue;
        }
        stap_encode_data_header(hdrs[n_frames], size);
        iov[n_iov].iov_base = hdrs[n_frames];
        iov[n_iov++].iov_len = STAP_HDR_LEN;
        iov[n_iov].iov_base = dp_packet_data(packet);
        iov[n_iov++].iov_len = size;
        total += STAP_HDR_LEN + size;
        bytes += size;
        n_frames++;
    }
    if (n_frames) {
        if (link_write(dev, iov, n_iov, total)) {
            dev->stats.tx_packets += n_frames;
            dev->stats.tx_bytes += bytes;
        } else {
            dev->stats.tx_dropped += n_frames;
        }
    }

out:
    ovs_mutex_unlock(&dev->mutex);
    dp_packet_delete_batch(batch, true);
    return 0;
}

static void
netdev_ssh_tap_send_wait(struct netdev *netdev, int qid OVS_UNUSED)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    if (dev->fd < 0 || stap_buf_size(&dev->link.tx) < TXBUF_MAX / 2) {
        poll_immediate_wake();
    } else {
        poll_fd_wait(dev->fd, POLLOUT);
    }
    ovs_mutex_unlock(&dev->mutex);
}

static int
netdev_ssh_tap_set_etheraddr(struct netdev *netdev, const struct eth_addr mac)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    if (!eth_addr_equals(dev->etheraddr, mac)) {
        dev->etheraddr = mac;
        netdev_change_seq_changed(netdev);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ssh_tap_get_etheraddr(const struct netdev *netdev, struct eth_addr *mac)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    *mac = dev->etheraddr;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ssh_tap_get_mtu(const struct netdev *netdev, int *mtup)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    *mtup = dev->mtu;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ssh_tap_set_mtu(struct netdev *netdev, int mtu)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    if (mtu < ETH_PAYLOAD_MIN || mtu > SSH_TAP_MAX_MTU) {
        VLOG_WARN_RL(&rl, "%s: MTU %d out of range %d..%d",
                     netdev_get_name(netdev), mtu, ETH_PAYLOAD_MIN,
                     SSH_TAP_MAX_MTU);
        return EINVAL;
    }

    ovs_mutex_lock(&dev->mutex);
    if (dev->mtu != mtu) {
        dev->mtu = mtu;
        /* A later HELLO updates the peer's idea of what we accept. */
        stap_link_set_max_frame(&dev->link, max_frame(mtu));
        if (dev->fd >= 0
            && stap_link_state(&dev->link) == STAP_LINK_CLOSED) {
            link_closed_itself(dev);
        }
        link_flush(dev);
        netdev_change_seq_changed(netdev);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ssh_tap_get_carrier(const struct netdev *netdev, bool *carrier)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    *carrier = stap_link_is_up(&dev->link);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static long long int
netdev_ssh_tap_get_carrier_resets(const struct netdev *netdev)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    long long int resets = dev->carrier_resets;
    ovs_mutex_unlock(&dev->mutex);
    return resets;
}

static int
netdev_ssh_tap_get_stats(const struct netdev *netdev,
                         struct netdev_stats *stats)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    ovs_mutex_lock(&dev->mutex);
    stats->rx_packets = dev->stats.rx_packets;
    stats->rx_bytes = dev->stats.rx_bytes;
    stats->rx_errors = dev->stats.rx_errors;
    stats->rx_dropped = dev->stats.rx_dropped;
    stats->rx_length_errors = dev->stats.rx_length_errors;
    stats->rx_oversize_errors = dev->stats.rx_oversize_errors;
    stats->rx_undersized_errors = dev->stats.rx_undersized_errors;
    stats->tx_packets = dev->stats.tx_packets;
    stats->tx_bytes = dev->stats.tx_bytes;
    stats->tx_errors = dev->stats.tx_errors;
    stats->tx_dropped = dev->stats.tx_dropped;
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

static int
netdev_ssh_tap_get_status(const struct netdev *netdev, struct smap *status)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);
    struct smap session = SMAP_INITIALIZER(&session);

    ovs_mutex_lock(&dev->mutex);
    if (dev->session) {
        ssh_tap_session_get_status(dev->session, &session);
    }

    const struct stap_link *link = &dev->link;
    const char *state;
    if (stap_link_is_up(link)) {
        state = "up";
    } else if (stap_link_state(link) == STAP_LINK_HELLO) {
        state = "handshake";
    } else if (dev->session) {
        state = smap_get_def(&session, "state", "connecting");
        if (!strcmp(state, "up")) {
            state = "reconnecting";  /* The SSH side has not noticed yet. */
        }
    } else if (dev->listen_fd >= 0) {
        state = "listening";
    } else {
        state = "down";
    }
    smap_add(status, "state", state);
    smap_add(status, "mode", dev->session ? "active" : "passive");

    if (dev->session) {
        const char *keys[] = { "remote", "host_key", "cipher", "reconnects" };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
            const char *value = smap_get(&session, keys[i]);
            if (value) {
                smap_add(status, keys[i], value);
            }
        }
        if (dev->opts.remote_command) {
            smap_add(status, "remote_command", dev->opts.remote_command);
        } else {
            smap_add(status, "remote_socket", dev->opts.remote_socket);
        }
    } else if (dev->listen_path) {
        smap_add(status, "socket", dev->listen_path);
    }
    if (stap_link_is_up(link)) {
        smap_add_format(status, "peer_version", "%d", link->peer.version);
        if (link->peer.software[0]) {
            smap_add(status, "peer_software", link->peer.software);
        }
        smap_add_format(status, "peer_max_frame", "%d",
                        link->peer.max_frame);
    }
    if (link->rtt_us >= 0) {
        smap_add_format(status, "rtt_us", "%lld", link->rtt_us);
    }
    smap_add_format(status, "links", "%u", dev->n_links);
    const char *error = smap_get(&session, "last_error");
    if (!error) {
        error = dev->last_error;
    }
    if (error) {
        smap_add(status, "last_error", error);
    }
    ovs_mutex_unlock(&dev->mutex);
    smap_destroy(&session);
    return 0;
}

static int
netdev_ssh_tap_update_flags(struct netdev *netdev, enum netdev_flags off,
                            enum netdev_flags on,
                            enum netdev_flags *old_flagsp)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(netdev);

    if ((off | on) & ~(NETDEV_UP | NETDEV_PROMISC)) {
        return EINVAL;
    }
    ovs_mutex_lock(&dev->mutex);
    *old_flagsp = dev->flags;
    dev->flags |= on;
    dev->flags &= ~off;
    if (*old_flagsp != dev->flags) {
        netdev_change_seq_changed(netdev);
    }
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* Receive queue. */

static struct netdev_rxq *
netdev_ssh_tap_rxq_alloc(void)
{
    struct netdev_rxq_ssh_tap *rx = xzalloc(sizeof *rx);
    return &rx->up;
}

static int
netdev_ssh_tap_rxq_construct(struct netdev_rxq *rxq OVS_UNUSED)
{
    return 0;
}

static void
netdev_ssh_tap_rxq_destruct(struct netdev_rxq *rxq OVS_UNUSED)
{
}

static void
netdev_ssh_tap_rxq_dealloc(struct netdev_rxq *rxq)
{
    free(netdev_rxq_ssh_tap_cast(rxq));
}

static int
netdev_ssh_tap_rxq_recv(struct netdev_rxq *rxq, struct dp_packet_batch *batch,
                        int *qfill)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(rxq->netdev);

    ovs_mutex_lock(&dev->mutex);
    dp_packet_batch_init(batch);
    if (!link_rx_ready(dev)) {
        link_receive(dev, batch, false);
    } else {
        link_decode(dev, batch, false);
    }
    if (dev->changed) {
        /* Have run() tell the bridge soon. */
        poll_immediate_wake();
    }
    ovs_mutex_unlock(&dev->mutex);

    if (qfill) {
        *qfill = -ENOTSUP;
    }
    return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
}

static void
netdev_ssh_tap_rxq_wait(struct netdev_rxq *rxq)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(rxq->netdev);

    ovs_mutex_lock(&dev->mutex);
    if (link_rx_ready(dev)) {
        poll_immediate_wake();
    } else if (dev->fd >= 0) {
        poll_fd_wait(dev->fd, POLLIN);
    }
    ovs_mutex_unlock(&dev->mutex);
}

static int
netdev_ssh_tap_rxq_drain(struct netdev_rxq *rxq)
{
    struct netdev_ssh_tap *dev = netdev_ssh_tap_cast(rxq->netdev);

    ovs_mutex_lock(&dev->mutex);
    link_receive(dev, NULL, false);
    ovs_mutex_unlock(&dev->mutex);
    return 0;
}

/* ovs-appctl commands. */

static void
format_bytes(struct ds *s, uint64_t bytes)
{
    if (bytes < 1024) {
        ds_put_format(s, "%"PRIu64" B", bytes);
    } else if (bytes < 1024 * 1024) {
        ds_put_format(s, "%.2f KiB", bytes / 1024.0);
    } else if (bytes < 1024ULL * 1024 * 1024) {
        ds_put_format(s, "%.2f MiB", bytes / (1024.0 * 1024));
    } else {
        ds_put_format(s, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}

static void
format_ago(struct ds *s, long long int ms)
{
    long long int secs = ms / 1000;

    if (secs < 60) {
        ds_put_format(s, "%lld second%s", secs, secs == 1 ? "" : "s");
    } else if (secs < 3600) {
        ds_put_format(s, "%lld min %lld s", secs / 60, secs % 60);
    } else if (secs < 86400) {
        ds_put_format(s, "%lld h %lld min", secs / 3600, secs / 60 % 60);
    } else {
        ds_put_format(s, "%lld days %lld h", secs / 86400, secs / 3600 % 24);
    }
}

/* One screen about one port, in the spirit of "wg show". */
static void
ssh_tap_show_port(struct netdev_ssh_tap *dev, struct ds *out)
{
    struct smap status = SMAP_INITIALIZER(&status);
    struct netdev_stats stats;

    netdev_ssh_tap_get_status(&dev->up, &status);
    netdev_ssh_tap_get_stats(&dev->up, &stats);

    ovs_mutex_lock(&dev->mutex);
    bool up = stap_link_is_up(&dev->link);
    long long int up_since = dev->link.up_since;
    ovs_mutex_unlock(&dev->mutex);

    ds_put_format(out, "port %s: %s, %s\n", netdev_get_name(&dev->up),
                  smap_get_def(&status, "mode", "?"),
                  smap_get_def(&status, "state", "?"));

    const char *remote = smap_get(&status, "remote");
    if (remote) {
        const char *target = smap_get(&status, "remote_command");
        ds_put_format(out, "  remote: %s, %s %s\n", remote,
                      target ? "command" : "socket",
                      target ? target : smap_get_def(&status, "remote_socket",
                                                     "?"));
    } else {
        ds_put_format(out, "  listening: %s\n",
                      smap_get_def(&status, "socket", "(not listening)"));
    }
    const char *host_key = smap_get(&status, "host_key");
    if (host_key) {
        ds_put_format(out, "  host key: %s\n", host_key);
    }
    const char *cipher = smap_get(&status, "cipher");
    if (cipher) {
        ds_put_format(out, "  cipher: %s\n", cipher);
    }
    if (up) {
        ds_put_format(out, "  peer: %s (protocol %s), frames up to %s "
                      "bytes\n",
                      smap_get_def(&status, "peer_software", "unnamed"),
                      smap_get_def(&status, "peer_version", "?"),
                      smap_get_def(&status, "peer_max_frame", "?"));
        ds_put_cstr(out, "  latest handshake: ");
        format_ago(out, time_msec() - up_since);
        ds_put_cstr(out, " ago\n");
    }
    const char *rtt = smap_get(&status, "rtt_us");
    if (rtt) {
        ds_put_format(out, "  rtt: %.3f ms\n", atoll(rtt) / 1000.0);
    }
    ds_put_format(out, "  links: %s, reconnects: %s\n",
                  smap_get_def(&status, "links", "0"),
                  smap_get_def(&status, "reconnects", "0"));
    ds_put_cstr(out, "  transfer: ");
    format_bytes(out, stats.rx_bytes);
    ds_put_format(out, " received (%"PRIu64" frames), ", stats.rx_packets);
    format_bytes(out, stats.tx_bytes);
    ds_put_format(out, " sent (%"PRIu64" frames)\n", stats.tx_packets);
    ds_put_format(out, "  dropped: rx %"PRIu64", tx %"PRIu64"; errors: rx "
                  "%"PRIu64" (%"PRIu64" wrong length), tx %"PRIu64"\n",
                  stats.rx_dropped, stats.tx_dropped, stats.rx_errors,
                  stats.rx_length_errors, stats.tx_errors);
    const char *error = smap_get(&status, "last_error");
    if (error) {
        ds_put_format(out, "  last error: %s\n", error);
    }
    smap_destroy(&status);
}

static struct netdev_ssh_tap *
ssh_tap_find(const char *name)
    OVS_REQUIRES(ssh_tap_list_mutex)
{
    struct netdev_ssh_tap *dev;

    LIST_FOR_EACH (dev, list_node, &ssh_tap_list) {
        if (!strcmp(netdev_get_name(&dev->up), name)) {
            return dev;
        }
    }
    return NULL;
}

static void
ssh_tap_unixctl_show(struct unixctl_conn *conn, int argc,
                     const char *argv[], void *aux OVS_UNUSED)
{
    struct ds out = DS_EMPTY_INITIALIZER;
    struct netdev_ssh_tap *dev;

    ovs_mutex_lock(&ssh_tap_list_mutex);
    if (argc > 1) {
        dev = ssh_tap_find(argv[1]);
        if (!dev) {
            ovs_mutex_unlock(&ssh_tap_list_mutex);
            unixctl_command_reply_error(conn, "no such ssh-tap port");
            return;
        }
        ssh_tap_show_port(dev, &out);
    } else {
        LIST_FOR_EACH (dev, list_node, &ssh_tap_list) {
            if (out.length) {
                ds_put_char(&out, '\n');
            }
            ssh_tap_show_port(dev, &out);
        }
    }
    ovs_mutex_unlock(&ssh_tap_list_mutex);
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static void
ssh_tap_unixctl_reconnect(struct unixctl_conn *conn, int argc OVS_UNUSED,
                          const char *argv[], void *aux OVS_UNUSED)
{
    struct netdev_ssh_tap *dev;

    ovs_mutex_lock(&ssh_tap_list_mutex);
    dev = ssh_tap_find(argv[1]);
    if (!dev) {
        ovs_mutex_unlock(&ssh_tap_list_mutex);
        unixctl_command_reply_error(conn, "no such ssh-tap port");
        return;
    }
    ovs_mutex_lock(&dev->mutex);
    /* Active: the SSH connection is remade at once.  Passive: the far end
     * notices the closed channel and reconnects by itself. */
    link_close(dev, "reconnect requested (ssh-tap/reconnect)");
    if (dev->session) {
        ssh_tap_session_reconnect(dev->session);
    }
    ovs_mutex_unlock(&dev->mutex);
    ovs_mutex_unlock(&ssh_tap_list_mutex);
    unixctl_command_reply(conn, NULL);
}

static const struct netdev_class ssh_tap_class = {
    .type = "ssh-tap",
    .is_pmd = false,
    .run = netdev_ssh_tap_run,
    .wait = netdev_ssh_tap_wait,
    .alloc = netdev_ssh_tap_alloc,
    .construct = netdev_ssh_tap_construct,
    .destruct = netdev_ssh_tap_destruct,
    .dealloc = netdev_ssh_tap_dealloc,
    .get_config = netdev_ssh_tap_get_config,
    .set_config = netdev_ssh_tap_set_config,
    .send = netdev_ssh_tap_send,
    .send_wait = netdev_ssh_tap_send_wait,
    .set_etheraddr = netdev_ssh_tap_set_etheraddr,
    .get_etheraddr = netdev_ssh_tap_get_etheraddr,
    .get_mtu = netdev_ssh_tap_get_mtu,
    .set_mtu = netdev_ssh_tap_set_mtu,
    .get_carrier = netdev_ssh_tap_get_carrier,
    .get_carrier_resets = netdev_ssh_tap_get_carrier_resets,
    .get_stats = netdev_ssh_tap_get_stats,
    .get_status = netdev_ssh_tap_get_status,
    .update_flags = netdev_ssh_tap_update_flags,
    .rxq_alloc = netdev_ssh_tap_rxq_alloc,
    .rxq_construct = netdev_ssh_tap_rxq_construct,
    .rxq_destruct = netdev_ssh_tap_rxq_destruct,
    .rxq_dealloc = netdev_ssh_tap_rxq_dealloc,
    .rxq_recv = netdev_ssh_tap_rxq_recv,
    .rxq_wait = netdev_ssh_tap_rxq_wait,
    .rxq_drain = netdev_ssh_tap_rxq_drain,
};

/* Registers the "ssh-tap" netdev class.  Call once, before the bridge
 * starts. */
void
netdev_ssh_tap_register(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;

    if (ovsthread_once_start(&once)) {
        netdev_register_provider(&ssh_tap_class);
        unixctl_command_register("ssh-tap/show", "[port]", 0, 1,
                                 ssh_tap_unixctl_show, NULL);
        unixctl_command_register("ssh-tap/reconnect", "port", 1, 1,
                                 ssh_tap_unixctl_reconnect, NULL);
        ovsthread_once_done(&once);
    }
}
