/**
 * The S3 client factory and the stores of the lifecycle. Stores are separate buckets because their rules
 * differ: evidence, derivatives and audit need Object Lock, which S3 can only enable when a bucket is created;
 * quarantine keeps versions so that nothing put there is ever lost.
 */
import {
  S3Client,
  CreateBucketCommand,
  HeadBucketCommand,
  GetObjectLockConfigurationCommand,
  PutBucketVersioningCommand,
  GetBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { classifyS3Error, isNotFound } from './errors';

export const STORE_NAMES = ['incoming', 'evidence', 'derivatives', 'audit', 'quarantine'] as const;
export type StoreName = (typeof STORE_NAMES)[number];
/** The bucket of each store (configured: CUSTODY_BUCKET_*). */
export type StoreBuckets = Record<StoreName, string>;

/** How to reach the store; credentials per process (workers/config.ts reads them). */
export interface S3Settings {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StoreSpec {
  /** What the store holds, for error messages and the README. */
  purpose: string;
  objectLock: boolean;
  versioning: boolean;
}

export const STORES: Record<StoreName, StoreSpec> = {
  incoming: {
    purpose: 'inbox: files from docking stations and `custody ingest`',
    objectLock: false,
    versioning: false,
  },
  evidence: { purpose: 'originals, keyed by recording id', objectLock: true, versioning: true },
  derivatives: { purpose: 'review proxy, thumbnails, poster', objectLock: true, versioning: true },
  audit: {
    purpose: 'custody log entries and deletion certificates (WORM)',
    objectLock: true,
    versioning: true,
  },
  quarantine: { purpose: 'suspicious input with its reason record', objectLock: false, versioning: true },
};

export function createS3Client(s3: S3Settings): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    // The SDK's newer defaults add CRC32 trailers to every request and demand them on every response; several
    // S3-compatible stores reject or omit them. We compute SHA-256 ourselves.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** True, false, or `denied`: this identity may not look at the bucket (least privilege, docs/stores.md). */
async function bucketExists(client: S3Client, bucket: string): Promise<boolean | 'denied'> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    if (classifyS3Error(err) === 'access-denied') return 'denied';
    throw err;
  }
}

export interface BootstrapReport {
  created: string[];
  existing: string[];
  /**
   * Stores this identity may not check (least privilege: each pool's account sees only the stores it works on,
   * and checks the locks of the ones it writes); which check was refused.
   */
  unchecked: { bucket: string; check: string }[];
}

/**
 * Creates the stores that are missing and checks the ones that exist; safe to run any number of times. A check
 * the store refuses to this identity (403) is reported as unchecked, not failed: under least privilege a pool may
 * look only at its own stores, and the identity that writes a WORM store checks its lock. Any other error, and a
 * WORM store without Object Lock, stops the start.
 */
export async function bootstrapStores(client: S3Client, buckets: StoreBuckets): Promise<BootstrapReport> {
  const report: BootstrapReport = { created: [], existing: [], unchecked: [] };
  const deniedAs = (bucket: string, check: string) => (err: unknown) => {
    if (classifyS3Error(err) !== 'access-denied') throw err;
    report.unchecked.push({ bucket, check });
    return 'denied' as const;
  };
  for (const [store, bucket] of Object.entries(buckets) as [StoreName, string][]) {
    const want = STORES[store];
    const exists = await bucketExists(client, bucket);
    if (exists === 'denied') {
      report.unchecked.push({ bucket, check: 'exists' });
      continue;
    }
    if (exists) {
      report.existing.push(bucket);
    } else {
      try {
        await client.send(
          new CreateBucketCommand({
            Bucket: bucket,
            ...(want.objectLock && { ObjectLockEnabledForBucket: true }),
          }),
        );
        report.created.push(bucket);
      } catch (err) {
        // Another worker created it between our check and our create: that is the state we wanted.
        if (classifyS3Error(err) !== 'bucket-already-owned') throw err;
        report.existing.push(bucket);
      }
    }
    if (want.objectLock) {
      // Only "this bucket has no Object Lock" means that; an outage must not be reported as a wrong bucket.
      const lock = await client
        .send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))
        .catch((err) => {
          if (classifyS3Error(err) === 'bucket-without-object-lock') return undefined;
          return deniedAs(bucket, 'object lock')(err);
        });
      if (lock === 'denied') continue;
      if (lock?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled') {
        throw new Error(
          `Bucket ${bucket} (${store} store: ${want.purpose}) exists without Object Lock. Object Lock can only be ` +
            `enabled when a bucket is created: point CUSTODY_BUCKET_${store.toUpperCase()} at a new bucket name.`,
        );
      }
    } else if (want.versioning) {
      const versioning = await client
        .send(new GetBucketVersioningCommand({ Bucket: bucket }))
        .catch(deniedAs(bucket, 'versioning'));
      if (versioning === 'denied') continue;
      if (versioning.Status !== 'Enabled') {
        await client.send(
          new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
        );
      }
    }
  }
  return report;
}
