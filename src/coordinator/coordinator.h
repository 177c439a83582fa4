/* coordinator.h: the coordinator as the rest of dtf sees it (the CLI, `dtf run`'s embedded
 * coordinator, benchmarks): start one from a configuration, learn its port, stop it. Everything
 * inside is private: the model and its lifecycle are the core (src/core/model.h), the HTTP API
 * is a front-end on it (src/api/), and coordinator.c wires them together with the tick thread.
 * See docs/internals/coordinator.md for the layers. */
#ifndef DTF_COORDINATOR_H
#define DTF_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/config.h"

/* A running coordinator (opaque). */
struct coordinator;

/* Opens the store, loads the state, starts the HTTP server and the tick thread. Returns a new
 * coordinator the caller stops with coord_stop(), or NULL with a reason in err. */
struct coordinator *coord_start(const struct coord_config *cfg, char *err, size_t errlen);
/* The port the server listens on. */
unsigned coord_port(const struct coordinator *co);
/* Stops serving, joins the tick thread, closes the store and frees everything. Accepts NULL. */
void coord_stop(struct coordinator *co);
/* Before a short-lived coordinator stops (`dtf run`): sends the notifications waiting in its
 * outbox now (group windows cut short), waiting at most timeout_s (negative: the configuration's
 * notifications.flush_timeout_s). Returns how many are still
 * waiting (they stay in the store and go out with the next coordinator on it). */
size_t coord_flush_notifications(struct coordinator *co, double timeout_s);
/* On PostgreSQL, true once another coordinator leads the database in this one's place (it was
 * paused, or cut off, longer than the lease): its commits fail from then on; the caller stops it.
 * Any thread. */
bool coord_lost(const struct coordinator *co);
/* Reads the configured API keys again (SIGHUP); keys added through the API stay. */
void coord_reload_keys(struct coordinator *co);
/* Prints every route of every front-end, "METHOD PATTERN ROLE" a line (ROLE "open" for none):
 * what tests/e2e/test_auth_roles.sh walks. */
void coord_print_routes(FILE *f);
/* Reads the TLS certificate and key files again (SIGHUP): new connections get the new pair,
 * open ones keep theirs. 0, or DTF_EINVAL with the reason in err (the old pair stays). */
int coord_reload_tls(struct coordinator *co, char *err, size_t errlen);
#endif
