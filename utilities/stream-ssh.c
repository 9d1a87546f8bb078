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

/* PLACEHOLDER while the real implementation is written (issue 11): every
 * ssh: remote is refused with EAFNOSUPPORT.  Replaced, not extended. */

#include <config.h>
#include "stream-ssh.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

char *
stream_ssh_configure(const struct stream_ssh_config *cfg)
{
    (void) cfg;
    return NULL;
}

bool
stream_ssh_is_ssh(const char *name)
{
    return !strncmp(name, "ssh:", 4);
}

char *
stream_ssh_verify_name(const char *name)
{
    (void) name;
    return NULL;
}

int
stream_ssh_open(const char *name, struct stream **streamp)
{
    (void) name;
    *streamp = NULL;
    return EAFNOSUPPORT;
}

const char *
stream_ssh_error(const struct stream *stream)
{
    (void) stream;
    return NULL;
}

const char *
stream_ssh_host_key(const struct stream *stream, const char **cipher)
{
    (void) stream;
    *cipher = NULL;
    return NULL;
}
