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
  type RunnerEvent,
  type TestOutcome,
} from '../../scripts/test-outcomes.js';

const A = '/repo/integration/faults/a.test.ts';
const B = '/repo/integration/faults/b.test.ts';

function result(file: string, name: string, ok: boolean, durationMs: number, at: number): TestOutcome {
  return { kind: 'test', file, name, ok, skipped: false, durationMs, at };
}

test('runner events become top-level results and file wall times; subtests and other events are left out', () => {
  const error = Object.assign(new Error('test failed'), {
    cause: new Error('the stage saw failed transactions\nmore'),
  });
  const compiled = '/repo/dist/integration/faults/a.test.js';
  const events: RunnerEvent[] = [
    { type: 'test:enqueue', data: { name: compiled, nesting: 0, file: compiled } },
    { type: 'test:start', data: { name: 'F1', nesting: 0, file: A } },
    { type: 'test:pass', data: { name: 'inner', nesting: 1, file: A } },
    { type: 'test:fail', data: { name: 'F1', nesting: 0, file: A, details: { duration_ms: 42, error } } },
    { type: 'test:pass', data: { name: 'F2', nesting: 0, file: A, skip: true } },
    { type: 'test:diagnostic', data: { nesting: 0 } },
    {
      type: 'test:complete',
      data: { name: compiled, nesting: 0, file: compiled, details: { duration_ms: 900 } },
    },
  ];
  assert.deepEqual(
    events.flatMap((event, i) => outcomeLines(event, 100 * i)),
    [
      {
        kind: 'test',
        file: A,
        name: 'F1',
        ok: false,
        skipped: false,
        durationMs: 42,
        at: 300,
        error: 'the stage saw failed transactions',
      },
      { kind: 'test', file: A, name: 'F2', ok: true, skipped: true, durationMs: 0, at: 400 },
      { kind: 'file', file: A, durationMs: 900, at: 600 },
    ],
  );
});

test('a compiled test file and its source are one file', () => {
  assert.equal(sourceFile('/r/dist/integration/x.test.js'), '/r/integration/x.test.ts');
  assert.equal(sourceFile('/r/integration/support/x.ts'), '/r/integration/support/x.ts');
});

test('outcome lines survive a round trip, and a line cut off by a killed run is dropped', () => {
  const lines: OutcomeLine[] = [{ kind: 'file', file: A, durationMs: 7, at: 1 }, result(A, 'F1', true, 5, 2)];
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

test('a file costs its own wall time per round, slowest first', () => {
  const file = (path: string, durationMs: number): OutcomeLine => ({
    kind: 'file',
    file: path,
    durationMs,
    at: 0,
  });
  assert.deepEqual(
    fileCosts([[file(A, 4000), file(B, 1000)], [file(A, 4000), file(B, 3000)], [file(A, 4000)]]),
    [
      { file: A, meanMs: 4000, maxMs: 4000 },
      { file: B, meanMs: 2000, maxMs: 3000 },
    ],
  );
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
      ['passes ok', 'fails failed: on purpose', 'has a subtest ok', 'file'],
    );
    assert.ok(lines.every((l) => l.file === fixture));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
