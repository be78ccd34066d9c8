/**
 * The crash-loop guard's mechanism for one task: reads the partition's processing-attempts journal entry, journals
 * each attempt before it processes (the policy in attempt-policy.ts decides how), and takes an attempt back when
 * the task closes without having crashed. The task owns the transaction; this only tells it how to cut its chunks
 * and which record to dead-letter.
 */
import type { Logger } from 'pino';
import { attemptEntry, planAttempt, type AttemptPlan } from './attempt-policy.js';
import type { AttemptEntry, AttemptJournalPort } from './ports.js';

interface Armed {
  at: bigint;
  plan: AttemptPlan;
  /** The journal's entry before this arm: what a clean close writes back. */
  before: AttemptEntry | undefined;
}

export class AttemptGuard {
  /** The journal's entry for the partition, as far as this task knows: read once, then its own writes. */
  private last: AttemptEntry | undefined;
  private loaded = false;
  /** This task's latest journaled attempt. */
  private armed: Armed | undefined;

  constructor(
    private readonly journal: AttemptJournalPort,
    private readonly partition: number,
    private readonly log: Logger,
  ) {}

  /** Once per task: its re-initializations after a failure in this same process know what it wrote itself. */
  async load(): Promise<void> {
    if (this.loaded) return;
    this.last = await this.journal.read(this.partition);
    this.loaded = true;
  }

  /** How records from committed offset `at` are to be processed. */
  planAt(at: bigint): AttemptPlan {
    return this.armed?.at === at ? this.armed.plan : planAttempt(this.last, at);
  }

  /**
   * Before processing from `at` (a transaction covering up to `end`): journals the attempt when it must be, and
   * says how to process. A normal attempt is journaled once per task, at its first transaction: a process that
   * dies after committing past that offset shows at its restart as an attempt at a new offset. Isolated records
   * are journaled one by one. A retry within this task at the same offset is the same attempt.
   */
  async arm(at: bigint, end: bigint): Promise<AttemptPlan> {
    if (this.armed?.at === at) return this.armed.plan;
    const plan = planAttempt(this.last, at);
    if (plan.mode === 'normal' && this.armed) return plan;
    const entry = attemptEntry(this.last, at, plan, end);
    if (entry) await this.journal.write(this.partition, entry);
    // Logged when isolation starts or resumes in this task, and at every crash it counts; not per record.
    if (plan.mode !== 'normal' && (!this.armed || plan.crashes > 0 || this.last?.offset === at)) {
      this.log.warn(
        { offset: at.toString(), until: plan.until.toString(), crashes: plan.crashes, mode: plan.mode },
        plan.mode === 'dead-letter'
          ? 'record crashed the process each time it was processed alone: dead-lettering it'
          : 'an earlier attempt died in this range: processing one record per transaction to find the culprit',
      );
    }
    this.armed = { at, plan, before: this.last };
    if (entry) this.last = entry;
    return plan;
  }

  /**
   * The task closes with `nextOffset` committed: an attempt that did not get past its offset did not crash, so
   * it is taken back (a rebalance or a clean stop must not count). Best effort: a failure only over-counts.
   */
  async release(nextOffset: bigint): Promise<void> {
    const armed = this.armed;
    this.armed = undefined;
    if (!armed || nextOffset > armed.at || this.last === armed.before) return;
    try {
      await this.journal.write(this.partition, armed.before ?? null);
      this.last = armed.before;
    } catch (error) {
      this.log.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not take back an attempt in the processing-attempts journal; it counts as a crash',
      );
    }
  }
}
