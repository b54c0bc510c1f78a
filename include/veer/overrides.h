/* veer — runtime changes made through the admin API.
 *
 * An override changes one field of the config the file gave: a split's
 * weights, a blue-green switch's active side, a server's weight or drain.
 * It is kept by name (route, pool, server address) in the control thread
 * and applied to every generation built afterwards, so it survives a reload
 * of an unchanged file.  When a reload brings a file whose value for that
 * same field differs from the file's value when the override was made, the
 * file wins and the override is dropped.
 */
#ifndef VEER_OVERRIDES_H
#define VEER_OVERRIDES_H

#include "veer/config.h"

struct veer_overrides;

struct veer_overrides *veer_overrides_new(void);
void veer_overrides_free(struct veer_overrides *o);
/* A deep copy of O (the caller owns it): kept aside to undo a change. */
struct veer_overrides *veer_overrides_copy(const struct veer_overrides *o);

/* Record overrides (validated against FILE_CFG, the file's config as
 * parsed, without overrides).  VEER_OK, or VEER_ERR with a message in ERRS
 * and nothing changed.  Weights are relative integers 0..10000; every pool of
 * the split must be named, none other; at least one weight > 0.  Setting a
 * field to the file's own value removes its override.  Server weights are
 * 0..1000; a drained server gets weight 0 until drain is set false (the file
 * has no drain field: drain lasts while the server stays in its pool). */
int veer_override_split(struct veer_overrides *o, const struct veer_config *file_cfg,
			const char *route, const char *const *pools, const uint32_t *weights,
			size_t n, struct veer_errors *errs);
int veer_override_blue_green(struct veer_overrides *o, const struct veer_config *file_cfg,
			     const char *route, bool green, struct veer_errors *errs);
/* WEIGHT < 0 leaves the weight alone; DRAIN < 0 leaves drain alone. */
int veer_override_server(struct veer_overrides *o, const struct veer_config *file_cfg,
			 const char *pool, const char *address, int weight, int drain,
			 struct veer_errors *errs);

/* A reload brought NEW_FILE (the previous file config was OLD_FILE): drop
 * the overrides whose field the file changed. */
void veer_overrides_reconcile(struct veer_overrides *o, const struct veer_config *old_file,
			      const struct veer_config *new_file);

/* Write the overrides into CFG (a config being built, not yet published). */
void veer_overrides_apply(const struct veer_overrides *o, struct veer_config *cfg);

/* Lookups for the status API: true and the value when an override exists. */
bool veer_overrides_split_weight(const struct veer_overrides *o, const char *route,
				 const char *pool, uint32_t *weight);
bool veer_overrides_active(const struct veer_overrides *o, const char *route, bool *green);
bool veer_overrides_server(const struct veer_overrides *o, const char *pool, const char *address,
			   int *weight, int *drain);

#endif
