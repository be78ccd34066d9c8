/**
 * Contract: consumer lag as the stage exports it is what an operator needs to trust.
 * - While the stage is paused (a task stalled before its commit, the process and its endpoint alive), lag in
 *   records stays put and lag in seconds grows with the wall clock: it is the age of the oldest unread record,
 *   read from the broker, so it matches the time since that record was produced. The watchdog flags the
 *   transaction open past half TRANSACTION_TIMEOUT_MS and then the stalled partition, in /metrics, in /readyz
 *   (503, with both reasons) and in the log.
 * - Once the input is drained, lag is 0 in records and seconds although the input, written in transactions,
 *   ends with a commit marker; and an upstream transaction left open on the input (high watermark beyond the
 *   last stable offset) is not lag either, since nothing in it can be read yet. The watchdog findings clear and
 *   the stage is ready again.
 */
import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import { freePort } from '../../scripts/stack/local-stack.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import { committedOffsets, uniqueName } from '../support/kafka.js';
import { createPipeline, loadInventory, metricEncoder, waitForDrain } from '../support/pipeline.js';
import { START_MS } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';
import { eventually, probe, scrape } from './scrape.js';

const suite = useStageSuite();

test('lag in seconds grows while a task is stalled and the watchdog flags it; after the drain lag is 0 despite commit markers and an open upstream transaction', async () => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const v2 = await metricEncoder(suite.env, names.input, 'v2');
  const workload = [...metrics({ hosts: 10, perHost: 100, startMs: START_MS, stepMs: 2000, seed: 41 })];
  const messages = workload.map((m) => ({ partition: 0, key: Buffer.from(m.host), value: v2.encode(m) }));

  // The input is written in transactions, so it holds commit markers, the last one at its very end.
  const upstream = suite.kafka.producer({
    transactionalId: uniqueName('it-upstream'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await upstream.connect();
  after(() => upstream.disconnect());
  const producedFromMs = Date.now();
  for (let i = 0; i < messages.length; i += 250) {
    const transaction = await upstream.transaction();
    await transaction.send({ topic: names.input, messages: messages.slice(i, i + 250) });
    await transaction.commit();
  }
  const producedToMs = Date.now();

  const port = await freePort();
  const stage = suite.start(names, {
    METRICS_PORT: String(port),
    COMMIT_MAX_RECORDS: '50',
    TRANSACTION_TIMEOUT_MS: '8000',
    SESSION_TIMEOUT_MS: '20000',
    HEARTBEAT_INTERVAL_MS: '1000',
    EOS_ROLLUP_FAULT: 'before-commit@4:stall9000',
  });

  // Paused: three transactions committed, the fourth stalls with its transaction open.
  const lagLabels = { group: names.appId, topic: names.input, partition: 0 };
  await eventually('the fault stalls the fourth commit', 30_000, () =>
    Promise.resolve(stage.output().includes('injecting fault') ? true : undefined),
  );
  const first = await eventually('the stall shows as lag', 5_000, async () => {
    const s = await scrape(port);
    return (s.value('kafka_consumergroup_group_lag', lagLabels) ?? 0) > 0
      ? { s, atMs: Date.now() }
      : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const second = { s: await scrape(port), atMs: Date.now() };
  const lag1 = first.s.value('kafka_consumergroup_group_lag', lagLabels);
  const lag2 = second.s.value('kafka_consumergroup_group_lag', lagLabels);
  const seconds1 = first.s.value('kafka_consumergroup_group_lag_seconds', lagLabels) ?? -1;
  const seconds2 = second.s.value('kafka_consumergroup_group_lag_seconds', lagLabels) ?? -1;
  assert.equal(lag2, lag1, 'no progress while stalled');
  const stableEnd = (await partitionRanges(suite.kafka, names.input, 'read_committed')).get(0)?.end;
  assert.equal(
    lag1,
    Number(stableEnd) - 150,
    'three transactions of 50 committed; the rest, markers included, is lag',
  );
  const grew = seconds2 - seconds1;
  const elapsed = (second.atMs - first.atMs) / 1000;
  assert.ok(Math.abs(grew - elapsed) < 0.5, `lag seconds grew ${grew} s in ${elapsed} s`);
  // The oldest unread record was produced between producedFromMs and producedToMs.
  assert.ok(seconds2 >= (second.atMs - producedToMs) / 1000 - 1.5, `lag seconds ${seconds2} ≥ its age`);
  assert.ok(seconds2 <= (second.atMs - producedFromMs) / 1000 + 0.5, `lag seconds ${seconds2} ≤ its age`);
  assert.equal(second.s.value('kafka_consumergroup_group_max_lag_seconds', { group: names.appId }), seconds2);

  const flagged = await eventually('the watchdog flags both', 8_000, async () => {
    const s = await scrape(port);
    const ready = await probe(port, '/readyz');
    const alerts = ['long-transaction', 'stalled'].map((check) =>
      s.value('eos_rollup_watchdog_alert', { partition: 0, check }),
    );
    // /readyz reads the watchdog's last check, which the scrape just ran: both findings are in one answer.
    const reasons = ready.body.reasons.join('\n');
    const both = reasons.includes('own transaction open') && reasons.includes('partition 0 stalled');
    return alerts.every((a) => a === 1) && both ? { s, ready } : undefined;
  });
  assert.equal(flagged.ready.status, 503);
  assert.equal(flagged.s.value('eos_rollup_ready'), 0);
  const reasons = flagged.ready.body.reasons.join('\n');
  assert.match(
    reasons,
    /partition 0: own transaction open for .* past half the transaction timeout \(4\.0 s\)/,
  );
  assert.match(reasons, /partition 0 stalled: \d+ records of lag and no progress for/);
  assert.ok((flagged.s.value('eos_rollup_open_transaction_age_seconds', { partition: 0 }) ?? 0) > 4);
  assert.match(stage.output(), /"msg":"watchdog: partition 0: own transaction open/);
  assert.match(stage.output(), /"msg":"watchdog: partition 0 stalled/);

  // Drained: lag 0 although the input ends with a commit marker.
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  const highWatermark = (await partitionRanges(suite.kafka, names.input, 'read_uncommitted')).get(0)?.end;
  assert.ok(
    highWatermark !== undefined && highWatermark > BigInt(messages.length),
    'the input holds markers',
  );
  const drained = await eventually('lag back to 0 and the watchdog quiet', 15_000, async () => {
    const s = await scrape(port);
    const ready = await probe(port, '/readyz');
    return s.value('kafka_consumergroup_group_lag', lagLabels) === 0 &&
      s.sum('eos_rollup_watchdog_alert') === 0 &&
      ready.status === 200
      ? s
      : undefined;
  });
  assert.equal(drained.value('kafka_consumergroup_group_lag_seconds', lagLabels), 0);
  assert.equal(drained.value('kafka_consumergroup_group_max_lag', { group: names.appId }), 0);
  assert.match(stage.output(), /"msg":"watchdog cleared: stalled on partition 0"/);

  // An upstream transaction left open: the high watermark moves on, the last stable offset does not.
  const open = await upstream.transaction();
  await open.send({ topic: names.input, messages: messages.slice(0, 20) });
  const ranges = async () => ({
    stable: (await partitionRanges(suite.kafka, names.input, 'read_committed')).get(0)?.end,
    high: (await partitionRanges(suite.kafka, names.input, 'read_uncommitted')).get(0)?.end,
  });
  const withOpen = await ranges();
  assert.ok((withOpen.high ?? 0n) >= (withOpen.stable ?? 0n) + 20n, 'the open transaction is beyond the LSO');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const whileOpen = await scrape(port);
  assert.equal(
    whileOpen.value('kafka_consumergroup_group_lag', lagLabels),
    0,
    'unreadable records are not lag',
  );
  assert.equal(
    (await committedOffsets(suite.kafka, names.appId, names.input)).get(0),
    withOpen.stable?.toString(),
    'the group is at the last stable offset',
  );
  await open.abort();
  await waitForDrain(suite.kafka, names, 30_000, [stage]);
  assert.equal((await stage.stop('SIGTERM')).code, 0);
  console.log(
    `# stalled: lag ${lag1} records, lag seconds ${seconds1.toFixed(2)} → ${seconds2.toFixed(2)} over ${elapsed.toFixed(2)} s`,
  );
});
