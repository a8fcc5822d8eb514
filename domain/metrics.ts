/**
 * custody's own metrics, as data: name, help, kind, and for labelled metrics the bounded set of label values —
 * pool, stage, reason, cause, kind — never recording, device or person ids. workers/metrics.ts builds the
 * prom-client objects from these; activities see only the MetricsPort below.
 *
 * Every labelled series listed in `series` exists at 0 from the process start: `increase(x[15m])` over a series
 * that appears with its first event at 1 stays 0, so an alert on the first fixity mismatch would never fire.
 */
import { QUARANTINE_REASONS, STAGES } from './types';

type Labels = Record<string, string>;

interface Definition {
  kind: 'counter' | 'histogram' | 'gauge';
  name: string;
  help: string;
  /** Label names, for labelled metrics. */
  labelNames?: readonly string[];
  /** Label sets created at 0 at start. */
  series?: readonly Labels[];
  buckets?: readonly number[];
}

const FIXITY_OBJECT_KINDS = ['original', 'proxy', 'sprite', 'poster'] as const;
const DELETION_CAUSES = ['deadline', 'early', 'policy'] as const;
const TRANSCODE_FAILURE_REASONS = ['CorruptMedia', 'InsufficientTempSpace', 'FfmpegFailed', 'other'] as const;
const each = <K extends string>(label: K, values: readonly string[]) =>
  values.map((value) => ({ [label]: value }) as Record<K, string>);

export const METRIC_DEFINITIONS = {
  recordingsIngested: {
    kind: 'counter',
    name: 'custody_recordings_ingested_total',
    help: 'Recordings whose original was copied into the evidence store and hashed.',
  },
  bytesIngested: {
    kind: 'counter',
    name: 'custody_bytes_ingested_total',
    help: 'Bytes of originals copied into the evidence store.',
  },
  hashThroughput: {
    kind: 'histogram',
    name: 'custody_hash_throughput_bytes_per_second',
    help: 'Throughput of storing an original: server-side copy into the evidence store, then SHA-256 of the stored version.',
    buckets: [10e6, 25e6, 50e6, 100e6, 200e6, 400e6, 800e6, 1600e6],
  },
  quarantines: {
    kind: 'counter',
    name: 'custody_quarantines_total',
    help: 'Recordings moved to quarantine, by reason.',
    labelNames: ['reason'],
    series: each('reason', QUARANTINE_REASONS),
  },
  custodyEntries: {
    kind: 'counter',
    name: 'custody_log_entries_written_total',
    help: 'Custody log entries written to the audit store.',
  },
  transcodeSeconds: {
    kind: 'histogram',
    name: 'custody_transcode_seconds',
    help: 'Wall time of one transcode (one ffmpeg run: proxy, sprite, poster).',
    buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 2400, 4800],
  },
  transcodeRealTimeFactor: {
    kind: 'histogram',
    name: 'custody_transcode_realtime_factor_ratio',
    help: 'Recording duration divided by transcode wall time (2 = twice as fast as real time).',
    buckets: [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12],
  },
  transcodeFailures: {
    kind: 'counter',
    name: 'custody_transcode_failures_total',
    help: 'Transcode attempts that failed, by reason (CorruptMedia, InsufficientTempSpace, FfmpegFailed, other).',
    labelNames: ['reason'],
    series: each('reason', TRANSCODE_FAILURE_REASONS),
  },
  deletions: {
    kind: 'counter',
    name: 'custody_deletions_total',
    help: 'Recordings deleted and certified, by cause (deadline, early, policy).',
    labelNames: ['cause'],
    series: each('cause', DELETION_CAUSES),
  },
  deletionLag: {
    kind: 'histogram',
    name: 'custody_deletion_lag_seconds',
    help: 'From the deadline to the verified deletion (0 for early deletions).',
    buckets: [1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400],
  },
  certificatesWritten: {
    kind: 'counter',
    name: 'custody_certificates_written_total',
    help: 'Deletion certificates written to the audit store.',
  },
  overdueRecordings: {
    kind: 'gauge',
    name: 'custody_overdue_recordings',
    help: 'Recordings past their deadline, not held and not yet deleted (from Temporal visibility). Target: 0.',
  },
  abandonedRecordings: {
    kind: 'gauge',
    name: 'custody_abandoned_recordings',
    help: 'Lifecycles that failed, were terminated or timed out before their recording was deleted: nothing watches their deadline (from Temporal visibility). Target: 0.',
  },
  needsAttention: {
    kind: 'gauge',
    name: 'custody_needs_attention_recordings',
    help: 'Recordings parked in needs-attention, by stage (from Temporal visibility).',
    labelNames: ['stage'],
    series: each('stage', STAGES),
  },
  fixityChecks: {
    kind: 'counter',
    name: 'custody_fixity_checks_total',
    help: 'Recordings whose stored objects a fixity run re-hashed, by result (ok, mismatch, skipped).',
    labelNames: ['result'],
    series: each('result', ['ok', 'mismatch', 'skipped']),
  },
  fixityObjects: {
    kind: 'counter',
    name: 'custody_fixity_objects_checked_total',
    help: 'Stored objects re-hashed by fixity runs, by kind (original, proxy, sprite, poster).',
    labelNames: ['kind'],
    series: each('kind', FIXITY_OBJECT_KINDS),
  },
  fixityBytes: {
    kind: 'counter',
    name: 'custody_fixity_bytes_hashed_total',
    help: 'Bytes re-hashed by fixity runs.',
  },
  fixityMismatches: {
    kind: 'counter',
    name: 'custody_fixity_mismatches_total',
    help: 'Stored objects (or custody logs) that no longer match what was recorded, by kind and problem. Alert on any.',
    labelNames: ['kind', 'problem'],
    series: [
      ...FIXITY_OBJECT_KINDS.flatMap((kind) =>
        ['hash-mismatch', 'missing'].map((problem) => ({ kind, problem })),
      ),
      { kind: 'custody-log', problem: 'chain-broken' },
    ],
  },
  ready: {
    kind: 'gauge',
    name: 'custody_worker_ready',
    help: '1 while this process polls its task queues, 0 while starting or draining.',
    labelNames: ['pool'],
  },
} as const satisfies Record<string, Definition>;

export type MetricName = keyof typeof METRIC_DEFINITIONS;

type LabelValues<N extends MetricName> = (typeof METRIC_DEFINITIONS)[N] extends {
  labelNames: readonly (infer L extends string)[];
}
  ? Partial<Record<L, string | number>>
  : never;

interface CounterPort<L> {
  inc(...args: [L] extends [never] ? [value?: number] : [labels: L, value?: number]): void;
}
interface HistogramPort {
  observe(value: number): void;
}
interface GaugePort<L> {
  set(...args: [L] extends [never] ? [value: number] : [labels: L, value: number]): void;
}

/** What activities and workers may do with a metric: count, observe, set — nothing that reads or registers. */
export type MetricsPort = {
  [N in MetricName]: (typeof METRIC_DEFINITIONS)[N]['kind'] extends 'counter'
    ? CounterPort<LabelValues<N>>
    : (typeof METRIC_DEFINITIONS)[N]['kind'] extends 'histogram'
      ? HistogramPort
      : GaugePort<LabelValues<N>>;
};
