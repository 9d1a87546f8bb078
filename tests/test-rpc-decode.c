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

/* Unit tests of utilities/rpc-decode.c: the JSON-RPC stream splitter, fed
 * whole, in pieces split at every byte, and hostile bytes. */

#include <config.h>
#include "rpc-decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "test-rpc-decode"
#include "unit-test.h"

/* Three messages as a server might send them, with every kind of token,
 * escapes, raw UTF-8 and whitespace between them. */
static const char stream3[] =
    "{\"id\":\"m1\",\"result\":[{\"Site\":{\"a\":{\"new\":{\"name\":\"s\\u00e9\","
    "\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"l\":[]}}}}],"
    "\"error\":null}\n"
    "  {\"method\":\"echo\",\"params\":[\"\xc3\xa9\\\"}\\\\\"],\"id\":\"echo\"}"
    "\r\n\t{\"method\":\"update\",\"params\":[null,{\"k\":[1,2,[3,{\"x\":0}]]}],"
    "\"id\":null}";

/* The messages of 'stream3', parsed on their own. */
static json_t *expected[3];

static void
load_expected(void)
{
    const char *p = stream3;

    for (int i = 0; i < 3; i++) {
        json_error_t error;

        expected[i] = json_loads(p, JSON_DISABLE_EOF_CHECK, &error);
        if (!expected[i]) {
            fprintf(stderr, "bad test data: %s\n", error.text);
            exit(1);
        }
        p += error.position;
    }
}

/* Feeds 'data' in pieces of the sizes in 'cuts' (the last piece repeated),
 * taking messages after each, and checks they are 'expected' in order.
 * Returns NULL or what went wrong. */
static const char *
feed_pieces(const char *data, size_t len, const size_t *cuts, size_t n_cuts)
{
    static char buf[256];
    struct rpc_decoder dec;
    size_t ofs = 0, n_msgs = 0, c = 0;

    rpc_decoder_init(&dec, 0);
    while (ofs < len) {
        size_t n = cuts[c < n_cuts - 1 ? c++ : c];
        json_t *msg;
        int r;

        if (n > len - ofs) {
            n = len - ofs;
        }
        rpc_decoder_feed(&dec, data + ofs, n);
        ofs += n;
        while ((r = rpc_decoder_next(&dec, &msg)) == 1) {
            if (n_msgs >= 3 || !json_equal(msg, expected[n_msgs])) {
                snprintf(buf, sizeof buf, "message %zu wrong after %zu bytes",
                         n_msgs, ofs);
                json_decref(msg);
                rpc_decoder_destroy(&dec);
                return buf;
            }
            json_decref(msg);
            n_msgs++;
        }
        if (r < 0) {
            snprintf(buf, sizeof buf, "error after %zu bytes: %s", ofs,
                     rpc_decoder_error(&dec));
            rpc_decoder_destroy(&dec);
            return buf;
        }
    }
    rpc_decoder_destroy(&dec);
    if (n_msgs != 3) {
        snprintf(buf, sizeof buf, "%zu messages, expected 3", n_msgs);
        return buf;
    }
    return NULL;
}

static const char *
test_whole(void)
{
    size_t len = strlen(stream3);
    const char *e = feed_pieces(stream3, len, &len, 1);

    CHECK_MSG(!e, "%s", e);
    return NULL;
}

static const char *
test_byte_by_byte(void)
{
    size_t one = 1;
    const char *e = feed_pieces(stream3, strlen(stream3), &one, 1);

    CHECK_MSG(!e, "%s", e);
    return NULL;
}

/* Two pieces, cut at every byte; and three, cut at every pair of bytes a
 * prime distance apart. */
static const char *
test_split_everywhere(void)
{
    size_t len = strlen(stream3);

    for (size_t i = 1; i < len; i++) {
        size_t cuts[2] = { i, len };
        const char *e = feed_pieces(stream3, len, cuts, 2);

        CHECK_MSG(!e, "cut at %zu: %s", i, e);
    }
    for (size_t i = 1; i + 7 < len; i++) {
        size_t cuts[3] = { i, 7, len };
        const char *e = feed_pieces(stream3, len, cuts, 3);

        CHECK_MSG(!e, "cuts at %zu and %zu: %s", i, i + 7, e);
    }
    return NULL;
}

