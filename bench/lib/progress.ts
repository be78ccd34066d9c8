/**
 * Throughput from broker offsets, not client counters: the harness polls the group's committed offsets and the
 * input's end offsets every ~250 ms, and these functions turn the samples into figures. Pure.
 *
 * Sustained throughput counts the records committed between the first sample that shows any progress (so the
 * process's start, group join and first batch are excluded) and the first sample at zero lag, over the time
 * between those two samples. Committed offsets move in jumps (one per transaction or commit), so each end of the
 * interval is off by at most one commit; over a run of tens of seconds that is a few percent at most.
 */

export interface ProgressSample {
  /** Milliseconds since the peer's process was started. */
  atMs: number;
  /** Sum over the input's partitions of the group's committed offsets (a partition without one counts 0). */
  committed: number;
  /** Sum over the input's partitions of the end offsets (high watermarks). */
  end: number;
  /** utime + stime of the peer's process at this sample, clock ticks; undefined once it is gone. */
  cpuTicks?: number | undefined;
}

export interface SustainedFigures {
  /** Records per second between the first progress sample and the zero-lag sample; null if too few samples. */
  recordsPerSecond: number | null;
  /** Records committed in that interval. */
  records: number;
  /** Length of that interval in seconds. */
  seconds: number;
  /** When the first progress was seen (ms since start): the start-up cost. */
  firstProgressAtMs: number | null;
  /** When the lag was first zero (ms since start); null if it never was. */
  zeroLagAtMs: number | null;
  /** CPU ticks the process used in that interval; null when a sample lacked them. */
  cpuTicks: number | null;
}

/** The lag (end − committed) of one sample; never negative. */
export function lagOf(sample: ProgressSample): number {
  return Math.max(0, sample.end - sample.committed);
}

export function sustainedThroughput(samples: readonly ProgressSample[]): SustainedFigures {
  const none: SustainedFigures = {
    recordsPerSecond: null,
    records: 0,
    seconds: 0,
    firstProgressAtMs: null,
    zeroLagAtMs: null,
    cpuTicks: null,
  };
  const baseline = samples[0];
  if (!baseline) return none;
  const firstIndex = samples.findIndex((s) => s.committed > baseline.committed);
  const zeroIndex = samples.findIndex((s) => s.end > 0 && lagOf(s) === 0 && s.committed > baseline.committed);
  const first = samples[firstIndex];
  if (!first) return none;
  // Without zero lag, the interval ends at the last sample that still showed progress.
  let lastIndex = zeroIndex;
  if (lastIndex < 0) {
    for (let i = samples.length - 1; i > firstIndex; i--) {
      if ((samples[i]?.committed ?? 0) > (samples[i - 1]?.committed ?? 0)) {
        lastIndex = i;
        break;
      }
    }
  }
  const last = samples[lastIndex];
  const zeroLagAtMs = samples[zeroIndex]?.atMs ?? null;
  if (!last || lastIndex <= firstIndex || last.atMs <= first.atMs) {
    return { ...none, firstProgressAtMs: first.atMs, zeroLagAtMs };
  }
  const records = last.committed - first.committed;
  const seconds = (last.atMs - first.atMs) / 1000;
  // A process that exits by itself at the end (R0) has no CPU figure in the zero-lag sample: its last reading
  // before the exit stands in, short by at most one poll interval of CPU.
  let endTicks: number | undefined;
  for (let i = lastIndex; i > firstIndex && endTicks === undefined; i--) endTicks = samples[i]?.cpuTicks;
  const cpuTicks = first.cpuTicks !== undefined && endTicks !== undefined ? endTicks - first.cpuTicks : null;
  return {
    recordsPerSecond: records / seconds,
    records,
    seconds,
    firstProgressAtMs: first.atMs,
    zeroLagAtMs,
    cpuTicks,
  };
}

export interface LagPoint {
  atMs: number;
  lag: number;
}

/**
 * The first time at or after `fromMs` from which the lag stays at or below `threshold` for `holdSamples`
 * consecutive samples: "lag is back to steady". null if it never settles within the samples.
 */
export function steadyAfter(
  points: readonly LagPoint[],
  fromMs: number,
  threshold: number,
  holdSamples = 3,
): number | null {
  let runStart: number | null = null;
  let run = 0;
  for (const point of points) {
    if (point.atMs < fromMs) continue;
    if (point.lag <= threshold) {
      runStart ??= point.atMs;
      run += 1;
      if (run >= holdSamples) return runStart;
    } else {
      runStart = null;
      run = 0;
    }
  }
  return null;
}

/** Committed offsets by partition at one moment. */
export interface PartitionPoint {
  atMs: number;
  committed: ReadonlyMap<number, number>;
}

/**
 * The longest stall of any partition after a kill: for each partition, the time from `killedAtMs` to the first
 * point whose committed offset is past the one it had at the kill. Every partition counts (under a live load each
 * has lag). null while some partition has not moved yet.
 */
export function longestPartitionStallMs(
  atKill: ReadonlyMap<number, number>,
  points: readonly PartitionPoint[],
  killedAtMs: number,
): number | null {
  let longest = 0;
  for (const [partition, offset] of atKill) {
    const moved = points.find((p) => p.atMs >= killedAtMs && (p.committed.get(partition) ?? 0) > offset);
    if (!moved) return null;
    longest = Math.max(longest, moved.atMs - killedAtMs);
  }
  return longest;
}
