/**
 * custody's own metrics, in a registry of its own (not prom-client's global one). Labels are bounded
 * enumerations — pool, stage, reason, cause — never recording, device or person ids.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'custody_process_' });
  // These three are gauges named *_total, which Prometheus' own lint (promtool) rejects.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(`custody_process_${name}`);
  }
  return {
    registry,
    recordingsIngested: new Counter({
      name: 'custody_recordings_ingested_total',
      help: 'Recordings whose original was copied into the evidence store and hashed.',
      registers: [registry],
    }),
    bytesIngested: new Counter({
      name: 'custody_bytes_ingested_total',
      help: 'Bytes of originals copied into the evidence store.',
      registers: [registry],
    }),
    hashThroughput: new Histogram({
      name: 'custody_hash_throughput_bytes_per_second',
      help: 'Throughput of storing an original: server-side copy into the evidence store, then SHA-256 of the stored version.',
      buckets: [10e6, 25e6, 50e6, 100e6, 200e6, 400e6, 800e6, 1600e6],
      registers: [registry],
    }),
    quarantines: new Counter({
      name: 'custody_quarantines_total',
      help: 'Recordings moved to quarantine, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    custodyEntries: new Counter({
      name: 'custody_log_entries_written_total',
      help: 'Custody log entries written to the audit store.',
      registers: [registry],
    }),
    transcodeSeconds: new Histogram({
      name: 'custody_transcode_seconds',
      help: 'Wall time of one transcode (one ffmpeg run: proxy, sprite, poster).',
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 2400, 4800],
      registers: [registry],
    }),
    transcodeRealTimeFactor: new Histogram({
      name: 'custody_transcode_realtime_factor_ratio',
      help: 'Recording duration divided by transcode wall time (2 = twice as fast as real time).',
      buckets: [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12],
      registers: [registry],
    }),
    transcodeFailures: new Counter({
      name: 'custody_transcode_failures_total',
      help: 'Transcode attempts that failed, by reason (CorruptMedia, InsufficientTempSpace, FfmpegFailed, other).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    deletions: new Counter({
      name: 'custody_deletions_total',
      help: 'Recordings deleted and certified, by cause (deadline, early, policy).',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    deletionLag: new Histogram({
      name: 'custody_deletion_lag_seconds',
      help: 'From the deadline to the verified deletion (0 for early deletions).',
      buckets: [1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400],
      registers: [registry],
    }),
    certificatesWritten: new Counter({
      name: 'custody_certificates_written_total',
      help: 'Deletion certificates written to the audit store.',
      registers: [registry],
    }),
    overdueRecordings: new Gauge({
      name: 'custody_overdue_recordings',
      help: 'Recordings past their deadline, not held and not yet deleted (from Temporal visibility). Target: 0.',
      registers: [registry],
    }),
    needsAttention: new Gauge({
      name: 'custody_needs_attention_recordings',
      help: 'Recordings parked in needs-attention, by stage (from Temporal visibility).',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    fixityChecks: new Counter({
      name: 'custody_fixity_checks_total',
      help: 'Recordings whose stored objects a fixity run re-hashed, by result (ok, mismatch, skipped).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    fixityObjects: new Counter({
      name: 'custody_fixity_objects_checked_total',
      help: 'Stored objects re-hashed by fixity runs, by kind (original, proxy, sprite, poster).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    fixityBytes: new Counter({
      name: 'custody_fixity_bytes_hashed_total',
      help: 'Bytes re-hashed by fixity runs.',
      registers: [registry],
    }),
    fixityMismatches: new Counter({
      name: 'custody_fixity_mismatches_total',
      help: 'Stored objects (or custody logs) that no longer match what was recorded, by kind and problem. Alert on any.',
      labelNames: ['kind', 'problem'] as const,
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'custody_worker_ready',
      help: '1 while this process polls its task queues, 0 while starting or draining.',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
  };
}

export type CustodyMetrics = ReturnType<typeof createMetrics>;
