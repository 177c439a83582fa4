/* events.c: server-sent events. Publishers append to a ring under the events lock; each stream
 * reader copies what it has not sent yet, or pauses its connection until the next publish. */
#include "coordinator/events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

struct event {
	uint64_t seq;
	char run_id[48];
	const char *type;  /* static string */
	json_t *data;      /* owned; formatted only when a stream reads it */
	char *payload;     /* owned: the payload as JSON text instead of data, or NULL */
	size_t plen;
	char *text;        /* the whole "id: …\nevent: …\ndata: …\n\n" record, once formatted */
	size_t len;
};

struct client {
	struct dtf_events *ev;
	struct MHD_Connection *conn;
	uint64_t next;      /* the next sequence number to send */
	char run_id[48];    /* filter, "" for all */
	bool paused;
	bool keepalive;     /* send a comment line at the next read */
	bool hello;         /* the opening comment is not sent yet */
	size_t partial;     /* bytes of event `next` already sent */
	struct client *prev, *nextc;
};

struct dtf_events {
	pthread_mutex_t lock;
	struct event ring[DTF_EVENTS_RING];
	uint64_t seq;       /* the last sequence number used */
	struct client *clients;
	int nclients;
	bool closed;
};

struct dtf_events *dtf_events_new(void)
{
	struct dtf_events *ev = calloc(1, sizeof(*ev));

	if (ev)
		pthread_mutex_init(&ev->lock, NULL);
	return ev;
}

static void wake_all(struct dtf_events *ev)
{
	struct client *c;

	for (c = ev->clients; c; c = c->nextc) {
		if (c->paused) {
			c->paused = false;
			dtf_http_conn_resume(c->conn);
		}
	}
}

void dtf_events_close(struct dtf_events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->closed = true;
	wake_all(ev);
	pthread_mutex_unlock(&ev->lock);
}

void dtf_events_free(struct dtf_events *ev)
{
	size_t i;

	if (!ev)
		return;
	for (i = 0; i < DTF_EVENTS_RING; i++) {
		free(ev->ring[i].text);
		free(ev->ring[i].payload);
		json_decref(ev->ring[i].data);
	}
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

/* Takes the next slot of the ring (the oldest event leaves it); called with ev->lock held. */
static struct event *next_slot(struct dtf_events *ev, const char *type, const char *run_id)
{
	struct event *e;

	ev->seq++;
	e = &ev->ring[ev->seq % DTF_EVENTS_RING];
	free(e->text);
	free(e->payload);
	json_decref(e->data);
	e->text = NULL;
	e->len = 0;
	e->payload = NULL;
	e->plen = 0;
	e->data = NULL;
	e->seq = ev->seq;
	e->type = type;
	snprintf(e->run_id, sizeof(e->run_id), "%s", run_id ? run_id : "");
	return e;
}

void dtf_events_publish(struct dtf_events *ev, const char *type, const char *run_id,
			const json_t *data)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	next_slot(ev, type, run_id)->data = json_incref((json_t *)data);
	if (ev->clients)
		wake_all(ev);
	pthread_mutex_unlock(&ev->lock);
}

void dtf_events_publish_text(struct dtf_events *ev, const char *type, const char *run_id,
			     char *payload, size_t len)
{
	struct event *e;

	if (!ev) {
		free(payload);
		return;
	}
	pthread_mutex_lock(&ev->lock);
	e = next_slot(ev, type, run_id);
	e->payload = payload;
	e->plen = len;
	if (ev->clients)
		wake_all(ev);
	pthread_mutex_unlock(&ev->lock);
}

/* Formats an event's record the first time a stream needs it. */
static bool format_event(struct event *e)
{
	char *payload;
	int n;

	if (e->text)
		return true;
	if (e->payload) {
		n = asprintf(&e->text, "id: %llu\nevent: %s\ndata: %.*s\n\n",
			     (unsigned long long)e->seq, e->type, (int)e->plen, e->payload);
		if (n < 0) {
			e->text = NULL;
			return false;
		}
		e->len = (size_t)n;
		return true;
	}
	if (!e->data)
		return false;
	payload = dtf_json_dumps(e->data);
	if (!payload)
		return false;
	n = asprintf(&e->text, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)e->seq,
		     e->type, payload);
	free(payload);
	if (n < 0) {
		e->text = NULL;
		return false;
	}
	e->len = (size_t)n;
	return true;
}

