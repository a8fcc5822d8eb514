/** Looks up a rule pack for a workflow: the few fields a deadline needs, plus what identifies the exact rules. */
import { ApplicationFailure } from '@temporalio/common';
import { loadRulePacks, RulePackError, type RulePackRegistry } from './policy/load';
import type { RulePackRef } from '../domain/types';

export function toRulePackRef(pack: {
  id: string;
  version: number;
  fingerprint: string;
  citation?: string | undefined;
  retention: string;
}): RulePackRef {
  return {
    id: pack.id,
    version: pack.version,
    fingerprint: pack.fingerprint,
    retention: pack.retention,
    ...(pack.citation && { citation: pack.citation }),
  };
}

export function makeResolveRulePack(deps: { policyDir: string }) {
  let registry: Promise<RulePackRegistry> | undefined;
  return async function resolveRulePack(id: string): Promise<RulePackRef> {
    registry ??= loadRulePacks(deps.policyDir);
    try {
      return toRulePackRef((await registry).getPack(id));
    } catch (err) {
      registry = undefined; // a fixed policy directory is picked up by the next attempt
      if (err instanceof RulePackError) throw ApplicationFailure.nonRetryable(err.message, 'UnknownRulePack');
      throw err;
    }
  };
}
