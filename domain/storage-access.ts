/**
 * Least-privilege storage (issue 16 item 2): which storage identity may do what to which store. Each worker pool
 * is a Deployment with its own S3 credentials, the API has its own, docks and auditors theirs; the stores refuse
 * everything an identity is not granted here. Pure data, rendered into S3 bucket policies by bucketPolicies()
 * (versitygw, Ceph RGW, AWS) and into per-user policies for MinIO (docs/storage-identities.md). The action lists
 * are the S3 operations the code performs (docs/storage-identities.md has the file of each); no wildcards, no
 * bucket-policy or ACL actions, and no s3:DeleteObject on a bucket itself (a batch delete would slip past the
 * per-version checks of some stores).
 */

export const STORES = ['incoming', 'evidence', 'derivatives', 'audit', 'quarantine'] as const;
export type Store = (typeof STORES)[number];

export const STORAGE_IDENTITIES = [
  'orchestration',
  'media-io',
  'transcode',
  'api',
  'dock',
  'auditor',
] as const;
export type StorageIdentity = (typeof STORAGE_IDENTITIES)[number];

/** What one identity may do in one store: actions on its objects, and on the bucket itself (listing). */
export interface StoreAccess {
  objects?: readonly string[];
  bucket?: readonly string[];
}

const READ_VERSIONS = ['s3:GetObject', 's3:GetObjectVersion'] as const;
const LIST_VERSIONS = ['s3:ListBucket', 's3:ListBucketVersions'] as const;
/** A WORM write: the object and the retention its Object Lock headers set. */
const LOCKED_WRITE = ['s3:PutObject', 's3:PutObjectRetention'] as const;
/** What deletion asks before it deletes a version: is anything holding it (activities/delete-recording.ts)? */
const LOCK_CHECK = ['s3:GetObjectRetention', 's3:GetObjectLegalHold'] as const;
/** The sha256 tag a version was written with, read into the deletion inventory. */
const READ_TAGS = ['s3:GetObjectTagging', 's3:GetObjectVersionTagging'] as const;
const LOCK_CONFIG = 's3:GetBucketObjectLockConfiguration';

