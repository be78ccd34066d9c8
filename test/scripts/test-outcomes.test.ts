import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  fileCosts,
  formatReport,
  outcomeLines,
  parseOutcomes,
  sourceFile,
  tally,
  type OutcomeLine,
  type TestOutcome,
} from '../../scripts/test-outcomes.js';

const A = '/repo/integration/faults/a.test.ts';
const B = '/repo/integration/faults/b.test.ts';

function result(file: string, name: string, ok: boolean, durationMs: number, at: number): TestOutcome {
  return { kind: 'test', file, name, ok, skipped: false, durationMs, at };
}

test('runner events become a file start and top-level results; subtests and other events are left out', () => {
  const seen = new Set<string>();
  const error = Object.assign(new Error('test failed'), {
    cause: new Error('the stage saw failed transactions\nmore'),
  });
  const lines = [
    ...outcomeLines({ type: 'test:start', data: { name: 'F1', nesting: 0, file: A } }, 100, seen),
    ...outcomeLines({ type: 'test:pass', data: { name: 'inner', nesting: 1, file: A } }, 150, seen),
    ...outcomeLines(
      { type: 'test:fail', data: { name: 'F1', nesting: 0, file: A, details: { duration_ms: 42, error } } },
      200,
      seen,
    ),
    ...outcomeLines({ type: 'test:pass', data: { name: 'F2', nesting: 0, file: A, skip: true } }, 210, seen),
    ...outcomeLines({ type: 'test:diagnostic', data: { nesting: 0 } }, 220, seen),
  ];
  assert.deepEqual(lines, [
    { kind: 'file', file: A, at: 100 },
    {
      kind: 'test',
      file: A,
      name: 'F1',
      ok: false,
      skipped: false,
      durationMs: 42,
      at: 200,
      error: 'the stage saw failed transactions',
    },
    { kind: 'test', file: A, name: 'F2', ok: true, skipped: true, durationMs: 0, at: 210 },
  ]);
});

test('a compiled test file and its source are one file', () => {
  const seen = new Set<string>();
  const lines = [
    ...outcomeLines(
      { type: 'test:enqueue', data: { nesting: 0, file: '/r/dist/integration/x.test.js' } },
      1,
      seen,
    ),
    ...outcomeLines(
      { type: 'test:pass', data: { name: 'X', nesting: 0, file: '/r/integration/x.test.ts' } },
      9,
      seen,
    ),
  ];
  assert.deepEqual(
    lines.map((l) => [l.kind, l.file, l.at]),
    [
      ['file', '/r/integration/x.test.ts', 1],
      ['test', '/r/integration/x.test.ts', 9],
    ],
  );
  assert.equal(sourceFile('/r/integration/support/x.ts'), '/r/integration/support/x.ts');
});

test('outcome lines survive a round trip, and a line cut off by a killed run is dropped', () => {
  const lines: OutcomeLine[] = [{ kind: 'file', file: A, at: 1 }, result(A, 'F1', true, 5, 2)];
  const text = `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"kind":"test","file":"/x`;
  assert.deepEqual(parseOutcomes(text), lines);
  assert.deepEqual(parseOutcomes(''), []);
});

test('the tally counts failures and missing rounds per test, failures first', () => {
  const rounds: OutcomeLine[][] = [
    [result(A, 'F1', true, 1000, 0), result(B, 'F2', true, 3000, 0)],
    [result(A, 'F1', false, 2000, 0), result(B, 'F2', true, 1000, 0)],
    [{ ...result(A, 'F1', false, 3000, 0), error: 'second' }],
  ];
  rounds[1]![0] = { ...rounds[1]![0]!, error: 'first' } as TestOutcome;
  const rows = tally(rounds);
  assert.deepEqual(
    rows.map((r) => [r.name, r.runs, r.failures, r.missing, r.meanMs, r.maxMs, r.firstError]),
    [
      ['F1', 3, 2, 0, 2000, 3000, 'first'],
      ['F2', 2, 0, 1, 2000, 3000, undefined],
    ],
  );
});

test('a file costs the wall time to the next file’s start; the last one to the round’s last result', () => {
  const round: OutcomeLine[] = [
    { kind: 'file', file: A, at: 1000 },
    result(A, 'F1', true, 500, 4000),
    { kind: 'file', file: B, at: 5000 },
    result(B, 'F2', true, 500, 6000),
  ];
  const later = round.map((line) => (line.kind === 'test' && line.file === B ? { ...line, at: 8000 } : line));
  assert.deepEqual(fileCosts([round, later]), [
    { file: A, meanMs: 4000, maxMs: 4000 },
    { file: B, meanMs: 2000, maxMs: 3000 },
  ]);
});

test('the report names each test with its failures out of the rounds, and each file with its cost', () => {
  const rows = tally([
    [{ ...result(A, 'F1', false, 1500, 0), error: 'boom' }, result(B, 'F2', true, 500, 0)],
  ]);
  const text = formatReport(rows, [{ file: A, meanMs: 61_000, maxMs: 61_000 }], 1, '/repo');
  assert.match(text, /^2 tests × 1 rounds: 1 tests failed at least once/);
  assert.match(text, /^\s+1\/1\s+0\s+1\.5s\s+1\.5s {2}F1 \(integration\/faults\/a\.test\.ts\)$/m);
  assert.match(text, /first failure: boom/);
  assert.match(text, /^\s+0\/1\s+0\s+0\.5s\s+0\.5s {2}F2 /m);
  assert.match(text, /^\s+61\.0s\s+61\.0s {2}integration\/faults\/a\.test\.ts$/m);
  assert.match(formatReport(tally([[result(A, 'F1', true, 1, 0)]]), [], 3), /no failures/);
});

test('the outcome reporter, loaded by node’s test runner, writes what the runner saw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-outcomes-'));
  try {
    const fixture = join(dir, 'fixture.test.js');
    writeFileSync(
      fixture,
      [
        "const { test } = require('node:test');",
        "test('passes', () => {});",
        "test('fails', () => { throw new Error('on purpose'); });",
        "test('has a subtest', async (t) => { await t.test('inner', () => {}); });",
      ].join('\n'),
    );
    const outcomes = join(dir, 'outcomes.jsonl');
    const run = spawnSync(
      process.execPath,
      [
        '--test',
        `--test-reporter=${join(__dirname, '../../scripts/outcome-reporter.js')}`,
        `--test-reporter-destination=${outcomes}`,
        fixture,
      ],
      // Without this variable the child is a test run of its own, not a part of this one.
      { encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    );
    assert.equal(run.status, 1, 'the fixture has a failing test');
    const lines = parseOutcomes(readFileSync(outcomes, 'utf8'));
    assert.deepEqual(
      lines.map((l) => (l.kind === 'file' ? 'file' : `${l.name} ${l.ok ? 'ok' : `failed: ${l.error}`}`)),
      ['file', 'passes ok', 'fails failed: on purpose', 'has a subtest ok'],
    );
    assert.ok(lines.every((l) => l.file === fixture));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
