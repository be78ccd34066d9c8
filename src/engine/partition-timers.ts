/**
 * The two clocks of a partition task. The breaker's probe: after too many consecutive failures the partition is
 * paused and re-initialized only at the probe's pace. The idle flush (design §5): after idleFlushMs without a
 * record, stream time moves forward by the wall-clock time elapsed since the last record (never to the wall clock
 * itself: event time may be far from it), so the last windows close. Both only decide and schedule; the task
 * runs the work in its own queue.
 */
import type { Logger } from 'pino';
import { classify } from '../errors/classify.js';
import { errorMessage } from '../errors/message.js';
import type { StageEvents } from '../observability/events.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';
import type { PartitionControl, TaskKafkaPort } from './ports.js';
import type { TaskProcessor } from './processor.js';

export interface BreakerDependencies {
  breaker: { threshold: number; probeIntervalMs: number };
  consumer: PartitionControl;
  events: StageEvents;
  now: () => number;
  onFatal: (error: unknown) => void;
}

/** What a probe does, in the task's terms. */
export interface ProbeWork {
  /** Runs `work` in the task's queue. */
  serially(work: () => Promise<void>): Promise<void>;
  isClosed(): boolean;
  /** The assignment steps; a probe that passes them half-opens the breaker. */
  initialize(): Promise<void>;
  /** Wraps a fatal failure found by a probe, which has no batch to fail. */
  fatal(error: unknown): unknown;
}

export class PartitionBreaker {
  private readonly breaker: CircuitBreaker;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly partition: number,
    private readonly deps: BreakerDependencies,
    private readonly log: Logger,
    private readonly probe: ProbeWork,
  ) {
    this.breaker = new CircuitBreaker(deps.breaker);
  }

  get state(): BreakerState {
    return this.breaker.state;
  }

  /** Counts one more consecutive failure; when that opens the breaker, the partition pauses until a probe. */
  recordFailure(): BreakerState {
    const state = this.breaker.recordFailure(this.deps.now());
    if (state === 'open') this.open();
    return state;
  }

  recordSuccess(): void {
    const before = this.breaker.state;
    this.breaker.recordSuccess(this.deps.now());
    if (before !== 'closed') {
      this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'closed' });
      this.log.info('circuit breaker closed: partition healthy again');
    }
  }

  stop(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
  }

  private open(): void {
    this.deps.consumer.pause(this.partition);
    this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'open' });
    this.log.warn(
      { failures: this.breaker.consecutiveFailures },
      'circuit breaker open: partition paused, probing slowly',
    );
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probe
        .serially(async () => {
          if (this.probe.isClosed()) return;
          this.breaker.startProbe(this.deps.now());
          this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'half-open' });
          try {
            await this.probe.initialize();
          } catch (error) {
            if (classify(error) === 'fatal') {
              this.deps.onFatal(this.probe.fatal(error));
              return;
            }
            this.log.warn({ err: errorMessage(error) }, 'probe failed; partition stays paused');
            this.breaker.recordFailure(this.deps.now());
            this.deps.events.emit('breaker.changed', { partition: this.partition, state: 'open' });
            this.scheduleProbe();
            return;
          }
          // Half-open: the partition resumes; the next commit closes the breaker, the next failure reopens it.
          this.deps.consumer.resume(this.partition);
        })
        .catch((error: unknown) => {
          this.deps.onFatal(error);
        });
    }, this.deps.breaker.probeIntervalMs);
    this.probeTimer.unref();
  }
}

export interface IdleFlushDependencies {
  /** 0: off. */
  idleFlushMs: number;
  topics: { input: string };
  kafka: TaskKafkaPort;
  now: () => number;
}

export class IdleFlush {
  private timer: NodeJS.Timeout | undefined;
  /** Wall-clock time of the last committed record, and the stream time it left: the idle flush's anchor. */
  private lastRecordAtMs = 0;
  private streamTimeAtLastRecord: number | null = null;
  /** An idle flush is being held back because the task has not consumed up to the last stable offset. */
  private held = false;

  constructor(
    private readonly partition: number,
    private readonly deps: IdleFlushDependencies,
    private readonly log: Logger,
  ) {}

  /** Records were committed (or state restored) now, leaving stream time where the store has it. */
  noteRecords(streamTimeMs: number | null): void {
    this.lastRecordAtMs = this.deps.now();
    this.streamTimeAtLastRecord = streamTimeMs;
  }

  /** Ticks at most every second while idle flushing is on; idempotent. */
  start(tick: () => Promise<void>, onFatal: (error: unknown) => void): void {
    const idleMs = this.deps.idleFlushMs;
    if (idleMs <= 0 || this.timer) return;
    this.timer = setInterval(
      () => {
        tick().catch(onFatal);
      },
      Math.min(idleMs, 1000),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The stream time an idle flush advances to now, or undefined when none is due: it commits, like any state
   * change, only when the processor would punctuate something at it (the rollup: a window closes), and only once everything up to the last stable offset is
   * consumed.
   */
  async due(
    processor: Pick<TaskProcessor, 'store' | 'wouldPunctuate'>,
    position: bigint,
  ): Promise<{ target: number; idleForMs: number } | undefined> {
    if (processor.store.size === 0) return undefined;
    const idleForMs = this.deps.now() - this.lastRecordAtMs;
    const anchor = this.streamTimeAtLastRecord;
    if (idleForMs < this.deps.idleFlushMs || anchor === null) return undefined;
    const target = anchor + idleForMs;
    if (!processor.wouldPunctuate(target)) return undefined;
    if (!(await this.consumedToStableOffset(position))) return undefined;
    return { target, idleForMs };
  }

  /**
   * Idle means nothing left to read, not merely nothing fetched: a stalled fetcher would otherwise let stream
   * time overtake records already in Kafka and dead-letter them as late. The position must have reached the
   * partition's last stable offset (its read_committed end).
   */
  private async consumedToStableOffset(position: bigint): Promise<boolean> {
    let end: bigint;
    try {
      ({ end } = await this.deps.kafka.partitionRange(this.deps.topics.input, this.partition));
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        'idle flush skipped: the input end offset could not be read',
      );
      return false;
    }
    const held = end > position;
    if (held) {
      // Once per hold at info: the check repeats every tick while the fetcher is stalled.
      this.log[this.held ? 'debug' : 'info'](
        { position: position.toString(), stableOffset: end.toString() },
        'idle flush skipped: records up to the last stable offset are not consumed yet',
      );
    }
    this.held = held;
    return !held;
  }
}