/* Every proper prefix of a message is "not yet", never an error. */
static const char *
test_prefixes_wait(void)
{
    size_t len = strlen(stream3);

    for (size_t i = 0; i < len; i++) {
        struct rpc_decoder dec;
        json_t *msg;
        int r, n = 0;

        rpc_decoder_init(&dec, 0);
        rpc_decoder_feed(&dec, stream3, i);
        while ((r = rpc_decoder_next(&dec, &msg)) == 1) {
            json_decref(msg);
            n++;
        }
        CHECK_MSG(r == 0, "prefix of %zu bytes: %s", i,
                  rpc_decoder_error(&dec));
        CHECK_MSG(n <= 3, "prefix of %zu bytes gave %d messages", i, n);
        rpc_decoder_destroy(&dec);
    }
    return NULL;
}

/* Decodes 'data' (len bytes) in one piece; returns the final verdict (-1
 * or 0) and counts the messages in '*n'. */
static int
decode_all(const char *data, size_t len, size_t max, int *n,
           char *error, size_t error_size)
{
    struct rpc_decoder dec;
    json_t *msg;
    int r;

    *n = 0;
    rpc_decoder_init(&dec, max);
    rpc_decoder_feed(&dec, data, len);
    while ((r = rpc_decoder_next(&dec, &msg)) == 1) {
        json_decref(msg);
        ++*n;
    }
    if (error) {
        snprintf(error, error_size, "%s",
                 rpc_decoder_error(&dec) ? rpc_decoder_error(&dec) : "");
    }
    /* An error sticks, whatever comes next. */
    if (r < 0) {
        rpc_decoder_feed(&dec, "{}", 2);
        if (rpc_decoder_next(&dec, &msg) != -1) {
            r = -2;
        }
    }
    rpc_decoder_destroy(&dec);
    return r;
}

static const char *
test_garbage(void)
{
    static const struct {
        const char *data;
        size_t len;             /* 0: strlen(). */
        int n_ok;               /* Messages before the error. */
    } cases[] = {
        { "x", 0, 0 },
        { "[1,2]", 0, 0 },      /* JSON-RPC messages are objects. */
        { "\"str\"", 0, 0 },
        { "}", 0, 0 },
        { "\0{}", 3, 0 },
        { "{\"a\" 1}", 0, 0 },
        { "{\"a\":1,}", 0, 0 },
        { "{\"a\":tru}", 0, 0 },
        { "{\"a\":01}", 0, 0 },
        { "{\"a\":\"\x01\"}", 0, 0 },          /* Raw control byte. */
        { "{\"a\":\"\xff\"}", 0, 0 },          /* Not UTF-8. */
        { "{\"a\":\"\xc3\"}", 0, 0 },          /* Cut UTF-8. */
        { "{\"a\":\"\\u0000\"}", 0, 0 },       /* NUL in a string. */
        { "{\"a\":\"\\ud800\"}", 0, 0 },       /* Lone surrogate. */
        { "{\"a\":1,\"a\":2}", 0, 0 },         /* Duplicate key. */
        { "{\"a\":1}\0", 8, 1 },
        { "{\"a\":1} x {}", 0, 1 },
        { "{} {} ]", 0, 2 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].data);
        char error[256];
        int n, r;

        r = decode_all(cases[i].data, len, 0, &n, error, sizeof error);
        CHECK_MSG(r == -1, "case %zu: verdict %d, expected an error", i, r);
        CHECK_MSG(n == cases[i].n_ok, "case %zu: %d messages, expected %d",
                  i, n, cases[i].n_ok);
        CHECK_MSG(error[0], "case %zu: error without a description", i);
    }
    return NULL;
}

static const char *
test_whitespace_only(void)
{
    int n;

    CHECK(decode_all("", 0, 0, &n, NULL, 0) == 0 && n == 0);
    CHECK(decode_all(" \r\n\t ", 5, 0, &n, NULL, 0) == 0 && n == 0);
    CHECK(decode_all("{}\n{ }\n", 7, 0, &n, NULL, 0) == 0 && n == 2);
    return NULL;
}

/* A message over the limit is refused, whether or not it could end. */
static const char *
test_over_limit(void)
{
    size_t max = 1024, len = 3000;
    char *big = malloc(len + 1);
    char error[256];
    int n, r;

    /* An endless string. */
    memset(big, 'a', len);
    memcpy(big, "{\"a\":\"", 6);
    r = decode_all(big, len, max, &n, error, sizeof error);
    CHECK_MSG(r == -1 && strstr(error, "over 1024"), "endless: %d %s", r,
              error);

    /* A complete message, too big. */
    big[len - 2] = '"';
    big[len - 1] = '}';
    r = decode_all(big, len, max, &n, error, sizeof error);
    CHECK_MSG(r == -1 && n == 0 && strstr(error, "over 1024"),
              "complete: %d %d %s", r, n, error);

    /* Exactly at the limit is fine. */
    memcpy(big + len - max, "{\"a\":\"", 6);
    r = decode_all(big + len - max, max, max, &n, error, sizeof error);
    CHECK_MSG(r == 0 && n == 1, "at the limit: %d %d %s", r, n, error);

    /* Fed in pieces, refused within a piece of the limit. */
    struct rpc_decoder dec;
    json_t *msg;
    size_t fed = 0;

    rpc_decoder_init(&dec, max);
    r = 0;
    while (fed < len && r == 0) {
        rpc_decoder_feed(&dec, "aaaaaaaaaaaaaaaa", 16);
        fed += 16;
        r = rpc_decoder_next(&dec, &msg);
    }
    CHECK_MSG(r == -1 && fed <= max + 16, "pieces: %d after %zu", r, fed);
    rpc_decoder_destroy(&dec);
    free(big);
    return NULL;
}

