/**
 * The back doors of Temporal, against the production-shaped server (test/harness/temporal-server.ts: PostgreSQL,
 * mutual TLS, the JWT authorizer): a recording lives its whole life with each component holding only its own
 * certificate and token, and everyone else who reaches the port — without a certificate, with one but no token,
 * with a person's token, a forged or expired one, or a component's token used for what it is not for — is
 * refused and changes nothing. docs/security.md lists each attack with its test here.
 */
import { randomUUID } from 'node:crypto';
import Long from 'long';
import { readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import { createTestStack, type TestStack } from '../harness/stack';
import { testConfig } from '../harness/env';
import { testPolicyDir } from '../harness/test-policies';
import {
  connectAs,
  mintTemporalToken,
  temporalCredentials,
  temporalEnvAs,
  type TemporalCredentials,
  type TemporalIdentity,
} from '../harness/temporal-server';
import { startTestIssuer } from '../harness/test-issuer';
import { workflowIdFor } from '../../domain/ids';
import { readCustodyLog } from '../../activities/custody-log/read';
import { syntheticClip } from '../fixtures/media';

const PERMISSION_DENIED = 7;
const NAMESPACE = 'default';

let credentials: TemporalCredentials;
let stack: TestStack;
let recordingId: string;
let workflowId: string;

beforeAll(async () => {
  credentials = temporalCredentials();
  // Every pool's workers under the worker identity; the test's own client is one of them.
  const config = testConfig('back-doors', {
    ...temporalEnvAs(credentials, 'worker'),
    CUSTODY_POLICY_DIR: testPolicyDir({ 'test-1h': 'PT1H' }),
  });
  stack = await createTestStack('back-doors', { config });
  const clip = readFileSync(await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10 }));
  const source = await stack.putInbox('dock-1/back-doors.mp4', clip);
  ({ recordingId } = await stack.start(source, { policy: 'test-1h', declared: { deviceId: 'cam-7' } }));
  workflowId = workflowIdFor(recordingId);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

test('a recording lives to retained on it, its workers holding their certificate and token', async () => {
  const status = await stack.waitForState(recordingId, 'retained', 120_000);
  expect(status.reviewReady).toBe(true);
});

/** What an attacker who reaches the frontend tries: each returns the call's promise. */
function attacks(connection: Connection): Record<string, () => Promise<unknown>> {
  const service = connection.workflowService;
  const execution = { workflowId };
  return {
    update: () =>
      service.updateWorkflowExecution({
        namespace: NAMESPACE,
        workflowExecution: execution,
        request: { meta: { updateId: randomUUID() }, input: { name: 'applyPolicy' } },
        waitPolicy: {
          lifecycleStage:
            temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage
              .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
        },
      }),
    signal: () =>
      service.signalWorkflowExecution({
        namespace: NAMESPACE,
        workflowExecution: execution,
        signalName: 'administrativeNote',
        identity: 'attacker',
      }),
    terminate: () =>
      service.terminateWorkflowExecution({
        namespace: NAMESPACE,
        workflowExecution: execution,
        reason: 'attack',
      }),
    reset: () =>
      service.resetWorkflowExecution({
        namespace: NAMESPACE,
        workflowExecution: execution,
        workflowTaskFinishEventId: Long.fromNumber(3),
        requestId: randomUUID(),
        reason: 'attack',
      }),
    'list namespaces': () => service.listNamespaces({}),
  };
}

/** The workflow as the admin sees it: still running, no new events; the custody log as long as before. */
async function snapshot() {
  const admin = await connectAs(credentials, 'admin');
  try {
    const described = await admin.workflowService.describeWorkflowExecution({
      namespace: NAMESPACE,
      execution: { workflowId },
    });
    const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
    return {
      status: described.workflowExecutionInfo?.status,
      historyLength: Number(described.workflowExecutionInfo?.historyLength),
      logEntries: log.entries.length,
    };
  } finally {
    await admin.close();
  }
}

async function refusals(connection: Connection): Promise<Record<string, string>> {
  const outcome: Record<string, string> = {};
  for (const [name, attempt] of Object.entries(attacks(connection))) {
    outcome[name] = await connection.withDeadline(Date.now() + 5000, attempt).then(
      () => 'ACCEPTED',
      (error: { code?: number; details?: string; message?: string }) =>
        error.code === PERMISSION_DENIED
          ? 'permission denied'
          : `failed: ${error.code} ${error.details ?? error.message ?? 'no message'}`,
    );
  }
  return outcome;
}

/** A connection made on first use, with no retries: each attempt is one call the server answers or refuses. */
function attackerConnection(tls: ReturnType<typeof tlsAs> | false, apiKey?: string): Connection {
  return Connection.lazy({
    address: credentials.address,
    connectTimeout: 3000,
    interceptors: [],
    tls,
    ...(apiKey && { apiKey }),
  });
}

function tlsAs(certFile?: string, keyFile?: string) {
  return {
    serverNameOverride: credentials.serverName,
    serverRootCACertificate: readFileSync(credentials.caCertFile),
    ...(certFile &&
      keyFile && { clientCertPair: { crt: readFileSync(certFile), key: readFileSync(keyFile) } }),
  };
}

describe('the back doors of Temporal', () => {
  let before: Awaited<ReturnType<typeof snapshot>>;
  beforeAll(async () => {
    await stack.waitForState(recordingId, 'retained', 120_000);
    before = await snapshot();
    expect(before.status).toBe(
      temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
    );
  }, 150_000);
  afterAll(async () => {
    // Whatever was tried above, the recording's lifecycle is as it was.
    expect(await snapshot()).toEqual(before);
  });

  test('without a client certificate (plain, or TLS without one, or one from another CA) no call gets through', async () => {
    const { token } = credentials.identities.admin; // even the admin's token does not help without the certificate
    const cases: [string, ReturnType<typeof tlsAs> | false, RegExp][] = [
      ['plain', false, /^failed: 14 /],
      ['no certificate', tlsAs(), /^failed: 14 .*alert certificate required/],
      [
        'foreign CA',
        tlsAs(credentials.foreign.certFile, credentials.foreign.keyFile),
        /^failed: 14 .*unknown ca/,
      ],
    ];
    for (const [kind, tls, refusal] of cases) {
      const connection = attackerConnection(tls, token);
      try {
        const outcome = await refusals(connection);
        for (const [attack, result] of Object.entries(outcome)) {
          expect({ kind, attack, refused: refusal.test(result) ? 'as expected' : result }).toEqual({
            kind,
            attack,
            refused: 'as expected',
          });
        }
      } finally {
        await connection.close();
      }
    }
  });

  test('with a certificate but no token: Update, Signal, terminate, reset and namespace listing are refused', async () => {
    const { certFile, keyFile } = credentials.identities.worker;
    const connection = await Connection.connect({
      address: credentials.address,
      tls: tlsAs(certFile, keyFile),
    });
    try {
      expect(await refusals(connection)).toEqual({
        update: 'permission denied',
        signal: 'permission denied',
        terminate: 'permission denied',
        reset: 'permission denied',
        'list namespaces': 'permission denied',
      });
    } finally {
      await connection.close();
    }
  });

  test("a person's token, a forged, an expired or a permissionless one grants nothing", async () => {
    const { certFile, keyFile } = credentials.identities.api;
    // A person's access token from custody's identity provider: a different key, no Temporal permissions.
    const people = await startTestIssuer();
    const foreignSigner = await startTestIssuer('temporal');
    try {
      const tokens = {
        person: await people.mint({ sub: 'investigator-1', custody_roles: ['admin'], custody_units: ['*'] }),
        forged: await foreignSigner.mint({
          sub: 'x',
          permissions: ['temporal-system:admin', 'default:admin'],
        }),
        expired: await mintTemporalToken(credentials, 'custody-api', ['default:admin'], -60),
        permissionless: await mintTemporalToken(credentials, 'investigator-1', []),
      };
      for (const [kind, token] of Object.entries(tokens)) {
        const connection = attackerConnection(tlsAs(certFile, keyFile), token);
        try {
          const outcome = await refusals(connection);
          expect({ kind, outcome }).toEqual({
            kind,
            outcome: {
              update: 'permission denied',
              signal: 'permission denied',
              terminate: 'permission denied',
              reset: 'permission denied',
              'list namespaces': 'permission denied',
            },
          });
        } finally {
          await connection.close();
        }
      }
    } finally {
      await people.close();
      await foreignSigner.close();
    }
  });

  test.each<TemporalIdentity>(['web-ui'])(
    "the %s identity's read-only token cannot signal, update, terminate or reset a lifecycle",
    async (identity) => {
      const connection = await connectAs(credentials, identity);
      try {
        const outcome = await refusals(connection);
        expect(outcome).toMatchObject({
          update: 'permission denied',
          signal: 'permission denied',
          terminate: 'permission denied',
          reset: 'permission denied',
        });
      } finally {
        await connection.close();
      }
    },
  );

  test('the Web UI reads: it lists and describes, and that is all', async () => {
    const connection = await connectAs(credentials, 'web-ui');
    try {
      const listed = await connection.workflowService.listWorkflowExecutions({
        namespace: NAMESPACE,
        query: `WorkflowId = '${workflowId}'`,
      });
      expect(listed.executions.map((e) => e.execution?.workflowId)).toEqual([workflowId]);
    } finally {
      await connection.close();
    }
  });

  test.each<TemporalIdentity>(['worker', 'api'])(
    "the %s identity's credential cannot register search attributes or change the namespace's retention",
    async (identity) => {
      const connection = await connectAs(credentials, identity);
      try {
        const addAttribute = connection.operatorService.addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: {
            CustodyForged: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
          },
        });
        await expect(addAttribute).rejects.toMatchObject({ code: PERMISSION_DENIED });
        const shortenRetention = connection.workflowService.updateNamespace({
          namespace: NAMESPACE,
          config: { workflowExecutionRetentionTtl: msToTs('1 hour') },
        });
        await expect(shortenRetention).rejects.toMatchObject({ code: PERMISSION_DENIED });
      } finally {
        await connection.close();
      }
      const admin = await connectAs(credentials, 'admin');
      try {
        const { customAttributes } = await admin.operatorService.listSearchAttributes({
          namespace: NAMESPACE,
        });
        expect(Object.keys(customAttributes)).not.toContain('CustodyForged');
        const described = await admin.workflowService.describeNamespace({ namespace: NAMESPACE });
        expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(24 * 3600);
      } finally {
        await admin.close();
      }
    },
  );
});
