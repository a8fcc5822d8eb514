/**
 * The custody API's public keys, as this worker was built with them: workers/assertion-keys.ts writes them into
 * the workflow bundle (a webpack define), because a validator must decide synchronously and may read neither the
 * environment nor an activity. A bundle built without keys trusts none, and every person's action is refused.
 * Keys change with a worker restart; validators do not run on replay, so history never depends on them.
 */
import type { TrustedAssertionKey } from '../domain/assertion';

declare const __CUSTODY_ASSERTION_KEYS__: readonly TrustedAssertionKey[] | undefined;

export function trustedAssertionKeys(): readonly TrustedAssertionKey[] {
  return typeof __CUSTODY_ASSERTION_KEYS__ === 'undefined' ? [] : __CUSTODY_ASSERTION_KEYS__;
}
