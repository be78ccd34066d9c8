/**
 * Contract: a restore reads its changelog partition to the last stable offset only once that is the whole
 * changelog. A hanging transaction on the changelog (here a real one: a transactional producer that wrote to
 * it and died) holds the last stable offset below the high watermark; the task says so in its log, in
 * /metrics and in /readyz, waits (bounded by RESTORE_STABLE_WAIT_MS, then tries again), and processes nothing
 * on the prefix it could read. Before, it restored the prefix and went on processing. Once the transaction is
 * aborted, the task restores all of it and the output is exact.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../observability/scrape.js';
import { freePort } from '../../scripts/stack/local-stack.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { metrics } from '../../src/tools/workload.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceFlush,
  produceWorkload,
  readRollups,
  waitForDrain,
  waitForLog,
} from '../support/pipeline.js';
import { committedOffsets, uniqueName } from '../support/kafka.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();
const WINDOW_MS = 60_000;

test('a hanging transaction on the changelog keeps the task restoring and not ready; nothing is processed on a prefix', async () => {
  const names = await createPipeline(suite.kafka, 1);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 8, perHost: 40, startMs, stepMs: 2000, seed: 11 })];
  const half = Math.floor(workload.length / 2);
  await produceWorkload(suite.env, suite.kafka, names, 1, workload.slice(0, half));
  const seeding = suite.start(names, { WINDOW_MS: String(WINDOW_MS), INSTANCE_ID: 'seed' });
  await waitForDrain(suite.kafka, names, 60_000, [seeding]);
  assert.equal((await seeding.stop()).code, 0);
  const committedBefore = (await committedOffsets(suite.kafka, names.appId, names.input)).get(0);

  // A foreign transactional producer writes to the changelog and dies with its transaction open.
  const transactionalId = uniqueName('hanging-changelog-tx');
  const child = spawn(
    process.execPath,
    [
      join(__dirname, '../support/open-transaction-child.js'),
      suite.env.brokers,
      transactionalId,
      names.changelog,
      '3',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [firstLine] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(firstLine.toString().trim(), 'sent');
  child.kill('SIGKILL');
  assert.deepEqual((await once(child, 'exit')).slice(1), ['SIGKILL'], 'the transaction owner really died');
  const stable = (await partitionRanges(suite.kafka, names.changelog, 'read_committed')).get(0)?.end ?? 0n;
  const high = (await partitionRanges(suite.kafka, names.changelog, 'read_uncommitted')).get(0)?.end ?? 0n;
  assert.ok(
    stable < high,
    `the changelog's last stable offset ${stable} is held below its high watermark ${high}`,
  );

  await produceWorkload(suite.env, suite.kafka, names, 1, workload.slice(half));
  const port = await freePort();
  const stage = suite.start(names, {
    WINDOW_MS: String(WINDOW_MS),
    INSTANCE_ID: 'restorer',
    METRICS_PORT: String(port),
    RESTORE_STABLE_WAIT_MS: '3000',
  });
  await waitForLog(stage, /has an open transaction: last stable offset/, 30_000);
  // The bounded wait has run out at least once: the attempt ended clearly, and nothing was processed meanwhile.
  await waitForLog(stage, /RESTORE_STABLE_WAIT_MS=3000/, 60_000);
  assert.equal(
    (await committedOffsets(suite.kafka, names.appId, names.input)).get(0),
    committedBefore,
    'nothing processed while the changelog holds an open transaction',
  );
  assert.match(stage.output(), /has an open transaction: last stable offset \d+ < high watermark \d+/);
  assert.match(stage.output(), /RESTORE_STABLE_WAIT_MS=3000/, 'the bounded wait ended an attempt, clearly');
  // Between two bounded waits the task is briefly re-initializing: poll until the next wait is reported.
  const shown = await eventually(
    'the metric and /readyz reporting the wait on the open transaction',
    30_000,
    async () => {
      const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (!/eos_rollup_restore_unstable_changelog_offsets\{partition="0"\} [1-9]/.test(scraped))
        return undefined;
      const readiness = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: readiness.status, why: JSON.stringify(await readiness.json()) };
    },
  );
  assert.equal(shown.status, 503, shown.why);
  assert.match(shown.why, /partition 0 (restoring state|initializing)/, shown.why);
  assert.equal(
    (await committedOffsets(suite.kafka, names.appId, names.input)).get(0),
    committedBefore,
    'still nothing processed',
  );

  // The transaction ends (a successor with its id aborts it): the task restores everything and goes on.
  const successor = suite.kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true });
  await successor.connect();
  try {
    await (await successor.transaction()).abort();
  } finally {
    await successor.disconnect();
  }
  await waitForDrain(suite.kafka, names, 120_000, [stage]);
  await produceFlush(suite.env, suite.kafka, names, 1, startMs + 10 * WINDOW_MS);
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  const rollups = await readRollups(suite.kafka, names.output);
  assert.deepEqual(compareRollups(rollups, expectedWindows(workload, WINDOW_MS)), []);
  assert.equal((await stage.stop()).code, 0);
});
