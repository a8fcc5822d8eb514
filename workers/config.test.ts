import { readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import * as ts from 'typescript';
import { loadConfig, ConfigError, VARIABLES } from './config';
import { addDuration } from '../domain/duration';

test('dev defaults need nothing set', () => {
  const config = loadConfig({});
  expect(config.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
  expect(config.s3.endpoint).toBe('http://127.0.0.1:7070');
  expect(config.pools).toEqual(['orchestration', 'media-io', 'transcode']);
  expect(config.taskQueues['media-io']).toBe('custody-media-io');
  expect(config.concurrency).toEqual({ orchestration: 50, 'media-io': 4, transcode: 1 });
});

test.each([
  ['AWS_ENDPOINT_URL_S3', 'not a url', 'an http(s) URL'],
  ['CUSTODY_POOLS', 'bogus', 'a comma-separated list of orchestration, media-io, transcode, controller'],
  ['TEMPORAL_ADDRESS', 'localhost', 'host:port'],
  ['CUSTODY_MEDIA_IO_CONCURRENCY', '0', 'a positive integer'],
  ['CUSTODY_BUCKET_EVIDENCE', 'Not_A_Bucket', 'an S3 bucket name'],
  ['CUSTODY_AUDIT_RETENTION', '10 years', 'an ISO 8601 duration'],
])('%s=%j is rejected with the variable, the value and the expected form', (name, value, form) => {
  let error: unknown;
  try {
    loadConfig({ [name]: value });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain(`${name}=${JSON.stringify(value)} is invalid: expected ${form}`);
});

test('payload encryption is on by default, with the dev key file in .run/; off only when said so', () => {
  const config = loadConfig({});
  expect(config.payloadEncryption).toEqual({
    enabled: true,
    keysFile: path.resolve(__dirname, '..', '.run', 'payload-keys.json'),
  });
  expect(
    loadConfig({ CUSTODY_PAYLOAD_ENCRYPTION: 'off', CUSTODY_PAYLOAD_KEYS_FILE: '/keys/custody.yaml' })
      .payloadEncryption,
  ).toEqual({ enabled: false, keysFile: '/keys/custody.yaml' });
  expect(() => loadConfig({ CUSTODY_PAYLOAD_ENCRYPTION: 'false' })).toThrow(/CUSTODY_PAYLOAD_ENCRYPTION/);
});

test('every problem is reported at once', () => {
  expect(() => loadConfig({ CUSTODY_POOLS: 'bogus', CUSTODY_HTTP_PORT: '70000' })).toThrow(
    /CUSTODY_POOLS[\s\S]*CUSTODY_HTTP_PORT/,
  );
});

test('the same bucket for two stores is refused', () => {
  expect(() => loadConfig({ CUSTODY_BUCKET_AUDIT: 'custody-evidence' })).toThrow(/five different buckets/);
});

test('a client certificate without its key is refused', () => {
  expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/tls/crt.pem' })).toThrow(
    /must be set together/,
  );
});

test('TLS settings are passed through', () => {
  const config = loadConfig({
    TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem',
    TEMPORAL_TLS_CLIENT_KEY_PATH: '/k.pem',
    TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
  });
  expect(config.temporal.tls).toEqual({
    clientCertPath: '/c.pem',
    clientKeyPath: '/k.pem',
    serverName: 'temporal.internal',
  });
});

test('every variable has a form for its error message', () => {
  for (const [name, spec] of Object.entries(VARIABLES)) expect(`${name}: ${spec.form}`).toMatch(/: \S/);
});

test.each(['PT1.5S', 'P0D', 'p10y', 'P1H'])(
  'CUSTODY_AUDIT_RETENTION=%s is refused by the one duration grammar the custody log uses too',
  (value) => {
    expect(() => loadConfig({ CUSTODY_AUDIT_RETENTION: value })).toThrow(
      new RegExp(`CUSTODY_AUDIT_RETENTION="${value}" is invalid: expected an ISO 8601 duration`),
    );
  },
);

test('every duration the config accepts is one the custody log can add', () => {
  const config = loadConfig({ CUSTODY_AUDIT_RETENTION: 'P1Y2M3DT4H5M6S' });
  expect(addDuration('2026-01-31T00:00:00Z', config.auditRetention)).toBe('2027-04-03T04:05:06.000Z');
});

test('HOSTNAME names the workers; the kubeconfig lookup gets what kubectl would read', () => {
  const config = loadConfig({ HOSTNAME: 'custody-transcode-7d9f', KUBECONFIG: '/etc/kube/a:/etc/kube/b' });
  expect(config.hostName).toBe('custody-transcode-7d9f');
  expect(config.kubernetesEnv).toEqual({ KUBECONFIG: '/etc/kube/a:/etc/kube/b' });
  expect(loadConfig({}).hostName).toBe(hostname());
  expect(loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).kubernetesEnv).toEqual({
    KUBERNETES_SERVICE_HOST: '10.0.0.1',
  });
});

test('the API defaults: port 8443, loopback, HTTPS required, no issuer, the agreed token contract', () => {
  const config = loadConfig({});
  expect(config.api).toMatchObject({
    port: 8443,
    host: '127.0.0.1',
    insecureHttp: false,
    rateLimit: { perSubject: 300, perIp: 1200 },
    pseudonymKey: { generateIfMissing: true },
  });
  expect(config.api.tls).toBeUndefined();
  expect(config.api.rolesFile).toMatch(/policies\/roles\/roles\.yaml$/);
  expect(config.oidc).toEqual({
    audience: 'custody-api',
    algorithms: ['RS256', 'ES256'],
    clockSkewSeconds: 30,
    jwksCooldownSeconds: 30,
    claims: { roles: 'custody_roles', units: 'custody_units', officer: 'custody_officer_id' },
  });
});

test.each(['none', 'HS256', 'RS256,HS512', 'RS256,none'])(
  'CUSTODY_OIDC_ALGORITHMS=%j is refused: asymmetric algorithms only',
  (value) => {
    expect(() => loadConfig({ CUSTODY_OIDC_ALGORITHMS: value })).toThrow(
      `CUSTODY_OIDC_ALGORITHMS=${JSON.stringify(value)} is invalid: expected a comma-separated list of RS256`,
    );
  },
);

test.each([
  ['https://keycloak.example.org/realms/police', true],
  ['http://127.0.0.1:8444', true],
  ['http://localhost:8444/', true],
  ['http://keycloak.example.org/realms/police', false],
  ['http://127.0.0.1.evil.example:80', false],
  ['not a url', false],
])('CUSTODY_OIDC_ISSUER=%s accepted: %s (https, or http on loopback only)', (issuer, accepted) => {
  if (accepted) expect(loadConfig({ CUSTODY_OIDC_ISSUER: issuer }).oidc.issuer).toBe(issuer);
  else expect(() => loadConfig({ CUSTODY_OIDC_ISSUER: issuer })).toThrow(/CUSTODY_OIDC_ISSUER=.* is invalid/);
});

test('API TLS: certificate and key together, and never together with plain HTTP', () => {
  expect(() => loadConfig({ CUSTODY_API_TLS_CERT_PATH: '/tls/crt.pem' })).toThrow(/must be set together/);
  expect(() =>
    loadConfig({
      CUSTODY_API_TLS_CERT_PATH: '/tls/crt.pem',
      CUSTODY_API_TLS_KEY_PATH: '/tls/key.pem',
      CUSTODY_API_INSECURE_HTTP: 'true',
    }),
  ).toThrow(/choose HTTPS/);
  expect(
    loadConfig({ CUSTODY_API_TLS_CERT_PATH: '/tls/crt.pem', CUSTODY_API_TLS_KEY_PATH: '/tls/key.pem' }).api
      .tls,
  ).toEqual({ certPath: '/tls/crt.pem', keyPath: '/tls/key.pem' });
});

test('only the default pseudonym key file is generated when missing; a set path must exist', () => {
  expect(loadConfig({ CUSTODY_PSEUDONYM_KEY_FILE: '/secrets/pseudonym.key' }).api.pseudonymKey).toEqual({
    file: '/secrets/pseudonym.key',
    generateIfMissing: false,
  });
});

test('presigned media URLs: 300 s by default, 10–3600 s; below 10 s only in dev mode (tests wait it out)', () => {
  expect(loadConfig({}).api.mediaUrlSeconds).toBe(300);
  expect(loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '10' }).api.mediaUrlSeconds).toBe(10);
  expect(loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '3600' }).api.mediaUrlSeconds).toBe(3600);
  expect(() => loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '3601' })).toThrow(
    /CUSTODY_API_MEDIA_URL_SECONDS="3601" is invalid: expected an integer 10–3600/,
  );
  expect(() => loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '0' })).toThrow(/is invalid/);
  expect(() => loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '1.5' })).toThrow(/is invalid/);
  expect(() => loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '9' })).toThrow(
    /CUSTODY_API_MEDIA_URL_SECONDS=9 is below 10: allowed only with CUSTODY_DEV_MODE=true/,
  );
  expect(
    loadConfig({ CUSTODY_API_MEDIA_URL_SECONDS: '1', CUSTODY_DEV_MODE: 'true' }).api.mediaUrlSeconds,
  ).toBe(1);
});

