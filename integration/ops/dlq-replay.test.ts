/**
 * Contract: `eos-rollup dlq replay` puts every selected dead letter back into the input exactly once, however
 * often it runs and wherever it dies, and what it replays is then processed like any record.
 *
 * The story: a bug makes the stage throw on five records (EOS_ROLLUP_FAULT process-record, the F19 mechanism),
 * so they are dead-lettered as processing-failed; three records arrive late and one carries a schema id the
 * registry does not know. The bug is fixed (the stage restarts without the fault) and the operator replays
 * processing-failed and late:
 * - `dlq inspect` shows the nine dead letters by reason and source partition, payloads decoded where possible
 *   and raw bytes where not;
 * - a replay in transactions of two records is SIGKILLed after the sends of its second transaction (proven by
 *   the exit signal and by the input's high watermark beyond its last stable offset: an open transaction);
 * - rerun, it replays the six records without a marker; run again, it replays nothing;
 * - read_committed, the input then holds each of the eight dead letters exactly once as a replay, bytes
 *   untouched, and read_uncommitted shows the two aborted ones of the killed run;
 * - the stage processes the replays: the five fixed records land in their still-open window (every host's
 *   rollup counts all of its records), the three late ones are late again and dead-lettered carrying the replay
 *   header, and a further replay of `late` skips them as replays that failed again;
 * - the auditor finds no violation.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { REPLAY_HEADERS } from '../../src/ops/dlq-view.js';
import type { DlqRecordJson } from '../../src/ops/dlq-view.js';
import { withWireHeader, HEADER_LENGTH } from '../../src/serde/wire-format.js';
import { metrics } from '../../src/tools/workload.js';
import { readAll, type ReadRecord } from '../support/kafka.js';
import {
  createPipeline,
  loadInventory,
  metricEncoder,
  produceFlush,
  produceRaw,
  readRollups,
} from '../support/pipeline.js';
import { START_MS, assertNoViolations, auditScenario, runOnce } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';
import { describeRun, pipelineEnv, runCli } from './cli.js';

const suite = useStageSuite();

const HOSTS = 5;
const PER_HOST = 15;
const BROKEN_OFFSETS = [10, 20, 33, 47, 61];
const LATE = 3;

interface ReplayReport {
  read: number;
  selected: number;
  replayed: number;
  transactions: number;
  byReason: Record<string, number>;
  byTarget: Record<string, number>;
  skipped: Record<string, number>;
}

function header(record: ReadRecord, name: string): string | undefined {
  const value = record.headers?.[name];
  return value === undefined ? undefined : (Array.isArray(value) ? value[0] : value)?.toString();
}

function coordinates(record: ReadRecord, topic: string): string {
  return `${topic}:${record.partition}:${record.offset}`;
}

test('dlq replay sends every selected dead letter back exactly once, across a kill and reruns, and the stage processes them', async () => {
  const names = await createPipeline(suite.kafka, 1);
  const cli = pipelineEnv(suite.env, names);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const v2 = await metricEncoder(suite.env, names.input, 'v2');

  // All valid records in the window [START, START + 60 s): stream time stays at START + 28 s, the window open.
  const workload = [
    ...metrics({ hosts: HOSTS, perHost: PER_HOST, startMs: START_MS, stepMs: 2000, seed: 5 }),
  ];
  const late: ServerMetric[] = Array.from({ length: LATE }, (_, i) => ({
    ...workload[i]!,
    timestamp: START_MS - 30_000 + i,
  }));
  const unknownSchema = withWireHeader(2_000_000_000, v2.encode(workload[0]!).subarray(HEADER_LENGTH));
  await produceRaw(suite.kafka, names.input, [
    ...[...workload, ...late].map((m) => ({ partition: 0, key: Buffer.from(m.host), value: v2.encode(m) })),
    { partition: 0, key: Buffer.from('host-x'), value: unknownSchema },
  ]);

  const buggy = await runOnce(suite, names, {
    EOS_ROLLUP_FAULT: BROKEN_OFFSETS.map((o) => `process-record@o${o}/p0:throw`).join(','),
  });
  assert.equal(buggy.exit.code, 0, buggy.stage.output().slice(-2000));

  // inspect: counts, decoded payloads, raw bytes.
  const inspected = await runCli(['dlq', 'inspect', '--json', '--limit', 'all'], cli);
  assert.equal(inspected.code, 0, describeRun(inspected));
  const inspection = JSON.parse(inspected.stdout) as {
    total: number;
    byReason: Record<string, number>;
    bySource: Record<string, number>;
    records: DlqRecordJson[];
  };
  assert.equal(inspection.total, 9);
  assert.deepEqual(inspection.byReason, { late: 3, 'processing-failed': 5, 'unknown-schema-id': 1 });
  assert.deepEqual(inspection.bySource, { [`${names.input}/0`]: 9 });
  const failed = inspection.records.filter((r) => r.reason === 'processing-failed');
  assert.deepEqual(
    failed.map((r) => r.source?.offset),
    BROKEN_OFFSETS,
  );
  assert.deepEqual(failed[0]?.value?.metric, workload[10], 'the payload decoded through the registry');
  const raw = inspection.records.find((r) => r.reason === 'unknown-schema-id')?.value;
  assert.ok(raw);
  assert.equal(raw.base64, unknownSchema.toString('base64'), 'raw bytes, untouched');
  assert.match(raw.decodeError ?? '', /^unknown-schema-id: schema id 2000000000 is not in the registry/);
  assert.equal(raw.metric, null);
  const human = await runCli(['dlq', 'inspect', '--reason', 'late'], cli);
  assert.equal(human.code, 0, describeRun(human));
  assert.match(human.stdout, new RegExp(`^DLQ ${names.dlq}: 9 records, 3 with reason late\\n`));
  assert.match(human.stdout, /\nREASON\s+RECORDS\nlate\s+3\n/);

  const dlqBefore = (await readAll(suite.kafka, names.dlq)).records;
  const selected = dlqBefore.filter((r) =>
    ['processing-failed', 'late'].includes(header(r, DLQ_HEADERS.reason) ?? ''),
  );
  assert.equal(selected.length, 8);
  const inputEnd = (await partitionRanges(suite.kafka, names.input, 'read_committed')).get(0)?.end;

  // A replay killed after the sends of its second transaction.
  const replay = ['dlq', 'replay', '--reason', 'processing-failed,late', '--batch', '2', '--json'];
  const killed = await runCli(replay, { ...cli, EOS_ROLLUP_FAULT: 'after-send@2:kill' });
  assert.deepEqual([killed.code, killed.signal], [null, 'SIGKILL'], describeRun(killed));
  const committedEnd = (await partitionRanges(suite.kafka, names.input, 'read_committed')).get(0)?.end;
  const highWatermark = (await partitionRanges(suite.kafka, names.input, 'read_uncommitted')).get(0)?.end;
  assert.equal(
    committedEnd,
    (inputEnd ?? 0n) + 3n,
    'the first transaction committed: two records and a marker',
  );
  assert.equal(highWatermark, committedEnd + 2n, 'the second is left open by the kill');

  const resumed = await runCli(replay, cli);
  assert.equal(resumed.code, 0, describeRun(resumed));
  const resumedReport = JSON.parse(resumed.stdout) as ReplayReport;
  assert.equal(resumedReport.replayed, 6);
  assert.equal(resumedReport.transactions, 3);
  assert.equal(resumedReport.skipped['already-replayed'], 2);
  assert.deepEqual(resumedReport.byTarget, { [`${names.input}/0`]: 6 });

  const again = await runCli(
    replay.filter((a) => a !== '--json'),
    cli,
  );
  assert.equal(again.code, 0, describeRun(again));
  assert.equal(
    again.stdout.trim(),
    'dlq replay: nothing to replay (8 of 9 dead letters selected)\n\nskipped: 8 already replayed',
  );

  // read_committed: each selected dead letter exactly once in the input, bytes untouched.
  const input = (await readAll(suite.kafka, names.input)).records;
  const replays = input.filter((r) => header(r, REPLAY_HEADERS.of) !== undefined);
  assert.deepEqual(
    replays.map((r) => header(r, REPLAY_HEADERS.of)).sort(),
    selected.map((r) => coordinates(r, names.dlq)).sort(),
  );
  for (const copy of replays) {
    const original = selected.find((r) => coordinates(r, names.dlq) === header(copy, REPLAY_HEADERS.of));
    assert.ok(
      original?.value &&
        copy.value?.equals(original.value) &&
        copy.key?.equals(original.key ?? Buffer.alloc(0)),
    );
    assert.equal(header(copy, DLQ_HEADERS.reason), undefined, 'the dead letter headers stay behind');
  }
  const uncommitted = (await readAll(suite.kafka, names.input, { readUncommitted: true })).records;
  assert.equal(
    uncommitted.filter((r) => header(r, REPLAY_HEADERS.of) !== undefined).length,
    10,
    'read_uncommitted also sees the two records of the aborted transaction',
  );

  // The fixed stage processes the replays; a far-future record then closes the window.
  await produceFlush(suite.env, suite.kafka, names, 1, START_MS + 3_600_000);
  const fixed = await runOnce(suite, names, {});
  assert.equal(fixed.exit.code, 0, fixed.stage.output().slice(-2000));
  const rollups = await readRollups(suite.kafka, names.output);
  assert.deepEqual(
    rollups
      .filter((r) => r.window_start === START_MS)
      .map((r) => [r.host, r.count])
      .sort(),
    Array.from({ length: HOSTS }, (_, i) => [`host-${String(i).padStart(5, '0')}`, PER_HOST]),
    'the five records that failed are counted in their windows',
  );

  const dlqAfter = (await readAll(suite.kafka, names.dlq)).records;
  const lateAgain = dlqAfter.filter((r) => header(r, REPLAY_HEADERS.of) !== undefined);
  assert.equal(
    lateAgain.length,
    LATE,
    'the late replays are late again, dead-lettered with their replay header',
  );
  assert.ok(lateAgain.every((r) => header(r, DLQ_HEADERS.reason) === 'late'));
  const lateReplay = await runCli(['dlq', 'replay', '--reason', 'late', '--json'], cli);
  assert.equal(lateReplay.code, 0, describeRun(lateReplay));
  const lateReport = JSON.parse(lateReplay.stdout) as ReplayReport;
  assert.equal(lateReport.replayed, 0);
  assert.equal(lateReport.skipped['already-replayed'], LATE);
  assert.equal(lateReport.skipped['replay-failed-again'], LATE);

  // The five records broke processing on purpose: their processing-failed dead letters are declared, not trusted.
  const culprits = BROKEN_OFFSETS.map((o) => ({ partition: 0, offset: BigInt(o) }));
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names, true, { culprits }));
});
