import {
  PutObjectCommand, DeleteObjectCommand, GetObjectRetentionCommand,
  PutObjectRetentionCommand, GetObjectTaggingCommand, PutObjectLegalHoldCommand,
} from '@aws-sdk/client-s3';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';

const config = testConfig('probe');
const s3 = createS3Client(config.s3);
const show = (label: string, v: unknown) => console.log(label, JSON.stringify(v, (k, x) => (k === '$metadata' ? undefined : x)));
const err = (e: any) => ({ name: e.name, code: e.Code, message: e.message, status: e.$metadata?.httpStatusCode });

test('probe', async () => {
  await bootstrapStores(s3, config.buckets);
  const B = config.buckets.evidence;
  const a = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'one' }));
  const b = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'two' }));
  await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k', VersionId: a.VersionId }));
  try { await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k', VersionId: a.VersionId })); show('del again ok', 1); } catch (e) { show('del again err', err(e)); }
  try { show('tag gone', await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'k', VersionId: a.VersionId }))); } catch (e) { show('tag gone err', err(e)); }
  try { show('ret gone', await s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'k', VersionId: a.VersionId }))); } catch (e) { show('ret gone err', err(e)); }
  try { await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'zz', VersionId: a.VersionId })); show('del nokey ok', 1); } catch (e) { show('del nokey err', err(e)); }
  await s3.send(new PutObjectRetentionCommand({ Bucket: B, Key: 'k', VersionId: b.VersionId, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 2000) } }));
  await new Promise((r) => setTimeout(r, 3000));
  show('ret expired', await s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'k', VersionId: b.VersionId })));
  const c = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'h', Body: 'two' }));
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: B, Key: 'h', VersionId: c.VersionId, LegalHold: { Status: 'ON' } }));
  try { await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'h', VersionId: c.VersionId })); show('del held ok?!', 1); } catch (e) { show('del held err', err(e)); }
  try { show('ret held', await s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'h', VersionId: c.VersionId }))); } catch (e) { show('ret held err', err(e)); }
  await s3.send(new PutObjectLegalHoldCommand({ Bucket: B, Key: 'h', VersionId: c.VersionId, LegalHold: { Status: 'OFF' } }));
  try { await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k', VersionId: b.VersionId })); show('del expired ok', 1); } catch (e) { show('del expired err', err(e)); }
  s3.destroy();
});
