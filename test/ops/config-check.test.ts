/** config check's order, stopping rule and wording, and config print's redaction, without Kafka. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  effectiveSettings,
  formatCheckLine,
  runLiveChecks,
  settingsLines,
  type LiveProbes,
} from '../../src/ops/config-check.js';

function probes(failing: Partial<Record<keyof LiveProbes, string>>): {
  probes: LiveProbes;
  called: string[];
} {
  const called: string[] = [];
  const probe = (name: keyof LiveProbes) => () => {
    called.push(name);
    const problem = failing[name];
    return problem === undefined ? Promise.resolve(`${name} fine`) : Promise.reject(new Error(problem));
  };
  return {
    called,
    probes: {
      broker: probe('broker'),
      registry: probe('registry'),
      topics: probe('topics'),
      acls: probe('acls'),
      transactionTimeout: probe('transactionTimeout'),
    },
  };
}

test('all checks run in order and pass', async () => {
  const { probes: p, called } = probes({});
  const lines = await runLiveChecks(p);
  assert.deepEqual(called, ['broker', 'registry', 'topics', 'acls', 'transactionTimeout']);
  assert.ok(lines.every((l) => l.ok));
  assert.equal(formatCheckLine(lines[0]!), 'ok      broker: broker fine');
});

test('an unreachable broker skips the Kafka checks with a line naming KAFKA_BROKERS; the registry is still asked', async () => {
  const { probes: p, called } = probes({ broker: 'connection refused (KAFKA_BROKERS)' });
  const lines = (await runLiveChecks(p)).map(formatCheckLine);
  assert.deepEqual(called, ['broker', 'registry']);
  assert.deepEqual(lines, [
    'PROBLEM broker: connection refused (KAFKA_BROKERS)',
    'ok      registry: registry fine',
    'PROBLEM topics: not checked: the broker is unreachable (KAFKA_BROKERS)',
    'PROBLEM acls: not checked: the broker is unreachable (KAFKA_BROKERS)',
    'PROBLEM transaction timeout: not checked: the broker is unreachable (KAFKA_BROKERS)',
  ]);
});

test('a probe reporting several problems gives one line each', async () => {
  const { probes: p } = probes({
    topics: 'input missing (INPUT_TOPIC)\ninventory missing (INVENTORY_TOPIC)',
  });
  const failed = (await runLiveChecks(p)).filter((l) => !l.ok).map(formatCheckLine);
  assert.deepEqual(failed, [
    'PROBLEM topics: input missing (INPUT_TOPIC)',
    'PROBLEM topics: inventory missing (INVENTORY_TOPIC)',
  ]);
});

test('settings: one line per problem, or one ok line', () => {
  assert.deepEqual(settingsLines([], 'app'), [{ check: 'settings', ok: true, detail: 'APP_ID=app' }]);
  assert.deepEqual(settingsLines(['A is wrong', 'B is wrong'], '').map(formatCheckLine), [
    'PROBLEM settings: A is wrong',
    'PROBLEM settings: B is wrong',
  ]);
});

test('effective settings: set value or default, in table order, secrets and values containing them redacted', () => {
  const table = [
    { name: 'URL', default: undefined, secret: false },
    { name: 'WINDOW', default: '60000', secret: false },
    { name: 'PASSWORD', default: undefined, secret: true },
    { name: 'EMPTY', default: undefined, secret: false },
  ];
  assert.deepEqual(
    effectiveSettings(table, { URL: 'https://u:s3cret@host', PASSWORD: 's3cret', WINDOW: '' }, ['s3cret']),
    [
      ['URL', '[redacted]'],
      ['WINDOW', '60000'],
      ['PASSWORD', '[redacted]'],
      ['EMPTY', ''],
    ],
  );
});
