/** Assertions about Updates sent to a recording's workflow. */
import { WorkflowUpdateFailedError } from '@temporalio/client';

/** The validator's reason of an Update that must be rejected; fails the test when it was accepted. */
export async function updateRejection(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return (err as WorkflowUpdateFailedError).cause?.message ?? '';
  }
  throw new Error('the update was accepted, but should have been rejected');
}
