import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  audit,
  formatReport,
  VIOLATION_KINDS,
  type AuditData,
  type AuditInputRecord,
  type AuditReport,
  type AuditWrittenRecord,
  type ViolationKind,
} from '../../src/audit/auditor.js';
import { type PoisonReason } from '../../src/domain/dead-letter.js';
import { deadLetterHeaders, DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { lineageHeaders, LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import type { MetricRollup, ServerMetric } from '../../src/domain/metric.js';

/**
 * A hand-made run. Windows of 60 s, grace 10 s; T0 is a window boundary. Expected rollups are written out
 * literally, not computed, so the auditor's recomputation is checked against a human, not against itself.
 */
const INPUT_TOPIC = 'server-metrics';
const TOPIC_NAMES = {
  output: 'server-metrics-rollup-1m',
  dlq: 'server-metrics-dlq',
  changelog: 'eos-rollup-rollup-state-changelog',
};
const T0 = Date.UTC(2024, 0, 1);
const SEC = 1000;

type Bytes = [diskRead: number, diskWrite: number, netRx: number, netTx: number];

function metric(host: string, atMs: number, cpu: number, mem: number, bytes: Bytes): ServerMetric {
  return {
    host,
    timestamp: T0 + atMs,
    cpu_percent: cpu,
    mem_percent: mem,
    disk_read_bytes: bytes[0],
    disk_write_bytes: bytes[1],
    net_rx_bytes: bytes[2],
    net_tx_bytes: bytes[3],
    load_avg_1m: null,
  };
}

function ok(partition: number, offset: number, m: ServerMetric): AuditInputRecord {
  return { partition, offset: BigInt(offset), decoded: { kind: 'metric', metric: m } };
}

function bad(partition: number, offset: number, reason: PoisonReason): AuditInputRecord {
  return { partition, offset: BigInt(offset), decoded: { kind: 'poison', reason } };
}

function rollup(
  host: string,
  windowStartMs: number,
  count: number,
  cpu: [min: number, max: number, sum: number],
  mem: [min: number, max: number, sum: number],
  bytes: Bytes,
  firstMs: number,
  lastMs: number,
): MetricRollup {
  return {
    host,
    region: 'eu-west-1',
    datacenter: 'dc-1',
    role: 'web',
    window_start: T0 + windowStartMs,
    window_end: T0 + windowStartMs + 60 * SEC,
    count,
    cpu_percent: { min: cpu[0], max: cpu[1], sum: cpu[2], avg: cpu[2] / count },
    mem_percent: { min: mem[0], max: mem[1], sum: mem[2], avg: mem[2] / count },
    disk_read_bytes: bytes[0],
    disk_write_bytes: bytes[1],
    net_rx_bytes: bytes[2],
    net_tx_bytes: bytes[3],
    first_event_time: T0 + firstMs,
    last_event_time: T0 + lastMs,
  };
}

/** One committed transaction of the stage; its lineage headers are stamped from its contents. */
interface Txn {
  partition: number;
  first: number;
  last: number;
  attempt: string;
  rollups: MetricRollup[];
  dlq: { offset: number; reason: PoisonReason }[];
  /** How many changelog records it wrote (the auditor never decodes them, it only counts them). */
  changelog: number;
}

interface Run {
  input: AuditInputRecord[];
  partitions: AuditData['partitions'];
  txns: Txn[];
  expectDrained: boolean;
}

/**
 * Partition 0, hosts a and b (offset 4 is a transaction marker of the input's producer):
 *   0 a@5s  1 b@10s  2 bad magic byte  3 a@50s  5 a@20s cpu 150 (invalid)  6 a@65s  7 b@75s (closes window 0)
 *   8 a@30s (late: window 0 closed at 70s)  9 b@100s  10 a@140s (closes window 60s; a@120s stays open)
 * Partition 1, hosts c and d:
 *   0 c@0s  1 null value  2 c@59.999s  3 d@30s  4 c@130s (closes window 0)  5 d@61s (late: window 60s closes
 *   exactly at 130s)  6 empty host. c@120s stays open.
 */
function correctRun(): Run {
  const input = [
    ok(0, 0, metric('a', 5 * SEC, 10, 20, [100, 200, 300, 400])),
    ok(0, 1, metric('b', 10 * SEC, 30, 40, [1, 2, 3, 4])),
    bad(0, 2, 'bad-magic-byte'),
    ok(0, 3, metric('a', 50 * SEC, 20, 30, [100, 200, 300, 400])),
    ok(0, 5, metric('a', 20 * SEC, 150, 30, [1, 1, 1, 1])),
    ok(0, 6, metric('a', 65 * SEC, 40, 50, [10, 20, 30, 40])),
    ok(0, 7, metric('b', 75 * SEC, 50, 60, [5, 6, 7, 8])),
    ok(0, 8, metric('a', 30 * SEC, 99, 99, [9, 9, 9, 9])),
    ok(0, 9, metric('b', 100 * SEC, 70, 80, [1, 1, 1, 1])),
    ok(0, 10, metric('a', 140 * SEC, 60, 70, [2, 2, 2, 2])),
    ok(1, 0, metric('c', 0, 1.5, 2.5, [0, 0, 0, 0])),
    bad(1, 1, 'null-value'),
    ok(1, 2, metric('c', 59_999, 2.25, 3.75, [10, 0, 0, 10])),
    ok(1, 3, metric('d', 30 * SEC, 0.1, 0.2, [1, 2, 3, 4])),
    ok(1, 4, metric('c', 130 * SEC, 5, 5, [1, 1, 1, 1])),
    ok(1, 5, metric('d', 61 * SEC, 5, 5, [1, 1, 1, 1])),
    ok(1, 6, metric(' ', 135 * SEC, 5, 5, [1, 1, 1, 1])),
  ];
  const a0 = rollup('a', 0, 2, [10, 20, 30], [20, 30, 50], [200, 400, 600, 800], 5 * SEC, 50 * SEC);
  const b0 = rollup('b', 0, 1, [30, 30, 30], [40, 40, 40], [1, 2, 3, 4], 10 * SEC, 10 * SEC);
  const a60 = rollup('a', 60 * SEC, 1, [40, 40, 40], [50, 50, 50], [10, 20, 30, 40], 65 * SEC, 65 * SEC);
  const b60 = rollup('b', 60 * SEC, 2, [50, 70, 120], [60, 80, 140], [6, 7, 8, 9], 75 * SEC, 100 * SEC);
  const c0 = rollup('c', 0, 2, [1.5, 2.25, 3.75], [2.5, 3.75, 6.25], [10, 0, 0, 10], 0, 59_999);
  const d0 = rollup('d', 0, 1, [0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [1, 2, 3, 4], 30 * SEC, 30 * SEC);
  return {
    input,
    partitions: [
      { partition: 0, committed: 11n, start: 0n, end: 11n },
      { partition: 1, committed: 7n, start: 0n, end: 7n },
    ],
    txns: [
      {
        partition: 0,
        first: 0,
        last: 3,
        attempt: 'pod-a#1',
        rollups: [],
        dlq: [{ offset: 2, reason: 'bad-magic-byte' }],
        changelog: 3,
      },
      {
        partition: 1,
        first: 0,
        last: 3,
        attempt: 'pod-b#1',
        rollups: [],
        dlq: [{ offset: 1, reason: 'null-value' }],
        changelog: 3,
      },
      {
        partition: 0,
        first: 5,
        last: 7,
        attempt: 'pod-a#2',
        rollups: [a0, b0],
        dlq: [{ offset: 5, reason: 'percent-out-of-range' }],
        changelog: 5,
      },
      {
        partition: 0,
        first: 8,
        last: 10,
        attempt: 'pod-a#3',
        rollups: [a60, b60],
        dlq: [{ offset: 8, reason: 'late' }],
        changelog: 4,
      },
      {
        partition: 1,
        first: 4,
        last: 6,
        attempt: 'pod-b#2',
        rollups: [c0, d0],
        dlq: [
          { offset: 5, reason: 'late' },
          { offset: 6, reason: 'empty-host' },
        ],
        changelog: 4,
      },
    ],
    expectDrained: true,
  };
}

/** Writes the transactions as the stage would: every record carries its transaction's lineage headers. */
function assemble(run: Run): AuditData {
  const next = new Map<string, bigint>();
  const place = (topic: keyof typeof TOPIC_NAMES, partition: number): bigint => {
    const key = `${topic}/${partition}`;
    const offset = next.get(key) ?? 0n;
    next.set(key, offset + 1n);
    return offset;
  };
  const written: AuditWrittenRecord[] = [];
  for (const t of run.txns) {
    const lineage = lineageHeaders({
      sourceTopic: INPUT_TOPIC,
      sourcePartition: t.partition,
      firstOffset: String(t.first),
      lastOffset: String(t.last),
      attemptId: t.attempt,
      recordCount: t.rollups.length + t.dlq.length + t.changelog,
    });
    for (const r of t.rollups) {
      written.push({
        topic: 'output',
        partition: t.partition,
        offset: place('output', t.partition),
        headers: { ...lineage },
        rollup: r,
      });
    }
    for (const d of t.dlq) {
      const dlqHeaders = deadLetterHeaders<string>(
        { topic: INPUT_TOPIC, partition: t.partition, offset: String(d.offset), timestampMs: T0 },
        { reason: d.reason, message: `poison: ${d.reason}` },
        T0 + 3_600_000,
        { id: 'eos-rollup', version: '0.1.0' },
        {},
      );
      written.push({
        topic: 'dlq',
        partition: t.partition,
        offset: place('dlq', t.partition),
        headers: { ...dlqHeaders, ...lineage },
      });
    }
    for (let i = 0; i < t.changelog; i++) {
      written.push({
        topic: 'changelog',
        partition: t.partition,
        offset: place('changelog', t.partition),
        headers: { ...lineage },
      });
    }
    // The commit marker takes an offset in every partition the transaction wrote to.
    const touched = new Set(
      written
        .filter((w) => w.headers[LINEAGE_HEADERS.attempt] === t.attempt)
        .map((w) => `${w.topic}/${w.partition}`),
    );
    for (const key of touched) next.set(key, (next.get(key) ?? 0n) + 1n);
  }
  const ends = [...next].map(([key, end]) => {
    const [topic, partition] = key.split('/') as [keyof typeof TOPIC_NAMES, string];
    return {
      topic: TOPIC_NAMES[topic],
      partition: Number(partition),
      committedEnd: end,
      uncommittedEnd: end,
    };
  });
  return {
    windows: { sizeMs: 60 * SEC, graceMs: 10 * SEC },
    inputTopic: INPUT_TOPIC,
    input: run.input,
    partitions: run.partitions,
    written,
    ends,
    expectDrained: run.expectDrained,
  };
}

function txn(run: Run, attempt: string): Txn {
  const found = run.txns.find((t) => t.attempt === attempt);
  assert.ok(found, attempt);
  return found;
}

function kinds(report: AuditReport): ViolationKind[] {
  return [...new Set(report.violations.map((v) => v.kind))].sort();
}

function auditMutated(mutate: (run: Run) => void): AuditReport {
  const run = correctRun();
  mutate(run);
  return audit(assemble(run));
}

function assertOnly(report: AuditReport, expected: ViolationKind[]): void {
  assert.deepEqual(kinds(report), [...expected].sort(), formatReport(report));
}

function details(report: AuditReport, kind: ViolationKind): string[] {
  return report.violations.filter((v) => v.kind === kind).map((v) => v.detail);
}

void test('a correct run has no violations and the counts add up', () => {
  const report = audit(assemble(correctRun()));
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.deepEqual(report.byKind, {});
  assert.deepEqual(report.counts, {
    inputRecords: 17,
    validRecords: 11,
    poisonRecords: 6,
    rollups: 6,
    rollupRecordCount: 9,
    dlqRecords: 6,
    openWindowRecords: 2,
    expectedWindows: 6,
    openWindows: 2,
    attempts: 5,
    changelogWindows: 0,
  });
});

void test('a missing rollup of a closed window is rollup-missing, and the records it held are unaccounted for', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-a#3').rollups.shift(); // a@60s
  });
  assertOnly(report, ['rollup-missing', 'count-mismatch']);
  assert.match(details(report, 'rollup-missing')[0] ?? '', /host "a" window \d+ .*p0/);
  assert.match(details(report, 'count-mismatch')[0] ?? '', /= 16, but input records = 17/);
});

