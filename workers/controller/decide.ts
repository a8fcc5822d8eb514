/**
 * The capacity controller's decision, pure: from a pool's task-queue backlog and current replicas to the
 * replicas it should have, within the policy's min/max, step limits and per-direction cooldowns.
 *
 *   wanted   = clamp(ceil(backlog ÷ targetBacklogPerReplica), minReplicas, maxReplicas)
 *   up       : at most maxStepUp more, and not within scaleUpCooldownSeconds of the last scale-up
 *   down     : at most maxStepDown fewer, and not within scaleDownCooldownSeconds of the last change in
 *              either direction (or of becoming leader): new pods get to work off the backlog first
 *   outside min/max (someone scaled by hand): back to the nearest bound at once, no cooldown
 */
import type { PoolRules } from './capacity-policy';

export interface PoolHistory {
  /** When this controller last scaled the pool up (ms since epoch). */
  lastScaleUpAt?: number;
  /** When the pool last changed in either direction, or when this controller became leader (ms since epoch). */
  lastChangeAt?: number;
}

export type DecisionReason =
  'steady' | 'scale-up' | 'scale-down' | 'below-min' | 'above-max' | 'up-cooldown' | 'down-cooldown';

export interface Decision {
  /** The replicas to set; equal to current when nothing changes. */
  desired: number;
  /** What the backlog alone asks for, within min/max (before steps and cooldowns). */
  wanted: number;
  reason: DecisionReason;
  /** Seconds until a held change may happen (cooldown reasons only). */
  waitSeconds?: number;
}

export function decideReplicas(input: {
  rules: PoolRules;
  backlog: number;
  current: number;
  now: number;
  history: PoolHistory;
}): Decision {
  const { rules, backlog, current, now, history } = input;
  const wanted = Math.min(
    rules.maxReplicas,
    Math.max(rules.minReplicas, Math.ceil(Math.max(0, backlog) / rules.targetBacklogPerReplica)),
  );
  if (current < rules.minReplicas) return { desired: rules.minReplicas, wanted, reason: 'below-min' };
  if (current > rules.maxReplicas) return { desired: rules.maxReplicas, wanted, reason: 'above-max' };
  if (wanted === current) return { desired: current, wanted, reason: 'steady' };

  if (wanted > current) {
    const wait = remaining(history.lastScaleUpAt, rules.scaleUpCooldownSeconds, now);
    if (wait > 0) return { desired: current, wanted, reason: 'up-cooldown', waitSeconds: wait };
    return { desired: Math.min(wanted, current + rules.maxStepUp), wanted, reason: 'scale-up' };
  }
  const wait = remaining(history.lastChangeAt, rules.scaleDownCooldownSeconds, now);
  if (wait > 0) return { desired: current, wanted, reason: 'down-cooldown', waitSeconds: wait };
  return { desired: Math.max(wanted, current - rules.maxStepDown), wanted, reason: 'scale-down' };
}

/** Seconds left of a cooldown that started at `since` (0 when over or never started). */
function remaining(since: number | undefined, cooldownSeconds: number, now: number): number {
  if (since === undefined) return 0;
  const left = since + cooldownSeconds * 1000 - now;
  return left > 0 ? Math.ceil(left / 1000) : 0;
}

/** The history after applying `decision` at `now`. */
export function recordDecision(
  history: PoolHistory,
  current: number,
  desired: number,
  now: number,
): PoolHistory {
  if (desired === current) return history;
  return {
    ...history,
    lastChangeAt: now,
    ...(desired > current && { lastScaleUpAt: now }),
  };
}
