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

/* libFuzzer target for the software segmentation (ssh-tap-gso.c).
 *
 * The input is a struct stap_offload in its first 10 bytes (gso_type,
 * flags, then hdr_len, gso_size, csum_start and csum_offset as big-endian
 * 16-bit numbers) and the frame it describes in the rest.  Besides the
 * memory errors that AddressSanitizer reports, the target aborts if the
 * code breaks one of its promises: a frame that stap_gso_parse() accepts
 * is cut into segments of the lengths stap_gso_segment_len() gives, whose
 * payloads add up to the frame's and each of which has right IPv4 and TCP
 * checksums (stap_csum_verify()); a completed checksum verifies.
 *
 * Build and run (the seeds are in tests/fuzz-corpus/gso/):
 *
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -fno-sanitize-recover=undefined -Iplugin \
 *         tests/fuzz-gso.c plugin/ssh-tap-gso.c -o fuzz-gso
 *     mkdir -p /tmp/corpus && \
 *         ./fuzz-gso -max_total_time=60 /tmp/corpus tests/fuzz-corpus/gso
 *
 * (New inputs go to the first directory, so the committed seeds stay as
 * they are.) */

#include "ssh-tap-gso.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t seg[STAP_OFFLOAD_MAX_FRAME + 64];
static uint8_t copy[STAP_OFFLOAD_MAX_FRAME + 64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stap_gso_info info;
    struct stap_offload ol;
    const uint8_t *frame;
    size_t len, total = 0;
    uint8_t *f;

    if (size < 10 || size - 10 > STAP_OFFLOAD_MAX_FRAME + 32) {
        return 0;
    }
    ol.gso_type = data[0];
    ol.flags = data[1];
    ol.hdr_len = data[2] << 8 | data[3];
    ol.gso_size = data[4] << 8 | data[5];
    ol.csum_start = data[6] << 8 | data[7];
    ol.csum_offset = data[8] << 8 | data[9];
    len = size - 10;

    /* A copy of exactly 'len' bytes, so that AddressSanitizer sees any
     * read past the frame. */
    f = malloc(len ? len : 1);
    if (!f) {
        abort();
    }
    memcpy(f, data + 10, len);
    frame = f;

    if (!stap_gso_parse(frame, len, &ol, &info)) {
        if (info.n_segs < 1 || info.frame_len != len
            || (info.offload && info.hdr_len > len)) {
            abort();
        }
        for (size_t i = 0; i < info.n_segs; i++) {
            size_t want = stap_gso_segment_len(&info, i);
            size_t n = stap_gso_segment(frame, len, &info, i, seg, want);
            const char *error;

            /* (0 is right only for a frame of 0 bytes.) */
            if (n != want) {
                abort();
            }
            total += info.gso ? n - info.hdr_len : n;
            error = stap_csum_verify(seg, n);
            if (info.gso && error) {
                abort();
            }
            if (!info.gso && info.csum_partial && error
                && (!strcmp(error, "bad TCP checksum")
                    || !strcmp(error, "bad UDP checksum"))) {
                abort();
            }
        }
        if (total != (info.gso ? info.payload_len : len)) {
            abort();
        }
        if (stap_gso_segment(frame, len, &info, info.n_segs, seg,
                             sizeof seg)) {
            abort();
        }

        /* In place, on a copy. */
        memcpy(copy, frame, len);
        stap_csum_complete(copy, len, &info);
        stap_csum_pseudo(copy, len, &info);
    }
    (void) stap_csum_verify(frame, len);
    free(f);
    return 0;
}
