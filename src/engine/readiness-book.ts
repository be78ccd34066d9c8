/**
 * The readiness facts the tasks report through events, kept per partition: a breaker that opened, a restore under
 * way or waiting for open transactions to end, a partition paused at a record that crashed the process.
 */
import type { StageEvents } from '../observability/events.js';
import type { PartitionFacts, RestoreProgress } from '../observability/readiness.js';

export class ReadinessBook {
  private readonly quarantined = new Set<number>();
  private readonly restoring = new Map<number, RestoreProgress>();
  /** Partitions paused at a record that crashed the process each time it was processed alone: its offset. */
  private readonly crashQuarantined = new Map<number, bigint>();

  constructor(events: StageEvents) {
    events.on('breaker.changed', ({ partition, state }) => {
      if (state === 'closed') this.quarantined.delete(partition);
      else this.quarantined.add(partition);
    });
    events.on('task.restore_progressed', ({ partition, records, position, endOffset }) => {
      this.restoring.set(partition, { records, position, endOffset });
    });
    events.on('task.restore_waiting', ({ partition, stableOffset, highWatermark, waitedMs }) => {
      this.restoring.set(partition, {
        records: 0,
        position: null,
        endOffset: highWatermark,
        waitingForStable: { stableOffset, waitedMs },
      });
    });
    events.on('task.restored', ({ partition }) => this.restoring.delete(partition));
    // A restore that failed is over too; the retry reports its own progress.
    events.on('task.aborted', ({ partition }) => this.restoring.delete(partition));
    events.on('partition.quarantined', ({ partition, offset }) => {
      this.crashQuarantined.set(partition, offset);
    });
    events.on('task.closed', ({ partition }) => {
      this.crashQuarantined.delete(partition);
      this.quarantined.delete(partition);
      this.restoring.delete(partition);
    });
  }

  /** `taskRunning`: the partition's task exists and runs; what the events say takes precedence. */
  partitionFacts(partition: number, taskRunning: boolean): PartitionFacts {
    const restore = this.restoring.get(partition);
    const at = this.crashQuarantined.get(partition);
    if (at !== undefined) return { partition, phase: 'quarantined', quarantinedAt: at };
    if (this.quarantined.has(partition)) return { partition, phase: 'quarantined' };
    if (restore) return { partition, phase: 'restoring', restore };
    if (taskRunning) return { partition, phase: 'running' };
    return { partition, phase: 'initializing' };
  }
}