/* A large registry reply, in the pieces a socket would give it. */
static const char *
test_huge_valid(void)
{
    size_t n_rows = 20000, cap = n_rows * 64 + 64, len = 0;
    char *big = malloc(cap);
    struct rpc_decoder dec;
    json_t *msg = NULL;
    int r = 0, n_parsed = 0;

    len += sprintf(big, "{\"id\":1,\"result\":[");
    for (size_t i = 0; i < n_rows; i++) {
        len += sprintf(big + len, "%s{\"name\":\"site-%zu\",\"x\":[1,2]}",
                       i ? "," : "", i);
    }
    len += sprintf(big + len, "],\"error\":null}");

    rpc_decoder_init(&dec, 0);
    for (size_t ofs = 0; ofs < len && r == 0; ofs += 65536) {
        size_t n = len - ofs < 65536 ? len - ofs : 65536;

        rpc_decoder_feed(&dec, big + ofs, n);
        r = rpc_decoder_next(&dec, &msg);
        n_parsed++;
    }
    CHECK_MSG(r == 1, "verdict %d: %s", r, rpc_decoder_error(&dec));
    CHECK(json_array_size(json_object_get(msg, "result")) == n_rows);
    CHECK(rpc_decoder_pending(&dec) == 0);
    json_decref(msg);
    rpc_decoder_destroy(&dec);
    free(big);
    return NULL;
}

/* Deep nesting is jansson's to refuse (its depth limit), without a crash. */
static const char *
test_deep_nesting(void)
{
    size_t depth = 100000, len = 0;
    char *deep = malloc(2 * depth + 16);
    char error[256];
    int n, r;

    len += sprintf(deep, "{\"a\":");
    memset(deep + len, '[', depth);
    len += depth;
    memset(deep + len, ']', depth);
    len += depth;
    deep[len++] = '}';
    r = decode_all(deep, len, 0, &n, error, sizeof error);
    CHECK_MSG(r == -1 && n == 0, "verdict %d, %d messages", r, n);
    free(deep);
    return NULL;
}

/* Random bytes and random mutations of good messages: any verdict will do,
 * as long as nothing crashes, leaks or loops (run it under ASan to see). */
static const char *
test_random(void)
{
    uint32_t seed = 12345;
    size_t len = strlen(stream3);
    char *buf = malloc(len + 1);

    for (int round = 0; round < 20000; round++) {
        struct rpc_decoder dec;
        json_t *msg;
        size_t ofs = 0;

        memcpy(buf, stream3, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245 + 12345;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245 + 12345;
            buf[at] = round % 3 ? "{}[]\",:\\ 0e-u"[(seed >> 8) % 14]
                                : (char) (seed >> 16);
        }
        rpc_decoder_init(&dec, 512);
        while (ofs < len) {
            seed = seed * 1103515245 + 12345;
            size_t n = 1 + (seed >> 8) % 40;
            int r;

            n = n > len - ofs ? len - ofs : n;
            rpc_decoder_feed(&dec, buf + ofs, n);
            ofs += n;
            while ((r = rpc_decoder_next(&dec, &msg)) == 1) {
                CHECK(json_is_object(msg));
                json_decref(msg);
            }
            if (r < 0) {
                CHECK(rpc_decoder_error(&dec));
                break;
            }
        }
        rpc_decoder_destroy(&dec);
    }
    free(buf);
    return NULL;
}

int
main(void)
{
    load_expected();
    run("whole", test_whole);
    run("byte-by-byte", test_byte_by_byte);
    run("split-everywhere", test_split_everywhere);
    run("prefixes-wait", test_prefixes_wait);
    run("garbage", test_garbage);
    run("whitespace-only", test_whitespace_only);
    run("over-limit", test_over_limit);
    run("huge-valid", test_huge_valid);
    run("deep-nesting", test_deep_nesting);
    run("random", test_random);
    for (int i = 0; i < 3; i++) {
        json_decref(expected[i]);
    }
    return n_failed ? 1 : 0;
}
