/** What the peers print, read back: R0's summary table, K1's totals, S1's JSON status lines. Pure. */
import { quantile } from './stats.js';

/**
 * kafka-consumer-perf-test prints a header line (`start.time, end.time, …, fetch.nMsg.sec`) and one line of
 * values; fetch.nMsg.sec leaves out the group join, so it is the tool's own view of the raw read rate.
 */
export function parseR0Output(lines: readonly string[]): number | null {
  const headerIndex = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  if (headerIndex < 0) return null;
  const header = (lines[headerIndex] ?? '').split(',').map((s) => s.trim());
  const values = (lines[headerIndex + 1] ?? '').split(',').map((s) => s.trim());
  const column = header.indexOf('fetch.nMsg.sec');
  const value = Number(values[column]);
  return column >= 0 && Number.isFinite(value) ? value : null;
}

export interface K1Totals {
  batches: number;
  records: number;
  transactions: number;
}

/** K1 prints `{"k1":"eos"|"alo","batches":…,"records":…,"transactions":…}` when it stops. */
export function parseK1Totals(lines: readonly string[]): K1Totals | undefined {
  for (const line of [...lines].reverse()) {
    if (!line.startsWith('{"k1"')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
      return {
        batches: count(parsed.batches),
        records: count(parsed.records),
        transactions: count(parsed.transactions),
      };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface S1Stats {
  /** Transactions S1 timed. */
  commits: number | null;
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  /** Records Kafka Streams reports processed (process-total), from its last status line. */
  records: number | null;
  /** Rollups it wrote, from its last status line. */
  rollups: number | null;
}

interface S1StatusLine {
  ts?: number;
  state?: string;
  records?: number;
  txnCommitMs?: number[];
  rollups?: number;
  event?: string;
}

/**
 * S1 prints one JSON status line per second (bench/streams/README.md): `txnCommitMs` lists the commits timed since
 * the previous line, so all of them together give the run's commit latency distribution.
 */
export function parseS1Lines(lines: readonly string[]): S1Stats {
  const latencies: number[] = [];
  let last: S1StatusLine | undefined;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let parsed: S1StatusLine;
    try {
      parsed = JSON.parse(line) as S1StatusLine;
    } catch {
      continue;
    }
    if (parsed.event !== undefined) continue;
    for (const ms of parsed.txnCommitMs ?? []) if (Number.isFinite(ms)) latencies.push(ms);
    last = parsed;
  }
  return {
    commits: last ? latencies.length : null,
    commitP50Ms: quantile(latencies, 0.5),
    commitP99Ms: quantile(latencies, 0.99),
    records: typeof last?.records === 'number' ? last.records : null,
    rollups: typeof last?.rollups === 'number' ? last.rollups : null,
  };
}

/** The stage's pino lines: `msg` and `time` (epoch ms) plus whatever fields the line carries. */
export interface StageLogLine {
  msg: string;
  time: number;
  fields: Record<string, unknown>;
}

export function parseStageLog(line: string): StageLogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    const msg = parsed.msg;
    const time = parsed.time;
    if (typeof msg !== 'string' || typeof time !== 'number') return undefined;
    return { msg, time, fields: parsed };
  } catch {
    return undefined;
  }
}

/** S1's `{"event":"started"}` line: its state became RUNNING. */
export function isS1Started(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    return (JSON.parse(line) as S1StatusLine).event === 'started';
  } catch {
    return false;
  }
}
