/**
 * F08 — a zombie: instance A is SIGSTOPped past its session timeout, B takes its partitions over and fences its
 * producers; when A resumes (SIGCONT) it must commit nothing. The auditor finds every window exactly once.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForDrain, waitForLog } from '../support/pipeline.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, assertNoViolations, auditScenario, prepareScenario } from '../support/scenario.js';

const suite = useStageSuite();

test('F08: a SIGSTOPped zombie resumed after its successor took over is fenced and commits nothing', async () => {
  const { names } = await prepareScenario(suite, { seed: 108, hosts: 60, perHost: 150 });
  // Slow transactions keep A mid-stream when it is stopped.
  const zombie = suite.start(names, {
    ...FAULT_SETTINGS,
    INSTANCE_ID: 'zombie',
    EOS_ROLLUP_FAULT: 'before-commit@%100:stall40',
  });
  await waitForLog(zombie, /"msg":"task initialized"/, 30_000);
  await sleep(700);
  zombie.child.kill('SIGSTOP');
  const successor = suite.start(names, { ...FAULT_SETTINGS, INSTANCE_ID: 'successor' });
  await waitForDrain(suite.kafka, names, 90_000, [successor]);
  zombie.child.kill('SIGCONT');
  await sleep(4000);
  assert.equal((await successor.stop('SIGTERM')).code, 0);
  await zombie.stop('SIGTERM');
  assert.match(
    zombie.output(),
    /"kind":"fenced"|PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|task closed/,
    'the zombie noticed it lost its partitions',
  );
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});
