/**
 * Aborted upstream transactions on one input partition, judged by Kafka's own Java consumer. Four kafkajs
 * transactional producers interleave on partition 0: nested aborts (B inside A, so the broker lists B's abort
 * before A's), overlapping ones (D starts inside A and ends after it), a producer that aborts and then commits,
 * and committed transactions around them all. `kafka-console-consumer --isolation-level read_committed` (the
 * Java consumer, from the jars in .stack/dist) gives the reference set of records; then
 * - kafkajs's fetch path (Batch and its abort filter) over fetches of one record batch each, so many start
 *   inside an aborted range, and of 64 KiB, must return exactly that set, while kafkajs 2.2.4's original
 *   algorithm run over the same fetched data must not (the negative control: the comparison can fail);
 * - a kafkajs consumer with 512-byte fetches must return exactly that set;
 * - the partition fetcher that restores read (Fetch requests, no group) must return exactly that set at
 *   read_committed, over fetches of one record batch and of 64 KiB, and every record at read_uncommitted;
 * - the stage must count, per host, exactly the committed records the test wrote, and dead-letter exactly the
 *   committed poison records (some poison is aborted too);
 * - the audit reader must read exactly the reference set.
 * read_uncommitted proves the aborted records are really in the log.
 */
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Kafka, Producer, Transaction } from 'kafkajs';
import { audit, formatReport } from '../../src/audit/auditor.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import { readForAudit } from '../../src/audit/audit-reader.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { fetchPartitionRange } from '../../src/kafka/client/partition-fetcher.js';
import {
  createInternalCluster,
  type FetchedPartition,
  type FetchedRecord,
} from '../../src/kafkajs-internals/index.js';
import type { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { originalFilterAbortedMessages } from '../../test/kafka/kafkajs-original-abort-filter.js';
import { javaReadCommitted } from '../support/java-console-consumer.js';
import { readAll, uniqueName, withAdmin } from '../support/kafka.js';
import {
  compareRollups,
  createPipeline,
  expectedWindows,
  loadInventory,
  metricEncoder,
  produceFlush,
  readRollups,
  type PipelineNames,
} from '../support/pipeline.js';
import { START_MS, WINDOWS, runOnce } from '../support/scenario.js';
import { useStageSuite } from '../support/stage-suite.js';

const suite = useStageSuite();

const HOSTS = 10;
/** Records per send: one record batch each, HOSTS records per host. */
const RECORDS_PER_SEND = 100;
/** Every scripted send is repeated, so the partition outgrows the stage's 1 MiB fetches several times over. */
const SENDS_PER_STEP = 5;

type Outcome = 'commit' | 'abort';

interface Built {
  names: PipelineNames;
  committed: ServerMetric[];
  committedPoison: string[];
  abortedRecords: number;
  totalRecords: number;
}

/** Four transactional producers and the script of their interleaved transactions on partition 0. */
class Upstream {
  private readonly producers = new Map<string, Producer>();
  private readonly open = new Map<
    string,
    { transaction: Transaction; outcome: Outcome; sent: ServerMetric[]; poison: string[] }
  >();
  private seq = 0;
  readonly committed: ServerMetric[] = [];
  /** Values of the committed poison records: the DLQ must hold exactly these, byte for byte. */
  readonly committedPoison: string[] = [];
  abortedRecords = 0;
  totalRecords = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly encoder: AvroEncoder<ServerMetric>,
  ) {}

  async connect(names: string[]): Promise<void> {
    for (const name of names) {
      const producer = this.kafka.producer({
        transactionalId: uniqueName(`upstream-${name}`),
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      this.producers.set(name, producer);
    }
  }

  async begin(name: string, outcome: Outcome): Promise<void> {
    const producer = this.producers.get(name);
    if (!producer) throw new Error(`no producer ${name}`);
    this.open.set(name, { transaction: await producer.transaction(), outcome, sent: [], poison: [] });
  }

  /** With `poison`, each send also carries one record that is not in the wire format (a dead letter). */
  async send(name: string, steps = 1, poison = false): Promise<void> {
    const open = this.open.get(name);
    if (!open) throw new Error(`${name} has no open transaction`);
    for (let s = 0; s < steps * SENDS_PER_STEP; s++) {
      const metrics = Array.from({ length: RECORDS_PER_SEND }, () => this.metric());
      const messages = metrics.map((m) => ({ partition: 0, key: m.host, value: this.encoder.encode(m) }));
      const bad = poison ? [`poison ${name} ${this.seq++}`] : [];
      messages.push(...bad.map((value) => ({ partition: 0, key: 'poison', value: Buffer.from(value) })));
      await open.transaction.send({ topic: this.topic, messages });
      open.sent.push(...metrics);
      open.poison.push(...bad);
      this.totalRecords += messages.length;
    }
  }

  async end(name: string): Promise<void> {
    const open = this.open.get(name);
    if (!open) throw new Error(`${name} has no open transaction`);
    this.open.delete(name);
    if (open.outcome === 'commit') {
      await open.transaction.commit();
      this.committed.push(...open.sent);
      this.committedPoison.push(...open.poison);
    } else {
      await open.transaction.abort();
      this.abortedRecords += open.sent.length + open.poison.length;
    }
  }

  async disconnect(): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => p.disconnect().catch(() => undefined)));
  }

  /** All in one event-time window per host, so each host has exactly one rollup holding all its records. */
  private metric(): ServerMetric {
    const n = this.seq++;
    return {
      host: `host-${String(n % HOSTS).padStart(2, '0')}`,
      timestamp: START_MS + (n % 50) * 1000,
      cpu_percent: n % 100,
      mem_percent: (n * 7) % 100,
      disk_read_bytes: n,
      disk_write_bytes: 0,
      net_rx_bytes: 0,
      net_tx_bytes: 2 * n,
      load_avg_1m: 1,
    };
  }
}

