/**
 * Leader election on one coordination.k8s.io/v1 Lease, after client-go's leaderelection: a replica acquires
 * the Lease when it is free or expired, renews it while it leads, respects another holder until
 * leaseDurationSeconds have passed without a renewal (measured on this replica's own clock, from when it saw
 * the record change, so clock skew between nodes does not matter), and releases it on shutdown so a standby
 * takes over at once. Every write carries the resourceVersion it read: two replicas racing for the same
 * expired Lease cannot both win (the loser gets a 409 Conflict).
 */
import * as k8s from '@kubernetes/client-node';
import { kubeCall, KubeRequestError, type KubeAccess } from './kube';

export interface LeaseOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  /** A leader that could not renew for this long stops acting (below leaseDurationSeconds). */
  renewDeadlineSeconds: number;
  now?: () => number;
}

export interface LeaseState {
  leader: boolean;
  /** The holder as last read (may be this replica). */
  holder?: string;
}

export interface LeaderElector {
  /** One attempt to acquire or renew; throws KubePermissionError / KubeRequestError on API failures. */
  tryAcquireOrRenew(): Promise<LeaseState>;
  /** True while this replica holds an unexpired Lease it renewed within renewDeadlineSeconds. */
  isLeader(): boolean;
  /** Gives the Lease up if held (holder cleared), so another replica need not wait for it to expire. */
  release(): Promise<void>;
}

export function createLeaderElector(opts: LeaseOptions): LeaderElector {
  const api = opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const now = opts.now ?? Date.now;
  const { namespace, name, identity } = opts;
  const access = (verb: KubeAccess['verb']): KubeAccess => ({
    verb,
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    name,
    namespace,
  });
  /** The record as last seen, and when (our clock) it last changed. */
  let observed: { holder: string; renewTime: string; resourceVersion: string } | undefined;
  let observedAt = 0;
  let lastRenewedAt: number | undefined;

  // MicroTime must be sent with 6 fractional digits; client-node's V1MicroTime serialises that way.
  const microNow = () => new k8s.V1MicroTime(now());

  async function read(): Promise<k8s.V1Lease | undefined> {
    try {
      return await kubeCall(access('get'), () => api.readNamespacedLease({ name, namespace }));
    } catch (err) {
      if (err instanceof KubeRequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  function observe(lease: k8s.V1Lease) {
    const record = {
      holder: lease.spec?.holderIdentity ?? '',
      renewTime: String(lease.spec?.renewTime ?? ''),
      resourceVersion: lease.metadata?.resourceVersion ?? '',
    };
    if (!observed || observed.holder !== record.holder || observed.renewTime !== record.renewTime) {
      observedAt = now();
    }
    observed = record;
  }

  async function write(verb: 'create' | 'update', lease: k8s.V1Lease): Promise<boolean> {
    try {
      const stored = await kubeCall(access(verb), () =>
        verb === 'create'
          ? api.createNamespacedLease({ namespace, body: lease })
          : api.replaceNamespacedLease({ name, namespace, body: lease }),
      );
      observe(stored);
      return true;
    } catch (err) {
      // Conflict (someone else wrote first) or AlreadyExists: not ours this round.
      if (err instanceof KubeRequestError && err.status === 409) return false;
      throw err;
    }
  }

  const elector: LeaderElector = {
    async tryAcquireOrRenew() {
      const lease = await read();
      const at = now();
      if (!lease) {
        const created = await write('create', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: opts.leaseDurationSeconds,
            acquireTime: microNow(),
            renewTime: microNow(),
            leaseTransitions: 0,
          },
        });
        if (created) lastRenewedAt = at;
        return { leader: created, holder: observed?.holder };
      }
      observe(lease);
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const duration = (spec.leaseDurationSeconds ?? opts.leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && observedAt + duration > at) {
        lastRenewedAt = undefined;
        return { leader: false, holder };
      }
      const renewed = await write('update', {
        ...withoutManagedFields(lease),
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: opts.leaseDurationSeconds,
          renewTime: microNow(),
          // Taking over (from another holder or an empty one) starts a new term.
          ...(holder !== identity && {
            acquireTime: microNow(),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (holder ? 1 : 0),
          }),
        },
      });
      if (renewed) lastRenewedAt = at;
      else lastRenewedAt = undefined;
      return { leader: renewed, holder: observed?.holder };
    },
    isLeader() {
      return lastRenewedAt !== undefined && now() - lastRenewedAt < opts.renewDeadlineSeconds * 1000;
    },
    async release() {
      if (!elector.isLeader()) return;
      lastRenewedAt = undefined;
      const lease = await read();
      if (!lease || lease.spec?.holderIdentity !== identity) return;
      // An empty holder and a 1 s duration: the next replica's attempt takes it at once.
      await write('update', {
        ...withoutManagedFields(lease),
        spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microNow() },
      });
    },
  };
  return elector;
}

/** The Lease as read, minus managedFields (a replace that sends them back would overwrite the server's). */
function withoutManagedFields(lease: k8s.V1Lease): k8s.V1Lease {
  const { managedFields: _managedFields, ...metadata } = lease.metadata ?? {};
  return { ...lease, metadata };
}
