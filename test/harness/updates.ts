/** Assertions about Updates sent to a recording's workflow. */
import { WorkflowUpdateFailedError } from '@temporalio/client';

/** The validator's reason of an Update that must be rejected; fails the test when it was accepted. */
export async function updateRejection(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (err) {
    // Plain code, not `expect`: the harness is also compiled into dist/ for scripts/capture-histories.
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return err.cause?.message ?? '';
  }
  throw new Error('the update was accepted, but should have been rejected');
}