async function buildInput(kafka: Kafka): Promise<Built> {
  const names = await createPipeline(kafka, 1);
  await loadInventory(suite.env, kafka, names.inventory, []);
  const upstream = new Upstream(kafka, names.input, await metricEncoder(suite.env, names.input));
  await upstream.connect(['A', 'B', 'C', 'D']);
  try {
    await upstream.begin('A', 'abort');
    await upstream.begin('C', 'commit');
    await upstream.send('A', 3, true);
    await upstream.begin('B', 'abort');
    await upstream.send('B', 2, true);
    await upstream.send('C', 2, true);
    await upstream.send('A', 2);
    await upstream.send('B', 2);
    await upstream.end('B'); // nested in A and aborted first: listed before A
    await upstream.begin('D', 'abort');
    await upstream.send('D', 2);
    await upstream.send('A', 2);
    await upstream.send('C');
    await upstream.end('A'); // D began inside A and outlives it: overlapping
    await upstream.send('D', 3);
    await upstream.send('C', 2);
    await upstream.end('C');
    await upstream.end('D');
    await upstream.begin('A', 'commit'); // A aborted before, commits now
    await upstream.send('A', 2);
    await upstream.begin('B', 'abort');
    await upstream.send('B', 3);
    await upstream.send('A', 2);
    await upstream.end('A');
    await upstream.send('B', 2);
    await upstream.begin('C', 'commit');
    await upstream.send('C', 2);
    await upstream.end('B');
    await upstream.end('C');
    await upstream.begin('D', 'commit');
    await upstream.send('D', 3, true);
    await upstream.end('D');
    await upstream.begin('A', 'abort');
    await upstream.send('A', 2);
    await upstream.end('A');
    await upstream.begin('A', 'commit');
    await upstream.send('A', 2);
    await upstream.end('A');
  } finally {
    await upstream.disconnect();
  }
  // One non-transactional far-future record closes every window.
  await produceFlush(suite.env, kafka, names, 1, START_MS + 3_600_000);
  return {
    names,
    committed: upstream.committed,
    committedPoison: upstream.committedPoison,
    abortedRecords: upstream.abortedRecords,
    totalRecords: upstream.totalRecords + 1,
  };
}

