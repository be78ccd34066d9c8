/**
 * What one run of node's test runner did, test by test, and what several runs add up to: the repeat runner's
 * table of test × failures, and what each file cost. The runner's events become one JSON line each
 * (scripts/outcome-reporter.ts, on a side stream beside the spec reporter); everything here is pure.
 */

export interface TestOutcome {
  kind: 'test';
  file: string;
  name: string;
  ok: boolean;
  skipped: boolean;
  durationMs: number;
  /** When the reporter saw the result (ms since the epoch). */
  at: number;
  error?: string;
}

/** A whole file, hooks included (node runs each file as a test of its own, named by its path). */
export interface FileRun {
  kind: 'file';
  file: string;
  durationMs: number;
  at: number;
}

export type OutcomeLine = TestOutcome | FileRun;

/** The part of node's test runner events read here (node:test reporters receive `{ type, data }`). */
export interface RunnerEvent {
  type: string;
  data?: {
    name?: string;
    nesting?: number;
    file?: string;
    skip?: unknown;
    todo?: unknown;
    details?: { duration_ms?: number; error?: unknown };
  };
}

function errorText(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  // node wraps a test's own error as the `cause` of its ERR_TEST_FAILURE.
  const inner = (error as { cause?: unknown }).cause ?? error;
  const text = inner instanceof Error ? inner.message : JSON.stringify(inner);
  return text.split('\n')[0]?.slice(0, 200);
}

/**
 * One name per test file: with --enable-source-maps some events name the compiled file (dist/…/x.test.js), others
 * its source (…/x.test.ts).
 */
export function sourceFile(file: string): string {
  const compiled = /^(.*\/)dist\/(.+)\.js$/.exec(file);
  return compiled ? `${compiled[1]}${compiled[2]}.ts` : file;
}

/**
 * The line one event gives, if any: a test's result (top-level tests only: a file's tests, not their subtests),
 * or a file's wall time (the completion of the test node runs the file as, whose name is the file's path).
 */
export function outcomeLines(event: RunnerEvent, at: number): OutcomeLine[] {
  const data = event.data;
  if (data?.file === undefined || data.nesting !== 0) return [];
  const file = sourceFile(data.file);
  const lines: OutcomeLine[] = [];
  if (event.type === 'test:complete' && data.name === data.file) {
    lines.push({ kind: 'file', file, durationMs: data.details?.duration_ms ?? 0, at });
  }
  if ((event.type === 'test:pass' || event.type === 'test:fail') && data.name !== data.file) {
    const error = event.type === 'test:fail' ? errorText(data.details?.error) : undefined;
    lines.push({
      kind: 'test',
      file,
      name: data.name ?? '(unnamed)',
      ok: event.type === 'test:pass',
      skipped: Boolean(data.skip) || Boolean(data.todo),
      durationMs: data.details?.duration_ms ?? 0,
      at,
      ...(error === undefined ? {} : { error }),
    });
  }
  return lines;
}

/** The reporter's output back into lines; a line cut off by a killed run is dropped, not fatal. */
export function parseOutcomes(text: string): OutcomeLine[] {
  return text.split('\n').flatMap((line) => {
    if (!line.trim()) return [];
    try {
      const parsed = JSON.parse(line) as Partial<OutcomeLine>;
      return parsed.kind === 'test' || parsed.kind === 'file' ? [parsed as OutcomeLine] : [];
    } catch {
      return [];
    }
  });
}

export interface TestRow {
  file: string;
  name: string;
  /** Rounds in which the test reported a result. */
  runs: number;
  failures: number;
  /** Rounds in which it reported nothing: its file died or the run was cut short. */
  missing: number;
  meanMs: number;
  maxMs: number;
  /** The first failure's message, for the reader to start from. */
  firstError?: string;
}

/** Tests × rounds: failures first, then by file and name. */
export function tally(rounds: readonly (readonly OutcomeLine[])[]): TestRow[] {
  const rows = new Map<string, TestRow & { totalMs: number }>();
  for (const round of rounds) {
    for (const line of round) {
      if (line.kind !== 'test') continue;
      const key = `${line.file}\u0000${line.name}`;
      const row = rows.get(key) ?? {
        file: line.file,
        name: line.name,
        runs: 0,
        failures: 0,
        missing: 0,
        meanMs: 0,
        maxMs: 0,
        totalMs: 0,
      };
      row.runs += 1;
      if (!line.ok) {
        row.failures += 1;
        row.firstError ??= line.error;
      }
      row.totalMs += line.durationMs;
      row.maxMs = Math.max(row.maxMs, line.durationMs);
      rows.set(key, row);
    }
  }
  return [...rows.values()]
    .map(({ totalMs, ...row }) => ({
      ...row,
      missing: rounds.length - row.runs,
      meanMs: row.runs === 0 ? 0 : totalMs / row.runs,
    }))
    .sort(
      (a, b) =>
        b.failures + b.missing - (a.failures + a.missing) ||
        a.file.localeCompare(b.file) ||
        a.name.localeCompare(b.name),
    );
}

export interface FileCost {
  file: string;
  /** Wall time per round, hooks (broker starts) included. */
  meanMs: number;
  maxMs: number;
}

/** What each file cost per round, slowest first. */
export function fileCosts(rounds: readonly (readonly OutcomeLine[])[]): FileCost[] {
  const samples = new Map<string, number[]>();
  for (const round of rounds) {
    for (const line of round) {
      if (line.kind !== 'file') continue;
      samples.set(line.file, [...(samples.get(line.file) ?? []), line.durationMs]);
    }
  }
  return [...samples]
    .map(([file, list]) => ({
      file,
      meanMs: list.reduce((sum, ms) => sum + ms, 0) / list.length,
      maxMs: Math.max(...list),
    }))
    .sort((a, b) => b.meanMs - a.meanMs);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A path relative to `root` when it is under it, for a narrower table. */
function shortPath(file: string, root: string): string {
  return root && file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

/** The report: one row per test with its failures out of `rounds`, then the files by cost. */
export function formatReport(
  rows: readonly TestRow[],
  costs: readonly FileCost[],
  rounds: number,
  root = '',
): string {
  const failing = rows.filter((row) => row.failures + row.missing > 0).length;
  const lines = [
    `${rows.length} tests × ${rounds} rounds: ${failing === 0 ? 'no failures' : `${failing} tests failed at least once`}`,
    '',
    `${'failures'.padStart(8)} ${'missing'.padStart(7)} ${'mean'.padStart(7)} ${'max'.padStart(7)}  test (file)`,
    ...rows.map(
      (row) =>
        `${`${row.failures}/${rounds}`.padStart(8)} ${String(row.missing).padStart(7)} ${seconds(row.meanMs).padStart(7)} ${seconds(row.maxMs).padStart(7)}  ${row.name} (${shortPath(row.file, root)})` +
        (row.firstError ? `\n${' '.repeat(34)}first failure: ${row.firstError}` : ''),
    ),
    '',
    `${'mean'.padStart(8)} ${'max'.padStart(8)}  file (wall time per round)`,
    ...costs.map(
      (cost) =>
        `${seconds(cost.meanMs).padStart(8)} ${seconds(cost.maxMs).padStart(8)}  ${shortPath(cost.file, root)}`,
    ),
  ];
  return lines.join('\n');
}
