/**
 * Consumer-group health in Burrow's vocabulary, judged from a sliding window of samples per partition instead
 * of a lag threshold (https://github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules). Pure: the
 * samples come in, a verdict comes out.
 *
 * Burrow's rules, in its order (the first that applies wins):
 * 1. the current lag is 0, or the lag was 0 at any sample of the window: OK;
 * 2. the consumer's offset went back between two samples: REWIND;
 * 3. the consumer stopped committing: STOP;
 * 4. the consumer commits, but its offset does not move: STALL;
 * 5. the offset moves, but the lag never decreased from one sample to the next: WARN (falling behind);
 * 6. otherwise OK (catching up).
 *
 * Burrow tells 3 from 4 by the timestamps of the commits themselves (it reads __consumer_offsets). OffsetFetch
 * returns no commit time, and this stage commits only when it has processed something, so a stuck stage never
 * commits an unchanged offset. The distinction that matters to an operator survives through the group's
 * membership instead: an offset that did not move over the window is STOP when no live member owns the
 * partition (nobody is consuming it: the stage is down or the partition unassigned) and STALL when a member
 * owns it (the consumer is there but makes no progress: hung, paused by its circuit breaker, failing).
 *
 * The group's status is Burrow's too: the worst partition's, where any partition worse than WARN makes it ERR.
 */

/** In increasing severity. */
export const PARTITION_STATUSES = ['OK', 'WARN', 'STALL', 'STOP', 'REWIND'] as const;
export type PartitionStatus = (typeof PARTITION_STATUSES)[number];

export const GROUP_STATUSES = ['OK', 'WARN', 'ERR'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

export interface OffsetSample {
  atMs: number;
  /** Where the group resumes reading: its committed offset, or the log start without one. */
  offset: bigint;
  /** Records between that position and the last stable offset. */
  lag: number;
}

export interface PartitionWindow {
  /** Oldest first. */
  samples: readonly OffsetSample[];
  /** A live member of the group has the partition in its assignment (as of the latest sample). */
  isOwned: boolean;
}

export interface PartitionVerdict {
  status: PartitionStatus;
  /** One line an operator can act on: which rule decided, with the numbers. */
  reason: string;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function evaluatePartition(window: PartitionWindow): PartitionVerdict {
  const { samples } = window;
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined) return { status: 'OK', reason: 'no samples yet' };

  // Rule 1.
  if (last.lag === 0) return { status: 'OK', reason: 'no lag' };
  if (samples.some((s) => s.lag === 0)) return { status: 'OK', reason: 'lag was 0 within the window' };
  if (samples.length < 2) return { status: 'OK', reason: 'one sample so far: no trend yet' };

  const spanMs = last.atMs - first.atMs;
  // Rule 2.
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1];
    const after = samples[i];
    if (before !== undefined && after !== undefined && after.offset < before.offset) {
      return {
        status: 'REWIND',
        reason: `offset went back from ${before.offset.toString()} to ${after.offset.toString()}`,
      };
    }
  }
  // Rules 3 and 4 (see the module comment for how they are told apart).
  if (samples.every((s) => s.offset === first.offset)) {
    const noProgress = `no progress for ${seconds(spanMs)} at offset ${first.offset.toString()} with lag ${last.lag}`;
    return window.isOwned
      ? { status: 'STALL', reason: `${noProgress} although a group member owns the partition` }
      : { status: 'STOP', reason: `${noProgress} and no group member owns the partition` };
  }
  // Rule 5.
  const decreased = samples.some((s, i) => i > 0 && s.lag < (samples[i - 1]?.lag ?? s.lag));
  if (!decreased) {
    return {
      status: 'WARN',
      reason: `offset advances but lag never decreased in ${seconds(spanMs)} (${first.lag} → ${last.lag})`,
    };
  }
  return { status: 'OK', reason: `catching up (lag ${first.lag} → ${last.lag} in ${seconds(spanMs)})` };
}

/** Burrow's group status: the worst partition's, anything worse than WARN counting as ERR. */
export function groupStatus(statuses: Iterable<PartitionStatus>): GroupStatus {
  let worst = 0;
  for (const status of statuses) worst = Math.max(worst, PARTITION_STATUSES.indexOf(status));
  if (worst === 0) return 'OK';
  return worst === PARTITION_STATUSES.indexOf('WARN') ? 'WARN' : 'ERR';
}
