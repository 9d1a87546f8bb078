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

#ifndef SYNC_OVSDB_H
#define SYNC_OVSDB_H 1

/* Reading and writing OVSDB data in their RFC 7047 JSON form (section
 * 5.1: atoms, ["set", [...]], ["map", [[k, v], ...]], ["uuid", "..."]),
 * for ovs-ssh-tap-sync and ovs-ssh-tap-ctl. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct sync_smap;

/* The default registry remote and the default local database. */
#define SYNC_REGISTRY_SOCKET "ssh-tap-registry.sock"
#define SYNC_DB_SOCKET "db.sock"

const char *ovsdb_datum_string(const json_t *);
bool ovsdb_datum_bool(const json_t *);
void ovsdb_datum_map(const json_t *, struct sync_smap *);
size_t ovsdb_datum_uuids(const json_t *, const char **uuids, size_t max);
size_t ovsdb_datum_n_uuids(const json_t *);

json_t *ovsdb_map_from_smap(const struct sync_smap *);
json_t *ovsdb_optional_string(const char *);
json_t *ovsdb_uuid(const char *);
json_t *ovsdb_where_uuid(const char *);
json_t *ovsdb_where_string(const char *column, const char *value);
char *ovsdb_txn_error(const json_t *result, size_t n_ops);

char *sync_default_remote(const char *socket_name);
char **sync_split_remotes(const char *, size_t *n);

#endif /* sync-ovsdb.h */
