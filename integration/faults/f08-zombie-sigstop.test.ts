/**
 * F08 — a zombie: instance A is SIGSTOPped past its session timeout while one of its tasks is held inside a
 * transaction, B takes its partitions over and fences its producers; when A resumes (SIGCONT) and its held task
 * goes on to commit, the commit fails and nothing of it becomes visible. The auditor finds every window exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { release, waitForHeldTransactionFailure, waitUntilHeld } from '../support/fault-hold.js';
import { waitForDrain } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F08: a SIGSTOPped zombie resumed after its successor took over is fenced and commits nothing', async () => {
  const { names } = await prepareScenario(suite, { seed: 108, hosts: 60, perHost: 150 });
  // A is stopped only once a task of it is held with its transaction open: the zombie is mid-transaction.
  const zombie = suite.start(names, {
    ...FAULT_SETTINGS,
    INSTANCE_ID: 'zombie',
    EOS_ROLLUP_FAULT: 'before-commit@4:hold',
  });
  const held = await waitUntilHeld(zombie);
  zombie.child.kill('SIGSTOP');
  const successor = suite.start(names, { ...FAULT_SETTINGS, INSTANCE_ID: 'successor' });
  await waitForDrain(suite.kafka, names, 90_000, [successor]);
  zombie.child.kill('SIGCONT');
  release(zombie);
  const failure = await waitForHeldTransactionFailure(zombie, held);
  assert.equal(failure.kind, 'fenced', `the zombie's late commit was fenced: ${JSON.stringify(failure)}`);
  assert.equal((await successor.stop('SIGTERM')).code, 0);
  await zombie.stop('SIGTERM');
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
