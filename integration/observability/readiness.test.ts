/**
 * Contract: /readyz tells the truth through a stage's life, polled from the test process.
 * - From the moment the endpoint listens until the inventory has caught up and every assigned task has restored
 *   its state, it answers 503 and names what is missing (the inventory, then the restoring partition); it answers
 *   200 only after the task's `state restored` log line. The restore is made to take a few seconds by a stall
 *   fault inside it, over a changelog left by an earlier run.
 * - A registry outage (a cuttable TCP proxy in front of it) while records with an unseen writer schema arrive
 *   makes the partition's circuit breaker open: /readyz answers 503 naming the quarantined partition, and
 *   /metrics shows the breaker not closed and the task quarantined. When the registry is back, the breaker
 *   closes and /readyz answers 200 again. /healthz answers 200 throughout: none of this is a dead process.
 */
import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { freePort } from '../../scripts/stack/local-stack.js';
import { metrics } from '../../src/tools/workload.js';
import {
  createPipeline,
  loadInventory,
  metricEncoder,
  produceRaw,
  waitForDrain,
} from '../support/pipeline.js';
import { START_MS } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, probe, scrape, type Probe } from './scrape.js';

const suite = useStageSuite();

test('/readyz is 503 until the inventory caught up and the restore finished, 503 while a partition is quarantined, 200 otherwise', async () => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const workload = [...metrics({ hosts: 20, perHost: 40, startMs: START_MS, stepMs: 2000, seed: 51 })];
  const toRecord = (encode: (m: (typeof workload)[number]) => Buffer) => (m: (typeof workload)[number]) => ({
    partition: 0,
    key: Buffer.from(m.host),
    value: encode(m),
  });
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  await produceRaw(suite.kafka, names.input, workload.slice(0, 400).map(toRecord((m) => v2.encode(m))));

  // A first run leaves open windows in the changelog for the next one to restore.
  const first = suite.start(names);
  await waitForDrain(suite.kafka, names, 60_000, [first]);
  assert.equal((await first.stop('SIGTERM')).code, 0);

  const registry = new URL(suite.env.registryUrl);
  const proxy = await TcpProxy.start(registry.hostname, Number(registry.port));
  after(() => proxy.close());
  const port = await freePort();
  const stage = suite.start(names, {
    METRICS_PORT: String(port),
    SCHEMA_REGISTRY_URL: `${registry.protocol}//127.0.0.1:${proxy.port}${registry.pathname}`,
    EOS_ROLLUP_FAULT: 'during-restore@1:stall3000',
    CIRCUIT_BREAKER_THRESHOLD: '3',
    CIRCUIT_BREAKER_PROBE_MS: '2000',
    RETRY_BACKOFF_INITIAL_MS: '20',
    RETRY_BACKOFF_MAX_MS: '500',
  });

  // Every distinct answer of /readyz, in order, until the first 200; and what the log said by then.
  const answers: Probe[] = [];
  let readyAtMs = 0;
  await eventually(
    'ready after the restore',
    30_000,
    async () => {
      const answer = await probe(port, '/readyz').catch(() => undefined);
      if (!answer) return undefined;
      const last = answers[answers.length - 1];
      if (last?.status !== answer.status || last.body.reasons.join() !== answer.body.reasons.join())
        answers.push(answer);
      if (answer.status !== 200) return undefined;
      readyAtMs = Date.now();
      return true;
    },
    50,
  );
  const reasons = answers.map((a) => a.body.reasons.join('; '));
  assert.ok(
    answers.slice(0, -1).every((a) => a.status === 503 && a.body.ready === false),
    reasons.join('\n'),
  );
  assert.ok(
    reasons.some((r) => r.includes('inventory not caught up yet')),
    `not ready before the inventory caught up:\n${reasons.join('\n')}`,
  );
  const restoring = reasons.findIndex((r) => r.includes('partition 0 restoring state'));
  assert.ok(restoring >= 0, `not ready while restoring:\n${reasons.join('\n')}`);
  assert.ok(
    reasons.slice(restoring).every((r) => !r.includes('inventory')),
    'the inventory had caught up before the restore',
  );
  // The stage's stdout reaches this process through a pipe, maybe after the HTTP answer: the restore's log line is
  // awaited, then its own timestamp (logged as the restore ends) must not be after the first 200.
  const restoredLine = await eventually('the restore logged', 10_000, () =>
    Promise.resolve(
      stage
        .output()
        .split('\n')
        .find((line) => line.includes('"msg":"state restored"')),
    ),
  );
  const restoredAtMs = (JSON.parse(restoredLine) as { time: number }).time;
  assert.ok(restoredAtMs <= readyAtMs, `ready at ${readyAtMs}, before the restore ended at ${restoredAtMs}`);
  assert.deepEqual(answers[answers.length - 1]?.body.reasons, []);

  // A registry outage while records with an unseen writer schema arrive: the breaker quarantines the partition.
  await waitForDrain(suite.kafka, names, 30_000, [stage]);
  proxy.cut();
  const v1 = await metricEncoder(suite.env, names.input, 'v1');
  await produceRaw(suite.kafka, names.input, workload.slice(400).map(toRecord((m) => v1.encode(m))));
  const quarantined = await eventually('quarantined', 20_000, async () => {
    const answer = await probe(port, '/readyz');
    return answer.body.reasons.some((r) => r.startsWith('partition 0 quarantined by the circuit breaker'))
      ? answer
      : undefined;
  });
  assert.equal(quarantined.status, 503);
  const during = await scrape(port);
  assert.equal(during.value('eos_rollup_circuit_breaker_state', { partition: 0, state: 'closed' }), 0);
  assert.equal(during.value('eos_rollup_tasks', { phase: 'quarantined' }), 1);
  assert.equal(during.value('eos_rollup_ready'), 0);
  assert.ok(during.sum('eos_rollup_task_failures_total', { code: 'REGISTRY_UNAVAILABLE' }) >= 3);
  assert.equal((await probe(port, '/healthz')).status, 200, 'alive while quarantined');

  proxy.restore();
  await waitForDrain(suite.kafka, names, 30_000, [stage]);
  await eventually('ready again', 15_000, async () =>
    (await probe(port, '/readyz')).status === 200 ? true : undefined,
  );
  const healed = await scrape(port);
  assert.equal(healed.value('eos_rollup_circuit_breaker_state', { partition: 0, state: 'closed' }), 1);
  assert.equal(healed.value('eos_rollup_ready'), 1);
  assert.equal((await stage.stop('SIGTERM')).code, 0);
  console.log(
    `# /readyz answers until ready:\n${reasons.map((r, i) => `#   ${answers[i]?.status} ${r}`).join('\n')}`,
  );
});
