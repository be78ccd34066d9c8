/**
 * The auditor is a separate judge, checked against the real broker:
 * - a normal run with a fixed inventory is clean (enrichment and the replayed changelog included); the same
 *   run judged against a different inventory, or after a committed changelog upsert that disagrees, is not;
 * - a valid record the stage dead-lettered as processing-failed is reported unless the test declared it a
 *   culprit, whether the stage put it there (a record made to throw) or it was planted into the DLQ;
 * - its own reader of transactional input (two producers with interleaved commits and aborts, non-transactional
 *   records, and a transaction left open) sees exactly what Kafka's Java console consumer sees read_committed;
 * - a registry that takes connections and never answers ends the audit with the reason, not a wait without end.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message, Producer } from 'kafkajs';
import { readForAudit } from '../../src/audit/audit-reader.js';
import { LogReader } from '../../src/audit/log-reader.js';
import { formatReport, type AuditReport, type ViolationKind } from '../../src/audit/auditor.js';
import { deadLetterHeaders } from '../../src/engine/dead-letter.js';
import { lineageHeaders } from '../../src/engine/lineage.js';
import { encodeAggregate, encodeWindowKey } from '../../src/rollup/changelog-codec.js';
import { metrics } from '../../src/tools/workload.js';
import { javaReadCommitted } from '../support/java-console-consumer.js';
import { createTopics, readAll, uniqueName, withAdmin } from '../support/kafka.js';
import {
  createPipeline,
  loadInventory,
  metricEncoder,
  produceFlush,
  produceWorkload,
} from '../support/pipeline.js';
import {
  START_MS,
  WINDOWS,
  assertNoViolations,
  auditScenario,
  prepareScenario,
  runOnce,
} from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();

/** Lineage of a one-record transaction that covers no input (first offset after last). */
function noInputLineage(input: string, attemptId: string): Record<string, string> {
  return lineageHeaders({
    sourceTopic: input,
    sourcePartition: 0,
    firstOffset: '1',
    lastOffset: '0',
    attemptId,
    recordCount: 1,
  });
}

/** Writes one record in its own committed transaction. */
async function commitOne(topic: string, message: Message & { partition: number }): Promise<void> {
  const producer: Producer = suite.kafka.producer({
    transactionalId: uniqueName('planter'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [message] });
    await txn.commit();
  } finally {
    await producer.disconnect();
  }
}

function kinds(report: AuditReport): ViolationKind[] {
  return [...new Set(report.violations.map((v) => v.kind))].sort();
}

test('a normal run with a fixed inventory is clean; another inventory is enrichment-mismatch, a tampered changelog changelog-mismatch', async () => {
  const partitions = 2;
  const names = await createPipeline(suite.kafka, partitions);
  const workload = [...metrics({ hosts: 20, perHost: 40, startMs: START_MS, stepMs: 2000, seed: 501 })];
  const hosts = [...new Set(workload.map((m) => m.host))].sort();
  // Half the hosts are known; the rest must be enriched as unknown.
  const inventory = hosts.slice(0, 10).map((host, i) => ({
    host,
    region: `region-${i % 3}`,
    datacenter: `dc-${i % 4}`,
    role: i % 2 ? 'db' : 'web',
  }));
  await loadInventory(suite.env, suite.kafka, names.inventory, inventory);
  await produceWorkload(suite.env, suite.kafka, names, partitions, workload);
  await produceFlush(suite.env, suite.kafka, names, partitions, START_MS + 3_600_000);
  const run = await runOnce(suite, names, {});
  assert.equal(run.exit.code, 0, run.stage.output().slice(-2000));

  const outcome = await auditScenario(suite.env, suite.kafka, names, true, { inventory });
  assertNoViolations(outcome);
  assert.equal(outcome.report.counts.validRecords, workload.length + partitions);
  // The flush records' windows are still open: the replayed changelog holds exactly those.
  assert.equal(outcome.report.counts.changelogWindows, partitions);
  assert.equal(outcome.report.counts.openWindowRecords, partitions);

  const moved = inventory.map((h, i) => (i === 0 ? { ...h, region: 'elsewhere' } : h));
  const wrong = await auditScenario(suite.env, suite.kafka, names, true, { inventory: moved });
  assert.deepEqual(kinds(wrong.report), ['enrichment-mismatch'], formatReport(wrong.report));
  assert.ok(wrong.report.violations.every((v) => v.detail.includes(JSON.stringify(hosts[0]))));

  // A committed changelog upsert that doubles the open flush window of partition 0: the replay's latest value
  // per key no longer equals the recomputation. Its lineage covers no input, so nothing else is wrong.
  const flushStart = START_MS + 3_600_000;
  await commitOne(names.changelog, {
    partition: 0,
    key: encodeWindowKey('flush-0', flushStart),
    value: encodeAggregate({
      host: 'flush-0',
      windowStart: flushStart,
      count: 2,
      cpu: { min: 1, max: 1, sum: 2 },
      mem: { min: 1, max: 1, sum: 2 },
      disk_read_bytes: 0,
      disk_write_bytes: 0,
      net_rx_bytes: 0,
      net_tx_bytes: 0,
      first_event_time: flushStart,
      last_event_time: flushStart,
      enrichment: { region: 'unknown', datacenter: 'unknown', role: 'unknown' },
    }),
    headers: noInputLineage(names.input, 'changelog-planter#1'),
  });
  const tampered = await auditScenario(suite.env, suite.kafka, names, true, { inventory });
  assert.deepEqual(kinds(tampered.report), ['changelog-mismatch'], formatReport(tampered.report));
  assert.match(tampered.report.violations[0]?.detail ?? '', /"flush-0" .*count 2 \(expected 1\)/);
});

