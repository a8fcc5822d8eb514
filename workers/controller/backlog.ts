/**
 * A pool's task-queue backlog and pollers, from Temporal's DescribeTaskQueue with reportStats (server ≥ 1.25;
 * the dev server of temporal CLI v1.5.1 is 1.29). The backlog count is approximate: the server caches the
 * stats for a few seconds and may count expired tasks until they are dispatched, which is why decisions use
 * step limits and cooldowns rather than trusting one reading.
 *
 * A pool's backlog is every task waiting on its queue, workflow and activity tasks alike: orchestration has
 * both, media-io and transcode only ever receive activity tasks (their workflow half reads 0).
 */
import type { WorkflowService } from '@temporalio/client';

// Wire values of temporal.api.enums.v1 (stable proto enum numbers; @temporalio/proto is not a direct dependency).
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

export interface QueueBacklog {
  taskQueue: string;
  /** Workflow + activity tasks waiting (approximate). */
  backlog: number;
  workflowBacklog: number;
  activityBacklog: number;
  /** Age of the oldest waiting task, seconds (0 when none). */
  oldestTaskAgeSeconds: number;
  /** Distinct worker identities that polled recently (either task type). */
  pollers: number;
}

/** The part of a Temporal connection this needs: `connection.workflowService` of a client or Connection. */
export type BacklogSource = Pick<WorkflowService, 'describeTaskQueue'>;

export async function readQueueBacklog(
  service: BacklogSource,
  namespace: string,
  taskQueue: string,
): Promise<QueueBacklog> {
  const describe = (taskQueueType: typeof TASK_QUEUE_TYPE_WORKFLOW | typeof TASK_QUEUE_TYPE_ACTIVITY) =>
    service.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
      reportStats: true,
    });
  const [workflow, activity] = await Promise.all([
    describe(TASK_QUEUE_TYPE_WORKFLOW),
    describe(TASK_QUEUE_TYPE_ACTIVITY),
  ]);
  const workflowBacklog = Number(workflow.stats?.approximateBacklogCount ?? 0);
  const activityBacklog = Number(activity.stats?.approximateBacklogCount ?? 0);
  const identities = new Set(
    [...workflow.pollers, ...activity.pollers].map((poller) => poller.identity ?? '').filter(Boolean),
  );
  return {
    taskQueue,
    backlog: workflowBacklog + activityBacklog,
    workflowBacklog,
    activityBacklog,
    oldestTaskAgeSeconds: Math.max(
      durationSeconds(workflow.stats?.approximateBacklogAge),
      durationSeconds(activity.stats?.approximateBacklogAge),
    ),
    pollers: identities.size,
  };
}

function durationSeconds(
  duration:
    { seconds?: { toNumber(): number } | number | string | null; nanos?: number | null } | null | undefined,
): number {
  if (!duration) return 0;
  const seconds = Number(duration.seconds ?? 0);
  return Math.round((seconds + (duration.nanos ?? 0) / 1e9) * 10) / 10;
}