void test('a window emitted twice is rollup-duplicated, and counted once', () => {
  const report = auditMutated((run) => {
    const [a0] = txn(run, 'pod-a#2').rollups;
    assert.ok(a0);
    txn(run, 'pod-a#3').rollups.push(a0);
  });
  assertOnly(report, ['rollup-duplicated']);
  assert.equal(report.counts.rollups, 7);
  assert.equal(report.counts.rollupRecordCount, 9);
});

void test('a rollup whose count differs from the input is rollup-wrong and breaks the count equation', () => {
  const report = auditMutated((run) => {
    const b60 = txn(run, 'pod-a#3').rollups[1];
    assert.ok(b60);
    b60.count = 3;
  });
  assertOnly(report, ['rollup-wrong', 'count-mismatch']);
  assert.match(details(report, 'rollup-wrong')[0] ?? '', /count 3 \(expected 2\)/);
});

void test('a rollup whose sum, min or max differs is rollup-wrong, naming each field', () => {
  const report = auditMutated((run) => {
    const c0 = txn(run, 'pod-b#2').rollups[0];
    assert.ok(c0);
    c0.cpu_percent = { ...c0.cpu_percent, sum: 3.5 };
    c0.mem_percent = { ...c0.mem_percent, min: 2, max: 4 };
    c0.net_tx_bytes = 11;
  });
  assertOnly(report, ['rollup-wrong']);
  const [detail] = details(report, 'rollup-wrong');
  for (const field of ['cpu_percent.sum', 'mem_percent.min', 'mem_percent.max', 'net_tx_bytes']) {
    assert.ok(detail?.includes(field), `${field} in ${detail}`);
  }
  assert.ok(!detail?.includes('count'), detail);
  // The rollup's avg still equals the input's, so it is not named.
  assert.ok(!detail?.includes('avg'), detail);
});