test('the custody command keeps its sign-in in $CUSTODY_CONFIG_DIR, else $XDG_CONFIG_HOME/custody, else ~/.config/custody', () => {
  expect(loadConfig({ CUSTODY_CONFIG_DIR: '/run/me/custody' }).cli.configDir).toBe('/run/me/custody');
  expect(
    loadConfig({ CUSTODY_CONFIG_DIR: '/run/me/custody', XDG_CONFIG_HOME: '/home/x/.cfg' }).cli.configDir,
  ).toBe('/run/me/custody');
  expect(loadConfig({ XDG_CONFIG_HOME: '/home/x/.cfg' }).cli.configDir).toBe('/home/x/.cfg/custody');
  // The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
  expect(loadConfig({ XDG_CONFIG_HOME: 'relative/cfg' }).cli.configDir).toBe(
    path.join(homedir(), '.config', 'custody'),
  );
  expect(loadConfig({}).cli).toEqual({
    configDir: path.join(homedir(), '.config', 'custody'),
    apiUrl: 'http://127.0.0.1:8443',
    clientId: 'custody-cli',
    scope: 'openid',
  });
});

test("the API URL for the custody command: command 1's by default; https, or http on loopback only", () => {
  expect(loadConfig({ CUSTODY_API_URL: 'https://custody.example.org/' }).cli.apiUrl).toBe(
    'https://custody.example.org',
  );
  expect(loadConfig({ CUSTODY_API_URL: 'http://127.0.0.1:8443' }).cli.apiUrl).toBe('http://127.0.0.1:8443');
  expect(() => loadConfig({ CUSTODY_API_URL: 'http://custody.example.org' })).toThrow(
    /CUSTODY_API_URL="http:\/\/custody.example.org" is invalid/,
  );
});

