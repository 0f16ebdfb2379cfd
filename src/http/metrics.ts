// Prometheus metrics at GET /metrics: requests by route and status with their durations, argon2id
// work, the outbox's backlog, webhook deliveries and their backlog, and the process's own figures. Each app has its own registry.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { passwordWork } from '../domain/accounts/passwords.ts';
import type { HealthService } from '../domain/operations/health.service.ts';
import type { DeliveryCounts } from '../domain/webhooks/delivery-worker.ts';

export function installMetrics(app: FastifyInstance, health: HealthService, webhookDeliveries: Readonly<DeliveryCounts>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'gatehouse_http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const durations = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Counter({
    name: 'gatehouse_password_hashes_total',
    help: 'argon2id hashes computed by this process',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(passwordWork.hashes);
    },
  });
  new Counter({
    name: 'gatehouse_password_verifications_total',
    help: 'argon2id verifications run by this process, decoys included',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(passwordWork.verifications);
    },
  });
  new Gauge({
    name: 'gatehouse_outbox_mails',
    help: 'Mails in the outbox by status (pending includes those waiting to be retried)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const backlog = await health.outboxBacklog();
      this.reset();
      for (const status of ['pending', 'failed'] as const) this.set({ status }, backlog[status]);
    },
  });

  new Counter({
    name: 'gatehouse_webhook_deliveries_total',
    help: 'Webhook delivery attempts made by this process, by outcome (retrying: failed, to be tried again)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const outcome of ['delivered', 'retrying', 'failed'] as const) this.inc({ outcome }, webhookDeliveries[outcome]);
    },
  });
  let webhookBacklog: Promise<{ pending: number; failed: number; oldestPendingSeconds: number }> | null = null;
  /** Both webhook gauges from one query per scrape. */
  const readWebhookBacklog = () => (webhookBacklog ??= health.webhookBacklog().finally(() => setImmediate(() => (webhookBacklog = null))));
  new Gauge({
    name: 'gatehouse_webhook_deliveries',
    help: 'Webhook deliveries not yet made, by status (pending includes those waiting to be retried; failed: given up)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const backlog = await readWebhookBacklog();
      this.reset();
      for (const status of ['pending', 'failed'] as const) this.set({ status }, backlog[status]);
    },
  });
  new Gauge({
    name: 'gatehouse_webhook_oldest_pending_seconds',
    help: 'Age of the oldest webhook delivery not yet made (0 when none is pending)',
    registers: [registry],
    async collect() {
      this.set((await readWebhookBacklog()).oldestPendingSeconds);
    },
  });

  app.addHook('onResponse', (request, reply, done) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    requests.inc(labels);
    durations.observe(labels, reply.elapsedTime / 1000);
    done();
  });
  return registry;
}
