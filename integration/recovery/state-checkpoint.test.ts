/**
 * Contract: with STATE_DIR, a SIGTERMed stage leaves one checkpoint per task, and the restarted stage loads it
 * and reads only the changelog's tail; a running stage also writes one after a commit once
 * STATE_CHECKPOINT_INTERVAL_MS has passed, so a SIGKILLed stage leaves that one, and its successor loads it and
 * reads only the tail after it; with the interval at 0, a SIGKILLed stage leaves none (each was deleted when its
 * task started), so the next start restores in full; a checkpoint that does not match the changelog, or is older
 * than half the changelog's delete.retention.ms, is refused, with its reason. Whatever path the state took, the rollups equal the ones computed from the test's own input,
 * audited clean.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import type { ServerMetric } from '../../src/domain/metric.js';
import { metrics } from '../../src/tools/workload.js';
import { readAll, withAdmin } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  produceFlush,
  produceWorkload,
  readRollups,
  waitForDrain,
  type PipelineNames,
} from '../support/pipeline.js';
import { assertNoViolations, auditScenario } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const PARTITIONS = 2;
const suite = useStageSuite();
const stateDir = mkdtempSync(join(tmpdir(), 'eos-rollup-state-'));
after(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

const CHECKPOINT_INTERVAL_MS = 1000;
/** Small transactions, so the changelog is long next to what one stop-and-start leaves in its tail. */
const SETTINGS = {
  STATE_DIR: stateDir,
  COMMIT_MAX_RECORDS: '20',
  STATE_CHECKPOINT_INTERVAL_MS: String(CHECKPOINT_INTERVAL_MS),
};

interface Restored {
  partition: number;
  records: number;
  fromCheckpoint: number;
}

function restoredLines(output: string): Restored[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"state restored"'))
    .map((line) => JSON.parse(line) as Restored);
}

function checkpointFile(names: PipelineNames, partition: number): string {
  return join(stateDir, names.appId, `${names.changelog}-${partition}.checkpoint`);
}

/** The offset a checkpoint file covers, read from the file as written (-1: no file). */
function checkpointOffset(names: PipelineNames, partition: number): bigint {
  const path = checkpointFile(names, partition);
  if (!existsSync(path)) return -1n;
  return BigInt((JSON.parse(readFileSync(path, 'utf8')) as { offset: string }).offset);
}

async function changelogEnds(names: PipelineNames): Promise<bigint[]> {
  const ends = await withAdmin(suite.kafka, (admin) => admin.fetchTopicOffsets(names.changelog));
  return Array.from({ length: PARTITIONS }, (_, p) =>
    BigInt(ends.find((e) => e.partition === p)?.high ?? '0'),
  );
}

async function until(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

async function changelogCounts(names: PipelineNames): Promise<number[]> {
  const { records, complete } = await readAll(suite.kafka, names.changelog);
  assert.ok(complete, 'the changelog was read to its end');
  return Array.from({ length: PARTITIONS }, (_, p) => records.filter((r) => r.partition === p).length);
}

/**
 * Writes the rest of the input and a flush, starts a stage that must refuse every partition's checkpoint with
 * `refusal` and restore in full, and checks the rollups against the test's input and the auditor.
 */
async function refusedThenExact(
  run: { names: PipelineNames; startMs: number; workload: ServerMetric[] },
  rest: ServerMetric[],
  refusal: RegExp,
): Promise<void> {
  const { names, startMs, workload } = run;
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, rest);
  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  const stage = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [stage]);
  const refusals = stage.output().match(refusal) ?? [];
  assert.equal(refusals.length, PARTITIONS, stage.output().slice(-3000));
  for (const line of restoredLines(stage.output())) assert.equal(line.fromCheckpoint, 0);
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
  assert.equal((await stage.stop('SIGTERM')).code, 0);
}