export const STORAGE_ACCESS: Readonly<Record<StorageIdentity, Partial<Record<Store, StoreAccess>>>> = {
  // Workflows' light activities: the custody log and certificates (put-if-absent, read back), and the inbox sweep
  // (which starts lifecycles of orphaned uploads and aborts abandoned ones).
  orchestration: {
    audit: {
      objects: [...LOCKED_WRITE, ...READ_VERSIONS, 's3:GetObjectRetention'],
      bucket: [...LIST_VERSIONS, LOCK_CONFIG],
    },
    incoming: {
      objects: ['s3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      bucket: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
    },
  },
  // Bytes in and out: the original into the evidence store (tagged with its hash, locked when marked as evidence),
  // quarantine, deletion at the deadline (every version, after asking whether a lock holds it), fixity re-hashes,
  // and the custody-log entries, inventory and certificate of a deletion.
  'media-io': {
    incoming: { objects: ['s3:GetObject', 's3:DeleteObject'], bucket: ['s3:ListBucket'] },
    evidence: {
      objects: [
        ...LOCKED_WRITE,
        ...READ_VERSIONS,
        's3:PutObjectTagging',
        's3:PutObjectVersionTagging',
        ...READ_TAGS,
        ...LOCK_CHECK,
        's3:DeleteObjectVersion',
        's3:AbortMultipartUpload',
      ],
      bucket: [...LIST_VERSIONS, 's3:ListBucketMultipartUploads', LOCK_CONFIG],
    },
    derivatives: {
      objects: [
        ...READ_VERSIONS,
        ...READ_TAGS,
        's3:PutObjectRetention',
        ...LOCK_CHECK,
        's3:DeleteObjectVersion',
      ],
      bucket: [...LIST_VERSIONS, LOCK_CONFIG],
    },
    quarantine: {
      objects: ['s3:PutObject', ...READ_VERSIONS, ...READ_TAGS, 's3:DeleteObjectVersion'],
      bucket: [...LIST_VERSIONS, LOCK_CONFIG],
    },
    audit: {
      objects: [...LOCKED_WRITE, ...READ_VERSIONS, 's3:GetObjectRetention'],
      bucket: [...LIST_VERSIONS, LOCK_CONFIG],
    },
  },
  // Reads the original, writes the review derivatives (tagged with their hashes; media-io locks them when the
  // recording is marked as evidence) and removes a crashed attempt's leftovers.
  transcode: {
    evidence: { objects: [...READ_VERSIONS] },
    derivatives: {
      objects: ['s3:PutObject', 's3:PutObjectTagging', ...READ_VERSIONS, 's3:DeleteObjectVersion'],
      bucket: [...LIST_VERSIONS, LOCK_CONFIG],
    },
  },
  // Access records (put-if-absent) and reads of logs and certificates; uploads (its presigned part URLs are
  // checked against its own rights); presigned GETs of media for people it has authorised.
  api: {
    audit: {
      objects: [...LOCKED_WRITE, ...READ_VERSIONS, 's3:GetObjectRetention'],
      bucket: [...LIST_VERSIONS],
    },
    incoming: {
      objects: [
        's3:PutObject',
        's3:GetObject',
        's3:DeleteObject',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts',
      ],
      // Without it a store answers 403, not 404, for an upload the lifecycle already took.
      bucket: ['s3:ListBucket'],
    },
    evidence: { objects: [...READ_VERSIONS] },
    derivatives: { objects: [...READ_VERSIONS] },
  },
  // A docking station that writes into the inbox itself (docks that upload through the API need no S3 identity).
  dock: {
    incoming: { objects: ['s3:PutObject', 's3:AbortMultipartUpload'] },
  },
  // custody verify and audits: reads everything, changes nothing.
  auditor: {
    audit: { objects: [...READ_VERSIONS, 's3:GetObjectRetention'], bucket: [...LIST_VERSIONS] },
    evidence: {
      objects: [...READ_VERSIONS, 's3:GetObjectRetention', 's3:GetObjectVersionTagging'],
      bucket: [...LIST_VERSIONS],
    },
    derivatives: { objects: [...READ_VERSIONS], bucket: [...LIST_VERSIONS] },
    quarantine: { objects: [...READ_VERSIONS], bucket: [...LIST_VERSIONS] },
  },
};

/** One Allow of an identity policy: actions on a bucket's objects or on the bucket. */
interface Grant {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface BucketPolicy {
  Version: '2012-10-17';
  Statement: (Grant & { Principal: { AWS: string[] } })[];
}

export interface UserPolicy {
  Version: '2012-10-17';
  Statement: Grant[];
}

/** The grants of one identity in one store: its object actions on `<bucket>/*`, its bucket actions on the bucket. */
function grants(identity: StorageIdentity, store: Store, bucket: string, sid: string): Grant[] {
  const access = STORAGE_ACCESS[identity][store];
  return [
    ...(access?.objects?.length
      ? [
          {
            Sid: `${sid}Objects`,
            Effect: 'Allow' as const,
            Action: [...access.objects],
            Resource: [`arn:aws:s3:::${bucket}/*`],
          },
        ]
      : []),
    ...(access?.bucket?.length
      ? [
          {
            Sid: `${sid}Bucket`,
            Effect: 'Allow' as const,
            Action: [...access.bucket],
            Resource: [`arn:aws:s3:::${bucket}`],
          },
        ]
      : []),
  ];
}

/**
 * One bucket policy per store: an Allow per identity with access there, naming the identity by `principalOf`
 * (versitygw: the access key id; Ceph RGW: arn:aws:iam:::user/<uid>; AWS: the role ARN).
 */
export function bucketPolicies(
  buckets: Readonly<Record<Store, string>>,
  principalOf: (identity: StorageIdentity) => string,
): Record<Store, BucketPolicy> {
  const policies = {} as Record<Store, BucketPolicy>;
  for (const store of STORES) {
    const statements = STORAGE_IDENTITIES.flatMap((identity) =>
      grants(identity, store, buckets[store], identity.replace(/[^A-Za-z0-9]/g, '')).map((grant) => ({
        ...grant,
        Principal: { AWS: [principalOf(identity)] },
      })),
    );
    policies[store] = { Version: '2012-10-17', Statement: statements };
  }
  return policies;
}

/**
 * The same grants as identity policies, one per identity, for stores that attach policies to users rather than
 * buckets (MinIO: `mc admin policy create`, then `mc admin policy attach`).
 */
export function userPolicies(buckets: Readonly<Record<Store, string>>): Record<StorageIdentity, UserPolicy> {
  const policies = {} as Record<StorageIdentity, UserPolicy>;
  for (const identity of STORAGE_IDENTITIES) {
    const statements = STORES.flatMap((store) => grants(identity, store, buckets[store], store));
    policies[identity] = { Version: '2012-10-17', Statement: statements };
  }
  return policies;
}
