/* dashboard.h: the coordinator's live web dashboard (docs/dashboard.md): HTML pages rendered in
 * C from the core's operations (the runs, the workers, what waits and why; a run's tasks and its
 * timeline; a task's error, output and attempts), a small script that keeps them current from
 * the event stream, and a login form that keeps an API key in a cookie for reading. It shares the
 * coordinator's port, keys and group commit with the REST API through api/api.h and calls no
 * other front-end. */
#ifndef DTF_DASHBOARD_H
#define DTF_DASHBOARD_H

#include "net/http.h"

/* The dashboard's routes (ended by a NULL method), listed in coordinator.c's frontends[]. */
extern const struct dtf_http_route dashboard_routes[];

#endif
