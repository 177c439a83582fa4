/* metrics.c: GET /metrics, the coordinator's counters and gauges in Prometheus's text format
 * (common/prom.h writes it), read from the core under its lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "core/model.h"
#include "core/outbox.h"

struct channel_counts {
	size_t n;
	struct {
		const char *name, *type;
		uint64_t v[4]; /* sent, retried, dead, pending */
	} ch[NOTIFY_MAX_CHANNELS];
};

static void collect_channel(void *arg, const char *channel, const char *type, uint64_t sent,
			    uint64_t retried, uint64_t dead, uint64_t pending)
{
	struct channel_counts *cc = arg;

	if (cc->n == NOTIFY_MAX_CHANNELS)
		return;
	cc->ch[cc->n].name = channel;
	cc->ch[cc->n].type = type;
	cc->ch[cc->n].v[0] = sent;
	cc->ch[cc->n].v[1] = retried;
	cc->ch[cc->n].v[2] = dead;
	cc->ch[cc->n].v[3] = pending;
	cc->n++;
}

/* The outbox by channel: messages sent, retried and given up on since start, and waiting. */
static void notification_metrics(struct coord *c, struct dtf_prom *pm)
{
	static const char *const outcomes[] = {"sent", "retried", "dead"};
	struct channel_counts cc;
	size_t i;
	int o;

	cc.n = 0;
	outbox_metrics(c, collect_channel, &cc);
	if (!cc.n)
		return;
	dtf_prom_family(pm, "dtf_notifications_total", DTF_PROM_COUNTER,
			"Notification sends by channel and outcome (a retried send counts once per "
			"failed try).");
	for (i = 0; i < cc.n; i++)
		for (o = 0; o < 3; o++)
			dtf_prom_sample(pm, NULL,
					DTF_PROM_LABELS("channel", cc.ch[i].name, "type",
							cc.ch[i].type, "outcome", outcomes[o]),
					(double)cc.ch[i].v[o]);
	dtf_prom_family(pm, "dtf_notifications_pending", DTF_PROM_GAUGE,
			"Notifications waiting in the outbox, by channel.");
	for (i = 0; i < cc.n; i++)
		dtf_prom_sample(pm, NULL,
				DTF_PROM_LABELS("channel", cc.ch[i].name, "type", cc.ch[i].type),
				(double)cc.ch[i].v[3]);
}

