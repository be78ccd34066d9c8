/**
 * The auditor's pure core: an independent proof of exactly-once (design §7). It is handed what a read_committed
 * reader saw (input, output, DLQ, changelog, offsets and end offsets), recomputes offline what the stage should
 * have written with its own simple code (recompute.ts), and returns every violation it finds. No I/O here.
 *
 * Assumptions, each stated where it is used:
 * - a host's records live in one input partition (the input key is the host); windows are nevertheless kept
 *   per partition and an output rollup is matched through its lineage's source partition, so a host spread over
 *   partitions yields one expected rollup per partition rather than false duplicates;
 * - the idle flush, if on, only closed windows after a partition's last record (a drained run): stream time it
 *   advanced is not visible in the input, so records arriving after a flush could be judged differently;
 * - no changelog record was compacted away yet (lineage-check.ts).
 */
import { checkChangelog } from './changelog-check.js';
import { DLQ, dlqSource, readLineage } from './contract.js';
import { enrichmentLookup, type Enrichment } from './enrichment.js';
import { checkLineage, describeWritten } from './lineage-check.js';
import { byPartition, recompute, recordKey, windowKey, type ComputedWindow } from './recompute.js';
import {
  VIOLATION_KINDS,
  type AuditData,
  type AuditReport,
  type AuditRollup,
  type AuditWrittenRecord,
  type Violation,
  type ViolationKind,
} from './types.js';

export type {
  AuditCulprit,
  AuditHostInfo,
  AuditCounts,
  AuditData,
  AuditInputRecord,
  AuditReport,
  AuditWrittenRecord,
  Violation,
  ViolationKind,
} from './types.js';
export { VIOLATION_KINDS } from './types.js';

/** Sums of doubles may be added in another order by a correct stage: compare them with this relative tolerance. */
const RELATIVE_TOLERANCE = 1e-9;
const DETAILS_PER_KIND = 20;

function nearlyEqual(got: number, want: number): boolean {
  if (got === want) return true;
  return Math.abs(got - want) <= RELATIVE_TOLERANCE * Math.max(Math.abs(got), Math.abs(want));
}

function describeWindow(partition: number, host: string, windowStart: number): string {
  const iso = Number.isFinite(windowStart) ? new Date(windowStart).toISOString() : 'invalid';
  return `host ${JSON.stringify(host)} window ${windowStart} (${iso}) from input p${partition}`;
}

/** The fields of a rollup that differ from the recomputed window, as "field got (expected want)". */
function rollupDifferences(r: AuditRollup, w: ComputedWindow, sizeMs: number): string[] {
  const diffs: string[] = [];
  const exact = (field: string, got: number, want: number): void => {
    if (got !== want) diffs.push(`${field} ${got} (expected ${want})`);
  };
  const close = (field: string, got: number, want: number): void => {
    if (!nearlyEqual(got, want)) diffs.push(`${field} ${got} (expected ${want})`);
  };
  exact('window_end', r.window_end, w.windowStart + sizeMs);
  exact('count', r.count, w.count);
  exact('cpu_percent.min', r.cpu_percent.min, w.cpuMin);
  exact('cpu_percent.max', r.cpu_percent.max, w.cpuMax);
  close('cpu_percent.sum', r.cpu_percent.sum, w.cpuSum);
  close('cpu_percent.avg', r.cpu_percent.avg, w.cpuSum / w.count);
  exact('mem_percent.min', r.mem_percent.min, w.memMin);
  exact('mem_percent.max', r.mem_percent.max, w.memMax);
  close('mem_percent.sum', r.mem_percent.sum, w.memSum);
  close('mem_percent.avg', r.mem_percent.avg, w.memSum / w.count);
  exact('disk_read_bytes', r.disk_read_bytes, w.diskReadBytes);
  exact('disk_write_bytes', r.disk_write_bytes, w.diskWriteBytes);
  exact('net_rx_bytes', r.net_rx_bytes, w.netRxBytes);
  exact('net_tx_bytes', r.net_tx_bytes, w.netTxBytes);
  exact('first_event_time', r.first_event_time, w.firstEventTime);
  exact('last_event_time', r.last_event_time, w.lastEventTime);
  return diffs;
}

