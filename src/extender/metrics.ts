/** Prometheus metrics of the extender: latency per verb, outcomes, and rejections per rule. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ExtenderMetrics {
  latency: Histogram<'verb'>;
  requests: Counter<'verb' | 'outcome'>;
  rejections: Counter<'rule'>;
  reservations: Gauge;
}

export function extenderMetrics(registry: Registry): ExtenderMetrics {
  return {
    latency: new Histogram({
      name: 'kosmos_extender_request_duration_seconds',
      help: 'Time to answer a kube-scheduler extender call, by verb.',
      labelNames: ['verb'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'kosmos_extender_requests_total',
      help: 'Extender calls by verb and outcome (placed, unschedulable, bound, error, bad_request).',
      labelNames: ['verb', 'outcome'],
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'kosmos_extender_node_rejections_total',
      help: 'Nodes removed by filter, by the placement rule that removed them.',
      labelNames: ['rule'],
      registers: [registry],
    }),
    reservations: new Gauge({
      name: 'kosmos_extender_member_reservations',
      help: 'Member-node capacity held for pods placed on leaf nodes but not yet seen in the leaf.',
      registers: [registry],
    }),
  };
}
