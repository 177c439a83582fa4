/* events.h: the coordinator's event stream: task status changes and worker changes, kept in a
 * ring of the last DTF_EVENTS_RING events so a subscriber that comes back with the last id it saw
 * misses nothing recent. Front-ends subscribe (the REST API serves GET /api/v1/events as
 * server-sent events, src/api/api_events.c); the stream's records are server-sent-event text. */
#ifndef DTF_CORE_EVENTS_H
#define DTF_CORE_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DTF_EVENTS_RING	       4096
#define DTF_EVENTS_MAX_CLIENTS 256

struct dtf_events;

struct dtf_events *dtf_events_new(void);
/* Ends every stream and frees; accepts NULL. */
void dtf_events_free(struct dtf_events *ev);
/* Ends every stream (their readers return end-of-stream) so the server can stop. */
void dtf_events_close(struct dtf_events *ev);
/* Publishes an event of a type ("task", "worker") with a JSON payload (borrowed); run_id (may be
 * NULL) lets clients filter. project is the project whose subscribers may see it besides those
 * that see every project ("" none: only those), or NULL when every subscriber may (a worker's
 * change). Wakes every waiting stream. */
void dtf_events_publish(struct dtf_events *ev, const char *type, const char *run_id,
			const char *project, const json_t *data);
/* The same with the payload as JSON text (payload: malloc'd, len bytes, taken over): what a
 * frequent publisher that can write its payload directly uses, so that no document is built and
 * freed per event. */
void dtf_events_publish_text(struct dtf_events *ev, const char *type, const char *run_id,
			     const char *project, char *payload, size_t len);
/* Writes a keep-alive comment to every idle stream. */
void dtf_events_keepalive(struct dtf_events *ev);
struct dtf_events_sub;
/* Subscribes to the stream from after last_id (the text of the last id seen, NULL: only new
 * events), only a run's events when run_id is not NULL, only the events project may see when
 * project is not NULL (a reader limited to a project; DTF_EINVAL past 63 bytes). pause(arg) is
 * called from dtf_events_read when nothing is left to read, and wake(arg) when something new
 * arrives after it, both under the events lock. Returns the subscription (freed by
 * dtf_events_unsubscribe), or NULL with *err: DTF_EINVAL (run_id too long), DTF_ETOOBIG
 * (DTF_EVENTS_MAX_CLIENTS subscribers, or the stream is closed) or DTF_ENOMEM. */
struct dtf_events_sub *dtf_events_subscribe(struct dtf_events *ev, const char *run_id,
					    const char *project, const char *last_id,
					    void (*pause)(void *arg), void (*wake)(void *arg),
					    void *arg, int *err);
/* Copies up to max bytes of the records not read yet into buf: returns how many, 0 when nothing
 * is left (the subscriber is paused until wake), or -1 once the stream is closed. */
long dtf_events_read(struct dtf_events_sub *sub, char *buf, size_t max);
/* Ends a subscription; accepts NULL. */
void dtf_events_unsubscribe(struct dtf_events_sub *sub);

#endif
