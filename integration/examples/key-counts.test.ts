/**
 * The key-counts example (examples/key-counts), a job written only against the public entry points, survives a
 * SIGKILL inside a transaction exactly once: every key's outputs are `1..n` once each, n being how many records
 * the test produced for it, and every keyless record is in the DLQ once. The judge knows the input from how it
 * was built, not from the example's code. Negative control: the same kill with offsets committed outside the
 * transaction (EOS_ROLLUP_BROKEN, wired for every job by the same composition root) loses counts, and the judge
 * says so.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/engine/index.js';
import { testEnvironment, type TestEnvironment } from '../support/environment.js';
import { waitUntilHeld } from '../support/fault-hold.js';
import { createTopics, readAll, testKafka, uniqueName, type ReadRecord } from '../support/kafka.js';
import {
  produceRaw,
  startStage,
  waitForDrain,
  type PipelineNames,
  type ProducedRecord,
  type StageProcess,
} from '../support/pipeline.js';
import { FAULT_SETTINGS } from '../support/scenario.js';

const EXAMPLE = [join(__dirname, '../../examples/key-counts/key-counts.js')];
const KEYS = 8;
const KEYLESS = 3;
const DRAIN_MS = 180_000;

let env: TestEnvironment;
let kafka: Kafka;
const processes: StageProcess[] = [];
before(async () => {
  env = await testEnvironment();
  kafka = testKafka(env);
});
after(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
});

function start(names: PipelineNames, extraEnv: Record<string, string>): StageProcess {
  const stage = startStage(env, names, { ...FAULT_SETTINGS, ...extraEnv }, EXAMPLE);
  processes.push(stage);
  return stage;
}

/** Key `k<i>` gets 30 + 11 i records on partition i mod 2, interleaved; a few keyless records on both. */
function buildInput(): { records: ProducedRecord[]; expected: Map<string, number>; keyless: string[] } {
  const expected = new Map<string, number>();
  const records: ProducedRecord[] = [];
  const keyless: string[] = [];
  const offsets = [0, 0];
  const push = (partition: number, key: string | null) => {
    records.push({ partition, key: key === null ? null : Buffer.from(key), value: Buffer.from('x') });
    if (key === null) keyless.push(`${partition}/${offsets[partition]}`);
    offsets[partition] = (offsets[partition] ?? 0) + 1;
  };
  for (let round = 0; round < 30 + 11 * (KEYS - 1); round += 1) {
    for (let i = 0; i < KEYS; i += 1) {
      if (round >= 30 + 11 * i) continue;
      push(i % 2, `k${i}`);
      expected.set(`k${i}`, (expected.get(`k${i}`) ?? 0) + 1);
    }
    if (round % 40 === 7 && keyless.length < KEYLESS) push(keyless.length % 2, null);
  }
  return { records, expected, keyless };
}

async function prepare(): Promise<{ names: PipelineNames } & ReturnType<typeof buildInput>> {
  const appId = uniqueName('it-key-counts');
  const names: PipelineNames = {
    appId,
    input: `${appId}-events`,
    inventory: `${appId}-unused-inventory`,
    output: `${appId}-counts`,
    dlq: `${appId}-dlq`,
    changelog: `${appId}-rollup-state-changelog`,
  };
  await createTopics(kafka, [{ topic: names.input, partitions: 2 }]);
  const input = buildInput();
  await produceRaw(kafka, names.input, input.records);
  return { names, ...input };
}

/** Every key's counts must be exactly 1..n: a missing count is a lost record, a repeated one a duplicate. */
function judge(outputs: readonly ReadRecord[], expected: ReadonlyMap<string, number>): string[] {
  const seen = new Map<string, number[]>();
  for (const record of outputs) {
    const [key, count] = (record.value?.toString('utf8') ?? '').split('=');
    if (key === undefined || count === undefined || record.key?.toString('utf8') !== key)
      return [`malformed output at ${record.partition}/${record.offset}`];
    seen.set(key, [...(seen.get(key) ?? []), Number(count)]);
  }
  const problems: string[] = [];
  for (const [key, n] of expected) {
    const counts = (seen.get(key) ?? []).sort((a, b) => a - b);
    const missing = n - new Set(counts).size;
    const duplicated = counts.length - new Set(counts).size;
    const foreign = counts.filter((c) => c < 1 || c > n).length;
    if (missing > 0 || duplicated > 0 || foreign > 0)
      problems.push(`${key}: ${missing} missing, ${duplicated} duplicated, ${foreign} beyond ${n}`);
  }
  return problems;
}

