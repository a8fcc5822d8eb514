/**
 * One versitygw account per storage identity (domain/storage-access.ts) for one test's stores, and the bucket
 * policies that grant each exactly its actions — what scripts/provision-storage-identities.ts does for a site's
 * versitygw, here against the test server (started with --iam-dir; its root account stays the admin).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from '../../workers/config';
import { createS3Client } from '../../activities/storage/s3';
import { bucketPolicies, STORAGE_IDENTITIES, type StorageIdentity } from '../../domain/storage-access';
import { requireTool } from './servers';

const run = promisify(execFile);

export interface StorageIdentityClients {
  keys: Record<StorageIdentity, { accessKeyId: string; secretAccessKey: string }>;
  clients: Record<StorageIdentity, S3Client>;
  destroy(): void;
}

/** Creates the accounts (`<identity>-<label>`) and puts one policy on each of the config's stores. */
export async function provisionStorageIdentities(
  config: CustodyConfig,
  label: string,
  root: S3Client,
): Promise<StorageIdentityClients> {
  const versitygw = requireTool('versitygw');
  const keys = {} as StorageIdentityClients['keys'];
  for (const identity of STORAGE_IDENTITIES) {
    const accessKeyId = `${identity}-${label}`;
    const secretAccessKey = randomBytes(18).toString('base64url');
    await run(versitygw, [
      'admin',
      '--access',
      config.s3.accessKeyId,
      '--secret',
      config.s3.secretAccessKey,
      '--endpoint-url',
      config.s3.endpoint,
      'create-user',
      '--access',
      accessKeyId,
      '--secret',
      secretAccessKey,
      '--role',
      'user',
    ]);
    keys[identity] = { accessKeyId, secretAccessKey };
  }
  const policies = bucketPolicies(config.buckets, (identity) => keys[identity].accessKeyId);
  for (const [store, policy] of Object.entries(policies) as [
    keyof typeof policies,
    (typeof policies)[keyof typeof policies],
  ][]) {
    await root.send(
      new PutBucketPolicyCommand({ Bucket: config.buckets[store], Policy: JSON.stringify(policy) }),
    );
  }
  const clients = Object.fromEntries(
    STORAGE_IDENTITIES.map((identity) => [identity, createS3Client({ ...config.s3, ...keys[identity] })]),
  ) as Record<StorageIdentity, S3Client>;
  return {
    keys,
    clients,
    destroy: () => Object.values(clients).forEach((client) => client.destroy()),
  };
}
