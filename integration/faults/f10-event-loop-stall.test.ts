/**
 * F10 — an event-loop stall longer than the session timeout: no heartbeats, the group gives the partitions to
 * the other instance, whose producers fence the stalled one's. When the loop runs again the stalled instance must
 * commit nothing of what it held.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F10: an instance whose event loop stalls past the session timeout is fenced and commits nothing stale', async () => {
  const { names } = await prepareScenario(suite, { seed: 110, hosts: 40, perHost: 150 });
  const stalled = suite.start(names, {
    ...FAULT_SETTINGS,
    INSTANCE_ID: 'stalled',
    EOS_ROLLUP_FAULT: 'before-commit@8:block6000',
  });
  const other = suite.start(names, { ...FAULT_SETTINGS, INSTANCE_ID: 'other' });
  await waitForDrain(suite.kafka, names, 120_000, [other]);
  await sleep(2000);
  assert.match(stalled.output(), /"point":"before-commit"/, 'the event loop really stalled');
  await other.stop('SIGTERM');
  await stalled.stop('SIGTERM');
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