async function killHeld(names: PipelineNames, extraEnv: Record<string, string>): Promise<void> {
  const first = start(names, extraEnv);
  const held = await waitUntilHeld(first, 120_000);
  const exit = await first.stop('SIGKILL');
  assert.equal(exit.signal, 'SIGKILL', `the example died of the kill while held at ${held.point}`);
}

async function drain(names: PipelineNames, extraEnv: Record<string, string> = {}): Promise<StageProcess> {
  const second = start(names, extraEnv);
  await waitForDrain(kafka, names, DRAIN_MS, [second]);
  const exit = await second.stop('SIGTERM');
  assert.equal(exit.code, 0, `clean stop:\n${second.output().slice(-2000)}`);
  return second;
}

/** After a kill inside a transaction and a drain: every count once, every keyless record in the DLQ once. */
async function assertExactlyOnce(
  names: PipelineNames,
  expected: ReadonlyMap<string, number>,
  keyless: readonly string[],
): Promise<void> {
  const committed = await readAll(kafka, names.output);
  const uncommitted = await readAll(kafka, names.output, { readUncommitted: true });
  assert.ok(committed.complete && uncommitted.complete, 'read both isolation levels to the end');
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  console.log(
    `# key-counts: ${total} keyed records, ${committed.records.length} committed outputs, ${uncommitted.records.length - committed.records.length} aborted seen by read_uncommitted`,
  );
  assert.ok(
    uncommitted.records.length > committed.records.length,
    'read_uncommitted saw the killed transaction’s aborted outputs: the kill landed inside a transaction',
  );
  assert.deepEqual(judge(committed.records, expected), []);
  assert.equal(committed.records.length, total, 'one output per keyed record');

  const dlq = await readAll(kafka, names.dlq);
  const dead = dlq.records.map((r) => {
    const text = (name: string) => r.headers?.[name]?.toString() ?? '';
    return `${text(DLQ_HEADERS.partition)}/${text(DLQ_HEADERS.offset)}`;
  });
  assert.deepEqual(dead.sort(), [...keyless].sort(), 'each keyless record dead-lettered once');
}

test('key counts: a SIGKILL held before a commit leaves every key counted exactly once and every keyless record in the DLQ once', async () => {
  const { names, expected, keyless } = await prepare();
  await killHeld(names, { EOS_ROLLUP_FAULT: 'before-commit@3:hold' });
  await drain(names);
  await assertExactlyOnce(names, expected, keyless);
});

test('key counts with STREAM_THREADS=2: the job script runs in each thread, and the same kill leaves every key counted exactly once', async () => {
  const { names, expected, keyless } = await prepare();
  const threads = { STREAM_THREADS: '2' };
  await killHeld(names, { ...threads, EOS_ROLLUP_FAULT: 'before-commit@3:hold' });
  const second = await drain(names, threads);
  assert.match(second.output(), /starting key-counts, stream thread 1 of 2/);
  assert.match(second.output(), /starting key-counts, stream thread 2 of 2/);
  await assertExactlyOnce(names, expected, keyless);
});

test('negative control: offsets committed outside the transaction lose counts under the same kill, and the judge says so', async () => {
  const { names, expected } = await prepare();
  const broken = { EOS_ROLLUP_BROKEN: 'offsets-outside-transaction' };
  await killHeld(names, { ...broken, EOS_ROLLUP_FAULT: 'after-output-send@3:hold' });
  await drain(names, broken);
  const committed = await readAll(kafka, names.output);
  const problems = judge(committed.records, expected);
  console.log(`# key-counts negative control: ${problems.join('; ')}`);
  assert.ok(problems.length > 0, 'the judge catches the lost counts');
});
