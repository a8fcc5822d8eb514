/**
 * How a worker's workflow bundle is made: the custody API's public keys built in (workflows/trust.ts reads them),
 * because an Update validator may read neither the environment nor an activity.
 */
import type { BundleOptions } from '@temporalio/worker';
import { DefinePlugin } from 'webpack';
import type { TrustedAssertionKey } from '../domain/assertion';

/** The bundler hook that builds `keys` into the workflow code (read by workflows/trust.ts). */
export function trustedKeysBundlerHook(
  keys: readonly TrustedAssertionKey[],
): NonNullable<BundleOptions['webpackConfigHook']> {
  return (config) => ({
    ...config,
    plugins: [
      ...(config.plugins ?? []),
      new DefinePlugin({ __CUSTODY_ASSERTION_KEYS__: JSON.stringify(keys) }),
    ],
  });
}
