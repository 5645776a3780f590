/** /healthz, /readyz and Prometheus /metrics for every Kosmos server. */
import express, { type Router } from 'express';
import { Registry, collectDefaultMetrics } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  check: () => boolean | Promise<boolean>;
}

export function createRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export function observabilityRouter(registry: Registry, checks: ReadinessCheck[] = []): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  router.get('/readyz', async (_req, res) => {
    const failed: string[] = [];
    for (const c of checks) {
      try {
        if (!(await c.check())) failed.push(c.name);
      } catch {
        failed.push(c.name);
      }
    }
    if (failed.length > 0)
      res
        .status(503)
        .type('text/plain')
        .send(`not ready: ${failed.join(', ')}`);
    else res.type('text/plain').send('ok');
  });
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
