/**
 * F05 — repeated random SIGKILL of one of two instances while records flow: every kill forces a rebalance, a
 * fencing and a restore; at the end the auditor finds the run exactly once. The first two kills are placed inside
 * an open transaction (the instance is held there first); the others land wherever chance puts them.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { runChaos } from '../support/chaos.js';
import { useStageSuite } from '../support/stage-suite.js';
import { assertNoViolations } from '../support/scenario.js';

const suite = useStageSuite();
const HELD_STRIKES = 2;

test('F05: random SIGKILLs of one of two instances under live load leave no violation', async () => {
  const result = await runChaos(suite.env, suite.kafka, {
    durationMs: 20_000,
    instances: 2,
    partitions: 4,
    seed: 5,
    faultEveryMs: [2500, 4500],
    zombieShare: 0,
    heldStrikes: HELD_STRIKES,
  });
  console.log(
    `# F05: ${result.kills} kills (${result.heldKills} held inside a transaction, ${result.killsInsideOpenTransaction} of the random ones while a transaction was open), ${result.fencingsObserved} fencings, ${result.recordsProduced} records`,
  );
  assert.ok(result.kills >= 3, `instances were killed (${result.kills})`);
  assert.equal(result.heldKills, HELD_STRIKES, 'the placed kills struck instances held inside a transaction');
  assertNoViolations(result.outcome);
});