void api_h_metrics(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	static const char *const wnames[] = {"idle", "busy", "draining", "lost"};
	int wcount[4] = {0}, waiters = 0;
	size_t pos = 0, i;
	const char *k;
	void *v;
	int s;
	struct dtf_prom pm;

	pthread_mutex_lock(&c->lock);
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		wcount[((struct cworker *)v)->status]++;
		waiters += ((struct cworker *)v)->waiter != NULL;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4";
	dtf_buf_reset(&r->resp);
	dtf_prom_init(&pm, &r->resp);
	dtf_prom_family(&pm, "dtf_tasks", DTF_PROM_GAUGE, "Tasks by status.");
	for (s = 0; s < TS__COUNT; s++)
		dtf_prom_sample(&pm, NULL,
				DTF_PROM_LABELS("status", task_status_name((enum task_status)s)),
				c->counts[s]);
	dtf_prom_family(&pm, "dtf_workers", DTF_PROM_GAUGE, "Workers by status.");
	for (s = 0; s < 4; s++)
		dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("status", wnames[s]), wcount[s]);
	dtf_prom_single(&pm, "dtf_tasks_submitted_total", DTF_PROM_COUNTER, "Tasks accepted.",
			(double)c->m_submitted);
	dtf_prom_single(&pm, "dtf_leases_total", DTF_PROM_COUNTER, "Leases that handed out tasks.",
			(double)c->m_leases);
	dtf_prom_single(&pm, "dtf_leased_tasks_total", DTF_PROM_COUNTER,
			"Tasks handed out by leases.", (double)c->m_leased_tasks);
	dtf_prom_single(&pm, "dtf_tasks_requeued_total", DTF_PROM_COUNTER,
			"Tasks sent back to pending.", (double)c->m_requeued);
	dtf_prom_family(&pm, "dtf_task_requeues_total", DTF_PROM_COUNTER,
			"Tasks requeued without spending a retry because their worker was lost, "
			"restarted without them or stopped them (bounded by max_requeues).");
	for (i = 0; i < 2; i++)
		dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("kind", state_requeue_kind_names[i]),
				(double)c->m_infra_requeues[i]);
	dtf_prom_single(&pm, "dtf_task_requeue_limit_total", DTF_PROM_COUNTER,
			"Tasks failed because their worker was lost more often than max_requeues "
			"allows.",
			(double)c->m_requeue_limit);
	dtf_prom_single(&pm, "dtf_stale_results_total", DTF_PROM_COUNTER,
			"Results rejected as stale.", (double)c->m_stale_results);
	dtf_prom_single(&pm, "dtf_pending_tasks", DTF_PROM_GAUGE, "Tasks in the pending queues.",
			(double)c->pending_count);
	dtf_prom_single(&pm, "dtf_lease_waiters", DTF_PROM_GAUGE,
			"Workers with a long-poll lease parked, waiting for work.", waiters);
	dtf_prom_single(&pm, "dtf_leased_ahead_total", DTF_PROM_COUNTER,
			"Tasks leased ahead (queued on a worker whose slots were all taken).",
			(double)c->m_leased_ahead);
	dtf_prom_family(&pm, "dtf_task_results_total", DTF_PROM_COUNTER, "Final task outcomes.");
	for (s = TS_COMPLETED; s < TS__COUNT; s++)
		dtf_prom_sample(&pm, NULL,
				DTF_PROM_LABELS("status", task_status_name((enum task_status)s)),
				(double)c->m_results[s]);
	dtf_prom_single(&pm, "dtf_store_commits_total", DTF_PROM_COUNTER,
			"Store transactions committed.", (double)c->m_commits);
	dtf_prom_single(&pm, "dtf_store_committed_changes_total", DTF_PROM_COUNTER,
			"Changes (requests) those commits held.", (double)c->m_commit_changes);
	recovery_metrics(c, &pm);
	sx_metrics(c->sx, &pm);
	notification_metrics(c, &pm);
	{
		/* Authentication (docs/auth.md): what a guesser or a stolen token leaves behind. */
		uint64_t fails = 0, limited = 0;
		dtf_http_auth_stats(((struct dtf_api *)r->app)->http, &fails, &limited);
		dtf_prom_single(&pm, "dtf_auth_failures_total", DTF_PROM_COUNTER,
				"Requests with a key or worker token that is not valid.",
				(double)fails);
		dtf_prom_single(&pm, "dtf_auth_rate_limited_total", DTF_PROM_COUNTER,
				"Requests refused (429) after too many failed authentications "
				"from their address.",
				(double)limited);
		dtf_prom_single(&pm, "dtf_worker_tokens_issued_total", DTF_PROM_COUNTER,
				"Worker tokens (JWTs) issued: registrations and renewals.",
				(double)c->auth.issued);
		dtf_prom_single(&pm, "dtf_worker_token_refusals_total", DTF_PROM_COUNTER,
				"Worker calls refused for their token (expired, forged, another "
				"worker's, revoked).",
				(double)c->auth.refused);
		dtf_prom_single(&pm, "dtf_worker_takeovers_refused_total", DTF_PROM_COUNTER,
				"Registrations of a live or revoked worker refused.",
				(double)c->auth.takeovers);
	}
	pthread_mutex_unlock(&c->lock);
	{
		int prc = dtf_prom_end(&pm);

		if (prc) {
			/* A bug in a family's definition (or no memory): say so rather than
			 * serve half. */
			log_error("/metrics: %s", dtf_strerror(prc));
			dtf_http_reply_error(r, 500, "metrics_error",
					     "the metrics could not be written: %s",
					     dtf_strerror(prc));
		}
	}
}