interface Emitted {
  record: AuditWrittenRecord;
  rollup: AuditRollup;
}

interface RollupFindings {
  violations: Violation[];
  rollupRecordCount: number;
  openWindowRecords: number;
  expectedWindows: number;
  openWindows: number;
  /** Windows neither closed nor emitted: what the stage's state must hold. */
  open: ComputedWindow[];
  /** Partitions with a window emitted before record stream time closed it (an idle flush). */
  flushed: Set<number>;
}

function enrichmentDifferences(r: AuditRollup, want: Enrichment): string[] {
  const diffs: string[] = [];
  for (const field of ['region', 'datacenter', 'role'] as const) {
    if (r[field] !== want[field])
      diffs.push(`${field} ${JSON.stringify(r[field])} (expected ${JSON.stringify(want[field])})`);
  }
  return diffs;
}

function checkRollups(
  data: AuditData,
  windows: ReadonlyMap<string, ComputedWindow>,
  enrichmentOf: (host: string) => Enrichment | null,
): RollupFindings {
  const violations: Violation[] = [];
  const sizeMs = data.windows.sizeMs;

  // A rollup without lineage is matched through the partition the host's records were in, if only one.
  const hostPartitions = new Map<string, Set<number>>();
  for (const w of windows.values()) {
    const set = hostPartitions.get(w.host) ?? new Set<number>();
    set.add(w.partition);
    hostPartitions.set(w.host, set);
  }
  const emitted = new Map<string, Emitted[]>();
  const unmatched: Emitted[] = [];
  for (const record of data.written) {
    if (record.topic !== 'output') continue;
    const rollup = record.rollup;
    if (rollup === undefined) {
      violations.push({
        kind: 'rollup-unexpected',
        detail: `${describeWritten(record)} could not be decoded as a MetricRollup`,
      });
      continue;
    }
    const want = enrichmentOf(rollup.host);
    const wrongEnrichment = want === null ? [] : enrichmentDifferences(rollup, want);
    if (wrongEnrichment.length > 0) {
      violations.push({
        kind: 'enrichment-mismatch',
        detail: `${describeWritten(record)} host ${JSON.stringify(rollup.host)} window ${rollup.window_start}: ${wrongEnrichment.join(', ')}`,
      });
    }
    const lineage = readLineage(record.headers);
    let partition: number | undefined;
    if (lineage !== null && lineage.sourceTopic === data.inputTopic) partition = lineage.sourcePartition;
    else {
      const candidates = hostPartitions.get(rollup.host);
      if (candidates?.size === 1) partition = [...candidates][0];
    }
    if (partition === undefined) {
      unmatched.push({ record, rollup });
      continue;
    }
    const key = windowKey(partition, rollup.host, rollup.window_start);
    const list = emitted.get(key);
    if (list === undefined) emitted.set(key, [{ record, rollup }]);
    else list.push({ record, rollup });
  }

  let rollupRecordCount = 0;
  let openWindowRecords = 0;
  let expectedWindows = 0;
  let openWindows = 0;
  const open: ComputedWindow[] = [];
  const flushed = new Set<number>();
  for (const [key, w] of windows) {
    const what = describeWindow(w.partition, w.host, w.windowStart);
    if (w.closed) expectedWindows += 1;
    const occurrences = emitted.get(key) ?? [];
    emitted.delete(key);
    const [first] = occurrences;
    if (first === undefined) {
      if (w.closed) {
        violations.push({
          kind: 'rollup-missing',
          detail: `${what}: closed (${w.count} record${w.count === 1 ? '' : 's'}) but not in the output`,
        });
      } else {
        // Neither closed nor emitted: its records are in the stage's state.
        openWindows += 1;
        openWindowRecords += w.count;
        open.push(w);
      }
      continue;
    }
    rollupRecordCount += first.rollup.count;
    if (!w.closed) flushed.add(w.partition);
    if (occurrences.length > 1) {
      violations.push({
        kind: 'rollup-duplicated',
        detail: `${what}: ${occurrences.length} rollups at ${occurrences.map((o) => describeWritten(o.record)).join(', ')}`,
      });
    }
    for (const o of occurrences) {
      const diffs = rollupDifferences(o.rollup, w, sizeMs);
      if (diffs.length === 0) continue;
      // A window not closed by record stream time may still be emitted early (idle flush), but then exactly.
      const early = w.closed ? '' : ' (emitted before record stream time closed it)';
      violations.push({
        kind: 'rollup-wrong',
        detail: `${what} at ${describeWritten(o.record)}${early}: ${diffs.join(', ')}`,
      });
    }
  }
  for (const occurrences of [...emitted.values(), ...unmatched.map((e) => [e])]) {
    const [first] = occurrences;
    if (first === undefined) continue;
    rollupRecordCount += first.rollup.count;
    for (const o of occurrences) {
      violations.push({
        kind: 'rollup-unexpected',
        detail: `${describeWritten(o.record)}: host ${JSON.stringify(o.rollup.host)} window ${o.rollup.window_start} count ${o.rollup.count} matches no window with valid input`,
      });
    }
  }
  return { violations, rollupRecordCount, openWindowRecords, expectedWindows, openWindows, open, flushed };
}

