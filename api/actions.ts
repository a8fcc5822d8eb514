/**
 * How the API acts on a recording: sign the person's action (api/assertions.ts) and send it as the Update the
 * action stands for. The workflow's validator decides — it trusts the signature, not the API's own checks — and a
 * refusal comes back as 409 with the validator's reason, having changed nothing.
 */
import type { ActionParams, AssertedAction } from '../domain/assertion';
import { workflowIdFor } from '../domain/ids';
import * as messages from '../workflows/messages';
import type { AssertionSigner, AssertedIdentity } from './assertions';
import { ApiError } from './errors';
import type { TemporalAccess } from './temporal';

export interface RecordingActions {
  /** Signs and sends the action; resolves with the Update's result. */
  perform<A extends AssertedAction>(action: {
    identity: AssertedIdentity;
    recordingId: string;
    action: A;
    params: ActionParams[A];
  }): Promise<unknown>;
}

export function createRecordingActions(temporal: TemporalAccess, signer: AssertionSigner): RecordingActions {
  return {
    async perform({ identity, recordingId, action, params }) {
      const { WorkflowNotFoundError, WorkflowUpdateFailedError } = await import('@temporalio/client');
      // A fresh id per assertion (never the caller's X-Request-Id, which they choose): each acts once.
      const { assertion } = await signer.sign({ identity, action, recordingId, params });
      const handle = (await temporal.client()).workflow.getHandle(workflowIdFor(recordingId));
      try {
        // Every one of these Updates takes { assertion } (its other shapes are for old histories only).
        const update = messages.UPDATE_OF_ACTION[action] as typeof messages.holdUpdate;
        return await handle.executeUpdate(update, { args: [{ assertion }] });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new ApiError(409, `refused: ${err.cause?.message ?? err.message}`);
        if (err instanceof WorkflowNotFoundError)
          throw new ApiError(409, `recording ${recordingId} no longer runs (deleted): nothing to change`);
        throw err;
      }
    },
  };
}
