/**
 * The read_committed filter of aborted transactional records (kafkajs's filterAbortedMessages as patched by
 * patches/kafkajs+2.2.4+001+abort-filter.patch) on constructed fetch data, judged against what Kafka's Java consumer returns:
 * aborted transactions are opened in first-offset order whatever order the broker lists them in (it lists them
 * in abort order), all those starting at or before a batch's last offset before that batch is judged, and only
 * a producer's ABORT marker closes its aborted transaction. Each case also runs kafkajs 2.2.4's original
 * algorithm where it went wrong, so the case could fail.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { committedRecords } from '../../src/kafka/client/abort-filter.js';
import type { AbortedTransaction } from '../../src/kafkajs-internals/index.js';
import { originalFilterAbortedMessages } from './kafkajs-original-abort-filter.js';

interface Context {
  firstOffset: string;
  lastOffsetDelta: number;
  producerId: string;
  inTransaction: boolean;
  isControlBatch: boolean;
}
interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext: Context;
}

const ABORT_KEY = Buffer.from([0, 0, 0, 0]);
const COMMIT_KEY = Buffer.from([0, 0, 0, 1]);

/** One record batch as kafkajs decodes it: its records share one batch context object. */
function batch(
  producerId: string,
  first: number,
  count: number,
  transactional = true,
  key?: Buffer,
): Message[] {
  const context: Context = {
    firstOffset: String(first),
    lastOffsetDelta: count - 1,
    producerId,
    inTransaction: transactional,
    isControlBatch: false,
  };
  return Array.from({ length: count }, (_, i) => ({
    offset: String(first + i),
    key: key ?? Buffer.from(`k${first + i}`),
    isControlRecord: false,
    batchContext: context,
  }));
}

function marker(producerId: string, offset: number, kind: 'abort' | 'commit'): Message[] {
  const context: Context = {
    firstOffset: String(offset),
    lastOffsetDelta: 0,
    producerId,
    inTransaction: true,
    isControlBatch: true,
  };
  const key = kind === 'abort' ? ABORT_KEY : COMMIT_KEY;
  return [{ offset: String(offset), key, isControlRecord: true, batchContext: context }];
}

const aborted = (producerId: string, firstOffset: number): AbortedTransaction => ({
  producerId,
  firstOffset: String(firstOffset),
});

const offsets = (messages: readonly Message[]): number[] => messages.map((m) => Number(m.offset));
const fixed = (messages: Message[], list: AbortedTransaction[]): number[] =>
  offsets(committedRecords(messages, list));
const original = (messages: Message[], list: AbortedTransaction[]): number[] =>
  offsets(
    originalFilterAbortedMessages({ messages, abortedTransactions: list }).filter((m) => !m.isControlRecord),
  );

test('an aborted-transactions list in abort order (not sorted by first offset) still drops every aborted record', () => {
  // A opens first, B inside it; B aborts first, so the broker lists B before A.
  const messages = [
    ...batch('A', 0, 5),
    ...batch('B', 5, 5),
    ...marker('B', 10, 'abort'),
    ...marker('A', 11, 'abort'),
    ...batch('C', 12, 3, false),
  ];
  const list = [aborted('B', 5), aborted('A', 0)];
  assert.deepEqual(fixed(messages, list), [12, 13, 14]);
  assert.deepEqual(original(messages, list), [0, 1, 2, 3, 4, 12, 13, 14], 'kafkajs 2.2.4 let A through');
});

test("several producers interleaved: only the committed producer's records remain", () => {
  const messages = [
    ...batch('A', 0, 2),
    ...batch('C', 2, 2),
    ...batch('B', 4, 2),
    ...batch('A', 6, 2),
    ...batch('C', 8, 2),
    ...batch('B', 10, 2),
    ...marker('A', 12, 'abort'),
    ...marker('C', 13, 'commit'),
    ...marker('B', 14, 'abort'),
  ];
  assert.deepEqual(fixed(messages, [aborted('A', 0), aborted('B', 4)]), [2, 3, 8, 9]);
});

test('nested and overlapping aborted ranges of three producers around a committed one', () => {
  // A: 0..10 contains B: 3..6 (nested); D: 7..12 overlaps A's end.
  const messages = [
    ...batch('A', 0, 3),
    ...batch('B', 3, 2),
    ...batch('C', 5, 1),
    ...marker('B', 6, 'abort'),
    ...batch('D', 7, 2),
    ...batch('A', 9, 1),
    ...marker('A', 10, 'abort'),
    ...batch('D', 11, 1),
    ...marker('C', 12, 'commit'),
    ...marker('D', 13, 'abort'),
  ];
  const list = [aborted('B', 3), aborted('A', 0), aborted('D', 7)];
  assert.deepEqual(fixed(messages, list), [5]);
  assert.notDeepEqual(original(messages, list), [5], 'kafkajs 2.2.4 leaked here');
});

test('a fetch that starts inside two aborted ranges drops them from its first record on', () => {
  // Both transactions began before the fetch offset (20); the broker still lists them.
  const messages = [
    ...batch('B', 20, 2),
    ...batch('A', 22, 2),
    ...batch('C', 24, 1, false),
    ...marker('A', 25, 'abort'),
    ...marker('B', 26, 'abort'),
  ];
  const list = [aborted('A', 10), aborted('B', 15)];
  assert.deepEqual(fixed(messages, list), [24]);
  assert.deepEqual(original(messages, list), [20, 24], 'kafkajs 2.2.4 opened one transaction per record');
});