test('a valid record dead-lettered processing-failed is a violation unless declared a culprit; planted ones too', async () => {
  const culprit = 137;
  const { names } = await prepareScenario(suite, { seed: 502, partitions: 1 });
  const run = await runOnce(suite, names, { EOS_ROLLUP_FAULT: `process-record@o${culprit}/p0:throw` });
  assert.equal(run.exit.code, 0, run.stage.output().slice(-2000));

  const undeclared = await auditScenario(suite.env, suite.kafka, names);
  const found = undeclared.report.violations.filter((v) => v.kind === 'valid-record-dead-lettered');
  assert.equal(found.length, 1, formatReport(undeclared.report));
  assert.match(found[0]?.detail ?? '', new RegExp(`p0@${culprit} .*processing-failed`));

  const culprits = [{ partition: 0, offset: BigInt(culprit) }];
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names, true, { culprits }));

  // Plant a copy of a valid input record into the DLQ as processing-failed, in a committed transaction whose
  // lineage covers no input, so nothing but the DLQ verdict (and the count it adds) is wrong.
  const planted = 50;
  const input = await readAll(suite.kafka, names.input);
  const original = input.records.find((r) => r.partition === 0 && r.offset === String(planted));
  assert.ok(original, 'the planted record exists in the input');
  const headers = {
    ...deadLetterHeaders<string>(
      { topic: names.input, partition: 0, offset: String(planted), timestampMs: START_MS },
      { reason: 'processing-failed', message: 'planted' },
      Date.now(),
      { id: 'planter', version: '0' },
      {},
    ),
    ...noInputLineage(names.input, 'planter#1'),
  };
  await commitOne(names.dlq, { partition: 0, key: original.key, value: original.value, headers });
  const after = await auditScenario(suite.env, suite.kafka, names, true, { culprits });
  assert.deepEqual(
    kinds(after.report),
    ['count-mismatch', 'valid-record-dead-lettered'],
    formatReport(after.report),
  );
  assert.match(
    after.report.violations.find((v) => v.kind === 'valid-record-dead-lettered')?.detail ?? '',
    new RegExp(`p0@${planted} `),
  );
});

