/**
 * A real Kubernetes API server for tests: etcd + kube-apiserver (built by scripts/install-kube-tools.sh) on free
 * loopback ports, with TLS from a throwaway CA made by `openssl`, RBAC authorization and service-account
 * signing keys. There is no controller-manager and no kubelet: objects are stored, validated, defaulted,
 * admitted and authorized exactly as in a cluster, but nothing reconciles them (a Deployment never gets pods,
 * a deleted namespace stays Terminating, no `default` ServiceAccount appears on its own).
 *
 * Each process runs in its own process group, is killed by PID on stop(), and is watched by a small shell
 * watchdog that kills it when the owning process (the jest worker) dies, so no server outlives the test run.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { freeLoopbackPorts } from '../../workers/ports';

const execFileAsync = promisify(execFile);

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const INSTALL_HINT =
  'Run `bash scripts/install-kube-tools.sh` (builds kube-apiserver and etcd from Go modules; needs Go >= 1.26 on PATH ' +
  'and the Go module proxy; about 10 minutes on a cold Go cache).';
const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const CLUSTER_NAME = 'custody-test';

export interface KubeApiServerOptions {
  /** The tools folder holding bin/kube-apiserver and bin/etcd; default $CUSTODY_TOOLS_DIR or <repo>/.tools. */
  toolsDir?: string;
  /** A scratch folder for certificates, kubeconfigs, etcd data and logs (created when missing). */
  workDir: string;
  /** The process whose death stops the servers; default this process. */
  ownerPid?: number;
  /** How long to wait for /readyz; default 60 s (warm starts take a few seconds). */
  readyTimeoutMs?: number;
}

export interface KubeIdentity {
  /** The user name (certificate CN). */
  user: string;
  /** Groups (certificate O entries), e.g. ['custody-operators']. */
  groups?: string[];
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  /** An admin kubeconfig (client certificate in group system:masters, which bypasses RBAC). */
  kubeconfigPath: string;
  caCertPath: string;
  workDir: string;
  logFiles: { etcd: string; apiserver: string };
  /** A kubeconfig with a client certificate for `user` in `groups`: it can do only what RBAC grants it. */
  createUserKubeconfig(identity: KubeIdentity): Promise<string>;
  /**
   * A kubeconfig with a real ServiceAccount token (TokenRequest API); creates the ServiceAccount when missing.
   * It can do only what RBAC grants system:serviceaccount:<namespace>:<name>.
   */
  createServiceAccountKubeconfig(sa: {
    namespace: string;
    name: string;
    expirationSeconds?: number;
  }): Promise<string>;
  /** Stops kube-apiserver, then etcd; SIGKILL after 5 s each. Safe to call twice. */
  stop(): Promise<void>;
}

export function kubeToolsDir(): string {
  return process.env.CUSTODY_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools');
}

/** The path of an installed kube tool, or an error that says how to install it. */
export function requireKubeTool(name: string, toolsDir: string = kubeToolsDir()): string {
  const binary = path.join(toolsDir, 'bin', name);
  if (!existsSync(binary)) throw new Error(`${name} is not installed at ${binary}. ${INSTALL_HINT}`);
  return binary;
}

