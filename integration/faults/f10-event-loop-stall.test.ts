/**
 * F10 — an event-loop stall longer than the session timeout: no heartbeats, the group gives the partitions to
 * the other instance, whose producers fence the stalled one's. When the loop runs again the stalled instance must
 * commit nothing of what it held.
 */
import { test } from 'node:test';
import { waitForLine } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F10: an instance whose event loop stalls past the session timeout is fenced and commits nothing stale', async () => {
  const { names } = await prepareScenario(suite, { seed: 110, hosts: 40, perHost: 150 });
  const blockMs = 6000;
  const stalled = suite.start(names, {
    ...FAULT_SETTINGS,
    INSTANCE_ID: 'stalled',
    EOS_ROLLUP_FAULT: `before-commit@8:block${blockMs}`,
  });
  // The other instance starts only once the loop is blocked (the line is written just before): the stalled one
  // owns every partition then, so whatever it holds must move, whoever would have joined first.
  const blocked = await waitForLine(
    stalled,
    'the event loop blocked at its fault point',
    (l) => l.msg === 'injecting fault' && l.fault?.action === 'block',
    90_000,
  );
  const other = suite.start(names, { ...FAULT_SETTINGS, INSTANCE_ID: 'other' });
  await waitForDrain(suite.kafka, names, 120_000, [other]);
  // Its loop ran again before the audit: anything it still committed would be seen.
  const blockedAt = Number(blocked.time);
  await waitForLine(
    stalled,
    'a line written after the block ended',
    (l) => Number(l.time) >= blockedAt + blockMs,
    90_000,
  );
  await other.stop('SIGTERM');
  await stalled.stop('SIGTERM');
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
