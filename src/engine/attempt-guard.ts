/**
 * The crash-loop guard's mechanism for one task: reads the partition's processing-attempts journal entry, journals
 * each attempt before it processes (the policy in attempt-policy.ts decides how), and takes an attempt back when
 * it did not end in a crash: an isolated record that was processed (whatever kills the process afterwards, in the
 * commit, is not the record's doing), or a task that closes without having got past it. The task owns the
 * transaction; this only tells it how to cut its chunks and which record to give up on.
 */
import type { Logger } from 'pino';
import { attemptEntry, planAttempt, type AttemptPlan, type OnProcessCrash } from './attempt-policy.js';
import type { AttemptJournalPort, AttemptStamp, JournaledAttempt } from './ports.js';
import { errorMessage } from '../errors/message.js';

interface Armed {
  at: bigint;
  plan: AttemptPlan;
  /** The journal's entry before this arm: what a release writes back. */
  before: JournaledAttempt | undefined;
  /** This arm's entry, while it stands in the journal (undefined: nothing journaled, or taken back). */
  stamp: AttemptStamp | undefined;
}

export interface AttemptGuardOptions {
  /** This task incarnation, unique across processes: entries are stamped with it. */
  owner: string;
  onCrash: OnProcessCrash;
}

export class AttemptGuard {
  /** The journal's entry for the partition, as far as this task knows: read once, then its own writes. */
  private last: JournaledAttempt | undefined;
  private loaded = false;
  /** This task's latest attempt. */
  private armed: Armed | undefined;
  private seq = 0;

  constructor(
    private readonly journal: AttemptJournalPort,
    private readonly partition: number,
    private readonly log: Logger,
    private readonly options: AttemptGuardOptions,
  ) {}

  /** Once per task: its re-initializations after a failure in this same process know what it wrote itself. */
  async load(): Promise<void> {
    if (this.loaded) return;
    this.last = await this.journal.read(this.partition);
    this.loaded = true;
  }

  /** How records from the record at `at` (the first one past the committed offset) are to be processed. */
  planAt(at: bigint): AttemptPlan {
    return this.armed?.at === at ? this.armed.plan : planAttempt(this.last?.entry, at, this.options.onCrash);
  }

  /**
   * Whether `arm(at, ...)` would write nothing and change nothing: this task has armed an attempt, and the plan
   * for the record at `at` is normal.
   * Records from `at` on may then be processed without awaiting it, as they are fetched (design §24).
   */
  isArmedAt(at: bigint): boolean {
    return this.armed !== undefined && this.planAt(at).mode === 'normal';
  }

  /**
   * Whether this task's journaled attempt is behind the committed offset `nextOffset`: no later transaction is
   * journaled, so a crash in one never makes the next attempt suspect its records.
   */
  isBehind(nextOffset: bigint): boolean {
    return this.armed !== undefined && nextOffset > this.armed.at;
  }

  /**
   * Before processing from the record at `at` (a transaction covering up to `end`): journals the attempt when
   * it must be, and says how to process. A normal attempt is journaled once per task, at its first transaction:
   * a process that dies after committing past that offset shows at its restart as an attempt at a new offset.
   * Isolated records are journaled one by one. A retry within this task at the same offset is the same attempt,
   * journaled again only if it was taken back meanwhile.
   */
  async arm(at: bigint, end: bigint): Promise<AttemptPlan> {
    const armed = this.armed;
    if (armed?.at === at && (armed.stamp || armed.plan.mode === 'normal')) return armed.plan;
    const again = armed?.at === at;
    const plan = again ? armed.plan : planAttempt(this.last?.entry, at, this.options.onCrash);
    if (plan.mode === 'normal' && armed && !again) return plan;
    const entry = attemptEntry(this.last?.entry, at, plan, end);
    const stamp = entry ? { owner: this.options.owner, seq: (this.seq += 1) } : undefined;
    if (entry) await this.journal.write(this.partition, { entry, stamp });
    if (!again) this.logPlan(at, plan, armed);
    this.armed = { at, plan, before: this.last, stamp };
    if (entry) this.last = { entry, stamp };
    return plan;
  }

  /**
   * The isolated record at `at` was processed without killing the process: its attempt is taken back before the
   * transaction is sent, so a death in the commit (an orchestrator's kill, a timeout's exit) counts no crash.
   */
  async processed(at: bigint): Promise<void> {
    const armed = this.armed;
    const entry = this.last?.entry;
    if (armed?.at !== at || armed.plan.mode !== 'isolated' || !armed.stamp || entry?.offset !== at) return;
    // Not the entry before the arm: the rest of the suspected range must stay isolated, the crash count stays.
    const survived = { entry: { ...entry, attempts: armed.plan.crashes }, stamp: armed.stamp };
    await this.takeBack(armed, survived, 'after processing the record alone');
  }

  /**
   * The task closes (or the process is about to exit) with `nextOffset` committed: an attempt that did not get
   * past its offset did not crash, so it is taken back (a rebalance, a stop, a fatal error elsewhere must not
   * count). Best effort: a failure only over-counts, and over-counting quarantines, it loses nothing.
   */
  async release(nextOffset: bigint): Promise<void> {
    const armed = this.armed;
    this.armed = undefined;
    if (!armed || nextOffset > armed.at) return;
    await this.takeBack(armed, armed.before, 'at close');
  }

  private async takeBack(armed: Armed, restore: JournaledAttempt | undefined, when: string): Promise<void> {
    const stamp = armed.stamp;
    if (!stamp) return;
    armed.stamp = undefined;
    try {
      await this.journal.release(this.partition, stamp, restore);
      this.last = restore;
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error), when },
        'could not take back an attempt in the processing-attempts journal; it counts as a crash',
      );
    }
  }

  private logPlan(at: bigint, plan: AttemptPlan, previous: Armed | undefined): void {
    if (plan.mode === 'normal') return;
    const fields = {
      partition: this.partition,
      offset: at.toString(),
      until: plan.until.toString(),
      crashes: plan.crashes,
      mode: plan.mode,
    };
    // The task logs a quarantine, however it finds it.
    if (plan.mode === 'quarantine') return;
    // Logged when isolation starts or resumes in this task, and at every crash it counts; not per record.
    if (!previous || plan.crashes > 0 || this.last?.entry.offset === at) {
      this.log.warn(
        fields,
        plan.mode === 'dead-letter'
          ? 'record crashed the process each time it was processed alone: dead-lettering it'
          : 'an earlier attempt died in this range: processing one record per transaction to find the culprit',
      );
    }
  }
}
