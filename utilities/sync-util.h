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

#ifndef SYNC_UTIL_H
#define SYNC_UTIL_H 1

/* Memory helpers shared by the sync's files, which do not link OVS's
 * library: out of memory is fatal, as in OVS's xmalloc(). */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *
xrealloc_(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}

static inline char *
xstrdup_(const char *s)
{
    size_t len = strlen(s) + 1;
    return memcpy(xrealloc_(NULL, len), s, len);
}

static inline char * __attribute__((format(printf, 1, 2)))
xasprintf_(const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    va_end(args);
    return s;
}

#endif /* sync-util.h */