interface DlqFindings {
  violations: Violation[];
  dlqRecords: number;
  /** Distinct DLQ source keys the auditor never read as input (beyond committed offsets, or unknown). */
  unknownSources: string[];
  unattributable: number;
}

function checkDeadLetters(
  data: AuditData,
  poison: ReadonlyMap<string, string>,
  valid: ReadonlySet<string>,
): DlqFindings {
  const violations: Violation[] = [];
  const bySource = new Map<string, AuditWrittenRecord[]>();
  let unattributable = 0;
  for (const record of data.written) {
    if (record.topic !== 'dlq') continue;
    const topic = record.headers[DLQ.topic];
    // A DLQ shared with other stages: records of another input topic are not ours to audit.
    if (topic !== undefined && topic !== data.inputTopic) continue;
    const source = dlqSource(record.headers);
    if (source === null) {
      // Counted once each, so the count check names them.
      unattributable += 1;
      continue;
    }
    const key = recordKey(source.partition, source.offset);
    const list = bySource.get(key);
    if (list === undefined) bySource.set(key, [record]);
    else list.push(record);
  }

  for (const [key, reason] of poison) {
    const found = bySource.get(key) ?? [];
    if (found.length === 0) {
      violations.push({
        kind: 'poison-missing-from-dlq',
        detail: `input ${key} is poison (${reason}) but not in the DLQ`,
      });
    } else if (found.length > 1) {
      violations.push({
        kind: 'poison-duplicated-in-dlq',
        detail: `input ${key} (${reason}) is in the DLQ ${found.length} times: ${found.map(describeWritten).join(', ')}`,
      });
    }
  }
  const unknownSources: string[] = [];
  for (const [key, found] of bySource) {
    if (poison.has(key)) continue;
    if (valid.has(key)) {
      // The reason header is only looked at here: for poison the auditor does not second-guess the wording.
      const reasons = found.map((r) => r.headers[DLQ.reason] ?? 'no reason header');
      // processing-failed is the stage's own verdict that a record breaks it; unless the record was declared
      // to (a culprit), a valid record dead-lettered so was lost by the stage, not by its data.
      const kind = reasons.includes('processing-failed')
        ? 'valid-record-dead-lettered'
        : 'valid-record-in-dlq';
      violations.push({
        kind,
        detail: `input ${key} is valid but in the DLQ at ${found.map(describeWritten).join(', ')} (reason ${reasons.join(', ')})`,
      });
    } else {
      unknownSources.push(key);
    }
  }
  return { violations, dlqRecords: bySource.size + unattributable, unknownSources, unattributable };
}

function tally(violations: readonly Violation[]): Partial<Record<ViolationKind, number>> {
  const byKind: Partial<Record<ViolationKind, number>> = {};
  for (const v of violations) byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
  return byKind;
}

