/**
 * The production-shaped Temporal the security suite and the durability tests run against: the server built from
 * go.temporal.io/server (scripts/install-tools.sh), PostgreSQL from Debian as its persistence (databases and
 * schema set up with Temporal's own SQL tool), mutual TLS on the frontend (a client certificate from our CA is
 * required), and Temporal's JWT claim mapper with its default authorizer, whose keys come from a JWKS served here.
 *
 * Every component gets its own certificate and token, with only the permissions it needs (TEMPORAL_IDENTITIES).
 * The credentials are written to one JSON file in the run's data dir (mode 0600), so test files in other jest
 * workers can connect as any of them, and mint tokens of their own with the same key (temporalCredentials()).
 */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import { importJWK, SignJWT, type JWK } from 'jose';
import { stringify as toYaml } from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { createServer, type Server } from 'node:net';
import { freeLoopbackPorts } from '../../workers/ports';
import {
  requireTool,
  spawnServer,
  startOnFreshPorts,
  toolsBinDir,
  waitFor,
  type RunningServer,
} from './servers';
import { createTestKey, startTestIssuer, type TestIssuer } from './test-issuer';

export const TEMPORAL_SERVER_NAME = 'localhost';

/**
 * Who talks to Temporal, and the permissions their token carries (Temporal's `<namespace>:<role>` claims). The
 * default authorizer asks for the writer role on every call that changes state, task polls and completions
 * among them (go.temporal.io/server common/authorization/default_authorizer.go: the worker role alone passes no
 * check), so workers hold `worker` and `write`; the API starts, queries and updates (`write`); the Web UI reads;
 * only the operator's bootstrap (namespace, search attributes) is a system admin. A person's token is none of these.
 */
export const TEMPORAL_IDENTITIES = {
  worker: ['default:worker', 'default:write'],
  api: ['default:write'],
  'web-ui': ['default:read'],
  admin: ['temporal-system:admin'],
} as const satisfies Record<string, readonly string[]>;
export type TemporalIdentity = keyof typeof TEMPORAL_IDENTITIES;

export interface TemporalCredentials {
  address: string;
  serverName: string;
  caCertFile: string;
  identities: Record<TemporalIdentity, { certFile: string; keyFile: string; token: string }>;
  /** A client certificate and key from a CA the server does not trust. */
  foreign: { certFile: string; keyFile: string };
  /** The token signing key (a private JWK) and its kid: tests mint tokens with other claims. */
  signingKey: JWK;
  /** The JWKS the server fetches its keys from. */
  jwksUri: string;
  /** PostgreSQL, for tests that start a server of their own on other databases. */
  postgres: { port: number };
  /** The files the running server was started with (a second server reuses them). */
  pkiDir: string;
}

function sh(command: string, args: string[], what: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${what} failed: ${command} ${args.join(' ')}\n${stderr}`);
  }
}

// --- PKI ---------------------------------------------------------------------------------------------------------

/** A CA, the server's certificate and one client certificate per identity, with openssl (P-256, 2 days). */
export function createTemporalPki(dir: string, identities: string[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(dir, name);
  const newKey = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'.split(' ');
  const newCa = (name: string) => {
    const out = ['-keyout', file(`${name}.key`), '-out', file(`${name}.pem`), '-subj', `/CN=${name}`];
    const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
    const args = [
      'req',
      '-x509',
      ...newKey,
      '-days',
      '2',
      ...out,
      ...caExtensions.flatMap((e) => ['-addext', e]),
    ];
    sh('openssl', args, `the ${name} certificate authority`);
  };
  const issue = (ca: string, name: string, usage: string) => {
    const request = ['-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`];
    sh('openssl', ['req', '-new', ...newKey, ...request], `the key of ${name}`);
    const extensions = `subjectAltName=IP:127.0.0.1,DNS:${TEMPORAL_SERVER_NAME},DNS:${name}\nextendedKeyUsage=${usage}\n`;
    writeFileSync(file(`${name}.ext`), extensions);
    const signer = ['-CA', file(`${ca}.pem`), '-CAkey', file(`${ca}.key`), '-extfile', file(`${name}.ext`)];
    const serial = `0x${Buffer.from(name).toString('hex').slice(0, 30)}`;
    const args = ['x509', '-req', '-in', file(`${name}.csr`), ...signer, '-set_serial', serial, '-days', '2'];
    sh('openssl', [...args, '-out', file(`${name}.pem`)], `the certificate of ${name}`);
  };
  newCa('ca');
  issue('ca', 'server', 'serverAuth,clientAuth'); // internode traffic uses it as a client too
  for (const identity of identities) issue('ca', identity, 'clientAuth');
  newCa('foreign-ca');
  issue('foreign-ca', 'foreign', 'clientAuth');
}

