/* events.c: the event stream. Publishers append to a ring under the events lock; each
 * subscriber (a front-end's stream: the REST API's server-sent events) reads what it has not
 * read yet as server-sent-event records, or is paused through its own callback until the next
 * publish wakes it. */
#include "core/events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

/* Who may read an event: everyone (a worker's change), or the subscribers that see every
 * project and those limited to the event's project (a task's, "" for none). */
#define PROJECT_MAX 64

struct event {
	uint64_t seq;
	char run_id[48];
	bool scoped;		   /* of one project: project, or none a limited reader has */
	char project[PROJECT_MAX]; /* "" none, or a project longer than any a key may name */
	const char *type;	   /* static string */
	json_t *data;		   /* owned; formatted only when a stream reads it */
	char *payload;		   /* owned: the payload as JSON text instead of data, or NULL */
	size_t plen;
	char *text; /* the whole "id: …\nevent: …\ndata: …\n\n" record, once formatted */
	size_t len;
};

struct client {
	struct dtf_events *ev;
	void (*pause)(void *arg); /* the front-end's: stop reading until wake */
	void (*wake)(void *arg);
	void *arg;
	uint64_t next;		   /* the next sequence number to send */
	char run_id[48];	   /* filter, "" for all */
	char project[PROJECT_MAX]; /* the reader's limit, "" for every project */
	bool paused;
	bool keepalive; /* send a comment line at the next read */
	bool hello;	/* the opening comment is not sent yet */
	size_t partial; /* bytes of event `next` already sent */
	struct client *prev, *nextc;
};

struct dtf_events {
	pthread_mutex_t lock;
	struct event ring[DTF_EVENTS_RING];
	uint64_t seq; /* the last sequence number used */
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
			c->wake(c->arg);
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
static struct event *next_slot(struct dtf_events *ev, const char *type, const char *run_id,
			       const char *project)
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
	e->scoped = project != NULL;
	/* A longer project than a key may name matches no limited reader (never a prefix). */
	snprintf(e->project, sizeof(e->project), "%s",
		 project && strlen(project) < sizeof(e->project) ? project : "");
	return e;
}

void dtf_events_publish(struct dtf_events *ev, const char *type, const char *run_id,
			const char *project, const json_t *data)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	next_slot(ev, type, run_id, project)->data = json_incref((json_t *)data);
	if (ev->clients)
		wake_all(ev);
	pthread_mutex_unlock(&ev->lock);
}

void dtf_events_publish_text(struct dtf_events *ev, const char *type, const char *run_id,
			     const char *project, char *payload, size_t len)
{
	struct event *e;

	if (!ev) {
		free(payload);
		return;
	}
	pthread_mutex_lock(&ev->lock);
	e = next_slot(ev, type, run_id, project);
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

/* True when reader c may see event e (its project limit). */
static bool visible(const struct client *c, const struct event *e)
{
	return !c->project[0] || !e->scoped || strcmp(c->project, e->project) == 0;
}

long dtf_events_read(struct dtf_events_sub *sub, char *buf, size_t max)
{
	struct client *c = (struct client *)sub;
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
		if ((c->run_id[0] && strcmp(c->run_id, e->run_id) != 0) || !visible(c, e) ||
		    !format_event(e)) {
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
		c->pause(c->arg);
	}
	pthread_mutex_unlock(&ev->lock);
	return (long)used;
}

void dtf_events_unsubscribe(struct dtf_events_sub *sub)
{
	struct client *c = (struct client *)sub;
	struct dtf_events *ev;

	if (!c)
		return;
	ev = c->ev;
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

struct dtf_events_sub *dtf_events_subscribe(struct dtf_events *ev, const char *run_id,
					    const char *project, const char *last_id,
					    void (*pause)(void *), void (*wake)(void *), void *arg,
					    int *err)
{
	struct client *c;

	if ((run_id && strlen(run_id) >= sizeof(c->run_id)) ||
	    (project && strlen(project) >= sizeof(c->project))) {
		*err = DTF_EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		*err = DTF_ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&ev->lock);
	if (ev->nclients >= DTF_EVENTS_MAX_CLIENTS || ev->closed) {
		pthread_mutex_unlock(&ev->lock);
		free(c);
		*err = DTF_ETOOBIG;
		return NULL;
	}
	c->ev = ev;
	c->pause = pause;
	c->wake = wake;
	c->arg = arg;
	c->hello = true;
	c->next = ev->seq + 1;
	if (last_id) {
		unsigned long long l = strtoull(last_id, NULL, 10);
		if (l < ev->seq)
			c->next = l + 1;
	}
	snprintf(c->run_id, sizeof(c->run_id), "%s", run_id ? run_id : "");
	snprintf(c->project, sizeof(c->project), "%s", project ? project : "");
	c->nextc = ev->clients;
	if (ev->clients)
		ev->clients->prev = c;
	ev->clients = c;
	ev->nclients++;
	pthread_mutex_unlock(&ev->lock);
	return (struct dtf_events_sub *)c;
}