test('a service account: client id and secret file together, the secret never in the environment itself', () => {
  expect(
    loadConfig({ CUSTODY_CLIENT_ID: 'dock-ka-west', CUSTODY_CLIENT_SECRET_FILE: '/secrets/dock' }).cli
      .serviceAccount,
  ).toEqual({ clientId: 'dock-ka-west', clientSecretFile: '/secrets/dock' });
  expect(
    loadConfig({
      CUSTODY_CLIENT_ID: 'dock-ka-west',
      CUSTODY_CLIENT_SECRET_FILE: '/secrets/dock',
      CUSTODY_CLIENT_SCOPE: 'api://custody-api/.default',
    }).cli.serviceAccount?.scope,
  ).toBe('api://custody-api/.default');
  expect(() => loadConfig({ CUSTODY_CLIENT_ID: 'dock-ka-west' })).toThrow(
    /CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE must be set together/,
  );
  expect(() => loadConfig({ CUSTODY_CLIENT_SECRET_FILE: '/secrets/dock' })).toThrow(/must be set together/);
  expect(Object.keys(VARIABLES)).not.toContain('CUSTODY_CLIENT_SECRET');
});

/**
 * Where `process.env` is read in `text`, as line numbers: `process.env` used as a value, `process['env']`, or
 * `const { env } = process`. Setting a variable for a library (`process.env.X ??= …`) is not reading config.
 */
function processEnvReads(fileName: string, text: string): number[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const isProcess = (node: ts.Node) => ['process', 'globalThis.process'].includes(node.getText(source));
  const isAssignmentTarget = (node: ts.Node) => {
    const access = node.parent;
    if (!(ts.isPropertyAccessExpression(access) || ts.isElementAccessExpression(access))) return false;
    const assignment = access.parent;
    return (
      access.expression === node &&
      ts.isBinaryExpression(assignment) &&
      assignment.left === access &&
      assignment.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
      assignment.operatorToken.kind <= ts.SyntaxKind.LastAssignment
    );
  };
  const reads: number[] = [];
  const visit = (node: ts.Node): void => {
    const readsEnv =
      (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) ||
      (ts.isElementAccessExpression(node) &&
        ts.isStringLiteral(node.argumentExpression) &&
        node.argumentExpression.text === 'env' &&
        isProcess(node.expression)) ||
      (ts.isVariableDeclaration(node) &&
        node.initializer !== undefined &&
        isProcess(node.initializer) &&
        ts.isObjectBindingPattern(node.name) &&
        node.name.elements.some((e) => (e.propertyName ?? e.name).getText(source) === 'env'));
    if (readsEnv && !isAssignmentTarget(node)) {
      reads.push(source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return reads;
}

test.each([
  ['const region = process.env.AWS_REGION;', [1]],
  ['start({ env: process.env });', [1]],
  ["const env = process['env'];", [1]],
  ['const { env } = process;\nconst { env: e } = globalThis.process;', [1, 2]],
  ["process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';", []],
  ['const pid = process.pid; // process.env in a comment', []],
])('the process.env scan of %j reports the lines %j', (text, lines) => {
  expect(processEnvReads('planted.ts', text)).toEqual(lines);
});

test('no module but workers/config.ts reads process.env: configuration goes through loadConfig', () => {
  const root = path.resolve(__dirname, '..');
  const reads: string[] = [];
  for (const folder of ['activities', 'api', 'cli', 'domain', 'workers', 'workflows']) {
    const files = readdirSync(path.join(root, folder), { recursive: true, encoding: 'utf8' });
    for (const file of files.map((f) => path.join(folder, f))) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.endsWith('.d.ts')) continue;
      if (file === path.join('workers', 'config.ts')) continue;
      for (const line of processEnvReads(file, readFileSync(path.join(root, file), 'utf8')))
        reads.push(`${file}:${line}`);
    }
  }
  expect(reads).toEqual([]);
});
