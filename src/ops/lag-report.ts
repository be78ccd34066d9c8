/**
 * What `eos-rollup lag` reports: a sliding window of observations of one group on one topic, evaluated with
 * Burrow's rules (lag-status.ts), as a stable JSON document or a table. Pure: observations come in.
 */
import { evaluatePartition, groupStatus, type GroupStatus, type PartitionStatus } from './lag-status.js';
import { formatTable } from './table.js';

export interface GroupOwner {
  memberId: string;
  clientId: string;
  host: string;
}

export interface PartitionObservation {
  partition: number;
  /** The group's committed offset (the next to read), null when it has none. */
  committedOffset: bigint | null;
  /** Where the group resumes: the committed offset, or the log start without one (or once retention passed it). */
  position: bigint;
  /** The last stable offset: the end a read_committed consumer can reach, so commit markers are no lag. */
  logEndOffset: bigint;
  lag: number;
  /** Age of the oldest unread record; 0 without lag; null when there is lag but that record was not read. */
  lagSeconds: number | null;
  /** The live member whose assignment holds the partition, null when none does. */
  owner: GroupOwner | null;
}

export interface GroupObservation {
  atMs: number;
  clusterId: string;
  /** As the coordinator reports it: Stable, Empty, PreparingRebalance, CompletingRebalance, Dead. */
  groupState: string;
  partitions: readonly PartitionObservation[];
}

/** Field names are part of the command's contract (README): scripts read them. */
export interface PartitionReport {
  partition: number;
  currentOffset: number | null;
  logEndOffset: number;
  lag: number;
  lagSeconds: number | null;
  owner: GroupOwner | null;
  status: PartitionStatus;
  reason: string;
}

export interface LagReport {
  group: string;
  topic: string;
  clusterId: string;
  groupState: string;
  status: GroupStatus;
  evaluatedAt: string;
  window: { samples: number; spanMs: number };
  totalLag: number;
  maxLagSeconds: number | null;
  partitions: PartitionReport[];
}

/** The last `size` observations; each new one pushes the oldest out (Burrow's sliding window). */
export class LagWindow {
  private readonly observations: GroupObservation[] = [];

  constructor(
    private readonly group: string,
    private readonly topic: string,
    readonly size: number,
  ) {}

  add(observation: GroupObservation): void {
    this.observations.push(observation);
    if (this.observations.length > this.size) this.observations.shift();
  }

  get sampleCount(): number {
    return this.observations.length;
  }

  get isFull(): boolean {
    return this.observations.length >= this.size;
  }

  report(): LagReport {
    const first = this.observations[0];
    const latest = this.observations[this.observations.length - 1];
    if (first === undefined || latest === undefined) throw new Error('no observation to report on yet');
    const partitions = latest.partitions.map((p): PartitionReport => {
      const samples = this.observations.flatMap((o) => {
        const seen = o.partitions.find((q) => q.partition === p.partition);
        return seen ? [{ atMs: o.atMs, offset: seen.position, lag: seen.lag }] : [];
      });
      const verdict = evaluatePartition({ samples, isOwned: p.owner !== null });
      return {
        partition: p.partition,
        currentOffset: p.committedOffset === null ? null : Number(p.committedOffset),
        logEndOffset: Number(p.logEndOffset),
        lag: p.lag,
        lagSeconds: p.lagSeconds === null ? null : Math.round(p.lagSeconds * 1000) / 1000,
        owner: p.owner,
        status: verdict.status,
        reason: verdict.reason,
      };
    });
    const knownSeconds = partitions.flatMap((p) => (p.lagSeconds === null ? [] : [p.lagSeconds]));
    return {
      group: this.group,
      topic: this.topic,
      clusterId: latest.clusterId,
      groupState: latest.groupState,
      status: groupStatus(partitions.map((p) => p.status)),
      evaluatedAt: new Date(latest.atMs).toISOString(),
      window: { samples: this.observations.length, spanMs: latest.atMs - first.atMs },
      totalLag: partitions.reduce((sum, p) => sum + p.lag, 0),
      maxLagSeconds: knownSeconds.length === 0 ? null : Math.max(...knownSeconds),
      partitions,
    };
  }
}

function ownerText(owner: GroupOwner | null): string {
  return owner === null ? '-' : `${owner.clientId}@${owner.host}`;
}

/** The human table: a header line with the group's status, one row per partition, and the totals. */
export function formatLagReport(report: LagReport): string {
  const span = (report.window.spanMs / 1000).toFixed(1);
  const header =
    `group ${report.group} on ${report.topic}: ${report.status} ` +
    `(state ${report.groupState}, cluster ${report.clusterId}, ${report.window.samples} samples over ${span} s, ` +
    `${report.evaluatedAt})`;
  const rows = report.partitions.map((p) => [
    String(p.partition),
    p.currentOffset === null ? '-' : String(p.currentOffset),
    String(p.logEndOffset),
    String(p.lag),
    p.lagSeconds === null ? '?' : p.lagSeconds.toFixed(1),
    p.status,
    ownerText(p.owner),
    p.reason,
  ]);
  const table = formatTable(
    [
      { title: 'PARTITION', align: 'right' },
      { title: 'CURRENT-OFFSET', align: 'right' },
      { title: 'LOG-END-OFFSET', align: 'right' },
      { title: 'LAG', align: 'right' },
      { title: 'LAG-SECONDS', align: 'right' },
      { title: 'STATUS' },
      { title: 'OWNER' },
      { title: 'REASON' },
    ],
    rows,
  );
  const maxSeconds = report.maxLagSeconds === null ? 'unknown' : `${report.maxLagSeconds.toFixed(1)} s`;
  return [header, table, `total lag ${report.totalLag} records, max lag ${maxSeconds}`].join('\n');
}
