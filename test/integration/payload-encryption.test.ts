/**
 * What Temporal stores holds no personal data in clear: one recording's whole life (ingest, transcode, a hold
 * with a case id and a reason, the deadline, the release, the deletion) runs on the real stack, and its history
 * as the server keeps it — the raw bytes, and a JSON dump with every byte field shown as text, as the Web UI
 * would show it — holds none of the officer id, device id, file name, case id or reasons. Decoded with the
 * workers' codec the same history holds them all, so the scan can fail. A failed activity's message is encrypted
 * too (the failure converter's encoded attributes).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createTestStack, type TestStack } from '../harness/stack';
import { testPolicyDir } from '../harness/test-policies';
import { decodeHistoryPayloads } from '../harness/history-payloads';
import { syntheticClip } from '../fixtures/media';
import { act, approved } from '../harness/signed-actions';
import { workflowIdFor } from '../../domain/ids';
import { ENCRYPTED_ENCODING } from '../../workers/payload-codec';
import { custodyDataConverter } from '../../workers/temporal-connection';
import { builtEntryPoint, envForConfig, runNode } from '../harness/processes';

type History = temporal.api.history.v1.History;

let stack: TestStack;
let codec: PayloadCodec;
const policyDir = testPolicyDir({ 'test-30s': 'PT30S', 'test-1h': 'PT1H' });

beforeAll(async () => {
  stack = await createTestStack('payload-encryption', { overrides: { CUSTODY_POLICY_DIR: policyDir } });
  const [workersCodec] = custodyDataConverter(stack.config).payloadCodecs ?? [];
  if (!workersCodec) throw new Error('custodyDataConverter gave no payload codec: encryption is off');
  codec = workersCodec;
});
afterAll(() => stack?.stop());

/** The history exactly as the server stores and serves it: no data converter in between. */
async function rawHistory(workflowId: string): Promise<History> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await stack.clients.client.workflowService.getWorkflowExecutionHistory({
      namespace: stack.config.temporal.namespace,
      execution: { workflowId },
      ...(nextPageToken && { nextPageToken }),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return temporal.api.history.v1.History.create({ events });
}

const protoBytes = (history: History) =>
  Buffer.from(temporal.api.history.v1.History.encode(history).finish());

/** JSON with every byte field as UTF-8 text: a json/plain payload reads as its JSON, as the Web UI shows it. */
function readableDump(node: unknown): string {
  const plain = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  return JSON.stringify(plain(node));
}

/** The history without its search attributes: indexed by the server, so never encrypted (see below). */
function withoutSearchAttributes(history: History): History {
  const copy = temporal.api.history.v1.History.decode(protoBytes(history));
  for (const event of copy.events) {
    if (event.workflowExecutionStartedEventAttributes)
      event.workflowExecutionStartedEventAttributes.searchAttributes = null;
    if (event.upsertWorkflowSearchAttributesEventAttributes)
      event.upsertWorkflowSearchAttributesEventAttributes.searchAttributes = null;
  }
  return copy;
}

const decoded = async (history: History) =>
  decodeHistoryPayloads(temporal.api.history.v1.History.decode(protoBytes(history)), codec);

/** Which of `secrets` appear in the proto bytes or the readable dump of `history`. */
function found(history: History, secrets: Record<string, string>): string[] {
  const bytes = protoBytes(history);
  const dump = readableDump(history);
  return Object.entries(secrets)
    .filter(([, value]) => bytes.includes(value) || dump.includes(value))
    .map(([name]) => name);
}

test('a whole lifecycle with a hold leaves no officer, device, file name, case id or reason in the raw history', async () => {
  const unique = randomBytes(4).toString('hex');
  const secrets = {
    officerId: `officer-pii-${unique}`,
    deviceId: `cam-pii-${unique}`,
    fileName: `Zeugin-Musterfrau-Marktplatz-${unique}.mp4`,
    caseId: `AZ-4711-PII-${unique}`,
    holdReason: `complaint by a witness about the stop on Bahnhofstr ${unique}`,
    releaseReason: `case closed by the prosecutor ${unique}`,
  };
  const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  const source = await stack.putInbox(
    `station-7/${secrets.fileName}`,
    Buffer.concat([clip, Buffer.from(unique)]),
  );
  const { recordingId, workflowId } = await stack.start(source, {
    policy: 'test-30s',
    declared: {
      deviceId: secrets.deviceId,
      officerId: secrets.officerId,
      recordedAt: new Date().toISOString(),
    },
  });
  const handle = stack.clients.client.workflow.getHandle(workflowId);
  const retained = await stack.waitForState(recordingId, 'retained', 90_000);
  await act(handle, 'hold.place', { caseId: secrets.caseId, reason: secrets.holdReason }, 'investigator-1');
  // Past the deadline the hold keeps it; the release (a four-eyes request, approved) then lets the deletion run.
  const pastDeadline = Date.parse(retained.retention!.deleteAfter) + 2_000 - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, pastDeadline)));
  await stack.waitForState(recordingId, 'held', 10_000);
  await approved(
    handle,
    { kind: 'hold.release', reason: secrets.releaseReason, params: {} },
    'investigator-1',
    'supervisor-2',
  );
  await stack.waitForState(recordingId, 'deleted', 90_000);

  const raw = await rawHistory(workflowId);
  expect(raw.events.length).toBeGreaterThan(20);
  const { deviceId, ...notIndexed } = secrets;
  expect(found(raw, notIndexed)).toEqual([]);
  // The device id is also the CustodyDeviceId search attribute, which the server indexes and so must read:
  // issue 18's second deliverable replaces it with a keyed pseudonym. Everywhere else it is encrypted.
  expect(found(withoutSearchAttributes(raw), { deviceId })).toEqual([]);
  // The SDK's payloads are encrypted; json/plain is left only in the markers Temporal's core writes itself
  // (patch ids, a local activity's type and times), which hold no data of a recording.
  expect(readableDump(raw)).toContain(ENCRYPTED_ENCODING);

  // The same history decoded with the workers' keys holds every value: what the scan looks for is there.
  expect(found(await decoded(raw), secrets).sort()).toEqual(Object.keys(secrets).sort());
}, 240_000);

