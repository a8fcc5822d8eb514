/**
 * Tests that drive a recording's workflow directly play the custody API: they sign each person's action with the
 * run's assertion key (the global setups generate it and build its public half into every bundle) and send it as
 * the API would. Tests of the API itself go through the API process instead.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { createAssertionSigner, type AssertedIdentity, type AssertionSigner } from '../../api/assertions';
import type { ActionParams, AssertedAction, RequestCreation } from '../../domain/assertion';
import { recordingIdFromWorkflowId } from '../../domain/ids';
import { CUSTODY_ROLES, type CustodyRole } from '../../domain/roles';
import { loadAssertionSigningKey, type AssertionSigningKey } from '../../workers/assertion-keys';
import * as messages from '../../workflows/messages';

export const TEST_ISSUER = 'https://idp.test.invalid';

let signingKey: AssertionSigningKey | undefined;
/** The run's signing key, as the custody API holds it (for tests that sign at another time). */
export function testSigningKey(): AssertionSigningKey {
  const file = process.env.CUSTODY_ASSERTION_SIGNING_KEY_FILE;
  if (!file)
    throw new Error(
      'CUSTODY_ASSERTION_SIGNING_KEY_FILE is not set: run the tests through jest, whose global setup generates the key',
    );
  return (signingKey ??= loadAssertionSigningKey(file));
}

let signer: AssertionSigner | undefined;
function testSigner(): AssertionSigner {
  return (signer ??= createAssertionSigner(testSigningKey()));
}

/** A person as a test names them: a subject, with every custody role and every unit unless told otherwise. */
export interface TestPerson {
  subject: string;
  roles?: readonly CustodyRole[];
  units?: readonly string[];
  officerId?: string;
  issuer?: string;
}

function identityOf(person: TestPerson | string): AssertedIdentity {
  const p = typeof person === 'string' ? { subject: person } : person;
  return {
    subject: p.subject,
    issuer: p.issuer ?? TEST_ISSUER,
    roles: p.roles ?? CUSTODY_ROLES,
    units: p.units ?? ['*'],
    ...(p.officerId !== undefined && { officerId: p.officerId }),
  };
}

export async function signedAction<A extends AssertedAction>(
  recordingId: string,
  action: A,
  params: ActionParams[A],
  by: TestPerson | string,
  /** Another signer: one with another key, or another clock. */
  signer: AssertionSigner = testSigner(),
): Promise<messages.SignedAction> {
  const { assertion } = await signer.sign({ identity: identityOf(by), action, recordingId, params });
  return { assertion };
}

/**
 * Sends an action signed beforehand (or forged) as the Update of `action`, as the API would: for tests of what a
 * validator does with an assertion replayed, tampered with, or made for something else.
 */
export async function sendSigned(
  handle: WorkflowHandle,
  action: AssertedAction,
  signed: messages.SignedAction,
): Promise<unknown> {
  const update = messages.UPDATE_OF_ACTION[action] as typeof messages.holdUpdate;
  return handle.executeUpdate(update, { args: [signed] });
}

/** Sends one signed action to the recording behind `handle` and returns the Update's result. */
export async function act<A extends AssertedAction>(
  handle: WorkflowHandle,
  action: A,
  params: ActionParams[A],
  by: TestPerson | string,
): Promise<unknown> {
  const signed = await signedAction(recordingIdFromWorkflowId(handle.workflowId), action, params, by);
  return sendSigned(handle, action, signed);
}

/** A four-eyes action: `requester` asks, `approver` approves; returns the decision's result. */
export async function approved(
  handle: WorkflowHandle,
  creation: RequestCreation,
  requester: TestPerson | string,
  approver: TestPerson | string,
): Promise<messages.DecideRequestResult> {
  const request = (await act(handle, 'request.create', creation, requester)) as { id: string };
  return (await act(
    handle,
    'request.decide',
    { requestId: request.id, decision: 'approve', reason: `approved: ${creation.reason}` },
    approver,
  )) as messages.DecideRequestResult;
}
