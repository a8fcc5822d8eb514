/**
 * Resolves the rule pack a policy-change request names, from this worker's own policy store: the requester sends
 * only the pack's id and the fingerprint they saw, never the rules. A different fingerprint (the pack changed, or
 * the requester was shown another) and the demo pack outside dev mode are refused with the reason.
 */
import { loadRulePacks, RulePackError } from './policy/load';
import { toRulePackRef } from './resolve-rule-pack';
import type { RulePackRef } from '../domain/types';

export type PolicyChangeResolution = { ok: true; pack: RulePackRef } | { ok: false; reason: string };

export function makeResolvePolicyChange(deps: { policyDir: string; devMode: boolean }) {
  return async function resolvePolicyChange(request: {
    packId: string;
    fingerprint: string;
  }): Promise<PolicyChangeResolution> {
    let pack;
    try {
      pack = (await loadRulePacks(deps.policyDir)).getPack(request.packId);
    } catch (err) {
      if (err instanceof RulePackError) return { ok: false, reason: err.message };
      throw err;
    }
    if (pack.kind === 'demo' && !deps.devMode) {
      return {
        ok: false,
        reason: `rule pack ${pack.id} is a demo pack (minutes, not statute): this deployment is not in dev mode (CUSTODY_DEV_MODE)`,
      };
    }
    if (pack.fingerprint !== request.fingerprint) {
      return {
        ok: false,
        reason:
          `rule pack ${pack.id} has fingerprint ${pack.fingerprint} here, not ${request.fingerprint}: the pack ` +
          'changed since it was shown to the requester, or they saw another one — request it again',
      };
    }
    return { ok: true, pack: toRulePackRef(pack) };
  };
}
