/**
 * A policy directory for tests: the shipped rule packs plus short ones (seconds, not weeks), so that real
 * deadlines fire on the real dev server within a test.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './servers';

export function testPolicyDir(packs: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-policies-'));
  cpSync(path.join(REPO_ROOT, 'policies'), dir, { recursive: true });
  for (const [id, retention] of Object.entries(packs)) {
    writeFileSync(
      path.join(dir, `${id}.yaml`),
      [
        `id: ${id}`,
        'version: 1',
        'kind: demo',
        `title: TEST ONLY (${retention} retention)`,
        `retention: ${retention}`,
        'deletion:',
        '  earlyDeletionApproval: four-eyes',
        '  holdReleaseApproval: four-eyes',
        '  recordingOfficerDeletion: not-specified',
        'notes:',
        '  - A test pack; not law.',
        '',
      ].join('\n'),
    );
  }
  return dir;
}