void dtf_events_keepalive(struct dtf_events *ev)
{
	struct client *c;

	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	for (c = ev->clients; c; c = c->nextc)
		c->keepalive = true;
	wake_all(ev);
	pthread_mutex_unlock(&ev->lock);
}

static long reader(void *cls, char *buf, size_t max)
{
	struct client *c = cls;
	struct dtf_events *ev = c->ev;
	size_t used = 0;

	pthread_mutex_lock(&ev->lock);
	if (ev->closed) {
		pthread_mutex_unlock(&ev->lock);
		return -1;
	}
	if (c->hello || c->keepalive) {
		const char *s = c->hello ? ": dtf events\n\n" : ": keepalive\n\n";
		size_t n = strlen(s);
		if (n <= max) {
			memcpy(buf, s, n);
			used = n;
			c->hello = c->keepalive = false;
		}
	}
	/* Events that fell out of the ring are skipped: the client sees the gap in the ids. */
	if (ev->seq >= DTF_EVENTS_RING && c->next <= ev->seq - DTF_EVENTS_RING) {
		c->next = ev->seq - DTF_EVENTS_RING + 1;
		c->partial = 0;
	}
	while (c->next <= ev->seq && used < max) {
		struct event *e = &ev->ring[c->next % DTF_EVENTS_RING];
		size_t n;
		if ((c->run_id[0] && strcmp(c->run_id, e->run_id) != 0) || !format_event(e)) {
			c->next++;
			continue;
		}
		n = e->len - c->partial;
		if (n > max - used)
			n = max - used;
		memcpy(buf + used, e->text + c->partial, n);
		used += n;
		c->partial += n;
		if (c->partial == e->len) {
			c->partial = 0;
			c->next++;
		}
	}
	if (used == 0) {
		c->paused = true;
		dtf_http_conn_pause(c->conn);
	}
	pthread_mutex_unlock(&ev->lock);
	return (long)used;
}

static void client_free(void *cls)
{
	struct client *c = cls;
	struct dtf_events *ev = c->ev;

	pthread_mutex_lock(&ev->lock);
	if (c->prev)
		c->prev->nextc = c->nextc;
	else
		ev->clients = c->nextc;
	if (c->nextc)
		c->nextc->prev = c->prev;
	ev->nclients--;
	pthread_mutex_unlock(&ev->lock);
	free(c);
}

void dtf_events_serve(struct dtf_events *ev, struct dtf_http_req *r)
{
	const char *run_id = dtf_http_query(r, "run_id");
	const char *last = dtf_http_header(r, "Last-Event-ID");
	struct client *c;

	if (run_id && strlen(run_id) >= sizeof(c->run_id)) {
		dtf_http_reply_error(r, 400, "invalid_run", "run_id is too long");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		dtf_http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	pthread_mutex_lock(&ev->lock);
	if (ev->nclients >= DTF_EVENTS_MAX_CLIENTS || ev->closed) {
		pthread_mutex_unlock(&ev->lock);
		free(c);
		dtf_http_reply_error(r, 503, "too_many_streams", "at most %d event streams",
				     DTF_EVENTS_MAX_CLIENTS);
		return;
	}
	c->ev = ev;
	c->conn = r->conn;
	c->hello = true;
	c->next = ev->seq + 1;
	if (last) {
		unsigned long long l = strtoull(last, NULL, 10);
		if (l < ev->seq)
			c->next = l + 1;
	}
	snprintf(c->run_id, sizeof(c->run_id), "%s", run_id ? run_id : "");
	c->nextc = ev->clients;
	if (ev->clients)
		ev->clients->prev = c;
	ev->clients = c;
	ev->nclients++;
	pthread_mutex_unlock(&ev->lock);
	r->status = 200;
	r->content_type = "text/event-stream";
	r->stream = reader;
	r->stream_free = client_free;
	r->stream_cls = c;
}