void test('a double sum that differs only by rounding (relative 1e-9) is not rollup-wrong', () => {
  const report = auditMutated((run) => {
    const c0 = txn(run, 'pod-b#2').rollups[0];
    assert.ok(c0);
    c0.cpu_percent = { ...c0.cpu_percent, sum: 3.75 * (1 + 1e-12) };
  });
  assert.deepEqual(report.violations, [], formatReport(report));
});

void test('a rollup for a (host, window) without valid input is rollup-unexpected', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-a#3').rollups.push(
      rollup('ghost', 60 * SEC, 1, [1, 1, 1], [1, 1, 1], [0, 0, 0, 0], 61 * SEC, 61 * SEC),
    );
  });
  assertOnly(report, ['rollup-unexpected', 'count-mismatch']);
  assert.match(details(report, 'rollup-unexpected')[0] ?? '', /"ghost"/);
});

void test('an early rollup (idle flush) that matches the open window exactly is accepted', () => {
  const report = auditMutated((run) => {
    // An idle flush covers no input: first = next offset, last = first - 1.
    run.txns.push({
      partition: 0,
      first: 11,
      last: 10,
      attempt: 'pod-a#4',
      rollups: [rollup('a', 120 * SEC, 1, [60, 60, 60], [70, 70, 70], [2, 2, 2, 2], 140 * SEC, 140 * SEC)],
      dlq: [],
      changelog: 2,
    });
  });
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.equal(report.counts.openWindows, 1);
  assert.equal(report.counts.openWindowRecords, 1);
  assert.equal(report.counts.rollupRecordCount, 10);
});

