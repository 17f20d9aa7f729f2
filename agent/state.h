/*
 * state.h - the state directory: atomic, versioned files.
 *
 * Every file written here goes through vg_state_write: a temporary file in
 * the same directory, fsync, rename over the old one, fsync of the directory,
 * so a reader sees the old content or the new one, never a mix, whatever the
 * moment of a crash. JSON state files carry {"version": N}; a version this
 * build does not know is refused (VG_EVERSION), never misread.
 */
#ifndef VG_STATE_H
#define VG_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define VG_POSITIONS_FILE "positions.json"
#define VG_POSITIONS_VERSION 1

/* Create the directory (and parents) with mode 0750 if missing. */
vg_err vg_state_prepare(const char *dir, vg_errbuf *eb);

/* Atomically replace dir/name with data. */
vg_err vg_state_write(const char *dir, const char *name, const void *data, size_t n,
                      vg_errbuf *eb);

/*
 * Read a versioned JSON state file. VG_ENOTFOUND when absent; VG_EVERSION when
 * its version is unknown; VG_EPARSE when it is not valid JSON (the caller
 * decides: the file is moved aside to NAME.corrupt by vg_state_quarantine).
 */
vg_err vg_state_read_json(const char *dir, const char *name, int version, json_t **out,
                          vg_errbuf *eb);
vg_err vg_state_write_json(const char *dir, const char *name, int version, json_t *obj,
                           vg_errbuf *eb);
void vg_state_quarantine(const char *dir, const char *name);

/* The agent's id: a UUID generated at first start and kept in dir/agent-id. */
vg_err vg_state_agent_id(const char *dir, char out[37], vg_errbuf *eb);

#endif
