import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Type, type Schema } from 'avsc';

import { audit, formatReport, type AuditData, type AuditReport } from '../../src/audit/auditor.js';
import { decodeChangelog } from '../../src/audit/changelog-check.js';
import { invalidReason, readLineage, windowStart } from '../../src/audit/contract.js';
import { MetricCodec } from '../../src/audit/metric-codec.js';
import {
  committedView,
  CONTROL_ABORT,
  CONTROL_COMMIT,
  controlType,
  type LogEntry,
} from '../../src/audit/transaction-markers.js';
import type { AuditMetric, AuditRollup, AuditWrittenRecord, ViolationKind } from '../../src/audit/types.js';
import { deadLetterHeaders } from '../../src/engine/dead-letter.js';
import { lineageHeaders } from '../../src/engine/lineage.js';
import {
  encodeAggregate,
  encodeStreamTime,
  encodeStreamTimeKey,
  encodeWindowKey,
} from '../../src/rollup/changelog-codec.js';

// ---------------------------------------------------------------------------------------------------------------
// Transaction markers: what read_committed sees, decided from the log alone.

function data(offset: number, producerId: string, transactional = true): LogEntry<number> {
  return { kind: 'data', offset: BigInt(offset), producerId, transactional, record: offset };
}

function marker(offset: number, producerId: string, type: number): LogEntry<number> {
  return { kind: 'control', offset: BigInt(offset), producerId, type };
}

void test('markers: a committed transaction is visible, an aborted one is not, each by its own producer', () => {
  // Two producers interleaved: p1 commits, p2 aborts, then p2 commits a second transaction.
  const log = [
    data(0, 'p1'),
    data(1, 'p2'),
    data(2, 'p1'),
    data(3, 'p2'),
    marker(4, 'p2', CONTROL_ABORT),
    marker(5, 'p1', CONTROL_COMMIT),
    data(6, 'p2'),
    marker(7, 'p2', CONTROL_COMMIT),
  ];
  const view = committedView(log, 8n);
  assert.deepEqual(view.visible, [0, 2, 6]);
  assert.equal(view.aborted, 2);
  assert.equal(view.pending, 0);
  assert.equal(view.lastStableOffset, 8n);
});

void test('markers: an open transaction stops the LSO at its first record, hiding even committed records after it', () => {
  const log = [
    data(0, 'p1'),
    data(1, 'open'),
    data(2, 'p1'),
    marker(3, 'p1', CONTROL_COMMIT),
    data(4, 'plain', false),
  ];
  const view = committedView(log, 5n);
  assert.deepEqual(view.visible, [0]);
  assert.equal(view.pending, 1);
  assert.equal(view.beyondStable, 2);
  assert.equal(view.lastStableOffset, 1n);
});

void test('markers: non-transactional records are visible at once; unknown control types end no transaction', () => {
  const log = [data(0, 'x', false), data(1, 'p1'), marker(2, 'p1', 2), data(3, 'y', false)];
  const view = committedView(log, 4n);
  assert.deepEqual(view.visible, [0]);
  assert.equal(view.lastStableOffset, 1n);
  // A marker for a producer that wrote nothing in this partition changes nothing.
  assert.deepEqual(committedView([marker(0, 'ghost', CONTROL_ABORT), data(1, 'z', false)], 2n).visible, [1]);
});

void test('markers: the control key is int16 version then int16 type', () => {
  assert.equal(controlType(Uint8Array.from([0, 0, 0, 1])), CONTROL_COMMIT);
  assert.equal(controlType(Uint8Array.from([0, 0, 0, 0])), CONTROL_ABORT);
  assert.equal(controlType(Uint8Array.from([0, 0])), null);
  assert.equal(controlType(null), null);
});

// ---------------------------------------------------------------------------------------------------------------
// Decoding the wire format with the auditor's own decoder.

const SCHEMAS = join(__dirname, '..', '..', '..', 'schemas');

function schemaText(file: string): string {
  return readFileSync(join(SCHEMAS, file), 'utf8');
}