void test('an early rollup that differs from the open window is rollup-wrong', () => {
  const report = auditMutated((run) => {
    run.txns.push({
      partition: 0,
      first: 11,
      last: 10,
      attempt: 'pod-a#4',
      rollups: [rollup('a', 120 * SEC, 1, [60, 60, 60], [70, 70, 70], [2, 2, 2, 3], 140 * SEC, 140 * SEC)],
      dlq: [],
      changelog: 2,
    });
  });
  assertOnly(report, ['rollup-wrong']);
  assert.match(
    details(report, 'rollup-wrong')[0] ?? '',
    /before record stream time closed it.*net_tx_bytes 3 \(expected 2\)/,
  );
});

void test('a poison pill missing from the DLQ is poison-missing-from-dlq', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-a#3').dlq = []; // the late record a@30s
  });
  assertOnly(report, ['poison-missing-from-dlq', 'count-mismatch']);
  assert.match(details(report, 'poison-missing-from-dlq')[0] ?? '', /p0@8 is poison \(late\)/);
});

void test('a poison pill in the DLQ twice is poison-duplicated-in-dlq, and counted once', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-b#2').dlq.push({ offset: 6, reason: 'empty-host' });
  });
  assertOnly(report, ['poison-duplicated-in-dlq']);
  assert.equal(report.counts.dlqRecords, 6);
});

