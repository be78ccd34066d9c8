/**
 * The crash-loop guard's policy, pure: given the processing-attempts journal's entry for a partition and the
 * committed offset a task is about to process from, how to process (design §4: a record that keeps crashing the
 * whole process must not stop its partition for good, yet a crash of unknown cause must not lose a record).
 *
 * A process that dies before committing past the offset it began at leaves its journal entry standing. After
 * CRASHES_BEFORE_ISOLATION such deaths at that same offset, the next attempt suspects the records that transaction
 * covered and processes them one per transaction ("isolated"), journaling each offset before processing it and taking the attempt back once the
 * record was processed (a death in the commit that follows is not the record's doing). A record whose isolated
 * processing killed the process MAX_PROCESSING_ATTEMPTS times quarantines its partition (ON_PROCESS_CRASH=
 * quarantine, the default: a death of unknown cause must never lose a valid record), or is dead-lettered
 * (`processing-failed`) without another try when the operator opted in (ON_PROCESS_CRASH=dead-letter).
 *
 * `at` is always the offset of the first record to process, not the committed offset: when the committed offset
 * sits on a transaction marker the first record is past it, and the culprit must match the journal's offset.
 */
import type { OnProcessCrash } from '../config/variables.js';
import type { AttemptEntry } from './ports.js';

/** How often one record may break processing (throw, or kill the process when processed alone) before it is given up on. */
export const MAX_PROCESSING_ATTEMPTS = 3;

/**
 * Crashes at one committed offset, processing a whole transaction, before its records are processed one at a time.
 * Two: a restart costs seconds, while isolating a range costs some 10 ms per record and holds every other task of
 * the process (the isolation gate), so 5,000 records stall the process for about a minute. With one, a single
 * SIGKILL from an orchestrator that happened to land in a task's first transaction (right after an assignment, say)
 * set that off; a record that really kills the process now costs one restart more.
 */
export const CRASHES_BEFORE_ISOLATION = 2;

/**
 * The most records a task's first transaction covers, whatever COMMIT_MAX_RECORDS allows. It is the one
 * transaction the guard journals, so its range is the most a crash makes the next attempt process one record per
 * transaction: 5,000 records isolated take tens of seconds, while later transactions, never suspected, may be as
 * large as a second's backlog (design §10).
 */
export const SUSPECT_RANGE_MAX_RECORDS = 5_000;

export type AttemptPlan =
  /** Transactions as large as configured. */
  | { readonly mode: 'normal' }
  /** One record per transaction until the committed offset reaches `until`; `crashes`: of the record at hand, alone. */
  | { readonly mode: 'isolated'; readonly until: bigint; readonly crashes: number }
  /** The record at `at` crashed the process `crashes` times alone: pause the partition there, process nothing. */
  | { readonly mode: 'quarantine'; readonly until: bigint; readonly crashes: number }
  /** The same, with ON_PROCESS_CRASH=dead-letter: dead-letter the record, unprocessed. */
  | { readonly mode: 'dead-letter'; readonly until: bigint; readonly crashes: number };

/** What becomes of a record that crashed the process MAX_PROCESSING_ATTEMPTS times alone (ON_PROCESS_CRASH). */
export type { OnProcessCrash };

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** How to process from the record at `at`, given the journal's current entry for the partition. */
export function planAttempt(
  last: AttemptEntry | undefined,
  at: bigint,
  onCrash: OnProcessCrash = 'quarantine',
): AttemptPlan {
  if (!last) return { mode: 'normal' };
  if (last.offset === at && last.isolated) {
    const until = max(last.isolateUntil, at + 1n);
    return last.attempts >= MAX_PROCESSING_ATTEMPTS
      ? { mode: onCrash, until, crashes: last.attempts }
      : { mode: 'isolated', until, crashes: last.attempts };
  }
  if (last.offset === at && last.attempts >= CRASHES_BEFORE_ISOLATION) {
    return { mode: 'isolated', until: max(last.isolateUntil, at + 1n), crashes: 0 };
  }
  // Isolation that made progress goes on to the end of the suspected range.
  if (last.isolated && last.offset < at && at < last.isolateUntil) {
    return { mode: 'isolated', until: last.isolateUntil, crashes: 0 };
  }
  return { mode: 'normal' };
}

/**
 * The entry to journal, awaited, before processing from `at` under `plan`; `end` is the exclusive end of the
 * input the attempt's first transaction covers. Undefined: nothing to journal (a record given up on is not processed).
 */
export function attemptEntry(
  last: AttemptEntry | undefined,
  at: bigint,
  plan: AttemptPlan,
  end: bigint,
): AttemptEntry | undefined {
  const again = last?.offset === at;
  switch (plan.mode) {
    case 'quarantine':
    case 'dead-letter':
      return undefined;
    case 'isolated':
      return { offset: at, attempts: plan.crashes + 1, isolated: true, isolateUntil: plan.until };
    case 'normal':
      return {
        offset: at,
        attempts: again && !last.isolated ? last.attempts + 1 : 1,
        isolated: false,
        isolateUntil: again ? max(last.isolateUntil, end) : end,
      };
  }
}
