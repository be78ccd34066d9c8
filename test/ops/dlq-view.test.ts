import assert from 'node:assert/strict';
import { test } from 'node:test';

import { metricDeadLetter } from '../../src/domain/dead-letter.js';
import { DLQ_HEADERS, deadLetterHeaders } from '../../src/engine/dead-letter.js';
import { lineageHeaders } from '../../src/engine/lineage.js';
import type { ServerMetric } from '../../src/domain/metric.js';
import {
  DlqSummary,
  REPLAY_HEADERS,
  describeDlqRecord,
  dlqRecordJson,
  formatDlqEntry,
  type DlqRecord,
} from '../../src/ops/dlq-view.js';

const FAILED_AT = Date.UTC(2026, 10, 25, 12, 5);
const METRIC: ServerMetric = {
  host: 'host-7',
  timestamp: Date.UTC(2026, 10, 25, 12),
  cpu_percent: 150,
  mem_percent: 10,
  disk_read_bytes: 1,
  disk_write_bytes: 2,
  net_rx_bytes: 3,
  net_tx_bytes: 4,
  load_avg_1m: null,
};

/** A dead letter as the stage writes it: original headers, KIP-1034 and eos-rollup headers, lineage. */
function deadLetter(
  offset: number,
  reason: 'late' | 'unknown-schema-id' | 'percent-out-of-range',
  original: Record<string, Buffer> = {},
  sourcePartition = 1,
): DlqRecord {
  const headers = {
    ...deadLetterHeaders(
      {
        topic: 'metrics',
        partition: sourcePartition,
        offset: String(1000 + offset),
        timestampMs: METRIC.timestamp,
      },
      metricDeadLetter({ reason, message: `why ${offset}` }),
      FAILED_AT + offset,
      { id: 'app/i-1', version: '0.1.0' },
      original,
    ),
    ...lineageHeaders({
      sourceTopic: 'metrics',
      sourcePartition,
      firstOffset: '1000',
      lastOffset: '1010',
      attemptId: 'i-1/p1#3',
      recordCount: 4,
    }),
  };
  return {
    topic: 'metrics-dlq',
    partition: 0,
    offset: BigInt(offset),
    timestampMs: FAILED_AT + offset + 1,
    key: Buffer.from('host-7'),
    value: Buffer.from([0, 0x77, 0x35, 0x94, 0, 0xff]),
    headers: Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v) : v]),
    ),
  };
}

test('the stage headers decode into named fields, from Buffers as kafkajs delivers them', () => {
  const entry = describeDlqRecord(deadLetter(3, 'late'));
  assert.equal(entry.reason, 'late');
  assert.equal(entry.exception, 'LateRecordError');
  assert.equal(entry.message, 'why 3');
  assert.deepEqual(entry.source, { topic: 'metrics', partition: 1, offset: 1003n });
  assert.equal(entry.sourceTimestampMs, METRIC.timestamp);
  assert.equal(entry.failedAtMs, FAILED_AT + 3);
  assert.equal(entry.stageId, 'app/i-1');
  assert.equal(entry.stageVersion, '0.1.0');
  assert.equal(entry.replayOf, null);
});

test('a record without our headers still reads: reason unknown, no source, failure time from its timestamp', () => {
  const entry = describeDlqRecord({
    ...deadLetter(0, 'late'),
    headers: { [DLQ_HEADERS.offset]: Buffer.from('x') },
  });
  assert.equal(entry.reason, 'unknown');
  assert.equal(entry.source, null);
  assert.equal(entry.failedAtMs, FAILED_AT + 1);
});

test('a replay that failed again is recognised by the replay header the stage kept', () => {
  const record = deadLetter(4, 'late', { [REPLAY_HEADERS.of]: Buffer.from('metrics-dlq:0:1') });
  assert.equal(describeDlqRecord(record).replayOf, 'metrics-dlq:0:1');
});

