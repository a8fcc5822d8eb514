/**
 * The life of one recording. Decides only; every effect is an activity (docs/architecture.md):
 *
 *   ingest (copy + hash + probe) ─► transcode ─┐   (transcoding runs beside the deadline: it never delays it)
 *                                              ├─► retained: wait for deadline / hold / extension / policy / early
 *                                              └─► deleting ─► delete every version ─► certificate ─► deleted
 *
 * Administrative actions arrive as Updates whose validators reject with a reason (handlers.ts). Every step is a
 * custody-log entry. Waiting for weeks keeps history small: an idle run continues as new when Temporal suggests it.
 */
import { allHandlersFinished, condition } from '@temporalio/workflow';
import type { LifecycleInput, RecordingStatus } from '../../domain/types';
import { deleteAndCertify } from './deletion';
import { registerHandlers } from './handlers';
import { ingest } from './ingest';
import { lifecycleProxies } from './proxies';
import { waitForDeadline } from './retention';
import { RecordingRun } from './state';
import { startTranscode } from './transcode';

export async function recordingLifecycle(input: LifecycleInput): Promise<RecordingStatus> {
  const run = new RecordingRun(input, lifecycleProxies(input.taskQueues));
  registerHandlers(run);

  // Ingest, unless this run continues one that is past it. New runs set the deadline at receipt: it runs through
  // parking and quarantine, and when it comes first ingest stops (`interrupted`).
  const ingested = run.resumed ? undefined : await ingest(run);
  if (!ingested?.interrupted) {
    // Ingest's last log entries are written while the transcode starts (it needs none of them). The transcode runs
    // beside the retention wait: a stuck or parked transcode never delays deletion.
    const logged = ingested?.lastEntries.length ? run.log.appendAll(ingested.lastEntries) : undefined;
    const transcode = startTranscode(run);
    await logged;
    if (run.status.state !== 'transcoding' && run.status.state !== 'needs-attention')
      run.setState(run.activeHolds().length ? 'held' : 'retained'); // a hold may have come during ingest

    // Retained until the deadline, a hold's release, an extension's end, a policy change or an approved early deletion.
    await (ingested?.deadline ?? waitForDeadline(run));

    // Deletion: the transcode stops first, so no derivative can appear after the certificate.
    run.setState('deleting');
    await transcode.stop();
  } else run.setState('deleting');
  await deleteAndCertify(run);
  await condition(allHandlersFinished);
  return run.snapshot();
}
