import type { ErrorKind } from '../errors/errors.js';

/**
 * What to do after a failure, decided without doing it: the engine acts on the decision, so the policy can be
 * tested as a plain function and the mechanism has no opinions. Randomness is passed in for the same reason.
 */
export type Decision = { readonly action: 'retry'; readonly backoffMs: number } | { readonly action: 'fail' };

export interface BackoffPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * Retriable failures never give up here: nothing may be skipped, so persistence is the circuit breaker's business
 * (it pauses the partition), not a reason to fail or dead-letter.
 */
export function decide(
  kind: ErrorKind,
  retryCount: number,
  policy: BackoffPolicy,
  random: () => number,
): Decision {
  switch (kind) {
    // One action for both: every retry starts from the assignment steps (a new producer, the committed offset
    // re-read, state restored), which is exactly what a fenced task needs. Backing off after a fence too keeps a
    // task fenced again and again (two owners during a slow rebalance) from hammering the coordinator.
    case 'retriable':
    case 'fenced':
      return { action: 'retry', backoffMs: backoffMs(retryCount, policy, random) };
    case 'fatal':
    case 'config':
      return { action: 'fail' };
  }
}

/**
 * Exponential in the retry count (consecutive failures) from initialBackoffMs (retry count 1), capped at maxBackoffMs, with "equal jitter": half the delay is
 * fixed and half random. The fixed half means a retry never follows at once; the random half keeps
 * the tasks of one instance, which usually fail together, from retrying in lockstep.
 * The result is a whole number of milliseconds, at least 1.
 */
export function backoffMs(retryCount: number, policy: BackoffPolicy, random: () => number): number {
  const steps = Number.isFinite(retryCount) ? Math.max(0, Math.floor(retryCount) - 1) : 0;
  const initialMs = Math.max(1, policy.initialBackoffMs);
  const maxMs = Math.max(initialMs, policy.maxBackoffMs);
  // 2 ** steps is Infinity for huge retry counts; min() then yields the cap, never NaN.
  const cappedMs = Math.min(maxMs, initialMs * 2 ** steps);
  const half = cappedMs / 2;
  const jitter = clampUnit(random());
  return Math.max(1, Math.round(half + jitter * half));
}

/** Guards against a random source outside [0, 1), so a bad stub cannot exceed the cap or go negative. */
function clampUnit(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