// --- PostgreSQL --------------------------------------------------------------------------------------------------

export interface PostgresServer extends RunningServer {
  port: number;
}

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) {
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres). Run `bash scripts/install-tools.sh` ' +
        '(installs Debian postgresql) or `apt-get install postgresql`.',
    );
  }
  return path.join(root, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user Debian's package creates. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/**
 * A throw-away cluster on a free loopback port (TCP only, no socket file), superuser `temporal` with trust
 * authentication on loopback. fsync is off: tests do not survive power loss, and it saves seconds per run.
 */
export async function startPostgres(opts: { dataDir: string; ownerPid?: number }): Promise<PostgresServer> {
  const bin = postgresBinDir();
  // Its own directory under the temp dir: the run's data dir is private to us, which the postgres user is not.
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-postgres-'));
  if (process.getuid?.() === 0) {
    const uid = Number(sh('id', ['-u', 'postgres'], 'the postgres user').trim());
    const gid = Number(sh('id', ['-g', 'postgres'], 'the postgres group').trim());
    chownSync(dir, uid, gid);
  }
  const initdbArgs = [
    '-D',
    dir,
    '-U',
    'temporal',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ];
  const [initdb, asUser] = asPostgresUser(path.join(bin, 'initdb'), initdbArgs);
  sh(initdb, asUser, 'initdb');
  return startOnFreshPorts(true, async () => {
    const [port] = (await freeLoopbackPorts(1)) as [number];
    const settings = [
      'listen_addresses=127.0.0.1',
      'unix_socket_directories=',
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
      'max_connections=300',
    ];
    const serverArgs = ['-D', dir, '-p', String(port), ...settings.flatMap((setting) => ['-c', setting])];
    const [command, args] = asPostgresUser(path.join(bin, 'postgres'), serverArgs);
    const logFile = path.join(opts.dataDir, `postgres-${port}.log`);
    const server = spawnServer('postgres', command, args, logFile, opts.ownerPid ?? process.pid);
    await waitFor('PostgreSQL', server, 30_000, () => {
      execFileSync(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
      return Promise.resolve(true);
    });
    return {
      ...server,
      port,
      async stop() {
        await server.stop();
        if (!process.env.CUSTODY_KEEP_TEST_DATA) rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

// --- Temporal ----------------------------------------------------------------------------------------------------

/**
 * Free loopback ports below 32768: Temporal stores membership ports in a PostgreSQL smallint, so the ephemeral
 * ports the OS hands out (32768 and up on Linux) make its services fail to join. Tried at random, held together.
 */
async function freeLowPorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  const tried = new Set<number>();
  while (held.length < count) {
    if (tried.size > 2000) throw new Error(`no ${count} free loopback ports between 20000 and 32767`);
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (tried.has(port)) continue;
    tried.add(port);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      held.push(server);
      ports.push(port);
    }
  }
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function schemaDir(): string {
  const dir = path.join(toolsBinDir(), '..', 'temporal-server', 'schema');
  if (!existsSync(path.join(dir, 'temporal', 'versioned'))) {
    throw new Error(`Temporal's SQL schema is missing at ${dir}. Run \`bash scripts/install-tools.sh\`.`);
  }
  return dir;
}

/** `<prefix>` and `<prefix>_visibility`, created and brought to the server's schema version by its SQL tool. */
export function createTemporalDatabases(postgres: { port: number }, prefix: string): void {
  const tool = requireTool('temporal-sql-tool');
  const schema = schemaDir();
  for (const [database, kind] of [
    [prefix, 'temporal'],
    [`${prefix}_visibility`, 'visibility'],
  ] as const) {
    const common = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(postgres.port)];
    common.push('-u', 'temporal', '--pw', 'temporal', '--db', database);
    sh(tool, [...common, 'create-database'], `creating database ${database}`);
    sh(tool, [...common, 'setup-schema', '-v', '0.0'], `the base schema of ${database}`);
    const versioned = path.join(schema, kind, 'versioned');
    sh(tool, [...common, 'update-schema', '-d', versioned], `the schema versions of ${database}`);
  }
}

export interface TemporalServer extends RunningServer {
  address: string;
  metricsUrl: string;
}

/** A server whose databases exist (createTemporalDatabases); `port` keeps its address across a restart. */
export async function startTemporalServer(opts: {
  dataDir: string;
  postgres: { port: number };
  database: string;
  pkiDir: string;
  jwksUri: string;
  port?: number;
  ownerPid?: number;
  dynamicConfig?: Record<string, string | number | boolean>;
}): Promise<TemporalServer> {
  const binary = requireTool('temporal-server');
  const pki = (name: string) => path.join(opts.pkiDir, name);
  return startOnFreshPorts(opts.port === undefined, async () => {
    const ports = await freeLowPorts(13);
    const next = () => {
      const port = ports.shift();
      if (port === undefined) throw new Error('startTemporalServer: fewer ports taken than the config needs');
      return port;
    };
    const frontend = opts.port ?? next();
    const service = (grpcPort: number, http = false) => ({
      rpc: {
        grpcPort,
        membershipPort: next(),
        bindOnLocalHost: true,
        ...(http ? { httpPort: next() } : {}),
      },
    });
    const metricsPort = next();
    const sql = (databaseName: string, maxConns: number) => ({
      sql: {
        pluginName: 'postgres12',
        databaseName,
        connectAddr: `127.0.0.1:${opts.postgres.port}`,
        connectProtocol: 'tcp',
        user: 'temporal',
        password: 'temporal',
        maxConns,
        maxIdleConns: maxConns,
        maxConnLifetime: '1h',
      },
    });
    const tls = {
      server: {
        certFile: pki('server.pem'),
        keyFile: pki('server.key'),
        requireClientAuth: true,
        clientCaFiles: [pki('ca.pem')],
      },
      client: { serverName: TEMPORAL_SERVER_NAME, rootCaFiles: [pki('ca.pem')] },
    };
    const root = path.join(opts.dataDir, `temporal-server-${frontend}`);
    mkdirSync(path.join(root, 'config'), { recursive: true });
    const dynamicConfigFile = path.join(root, 'dynamicconfig.yaml');
    // What the dev server switches on by default and custody relies on: search attributes visible at once,
    // Updates. Values are lists of {value, constraints} in Temporal's file format.
    const dynamic: Record<string, string | number | boolean> = {
      'system.forceSearchAttributesCacheRefreshOnRead': true,
      'frontend.enableUpdateWorkflowExecution': true,
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted': true,
      ...opts.dynamicConfig,
    };
    writeFileSync(
      dynamicConfigFile,
      toYaml(Object.fromEntries(Object.entries(dynamic).map(([key, value]) => [key, [{ value }]]))),
    );
    const config = {
      log: { stdout: true, level: 'warn' },
      persistence: {
        defaultStore: 'postgres-default',
        visibilityStore: 'postgres-visibility',
        numHistoryShards: 4,
        datastores: {
          'postgres-default': sql(opts.database, 20),
          'postgres-visibility': sql(`${opts.database}_visibility`, 10),
        },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
        metrics: {
          prometheus: {
            framework: 'tally',
            timerType: 'histogram',
            listenAddress: `127.0.0.1:${metricsPort}`,
          },
        },
        tls: { internode: tls, frontend: tls },
        authorization: {
          jwtKeyProvider: { keySourceURIs: [opts.jwksUri], refreshInterval: '1m' },
          permissionsClaimName: 'permissions',
          authorizer: 'default',
          claimMapper: 'default',
        },
      },
      services: {
        frontend: service(frontend, true),
        // The server's own system workers reach the frontend through this one, inside the trust boundary.
        'internal-frontend': service(next(), true),
        history: service(next()),
        matching: service(next()),
        worker: service(next()),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: {
          active: {
            enabled: true,
            initialFailoverVersion: 1,
            rpcName: 'frontend',
            rpcAddress: `127.0.0.1:${frontend}`,
          },
        },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
    };
    writeFileSync(path.join(root, 'config', 'production.yaml'), toYaml(config));
    const args = ['--root', root, '--config', 'config', '--env', 'production', 'start'];
    for (const name of ['frontend', 'internal-frontend', 'history', 'matching', 'worker']) {
      args.push('--service', name);
    }
    const logFile = path.join(opts.dataDir, `temporal-server-${frontend}.log`);
    const server = spawnServer('temporal-server', binary, args, logFile, opts.ownerPid ?? process.pid);
    const address = `127.0.0.1:${frontend}`;
    await waitFor('Temporal server', server, 90_000, async () => {
      const connection = await Connection.connect({
        address,
        connectTimeout: 1000,
        tls: {
          serverNameOverride: TEMPORAL_SERVER_NAME,
          serverRootCACertificate: readFileSync(pki('ca.pem')),
          clientCertPair: { crt: readFileSync(pki('admin.pem')), key: readFileSync(pki('admin.key')) },
        },
      });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    });
    return { ...server, address, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
  });
}

/** A connection as one of the identities (its certificate and token). */
export async function connectAs(
  credentials: TemporalCredentials,
  identity: TemporalIdentity,
  address = credentials.address,
): Promise<Connection> {
  const { certFile, keyFile, token } = credentials.identities[identity];
  return Connection.connect({
    address,
    tls: {
      serverNameOverride: credentials.serverName,
      serverRootCACertificate: readFileSync(credentials.caCertFile),
      clientCertPair: { crt: readFileSync(certFile), key: readFileSync(keyFile) },
    },
    apiKey: token,
  });
}

const INDEXED_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * What an operator does once per namespace, as the system admin: registers it (1 day of closed-workflow
 * retention) and custody's search attributes; waits until the frontend knows both.
 */
export async function bootstrapNamespace(
  credentials: TemporalCredentials,
  namespace = 'default',
  address = credentials.address,
): Promise<void> {
  const connection = await connectAs(credentials, 'admin', address);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs('1 day'),
        });
        break;
      } catch (error) {
        if (/already exists|AlreadyExists/i.test(String(error))) break;
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const searchAttributes = Object.fromEntries(
      ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_TYPE[key.type] ?? INDEXED_TYPE.KEYWORD!]),
    );
    for (;;) {
      try {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
        break;
      } catch (error) {
        if (/already exists|AlreadyExists/i.test(String(error))) break;
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // The namespace registry refreshes on an interval: wait until a query naming our attributes is accepted.
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({
          namespace,
          query: `${ALL_SEARCH_ATTRIBUTES[0].name} = 'bootstrap'`,
        });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}

/** Tokens as Temporal's default claim mapper reads them: `permissions` claims, signed by the JWKS's key. */
export async function mintTemporalToken(
  credentials: Pick<TemporalCredentials, 'signingKey'>,
  subject: string,
  permissions: readonly string[],
  expiresInSeconds = 6 * 3600,
): Promise<string> {
  const { signingKey } = credentials;
  const key = await importJWK(signingKey, signingKey.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ permissions: [...permissions] })
    .setProtectedHeader({ alg: signingKey.alg!, kid: signingKey.kid! })
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSeconds)
    .sign(key);
}

/**
 * Everything for a run: PostgreSQL, the PKI, the token issuer (its JWKS served from this process), the server,
 * the default namespace; the credentials file. Returns the servers to stop and the credentials.
 */
export async function startProductionTemporal(opts: { dataDir: string; ownerPid?: number }): Promise<{
  servers: RunningServer[];
  issuer: TestIssuer;
  credentials: TemporalCredentials;
  credentialsFile: string;
}> {
  const pkiDir = path.join(opts.dataDir, 'temporal-pki');
  const identities = Object.keys(TEMPORAL_IDENTITIES) as TemporalIdentity[];
  createTemporalPki(pkiDir, identities);
  const signing = await createTestKey('temporal-token-key', 'ES256');
  const issuer = await startTestIssuer('temporal', signing);
  const postgres = await startPostgres(opts);
  createTemporalDatabases(postgres, 'temporal');
  const jwksUri = `${issuer.issuer}/jwks`;
  const server = await startTemporalServer({
    dataDir: opts.dataDir,
    postgres,
    database: 'temporal',
    pkiDir,
    jwksUri,
    ...(opts.ownerPid !== undefined && { ownerPid: opts.ownerPid }),
  });
  const { exportJWK } = await import('jose');
  const signingKey = { ...(await exportJWK(signing.privateKey)), kid: signing.kid, alg: signing.alg };
  const credentials: TemporalCredentials = {
    address: server.address,
    serverName: TEMPORAL_SERVER_NAME,
    caCertFile: path.join(pkiDir, 'ca.pem'),
    identities: {} as TemporalCredentials['identities'],
    foreign: { certFile: path.join(pkiDir, 'foreign.pem'), keyFile: path.join(pkiDir, 'foreign.key') },
    signingKey,
    jwksUri,
    postgres: { port: postgres.port },
    pkiDir,
  };
  for (const identity of identities) {
    credentials.identities[identity] = {
      certFile: path.join(pkiDir, `${identity}.pem`),
      keyFile: path.join(pkiDir, `${identity}.key`),
      token: await mintTemporalToken(credentials, `custody-${identity}`, TEMPORAL_IDENTITIES[identity]),
    };
  }
  await bootstrapNamespace(credentials);
  const credentialsFile = path.join(opts.dataDir, 'temporal-credentials.json');
  writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return { servers: [server, postgres], issuer, credentials, credentialsFile };
}

/** The credentials global-setup.ts wrote, for a test file. */
export function temporalCredentials(): TemporalCredentials {
  const file = process.env.CUSTODY_TEST_TEMPORAL_CREDENTIALS;
  if (!file || !existsSync(file)) {
    throw new Error(
      'The production-shaped Temporal server is not running. Run the tests with `npm test` (its globalSetup ' +
        'starts it; `bash scripts/install-tools.sh` builds the server and installs PostgreSQL).',
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as TemporalCredentials;
}

/** The environment variables that make custody's config connect as `identity`. */
export function temporalEnvAs(
  credentials: TemporalCredentials,
  identity: TemporalIdentity,
  address = credentials.address,
): Record<string, string> {
  const { certFile, keyFile, token } = credentials.identities[identity];
  return {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: credentials.caCertFile,
    TEMPORAL_TLS_SERVER_NAME: credentials.serverName,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: keyFile,
    TEMPORAL_API_KEY: token,
  };
}

/**
 * A server of a test's own on the run's PostgreSQL, PKI and token keys (so the run's credentials work against it),
 * with databases of its own: for restarts and dynamic config the shared server must not see. Databases are
 * created when `fresh` (the default); started again with `fresh: false` and the same port, it is the same server.
 */
export async function startOwnTemporalServer(opts: {
  dataDir: string;
  database: string;
  fresh?: boolean;
  port?: number;
  dynamicConfig?: Record<string, string | number | boolean>;
}): Promise<TemporalServer> {
  const credentials = temporalCredentials();
  if (opts.fresh !== false) createTemporalDatabases(credentials.postgres, opts.database);
  const server = await startTemporalServer({
    dataDir: opts.dataDir,
    postgres: credentials.postgres,
    database: opts.database,
    pkiDir: credentials.pkiDir,
    jwksUri: credentials.jwksUri,
    ...(opts.port !== undefined && { port: opts.port }),
    ...(opts.dynamicConfig && { dynamicConfig: opts.dynamicConfig }),
  });
  if (opts.fresh !== false) await bootstrapNamespace(credentials, 'default', server.address);
  return server;
}