void test('a DLQ record pointing at a valid input record is valid-record-in-dlq', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-a#3').dlq.push({ offset: 9, reason: 'percent-out-of-range' });
  });
  assertOnly(report, ['valid-record-in-dlq', 'count-mismatch']);
  assert.match(details(report, 'valid-record-in-dlq')[0] ?? '', /p0@9 is valid.*percent-out-of-range/);
});

void test('a valid record dead-lettered instead of aggregated is valid-record-in-dlq and rollup-wrong', () => {
  const report = auditMutated((run) => {
    const t = txn(run, 'pod-a#3');
    t.dlq.push({ offset: 9, reason: 'late' });
    t.rollups[1] = rollup('b', 60 * SEC, 1, [50, 50, 50], [60, 60, 60], [5, 6, 7, 8], 75 * SEC, 75 * SEC);
  });
  assertOnly(report, ['valid-record-in-dlq', 'rollup-wrong']);
});

void test('a DLQ record for input beyond the committed offset breaks only the count equation', () => {
  const report = auditMutated((run) => {
    run.txns.push({
      partition: 1,
      first: 7,
      last: 7,
      attempt: 'pod-b#3',
      rollups: [],
      dlq: [{ offset: 7, reason: 'null-value' }],
      changelog: 0,
    });
  });
  assertOnly(report, ['count-mismatch']);
  assert.match(
    details(report, 'count-mismatch')[0] ?? '',
    /= 18, but input records = 17.*did not read: p1@7/,
  );
});

void test('DLQ records of another input topic are not ours to audit', () => {
  const data = audit(assemble(correctRun()));
  const other = assemble(correctRun());
  other.written.push({
    topic: 'dlq',
    partition: 0,
    offset: 99n,
    headers: {
      [DLQ_HEADERS.topic]: 'other-input',
      [DLQ_HEADERS.partition]: '0',
      [DLQ_HEADERS.offset]: '2',
      ...lineageHeaders({
        sourceTopic: 'other-input',
        sourcePartition: 0,
        firstOffset: '2',
        lastOffset: '2',
        attemptId: 'other#1',
        recordCount: 1,
      }),
    },
  });
  const report = audit(other);
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.equal(report.counts.dlqRecords, data.counts.dlqRecords);
});

void test('a transaction with one record fewer visible than it declared is torn', () => {
  const data = assemble(correctRun());
  const index = data.written.findIndex(
    (w) => w.topic === 'changelog' && w.headers[LINEAGE_HEADERS.attempt] === 'pod-b#2',
  );
  data.written.splice(index, 1);
  const report = audit(data);
  assertOnly(report, ['torn-transaction']);
  assert.match(
    details(report, 'torn-transaction')[0] ?? '',
    /"pod-b#2".*declared 8 records but 7 are visible \(output 2, dlq 2, changelog 3\)/,
  );
});

void test('a transaction with more records visible than it declared is torn', () => {
  const data = assemble(correctRun());
  const extra = data.written.find(
    (w) => w.topic === 'changelog' && w.headers[LINEAGE_HEADERS.attempt] === 'pod-a#1',
  );
  assert.ok(extra);
  data.written.push({ ...extra, offset: 1000n });
  assertOnly(audit(data), ['torn-transaction']);
});

void test('a written record without lineage headers is torn-transaction', () => {
  const data = assemble(correctRun());
  data.written.push({ topic: 'changelog', partition: 0, offset: 1000n, headers: {} });
  const report = audit(data);
  assertOnly(report, ['torn-transaction']);
  assert.match(
    details(report, 'torn-transaction')[0] ?? '',
    /changelog p0@1000 has no valid lineage headers/,
  );
});