export function audit(data: AuditData): AuditReport {
  const violations: Violation[] = [];
  const culprits = new Set((data.culprits ?? []).map((c) => recordKey(c.partition, c.offset)));
  const computed = recompute(data.input, data.windows, culprits);
  const enrichmentOf = enrichmentLookup(data.inventory);

  // §7: one rollup per (host, window) that had valid input, equal to the offline computation.
  const rollups = checkRollups(data, computed.windows, enrichmentOf);
  violations.push(...rollups.violations);

  // The state the stage would restore from equals the recomputation of what is not yet in closed windows.
  let changelogWindows = 0;
  if (data.changelogRead === true) {
    const changelog = checkChangelog(data.written, {
      partitions: data.partitions.map((p) => p.partition),
      open: rollups.open,
      streamTimes: computed.streamTimes,
      flushed: rollups.flushed,
      enrichmentOf,
    });
    violations.push(...changelog.violations);
    changelogWindows = changelog.windows;
  }

  // §4: every poison pill in the DLQ exactly once, and nothing else.
  const dlq = checkDeadLetters(data, computed.poison, computed.valid);
  violations.push(...dlq.violations);

  // §7: sum(rollup counts) + DLQ records = input records, where records still in open windows are in state.
  const inputRecords = data.input.length;
  const accounted = rollups.rollupRecordCount + dlq.dlqRecords + rollups.openWindowRecords;
  if (accounted !== inputRecords) {
    let detail =
      `rollup counts ${rollups.rollupRecordCount} + DLQ records ${dlq.dlqRecords} + open-window records ` +
      `${rollups.openWindowRecords} = ${accounted}, but input records = ${inputRecords}`;
    if (dlq.unknownSources.length > 0) {
      const shown = dlq.unknownSources.slice(0, DETAILS_PER_KIND).join(', ');
      const more = dlq.unknownSources.length > DETAILS_PER_KIND ? ', ...' : '';
      detail += `; DLQ records for input the auditor did not read: ${shown}${more}`;
    }
    if (dlq.unattributable > 0) detail += `; ${dlq.unattributable} DLQ records without source coordinates`;
    violations.push({ kind: 'count-mismatch', detail });
  }

  // §3: whole transactions, disjoint input ranges, every input record covered.
  const lineage = checkLineage(data.inputTopic, byPartition(data.input), data.written);
  violations.push(...lineage.violations);

  for (const e of data.ends) {
    if (e.committedEnd !== e.uncommittedEnd) {
      violations.push({
        kind: 'hanging-transaction',
        detail: `${e.topic} p${e.partition}: read_committed end ${e.committedEnd.toString()} but read_uncommitted end ${e.uncommittedEnd.toString()}`,
      });
    }
  }

  if (data.expectDrained) {
    for (const p of data.partitions) {
      // No committed offset is fine only when there was nothing to read.
      const position = p.committed ?? p.start;
      if (position !== p.end) {
        violations.push({
          kind: 'not-drained',
          detail: `input p${p.partition}: committed offset ${p.committed?.toString() ?? 'none'}, end offset ${p.end.toString()}`,
        });
      }
    }
  }

  return {
    violations,
    counts: {
      inputRecords,
      validRecords: computed.valid.size,
      poisonRecords: computed.poison.size,
      rollups: data.written.filter((r) => r.topic === 'output').length,
      rollupRecordCount: rollups.rollupRecordCount,
      dlqRecords: dlq.dlqRecords,
      openWindowRecords: rollups.openWindowRecords,
      expectedWindows: rollups.expectedWindows,
      openWindows: rollups.openWindows,
      attempts: lineage.attempts,
      changelogWindows,
    },
    byKind: tally(violations),
  };
}

/** Human-readable: counts first, then each violation kind present with up to 20 details. */
export function formatReport(report: AuditReport): string {
  const lines: string[] = [];
  const n = report.violations.length;
  lines.push(n === 0 ? 'audit: no violations' : `audit: ${n} violation${n === 1 ? '' : 's'}`);
  lines.push('counts:');
  for (const [name, value] of Object.entries(report.counts)) lines.push(`  ${name}: ${value}`);
  for (const kind of VIOLATION_KINDS) {
    const details = report.violations.filter((v) => v.kind === kind).map((v) => v.detail);
    if (details.length === 0) continue;
    lines.push(`${kind} (${details.length}):`);
    for (const detail of details.slice(0, DETAILS_PER_KIND)) lines.push(`  - ${detail}`);
    if (details.length > DETAILS_PER_KIND) lines.push(`  ... and ${details.length - DETAILS_PER_KIND} more`);
  }
  return lines.join('\n');
}
