/**
 * Transaction-level proofs from the lineage headers (design §3): no transaction is torn, no input range is
 * covered by two transactions, every input record is covered by one.
 */
import { readLineage, type AuditLineage as Lineage } from './contract.js';
import type { AuditInputRecord, AuditWrittenRecord, Violation } from './types.js';

/** The records of one transaction: all carry the same lineage headers. */
interface Attempt {
  lineage: Lineage;
  records: AuditWrittenRecord[];
}

interface Range {
  first: bigint;
  last: bigint;
  attemptId: string;
}

export function describeWritten(r: AuditWrittenRecord): string {
  return `${r.topic} p${r.partition}@${r.offset.toString()}`;
}

function compareBigints(a: bigint, b: bigint): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** Every lineage header, not the attempt id alone: a reused id must not merge two transactions into one. */
function transactionKey(l: Lineage): string {
  return JSON.stringify([
    l.attemptId,
    l.sourceTopic,
    l.sourcePartition,
    l.firstOffset.toString(),
    l.lastOffset.toString(),
    l.recordCount,
  ]);
}

function describeRange(first: bigint, last: bigint): string {
  return first === last ? `offset ${first.toString()}` : `offsets ${first.toString()}-${last.toString()}`;
}

function describeAttempt(a: Attempt): string {
  const l = a.lineage;
  const covers =
    l.firstOffset > l.lastOffset
      ? 'no input'
      : `${l.sourceTopic} p${l.sourcePartition} ${describeRange(l.firstOffset, l.lastOffset)}`;
  return `attempt ${JSON.stringify(l.attemptId)} (${covers})`;
}

export interface LineageFindings {
  violations: Violation[];
  attempts: number;
}

export function checkLineage(
  inputTopic: string,
  input: ReadonlyMap<number, readonly AuditInputRecord[]>,
  written: readonly AuditWrittenRecord[],
): LineageFindings {
  const violations: Violation[] = [];
  const attempts = new Map<string, Attempt>();
  const keysById = new Map<string, Set<string>>();
  for (const record of written) {
    const lineage = readLineage(record.headers);
    if (lineage === null) {
      violations.push({
        kind: 'torn-transaction',
        detail: `${describeWritten(record)} has no valid lineage headers: it cannot be tied to a whole transaction`,
      });
      continue;
    }
    const key = transactionKey(lineage);
    const attempt = attempts.get(key);
    if (attempt === undefined) attempts.set(key, { lineage, records: [record] });
    else attempt.records.push(record);
    const keys = keysById.get(lineage.attemptId) ?? new Set<string>();
    keys.add(key);
    keysById.set(lineage.attemptId, keys);
  }

  // An attempt id names one transaction (design §3). Records that share an id but not the rest of the lineage
  // are either a reused id or a transaction whose records disagree: either way it cannot be proven whole.
  for (const [id, keys] of keysById) {
    if (keys.size < 2) continue;
    const variants = [...keys].map((key) => {
      const a = attempts.get(key);
      return a === undefined
        ? key
        : `${describeAttempt(a)} declaring ${a.lineage.recordCount} records at ${a.records.map(describeWritten).join(', ')}`;
    });
    violations.push({
      kind: 'torn-transaction',
      detail: `attempt id ${JSON.stringify(id)} carries ${keys.size} different lineages: ${variants.join('; ')}`,
    });
  }

  // Assumption: no changelog record was removed by compaction yet (runs are audited within
  // min.compaction.lag.ms of being written), so every record a committed transaction wrote is still visible
  // and a transaction with fewer visible records than it declared is torn, as is one with more.
  for (const attempt of attempts.values()) {
    const visible = attempt.records.length;
    if (visible !== attempt.lineage.recordCount) {
      const byTopic = { output: 0, dlq: 0, changelog: 0 };
      for (const r of attempt.records) byTopic[r.topic] += 1;
      violations.push({
        kind: 'torn-transaction',
        detail:
          `${describeAttempt(attempt)} declared ${attempt.lineage.recordCount} records but ${visible} are visible ` +
          `(output ${byTopic.output}, dlq ${byTopic.dlq}, changelog ${byTopic.changelog})`,
      });
    }
  }

  const ranges = new Map<number, Range[]>();
  // Lineages of one id that differ only in their record count (already reported) cover the same range once.
  const seen = new Set<string>();
  for (const attempt of attempts.values()) {
    const l = attempt.lineage;
    if (l.sourceTopic !== inputTopic) continue;
    const rangeKey = JSON.stringify([
      l.attemptId,
      l.sourcePartition,
      l.firstOffset.toString(),
      l.lastOffset.toString(),
    ]);
    if (seen.has(rangeKey)) continue;
    seen.add(rangeKey);
    const first = l.firstOffset;
    const last = l.lastOffset;
    // first > last: a transaction that covered no input record (an idle flush, or only transaction markers).
    if (first > last) continue;
    const list = ranges.get(l.sourcePartition);
    const range = { first, last, attemptId: l.attemptId };
    if (list === undefined) ranges.set(l.sourcePartition, [range]);
    else list.push(range);
  }
  for (const list of ranges.values()) {
    list.sort((a, b) => compareBigints(a.first, b.first) || compareBigints(a.last, b.last));
  }

  for (const [partition, list] of [...ranges].sort(([a], [b]) => a - b)) {
    // Sweep in order of first offset, keeping the range that reaches furthest: every range that overlaps an
    // earlier one overlaps that one, so each offending range is reported at least once.
    let reach: Range | undefined;
    for (const range of list) {
      if (reach !== undefined && range.first <= reach.last) {
        const overlapEnd = range.last < reach.last ? range.last : reach.last;
        violations.push({
          kind: 'input-covered-twice',
          detail:
            `p${partition} ${describeRange(range.first, overlapEnd)} covered by attempt ${JSON.stringify(reach.attemptId)} ` +
            `(${describeRange(reach.first, reach.last)}) and attempt ${JSON.stringify(range.attemptId)} (${describeRange(range.first, range.last)})`,
        });
      }
      if (reach === undefined || range.last > reach.last) reach = range;
    }
  }

  for (const [partition, records] of [...input].sort(([a], [b]) => a - b)) {
    const list = ranges.get(partition) ?? [];
    let next = 0;
    let maxLast = -1n;
    let run: { first: bigint; last: bigint; count: number } | undefined;
    const flush = (): void => {
      if (run === undefined) return;
      violations.push({
        kind: 'input-not-covered',
        detail: `p${partition} ${describeRange(run.first, run.last)} (${run.count} record${run.count === 1 ? '' : 's'}) in no transaction's lineage range`,
      });
      run = undefined;
    };
    for (const record of records) {
      // Ranges are sorted by first offset and records by offset: advance over every range starting at or before it.
      for (let r = list[next]; r !== undefined && r.first <= record.offset; r = list[++next]) {
        if (r.last > maxLast) maxLast = r.last;
      }
      if (maxLast >= record.offset) {
        flush();
      } else if (run === undefined) {
        run = { first: record.offset, last: record.offset, count: 1 };
      } else {
        run.last = record.offset;
        run.count += 1;
      }
    }
    flush();
  }

  return { violations, attempts: attempts.size };
}