/** Offset → key of every record Kafka's Java console consumer returns under read_committed. */
async function javaRecords(topic: string): Promise<Map<bigint, string>> {
  const lines = await javaReadCommitted({
    brokers: suite.env.brokers,
    topic,
    partition: 0,
    print: ['offset', 'key'],
    idleMs: 20_000,
  });
  const records = new Map<bigint, string>();
  for (const line of lines) {
    const match = /^Offset:(\d+)\t(.*)$/.exec(line);
    assert.ok(match?.[1] !== undefined, `a console consumer line: ${line}`);
    records.set(BigInt(match[1]), match[2] ?? '');
  }
  return records;
}

type BatchClass = new (
  topic: string,
  fetchedOffset: string,
  data: FetchedPartition,
) => { messages: FetchedRecord[] };
/** The class a kafkajs consumer builds from each partition's fetched data; it applies the abort filter. */
const Batch = createRequire(__filename)('kafkajs/src/consumer/batch') as BatchClass;

interface Walk {
  fetches: number;
  /** Fetches whose offset lay inside an aborted transaction the broker listed for them. */
  startedInsideAborted: number;
  /** Fetches whose aborted-transactions list was not sorted by first offset. */
  unsortedLists: number;
  kafkajs: Set<bigint>;
  original: Set<bigint>;
}

/**
 * Reads partition 0 with read_committed Fetch requests of `maxBytes`, each fetch starting after the last record
 * of the previous one as a kafkajs consumer does, and filters each fetch both ways.
 */
async function walkFetches(topic: string, maxBytes: number): Promise<Walk> {
  const end = (await partitionRanges(suite.kafka, topic, 'read_committed')).get(0)?.end ?? 0n;
  const cluster = createInternalCluster(suite.kafka, { isolation: 'read_committed' });
  await cluster.connect();
  const walk: Walk = {
    fetches: 0,
    startedInsideAborted: 0,
    unsortedLists: 0,
    kafkajs: new Set(),
    original: new Set(),
  };
  try {
    await cluster.addTargetTopic(topic);
    const [nodeId] = Object.keys(cluster.findLeaderForPartitions(topic, [0]));
    assert.ok(nodeId !== undefined, 'partition 0 has a leader');
    const broker = await cluster.findBroker({ nodeId });
    let position = 0n;
    while (position < end) {
      const response = await broker.fetch({
        isolationLevel: 1,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: position.toString(), maxBytes }] }],
      });
      const data = response.responses.find((r) => r.topicName === topic)?.partitions[0];
      assert.ok(data?.errorCode === 0 && data.messages.length > 0, `fetch at ${position} returned records`);
      walk.fetches++;
      const firsts = data.abortedTransactions.map((t) => BigInt(t.firstOffset));
      if (firsts.some((first) => first < position)) walk.startedInsideAborted++;
      if (firsts.some((first, i) => i > 0 && first < (firsts[i - 1] ?? first))) walk.unsortedLists++;
      for (const m of new Batch(topic, position.toString(), data).messages)
        walk.kafkajs.add(BigInt(m.offset));
      const within = data.messages.filter((m) => BigInt(m.offset) >= position);
      const leaked = originalFilterAbortedMessages({
        messages: within,
        abortedTransactions: data.abortedTransactions,
      });
      for (const m of leaked) if (!m.isControlRecord) walk.original.add(BigInt(m.offset));
      position = BigInt(data.messages.at(-1)?.offset ?? position) + 1n;
    }
  } finally {
    await cluster.disconnect();
  }
  return walk;
}

/**
 * Reads partition 0 with a real kafkajs consumer (its own fetch loop, the code the stage's consumer runs) whose
 * fetches are tiny: the broker then returns one record batch per fetch, so aborted ranges span many fetches.
 */
