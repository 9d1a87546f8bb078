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

/* OVSDB data in JSON.  See sync-ovsdb.h. */

#include <config.h>

#include "sync-ovsdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync-plan.h"

/* Is 'j' ["TAG", X]? */
static const json_t *
tagged(const json_t *j, const char *tag)
{
    const char *t;

    if (!json_is_array(j) || json_array_size(j) != 2) {
        return NULL;
    }
    t = json_string_value(json_array_get(j, 0));
    return t && !strcmp(t, tag) ? json_array_get(j, 1) : NULL;
}

/* A string column, or an optional one (NULL when empty). */
const char *
ovsdb_datum_string(const json_t *d)
{
    const json_t *set = tagged(d, "set");

    if (set) {
        return (json_array_size(set) == 1
                ? json_string_value(json_array_get(set, 0)) : NULL);
    }
    return json_string_value(d);
}

bool
ovsdb_datum_bool(const json_t *d)
{
    const json_t *set = tagged(d, "set");

    if (set) {
        d = json_array_size(set) == 1 ? json_array_get(set, 0) : NULL;
    }
    return json_is_true(d);
}

/* Adds the string-to-string map 'd' to 'm'. */
void
ovsdb_datum_map(const json_t *d, struct sync_smap *m)
{
    const json_t *pairs = tagged(d, "map");
    const json_t *pair;
    size_t i;

    json_array_foreach (pairs, i, pair) {
        const char *k = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));

        if (k && v) {
            sync_smap_set(m, k, v);
        }
    }
}

/* Stores up to 'max' uuids of the uuid set 'd' in 'uuids' (pointers into
 * 'd'); returns how many are stored. */
size_t
ovsdb_datum_uuids(const json_t *d, const char **uuids, size_t max)
{
    const json_t *set = tagged(d, "set");
    const json_t *u;
    size_t i, n = 0;

    if (!set) {
        const json_t *one = tagged(d, "uuid");
        if (one && max) {
            uuids[n++] = json_string_value(one);
        }
        return n;
    }
    json_array_foreach (set, i, u) {
        const json_t *s = tagged(u, "uuid");
        if (s && n < max) {
            uuids[n++] = json_string_value(s);
        }
    }
    return n;
}

size_t
ovsdb_datum_n_uuids(const json_t *d)
{
    const json_t *set = tagged(d, "set");
    return set ? json_array_size(set) : tagged(d, "uuid") ? 1 : 0;
}

json_t *
ovsdb_map_from_smap(const struct sync_smap *m)
{
    json_t *pairs = json_array();

    for (size_t i = 0; i < m->n; i++) {
        json_array_append_new(pairs, json_pack("[s, s]", m->kv[i].key,
                                               m->kv[i].value));
    }
    return json_pack("[s, o]", "map", pairs);
}

/* An optional string column: "s", or the empty set for NULL or "". */
json_t *
ovsdb_optional_string(const char *s)
{
    if (s && s[0]) {
        return json_string(s);
    }
    return json_pack("[s, []]", "set");
}

json_t *
ovsdb_uuid(const char *uuid)
{
    return json_pack("[s, s]", "uuid", uuid);
}

/* [["_uuid", "==", ["uuid", UUID]]] */
json_t *
ovsdb_where_uuid(const char *uuid)
{
    return json_pack("[[s, s, o]]", "_uuid", "==", ovsdb_uuid(uuid));
}

json_t *
ovsdb_where_string(const char *column, const char *value)
{
    return json_pack("[[s, s, s]]", column, "==", value);
}

/* Returns NULL if the "transact" result 'result' reports success for all of
 * its 'n_ops' operations, otherwise a description of the first error
 * (caller frees). */
char *
ovsdb_txn_error(const json_t *result, size_t n_ops)
{
    const json_t *r;
    size_t i;

    if (!json_is_array(result)) {
        return strdup("transaction result is not an array");
    }
    json_array_foreach (result, i, r) {
        const char *e = json_string_value(json_object_get(r, "error"));

        if (e) {
            const char *d = json_string_value(json_object_get(r, "details"));
            char *s;

            if (asprintf(&s, "%s%s%s", e, d ? ": " : "", d ? d : "") < 0) {
                abort();
            }
            return s;
        }
    }
    if (json_array_size(result) < n_ops) {
        return strdup("transaction result is too short");
    }
    return NULL;
}

/* "unix:$OVS_RUNDIR/NAME", OVS_RUNDIR defaulting to /var/run/openvswitch,
 * as OVS's own tools find their database (caller frees). */
char *
sync_default_remote(const char *socket_name)
{
    const char *rundir = getenv("OVS_RUNDIR");
    char *s;

    if (!rundir || !rundir[0]) {
        rundir = SYNC_DEFAULT_RUNDIR;
    }
    if (asprintf(&s, "unix:%s/%s", rundir, socket_name) < 0) {
        abort();
    }
    return s;
}

/* Splits the comma-separated list 's'.  Returns a NULL-terminated array
 * of strings (free each, then the array) and its size in '*n'. */
char **
sync_split_remotes(const char *s, size_t *n)
{
    char *copy = strdup(s), *save = NULL, *tok;
    char **v = NULL;

    *n = 0;
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        if (!*tok) {
            continue;
        }
        v = realloc(v, (*n + 2) * sizeof *v);
        if (!v) {
            abort();
        }
        v[(*n)++] = strdup(tok);
    }
    if (!v) {
        v = calloc(1, sizeof *v);
    }
    v[*n] = NULL;
    free(copy);
    return v;
}