async function thirds(seed: number) {
  const names = await createPipeline(suite.kafka, PARTITIONS);
  await loadInventory(suite.env, suite.kafka, names.inventory, []);
  const startMs = Date.UTC(2026, 10, 25, 12, 0, 0);
  const workload = [...metrics({ hosts: 40, perHost: 90, startMs, stepMs: 2000, seed })];
  // Cuts in the middle of windows, so open windows must come back from the checkpoint or the changelog.
  const cut = (ms: number) => workload.findIndex((m) => m.timestamp >= startMs + ms);
  const [a, b] = [cut(70_000), cut(130_000)];
  const parts = [workload.slice(0, a), workload.slice(a, b), workload.slice(b)];
  return { names, startMs, workload, parts };
}

test('a SIGTERMed stage leaves a checkpoint and its successor reads only the tail; a SIGKILLed one leaves the checkpoint it wrote while running, and its successor reads only the tail after it; rollups exact, audit clean', async () => {
  const { names, startMs, workload, parts } = await thirds(41);
  const [first = [], second = [], third = []] = parts;
  const [thirdA, thirdB] = [third.slice(0, third.length / 2), third.slice(third.length / 2)];
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, first);
  const one = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [one]);
  assert.deepEqual(await one.stop('SIGTERM'), { code: 0, signal: null }, one.output().slice(-2000));
  for (let p = 0; p < PARTITIONS; p += 1) assert.ok(existsSync(checkpointFile(names, p)), `checkpoint ${p}`);

  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, second);
  const before = await changelogCounts(names);
  const endBeforeTwo = await changelogEnds(names);
  const two = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [two]);
  const fromCheckpoint = restoredLines(two.output());
  assert.equal(fromCheckpoint.length, PARTITIONS, two.output().slice(-3000));
  for (const line of fromCheckpoint) {
    const changelog = before[line.partition] ?? 0;
    assert.ok(changelog >= 100, `partition ${line.partition}: a changelog of ${changelog} records`);
    assert.ok(line.fromCheckpoint > 0, `partition ${line.partition} loaded its checkpoint`);
    // Nothing was written to the changelog while no stage ran: the tail is empty.
    assert.ok(
      line.records * 20 < changelog,
      `partition ${line.partition}: tail of ${line.records} records, changelog ${changelog}`,
    );
  }

  // A commit once the checkpoint interval has passed writes a checkpoint past what stage two restored.
  await sleep(CHECKPOINT_INTERVAL_MS + 500);
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, thirdA);
  await waitForDrain(suite.kafka, names, 60_000, [two]);
  for (let p = 0; p < PARTITIONS; p += 1) {
    const end = endBeforeTwo[p] ?? 0n;
    await until(
      `checkpoint ${p} covers a commit of stage two`,
      15_000,
      () => checkpointOffset(names, p) > end,
    );
  }
  assert.deepEqual(await two.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  const killedAt = Array.from({ length: PARTITIONS }, (_, p) => checkpointOffset(names, p));

  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, thirdB);
  const beforeThree = await changelogCounts(names);
  const three = suite.start(names, { ...SETTINGS, STATE_CHECKPOINT_INTERVAL_MS: '0' });
  await waitForDrain(suite.kafka, names, 60_000, [three]);
  const afterKill = restoredLines(three.output());
  assert.equal(afterKill.length, PARTITIONS, three.output().slice(-3000));
  assert.doesNotMatch(three.output(), /state checkpoint not used/);
  const ends = await changelogEnds(names);
  for (const line of afterKill) {
    assert.ok(line.fromCheckpoint > 0, `partition ${line.partition} loaded the killed stage's checkpoint`);
    // The tail starts at the fingerprint record, one below the checkpoint's offset; it cannot be longer.
    const tailBound = Number((ends[line.partition] ?? 0n) - (killedAt[line.partition] ?? 0n)) + 1;
    assert.ok(line.records < (beforeThree[line.partition] ?? 0), `partition ${line.partition}: not in full`);
    assert.ok(
      line.records <= tailBound,
      `partition ${line.partition}: read ${line.records}, at most ${tailBound} after the checkpoint`,
    );
  }
  // With checkpoints at a clean close only, a SIGKILLed stage leaves none (each was taken at its task's start).
  assert.deepEqual(await three.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  for (let p = 0; p < PARTITIONS; p += 1) assert.ok(!existsSync(checkpointFile(names, p)), `none ${p}`);

  await produceFlush(suite.env, suite.kafka, names, PARTITIONS, startMs + 3_600_000);
  const full = await changelogCounts(names);
  const four = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [four]);
  assert.match(four.output(), /state checkpoint not used \(missing\)/);
  for (const line of restoredLines(four.output())) {
    assert.equal(line.fromCheckpoint, 0);
    assert.equal(line.records, full[line.partition], `partition ${line.partition} restored in full`);
  }
  assert.deepEqual(
    compareRollups(await readRollups(suite.kafka, names.output), expectedWindows(workload, 60_000)),
    [],
  );
  assertNoViolations(await auditScenario(suite.env, suite.kafka, names));
  assert.equal((await four.stop('SIGTERM')).code, 0);
});