test("a failed activity's message is encrypted in the history, and readable after decoding", async () => {
  const marker = `failure-marker-${randomBytes(4).toString('hex')}`;
  // An incoming object that is not there: the copy fails with a message naming it (SourceMissing).
  const { recordingId } = await stack.start(
    {
      bucket: stack.config.buckets.incoming,
      key: `station-7/${marker}.mp4`,
      etag: '"0123456789abcdef0123456789abcdef"',
      size: 1024,
    },
    { policy: 'test-1h', declared: {} },
  );
  const status = await stack.waitForState(recordingId, ['needs-attention', 'quarantined'], 90_000);
  const raw = await rawHistory(workflowIdFor(recordingId));
  const failures = raw.events
    .map((event) => event.activityTaskFailedEventAttributes?.failure)
    .filter((failure): failure is temporal.api.failure.v1.Failure => Boolean(failure));
  expect(failures.length).toBeGreaterThan(0);
  for (const failure of failures) {
    expect(failure.message).toBe('Encoded failure');
    expect(readableDump(failure)).not.toContain(marker);
  }
  expect(found(raw, { marker })).toEqual([]);

  const decodedFailures = (await decoded(raw)).events
    .map((event) => event.activityTaskFailedEventAttributes?.failure?.encodedAttributes)
    .filter(Boolean);
  expect(readableDump(decodedFailures)).toContain(`${marker}.mp4 is gone`);
  // What a worker and the client see, through the converter: the message itself.
  expect(JSON.stringify(status)).toContain(marker);
}, 180_000);

test.each([
  ['workers', 'workers/main.js', []],
  ['CLI', 'cli/main.js', ['list']],
] as const)(
  'the %s refuse to start without a payload key file: exit 78, naming the fix',
  async (_who, entry, args) => {
    const missing = `/nonexistent/custody-${randomBytes(3).toString('hex')}/payload-keys.json`;
    const result = await runNode(
      builtEntryPoint(entry),
      [...args],
      envForConfig(stack.config, { CUSTODY_PAYLOAD_KEYS_FILE: missing, CUSTODY_HTTP_PORT: '0' }),
      60_000,
    );
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`${missing} (CUSTODY_PAYLOAD_KEYS_FILE) does not exist`);
    expect(result.stderr).toContain('CUSTODY_PAYLOAD_ENCRYPTION=off');
  },
);
