/**
 * Writes the least-privilege storage policies (domain/storage-access.ts) for a site's store, to apply with its own
 * tools (docs/storage-identities.md):
 *
 *   node dist/scripts/storage-policies.js --out <dir> --principal orchestration=<id> --principal media-io=<id> \
 *     --principal transcode=<id> --principal api=<id> --principal dock=<id> --principal auditor=<id>
 *
 * Bucket names come from the environment as the workers read them (CUSTODY_BUCKET_*). It writes
 * `bucket-<bucket>.json` per store (versitygw, Ceph RGW, AWS: put-bucket-policy; the principal is what the store
 * expects: versitygw the access key id, Ceph `arn:aws:iam:::user/<uid>`, AWS a role ARN) and `user-<identity>.json`
 * per identity (MinIO: `mc admin policy create`). It changes nothing itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../workers/config';
import {
  bucketPolicies,
  STORAGE_IDENTITIES,
  STORES,
  userPolicies,
  type StorageIdentity,
} from '../domain/storage-access';

function fail(message: string): never {
  process.stderr.write(`storage-policies: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    principal: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.out) fail('--out <dir> is required: where to write the policy files');
const principals = new Map<string, string>();
for (const pair of values.principal) {
  const [identity, principal] = pair.split(/=(.*)/s);
  if (!identity || !principal || !(STORAGE_IDENTITIES as readonly string[]).includes(identity)) {
    fail(
      `--principal ${pair}: expected <identity>=<principal>, identity one of ${STORAGE_IDENTITIES.join(', ')}`,
    );
  }
  principals.set(identity, principal);
}
const missing = STORAGE_IDENTITIES.filter((identity) => !principals.has(identity));
if (missing.length > 0)
  fail(`no --principal for ${missing.join(', ')}: every identity needs its own account`);

const { buckets } = loadConfigOrExit();
const out = values.out;
mkdirSync(out, { recursive: true });
const byBucket = bucketPolicies(buckets, (identity: StorageIdentity) => principals.get(identity)!);
for (const store of STORES) {
  writeFileSync(
    path.join(out, `bucket-${buckets[store]}.json`),
    `${JSON.stringify(byBucket[store], null, 2)}\n`,
  );
}
const byUser = userPolicies(buckets);
for (const identity of STORAGE_IDENTITIES) {
  writeFileSync(path.join(out, `user-${identity}.json`), `${JSON.stringify(byUser[identity], null, 2)}\n`);
}
process.stdout.write(
  `wrote ${STORES.length} bucket policies and ${STORAGE_IDENTITIES.length} user policies to ${out}\n`,
);
