/**
 * F07 — an orphaned open transaction (its owner hung before commit, then was SIGKILLed) blocks read_committed
 * on the partitions it wrote until another instance takes the partition over: the successor's InitProducerId
 * aborts it, and the run ends exactly once with no hanging transaction.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { waitUntilHeld } from '../support/fault-hold.js';
import { useStageSuite } from '../support/stage-suite.js';
import {
  FAULT_SETTINGS,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';

const suite = useStageSuite();

test('F07: an orphaned open transaction is aborted by the next owner and nothing hangs', async () => {
  const { names } = await prepareScenario(suite, { seed: 107, partitions: 1 });
  // Held and never released: the owner stays inside its transaction until it is killed.
  const owner = suite.start(names, { ...FAULT_SETTINGS, EOS_ROLLUP_FAULT: 'before-commit@3:hold' });
  // First the owner must be held at its fault point (a transaction open for good), not merely between commits.
  await waitUntilHeld(owner);
  const deadline = Date.now() + 30_000;
  let open = false;
  while (!open && Date.now() < deadline) {
    await sleep(200);
    // The stage creates the changelog at start; until then there is nothing to look at.
    const ends = await Promise.all([
      partitionRanges(suite.kafka, names.changelog, 'read_committed'),
      partitionRanges(suite.kafka, names.changelog, 'read_uncommitted'),
    ]).catch(() => undefined);
    const stable = ends?.[0].get(0)?.end;
    const high = ends?.[1].get(0)?.end;
    open = stable !== undefined && high !== undefined && stable < high;
  }
  assert.ok(open, 'the hung owner left an open transaction: LSO < high watermark on its changelog partition');
  assert.deepEqual(await owner.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });

  assert.equal((await runOnce(suite, names, {})).exit.code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.ok(outcome.abortedRecords > 0, 'the orphan’s records were aborted, not committed');
});