export async function startKubeApiServer(opts: KubeApiServerOptions): Promise<KubeApiServer> {
  const toolsDir = opts.toolsDir ?? kubeToolsDir();
  const etcdBinary = requireKubeTool('etcd', toolsDir);
  const apiserverBinary = requireKubeTool('kube-apiserver', toolsDir);
  const ownerPid = opts.ownerPid ?? process.pid;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const workDir = path.resolve(opts.workDir);
  const pkiDir = path.join(workDir, 'pki');
  mkdirSync(pkiDir, { recursive: true });

  const pki = await createPki(pkiDir);
  const [etcdClientPort, etcdPeerPort, apiserverPort] = await freeLoopbackPorts(3);
  const url = `https://127.0.0.1:${apiserverPort}`;
  const logFiles = {
    etcd: path.join(workDir, 'etcd.log'),
    apiserver: path.join(workDir, 'kube-apiserver.log'),
  };

  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    // Reverse order: the API server first, so it does not log a storm of etcd connection errors.
    for (const managed of [...started].reverse()) await managed.stop();
  };
  try {
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = spawnManaged(
      'etcd',
      etcdBinary,
      [
        '--name=custody-test',
        `--data-dir=${path.join(workDir, 'etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=custody-test=${peerUrl}`,
        '--initial-cluster-state=new',
        // Test data is thrown away: skipping fsync makes every write (and so the API server) much faster.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logFiles.etcd,
      ownerPid,
    );
    started.push(etcd);
    await waitUntilReady('etcd', etcd, readyTimeoutMs, async () => {
      const { status, body } = await httpGet(`${etcdUrl}/health`);
      return status === 200 && body.includes('"health":"true"');
    });

    const apiserver = spawnManaged(
      'kube-apiserver',
      apiserverBinary,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiserverPort}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        // The default admission plugins all work without a controller-manager; namespaces are creatable.
        '--profiling=false',
        '--v=1',
      ],
      logFiles.apiserver,
      ownerPid,
    );
    started.push(apiserver);
    const adminTls = { ca: pki.caPem, cert: pki.adminCertPem, key: pki.adminKeyPem };
    let lastReadyz = '';
    await waitUntilReady(
      'kube-apiserver',
      apiserver,
      readyTimeoutMs,
      async () => {
        const { status, body } = await httpsJson('GET', `${url}/readyz`, adminTls);
        lastReadyz = body;
        return status === 200;
      },
      () => lastReadyz,
    );

    const kubeconfigPath = path.join(workDir, 'admin.kubeconfig');
    writeFileSync(
      kubeconfigPath,
      kubeconfigYaml(url, pki.caPem, 'custody-admin', { cert: pki.adminCertPem, key: pki.adminKeyPem }),
      { mode: 0o600 },
    );

    let stopped: Promise<void> | undefined;
    return {
      url,
      kubeconfigPath,
      caCertPath: pki.caCert,
      workDir,
      logFiles,
      async createUserKubeconfig(identity) {
        const client = await issueClientCertificate(pkiDir, pki, identity);
        const file = path.join(workDir, `user-${safeFileName(identity.user)}.kubeconfig`);
        await writeFile(file, kubeconfigYaml(url, pki.caPem, identity.user, client), { mode: 0o600 });
        return file;
      },
      async createServiceAccountKubeconfig(sa) {
        const serviceAccounts = `/api/v1/namespaces/${encodeURIComponent(sa.namespace)}/serviceaccounts`;
        const created = await httpsJson('POST', `${url}${serviceAccounts}`, adminTls, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: sa.name },
        });
        if (created.status !== 201 && created.status !== 409) {
          throw new Error(
            `creating ServiceAccount ${sa.namespace}/${sa.name} failed: ${created.status} ${created.body}`,
          );
        }
        // TokenRequest is served by the API server itself: no token controller needed.
        const tokenRequest = await httpsJson(
          'POST',
          `${url}${serviceAccounts}/${encodeURIComponent(sa.name)}/token`,
          adminTls,
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds: sa.expirationSeconds ?? 3600 },
          },
        );
        const token = tokenRequestToken(tokenRequest.body);
        if (tokenRequest.status !== 201 || !token) {
          throw new Error(
            `TokenRequest for ${sa.namespace}/${sa.name} failed: ${tokenRequest.status} ${tokenRequest.body}`,
          );
        }
        const user = `system:serviceaccount:${sa.namespace}:${sa.name}`;
        const file = path.join(
          workDir,
          `sa-${safeFileName(sa.namespace)}-${safeFileName(sa.name)}.kubeconfig`,
        );
        await writeFile(file, kubeconfigYaml(url, pki.caPem, user, { token }), { mode: 0o600 });
        return file;
      },
      stop() {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// --- certificates ------------------------------------------------------------------------------------------------

interface Pki {
  caCert: string;
  caKey: string;
  caPem: string;
  servingCert: string;
  servingKey: string;
  adminCertPem: string;
  adminKeyPem: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const detail = err as { code?: unknown; stderr?: unknown };
    if (detail.code === 'ENOENT') {
      throw new Error('openssl is not on PATH; install it (Debian: apt-get install openssl).', {
        cause: err,
      });
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${String(detail.stderr ?? err)}`, { cause: err });
  }
}

/** P-256 keys: generated in milliseconds, accepted by Go (kube-apiserver) and Node alike. */
const EC_KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function signWithCa(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
  ca: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const extFile = path.join(dir, `${name}.ext`);
  await writeFile(extFile, extensions.join('\n') + '\n');
  await openssl(['req', '-new', ...EC_KEY_ARGS, '-keyout', key, '-out', csr, '-subj', subject], dir);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2'].concat([
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      cert,
    ]),
    dir,
  );
  return { cert, key };
}

async function createPki(dir: string): Promise<Pki> {
  const caCert = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY_ARGS,
      '-keyout',
      caKey,
      '-out',
      caCert,
      '-days',
      '2',
      '-subj',
      '/CN=custody-test-ca',
    ],
    dir,
  );
  const ca = { cert: caCert, key: caKey };
  const serving = await signWithCa(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      // 10.96.0.1 is the first address of the service range: the in-cluster `kubernetes` Service.
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,' +
        'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
    ],
    ca,
  );
  const admin = await signWithCa(dir, 'admin', '/O=system:masters/CN=custody-admin', clientExtensions(), ca);
  const serviceAccountKey = path.join(dir, 'service-account.key');
  const serviceAccountPublicKey = path.join(dir, 'service-account.pub');
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', serviceAccountKey],
    dir,
  );
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPublicKey], dir);
  return {
    caCert,
    caKey,
    caPem: readFileSync(caCert, 'utf8'),
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCertPem: readFileSync(admin.cert, 'utf8'),
    adminKeyPem: readFileSync(admin.key, 'utf8'),
    serviceAccountKey,
    serviceAccountPublicKey,
  };
}

function clientExtensions(): string[] {
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ];
}

let clientCertificateCounter = 0;

async function issueClientCertificate(
  dir: string,
  pki: Pki,
  identity: KubeIdentity,
): Promise<{ cert: string; key: string }> {
  if (!identity.user.trim()) throw new Error('createUserKubeconfig needs a non-empty user name');
  // Kubernetes reads the user from CN and each group from an O entry.
  const subject = [...(identity.groups ?? []).map((group) => `/O=${escapeSubject(group)}`)]
    .concat(`/CN=${escapeSubject(identity.user)}`)
    .join('');
  const name = `user-${safeFileName(identity.user)}-${++clientCertificateCounter}`;
  const files = await signWithCa(dir, name, subject, clientExtensions(), {
    cert: pki.caCert,
    key: pki.caKey,
  });
  const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
  return { cert, key };
}

/** openssl -subj uses `/` and `=` as separators and `+` for multi-valued RDNs: escape them in values. */
function escapeSubject(value: string): string {
  return value.replace(/([/=+\\])/g, '\\$1');
}

function safeFileName(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_');
}

// --- kubeconfig --------------------------------------------------------------------------------------------------

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function kubeconfigYaml(
  server: string,
  caPem: string,
  userName: string,
  credentials: { cert: string; key: string } | { token: string },
): string {
  const user =
    'token' in credentials
      ? { token: credentials.token }
      : { 'client-certificate-data': base64(credentials.cert), 'client-key-data': base64(credentials.key) };
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER_NAME, cluster: { server, 'certificate-authority-data': base64(caPem) } }],
    users: [{ name: userName, user }],
    contexts: [{ name: `${userName}@${CLUSTER_NAME}`, context: { cluster: CLUSTER_NAME, user: userName } }],
    'current-context': `${userName}@${CLUSTER_NAME}`,
  });
}

// --- processes ---------------------------------------------------------------------------------------------------

interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Set once the process has exited (with its exit code or signal). */
  exit: string | undefined;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spawns `command` in its own process group, output to `logFile`, with a watchdog bound to `ownerPid`. */
function spawnManaged(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  ownerPid: number,
): ManagedProcess {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (${command}); see ${logFile}`);
  // Kills the group when the owner dies (even by SIGKILL, when no exit handler runs); exits by itself once the
  // server is gone, and stop() ends it at once.
  const watchdog = spawn(
    'bash',
    [
      '-c',
      `while kill -0 ${ownerPid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 0.5; done; ` +
        `kill -TERM -${pid} 2>/dev/null || exit 0; ` +
        `for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -${pid} 2>/dev/null || exit 0; sleep 0.5; done; ` +
        `kill -KILL -${pid} 2>/dev/null; exit 0`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  const watchdogPid = watchdog.pid;

  const managed: ManagedProcess = {
    name,
    pid,
    logFile,
    exit: undefined,
    async stop() {
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-pid, signal);
        } catch {
          /* already gone */
        }
      };
      if (managed.exit === undefined) {
        signalGroup('SIGTERM');
        for (let i = 0; i < 50 && managed.exit === undefined; i++) await sleep(100);
      }
      if (managed.exit === undefined) {
        signalGroup('SIGKILL');
        for (let i = 0; i < 20 && managed.exit === undefined; i++) await sleep(100);
      }
      if (watchdogPid !== undefined) {
        try {
          process.kill(watchdogPid, 'SIGKILL');
        } catch {
          /* it saw the server go and exited */
        }
      }
    },
  };
  child.on('exit', (code, signal) => {
    managed.exit = signal ?? `exit code ${String(code)}`;
  });
  return managed;
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitUntilReady(
  what: string,
  managed: ManagedProcess,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  lastAnswer: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (managed.exit !== undefined) {
      throw new Error(
        `${what} exited (${managed.exit}) before it was ready. Last log lines (${managed.logFile}):\n` +
          logTail(managed.logFile),
      );
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(150);
  }
  throw new Error(
    `${what} was not ready within ${timeoutMs} ms (last probe: ${lastAnswer() || String(lastError)}). ` +
      `Last log lines (${managed.logFile}):\n${logTail(managed.logFile)}`,
  );
}

interface HttpAnswer {
  status: number;
  body: string;
}

interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

function httpGet(url: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => collect(res, resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function httpsJson(method: 'GET' | 'POST', url: string, tls: ClientTls, body?: unknown): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const req = httpsRequest(url, { method, headers, ...tls, timeout: 5000 }, (res) =>
      collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function collect(
  res: IncomingMessage,
  resolve: (answer: HttpAnswer) => void,
  reject: (err: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('error', reject);
}

function tokenRequestToken(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { status?: { token?: unknown } };
    return typeof parsed.status?.token === 'string' ? parsed.status.token : undefined;
  } catch {
    return undefined;
  }
}
