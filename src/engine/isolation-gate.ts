/**
 * One process runs several partitions' tasks, and a record that kills the process kills all of them. A record
 * processed alone ("isolated") stands in the processing-attempts journal from before it is processed until it is
 * taken back; a death in that window counts as a crash of that record. If another task processed records in that
 * window, its record's death would count against the isolated one, and three such coincidences would quarantine a
 * valid record (design §15). The gate closes that window: a task isolating a record holds it from before the
 * journal write until the attempt is taken back, and no other task processes a record while it is held.
 *
 * Processing is synchronous, so "no other task processes" only needs each task to look at the gate right before
 * it processes, in the same synchronous run: `waitOpen` then process, with no await in between.
 */

/** Leaves the gate: the next task waiting to hold it does, or it opens. */
export type LeaveGate = () => void;

export interface IsolationGate {
  /** Holds the gate for `partition`, after whoever holds it or waits before; resolves with how to leave it. */
  hold(partition: number): Promise<LeaveGate>;
  /** Settles when the gate is not held by another partition's task. Process synchronously right after. */
  waitOpen(partition: number): Promise<void>;
  /** Whether `waitOpen` would settle at once: a task may then process synchronously without awaiting it. */
  isOpenFor(partition: number): boolean;
}

export class ProcessIsolationGate implements IsolationGate {
  private holder: number | undefined;
  private readonly queue: { partition: number; admit: () => void }[] = [];
  private openers: (() => void)[] = [];

  async hold(partition: number): Promise<LeaveGate> {
    if (this.holder !== undefined || this.queue.length > 0) {
      await new Promise<void>((admit) => this.queue.push({ partition, admit }));
    }
    this.holder = partition;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.pass();
    };
  }

  async waitOpen(partition: number): Promise<void> {
    while (!this.isOpenFor(partition)) {
      await new Promise<void>((open) => this.openers.push(open));
    }
  }

  isOpenFor(partition: number): boolean {
    return this.holder === undefined || this.holder === partition;
  }

  private pass(): void {
    const next = this.queue.shift();
    if (next) {
      // Handed over without opening in between: a waiting processor must not slip into the next isolation.
      this.holder = next.partition;
      next.admit();
      return;
    }
    this.holder = undefined;
    const opened = this.openers;
    this.openers = [];
    for (const open of opened) open();
  }
}

/** Negative control only (EOS_ROLLUP_BROKEN=no-isolation-gate): never held, so deaths count across partitions. */
export const OPEN_GATE: IsolationGate = {
  hold: () => Promise.resolve(() => undefined),
  waitOpen: () => Promise.resolve(),
  isOpenFor: () => true,
};