async function consumeWithTinyFetches(topic: string): Promise<Set<bigint>> {
  const end = (await partitionRanges(suite.kafka, topic, 'read_committed')).get(0)?.end ?? 0n;
  const groupId = uniqueName('aborted-upstream-reader');
  const consumer = suite.kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 512,
    maxBytes: 512,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  const offsets = new Set<bigint>();
  let reached: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (reached = resolve));
  // Batches of only aborted records or markers never reach eachBatch, yet they move the position.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    if (BigInt(event.payload.lastOffset) + 1n >= end) reached();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) offsets.add(BigInt(m.offset));
        return Promise.resolve();
      },
    });
    const timeout = setTimeout(reached, 120_000);
    await done;
    clearTimeout(timeout);
  } finally {
    await consumer.disconnect();
    await withAdmin(suite.kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  return offsets;
}

function difference(a: ReadonlySet<bigint>, b: ReadonlySet<bigint>): bigint[] {
  return [...a].filter((x) => !b.has(x));
}

function sameSet(actual: ReadonlySet<bigint>, expected: ReadonlySet<bigint>, what: string): void {
  const extra = difference(actual, expected);
  const missing = difference(expected, actual);
  assert.ok(
    extra.length === 0 && missing.length === 0,
    `${what}: ${extra.length} records the Java consumer does not return (first ${extra.slice(0, 5).join(', ')}), ` +
      `${missing.length} it returns missing (first ${missing.slice(0, 5).join(', ')})`,
  );
}

function countByHost(hosts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const host of hosts) counts.set(host, (counts.get(host) ?? 0) + 1);
  return counts;
}

/** Built once, on first use by a test (after the suite's own setup), and shared by the tests below. */
let preparing: Promise<{ built: Built; java: Map<bigint, string> }> | undefined;
function prepared(): Promise<{ built: Built; java: Map<bigint, string> }> {
  preparing ??= (async () => {
    const built = await buildInput(suite.kafka);
    return { built, java: await javaRecords(built.names.input) };
  })();
  return preparing;
}

test('the input really holds aborted records (read_uncommitted) and the Java consumer returns only the committed ones', async () => {
  const { built, java } = await prepared();
  assert.ok(built.abortedRecords > 0);
  const raw = await readAll(suite.kafka, built.names.input, { readUncommitted: true });
  assert.equal(raw.complete, true);
  assert.equal(
    raw.records.length,
    built.totalRecords,
    'read_uncommitted sees every record written, aborted ones too',
  );
  assert.equal(
    java.size,
    built.committed.length + built.committedPoison.length + 1,
    'committed records, committed poison and the flush record',
  );
  assert.deepEqual(
    countByHost([...java.values()].filter((key) => key.startsWith('host-'))),
    countByHost(built.committed.map((m) => m.host)),
  );
});

test("kafkajs's fetch path over small fetches returns exactly the Java consumer's records; the original filter leaks", async () => {
  const { built, java } = await prepared();
  const reference = new Set(java.keys());
  for (const maxBytes of [1, 64 * 1024]) {
    const walk = await walkFetches(built.names.input, maxBytes);
    assert.ok(walk.fetches > 1, `${maxBytes}: several fetches`);
    assert.ok(walk.startedInsideAborted > 0, `${maxBytes}: some fetch started inside an aborted transaction`);
    sameSet(walk.kafkajs, reference, `kafkajs Batch, fetches of ${maxBytes} bytes`);
    // Negative control: the same comparison reports kafkajs 2.2.4's own algorithm.
    const leaked = difference(walk.original, reference);
    assert.ok(leaked.length > 0, `${maxBytes}: the original algorithm leaks aborted records`);
    assert.deepEqual(difference(reference, walk.original), [], 'it never loses committed ones');
    console.log(
      `fetches of ${maxBytes} bytes: ${walk.fetches} fetches, ${walk.startedInsideAborted} started inside an ` +
        `aborted transaction, ${walk.unsortedLists} with an unsorted list; original algorithm leaked ${leaked.length}`,
    );
  }
});

test("a kafkajs consumer with tiny fetches returns exactly the Java consumer's records", async () => {
  const { built, java } = await prepared();
  sameSet(await consumeWithTinyFetches(built.names.input), new Set(java.keys()), 'kafkajs consumer');
});

