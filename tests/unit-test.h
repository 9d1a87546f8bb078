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

#ifndef UNIT_TEST_H
#define UNIT_TEST_H 1

/* The little framework the unit tests share.  Each case is a function that
 * returns NULL on success or a description of the first failed check; run()
 * prints one "PASS: <prog>: <case>" or "FAIL: <prog>: <case>: <why>" line,
 * which tests/run-tests.sh counts.  Define PROG before including this. */

#include <stdio.h>

static char why[1024];
static int n_failed;

#define CHECK(COND)                                                     \
    do {                                                                \
        if (!(COND)) {                                                  \
            snprintf(why, sizeof why, "line %d: %s", __LINE__, #COND);  \
            return why;                                                 \
        }                                                               \
    } while (0)

#define CHECK_MSG(COND, ...)                                            \
    do {                                                                \
        if (!(COND)) {                                                  \
            int n_ = snprintf(why, sizeof why, "line %d: ", __LINE__);  \
            snprintf(why + n_, sizeof why - n_, __VA_ARGS__);           \
            return why;                                                 \
        }                                                               \
    } while (0)

static inline void
run(const char *name, const char *(*fn)(void))
{
    const char *error = fn();

    if (error) {
        printf("FAIL: " PROG ": %s: %s\n", name, error);
        n_failed++;
    } else {
        printf("PASS: " PROG ": %s\n", name);
    }
    fflush(stdout);
}

#endif /* unit-test.h */
