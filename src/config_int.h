/* veer — what the YAML config loader shares between its files: config.c
 * (parsing a file or buffer with libyaml), config_yaml.c (the key table and
 * the walk) and config_check.c (the checks across keys that run after the
 * walk).  Private to src/; not part of the public headers in include/veer/.
 */
#ifndef VEER_CONFIG_INT_H
#define VEER_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
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

/* The index of S among the choices of the T_ENUM key at PATH (a path of the
 * key table, "pools[].balance"), or -1 when S is not one of them.  PATH
 * must name a key of the table. */
int veer_cfg_choice_index(const char *path, const char *s);

/* True when PATH names a key of the table that is supported ("routes[].pool"),
 * false when it is marked not supported yet or not in the table at all. */
bool veer_cfg_key_supported(const char *path);

/* Set the defaults of the keys outside any list in W->cfg (before the
 * file's values). */
void veer_cfg_defaults(struct veer_cfg_walk *w);

/* Walk the document rooted at ROOT (NULL for an empty document) into
 * W->cfg against the key table, then run veer_cfg_finish().  Every problem
 * is reported through veer_cfg_error(). */
void veer_cfg_walk_root(struct veer_cfg_walk *w, const yaml_node_t *root);

/* The checks that span several keys (unique names, pool and route
 * references, one action per route, hash_on with balance: hash, the pools
 * of version, split and blue_green, sticky only with split), run once the
 * walk has filled W->cfg from the document rooted at ROOT (NULL for an
 * empty document).  They also fill what depends on other keys (indexes,
 * listener route lists, route pools, version, split and blue_green pools,
 * actions) and, when W holds no errors, prepare each pool's balancer.  Errors go through veer_cfg_error()
 * with the line and column of the node at fault. */
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