test('negative control: a checkpoint whose fingerprint does not match the changelog is refused (fingerprint differs), though its snapshot is wrong the rollups are exact', async () => {
  const { names, startMs, workload, parts } = await thirds(42);
  const [first = [], second = [], third = []] = parts;
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, [...first, ...second]);
  const one = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [one]);
  assert.equal((await one.stop('SIGTERM')).code, 0);

  // Every open window counted ten times over, and a fingerprint of another log: trusted, it would be visible.
  let doctored = 0;
  for (let p = 0; p < PARTITIONS; p += 1) {
    const path = checkpointFile(names, p);
    const file = JSON.parse(readFileSync(path, 'utf8')) as {
      fingerprint: { hash: string };
      entries: [string, string][];
    };
    file.fingerprint.hash = 'f'.repeat(64);
    file.entries = file.entries.map(([key, value]) => {
      // A window value in changelog format 2 (design §5): byte 2, kind 'W', then windowStart and count as
      // float64 little-endian; the stream-time value (kind 'T') is left alone.
      const bytes = Buffer.from(value, 'base64');
      if (bytes[0] !== 2 || bytes[1] !== 'W'.charCodeAt(0)) return [key, value];
      doctored += 1;
      bytes.writeDoubleLE(bytes.readDoubleLE(10) * 10, 10);
      return [key, bytes.toString('base64')];
    });
    writeFileSync(path, JSON.stringify(file));
  }
  assert.ok(doctored > 0, 'the checkpoints held open windows to doctor');

  await refusedThenExact(
    { names, startMs, workload },
    third,
    /state checkpoint not used \(fingerprint differs\)/g,
  );
});

test('a checkpoint older than half the changelog’s delete.retention.ms (15 minutes as the stage creates it) is refused as too old, though 12 hours have not passed', async () => {
  const { names, startMs, workload, parts } = await thirds(43);
  const [first = [], second = [], third = []] = parts;
  await produceWorkload(suite.env, suite.kafka, names, PARTITIONS, [...first, ...second]);
  const one = suite.start(names, SETTINGS);
  await waitForDrain(suite.kafka, names, 60_000, [one]);
  assert.equal((await one.stop('SIGTERM')).code, 0);
  for (let p = 0; p < PARTITIONS; p += 1) {
    const path = checkpointFile(names, p);
    const file = JSON.parse(readFileSync(path, 'utf8')) as { writtenAtMs: number };
    file.writtenAtMs -= 10 * 60_000;
    writeFileSync(path, JSON.stringify(file));
  }

  await refusedThenExact({ names, startMs, workload }, third, /state checkpoint not used \(too old\)/g);
});
