/** Names of the lineage headers on every record the stage writes (design §3). */
export const LINEAGE_HEADERS = {
  sourceTopic: 'eos-rollup.source.topic',
  sourcePartition: 'eos-rollup.source.partition',
  firstOffset: 'eos-rollup.source.offset.first',
  lastOffset: 'eos-rollup.source.offset.last',
  attempt: 'eos-rollup.txn.attempt',
  records: 'eos-rollup.txn.records',
} as const;

/** What one transaction covers: an auditor can prove from it that none is torn and no input range repeats. */
export interface Lineage {
  sourceTopic: string;
  sourcePartition: number;
  /** Decimal strings, as Kafka clients carry offsets. */
  firstOffset: string;
  lastOffset: string;
  attemptId: string;
  /** Every record the transaction wrote: output, DLQ and changelog together. */
  recordCount: number;
}

/** Header values as Kafka clients deliver them; a repeated header arrives as an array. */
export type HeaderValue = Uint8Array | string | (Uint8Array | string)[] | undefined;

export function lineageHeaders(l: Lineage): Record<string, string> {
  return {
    [LINEAGE_HEADERS.sourceTopic]: l.sourceTopic,
    [LINEAGE_HEADERS.sourcePartition]: String(l.sourcePartition),
    [LINEAGE_HEADERS.firstOffset]: l.firstOffset,
    [LINEAGE_HEADERS.lastOffset]: l.lastOffset,
    [LINEAGE_HEADERS.attempt]: l.attemptId,
    [LINEAGE_HEADERS.records]: String(l.recordCount),
  };
}

/** Unique across restarts and re-assignments as long as instance ids are: the counter alone repeats. */
export function attemptId(instanceId: string, taskCounter: number): string {
  return `${instanceId}#${taskCounter}`;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * UTF-8 text of a single header value. A repeated header is ambiguous, and bytes that are not UTF-8 were not
 * written by us: both read as absent (null).
 */
export function headerText(value: HeaderValue): string | null {
  if (value === undefined || Array.isArray(value)) return null;
  if (typeof value === 'string') return value;
  try {
    return utf8.decode(value);
  } catch {
    return null;
  }
}

function safeCount(value: string | null): number | null {
  if (value === null || !DECIMAL.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * For the auditor; null when any header is absent or malformed. Only the syntax is checked: whether the
 * offsets make sense (first <= last, ranges disjoint) is the auditor's finding to report, not to hide.
 */
export function parseLineage(headers: Readonly<Record<string, HeaderValue>>): Lineage | null {
  const sourceTopic = headerText(headers[LINEAGE_HEADERS.sourceTopic]);
  const sourcePartition = safeCount(headerText(headers[LINEAGE_HEADERS.sourcePartition]));
  const firstOffset = headerText(headers[LINEAGE_HEADERS.firstOffset]);
  const lastOffset = headerText(headers[LINEAGE_HEADERS.lastOffset]);
  const attempt = headerText(headers[LINEAGE_HEADERS.attempt]);
  const recordCount = safeCount(headerText(headers[LINEAGE_HEADERS.records]));
  if (
    sourceTopic === null ||
    sourceTopic === '' ||
    sourcePartition === null ||
    firstOffset === null ||
    !DECIMAL.test(firstOffset) ||
    lastOffset === null ||
    !DECIMAL.test(lastOffset) ||
    attempt === null ||
    attempt === '' ||
    recordCount === null
  ) {
    return null;
  }
  return { sourceTopic, sourcePartition, firstOffset, lastOffset, attemptId: attempt, recordCount };
}
