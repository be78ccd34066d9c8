/**
 * Readiness as a pure function of facts the stage reports: the stage is ready when it is running, the inventory
 * has caught up, it has an assignment, and every assigned partition's task is running (restored, not quarantined
 * by its circuit breaker). Whatever is not so becomes one reason, in words an operator can act on.
 */

export type StageLifecycle = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * initializing: fencing the previous owner, reading the committed offset, or backing off before doing so again;
 * restoring: reading the changelog; running: processing; quarantined: paused by the circuit breaker (probing), or
 * by the crash-loop guard at a record that crashed the process (until an operator acts).
 */
export type PartitionPhase = 'initializing' | 'restoring' | 'running' | 'quarantined';

export interface RestoreProgress {
  records: number;
  /** Next changelog offset to read; null before the first batch. */
  position: bigint | null;
  endOffset: bigint;
  /** Set while the restore waits for an open transaction on the changelog (`endOffset` is its high watermark). */
  waitingForStable?: { stableOffset: bigint; waitedMs: number } | undefined;
}

export interface PartitionFacts {
  partition: number;
  phase: PartitionPhase;
  restore?: RestoreProgress | undefined;
  /** Quarantined by the crash-loop guard: the offset of the record that crashed the process. */
  quarantinedAt?: bigint | undefined;
}

export interface ReadinessFacts {
  stage: StageLifecycle;
  inventoryCaughtUp: boolean;
  /** False until the consumer group handed this instance its first assignment (which may be empty). */
  hasAssignment: boolean;
  partitions: readonly PartitionFacts[];
}

export interface Readiness {
  ready: boolean;
  /** Empty when ready. */
  reasons: string[];
  partitions: { partition: number; phase: PartitionPhase }[];
}

export function evaluateReadiness(facts: ReadinessFacts, extraReasons: readonly string[] = []): Readiness {
  const reasons: string[] = [];
  if (facts.stage !== 'running') reasons.push(`stage is ${facts.stage}`);
  if (!facts.inventoryCaughtUp) reasons.push('inventory not caught up yet');
  if (facts.stage === 'running' && !facts.hasAssignment) reasons.push('waiting for a partition assignment');
  for (const partition of facts.partitions) {
    const reason = partitionReason(partition);
    if (reason) reasons.push(reason);
  }
  reasons.push(...extraReasons);
  return {
    ready: reasons.length === 0,
    reasons,
    partitions: facts.partitions.map(({ partition, phase }) => ({ partition, phase })),
  };
}

function partitionReason({ partition, phase, restore, quarantinedAt }: PartitionFacts): string | undefined {
  switch (phase) {
    case 'running':
      return undefined;
    case 'initializing':
      return `partition ${partition} initializing (fencing the previous owner, reading its committed offset)`;
    case 'restoring':
      return `partition ${partition} restoring state${restore ? ` (${describeRestore(restore)})` : ''}`;
    case 'quarantined':
      if (quarantinedAt !== undefined)
        return `partition ${partition} quarantined at offset ${quarantinedAt}: the record there crashed the process each time it was processed alone (paused; resolve with \`eos-rollup quarantine\`)`;
      return `partition ${partition} quarantined by the circuit breaker (retriable failures persist; paused, probing)`;
  }
}

function describeRestore({ records, position, endOffset, waitingForStable }: RestoreProgress): string {
  if (waitingForStable) {
    const { stableOffset, waitedMs } = waitingForStable;
    return `waiting ${waitedMs} ms for an open transaction on the changelog: last stable offset ${stableOffset} < high watermark ${endOffset}`;
  }
  const at = position === null ? 'starting' : `changelog offset ${position} of ${endOffset}`;
  return `${at}, ${records} records read`;
}
