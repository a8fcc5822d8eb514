/**
 * Shared pieces of the platform tests: the real tools (helm, kubeconform, kustomize, promtool) run as child
 * processes, the chart's value sets, and a small Kubernetes API client that sends manifests exactly as rendered
 * (client-node's typed serializer would silently drop unknown fields, which is what these tests look for).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeToolsDir } from '../../harness/kube';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'custody');
export const K8S_BASE_FILE = path.join(REPO_ROOT, 'k8s', 'base', 'generated', 'custody.yaml');
export const OVERLAY_DIR = path.join(REPO_ROOT, 'k8s', 'overlays', 'example');
/** The release and namespace k8s/base is rendered with (scripts/render-k8s.sh). */
export const RELEASE = 'custody';
export const NAMESPACE = 'custody';

const KUBE_TOOLS_HINT =
  'Run `bash scripts/install-kube-tools.sh` (builds helm, kubeconform, kube-apiserver and etcd).';
const INSTALL_HINTS: Record<string, string> = {
  helm: KUBE_TOOLS_HINT,
  kubeconform: KUBE_TOOLS_HINT,
  'kubeconform-offline': `${KUBE_TOOLS_HINT} It also writes the offline schemas and this wrapper.`,
  kustomize:
    'Run `bash scripts/install-kube-tools.sh` once it installs kustomize; until then: ' +
    'GOBIN=$PWD/.tools/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2',
  promtool:
    'Run `bash scripts/install-tools.sh` (installs Debian prometheus, which has promtool) or `apt-get install prometheus`.',
};

/** The path of a tool from .tools/bin (or PATH for promtool), or an error that says how to install it. */
export function requireTool(name: keyof typeof INSTALL_HINTS): string {
  if (name === 'promtool') {
    const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
    throw new Error(`promtool is not on PATH. ${INSTALL_HINTS.promtool}`);
  }
  const binary = path.join(kubeToolsDir(), 'bin', name);
  if (!existsSync(binary)) throw new Error(`${name} is not installed at ${binary}. ${INSTALL_HINTS[name]}`);
  return binary;
}

/** Whether a tool is installed, for setup that prepares input of a test which then calls requireTool itself. */
export function hasTool(name: keyof typeof INSTALL_HINTS): boolean {
  try {
    requireTool(name);
    return true;
  } catch {
    return false;
  }
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): RunResult {
  const result = spawnSync(command, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    input: options.input,
    env: options.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command that must succeed; its output is in the error when it does not. */
export function runOk(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(
      `${path.basename(command)} ${args.join(' ')} exited with ${result.status}\n${result.stderr}\n${result.stdout}`,
    );
  }
  return result.stdout;
}

export interface ValueSet {
  name: string;
  /** Values files relative to the repository root. */
  files: string[];
}

export const VALUE_SETS: ValueSet[] = [
  { name: 'default', files: [] },
  { name: 'all-features', files: ['helm/custody/ci/all-features-values.yaml'] },
  { name: 'hpa', files: ['helm/custody/ci/hpa-values.yaml'] },
];

export function valuesArgs(files: string[]): string[] {
  return files.flatMap((file) => ['--values', path.join(REPO_ROOT, file)]);
}

/** `helm template` of the chart, as scripts/render-k8s.sh runs it. */
export function helmTemplate(files: string[], extraArgs: string[] = []): string {
  return runOk(requireTool('helm'), [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    ...valuesArgs(files),
    ...extraArgs,
  ]);
}

/** `kustomize build` of an overlay folder. */
export function kustomizeBuild(dir: string): string {
  return runOk(requireTool('kustomize'), ['build', dir]);
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** Every object of a multi-document YAML stream (empty documents skipped); YAML errors fail loudly. */
export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length)
      throw new Error(`invalid YAML in rendered manifests: ${document.errors[0]?.message}`);
    const value = document.toJS() as KubeObject | null;
    if (value === null) continue;
    if (!value.apiVersion || !value.kind || !value.metadata?.name) {
      throw new Error(
        `a rendered document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`,
      );
    }
    objects.push(value);
  }
  return objects;
}

