import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { createPseudonymiser, loadPseudonymKey, PseudonymKeyError } from './pseudonym';

const dir = () => mkdtempSync(path.join(tmpdir(), 'custody-pseudonym-'));

test('the dev default key is generated once, readable by its owner only, and kept', async () => {
  const file = path.join(dir(), 'run', 'api-pseudonym.key');
  const first = await loadPseudonymKey({ file, generateIfMissing: true });
  expect(first.generated).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const second = await loadPseudonymKey({ file, generateIfMissing: true });
  expect(second).toEqual({ key: first.key, generated: false });
  expect(first.key.length).toBeGreaterThanOrEqual(32);
});

test('a key file that was set explicitly must exist', async () => {
  const file = path.join(dir(), 'missing.key');
  await expect(loadPseudonymKey({ file, generateIfMissing: false })).rejects.toThrow(
    /cannot read the pseudonym key .*missing\.key \(CUSTODY_PSEUDONYM_KEY_FILE\).*openssl rand -hex 32/,
  );
});

test('a short key is refused', async () => {
  const file = path.join(dir(), 'short.key');
  writeFileSync(file, 'secret\n');
  await expect(loadPseudonymKey({ file, generateIfMissing: false })).rejects.toThrow(PseudonymKeyError);
});

test('a pseudonym is the HMAC-SHA256 of issuer and subject under the key: stable, and keyed', () => {
  const key = Buffer.from('k'.repeat(32));
  const pseudonyms = createPseudonymiser(key);
  const expected = createHmac('sha256', key).update('subject\nhttps://idp\nalice').digest('hex').slice(0, 32);
  expect(pseudonyms.subject('https://idp', 'alice')).toBe(`s-${expected}`);
  expect(pseudonyms.subject('https://other-idp', 'alice')).not.toBe(
    pseudonyms.subject('https://idp', 'alice'),
  );
  expect(createPseudonymiser(Buffer.from('x'.repeat(32))).subject('https://idp', 'alice')).not.toBe(
    `s-${expected}`,
  );
  expect(pseudonyms.address('127.0.0.1')).toMatch(/^a-[0-9a-f]{32}$/);
});
