/**
 * F22 — producer id expiry on an idle partition: a private broker forgets idle transactional ids after a few
 * seconds (transactional.id.expiration.ms). A task whose partition stayed idle that long finds its producer
 * expired at its next transaction; it must re-initialize (new producer, settled offset, restored state) and go
 * on, exactly once.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { repoRoot } from '../../scripts/stack/paths.js';
import { metrics } from '../../src/tools/workload.js';
import { produceFlush, produceWorkload, waitForDrain } from '../support/pipeline.js';
import { usePrivateBroker } from '../support/private-broker.js';
import {
  FAULT_SETTINGS,
  START_MS,
  assertNoViolations,
  auditScenario,
  prepareScenario,
} from '../support/scenario.js';

const EXPIRATION_MS = 3000;
const suite = usePrivateBroker({
  extraProperties: {
    'transactional.id.expiration.ms': String(EXPIRATION_MS),
    'transaction.remove.expired.transaction.cleanup.interval.ms': '1000',
    'producer.id.expiration.ms': String(EXPIRATION_MS),
    'producer.id.expiration.check.interval.ms': '1000',
  },
});

test('F22: a producer whose transactional id expired on an idle partition is replaced and nothing is lost or doubled', async () => {
  const { names, partitions } = await prepareScenario(suite, {
    seed: 122,
    partitions: 1,
    hosts: 10,
    perHost: 30,
  });
  const stage = suite.start(names, { ...FAULT_SETTINGS });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  // Idle until the broker has expired the task's transactional id, as Kafka's own tool reports it.
  await waitUntilExpired(suite.broker.brokers, `${names.appId}-${names.input}-0`, 90_000);
  const later = [
    ...metrics({ hosts: 10, perHost: 30, startMs: START_MS + 7_200_000, stepMs: 2000, seed: 222 }),
  ];
  await produceWorkload(suite.env, suite.kafka, names, partitions, later);
  await produceFlush(suite.env, suite.kafka, names, partitions, START_MS + 10_800_000);
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  assert.match(
    stage.output(),
    /PRODUCER_EXPIRED|PRODUCER_FENCED|INVALID_PRODUCER_ID_MAPPING|transaction failed/,
    'the expiry was met and handled',
  );
  assert.equal((await stage.stop('SIGTERM')).code, 0);
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
});

/** Polls `kafka-transactions describe` until the coordinator no longer knows the id. */
async function waitUntilExpired(brokers: string, transactionalId: string, timeoutMs: number): Promise<void> {
  const tool = join(repoRoot(), 'scripts', 'kafka-tool');
  const args = ['kafka-transactions', '--bootstrap-server', brokers, 'describe', '--transactional-id'];
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const { stdout } = await promisify(execFile)(tool, [...args, transactionalId]);
      last = stdout;
    } catch (error) {
      const output = String((error as { stderr?: unknown }).stderr ?? error);
      if (output.includes('could not be found')) return;
      last = output;
    }
    await sleep(EXPIRATION_MS / 3);
  }
  assert.fail(`${transactionalId} was not expired after ${timeoutMs} ms:\n${last}`);
}
