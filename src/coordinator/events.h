/* events.h: the coordinator's event stream (GET /api/v1/events, server-sent events): task status
 * changes and worker changes, kept in a ring of the last DTF_EVENTS_RING events so a client that
 * reconnects with Last-Event-ID misses nothing recent. */
#ifndef DTF_COORDINATOR_EVENTS_H
#define DTF_COORDINATOR_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "net/http.h"

#define DTF_EVENTS_RING 4096
#define DTF_EVENTS_MAX_CLIENTS 256

struct dtf_events;

struct dtf_events *dtf_events_new(void);
/* Ends every stream and frees; accepts NULL. */
void dtf_events_free(struct dtf_events *ev);
/* Ends every stream (their readers return end-of-stream) so the server can stop. */
void dtf_events_close(struct dtf_events *ev);
/* Publishes an event of a type ("task", "worker") with a JSON payload (borrowed); run_id (may be
 * NULL) lets clients filter. Wakes every waiting stream. */
void dtf_events_publish(struct dtf_events *ev, const char *type, const char *run_id,
			const json_t *data);
/* The same with the payload as JSON text (payload: malloc'd, len bytes, taken over): what a
 * frequent publisher that can write its payload directly uses, so that no document is built and
 * freed per event. */
void dtf_events_publish_text(struct dtf_events *ev, const char *type, const char *run_id,
			     char *payload, size_t len);
/* Writes a keep-alive comment to every idle stream. */
void dtf_events_keepalive(struct dtf_events *ev);
/* Turns the request into an event stream (handler for GET /api/v1/events?run_id=…). */
void dtf_events_serve(struct dtf_events *ev, struct dtf_http_req *r);

#endif