test("a fetch that starts in the middle of an aborted producer's batch drops the rest of it (kafkajs Batch)", () => {
  type BatchClass = new (
    topic: string,
    fetchedOffset: string,
    data: {
      partition: number;
      highWatermark: string;
      abortedTransactions: AbortedTransaction[];
      messages: Message[];
    },
  ) => { messages: Message[] };
  const Batch = createRequire(__filename)('kafkajs/src/consumer/batch') as BatchClass;
  const messages = [...batch('A', 18, 4), ...batch('C', 22, 2, false), ...marker('A', 24, 'abort')];
  const fetched = new Batch('t', '20', {
    partition: 0,
    highWatermark: '25',
    abortedTransactions: [aborted('A', 12)],
    messages,
  });
  assert.deepEqual(offsets(fetched.messages), [22, 23]);
});

test('markers are never returned, and only a control ABORT marker ends an aborted transaction', () => {
  // A data record whose key happens to be the ABORT marker's key is not a marker.
  const messages = [...batch('A', 0, 1, true, ABORT_KEY), ...batch('A', 1, 2), ...marker('A', 3, 'abort')];
  assert.deepEqual(fixed(messages, [aborted('A', 0)]), []);
  assert.deepEqual(original(messages, [aborted('A', 0)]), [0, 1, 2], 'kafkajs 2.2.4 took it for a marker');
  assert.deepEqual(fixed([...marker('A', 0, 'commit'), ...marker('B', 1, 'abort')], [aborted('B', 1)]), []);
});

test('a producer that aborts, then commits, then aborts again: only the committed transaction remains', () => {
  const messages = [
    ...batch('A', 0, 2),
    ...marker('A', 2, 'abort'),
    ...batch('A', 3, 2),
    ...marker('A', 5, 'commit'),
    ...batch('A', 6, 1),
    ...marker('A', 7, 'abort'),
  ];
  assert.deepEqual(fixed(messages, [aborted('A', 0), aborted('A', 6)]), [3, 4]);
  assert.deepEqual(fixed(messages, [aborted('A', 6), aborted('A', 0)]), [3, 4], 'in any listed order');
});

/** A small deterministic generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random logs of several transactional producers (plus non-transactional batches), each transaction committed
 * or aborted, then read in fetches starting at every offset with the aborted-transactions list the broker
 * would send for that fetch: every transaction aborted at or after the fetch offset and started at or before
 * the fetch's last offset, in abort order. The filter must return exactly the committed data records.
 */
test('random interleavings read from every start offset return exactly the committed records', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const next = random(seed);
    const log: Message[] = [];
    const open = new Map<string, { first: number; abort: boolean }>();
    const abortOrder: { producerId: string; first: number; end: number }[] = [];
    const committed = new Set<number>();
    const pending = new Map<string, number[]>();
    const producers = ['1', '2', '3', '4'];
    for (let step = 0; step < 40; step++) {
      const roll = next();
      const producerId = producers[Math.floor(next() * producers.length)] ?? '1';
      const current = open.get(producerId);
      if (roll < 0.15) {
        const offset = log.length;
        log.push(...batch('-1', offset, 1 + Math.floor(next() * 3), false));
        for (let o = offset; o < log.length; o++) committed.add(o);
      } else if (current && roll < 0.4) {
        const offset = log.length;
        log.push(...marker(producerId, offset, current.abort ? 'abort' : 'commit'));
        if (current.abort) abortOrder.push({ producerId, first: current.first, end: offset });
        else for (const o of pending.get(producerId) ?? []) committed.add(o);
        open.delete(producerId);
        pending.delete(producerId);
      } else {
        const offset = log.length;
        const count = 1 + Math.floor(next() * 3);
        if (!current) open.set(producerId, { first: offset, abort: next() < 0.5 });
        log.push(...batch(producerId, offset, count));
        pending.set(producerId, [
          ...(pending.get(producerId) ?? []),
          ...Array.from({ length: count }, (_, i) => offset + i),
        ]);
      }
    }
    // Transactions left open are not readable at all under read_committed: cut the log at the first of them.
    const stable = Math.min(log.length, ...[...open.values()].map((t) => t.first));
    const within = log.filter((m) => Number(m.offset) < stable);
    for (let start = 0; start < stable; start++) {
      const fetched = within.filter((m) => Number(m.offset) >= start);
      const last = Number(fetched.at(-1)?.offset ?? start);
      const list = abortOrder
        .filter((t) => t.end >= start && t.first <= last)
        .map((t) => aborted(t.producerId, t.first));
      const expected = [...committed].filter((o) => o >= start && o < stable).sort((a, b) => a - b);
      assert.deepEqual(fixed(fetched, list), expected, `seed ${seed}, fetch from ${start}`);
    }
  }
});

test('the installed kafkajs carries the abort-filter patch', () => {
  const source = readFileSync(
    createRequire(__filename).resolve('kafkajs/src/consumer/filterAbortedMessages'),
    'utf8',
  );
  assert.match(source, /eos-rollup patch/);
});
