/**
 * A workflow interceptor for tests, bundled only into the fault-injection bundle global-setup.ts builds: a
 * lifecycle started with the memo FAULT_MEMO_KEY = { failBeforeActivity, whenAction? } fails outright
 * (non-retryable ApplicationFailure: a failed workflow, not a parked one) where it would schedule that activity
 * or local activity (for appendCustodyEntry: the entry with that action). Workflows without the memo — every
 * other test's — are untouched. Workflow code: no Node, no I/O.
 */
import {
  ApplicationFailure,
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

export const FAULT_MEMO_KEY = 'custodyTestFault';

export interface InjectedFault {
  /** The activity type before whose scheduling the workflow fails. */
  failBeforeActivity: string;
  /** Only when the activity's input has this `action` (a custody-log entry's). */
  whenAction?: string;
}

function failIfMarked(activityType: string, args: unknown[]): void {
  const fault = workflowInfo().memo?.[FAULT_MEMO_KEY] as InjectedFault | undefined;
  if (!fault || fault.failBeforeActivity !== activityType) return;
  const action = (args[0] as { action?: unknown } | undefined)?.action;
  if (fault.whenAction !== undefined && fault.whenAction !== action) return;
  throw ApplicationFailure.nonRetryable(
    `injected fault: the workflow fails where it would schedule ${activityType}` +
      (fault.whenAction ? ` (${fault.whenAction})` : ''),
    'InjectedFault',
  );
}

class FailBeforeActivity implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(
    input: ActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
  ): Promise<unknown> {
    failIfMarked(input.activityType, input.args);
    return next(input);
  }

  async scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    failIfMarked(input.activityType, input.args);
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new FailBeforeActivity()] });
