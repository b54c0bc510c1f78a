/* veer — what the YAML config loader shares between its files: config.c
 * (parsing a file or buffer with libyaml), config_yaml.c (the key table and
 * the walk) and config_check.c (the checks across keys that run after the
 * walk).  Private to src/; not part of the public headers in include/veer/.
 */
#ifndef VEER_CONFIG_INT_H
#define VEER_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "veer/config.h"

/* The state of one load: where errors go and what is being filled.  DOC is
 * the loaded YAML document (NULL until it is), CFG the config being built;
 * NERR counts every error reported, listed or not. */
struct veer_cfg_walk {
	const char *name; /* file name for messages */
	struct veer_errors *errs;
	yaml_document_t *doc;
	struct veer_config *cfg;
	size_t nerr;
};

/* Report an error at mark M ("name:line:col: ..."; M NULL = no position)
 * into W's error list and count it in W->nerr.  Past MAX_ERRORS (in
 * config_yaml.c) the rest are counted, not listed. */
void veer_cfg_error(struct veer_cfg_walk *w, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report the libyaml parser error of PS (which was parsing DATA, LEN
 * bytes) through veer_cfg_error(), at its line and column. */
void veer_cfg_syntax_error(struct veer_cfg_walk *w, const yaml_parser_t *ps, const char *data,
			   size_t len);

/* S (LEN bytes) in double quotes for a message, control characters, quotes
 * and backslashes escaped, clipped to fit BUF (N bytes, at least 16);
 * returns BUF. */
const char *veer_cfg_quote(char *buf, size_t n, const char *s, size_t len);

/* What NODE is, for "expected X, got Y": "a mapping", "a list", "nothing"
 * or its quoted text (in BUF, N bytes). */
const char *veer_cfg_kind(char *buf, size_t n, const yaml_node_t *node);

/* S as [-]digits into *N and *NEG; VEER_ERR when it is not an integer or
 * does not fit 64 bits. */
int veer_cfg_parse_int(const char *s, uint64_t *n, bool *neg);

/* True when S (LEN bytes, LEN > 0) is a token (RFC 9110 section 5.6.2):
 * header names, cookie names, methods. */
bool veer_cfg_is_token(const char *s, size_t len);

/* True when S (LEN bytes) holds CR, LF or NUL: RFC 9110 section 5.5 lets
 * none of them into a field value, and CR or LF would split the request. */
bool veer_cfg_has_crlfnul(const char *s, size_t len);

/* A new copy of S (LEN bytes, ASCII) in upper case (UPPER) or lower case. */
char *veer_cfg_case_dup(const char *s, size_t len, bool upper);

#define VEER_CFG_TOKEN_HINT "a token: letters, digits and !#$%&'*+-.^_`|~"

/* The headers veer itself manages upstream, which request_headers may
 * neither set nor remove: true when NAME is one (case-insensitive). */
bool veer_cfg_is_managed_header(const char *name);
#define VEER_CFG_MANAGED_TEXT "Host, Content-Length, Transfer-Encoding and Connection"

/* The mapping NODE (at CPATH) of header names (tokens, unique
 * case-insensitively, not managed ones when MANAGED) to values (any scalar
 * without CR, LF or NUL, taken as written: X-Beta: 1 is the text "1").
 * Reports each bad pair and skips it.  When OUT is not NULL, *OUT receives
 * a new array of the good pairs (left alone for an empty mapping), owned by
 * the config.  Returns the number of good pairs. */
size_t veer_cfg_header_map(struct veer_cfg_walk *w, const yaml_node_t *node, const char *cpath,
			   bool managed, struct veer_header_kv **out);

/* The index of S among the choices of the T_ENUM key at PATH (a path of the
 * key table, "pools[].balance"), or -1 when S is not one of them.  PATH
 * must name a key of the table. */
int veer_cfg_choice_index(const char *path, const char *s);

/* True when PATH names a key of the table that is supported ("routes[].pool"),
 * false when it is marked not supported yet or not in the table at all. */
bool veer_cfg_key_supported(const char *path);

/* Zero and free the secret *S (the admin token); *S becomes NULL. */
void veer_cfg_free_secret(char **s);

/* Set the defaults of the keys outside any list in W->cfg (before the
 * file's values). */
void veer_cfg_defaults(struct veer_cfg_walk *w);

/* Walk the document rooted at ROOT (NULL for an empty document) into
 * W->cfg against the key table, then run veer_cfg_finish().  Every problem
 * is reported through veer_cfg_error(). */
void veer_cfg_walk_root(struct veer_cfg_walk *w, const yaml_node_t *root);

/* The checks that span several keys (unique names, pool and route
 * references, one action per route, hash_on with balance: hash, the pools
 * of version, split and blue_green, sticky only with split, health check
 * timeout within interval, a breaker rule, retry backoff max not below
 * base), run once the walk has filled W->cfg from the document rooted at
 * ROOT (NULL for an empty document).  They also fill what depends on other
 * keys (indexes, listener route lists, route pools, version, split and
 * blue_green pools, actions, rate limit bursts left at 0), build the TLS
 * contexts of listeners and pools (reading certificate, key and CA files)
 * and, when W holds no errors, prepare each pool's balancer.  Errors go through
 * veer_cfg_error() with the line and column of the node at fault. */
void veer_cfg_finish(struct veer_cfg_walk *w, const yaml_node_t *root);

/* ---- YAML nodes -------------------------------------------------------- */

/* Node I of W's document (a libyaml node index), or NULL. */
static inline yaml_node_t *veer_cfg_node(struct veer_cfg_walk *w, int i)
{
	return yaml_document_get_node(w->doc, i);
}

/* True for an absent node and for a plain null scalar ("", ~, null). */
static inline bool veer_cfg_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n == NULL)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return strcmp(s, "") == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The number of items of sequence node N. */
static inline size_t veer_cfg_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Item I (< veer_cfg_seq_len(N)) of sequence node N. */
static inline yaml_node_t *veer_cfg_seq_item(struct veer_cfg_walk *w, const yaml_node_t *n,
					     size_t i)
{
	return veer_cfg_node(w, n->data.sequence.items.start[i]);
}

#endif
