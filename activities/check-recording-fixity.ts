/**
 * Fixity: re-hashes every object a recording keeps and compares with the hashes its custody log recorded, and
 * checks the log's own chain. A mismatch is counted, logged as an alertable line, and returned; the fixity
 * workflow then parks the recording (stage fixity). Read-only, so a retry simply checks again.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { throttledHeartbeat, type ActivityContextPort } from './context';
import type { MetricsPort } from '../domain/metrics';
import type { FixityMismatch } from '../domain/types';
import {
  describeShadow,
  hashStoredObject,
  readCustodyLogVersions,
  recordedObjects,
} from './custody-log/read';
import { verifyChain } from './custody-log/chain';
import { isNotFound } from './storage/errors';

export interface FixityCheckResult {
  recordingId: string;
  checkedAt: string;
  /** Why nothing was checked: no custody log, or the recording is deleted. */
  skipped?: string;
  objects: number;
  bytes: number;
  mismatches: FixityMismatch[];
  /** Problems with the custody log's hash chain itself. */
  logProblems: string[];
}

export function makeCheckRecordingFixity(deps: {
  s3: S3Client;
  buckets: { audit: string; evidence: string; derivatives: string };
  context: ActivityContextPort;
  metrics?: MetricsPort;
  /** Where the alertable line goes; stderr in workers. */
  alert?: (line: string) => void;
}) {
  const { s3, buckets, context, metrics } = deps;
  const alert = deps.alert ?? ((line: string) => process.stderr.write(`${line}\n`));

  /**
   * `confirming`: the recording checks a fixity run's report before it parks; that run counted the findings
   * already, so this check counts the work (objects, bytes) but not the checks and mismatches a second time.
   */
  return async function checkRecordingFixity(input: {
    recordingId: string;
    confirming?: boolean;
  }): Promise<FixityCheckResult> {
    const findings = input.confirming ? undefined : metrics;
    const checkedAt = new Date().toISOString();
    const base = { recordingId: input.recordingId, checkedAt, objects: 0, bytes: 0 };
    const { entries, shadowed } = await readCustodyLogVersions(s3, buckets.audit, input.recordingId);
    if (entries.length === 0) {
      findings?.fixityChecks.inc({ result: 'skipped' });
      return { ...base, skipped: 'no custody log', mismatches: [], logProblems: [] };
    }
    const chain = verifyChain(entries, { recordingId: input.recordingId });
    const logProblems = [
      ...(chain.ok ? [] : chain.problems.map((p) => p.message)),
      // A version laid over a WORM entry is tampering with the log, even though the entry itself still verifies.
      ...shadowed.map(describeShadow),
    ];
    const expected = recordedObjects(entries, buckets);
    if (expected.length === 0 && logProblems.length === 0) {
      findings?.fixityChecks.inc({ result: 'skipped' });
      return {
        ...base,
        skipped: 'nothing stored (deleted or not yet ingested)',
        mismatches: [],
        logProblems,
      };
    }
    const mismatches: FixityMismatch[] = [];
    let bytes = 0;
    // One original may be many GB: heartbeat while its bytes arrive, not only between objects.
    const beat = throttledHeartbeat(context);
    for (const object of expected) {
      const ref = {
        bucket: object.bucket,
        key: object.key,
        ...(object.versionId && { versionId: object.versionId }),
      };
      const recorded = { kind: object.kind, ...ref, expectedSha256: object.sha256 };
      context.heartbeat({ checking: object.kind, bytes });
      try {
        const actual = await hashStoredObject(s3, ref, context.cancellationSignal, {
          onProgress: (received) => beat(() => ({ checking: object.kind, bytes: bytes + received })),
        });
        bytes += actual.bytes;
        if (actual.sha256 !== object.sha256) {
          mismatches.push({ ...recorded, actualSha256: actual.sha256, problem: 'hash-mismatch' });
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
        mismatches.push({ ...recorded, problem: 'missing' });
      }
      metrics?.fixityObjects.inc({ kind: object.kind });
    }
    metrics?.fixityBytes.inc(bytes);
    for (const m of mismatches) findings?.fixityMismatches.inc({ kind: m.kind, problem: m.problem });
    if (logProblems.length) {
      findings?.fixityMismatches.inc({ kind: 'custody-log', problem: 'chain-broken' }, logProblems.length);
    }
    const failed = mismatches.length > 0 || logProblems.length > 0;
    findings?.fixityChecks.inc({ result: failed ? 'mismatch' : 'ok' });
    if (failed) {
      // One JSON line with a fixed event name: log pipelines alert on it without parsing prose.
      alert(
        JSON.stringify({
          level: 'error',
          event: 'custody.fixity.mismatch',
          recordingId: input.recordingId,
          checkedAt,
          mismatches,
          logProblems,
        }),
      );
    }
    return { ...base, objects: expected.length, bytes, mismatches, logProblems };
  };
}
