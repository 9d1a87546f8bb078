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

#include <config.h>
#include "rpc-decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync-util.h"

/* Initializes 'dec' for a new stream, with messages of at most 'max' bytes
 * (0: RPC_DECODE_MAX_DEFAULT). */
void
rpc_decoder_init(struct rpc_decoder *dec, size_t max)
{
    memset(dec, 0, sizeof *dec);
    dec->max = max ? max : RPC_DECODE_MAX_DEFAULT;
}

/* Frees what 'dec' holds. */
void
rpc_decoder_destroy(struct rpc_decoder *dec)
{
    free(dec->buf);
    free(dec->error);
    dec->buf = dec->error = NULL;
    dec->len = dec->allocated = 0;
}

/* Forgets every byte and error, for a new connection. */
void
rpc_decoder_reset(struct rpc_decoder *dec)
{
    size_t max = dec->max;

    rpc_decoder_destroy(dec);
    rpc_decoder_init(dec, max);
}

static void __attribute__((format(printf, 2, 3)))
set_error(struct rpc_decoder *dec, const char *fmt, ...)
{
    va_list args;

    if (!dec->error) {
        va_start(args, fmt);
        if (vasprintf(&dec->error, fmt, args) < 0) {
            abort();
        }
        va_end(args);
    }
    dec->len = 0;
}

/* Appends 'n' bytes received from the peer.  The caller takes the messages
 * (rpc_decoder_next()) after each piece, so that an oversized message is
 * caught within one piece of the limit. */
void
rpc_decoder_feed(struct rpc_decoder *dec, const void *data, size_t n)
{
    if (dec->error || !n) {
        return;
    }
    if (memchr(data, '}', n)) {
        dec->may_end = true;
    }
    if (dec->len + n > dec->allocated) {
        size_t want = dec->allocated ? dec->allocated : 4096;

        while (want < dec->len + n) {
            want *= 2;
        }
        dec->buf = xrealloc_(dec->buf, want);
        dec->allocated = want;
    }
    memcpy(dec->buf + dec->len, data, n);
    dec->len += n;
}

/* True if jansson's 'error' on the 'len' bytes at 'buf' may only mean that
 * the message has not all arrived yet.  jansson reports a cut inside a
 * string or between tokens as "premature end of input", but a cut inside a
 * bare token ("tru", "-1.5e"), an escape or a UTF-8 sequence as an error
 * at the very end of the input; a later byte settles it.  An error on a
 * last byte that is a whole token by itself is an error already. */
static bool
is_incomplete(const json_error_t *error, const char *buf, size_t len)
{
    if (json_error_code(error) == json_error_premature_end_of_input) {
        return true;
    }
    return (error->position >= 0 && (size_t) error->position >= len
            && !strchr("{}[],:", buf[len - 1]));
}

/* Takes the next complete message from the front of the received bytes.
 * See rpc-decode.h for the return values. */
int
rpc_decoder_next(struct rpc_decoder *dec, json_t **msgp)
{
    json_error_t error;
    size_t skip = 0;
    json_t *msg;

    *msgp = NULL;
    if (dec->error) {
        return -1;
    }

    /* Whitespace between messages; anything else must open an object. */
    while (skip < dec->len && dec->buf[skip]
           && strchr(" \t\r\n", dec->buf[skip])) {
        skip++;
    }
    if (skip) {
        memmove(dec->buf, dec->buf + skip, dec->len - skip);
        dec->len -= skip;
    }
    if (!dec->len) {
        dec->may_end = false;
        return 0;
    }
    if (dec->buf[0] != '{') {
        set_error(dec, "expected a JSON object, got byte 0x%02x",
                  (unsigned char) dec->buf[0]);
        return -1;
    }
    if (!dec->may_end) {
        /* No '}' since the last attempt: the message cannot be complete. */
        goto incomplete;
    }

    msg = json_loadb(dec->buf, dec->len,
                     JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES,
                     &error);
    if (!msg) {
        if (is_incomplete(&error, dec->buf, dec->len)) {
            dec->may_end = false;
            goto incomplete;
        }
        set_error(dec, "invalid JSON at byte %d of a message: %s",
                  error.position, error.text);
        return -1;
    }

    /* With JSON_DISABLE_EOF_CHECK, 'position' is the bytes consumed. */
    size_t used = error.position;
    if (used > dec->max) {
        json_decref(msg);
        set_error(dec, "message over %zu bytes", dec->max);
        return -1;
    }
    if (used > dec->len) {
        used = dec->len;
    }
    memmove(dec->buf, dec->buf + used, dec->len - used);
    dec->len -= used;
    /* What follows may hold more complete messages. */
    dec->may_end = dec->len && memchr(dec->buf, '}', dec->len);
    *msgp = msg;
    return 1;

incomplete:
    if (dec->len > dec->max) {
        set_error(dec, "message over %zu bytes", dec->max);
        return -1;
    }
    return 0;
}

/* Why the stream is broken, or NULL. */
const char *
rpc_decoder_error(const struct rpc_decoder *dec)
{
    return dec->error;
}

/* Bytes received and not yet taken as messages. */
size_t
rpc_decoder_pending(const struct rpc_decoder *dec)
{
    return dec->len;
}
