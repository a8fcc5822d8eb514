/** The storage grants: what each identity may never do, whatever else changes in the table. */
import {
  bucketPolicies,
  STORAGE_ACCESS,
  STORAGE_IDENTITIES,
  STORES,
  userPolicies,
  type StorageIdentity,
  type Store,
} from './storage-access';

const buckets = Object.fromEntries(STORES.map((store) => [store, `b-${store}`])) as Record<Store, string>;
const actionsOf = (identity: StorageIdentity, store: Store) => {
  const access = STORAGE_ACCESS[identity][store];
  return [...(access?.objects ?? []), ...(access?.bucket ?? [])];
};
const writes = (action: string) => /^s3:(Put|Delete|Abort)/.test(action);

test('no wildcard, no policy or ACL action, no bucket-wide delete for anyone', () => {
  for (const identity of STORAGE_IDENTITIES) {
    for (const store of STORES) {
      const access = STORAGE_ACCESS[identity][store];
      for (const action of actionsOf(identity, store)) {
        expect(action).toMatch(/^s3:[A-Za-z]+$/);
        expect(action).not.toMatch(/Policy|Acl|\*/);
      }
      expect(access?.bucket ?? []).not.toContain('s3:DeleteObject');
    }
  }
});

test('the auditor writes nowhere; the dock only puts into the inbox; transcode never deletes an original', () => {
  for (const store of STORES) expect(actionsOf('auditor', store).filter(writes)).toEqual([]);
  expect(STORES.filter((store) => actionsOf('dock', store).length > 0)).toEqual(['incoming']);
  expect(actionsOf('dock', 'incoming').filter((a) => /Get|List/.test(a))).toEqual([]);
  expect(actionsOf('transcode', 'evidence').filter(writes)).toEqual([]);
  expect(actionsOf('transcode', 'audit')).toEqual([]);
});

test('only the log and certificate writers write the audit store, and none of them deletes there', () => {
  const auditWriters = STORAGE_IDENTITIES.filter((identity) => actionsOf(identity, 'audit').some(writes));
  expect(auditWriters).toEqual(['orchestration', 'media-io', 'api']);
  for (const identity of auditWriters) {
    expect(actionsOf(identity, 'audit').filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
  }
});

test('only media-io deletes versions of originals', () => {
  expect(
    STORAGE_IDENTITIES.filter((i) => actionsOf(i, 'evidence').includes('s3:DeleteObjectVersion')),
  ).toEqual(['media-io']);
});

test('bucket and user policies carry the same grants, each statement for its identity and bucket', () => {
  const byBucket = bucketPolicies(buckets, (identity) => `key-${identity}`);
  const byUser = userPolicies(buckets);
  for (const store of STORES) {
    for (const statement of byBucket[store].Statement) {
      const identity = statement.Principal.AWS[0]!.replace(/^key-/, '') as StorageIdentity;
      expect(statement.Resource[0]).toMatch(new RegExp(`^arn:aws:s3:::b-${store}(/\\*)?$`));
      const fromUser = byUser[identity].Statement.find((s) => s.Resource[0] === statement.Resource[0]);
      expect(fromUser?.Action).toEqual(statement.Action);
    }
  }
  const count = (n: number, p: { Statement: unknown[] }) => n + p.Statement.length;
  expect(Object.values(byBucket).reduce(count, 0)).toBe(Object.values(byUser).reduce(count, 0));
});
