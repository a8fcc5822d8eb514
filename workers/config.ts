/**
 * The one place configuration is read. `loadConfig(env)` validates every variable once and returns a typed,
 * frozen object that is passed down; no other module reads `process.env` (config.test.ts scans the sources).
 * Ecosystem variables keep their own names (Temporal's envconfig, the AWS SDK's, kubectl's); ours are CUSTODY_*.
 * Every value has a dev default, so a local run needs nothing set — but the API's issuer (CUSTODY_OIDC_ISSUER),
 * which the API refuses to start without (api/main.ts). An invalid value throws a ConfigError naming the variable,
 * the value and the form.
 */
import { z } from 'zod';
import { homedir, hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { POOL_NAMES, type LifecycleTaskQueues, type PoolName } from '../domain/pools';
import { positiveDurationProblem } from '../domain/duration';

/** The rule packs ship beside the code: ../policies from sources, ../../policies from dist/. */
function bundledPolicyDir(): string {
  const fromSource = path.resolve(__dirname, '..', 'policies');
  return existsSync(fromSource) ? fromSource : path.resolve(__dirname, '..', '..', 'policies');
}

/** The dev run directory (`.run/` of the repository, where command 1 keeps its state). */
function devRunDir(): string {
  return path.join(path.dirname(bundledPolicyDir()), '.run');
}

export { POOL_NAMES, type PoolName };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

interface VariableSpec<T> {
  schema: z.ZodType<T>;
  /** How the value must look, shown in the error message. */
  form: string;
  fallback?: string;
}

const nonEmpty = z.string().trim().min(1);
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** An IPv4/IPv6 address or CIDR block. */
function isAddressOrBlock(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
const addressList = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  )
  .refine((entries) => entries.every(isAddressOrBlock));
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
// S3 bucket naming rules (lowercase, digits, dots and hyphens; 3–63 characters).
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://');
// The one duration grammar (domain/duration.ts): a value accepted here is never refused by a later use.
const duration = z.string().superRefine((text, ctx) => {
  const problem = positiveDurationProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const poolList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(POOL_NAMES)).min(1));
const logLevel = z.enum(['debug', 'info', 'warn', 'error']);
/** Asymmetric JWS algorithms only: `none` and the HMAC family (HS*) would let anyone who knows the public key — or
 * no key at all — mint a token. */
const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
const algorithmList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(OIDC_ALGORITHMS)).min(1));
/** An issuer is https, or http on the loopback interface only (the embedded dev provider, test issuers). */
const issuerUrl = z
  .string()
  .url()
  .refine(
    (u) => /^https:\/\//.test(u) || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(u),
    'must be https://, or http:// on 127.0.0.1, localhost or [::1]',
  );
const claimName = z.string().regex(/^[A-Za-z0-9_:/.-]{1,200}$/);

function spec<T>(schema: z.ZodType<T>, form: string, fallback?: string): VariableSpec<T> {
  return fallback === undefined ? { schema, form } : { schema, form, fallback };
}

