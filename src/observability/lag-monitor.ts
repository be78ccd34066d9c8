/**
 * Consumer lag of this instance's partitions, in records and in seconds.
 *
 * Records: the last stable offset (what a read_committed consumer can reach) minus the group's committed offset.
 * Against the high watermark instead, the commit marker that ends every transaction would show as lag 1 forever.
 *
 * Seconds: the age of the oldest record not yet committed, i.e. now minus the timestamp of the record at the
 * committed offset (read by the LagSource with a small fetch), not an interpolation from offset rates. Zero when
 * there is no lag.
 *
 * Lookups are made on demand (a scrape, a watchdog check) and cached briefly, so that frequent scrapes cost one
 * lookup; a lookup slower than the timeout leaves that scrape without lag series rather than holding it.
 */
import { valueWithin } from '../errors/deadline.js';

export interface PartitionOffsetsSample {
  partition: number;
  logStartOffset: bigint;
  lastStableOffset: bigint;
  /** The group's committed offset (next to read), or null when it has none. */
  committedOffset: bigint | null;
  /** Timestamp of the first record at or after the read position, when there is lag and it could be read. */
  oldestUnreadTimestampMs: number | null;
}

export interface LagSample {
  /** The Kafka cluster id: the `cluster_name` label. */
  clusterName: string;
  /** The input topic's retention.ms; null when infinite or unknown. */
  retentionMs: number | null;
  partitions: PartitionOffsetsSample[];
}

/** Implemented on kafkajs in src/kafka/operator/lag-reader.ts. */
export interface LagSource {
  read(partitions: readonly number[]): Promise<LagSample>;
  close(): Promise<void>;
}

export interface PartitionLag {
  partition: number;
  /** Where the group resumes: its committed offset, or the log start when it has none or it was deleted. */
  position: bigint;
  lastStableOffset: bigint;
  lagRecords: number;
  oldestUnreadTimestampMs: number | null;
}

export interface LagSnapshot {
  atMs: number;
  clusterName: string;
  retentionMs: number | null;
  partitions: PartitionLag[];
}

export function lagOf(sample: PartitionOffsetsSample): PartitionLag {
  const committed = sample.committedOffset ?? sample.logStartOffset;
  const position = committed < sample.logStartOffset ? sample.logStartOffset : committed;
  const lag = sample.lastStableOffset > position ? sample.lastStableOffset - position : 0n;
  return {
    partition: sample.partition,
    position,
    lastStableOffset: sample.lastStableOffset,
    lagRecords: Number(lag),
    oldestUnreadTimestampMs: lag > 0n ? sample.oldestUnreadTimestampMs : null,
  };
}

/** Lag in seconds at `nowMs`: 0 without lag; undefined when there is lag but its oldest record was not read. */
export function lagSecondsAt(lag: PartitionLag, nowMs: number): number | undefined {
  if (lag.lagRecords === 0) return 0;
  if (lag.oldestUnreadTimestampMs === null) return undefined;
  return Math.max(0, nowMs - lag.oldestUnreadTimestampMs) / 1000;
}

export interface LagMonitorOptions {
  /** A snapshot younger than this is served from the cache. */
  maxAgeMs: number;
  /** A lookup slower than this leaves its caller without a snapshot (the lookup goes on and fills the cache). */
  timeoutMs: number;
  now: () => number;
  onError: (error: unknown) => void;
}

export class LagMonitor {
  private cached: { key: string; snapshot: LagSnapshot } | undefined;
  private inFlight: { key: string; promise: Promise<LagSnapshot | undefined> } | undefined;
  private failures = 0;

  constructor(
    private readonly source: LagSource,
    private readonly partitions: () => readonly number[],
    private readonly options: LagMonitorOptions,
  ) {}

  /** Lookups that failed (each also reported to onError). */
  get failedLookups(): number {
    return this.failures;
  }

  /** Lag of the partitions assigned now; undefined when the lookup failed or timed out. */
  async snapshot(maxAgeMs = this.options.maxAgeMs): Promise<LagSnapshot | undefined> {
    const partitions = [...this.partitions()].sort((a, b) => a - b);
    const key = partitions.join(',');
    const cached = this.cached;
    if (cached?.key === key && this.options.now() - cached.snapshot.atMs < maxAgeMs) return cached.snapshot;
    if (partitions.length === 0)
      return { atMs: this.options.now(), clusterName: '', retentionMs: null, partitions: [] };
    const lookup = this.inFlight?.key === key ? this.inFlight.promise : this.lookup(key, partitions);
    return valueWithin(lookup, this.options.timeoutMs);
  }

  private lookup(key: string, partitions: number[]): Promise<LagSnapshot | undefined> {
    const atMs = this.options.now();
    const promise = this.source.read(partitions).then(
      (sample) => {
        const snapshot: LagSnapshot = {
          atMs,
          clusterName: sample.clusterName,
          retentionMs: sample.retentionMs,
          partitions: sample.partitions.map(lagOf),
        };
        this.cached = { key, snapshot };
        return snapshot;
      },
      (error: unknown) => {
        this.failures += 1;
        this.options.onError(error);
        return undefined;
      },
    );
    const entry = { key, promise };
    this.inFlight = entry;
    void promise.finally(() => {
      if (this.inFlight === entry) this.inFlight = undefined;
    });
    return promise;
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