test('the summary counts the selected records by reason and source partition, and keeps the first `limit`', () => {
  const summary = new DlqSummary(
    { reasons: new Set(['late', 'unknown-schema-id']), sinceMs: FAILED_AT + 1 },
    2,
  );
  summary.add(describeDlqRecord(deadLetter(0, 'late'))); // before --since
  summary.add(describeDlqRecord(deadLetter(1, 'late')));
  summary.add(describeDlqRecord(deadLetter(2, 'unknown-schema-id', {}, 2)));
  summary.add(describeDlqRecord(deadLetter(3, 'percent-out-of-range'))); // other reason
  summary.add(describeDlqRecord(deadLetter(4, 'late')));
  assert.equal(summary.total, 5);
  assert.equal(summary.selected, 3);
  assert.deepEqual(
    [...summary.byReason],
    [
      ['late', 2],
      ['unknown-schema-id', 1],
    ],
  );
  assert.deepEqual(
    [...summary.bySource],
    [
      ['metrics/1', 2],
      ['metrics/2', 1],
    ],
  );
  assert.deepEqual(
    summary.shown.map((e) => e.record.offset),
    [1n, 2n],
  );
});

test('JSON: decoded payload when there is one, raw bytes always, original headers apart from ours by name', () => {
  const record = deadLetter(5, 'percent-out-of-range', { traceparent: Buffer.from('00-abc-01') });
  const json = dlqRecordJson(describeDlqRecord(record), { kind: 'value', value: METRIC });
  assert.deepEqual(json.dlq, {
    topic: 'metrics-dlq',
    partition: 0,
    offset: 5,
    timestamp: new Date(FAILED_AT + 6).toISOString(),
  });
  assert.deepEqual(json.source, {
    topic: 'metrics',
    partition: 1,
    offset: 1005,
    timestamp: new Date(METRIC.timestamp).toISOString(),
  });
  assert.equal(json.failedAt, new Date(FAILED_AT + 5).toISOString());
  assert.deepEqual(json.key, { text: 'host-7', base64: Buffer.from('host-7').toString('base64') });
  assert.deepEqual(json.value, { bytes: 6, base64: 'AHc1lAD/', metric: METRIC, decodeError: null });
  assert.deepEqual(json.headers[0], {
    name: 'traceparent',
    text: '00-abc-01',
    base64: Buffer.from('00-abc-01').toString('base64'),
  });
  assert.ok(json.headers.some((h) => h.name === DLQ_HEADERS.reason && h.text === 'percent-out-of-range'));
});

test('JSON: an undecodable payload names why, and bytes that are not UTF-8 have no text', () => {
  const record = { ...deadLetter(6, 'unknown-schema-id'), key: Buffer.from([0xff, 0xfe]) };
  const json = dlqRecordJson(describeDlqRecord(record), {
    kind: 'poison',
    poison: { reason: 'unknown-schema-id', message: 'schema id 2000000000 is not in the registry' },
  });
  assert.deepEqual(json.key, { text: null, base64: '//4=' });
  assert.ok(json.value);
  assert.equal(json.value.decodeError, 'unknown-schema-id: schema id 2000000000 is not in the registry');
  assert.equal(json.value.metric, null);
  assert.equal(
    dlqRecordJson(describeDlqRecord(record), null).value?.decodeError,
    'not decoded (registry unavailable)',
  );
});

test('text: where and why, the key, the payload decoded or as hex, the carried headers only', () => {
  const record = deadLetter(7, 'unknown-schema-id', { traceparent: Buffer.from('00-abc-01') });
  const text = formatDlqEntry(describeDlqRecord(record), {
    kind: 'poison',
    poison: { reason: 'unknown-schema-id', message: 'schema id 2000000000 is not in the registry' },
  });
  assert.deepEqual(text.split('\n'), [
    `metrics-dlq/0@7  unknown-schema-id  failed ${new Date(FAILED_AT + 7).toISOString()}  from metrics/1@1007 (record time ${new Date(METRIC.timestamp).toISOString()})`,
    '  error   UnknownSchemaIdError: why 7',
    '  key     "host-7"',
    '  value   6 bytes, not decodable (unknown-schema-id: schema id 2000000000 is not in the registry); hex 0077359400ff',
    '  headers traceparent=00-abc-01',
    '  stage   app/i-1 0.1.0',
  ]);
  const decoded = formatDlqEntry(describeDlqRecord(record), { kind: 'value', value: METRIC });
  assert.match(decoded, /\n {2}value {3}ServerMetric \{"host":"host-7",/);
});