/** Every variable we read, with its form and dev default. docs/configuration.md mirrors this. */
export const VARIABLES = {
  TEMPORAL_ADDRESS: spec(hostPort, 'host:port, e.g. 127.0.0.1:7233', '127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: spec(nonEmpty, 'a Temporal namespace name', 'default'),
  TEMPORAL_TLS: spec(bool, 'true or false', 'false'),
  TEMPORAL_TLS_CLIENT_CERT_PATH: spec(nonEmpty.optional(), 'a path to a PEM client certificate'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: spec(nonEmpty.optional(), 'a path to a PEM client key'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: spec(nonEmpty.optional(), 'a path to a PEM CA certificate'),
  TEMPORAL_TLS_SERVER_NAME: spec(nonEmpty.optional(), 'the server name to verify'),
  TEMPORAL_API_KEY: spec(nonEmpty.optional(), 'an API key'),
  AWS_ENDPOINT_URL_S3: spec(httpUrl, 'an http(s) URL, e.g. http://127.0.0.1:7070', 'http://127.0.0.1:7070'),
  AWS_ACCESS_KEY_ID: spec(nonEmpty, 'an access key id', 'custody-dev'),
  AWS_SECRET_ACCESS_KEY: spec(nonEmpty, 'a secret access key', 'custody-dev-secret'),
  AWS_REGION: spec(nonEmpty, 'a region name, e.g. us-east-1', 'us-east-1'),
  CUSTODY_POOLS: spec(
    poolList,
    `a comma-separated list of ${POOL_NAMES.join(', ')}`,
    'orchestration,media-io,transcode',
  ),
  CUSTODY_TASK_QUEUE_PREFIX: spec(z.string().regex(/^[A-Za-z0-9._-]+$/), 'letters, digits, . _ -', 'custody'),
  CUSTODY_ORCHESTRATION_CONCURRENCY: spec(positiveInt, 'a positive integer', '50'),
  CUSTODY_MEDIA_IO_CONCURRENCY: spec(positiveInt, 'a positive integer', '4'),
  CUSTODY_TRANSCODE_CONCURRENCY: spec(positiveInt, 'a positive integer', '1'),
  CUSTODY_BUCKET_INCOMING: spec(bucketName, 'an S3 bucket name', 'custody-incoming'),
  CUSTODY_BUCKET_EVIDENCE: spec(bucketName, 'an S3 bucket name', 'custody-evidence'),
  CUSTODY_BUCKET_DERIVATIVES: spec(bucketName, 'an S3 bucket name', 'custody-derivatives'),
  CUSTODY_BUCKET_AUDIT: spec(bucketName, 'an S3 bucket name', 'custody-audit'),
  CUSTODY_BUCKET_QUARANTINE: spec(bucketName, 'an S3 bucket name', 'custody-quarantine'),
  CUSTODY_AUDIT_RETENTION: spec(duration, 'an ISO 8601 duration, e.g. P10Y', 'P10Y'),
  CUSTODY_HTTP_PORT: spec(port, 'a TCP port 0–65535 (0 = any free port)', '9464'),
  CUSTODY_SDK_METRICS_PORT: spec(port, 'a TCP port 0–65535 (0 = any free port)', '0'),
  CUSTODY_SHUTDOWN_GRACE_SECONDS: spec(positiveInt, 'a positive integer (seconds)', '60'),
  CUSTODY_POLICY_DIR: spec(nonEmpty, 'a directory of rule packs', bundledPolicyDir()),
  CUSTODY_DEFAULT_POLICY: spec(
    z.string().regex(/^[a-z0-9-]+$/),
    'a rule pack id, e.g. bw-polg-44',
    'bw-polg-44',
  ),
  CUSTODY_INBOX_INTERVAL_SECONDS: spec(positiveInt, 'a positive integer (seconds)', '15'),
  CUSTODY_MANIFEST_GRACE_SECONDS: spec(z.coerce.number().int().min(0), 'an integer ≥ 0 (seconds)', '120'),
  CUSTODY_FFMPEG_PATH: spec(nonEmpty, 'a path to ffmpeg', 'ffmpeg'),
  CUSTODY_FFPROBE_PATH: spec(nonEmpty, 'a path to ffprobe', 'ffprobe'),
  CUSTODY_TMP_DIR: spec(nonEmpty, 'a writable directory', tmpdir()),
  CUSTODY_TRANSCODE_PRESET: spec(
    z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow']),
    'an x264 preset such as veryfast',
    'veryfast',
  ),
  CUSTODY_TRANSCODE_CRF: spec(z.coerce.number().int().min(0).max(51), 'an integer 0–51', '23'),
  CUSTODY_SPRITE_INTERVAL_SECONDS: spec(positiveInt, 'a positive integer (seconds)', '10'),
  CUSTODY_TRANSCODE_ENABLED: spec(bool, 'true or false (false: no review proxy, sprite or poster)', 'true'),
  CUSTODY_FIXITY_ENABLED: spec(bool, 'true or false (the scheduled re-hash of stored objects)', 'true'),
  CUSTODY_FIXITY_INTERVAL_SECONDS: spec(
    positiveInt,
    'a positive integer (seconds between fixity runs)',
    '3600',
  ),
  CUSTODY_FIXITY_SAMPLE: spec(
    z.coerce.number().int().min(0),
    'an integer ≥ 0 (random recordings re-hashed per run)',
    '10',
  ),
  CUSTODY_FIXITY_FULL_CYCLE_DAYS: spec(
    positiveInt,
    'a positive integer (every object re-hashed within)',
    '30',
  ),
  CUSTODY_CONTROLLER_NAMESPACE: spec(nonEmpty.optional(), 'the namespace of the pool Deployments'),
  CUSTODY_CONTROLLER_IDENTITY: spec(nonEmpty.optional(), "this controller replica's name (the pod name)"),
  CUSTODY_CONTROLLER_LEASE_NAME: spec(nonEmpty, 'a coordination.k8s.io Lease name', 'custody-controller'),
  CUSTODY_CONTROLLER_DEPLOYMENTS: spec(
    z.string().regex(/^$|^[a-z-]+=[a-z0-9.-]+(,[a-z-]+=[a-z0-9.-]+)*$/),
    'pool=deployment pairs, e.g. transcode=custody-transcode,media-io=custody-media-io',
    '',
  ),
  CUSTODY_CONTROLLER_INTERVAL_SECONDS: spec(
    positiveInt,
    'a positive integer (seconds between decisions)',
    '15',
  ),
  CUSTODY_CAPACITY_FILE: spec(
    nonEmpty,
    'a path to the capacity policy (YAML, policies/capacity/capacity.schema.json)',
    path.join(bundledPolicyDir(), 'capacity', 'capacity.yaml'),
  ),
  CUSTODY_API_PORT: spec(port, 'a TCP port 0–65535 (0 = any free port)', '8443'),
  CUSTODY_API_HOST: spec(nonEmpty, 'the address the API listens on, e.g. 0.0.0.0 in a pod', '127.0.0.1'),
  CUSTODY_API_INSECURE_HTTP: spec(bool, 'true or false (true: plain HTTP, for dev and tests only)', 'false'),
  CUSTODY_API_TLS_CERT_PATH: spec(
    nonEmpty.optional(),
    'a path to the PEM certificate (chain) the API serves',
  ),
  CUSTODY_API_TLS_KEY_PATH: spec(nonEmpty.optional(), "a path to the PEM key of the API's certificate"),
  CUSTODY_API_RATE_LIMIT_PER_SUBJECT: spec(positiveInt, 'a positive integer (requests per minute)', '300'),
  CUSTODY_API_RATE_LIMIT_PER_IP: spec(positiveInt, 'a positive integer (requests per minute)', '1200'),
  CUSTODY_API_TRUSTED_PROXIES: spec(
    addressList,
    'comma-separated addresses or CIDR blocks of the reverse proxies / ingress in front of the API (X-Forwarded-For is believed from these only)',
    '',
  ),
  CUSTODY_API_MEDIA_URL_SECONDS: spec(
    z.coerce.number().int().min(1).max(3600),
    'an integer 10–3600 (seconds a presigned media URL is valid; 1–9 only with CUSTODY_DEV_MODE=true)',
    '300',
  ),
  CUSTODY_CONSOLE_CLIENT_ID: spec(
    nonEmpty.optional(),
    "the web console's OAuth client id at the OpenID Provider (confidential: authorization code + PKCE); unset: no console",
  ),
  CUSTODY_CONSOLE_CLIENT_SECRET_FILE: spec(
    nonEmpty.optional(),
    "a path to the console client's secret (never in the environment)",
  ),
  CUSTODY_CONSOLE_ORIGIN: spec(
    issuerUrl.optional(),
    'the origin people open the console at, e.g. https://custody.example (sign-in returns to <origin>/console/callback; changes are accepted from it only)',
  ),
  CUSTODY_CONSOLE_SESSION_HOURS: spec(
    z.coerce.number().int().min(1).max(24),
    'an integer 1–24 (hours a console sign-in lasts at most)',
    '8',
  ),
  CUSTODY_CONSOLE_IDLE_MINUTES: spec(
    z.coerce.number().int().min(5).max(480),
    'an integer 5–480 (minutes without a request after which a console session ends)',
    '30',
  ),
  CUSTODY_ROLES_FILE: spec(
    nonEmpty,
    'a path to the role mapping (YAML, policies/roles/roles.schema.json)',
    path.join(bundledPolicyDir(), 'roles', 'roles.yaml'),
  ),
  CUSTODY_PSEUDONYM_KEY_FILE: spec(
    nonEmpty,
    'a path to the secret key (≥ 32 bytes) that pseudonymises the access log',
    path.join(devRunDir(), 'api-pseudonym.key'),
  ),
  CUSTODY_OIDC_ISSUER: spec(
    issuerUrl.optional(),
    "the OpenID Provider's issuer URL, exactly as its tokens' iss claim (https; http on loopback for dev)",
  ),
  CUSTODY_OIDC_AUDIENCE: spec(nonEmpty, 'the audience (aud) the access tokens must carry', 'custody-api'),
  CUSTODY_OIDC_ALGORITHMS: spec(
    algorithmList,
    `a comma-separated list of ${OIDC_ALGORITHMS.join(', ')} (never none or HS*)`,
    'RS256,ES256',
  ),
  CUSTODY_OIDC_CLOCK_SKEW_SECONDS: spec(
    z.coerce.number().int().min(0).max(300),
    'an integer 0–300 (seconds)',
    '30',
  ),
  CUSTODY_OIDC_JWKS_COOLDOWN_SECONDS: spec(
    z.coerce.number().int().min(0).max(3600),
    'an integer 0–3600 (seconds between two fetches of the issuer keys)',
    '30',
  ),
  CUSTODY_OIDC_ROLES_CLAIM: spec(
    claimName,
    'a claim name, or a dotted path such as realm_access.roles',
    'custody_roles',
  ),
  CUSTODY_OIDC_UNITS_CLAIM: spec(claimName, 'a claim name, or a dotted path', 'custody_units'),
  CUSTODY_OIDC_OFFICER_CLAIM: spec(claimName, 'a claim name, or a dotted path', 'custody_officer_id'),
  CUSTODY_API_URL: spec(
    issuerUrl,
    "the custody API's base URL for the custody command (https; http on loopback for dev)",
    'http://127.0.0.1:8443',
  ),
  CUSTODY_CONFIG_DIR: spec(
    nonEmpty.optional(),
    "a directory for the custody command's cached sign-in (unset: $XDG_CONFIG_HOME/custody or ~/.config/custody)",
  ),
  XDG_CONFIG_HOME: spec(nonEmpty.optional(), 'the base directory of user configuration (XDG Base Directory)'),
  CUSTODY_CLI_CLIENT_ID: spec(
    nonEmpty,
    "the custody command's OAuth client id (a public client)",
    'custody-cli',
  ),
  CUSTODY_CLI_SCOPE: spec(nonEmpty, 'the scopes `custody login` asks for, separated by spaces', 'openid'),
  CUSTODY_CLIENT_ID: spec(
    nonEmpty.optional(),
    "a service account's OAuth client id: the custody command then acts with client credentials",
  ),
  CUSTODY_CLIENT_SECRET_FILE: spec(
    nonEmpty.optional(),
    "a path to the service account's client secret (never in the environment or on the command line)",
  ),
  CUSTODY_CLIENT_SCOPE: spec(
    nonEmpty.optional(),
    'the scopes a service account asks for, separated by spaces',
  ),
  CUSTODY_PAYLOAD_KEYS_FILE: spec(
    nonEmpty,
    'a path to the payload encryption keys (JSON or YAML list of { id, key: base64 32 bytes }; the first encrypts)',
    path.join(devRunDir(), 'payload-keys.json'),
  ),
  CUSTODY_ASSERTION_PUBLIC_KEYS_FILE: spec(
    nonEmpty,
    "a path to the custody API's public assertion keys (a JWKS of Ed25519 keys): the workflows accept a person's action only when one of them verifies it",
    path.join(devRunDir(), 'assertion-keys', 'public.json'),
  ),
  CUSTODY_ASSERTION_SIGNING_KEY_FILE: spec(
    nonEmpty,
    "a path to the custody API's private assertion key (an Ed25519 JWK with kid, mode 0600)",
    path.join(devRunDir(), 'assertion-keys', 'signing.json'),
  ),
  CUSTODY_DEV_MODE: spec(
    bool,
    'true or false (true: the demo rule pack may be applied to recordings; never in production)',
    'false',
  ),
  CUSTODY_PAYLOAD_ENCRYPTION: spec(
    z.enum(['on', 'off']),
    'on, or off (no payload encryption: only to read data written before it)',
    'on',
  ),
  CUSTODY_LOG_LEVEL: spec(logLevel, 'debug, info, warn or error', 'info'),
  HOSTNAME: spec(
    nonEmpty,
    "this machine's name, in the workers' Temporal identity (a pod's name)",
    hostname(),
  ),
  KUBECONFIG: spec(nonEmpty.optional(), 'kubeconfig file(s) as kubectl reads them (the first one is used)'),
  KUBERNETES_SERVICE_HOST: spec(
    nonEmpty.optional(),
    'set by Kubernetes in every pod (in-cluster credentials)',
  ),
} as const;

type Variables = typeof VARIABLES;
type Raw = { [K in keyof Variables]: Variables[K] extends VariableSpec<infer T> ? T : never };

function readVariables(env: Record<string, string | undefined>): Raw {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(VARIABLES) as [string, VariableSpec<unknown>][]) {
    const given = env[name];
    const value = given === undefined || given === '' ? s.fallback : given;
    const parsed = s.schema.safeParse(value);
    if (parsed.success) out[name] = parsed.data;
    else {
      // A refinement's own message says what exactly is wrong (e.g. the duration grammar's diagnosis).
      const why = parsed.error.issues.find((issue) => issue.code === 'custom')?.message;
      problems.push(
        `${name}=${JSON.stringify(value ?? '')} is invalid: expected ${s.form}${why ? ` (${why})` : ''}`,
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as Raw;
}

export interface CustodyConfig {
  temporal: {
    address: string;
    namespace: string;
    tls?: {
      clientCertPath?: string;
      clientKeyPath?: string;
      serverCaCertPath?: string;
      serverName?: string;
    };
    apiKey?: string;
  };
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  buckets: { incoming: string; evidence: string; derivatives: string; audit: string; quarantine: string };
  auditRetention: string;
  pools: PoolName[];
  taskQueues: Record<PoolName, string>;
  concurrency: Record<Exclude<PoolName, 'controller'>, number>;
  http: { port: number; sdkMetricsPort: number };
  shutdownGraceSeconds: number;
  /** `devMode`: the demo pack (minutes, not statute) may be applied by a policy change. */
  policy: { dir: string; defaultPack: string; devMode: boolean };
  /**
   * Action assertions (domain/assertion.ts): the API signs with `signingKeyFile`; workers build the public keys of
   * `publicKeysFile` into their workflow bundle. `generateIfMissing`: both paths are the dev defaults.
   */
  assertions: { publicKeysFile: string; signingKeyFile: string; generateIfMissing: boolean };
  inbox: { intervalSeconds: number; manifestGraceSeconds: number };
  media: {
    ffmpegPath: string;
    ffprobePath: string;
    tmpDir: string;
    preset: string;
    crf: number;
    spriteIntervalSeconds: number;
    /** False: recordings skip the transcode stage (no derivatives). */
    transcode: boolean;
  };
  fixity: { enabled: boolean; intervalSeconds: number; sample: number; fullCycleDays: number };
  controller: {
    namespace?: string;
    identity?: string;
    leaseName: string;
    /** pool → Deployment name, for the pools the controller scales (and `custody capacity` reads). */
    deployments: Partial<Record<PoolName, string>>;
    intervalSeconds: number;
  };
  /** The capacity policy: per-pool bounds, targets and measured throughputs (policies/capacity). */
  capacityFile: string;
  /** The custody API process (api/main.ts): where it listens, how it is protected. */
  api: {
    port: number;
    host: string;
    /** Plain HTTP (dev and tests); otherwise HTTPS with `tls`, and the API refuses to start without it. */
    insecureHttp: boolean;
    tls?: { certPath: string; keyPath: string };
    /** Requests per minute. */
    rateLimit: { perSubject: number; perIp: number };
    /** The ingress in front of the API: the client address is taken from X-Forwarded-For only when it comes from these. */
    trustedProxies: string[];
    /** How long a presigned media URL is valid, in seconds. */
    mediaUrlSeconds: number;
    rolesFile: string;
    pseudonymKey: {
      file: string;
      /** True when the file is the dev default: the API generates it when absent (a set path must exist). */
      generateIfMissing: boolean;
    };
    /** The web console's sign-in (api/console/): absent, no console routes. */
    console?: {
      clientId: string;
      clientSecretFile: string;
      /** scheme://host[:port] people open the console at. */
      origin: string;
      sessionHours: number;
      idleMinutes: number;
    };
  };
  /** The custody command as a client of the API (cli/auth/, cli/api-client.ts). */
  cli: {
    /** Where `custody login` keeps its cached sign-in (mode 0700; the credentials file 0600). */
    configDir: string;
    /** The API a sign-in is made for; a person's later commands use the one kept with their sign-in. */
    apiUrl: string;
    /** The public client `custody login` signs people in with, and the scopes it asks for. */
    clientId: string;
    scope: string;
    /** Set: the command acts as this service account, with a token fetched per run (client credentials). */
    serviceAccount?: { clientId: string; clientSecretFile: string; scope?: string };
  };
  /** How the API verifies access tokens (the agreed token contract, docs/api.md). */
  oidc: {
    /** Unset: the API refuses to start, naming CUSTODY_OIDC_ISSUER. */
    issuer?: string;
    audience: string;
    algorithms: string[];
    clockSkewSeconds: number;
    jwksCooldownSeconds: number;
    claims: { roles: string; units: string; officer: string };
  };
  /** Payloads sent through Temporal are encrypted with the keys in `keysFile` (workers/payload-codec.ts). */
  payloadEncryption: { enabled: boolean; keysFile: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Names this process in the workers' identity (`<pool>@<hostName>:<pid>`). */
  hostName: string;
  /** What kubectl's lookup reads (workers/controller/kube.ts resolveKubeConfig), for the controller and the CLI. */
  kubernetesEnv: { KUBECONFIG?: string; KUBERNETES_SERVICE_HOST?: string };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): CustodyConfig {
  const v = readVariables(env);
  const tlsWanted =
    v.TEMPORAL_TLS ||
    [
      v.TEMPORAL_TLS_CLIENT_CERT_PATH,
      v.TEMPORAL_TLS_CLIENT_KEY_PATH,
      v.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
    ].some(Boolean);
  if (Boolean(v.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(v.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    throw new ConfigError([
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together (mutual TLS needs both)',
    ]);
  }
  const buckets = {
    incoming: v.CUSTODY_BUCKET_INCOMING,
    evidence: v.CUSTODY_BUCKET_EVIDENCE,
    derivatives: v.CUSTODY_BUCKET_DERIVATIVES,
    audit: v.CUSTODY_BUCKET_AUDIT,
    quarantine: v.CUSTODY_BUCKET_QUARANTINE,
  };
  if (new Set(Object.values(buckets)).size !== Object.keys(buckets).length) {
    throw new ConfigError([
      `CUSTODY_BUCKET_* must name five different buckets (got ${Object.values(buckets).join(', ')}): evidence locks and deletion rules differ per store`,
    ]);
  }
  if (v.CUSTODY_POOLS.includes('controller') && !v.CUSTODY_CONTROLLER_NAMESPACE) {
    throw new ConfigError([
      'CUSTODY_CONTROLLER_NAMESPACE must be set when CUSTODY_POOLS includes controller (the namespace of the pool Deployments)',
    ]);
  }
  if (Boolean(v.CUSTODY_API_TLS_CERT_PATH) !== Boolean(v.CUSTODY_API_TLS_KEY_PATH)) {
    throw new ConfigError([
      'CUSTODY_API_TLS_CERT_PATH and CUSTODY_API_TLS_KEY_PATH must be set together (HTTPS needs both)',
    ]);
  }
  if (v.CUSTODY_API_INSECURE_HTTP && v.CUSTODY_API_TLS_CERT_PATH) {
    throw new ConfigError([
      'CUSTODY_API_INSECURE_HTTP=true and CUSTODY_API_TLS_CERT_PATH are both set: choose HTTPS (unset CUSTODY_API_INSECURE_HTTP) or plain HTTP for dev (unset the TLS paths)',
    ]);
  }
  // Seconds only tests wait out (a URL used after expiry); a deployment keeps URLs usable for a real download.
  if (v.CUSTODY_API_MEDIA_URL_SECONDS < 10 && !v.CUSTODY_DEV_MODE) {
    throw new ConfigError([
      `CUSTODY_API_MEDIA_URL_SECONDS=${v.CUSTODY_API_MEDIA_URL_SECONDS} is below 10: allowed only with CUSTODY_DEV_MODE=true (tests); use 10–3600`,
    ]);
  }
  const consoleParts = [
    v.CUSTODY_CONSOLE_CLIENT_ID,
    v.CUSTODY_CONSOLE_CLIENT_SECRET_FILE,
    v.CUSTODY_CONSOLE_ORIGIN,
  ];
  if (consoleParts.some(Boolean) && !consoleParts.every(Boolean)) {
    throw new ConfigError([
      'CUSTODY_CONSOLE_CLIENT_ID, CUSTODY_CONSOLE_CLIENT_SECRET_FILE and CUSTODY_CONSOLE_ORIGIN must be set together (the console signs people in as that client and returns them to that origin)',
    ]);
  }
  if (Boolean(v.CUSTODY_CLIENT_ID) !== Boolean(v.CUSTODY_CLIENT_SECRET_FILE)) {
    throw new ConfigError([
      'CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE must be set together (a service account needs its secret)',
    ]);
  }
  const prefix = v.CUSTODY_TASK_QUEUE_PREFIX;
  const config: CustodyConfig = {
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      ...(tlsWanted
        ? {
            tls: {
              ...(v.TEMPORAL_TLS_CLIENT_CERT_PATH && { clientCertPath: v.TEMPORAL_TLS_CLIENT_CERT_PATH }),
              ...(v.TEMPORAL_TLS_CLIENT_KEY_PATH && { clientKeyPath: v.TEMPORAL_TLS_CLIENT_KEY_PATH }),
              ...(v.TEMPORAL_TLS_SERVER_CA_CERT_PATH && {
                serverCaCertPath: v.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
              }),
              ...(v.TEMPORAL_TLS_SERVER_NAME && { serverName: v.TEMPORAL_TLS_SERVER_NAME }),
            },
          }
        : {}),
      ...(v.TEMPORAL_API_KEY && { apiKey: v.TEMPORAL_API_KEY }),
    },
    s3: {
      endpoint: v.AWS_ENDPOINT_URL_S3,
      region: v.AWS_REGION,
      accessKeyId: v.AWS_ACCESS_KEY_ID,
      secretAccessKey: v.AWS_SECRET_ACCESS_KEY,
    },
    buckets,
    auditRetention: v.CUSTODY_AUDIT_RETENTION,
    pools: [...new Set(v.CUSTODY_POOLS)],
    taskQueues: {
      orchestration: `${prefix}-orchestration`,
      'media-io': `${prefix}-media-io`,
      transcode: `${prefix}-transcode`,
      controller: `${prefix}-controller`,
    },
    concurrency: {
      orchestration: v.CUSTODY_ORCHESTRATION_CONCURRENCY,
      'media-io': v.CUSTODY_MEDIA_IO_CONCURRENCY,
      transcode: v.CUSTODY_TRANSCODE_CONCURRENCY,
    },
    http: { port: v.CUSTODY_HTTP_PORT, sdkMetricsPort: v.CUSTODY_SDK_METRICS_PORT },
    shutdownGraceSeconds: v.CUSTODY_SHUTDOWN_GRACE_SECONDS,
    policy: { dir: v.CUSTODY_POLICY_DIR, defaultPack: v.CUSTODY_DEFAULT_POLICY, devMode: v.CUSTODY_DEV_MODE },
    assertions: {
      publicKeysFile: v.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE,
      signingKeyFile: v.CUSTODY_ASSERTION_SIGNING_KEY_FILE,
      generateIfMissing: !env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE && !env.CUSTODY_ASSERTION_SIGNING_KEY_FILE,
    },
    inbox: {
      intervalSeconds: v.CUSTODY_INBOX_INTERVAL_SECONDS,
      manifestGraceSeconds: v.CUSTODY_MANIFEST_GRACE_SECONDS,
    },
    media: {
      ffmpegPath: v.CUSTODY_FFMPEG_PATH,
      ffprobePath: v.CUSTODY_FFPROBE_PATH,
      tmpDir: v.CUSTODY_TMP_DIR,
      preset: v.CUSTODY_TRANSCODE_PRESET,
      crf: v.CUSTODY_TRANSCODE_CRF,
      spriteIntervalSeconds: v.CUSTODY_SPRITE_INTERVAL_SECONDS,
      transcode: v.CUSTODY_TRANSCODE_ENABLED,
    },
    fixity: {
      enabled: v.CUSTODY_FIXITY_ENABLED,
      intervalSeconds: v.CUSTODY_FIXITY_INTERVAL_SECONDS,
      sample: v.CUSTODY_FIXITY_SAMPLE,
      fullCycleDays: v.CUSTODY_FIXITY_FULL_CYCLE_DAYS,
    },
    controller: {
      ...(v.CUSTODY_CONTROLLER_NAMESPACE && { namespace: v.CUSTODY_CONTROLLER_NAMESPACE }),
      ...(v.CUSTODY_CONTROLLER_IDENTITY && { identity: v.CUSTODY_CONTROLLER_IDENTITY }),
      leaseName: v.CUSTODY_CONTROLLER_LEASE_NAME,
      deployments: parseDeployments(v.CUSTODY_CONTROLLER_DEPLOYMENTS),
      intervalSeconds: v.CUSTODY_CONTROLLER_INTERVAL_SECONDS,
    },
    capacityFile: v.CUSTODY_CAPACITY_FILE,
    api: {
      port: v.CUSTODY_API_PORT,
      host: v.CUSTODY_API_HOST,
      insecureHttp: v.CUSTODY_API_INSECURE_HTTP,
      ...(v.CUSTODY_API_TLS_CERT_PATH &&
        v.CUSTODY_API_TLS_KEY_PATH && {
          tls: { certPath: v.CUSTODY_API_TLS_CERT_PATH, keyPath: v.CUSTODY_API_TLS_KEY_PATH },
        }),
      rateLimit: { perSubject: v.CUSTODY_API_RATE_LIMIT_PER_SUBJECT, perIp: v.CUSTODY_API_RATE_LIMIT_PER_IP },
      trustedProxies: v.CUSTODY_API_TRUSTED_PROXIES,
      mediaUrlSeconds: v.CUSTODY_API_MEDIA_URL_SECONDS,
      rolesFile: v.CUSTODY_ROLES_FILE,
      pseudonymKey: {
        file: v.CUSTODY_PSEUDONYM_KEY_FILE,
        generateIfMissing: !env.CUSTODY_PSEUDONYM_KEY_FILE,
      },
      ...(v.CUSTODY_CONSOLE_CLIENT_ID &&
        v.CUSTODY_CONSOLE_CLIENT_SECRET_FILE &&
        v.CUSTODY_CONSOLE_ORIGIN && {
          console: {
            clientId: v.CUSTODY_CONSOLE_CLIENT_ID,
            clientSecretFile: v.CUSTODY_CONSOLE_CLIENT_SECRET_FILE,
            origin: new URL(v.CUSTODY_CONSOLE_ORIGIN).origin,
            sessionHours: v.CUSTODY_CONSOLE_SESSION_HOURS,
            idleMinutes: v.CUSTODY_CONSOLE_IDLE_MINUTES,
          },
        }),
    },
    cli: {
      configDir: cliConfigDir(v.CUSTODY_CONFIG_DIR, v.XDG_CONFIG_HOME),
      apiUrl: v.CUSTODY_API_URL.replace(/\/+$/, ''),
      clientId: v.CUSTODY_CLI_CLIENT_ID,
      scope: v.CUSTODY_CLI_SCOPE,
      ...(v.CUSTODY_CLIENT_ID &&
        v.CUSTODY_CLIENT_SECRET_FILE && {
          serviceAccount: {
            clientId: v.CUSTODY_CLIENT_ID,
            clientSecretFile: v.CUSTODY_CLIENT_SECRET_FILE,
            ...(v.CUSTODY_CLIENT_SCOPE && { scope: v.CUSTODY_CLIENT_SCOPE }),
          },
        }),
    },
    oidc: {
      ...(v.CUSTODY_OIDC_ISSUER && { issuer: v.CUSTODY_OIDC_ISSUER }),
      audience: v.CUSTODY_OIDC_AUDIENCE,
      algorithms: [...new Set(v.CUSTODY_OIDC_ALGORITHMS)],
      clockSkewSeconds: v.CUSTODY_OIDC_CLOCK_SKEW_SECONDS,
      jwksCooldownSeconds: v.CUSTODY_OIDC_JWKS_COOLDOWN_SECONDS,
      claims: {
        roles: v.CUSTODY_OIDC_ROLES_CLAIM,
        units: v.CUSTODY_OIDC_UNITS_CLAIM,
        officer: v.CUSTODY_OIDC_OFFICER_CLAIM,
      },
    },
    payloadEncryption: {
      enabled: v.CUSTODY_PAYLOAD_ENCRYPTION === 'on',
      keysFile: v.CUSTODY_PAYLOAD_KEYS_FILE,
    },
    logLevel: v.CUSTODY_LOG_LEVEL,
    hostName: v.HOSTNAME,
    kubernetesEnv: {
      ...(v.KUBECONFIG && { KUBECONFIG: v.KUBECONFIG }),
      ...(v.KUBERNETES_SERVICE_HOST && { KUBERNETES_SERVICE_HOST: v.KUBERNETES_SERVICE_HOST }),
    },
  };
  return Object.freeze(config);
}

/** The XDG Base Directory rule: $XDG_CONFIG_HOME when it is an absolute path, else ~/.config. */
function cliConfigDir(explicit: string | undefined, xdgConfigHome: string | undefined): string {
  if (explicit) return path.resolve(explicit);
  const base =
    xdgConfigHome && path.isAbsolute(xdgConfigHome) ? xdgConfigHome : path.join(homedir(), '.config');
  return path.join(base, 'custody');
}

function parseDeployments(pairs: string): Partial<Record<PoolName, string>> {
  const out: Partial<Record<PoolName, string>> = {};
  const problems: string[] = [];
  for (const pair of pairs.split(',').filter(Boolean)) {
    const [pool, deployment] = pair.split('=') as [string, string];
    if (!(POOL_NAMES as readonly string[]).includes(pool) || pool === 'controller') {
      problems.push(
        `CUSTODY_CONTROLLER_DEPLOYMENTS names pool "${pool}": expected one of orchestration, media-io, transcode`,
      );
    } else out[pool as PoolName] = deployment;
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/** For entry points: load the config or print the problems and exit with code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): CustodyConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee docs/configuration.md for every variable and its default.\n`);
      process.exit(78);
    }
    throw err;
  }
}

/** The task queues a lifecycle workflow dispatches to, from config (workflows read no environment). */
export function lifecycleTaskQueues(config: CustodyConfig): LifecycleTaskQueues {
  return {
    orchestration: config.taskQueues.orchestration,
    mediaIo: config.taskQueues['media-io'],
    transcode: config.taskQueues.transcode,
  };
}
