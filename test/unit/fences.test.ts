/**
 * The fences between the rooms (docs/architecture.md) are ESLint rules: a planted import across each fence must
 * fail `npm run lint`. The planted files are real files in the real folders (ESLint's type-aware parser only
 * lints files the TypeScript project sees), removed again whatever happens, and linted by the ESLint command
 * `npm run lint` runs (its configuration is an ES module, which jest's module sandbox cannot load).
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(__dirname, '..', '..');

interface Plant {
  folder: string;
  code: string;
  /** A message the fence must report; undefined: the import is allowed. */
  expected: RegExp | undefined;
}

const plants: Record<string, Plant> = {
  'workflows → activities (runtime)': {
    folder: 'workflows',
    code: "import { createActivities } from '../activities';\nexport const planted = createActivities;\n",
    expected: /workflows\/ imports activities\/ for types only/,
  },
  'workflows → activities (type-only, allowed)': {
    folder: 'workflows',
    code: "import type { CustodyActivities } from '../activities';\nexport type Planted = CustodyActivities;\n",
    expected: undefined,
  },
  'workflows → workers': {
    folder: 'workflows',
    code: "import { loadConfig } from '../workers/config';\nexport const planted = loadConfig;\n",
    expected: /workflows\/ imports only domain\//,
  },
  'workflows → Node built-in': {
    folder: 'workflows',
    code: "import { readFileSync } from 'node:fs';\nexport const planted = readFileSync;\n",
    expected: /no Node built-ins/,
  },
  'activities → workflows': {
    folder: 'activities',
    code: "import { statusQuery } from '../workflows/messages';\nexport const planted = statusQuery;\n",
    expected: /activities\/ never imports workflows\/, workers\/ or cli\//,
  },
  'activities → workers': {
    folder: 'activities',
    code: "import type { CustodyConfig } from '../workers/config';\nexport type Planted = CustodyConfig;\n",
    expected: /activities\/ never imports workflows\/, workers\/ or cli\//,
  },
  'domain → activities': {
    folder: 'domain',
    code: "import type { CustodyActivities } from '../activities';\nexport type Planted = CustodyActivities;\n",
    expected: /domain\/ imports nothing of ours/,
  },
  'domain → Node built-in': {
    folder: 'domain',
    code: "import { createHash } from 'node:crypto';\nexport const planted = createHash;\n",
    expected: /domain\/ is pure: no Node built-ins/,
  },
  'activities → api': {
    folder: 'activities',
    code: "import type { Identity } from '../api/auth/identity';\nexport type Planted = Identity;\n",
    expected: /activities\/ never imports workflows\/, workers\/ or cli\//,
  },
  'workflows → api': {
    folder: 'workflows',
    code: "import type { Identity } from '../api/auth/identity';\nexport type Planted = Identity;\n",
    expected: /workflows\/ imports only domain\//,
  },
  'domain → api': {
    folder: 'domain',
    code: "import type { Identity } from '../api/auth/identity';\nexport type Planted = Identity;\n",
    expected: /domain\/ imports nothing of ours/,
  },
  'api → cli': {
    folder: 'api',
    code: "import { EXIT } from '../cli/context';\nexport const planted = EXIT;\n",
    expected:
      /api\/ imports only domain\/, activities\/ \(read helpers\), workflows\/messages and workers\/config/,
  },
  'api → workers (beyond config)': {
    folder: 'api',
    code: "import { startCustodyWorkers } from '../workers/run';\nexport const planted = startCustodyWorkers;\n",
    expected: /api\/ imports only domain\//,
  },
  'api → workflows (beyond messages)': {
    folder: 'api',
    code: "import { recordingLifecycle } from '../workflows';\nexport const planted = recordingLifecycle;\n",
    expected: /api\/ imports only domain\//,
  },
  'api → Temporal worker': {
    folder: 'api',
    code: "import { Worker } from '@temporalio/worker';\nexport const planted = Worker;\n",
    expected: /The API is a Temporal client/,
  },
  'api → workers/config, workflows/messages, activities, domain (allowed)': {
    folder: 'api',
    code: [
      "import { loadConfig } from '../workers/config';",
      "import { statusQuery } from '../workflows/messages';",
      "import { readCustodyLog } from '../activities/custody-log/read';",
      "import { permissionsOf } from '../domain/roles';",
      'export const planted = [loadConfig, statusQuery, readCustodyLog, permissionsOf];',
      '',
    ].join('\n'),
    expected: undefined,
  },
};

test('a planted import across each fence fails lint; the imports each room is allowed pass', () => {
  const files = Object.entries(plants).map(([name, plant], index) => ({
    name,
    plant,
    file: path.join(root, plant.folder, `planted-fence-${process.pid}-${index}.ts`),
  }));
  try {
    for (const { file, plant } of files) writeFileSync(file, plant.code);
    const eslint = spawnSync(
      process.execPath,
      [
        path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'),
        '--format',
        'json',
        ...files.map((f) => f.file),
      ],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    // Exit 1: lint problems found (expected); anything else is ESLint itself failing.
    expect({ status: eslint.status, stderr: eslint.stderr }).toEqual({ status: 1, stderr: '' });
    const results = JSON.parse(eslint.stdout) as {
      filePath: string;
      messages: { ruleId: string | null; message: string }[];
    }[];
    const found = Object.fromEntries(
      files.map(({ name, file }) => {
        const result = results.find((r) => r.filePath === file);
        const fenceMessages = (result?.messages ?? [])
          .filter((m) => m.ruleId?.endsWith('no-restricted-imports'))
          .map((m) => m.message);
        return [name, fenceMessages];
      }),
    );
    for (const { name, plant } of files) {
      if (plant.expected)
        expect({ name, messages: found[name] }).toEqual({
          name,
          messages: [expect.stringMatching(plant.expected)],
        });
      else expect({ name, messages: found[name] }).toEqual({ name, messages: [] });
    }
  } finally {
    for (const { file } of files) rmSync(file, { force: true });
  }
}, 120_000);
