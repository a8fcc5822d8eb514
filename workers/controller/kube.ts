/**
 * The Kubernetes side of capacity: where the kubeconfig comes from, reading and patching a Deployment's scale
 * subresource, and turning the API server's refusals into errors that say what to change. A 403 becomes a
 * KubePermissionError naming the verb, resource, name and namespace and the Role rule that grants it.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type KubeConfigSource =
  { kubeConfig: k8s.KubeConfig; source: string } | { kubeConfig?: undefined; missing: string };

/**
 * The kubeconfig, as kubectl finds it: $KUBECONFIG (its first file), the pod's ServiceAccount when in a cluster,
 * else ~/.kube/config. `missing` says why there is none.
 */
export function resolveKubeConfig(
  env: Record<string, string | undefined>,
  home: string = os.homedir(),
): KubeConfigSource {
  const kubeConfig = new k8s.KubeConfig();
  const fromEnv = env.KUBECONFIG?.split(path.delimiter).find(Boolean);
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      return { missing: `KUBECONFIG names ${fromEnv}, which does not exist; fix KUBECONFIG or unset it` };
    }
    kubeConfig.loadFromFile(fromEnv);
    return { kubeConfig, source: fromEnv };
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kubeConfig.loadFromCluster();
    return { kubeConfig, source: 'in-cluster ServiceAccount' };
  }
  const fallback = path.join(home, '.kube', 'config');
  if (existsSync(fallback)) {
    kubeConfig.loadFromFile(fallback);
    return { kubeConfig, source: fallback };
  }
  return {
    missing:
      'no Kubernetes configuration: KUBECONFIG is not set, ~/.kube/config does not exist and this is not a pod; ' +
      'set KUBECONFIG to a kubeconfig file',
  };
}

/** What a request needed: enough to name the RBAC rule that allows it. */
export interface KubeAccess {
  verb: 'get' | 'patch' | 'create' | 'update';
  apiGroup: string;
  resource: string;
  subresource?: string;
  name: string;
  namespace: string;
}

export class KubePermissionError extends Error {
  override name = 'KubePermissionError';
  constructor(
    readonly access: KubeAccess,
    serverMessage: string,
  ) {
    super(
      `RBAC: the API server refused to ${access.verb} ${resourceName(access)} "${access.name}" in namespace ` +
        `${access.namespace} (${serverMessage}). Add this rule to the Role bound to this identity ` +
        `(helm/custody/templates/controller.yaml renders it): ${roleRule(access)}`,
    );
  }
}

/** Other failures of the Kubernetes API: unreachable, unknown object, conflicts. */
export class KubeRequestError extends Error {
  override name = 'KubeRequestError';
  constructor(
    readonly access: KubeAccess,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(
      `Kubernetes API: ${access.verb} ${resourceName(access)} "${access.name}" in namespace ${access.namespace} failed: ${detail}`,
    );
  }
}

function resourceName(access: KubeAccess): string {
  const group = access.apiGroup ? `.${access.apiGroup}` : '';
  return `${access.resource}${group}${access.subresource ? `/${access.subresource}` : ''}`;
}

/** The Role rule, as one YAML flow mapping, that allows `access`. */
export function roleRule(access: KubeAccess): string {
  const resource = access.subresource ? `${access.resource}/${access.subresource}` : access.resource;
  const names = access.verb === 'create' ? '' : `, resourceNames: [${access.name}]`;
  const note =
    access.verb === 'create' ? ' (RBAC cannot limit create by name, so this rule has no resourceNames)' : '';
  return `{apiGroups: [${JSON.stringify(access.apiGroup)}], resources: [${resource}]${names}, verbs: [${access.verb}]}${note}`;
}

/** The refusal's status code and message (client-node hands the Status body over as a string). */
export function apiFailure(err: unknown): { status?: number; message: string } {
  if (err instanceof k8s.ApiException) {
    const exception = err as k8s.ApiException<unknown>;
    let message = '';
    try {
      const body =
        typeof exception.body === 'string' ? (JSON.parse(exception.body) as unknown) : exception.body;
      message = (body as { message?: string } | undefined)?.message ?? '';
    } catch {
      message = String(exception.body);
    }
    return { status: exception.code, message: message || `HTTP ${exception.code}` };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

/** Runs one API call; a refusal becomes a KubePermissionError or KubeRequestError naming `access`. */
export async function kubeCall<T>(access: KubeAccess, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const failure = apiFailure(err);
    if (failure.status === 403) throw new KubePermissionError(access, failure.message);
    throw new KubeRequestError(access, failure.status, failure.message);
  }
}

export interface DeploymentScale {
  deployment: string;
  /** spec.replicas of the scale subresource: what the Deployment is asked to run. */
  desired: number;
  /** status.replicas: pods that exist now (0 until a controller-manager creates them). */
  current: number;
}

export interface ScaleClient {
  readScale(deployment: string): Promise<DeploymentScale>;
  /** Sets spec.replicas through the scale subresource (a merge patch) and returns the new scale. */
  patchScale(deployment: string, replicas: number): Promise<DeploymentScale>;
}

export function createScaleClient(
  kubeConfig: k8s.KubeConfig,
  namespace: string,
  fieldManager: string,
): ScaleClient {
  const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
  const access = (verb: KubeAccess['verb'], name: string): KubeAccess => ({
    verb,
    apiGroup: 'apps',
    resource: 'deployments',
    subresource: 'scale',
    name,
    namespace,
  });
  const toScale = (deployment: string, scale: k8s.V1Scale): DeploymentScale => ({
    deployment,
    desired: scale.spec?.replicas ?? 0,
    current: scale.status?.replicas ?? 0,
  });
  return {
    async readScale(deployment) {
      const scale = await kubeCall(access('get', deployment), () =>
        apps.readNamespacedDeploymentScale({ name: deployment, namespace }),
      );
      return toScale(deployment, scale);
    },
    async patchScale(deployment, replicas) {
      const scale = await kubeCall(access('patch', deployment), () =>
        apps.patchNamespacedDeploymentScale(
          { name: deployment, namespace, body: { spec: { replicas } }, fieldManager },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ),
      );
      return toScale(deployment, scale);
    },
  };
}