void test('an attempt id naming two different transactions is torn-transaction, reported once', () => {
  // A task recreated in the same instance must not restart its counter where ids would repeat.
  const report = auditMutated((run) => {
    txn(run, 'pod-a#3').attempt = 'pod-a#2';
  });
  assertOnly(report, ['torn-transaction']);
  assert.equal(report.byKind['torn-transaction'], 1);
  assert.match(
    details(report, 'torn-transaction')[0] ?? '',
    /attempt id "pod-a#2" carries 2 different lineages/,
  );
  assert.equal(report.counts.attempts, 5);
});

void test('a record whose lineage disagrees with the rest of its transaction is torn-transaction', () => {
  const data = assemble(correctRun());
  const record = data.written.find(
    (w) => w.topic === 'dlq' && w.headers[LINEAGE_HEADERS.attempt] === 'pod-b#2',
  );
  assert.ok(record);
  record.headers[LINEAGE_HEADERS.records] = '7';
  const report = audit(data);
  assertOnly(report, ['torn-transaction']);
  // The id names two lineages, and neither group has the records it declares.
  assert.equal(report.byKind['torn-transaction'], 3);
});

void test('two attempts whose input ranges overlap are input-covered-twice', () => {
  const report = auditMutated((run) => {
    // A zombie's transaction that committed state for offsets 7-9 again.
    run.txns.push({
      partition: 0,
      first: 7,
      last: 9,
      attempt: 'zombie#1',
      rollups: [],
      dlq: [],
      changelog: 2,
    });
  });
  assertOnly(report, ['input-covered-twice']);
  const found = details(report, 'input-covered-twice');
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(
    found.join('\n'),
    /p0 offset 7 covered by attempt "pod-a#2" \(offsets 5-7\) and attempt "zombie#1" \(offsets 7-9\)/,
  );
});

void test('input records in no attempt range are input-not-covered, reported as compact ranges', () => {
  const report = auditMutated((run) => {
    txn(run, 'pod-a#1').first = 3;
    txn(run, 'pod-b#2').first = 5;
  });
  assertOnly(report, ['input-not-covered']);
  assert.deepEqual(details(report, 'input-not-covered'), [
    "p0 offsets 0-2 (3 records) in no transaction's lineage range",
    "p1 offset 4 (1 record) in no transaction's lineage range",
  ]);
});

void test('offsets skipped by input transaction markers need no coverage', () => {
  const report = auditMutated((run) => {
    // Ranges that stop short of offset 4 (a marker) still cover every data record.
    txn(run, 'pod-a#2').first = 5;
  });
  assert.deepEqual(report.violations, []);
});

void test('a written partition whose read_committed end lags its read_uncommitted end has a hanging transaction', () => {
  const data = assemble(correctRun());
  const end = data.ends.find((e) => e.topic === TOPIC_NAMES.dlq && e.partition === 1);
  assert.ok(end);
  end.uncommittedEnd += 3n;
  const report = audit(data);
  assertOnly(report, ['hanging-transaction']);
  assert.match(
    details(report, 'hanging-transaction')[0] ?? '',
    /server-metrics-dlq p1: read_committed end (\d+) but read_uncommitted end \d+/,
  );
});

void test('a drained run whose committed offset stops short of the input end is not-drained', () => {
  const run = correctRun();
  run.partitions[1] = { partition: 1, committed: 7n, start: 0n, end: 9n };
  const report = audit(assemble(run));
  assertOnly(report, ['not-drained']);
  assert.deepEqual(details(report, 'not-drained'), ['input p1: committed offset 7, end offset 9']);
  assert.deepEqual(audit(assemble({ ...run, expectDrained: false })).violations, []);
});

void test('an empty input partition with no committed offset counts as drained', () => {
  const run = correctRun();
  run.partitions.push({ partition: 2, committed: null, start: 5n, end: 5n });
  assert.deepEqual(audit(assemble(run)).violations, []);
  run.partitions[2] = { partition: 2, committed: null, start: 0n, end: 5n };
  assertOnly(audit(assemble(run)), ['not-drained']);
});

