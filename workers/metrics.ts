/**
 * The prom-client objects of custody's metrics (defined as data in domain/metrics.ts), in a registry of their own
 * (not prom-client's global one), with the process metrics beside them.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import { METRIC_DEFINITIONS, type MetricName, type MetricsPort } from '../domain/metrics';

export type CustodyMetrics = MetricsPort & { registry: Registry };

export function createMetrics(registry = new Registry()): CustodyMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'custody_process_' });
  // These three are gauges named *_total, which Prometheus' own lint (promtool) rejects.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(`custody_process_${name}`);
  }
  const metrics: Record<string, unknown> = { registry };
  for (const [key, definition] of Object.entries(METRIC_DEFINITIONS) as [
    MetricName,
    (typeof METRIC_DEFINITIONS)[MetricName],
  ][]) {
    const common = {
      name: definition.name,
      help: definition.help,
      registers: [registry],
      ...('labelNames' in definition && { labelNames: [...definition.labelNames] }),
    };
    switch (definition.kind) {
      case 'counter': {
        const counter = new Counter(common);
        // Each known series exists at 0 from the start, so increase() sees its first event (domain/metrics.ts).
        if ('series' in definition) for (const labels of definition.series) counter.inc(labels, 0);
        metrics[key] = counter;
        break;
      }
      case 'histogram':
        metrics[key] = new Histogram({ ...common, buckets: [...definition.buckets] });
        break;
      case 'gauge': {
        const gauge = new Gauge(common);
        if ('series' in definition) for (const labels of definition.series) gauge.set(labels, 0);
        metrics[key] = gauge;
        break;
      }
    }
  }
  return metrics as CustodyMetrics;
}
