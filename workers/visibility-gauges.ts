/**
 * Gauges that describe all recordings, not this process: counted from Temporal visibility every `everyMs`
 * by each orchestration worker (cheap count queries; any replica's answer is the same).
 */
import type { Client } from '@temporalio/client';
import { STAGES } from '../domain/types';
import type { CustodyMetrics } from './metrics';

/** Past the deadline, not held, not yet deleted: each one is a recording kept longer than the law allows. */
export function overdueQuery(now: Date): string {
  return (
    `WorkflowType = 'recordingLifecycle' AND ExecutionStatus = 'Running' AND CustodyHeld = false ` +
    `AND CustodyDeleteAfter < '${now.toISOString()}' AND CustodyState != 'deleted'`
  );
}

/**
 * Lifecycles that ended without deleting their recording — failed, terminated, timed out or cancelled: no timer
 * watches their deadline any more (a continued-as-new run is not ended: its successor runs). Each needs a person:
 * `custody reset`, or a deletion by hand with a certificate.
 */
export function abandonedQuery(): string {
  return (
    `WorkflowType = 'recordingLifecycle' AND ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut', 'Canceled') ` +
    `AND CustodyState != 'deleted'`
  );
}

export function startVisibilityGauges(
  client: () => Promise<Client>,
  metrics: CustodyMetrics,
  everyMs = 30_000,
) {
  const refresh = async () => {
    const c = await client();
    const overdue = await c.workflow.count(overdueQuery(new Date()));
    metrics.overdueRecordings.set(overdue.count);
    metrics.abandonedRecordings.set((await c.workflow.count(abandonedQuery())).count);
    for (const stage of STAGES) {
      const parked = await c.workflow.count(
        `WorkflowType = 'recordingLifecycle' AND ExecutionStatus = 'Running' AND CustodyState = 'needs-attention' AND CustodyStage = '${stage}'`,
      );
      metrics.needsAttention.set({ stage }, parked.count);
    }
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    refresh()
      .catch((err: unknown) => console.warn(`visibility gauges not refreshed: ${String(err)}`))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  void refresh().catch(() => undefined);
  return { stop: () => clearInterval(timer), refresh };
}