void test('a record that would push a window byte sum past 2^53-1 is poison processing-failed, not aggregated', () => {
  const big = Number.MAX_SAFE_INTEGER - 5;
  const run: Run = {
    input: [
      ok(0, 0, metric('x', 1 * SEC, 1, 1, [big, 0, 0, 0])),
      ok(0, 1, metric('x', 2 * SEC, 1, 1, [10, 0, 0, 0])),
      ok(0, 2, metric('x', 3 * SEC, 3, 3, [5, 0, 0, 0])),
      ok(0, 3, metric('x', 75 * SEC, 1, 1, [0, 0, 0, 0])),
    ],
    partitions: [{ partition: 0, committed: 4n, start: 0n, end: 4n }],
    txns: [
      {
        partition: 0,
        first: 0,
        last: 3,
        attempt: 'pod-x#1',
        rollups: [rollup('x', 0, 2, [1, 3, 4], [1, 3, 4], [big + 5, 0, 0, 0], 1 * SEC, 3 * SEC)],
        dlq: [{ offset: 1, reason: 'processing-failed' }],
        changelog: 2,
      },
    ],
    expectDrained: true,
  };
  const report = audit(assemble(run));
  assert.deepEqual(report.violations, [], formatReport(report));
  assert.equal(report.counts.poisonRecords, 1);

  run.txns[0]!.dlq = [];
  assertOnly(audit(assemble(run)), ['poison-missing-from-dlq', 'count-mismatch']);
});

void test('a rollup is matched to its input partition through its lineage, so the same host on two partitions is not a duplicate', () => {
  const run = correctRun();
  // Host a also shows up on partition 1, in a window that partition 1's stream time (130 s) closed.
  run.input.push(ok(1, 7, metric('a', 10 * SEC, 5, 5, [0, 0, 0, 0])));
  run.partitions[1] = { partition: 1, committed: 8n, start: 0n, end: 8n };
  // ...which makes it late on partition 1; the stage dead-letters it.
  run.txns.push({
    partition: 1,
    first: 7,
    last: 7,
    attempt: 'pod-b#3',
    rollups: [],
    dlq: [{ offset: 7, reason: 'late' }],
    changelog: 0,
  });
  assert.deepEqual(audit(assemble(run)).violations, []);
});

void test('formatReport lists counts first, then every kind present with its details', () => {
  const clean = formatReport(audit(assemble(correctRun())));
  assert.match(clean, /^audit: no violations\ncounts:\n {2}inputRecords: 17\n/);

  const run = correctRun();
  txn(run, 'pod-a#3').rollups.shift();
  txn(run, 'pod-a#2').rollups.push(rollup('ghost', 0, 1, [1, 1, 1], [1, 1, 1], [0, 0, 0, 0], 1, 1));
  txn(run, 'pod-b#2').rollups.push(txn(run, 'pod-b#2').rollups[0]!);
  txn(run, 'pod-b#2').rollups[1] = { ...txn(run, 'pod-b#2').rollups[1]!, count: 4 };
  txn(run, 'pod-a#1').dlq = [];
  txn(run, 'pod-b#1').dlq.push({ offset: 1, reason: 'null-value' }, { offset: 0, reason: 'late' });
  txn(run, 'pod-a#1').first = 1;
  txn(run, 'pod-a#2').dlq.push({ offset: 6, reason: 'processing-failed' });
  run.txns.push({ partition: 1, first: 2, last: 4, attempt: 'zombie#1', rollups: [], dlq: [], changelog: 1 });
  run.partitions[0] = { partition: 0, committed: 11n, start: 0n, end: 20n };
  // An empty inventory makes every host unknown; changelog records without keys cannot be replayed.
  const data = { ...assemble(run), inventory: [], changelogRead: true };
  data.written.push({ topic: 'changelog', partition: 1, offset: 500n, headers: {} });
  for (let i = 0; i < 25; i++) {
    data.ends.push({ topic: 'extra', partition: i, committedEnd: 0n, uncommittedEnd: 1n });
  }
  const report = audit(data);
  assert.deepEqual(kinds(report), [...VIOLATION_KINDS].sort(), formatReport(report));
  const text = formatReport(report);
  assert.ok(text.indexOf('counts:') < text.indexOf('rollup-missing'));
  for (const kind of VIOLATION_KINDS) {
    assert.match(text, new RegExp(`^${kind} \\(${report.byKind[kind]}\\):$`, 'm'), kind);
  }
  assert.equal(report.byKind['hanging-transaction'], 25);
  assert.match(text, /^ {2}\.\.\. and 5 more$/m);
});
