import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DLQ_HEADERS } from '../../src/engine/dead-letter.js';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import { REPLAY_HEADERS, describeDlqRecord, type DlqEntry } from '../../src/ops/dlq-view.js';
import {
  ReplayPlanner,
  countPlan,
  replayHeaders,
  replayMarkerKey,
  replayMarkerValue,
  type ReplaySelection,
} from '../../src/ops/replay-plan.js';

const FAILED_AT = Date.UTC(2026, 10, 25, 12);

function entry(
  dlqOffset: number,
  options: {
    reason?: string;
    topic?: string;
    partition?: number;
    offset?: number;
    extra?: Record<string, string>;
  } = {},
): DlqEntry {
  return describeDlqRecord({
    topic: 'dlq',
    partition: dlqOffset % 2,
    offset: BigInt(dlqOffset),
    timestampMs: FAILED_AT + dlqOffset,
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    headers: {
      [DLQ_HEADERS.topic]: options.topic ?? 'metrics',
      [DLQ_HEADERS.partition]: String(options.partition ?? 0),
      [DLQ_HEADERS.offset]: String(options.offset ?? 100 + dlqOffset),
      [DLQ_HEADERS.reason]: options.reason ?? 'processing-failed',
      [DLQ_HEADERS.failedAt]: String(FAILED_AT + dlqOffset),
      ...options.extra,
    },
  });
}

const SELECT: ReplaySelection = {
  reasons: new Set(['processing-failed', 'late']),
  sinceMs: null,
  inputTopic: 'metrics',
  limit: null,
  includeReplays: false,
};

function plan(entries: DlqEntry[], replayed: string[] = [], selection: Partial<ReplaySelection> = {}) {
  const planner = new ReplayPlanner({ ...SELECT, ...selection });
  for (const e of entries) planner.add(e);
  return planner.plan(new Set(replayed));
}

test('the marker key names the dead letter itself: DLQ topic, partition and offset', () => {
  assert.equal(replayMarkerKey({ topic: 'dlq', partition: 3, offset: 42n }), 'dlq:3:42');
});

test('only the selected reasons and times are planned; the rest is counted as read, not selected', () => {
  const result = plan([entry(1), entry(2, { reason: 'late' }), entry(3, { reason: 'empty-host' })], [], {
    sinceMs: FAILED_AT + 2,
  });
  assert.deepEqual(
    result.items.map((i) => i.markerKey),
    ['dlq:0:2'],
  );
  assert.equal(result.total, 3);
  assert.equal(result.selected, 1);
});

test('a dead letter with a marker is never planned again', () => {
  const result = plan([entry(1), entry(2)], ['dlq:1:1']);
  assert.deepEqual(
    result.items.map((i) => i.markerKey),
    ['dlq:0:2'],
  );
  assert.equal(result.skipped['already-replayed'], 1);
});

test('a replay that failed again is skipped unless asked for, and then replayed once too', () => {
  const failedAgain = entry(5, { extra: { [REPLAY_HEADERS.of]: 'dlq:1:1' } });
  assert.equal(plan([failedAgain]).items.length, 0);
  assert.equal(plan([failedAgain]).skipped['replay-failed-again'], 1);
  assert.equal(plan([failedAgain], [], { includeReplays: true }).items.length, 1);
  assert.equal(plan([failedAgain], ['dlq:1:5'], { includeReplays: true }).skipped['already-replayed'], 1);
});

test('dead letters of another input topic or without source coordinates are skipped, with their count', () => {
  const noSource = describeDlqRecord({ ...entry(7).record, headers: { [DLQ_HEADERS.reason]: 'late' } });
  const result = plan([entry(6, { topic: 'other' }), noSource]);
  assert.equal(result.items.length, 0);
  assert.equal(result.skipped['other-topic'], 1);
  assert.equal(result.skipped['no-source'], 1);
});

test('the plan goes back to each source partition in the original offset order, and the limit cuts the tail', () => {
  const entries = [
    entry(1, { partition: 1, offset: 7 }),
    entry(2, { partition: 0, offset: 9 }),
    entry(3, { partition: 0, offset: 3 }),
    entry(4, { partition: 1, offset: 2 }),
  ];
  const all = plan(entries);
  assert.deepEqual(
    all.items.map((i) => `${i.target.topic}/${i.target.partition}@${i.entry.source?.offset ?? '?'}`),
    ['metrics/0@3', 'metrics/0@9', 'metrics/1@2', 'metrics/1@7'],
  );
  const limited = plan(entries, [], { limit: 3 });
  assert.equal(limited.items.length, 3);
  assert.equal(limited.skipped['over-limit'], 1);
  assert.deepEqual(countPlan(all.items), {
    byReason: new Map([['processing-failed', 4]]),
    byTarget: new Map([
      ['metrics/0', 2],
      ['metrics/1', 2],
    ]),
  });
});

test('the replayed record keeps the original headers, drops the dead letter own ones, and says what it replays', () => {
  const original = entry(8, {
    extra: {
      traceparent: '00-abc-01',
      [LINEAGE_HEADERS.attempt]: 'i/p0#1',
      [REPLAY_HEADERS.of]: 'dlq:0:0',
      [REPLAY_HEADERS.at]: '1',
    },
  });
  const headers = replayHeaders(original, 'dlq:0:8', 1234);
  assert.deepEqual(headers, {
    traceparent: '00-abc-01',
    [REPLAY_HEADERS.of]: 'dlq:0:8',
    [REPLAY_HEADERS.at]: '1234',
  });
});

test('a header named __proto__ stays a header', () => {
  const record = { ...entry(9).record, headers: JSON.parse('{"__proto__":"x"}') as Record<string, string> };
  const headers = replayHeaders(describeDlqRecord(record), 'dlq:1:9', 1);
  assert.deepEqual(Object.keys(headers), ['__proto__', REPLAY_HEADERS.of, REPLAY_HEADERS.at]);
  assert.equal(Object.getPrototypeOf(headers), Object.prototype);
});

test('the marker value traces the replay: dead letter, reason, source, target, time and replay id', () => {
  const [item] = plan([entry(10, { partition: 2, offset: 77 })]).items;
  assert.ok(item);
  assert.deepEqual(JSON.parse(replayMarkerValue(item, 99, 'host-1@t')), {
    v: 1,
    dlq: { topic: 'dlq', partition: 0, offset: '10' },
    reason: 'processing-failed',
    source: { topic: 'metrics', partition: 2, offset: '77' },
    target: { topic: 'metrics', partition: 2 },
    replayedAtMs: 99,
    replayId: 'host-1@t',
  });
});