function wire(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

const V1 = Type.forSchema(JSON.parse(schemaText('server-metric-v1.avsc')) as Schema);
const V2 = Type.forSchema(JSON.parse(schemaText('server-metric-v2.avsc')) as Schema);
const INCOMPATIBLE = JSON.stringify({
  type: 'record',
  name: 'ServerMetric',
  namespace: 'metrics',
  fields: [],
});

const T0 = Date.UTC(2024, 0, 1);

function metric(host: string, at: number, cpu = 10, mem = 20): AuditMetric {
  return {
    host,
    timestamp: T0 + at,
    cpu_percent: cpu,
    mem_percent: mem,
    disk_read_bytes: 1,
    disk_write_bytes: 2,
    net_rx_bytes: 3,
    net_tx_bytes: 4,
    load_avg_1m: null,
  };
}

function codec(): MetricCodec {
  const schemas = new Map([
    [1, schemaText('server-metric-v1.avsc')],
    [2, schemaText('server-metric-v2.avsc')],
    [3, INCOMPATIBLE],
  ]);
  return new MetricCodec((id) => Promise.resolve(schemas.get(id) ?? null));
}

void test('decoder: v1 and v2 writers decode to the v2 reader shape', async () => {
  const c = codec();
  const m = metric('a', 0);
  const { load_avg_1m: _, ...v1Fields } = m;
  const values = [wire(1, V1.toBuffer(v1Fields)), wire(2, V2.toBuffer({ ...m, load_avg_1m: 1.5 }))];
  await c.prepare(values);
  assert.deepEqual(c.decode(values[0] ?? null), { kind: 'metric', metric: m });
  assert.deepEqual(c.decode(values[1] ?? null), { kind: 'metric', metric: { ...m, load_avg_1m: 1.5 } });
});

void test('decoder: each wire-format failure is its documented poison reason', async () => {
  const c = codec();
  const body = V2.toBuffer(metric('a', 0));
  const cases: [Buffer | null, string][] = [
    [null, 'null-value'],
    [Buffer.from([0, 0, 0]), 'bad-magic-byte'],
    [Buffer.concat([Buffer.from([1]), wire(2, body).subarray(1)]), 'bad-magic-byte'],
    [wire(99, body), 'unknown-schema-id'],
    [wire(3, body), 'incompatible-schema'],
    [wire(2, body.subarray(0, 3)), 'avro-decode'],
  ];
  await c.prepare(cases.map(([v]) => v));
  for (const [value, reason] of cases) assert.deepEqual(c.decode(value), { kind: 'poison', reason }, reason);
});

// ---------------------------------------------------------------------------------------------------------------
// Validation and windows, written from the README's rules.

void test('validation: each documented rule names its reason; a valid metric passes', () => {
  assert.equal(invalidReason(metric('a', 0)), null);
  assert.equal(invalidReason(metric('', 0)), 'empty-host');
  assert.equal(invalidReason(metric('  ', 0)), 'empty-host');
  assert.equal(invalidReason(metric('a', 0, Number.NaN)), 'non-finite-value');
  assert.equal(
    invalidReason({ ...metric('a', 0), load_avg_1m: Number.POSITIVE_INFINITY }),
    'non-finite-value',
  );
  assert.equal(invalidReason(metric('a', 0, 100.5)), 'percent-out-of-range');
  assert.equal(invalidReason(metric('a', 0, 10, -1)), 'percent-out-of-range');
  assert.equal(invalidReason({ ...metric('a', 0), net_tx_bytes: -1 }), 'negative-counter');
  assert.equal(
    invalidReason({ ...metric('a', 0), timestamp: Date.UTC(1999, 11, 31) }),
    'timestamp-out-of-range',
  );
  assert.equal(
    invalidReason({ ...metric('a', 0), timestamp: Date.UTC(2100, 0, 2) }),
    'timestamp-out-of-range',
  );
  assert.equal(invalidReason({ ...metric('a', 0), timestamp: Date.UTC(2000, 0, 1) }), null);
});

void test('windows are aligned to the epoch', () => {
  assert.equal(windowStart(T0 + 59_999, 60_000), T0);
  assert.equal(windowStart(T0 + 60_000, 60_000), T0 + 60_000);
});

void test('lineage: malformed headers read as absent', () => {
  const headers = lineageHeaders({
    sourceTopic: 'in',
    sourcePartition: 0,
    firstOffset: '3',
    lastOffset: '9',
    attemptId: 'i#1',
    recordCount: 4,
  });
  assert.deepEqual(readLineage(headers), {
    sourceTopic: 'in',
    sourcePartition: 0,
    firstOffset: 3n,
    lastOffset: 9n,
    attemptId: 'i#1',
    recordCount: 4,
  });
  assert.equal(readLineage({ ...headers, 'eos-rollup.source.offset.first': '-1' }), null);
});

// ---------------------------------------------------------------------------------------------------------------
// A small run judged end to end: one partition, hosts a and b, one committed transaction.
//   0 a@5s  1 a@50s  2 a@75s (closes window 0 at 70s)  3 b@80s  4 a@20s late  5 b@90s (a valid record)
// Window a@0 (count 2) is emitted; a@60s (1) and b@60s (2) stay open; stream time 90s.

const INPUT = 'server-metrics';
const W = 60_000;

function rollupA0(region = 'eu-west-1'): AuditRollup {
  return {
    host: 'a',
    region,
    datacenter: 'dc-1',
    role: 'web',
    window_start: T0,
    window_end: T0 + W,
    count: 2,
    cpu_percent: { min: 10, max: 10, sum: 20, avg: 10 },
    mem_percent: { min: 20, max: 20, sum: 40, avg: 20 },
    disk_read_bytes: 2,
    disk_write_bytes: 4,
    net_rx_bytes: 6,
    net_tx_bytes: 8,
    first_event_time: T0 + 5_000,
    last_event_time: T0 + 50_000,
  };
}

const INVENTORY = [
  { host: 'a', region: 'eu-west-1', datacenter: 'dc-1', role: 'web' },
  { host: 'b', region: 'us-east-1', datacenter: 'dc-9', role: 'db' },
];

function openState(
  host: string,
  atSeconds: number[],
  enrichment: { region: string; datacenter: string; role: string },
) {
  const n = atSeconds.length;
  return encodeAggregate({
    host,
    windowStart: T0 + W,
    count: n,
    cpu: { min: 10, max: 10, sum: 10 * n },
    mem: { min: 20, max: 20, sum: 20 * n },
    disk_read_bytes: n,
    disk_write_bytes: 2 * n,
    net_rx_bytes: 3 * n,
    net_tx_bytes: 4 * n,
    first_event_time: T0 + Math.min(...atSeconds) * 1000,
    last_event_time: T0 + Math.max(...atSeconds) * 1000,
    enrichment,
  });
}

interface Knobs {
  dlq: { offset: number; reason: string }[];
  changelog: [Buffer, Buffer | null][];
  rollup: AuditRollup;
}

function defaultKnobs(): Knobs {
  const [a, b] = INVENTORY as [(typeof INVENTORY)[0], (typeof INVENTORY)[0]];
  return {
    dlq: [{ offset: 4, reason: 'late' }],
    rollup: rollupA0(),
    changelog: [
      [encodeWindowKey('a', T0), null],
      [encodeWindowKey('a', T0 + W), openState('a', [75], a)],
      [encodeWindowKey('b', T0 + W), openState('b', [80, 90], b)],
      [encodeStreamTimeKey(), encodeStreamTime(T0 + 90_000)],
    ],
  };
}

function run(knobs: Knobs, extra: Partial<AuditData> = {}): AuditReport {
  const input = [
    metric('a', 5_000),
    metric('a', 50_000),
    metric('a', 75_000),
    metric('b', 80_000),
    metric('a', 20_000),
    metric('b', 90_000),
  ].map((m, i) => ({ partition: 0, offset: BigInt(i), decoded: { kind: 'metric' as const, metric: m } }));
  const lineage = lineageHeaders({
    sourceTopic: INPUT,
    sourcePartition: 0,
    firstOffset: '0',
    lastOffset: '5',
    attemptId: 'pod#1',
    recordCount: 1 + knobs.dlq.length + knobs.changelog.length,
  });
  const written: AuditWrittenRecord[] = [
    { topic: 'output', partition: 0, offset: 0n, headers: { ...lineage }, rollup: knobs.rollup },
    ...knobs.dlq.map((d, i) => ({
      topic: 'dlq' as const,
      partition: 0,
      offset: BigInt(i),
      headers: {
        ...deadLetterHeaders<string>(
          { topic: INPUT, partition: 0, offset: String(d.offset), timestampMs: T0 },
          { reason: d.reason, message: d.reason },
          T0,
          { id: 'eos-rollup', version: '0' },
          {},
        ),
        ...lineage,
      },
    })),
    ...knobs.changelog.map(([key, value], i) => ({
      topic: 'changelog' as const,
      partition: 0,
      offset: BigInt(i),
      headers: { ...lineage },
      key,
      value,
    })),
  ];
  return audit({
    windows: { sizeMs: W, graceMs: 10_000 },
    inputTopic: INPUT,
    input,
    partitions: [{ partition: 0, committed: 6n, start: 0n, end: 6n }],
    written,
    ends: [],
    expectDrained: true,
    inventory: INVENTORY,
    changelogRead: true,
    ...extra,
  });
}

function kinds(report: AuditReport): ViolationKind[] {
  return [...new Set(report.violations.map((v) => v.kind))].sort();
}

void test('the small run is clean: rollups, DLQ, enrichment and the replayed changelog all agree', () => {
  const report = run(defaultKnobs());
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.equal(report.counts.changelogWindows, 2);
  assert.equal(report.counts.openWindowRecords, 3);
});

void test('a valid record dead-lettered processing-failed is valid-record-dead-lettered: the stage’s verdict is not taken', () => {
  const knobs = defaultKnobs();
  knobs.dlq.push({ offset: 5, reason: 'processing-failed' });
  const report = run(knobs);
  assert.ok(kinds(report).includes('valid-record-dead-lettered'), formatReport(report));
  assert.match(report.violations.find((v) => v.kind === 'valid-record-dead-lettered')?.detail ?? '', /p0@5/);
});

void test('a declared culprit may be dead-lettered processing-failed, and must be', () => {
  const knobs = defaultKnobs();
  knobs.dlq.push({ offset: 5, reason: 'processing-failed' });
  // Without b@90s, window b@60s holds only b@80s and stream time stops at 80s.
  knobs.changelog[2] = [encodeWindowKey('b', T0 + W), openState('b', [80], INVENTORY[1]!)];
  knobs.changelog[3] = [encodeStreamTimeKey(), encodeStreamTime(T0 + 80_000)];
  const culprits = [{ partition: 0, offset: 5n }];
  const report = run(knobs, { culprits });
  assert.deepEqual(report.violations, [], formatReport(report));

  knobs.dlq.pop();
  assert.deepEqual(kinds(run(knobs, { culprits })), ['count-mismatch', 'poison-missing-from-dlq']);
});

void test('a rollup whose region, datacenter or role differs from the fixed inventory is enrichment-mismatch', () => {
  const knobs = defaultKnobs();
  knobs.rollup = rollupA0('unknown');
  const report = run(knobs);
  assert.deepEqual(kinds(report), ['enrichment-mismatch']);
  assert.match(report.violations[0]?.detail ?? '', /region "unknown" \(expected "eu-west-1"\)/);
  // Without a declared inventory, enrichment is not judged.
  assert.deepEqual(run(knobs, { inventory: undefined }).violations, []);
});

void test('an unknown host must carry unknown enrichment', () => {
  const report = run(defaultKnobs(), { inventory: [INVENTORY[1]!] });
  assert.ok(kinds(report).includes('enrichment-mismatch'));
  assert.ok(report.violations.some((v) => v.detail.includes('region "eu-west-1" (expected "unknown")')));
});

void test('changelog state that differs from the recomputation is changelog-mismatch, each way', () => {
  const wrongCount = defaultKnobs();
  wrongCount.changelog[2] = [encodeWindowKey('b', T0 + W), openState('b', [80, 90, 95], INVENTORY[1]!)];
  const a = run(wrongCount);
  assert.deepEqual(kinds(a), ['changelog-mismatch']);
  assert.match(a.violations[0]?.detail ?? '', /count 3 \(expected 2\)/);

  const missing = defaultKnobs();
  missing.changelog.splice(2, 1);
  const b = run(missing);
  assert.deepEqual(kinds(b), ['changelog-mismatch']);
  assert.match(b.violations[0]?.detail ?? '', /host "b" .* not in the changelog/);

  const closedKept = defaultKnobs();
  closedKept.changelog[0] = [encodeWindowKey('a', T0), openState('a', [5], INVENTORY[0]!)];
  assert.deepEqual(kinds(run(closedKept)), ['changelog-mismatch']);

  const wrongTime = defaultKnobs();
  wrongTime.changelog[3] = [encodeStreamTimeKey(), encodeStreamTime(T0 + 75_000)];
  const d = run(wrongTime);
  assert.deepEqual(kinds(d), ['changelog-mismatch']);
  assert.match(d.violations[0]?.detail ?? '', /stream time/);

  const corrupt = defaultKnobs();
  corrupt.changelog.push([Buffer.from('not json'), Buffer.from('{}')]);
  assert.deepEqual(kinds(run(corrupt)), ['changelog-mismatch']);
});

void test('changelog decoding reads the documented format, the last value per key winning', () => {
  assert.deepEqual(decodeChangelog(encodeStreamTimeKey(), encodeStreamTime(42)), {
    kind: 'stream-time',
    value: 42,
  });
  assert.deepEqual(decodeChangelog(encodeWindowKey('h', 60), null), {
    kind: 'window',
    host: 'h',
    windowStart: 60,
    value: null,
  });
  assert.equal(
    decodeChangelog(encodeStreamTimeKey(), Buffer.from('{"v":2,"streamTimeMs":1}')).kind,
    'corrupt',
  );
  const knobs = defaultKnobs();
  // An older value first, then the right one: only the latest counts.
  knobs.changelog.unshift([encodeWindowKey('b', T0 + W), openState('b', [80], INVENTORY[1]!)]);
  const report = run(knobs);
  assert.deepEqual(kinds(report), [], formatReport(report));
});

/** Format 2 as the design document states it, written here byte by byte, not by the stage's encoder. */
function format2Window(numbers: number[], strings: string[]): Buffer {
  const text = strings.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.alloc(2 + numbers.length * 8 + text.reduce((n, t) => n + 2 + t.length, 0));
  out[0] = 2;
  out[1] = 0x57;
  numbers.forEach((n, i) => out.writeDoubleLE(n, 2 + i * 8));
  let at = 2 + numbers.length * 8;
  for (const t of text) {
    out.writeUInt16LE(t.length, at);
    t.copy(out, at + 2);
    at += 2 + t.length;
  }
  return out;
}

void test('the auditor reads changelog values in binary format 2 and in the JSON format 1 of earlier builds', () => {
  const numbers = [60_000, 3, 1, 9, 15, 2, 8, 12, 100, 200, 300, 400, 60_001, 119_999];
  const decoded = decodeChangelog(
    Buffer.from('["w","h-ü",60000]'),
    format2Window(numbers, ['h-ü', 'eu', 'dc1', 'web']),
  );
  const stored = {
    host: 'h-ü',
    windowStart: 60_000,
    count: 3,
    cpu: { min: 1, max: 9, sum: 15 },
    mem: { min: 2, max: 8, sum: 12 },
    disk_read_bytes: 100,
    disk_write_bytes: 200,
    net_rx_bytes: 300,
    net_tx_bytes: 400,
    first_event_time: 60_001,
    last_event_time: 119_999,
    enrichment: { region: 'eu', datacenter: 'dc1', role: 'web' },
  };
  assert.deepEqual(decoded, { kind: 'window', host: 'h-ü', windowStart: 60_000, value: stored });
  const json = Buffer.from(JSON.stringify({ v: 1, ...stored }));
  assert.deepEqual(decodeChangelog(Buffer.from('["w","h-ü",60000]'), json), decoded);
  const time = Buffer.alloc(10);
  time[0] = 2;
  time[1] = 0x54;
  time.writeDoubleLE(123_000, 2);
  assert.deepEqual(decodeChangelog(Buffer.from('["t"]'), time), { kind: 'stream-time', value: 123_000 });
  // The stage's encoder and this reader agree on the same aggregate.
  assert.deepEqual(decodeChangelog(encodeWindowKey('h-ü', 60_000), encodeAggregate(stored)), decoded);
  const cut = format2Window(numbers, ['h-ü', 'eu', 'dc1', 'web']).subarray(0, 50);
  assert.equal(decodeChangelog(Buffer.from('["w","h-ü",60000]'), cut).kind, 'corrupt');
  const trailing = Buffer.concat([format2Window(numbers, ['h-ü', 'eu', 'dc1', 'web']), Buffer.from([1])]);
  assert.equal(decodeChangelog(Buffer.from('["w","h-ü",60000]'), trailing).kind, 'corrupt');
});
