import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  attemptId,
  LINEAGE_HEADERS,
  lineageHeaders,
  parseLineage,
  type Lineage,
} from '../../src/engine/lineage.js';

const lineage: Lineage = {
  sourceTopic: 'server-metrics',
  sourcePartition: 5,
  firstOffset: '1200',
  lastOffset: '9007199254740993',
  attemptId: 'pod-a-7f3c#42',
  recordCount: 17,
};

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

void test('lineage headers round trip through parseLineage', () => {
  assert.deepEqual(parseLineage(lineageHeaders(lineage)), lineage);
});

void test('lineage headers round trip when the values arrive as bytes, as Kafka clients deliver them', () => {
  const asBytes = Object.fromEntries(Object.entries(lineageHeaders(lineage)).map(([k, v]) => [k, bytes(v)]));
  assert.deepEqual(parseLineage(asBytes), lineage);
});

void test('lineage header names are the documented ones', () => {
  assert.deepEqual(Object.keys(lineageHeaders(lineage)).sort(), Object.values(LINEAGE_HEADERS).sort());
  assert.equal(lineageHeaders(lineage)['eos-rollup.txn.attempt'], 'pod-a-7f3c#42');
});

void test('parseLineage returns null when any lineage header is absent', () => {
  for (const name of Object.values(LINEAGE_HEADERS)) {
    const headers: Record<string, string | undefined> = lineageHeaders(lineage);
    headers[name] = undefined;
    assert.equal(parseLineage(headers), null, name);
  }
});

void test('parseLineage returns null for malformed numbers', () => {
  const malformed: [string, string][] = [
    [LINEAGE_HEADERS.sourcePartition, '-1'],
    [LINEAGE_HEADERS.sourcePartition, '1.5'],
    [LINEAGE_HEADERS.firstOffset, '12a'],
    [LINEAGE_HEADERS.lastOffset, ''],
    [LINEAGE_HEADERS.records, '99999999999999999999'],
    [LINEAGE_HEADERS.records, '007'],
  ];
  for (const [name, value] of malformed) {
    assert.equal(parseLineage({ ...lineageHeaders(lineage), [name]: value }), null, `${name}=${value}`);
  }
});

void test('parseLineage returns null for a repeated header or bytes that are not UTF-8', () => {
  assert.equal(parseLineage({ ...lineageHeaders(lineage), [LINEAGE_HEADERS.attempt]: ['a#1', 'b#2'] }), null);
  assert.equal(
    parseLineage({ ...lineageHeaders(lineage), [LINEAGE_HEADERS.sourceTopic]: Uint8Array.from([0xff]) }),
    null,
  );
});

void test('an attempt id is the instance id and the per-task counter joined by #', () => {
  assert.equal(attemptId('pod-a-7f3c', 42), 'pod-a-7f3c#42');
});
