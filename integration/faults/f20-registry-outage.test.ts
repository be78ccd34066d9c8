/**
 * F20 — a schema registry outage while records with a new writer schema arrive: the stage cannot decode them, so
 * it must neither dead-letter them (an outage is retriable, not poison) nor hold a transaction open; the circuit
 * breaker pauses the partition and probes; when the registry is back the records are processed exactly once.
 */
import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import { readAll } from '../support/kafka.js';
import {
  createPipeline,
  loadInventory,
  metricEncoder,
  produceRaw,
  waitForDrain,
} from '../support/pipeline.js';
import { waitForLine } from '../support/fault-hold.js';
import { useStageSuite } from '../support/stage-suite.js';
import { FAULT_SETTINGS, START_MS, assertNoViolations, auditScenario } from '../support/scenario.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const suite = useStageSuite();

/** A one-partition pipeline with an empty inventory, and a TCP proxy in front of the registry for the stage. */
async function pipelineBehindRegistryProxy() {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const registry = new URL(suite.env.registryUrl);
  const proxy = await TcpProxy.start(registry.hostname, Number(registry.port));
  after(() => proxy.close());
  const proxiedUrl = `${registry.protocol}//127.0.0.1:${proxy.port}${registry.pathname}`;
  return { names, proxy, proxiedUrl };
}

test('F20: during a registry outage nothing is dead-lettered and no transaction stays open; afterwards all is processed once', async () => {
  const { names, proxy, proxiedUrl } = await pipelineBehindRegistryProxy();

  const partitionOf = () => 0;
  const workload = [...metrics({ hosts: 20, perHost: 40, startMs: START_MS, stepMs: 2000, seed: 120 })];
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  const toRecord = (encode: (m: (typeof workload)[number]) => Buffer) => (m: (typeof workload)[number]) => ({
    partition: partitionOf(),
    key: Buffer.from(m.host),
    value: encode(m),
  });
  await produceRaw(suite.kafka, names.input, workload.slice(0, 400).map(toRecord((m) => v2.encode(m))));
  const stage = suite.start(names, {
    ...FAULT_SETTINGS,
    SCHEMA_REGISTRY_URL: proxiedUrl,
    CIRCUIT_BREAKER_THRESHOLD: '3',
    CIRCUIT_BREAKER_PROBE_MS: '2000',
    RETRY_BACKOFF_MAX_MS: '1000',
  });
  await waitForDrain(suite.kafka, names, 60_000, [stage]);

  proxy.cut();
  // A writer schema the stage has never seen: decoding it needs the registry.
  const v1 = await metricEncoder(suite.env, names.input, 'v1');
  const mark = stage.output().length;
  await produceRaw(suite.kafka, names.input, workload.slice(400).map(toRecord((m) => v1.encode(m))));
  // Checked once the breaker has opened: by then the new records were tried, and failed, several times.
  await waitForLine(
    stage,
    'the circuit breaker opening',
    (l) => l.msg.startsWith('circuit breaker open'),
    90_000,
    mark,
  );
  assert.equal((await readAll(suite.kafka, names.dlq)).records.length, 0, 'an outage never fills the DLQ');
  for (const topic of [names.changelog, names.output]) {
    const stable = (await partitionRanges(suite.kafka, topic, 'read_committed')).get(0)?.end;
    const high = (await partitionRanges(suite.kafka, topic, 'read_uncommitted')).get(0)?.end;
    assert.equal(stable, high, `no transaction held open on ${topic} during the outage`);
  }

  proxy.restore();
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  assert.match(stage.output(), /circuit breaker closed/, 'the partition resumed');
  assert.equal((await stage.stop('SIGTERM')).code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 0);
  assert.equal(outcome.report.counts.inputRecords, workload.length);
});

test('F20b: a registry that hangs up on every request at start is waited for; once it answers, the stage starts and processes all once', async () => {
  const { names, proxy, proxiedUrl } = await pipelineBehindRegistryProxy();
  const workload = [...metrics({ hosts: 10, perHost: 20, startMs: START_MS, stepMs: 2000, seed: 121 })];
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  await produceRaw(
    suite.kafka,
    names.input,
    workload.map((m) => ({ partition: 0, key: Buffer.from(m.host), value: v2.encode(m) })),
  );

  proxy.cut();
  const stage = suite.start(names, {
    ...FAULT_SETTINGS,
    SCHEMA_REGISTRY_URL: proxiedUrl,
    RETRY_BACKOFF_MAX_MS: '500',
  });
  // Two retries at start prove the outage landed where the output schema is registered, and was survived.
  for (let seen = 0; seen < 2; seen += 1) {
    await waitForLine(
      stage,
      `retry ${seen + 1} of the processor's build`,
      (l) => l.msg === 'processor not built yet; retrying',
      60_000,
      seen === 0 ? 0 : stage.output().length,
    );
  }
  assert.equal(stage.child.exitCode, null, 'the stage is still running during the outage');
  assert.doesNotMatch(stage.output(), /"msg":"stage running"/);
  const refused = proxy.accepted;
  assert.ok(refused >= 4, `connections hung up on: ${refused}`);

  proxy.restore();
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  assert.equal((await stage.stop('SIGTERM')).code, 0);
  const outcome = await auditScenario(suite.env, suite.kafka, names);
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.dlqRecords, 0);
  assert.equal(outcome.report.counts.inputRecords, workload.length);
});
