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

#ifndef RPC_DECODE_H
#define RPC_DECODE_H 1

/* Splitting a JSON-RPC byte stream (RFC 7047: JSON objects, one after the
 * other, with optional whitespace between them) into messages, with jansson
 * doing all the parsing: json_loadb() with JSON_DISABLE_EOF_CHECK decodes
 * one object from the front of the buffer and says how many bytes it took.
 *
 * Pure: no I/O, no clock, no OVS.  Every byte is treated as hostile: a
 * stream that is not JSON objects, or a message over 'max' bytes, is an
 * error, after which the decoder refuses everything (the caller drops the
 * connection).
 *
 * Cost: a message that arrives in K pieces is parsed up to K times, so
 * the caller should feed all the bytes it can read at once before asking
 * for messages; a piece that cannot end an object (no '}' in it) triggers
 * no parse at all. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The default limit on one message: a registry of thousands of sites fits
 * with room to spare. */
#define RPC_DECODE_MAX_DEFAULT (64u * 1024 * 1024)

struct rpc_decoder {
    char *buf;                  /* Bytes received, not yet decoded. */
    size_t len;                 /* Bytes in 'buf'. */
    size_t allocated;           /* Size of 'buf'. */
    size_t max;                 /* Largest message accepted, in bytes. */
    bool may_end;               /* A '}' arrived since the last attempt. */
    char *error;                /* Set once the stream is beyond repair. */
};

void rpc_decoder_init(struct rpc_decoder *, size_t max);
void rpc_decoder_destroy(struct rpc_decoder *);
void rpc_decoder_reset(struct rpc_decoder *);

/* Appends 'n' bytes received from the peer. */
void rpc_decoder_feed(struct rpc_decoder *, const void *data, size_t n);

/* Takes the next complete message, a JSON object, from the front of the
 * received bytes.  Returns:
 *
 *   1: '*msgp' is a new reference to the message (the caller decrefs it);
 *   0: no complete message yet (feed more bytes);
 *  -1: the stream is broken; rpc_decoder_error() says how, e.g.
 *      "invalid JSON at byte 7 of a message: ...", "message over 65536
 *      bytes".  Every later call returns -1 too. */
int rpc_decoder_next(struct rpc_decoder *, json_t **msgp);

/* Why the stream is broken, or NULL if it is not. */
const char *rpc_decoder_error(const struct rpc_decoder *);

/* Bytes received and not yet taken as messages. */
size_t rpc_decoder_pending(const struct rpc_decoder *);

#endif /* rpc-decode.h */
