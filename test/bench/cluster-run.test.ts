import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { readClusterScenarios } from '../../bench/lib/cluster-run.js';

const line = (event: object): string => JSON.stringify(event);

void test('cluster scenarios: each strike test with the stall and violations of the diagnostic that follows it', () => {
  const lines = [
    line({ type: 'test:pass', name: 'cluster: three nodes form one cluster' }),
    line({
      type: 'test:pass',
      name: 'cluster: the leader of an input partition is SIGKILLed mid-transaction under load',
    }),
    line({
      type: 'test:diagnostic',
      message:
        'leader of t-0: node 2 SIGKILLed; longest stall 7001 ms over 90 samples; from the strike on 6580 ms; input produced live 900 (failed sends retried 1); aborted records 12; violations 0',
    }),
    'not json: a stray line',
    line({ type: 'test:fail', name: 'cluster soak: all three nodes are rolled one at a time under load' }),
    line({
      type: 'test:diagnostic',
      message: 'rolled every node; longest stall 2070 ms over 80 samples; violations 2 (duplicate 2)',
    }),
    line({
      type: 'test:pass',
      name: 'cluster soak: a transaction coordinator is SIGSTOPped past the session timeout, then SIGCONT',
    }),
    line({ type: 'test:plan' }),
    line({ type: 'test:diagnostic', message: 'tests 4' }),
  ];
  const scenarios = readClusterScenarios(lines);
  assert.deepEqual(
    scenarios.map((s) => [s.test.slice(0, 22), s.kind, s.passed, s.stallFromStrikeS, s.violations]),
    [
      ['the leader of an input', 'kill', true, 6.58, 0],
      ['all three nodes are ro', 'roll', false, 2.07, 2],
      ['a transaction coordina', 'pause', true, null, null],
    ],
  );
  assert.equal(scenarios[2]?.detail, '', "the runner's summary is not a scenario's diagnostic");
});