/** Reads partition 0 up to its last stable offset with the restores' partition fetcher. */
async function fetchAllOf(
  topic: string,
  isolation: 'read_committed' | 'read_uncommitted',
  fetchMaxBytes: number,
): Promise<{ offsets: Set<bigint>; fetches: number; controlRecords: number }> {
  const end = (await partitionRanges(suite.kafka, topic, 'read_committed')).get(0)?.end ?? 0n;
  const read = { offsets: new Set<bigint>(), fetches: 0, controlRecords: 0 };
  await fetchPartitionRange(suite.kafka, {
    topic,
    partition: 0,
    isolation,
    end,
    fetchMaxBytes,
    onRecords: (records) => {
      for (const r of records) {
        if (r.isControlRecord) read.controlRecords++;
        assert.ok(!read.offsets.has(BigInt(r.offset)), `offset ${r.offset} handed over once`);
        read.offsets.add(BigInt(r.offset));
      }
    },
    onProgress: () => {
      read.fetches++;
      return Promise.resolve();
    },
  });
  return read;
}

test("the restores' partition fetcher returns exactly the Java consumer's records, and all of them read_uncommitted", async () => {
  const { built, java } = await prepared();
  const reference = new Set(java.keys());
  for (const fetchMaxBytes of [1, 64 * 1024]) {
    const committed = await fetchAllOf(built.names.input, 'read_committed', fetchMaxBytes);
    assert.ok(committed.fetches > 1, `${fetchMaxBytes}: several fetches`);
    assert.equal(committed.controlRecords, 0, 'no transaction marker is handed over');
    sameSet(committed.offsets, reference, `partition fetcher, fetches of ${fetchMaxBytes} bytes`);
  }
  // The same reader at read_uncommitted hands over the aborted records too: the isolation is what filters.
  const uncommitted = await fetchAllOf(built.names.input, 'read_uncommitted', 64 * 1024);
  assert.equal(uncommitted.offsets.size, built.totalRecords);
  assert.equal(uncommitted.controlRecords, 0);
  assert.deepEqual(difference(reference, uncommitted.offsets), []);
  assert.ok(difference(uncommitted.offsets, reference).length >= built.abortedRecords);
});

test('the stage counts every host exactly its committed records and dead-letters only committed poison', async () => {
  const { built } = await prepared();
  const result = await runOnce(suite, built.names, { COMMIT_MAX_RECORDS: '2000' }, 240_000);
  assert.equal(result.exit.code, 0, result.stage.output().slice(-2000));
  const rollups = (await readRollups(suite.kafka, built.names.output)).filter((r) =>
    r.host.startsWith('host-'),
  );
  const counted = new Map(rollups.map((r) => [r.host, r.count]));
  const expected = countByHost(built.committed.map((m) => m.host));
  assert.deepEqual(counted, expected, 'records per host: counted by the stage vs committed by the test');
  assert.deepEqual(compareRollups(rollups, expectedWindows(built.committed, WINDOWS.sizeMs)), []);
  const dead = await readAll(suite.kafka, built.names.dlq);
  assert.equal(dead.complete, true);
  assert.deepEqual(
    dead.records.map((r) => r.value?.toString() ?? '<null>').sort(),
    [...built.committedPoison].sort(),
    'the DLQ holds each committed poison record once, raw, and no aborted one',
  );
});

test("the audit reader reads exactly the Java consumer's records", async () => {
  const { built, java } = await prepared();
  const read = await readForAudit(suite.kafka, {
    groupId: built.names.appId,
    topics: {
      input: built.names.input,
      output: built.names.output,
      dlq: built.names.dlq,
      changelog: built.names.changelog,
    },
    windows: WINDOWS,
    expectDrained: true,
    settleMs: 15_000,
    registry: { url: suite.env.registryUrl },
  });
  sameSet(new Set(read.data.input.map((r) => r.offset)), new Set(java.keys()), 'audit reader');
  const report = audit(read.data);
  assert.equal(report.violations.length, 0, formatReport(report));
});