export function objectsOfKind<T = KubeObject>(objects: KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function nameOf(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

export function readText(relativePath: string): string {
  return readFileSync(path.join(REPO_ROOT, relativePath), 'utf8');
}

// --- a raw Kubernetes API client ----------------------------------------------------------------------------------

export interface ApiAnswer {
  status: number;
  body: string;
  /** The API server's `Warning` headers (Pod Security, deprecations). */
  warnings: string[];
  json<T = Record<string, unknown>>(): T;
}

/** The text of one `Warning: 299 - "..."` header value (RFC 7234 quoting undone). */
function warningText(value: string): string {
  const quoted = /^\s*\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(value);
  return quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : value.trim();
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** Talks to the API server with a kubeconfig's credentials and sends bodies byte for byte. */
export class RawKubeClient {
  private readonly server: string;
  private readonly resources = new Map<string, Map<string, ResourceInfo>>();

  private constructor(
    private readonly config: k8s.KubeConfig,
    private readonly tls: RequestOptions,
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = cluster.server;
  }

  static async fromKubeconfig(kubeconfigPath: string): Promise<RawKubeClient> {
    const config = new k8s.KubeConfig();
    config.loadFromFile(kubeconfigPath);
    const tls: RequestOptions = {};
    await config.applyToHTTPSOptions(tls);
    return new RawKubeClient(config, tls);
  }

  request(
    method: string,
    urlPath: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiAnswer> {
    const url = new URL(urlPath, this.server);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          ...this.tls,
          method,
          headers: {
            ...(this.tls.headers ?? {}),
            accept: 'application/json',
            ...(payload !== undefined && {
              'content-type': contentType,
              'content-length': Buffer.byteLength(payload),
            }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const header: unknown = res.headers.warning;
            const headerValues =
              typeof header === 'string' ? [header] : Array.isArray(header) ? header.map(String) : [];
            const warnings = headerValues.flatMap((w) => w.split(/,(?=\s*\d{3} )/).map(warningText));
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              warnings,
              json: <T>() => JSON.parse(text) as T,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** The REST path of an object's kind (discovery is cached per group/version). */
  async pathOf(object: KubeObject, namespace?: string): Promise<string> {
    const groupVersion = object.apiVersion;
    let kinds = this.resources.get(groupVersion);
    if (!kinds) {
      const discovery = await this.request(
        'GET',
        groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`,
      );
      if (discovery.status !== 200) {
        throw new Error(
          `the API server does not serve ${groupVersion} (${discovery.status}): is its CRD installed?`,
        );
      }
      kinds = new Map();
      for (const resource of discovery.json<{
        resources: { name: string; kind: string; namespaced: boolean }[];
      }>().resources) {
        if (!resource.name.includes('/'))
          kinds.set(resource.kind, { plural: resource.name, namespaced: resource.namespaced });
      }
      this.resources.set(groupVersion, kinds);
    }
    const info = kinds.get(object.kind);
    if (!info) throw new Error(`the API server has no kind ${object.kind} in ${groupVersion}`);
    const prefix = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    const ns = namespace ?? object.metadata.namespace;
    if (info.namespaced && !ns) throw new Error(`${nameOf(object)} is namespaced but has no namespace`);
    const scope = info.namespaced ? `/namespaces/${encodeURIComponent(ns!)}` : '';
    return `${prefix}${scope}/${info.plural}/${encodeURIComponent(object.metadata.name)}`;
  }

  /** Server-side apply with strict field validation; `dryRun` stores nothing. */
  async apply(object: KubeObject, options: { dryRun: boolean; namespace?: string }): Promise<ApiAnswer> {
    const body = options.namespace
      ? { ...object, metadata: { ...object.metadata, namespace: options.namespace } }
      : object;
    const query = new URLSearchParams({
      fieldManager: 'custody-platform-test',
      force: 'true',
      fieldValidation: 'Strict',
    });
    if (options.dryRun) query.set('dryRun', 'All');
    return this.request(
      'PATCH',
      `${await this.pathOf(body, options.namespace)}?${query.toString()}`,
      body,
      'application/apply-patch+yaml',
    );
  }
}