test('negative control: interleaved aborts of two upstream producers; the auditor’s reader matches Java record for record', async () => {
  const partitions = 2;
  const names = await createPipeline(suite.kafka, partitions);
  const encoder = await metricEncoder(suite.env, names.input);
  const workload = [...metrics({ hosts: 8, perHost: 40, startMs: START_MS, stepMs: 1000, seed: 503 })];
  let next = 0;
  const messages = (n: number) =>
    Array.from({ length: n }, () => {
      const m = workload[next++ % workload.length]!;
      return { key: m.host, value: encoder.encode(m), partition: next % partitions };
    });
  const transactional = (name: string): Producer =>
    suite.kafka.producer({ transactionalId: uniqueName(name), idempotent: true, maxInFlightRequests: 1 });
  const a = transactional('upstream-a');
  const b = transactional('upstream-b');
  const late = transactional('upstream-open');
  const plain = suite.kafka.producer();
  await Promise.all([a.connect(), b.connect(), late.connect(), plain.connect()]);
  let abortedSent = 0;
  let open: Awaited<ReturnType<Producer['transaction']>> | undefined;
  try {
    for (let round = 0; round < 8; round++) {
      const ta = await a.transaction();
      const tb = await b.transaction();
      // Single-record sends alternate between the producers, so their batches interleave in each partition.
      for (let i = 0; i < 6; i++) {
        await ta.send({ topic: names.input, messages: messages(1) });
        await tb.send({ topic: names.input, messages: messages(1) });
        if (i % 3 === 0) await plain.send({ topic: names.input, messages: messages(1) });
      }
      const abortA = round % 2 === 1;
      const abortB = round % 3 !== 2;
      await (abortA ? ta.abort() : ta.commit());
      await (abortB ? tb.abort() : tb.commit());
      abortedSent += (abortA ? 6 : 0) + (abortB ? 6 : 0);
    }
    // A transaction left open holds the last stable offset back: committed records after it are not visible yet.
    open = await late.transaction();
    await open.send({ topic: names.input, messages: messages(2) });
    const after = await a.transaction();
    await after.send({ topic: names.input, messages: messages(4) });
    await after.commit();
    await plain.send({ topic: names.input, messages: messages(2) });

    const reader = await LogReader.open(suite.kafka);
    let ours: string[] = [];
    let aborted = 0;
    let pending = 0;
    let beyondStable = 0;
    try {
      // An abort returns once the coordinator logged it; its markers reach the partitions a moment later, and
      // until then its records read as open. Only the transaction left open stays so.
      for (let attempt = 0; attempt === 0 || (pending !== 2 && attempt < 40); attempt++) {
        if (attempt > 0) await sleep(250);
        [ours, aborted, pending, beyondStable] = [[], 0, 0, 0];
        for (let p = 0; p < partitions; p++) {
          const log = await reader.readPartition(names.input, p);
          ours.push(...log.view.visible.map((r) => `Partition:${p} Offset:${r.offset}`));
          aborted += log.view.aborted;
          pending += log.view.pending;
          beyondStable += log.view.beyondStable;
        }
      }
    } finally {
      await reader.close();
    }
    const java = (
      await javaReadCommitted({
        brokers: suite.env.brokers,
        topic: names.input,
        print: ['partition', 'offset'],
        idleMs: 15_000,
      })
    ).map((line) => line.replace(/\s+/g, ' ').trim());
    const kafkajs = await readAll(suite.kafka, names.input, { timeoutMs: 20_000 });
    console.log(
      `# visible: auditor ${ours.length}, java ${java.length}, kafkajs read_committed ${kafkajs.records.length}; ` +
        `aborted ${aborted} (sent ${abortedSent}), open ${pending}, committed beyond the LSO ${beyondStable}`,
    );
    // The faults really happened: the log holds aborted records and an open transaction.
    assert.equal(aborted, abortedSent);
    assert.equal(pending, 2);
    assert.ok(beyondStable >= 6);
    const sorted = (list: string[]) => [...list].sort();
    assert.deepEqual(
      sorted(ours),
      sorted(java),
      'the auditor sees what the Java consumer sees, record for record',
    );
  } finally {
    await open?.abort().catch(() => undefined);
    await late.disconnect();
    await Promise.all([a.disconnect(), b.disconnect(), plain.disconnect()]);
  }
});

test('an audit whose registry takes connections and never answers ends with the reason, naming the schema id', async () => {
  const { names, partitions } = await prepareScenario(suite, { hosts: 2, perHost: 5, seed: 404 });
  // The topics a stage would have created; the audit reads them first.
  await createTopics(
    suite.kafka,
    [names.output, names.dlq, names.changelog].map((topic) => ({ topic, partitions })),
  );
  // Offsets committed for the group, as a stage would have: the audit decodes the input below them.
  await withAdmin(suite.kafka, (admin) =>
    admin.setOffsets({
      groupId: names.appId,
      topic: names.input,
      partitions: [{ partition: 0, offset: '3' }],
    }),
  );
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const started = Date.now();
  try {
    const { port } = silent.address() as AddressInfo;
    await assert.rejects(
      readForAudit(suite.kafka, {
        groupId: names.appId,
        topics: { input: names.input, output: names.output, dlq: names.dlq, changelog: names.changelog },
        windows: WINDOWS,
        expectDrained: false,
        settleMs: 1000,
        registry: { url: `http://127.0.0.1:${port}`, timeoutMs: 300 },
      }),
      /audit: registry request for schema id \d+ took longer than 300 ms/,
    );
    // Three requests of 300 ms each, and the reads around them: seconds, not the runner's minutes.
    assert.ok(Date.now() - started < 60_000, `the audit ended after ${Date.now() - started} ms`);
  } finally {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  }
});
