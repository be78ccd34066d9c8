/**
 * Contract: a fetch that yields no record at or after the fetched offset, though it holds complete record
 * batches ending past it, moves the reader past those batches. It happens on every compacted topic (the state
 * changelog above all): the log cleaner keeps a batch whose records were all superseded, emptied, when it is its
 * producer's last one, and a fetch reads a single segment, so a fetch at such a batch at the end of a cleaned
 * segment returns that batch alone. Unpatched kafkajs fetched the same offset again forever: a restore never
 * reached the changelog's end, and a task whose offset landed there never moved.
 *
 * The reference is Kafka's own console consumer: the test waits until it shows the cleaner's work, then reads
 * the same partition with a kafkajs consumer (the stage's input path), with the partition fetcher restores read
 * through, and with the auditor's own reader, and each must see the same records and reach the end.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LogReader } from '../../src/audit/log-reader.js';
import { partitionRanges } from '../../src/kafka/client/offsets.js';
import { fetchPartitionRange } from '../../src/kafka/client/partition-fetcher.js';
import { readToEnd } from '../../src/kafka/client/topic-reader.js';
import {
  awaitCleaned,
  CLEANED_WITHIN_SECONDS,
  produceAlone,
  SEGMENT_FILLER,
  segmentRoll,
} from '../support/compacted-segments.js';
import { testEnvironment } from '../support/environment.js';
import { createTopicsWithConfig, testKafka, uniqueName } from '../support/kafka.js';

test('a reader moves past a batch emptied by compaction at the end of a segment, as the Java consumer does', async () => {
  const env = await testEnvironment();
  const kafka = testKafka(env);
  const topic = uniqueName('liveness-compacted');
  await createTopicsWithConfig(kafka, [{ topic, partitions: 1, config: CLEANED_WITHIN_SECONDS }]);
  // Segment 1: a (600 KB) at 0, b at 1. Segment 2: b again (600 KB) at 2. Segment 3 (active): d at 3. The
  // cleaner empties the batch at 1 (superseded by 2) but keeps it, its producer's last; the two large segments
  // are too big to be cleaned into one, so segment 1 ends with that empty batch.
  await produceAlone(kafka, topic, 'a', SEGMENT_FILLER);
  await produceAlone(kafka, topic, 'b', 'small');
  await segmentRoll();
  await produceAlone(kafka, topic, 'b', SEGMENT_FILLER);
  await segmentRoll();
  await produceAlone(kafka, topic, 'd', 'small');

  const cleaned = ['0:a', '2:b', '3:d'];
  const reference = await awaitCleaned(env, topic, cleaned);
  assert.deepEqual(reference, cleaned, 'the log cleaner removed the record at offset 1 (Java consumer view)');

  const seen: string[] = [];
  const result = await readToEnd(kafka, {
    topic,
    groupIdPrefix: 'liveness-compacted-reader',
    timeoutMs: 30_000,
    onMessages: (_, messages) => {
      for (const m of messages) seen.push(`${m.offset}:${m.key?.toString() ?? ''}`);
    },
  });
  assert.deepEqual(seen, cleaned, 'the same records as the Java consumer');
  assert.equal(result.complete, true, 'the reader reached the end instead of fetching offset 1 forever');

  const end = (await partitionRanges(kafka, topic, 'read_committed')).get(0)?.end ?? 0n;
  const fetched: string[] = [];
  const positions: bigint[] = [];
  await fetchPartitionRange(kafka, {
    topic,
    partition: 0,
    isolation: 'read_committed',
    end,
    onRecords: (records) => {
      for (const r of records) fetched.push(`${r.offset}:${r.key?.toString() ?? ''}`);
    },
    onProgress: (position) => {
      positions.push(position);
      return Promise.resolve();
    },
  });
  assert.deepEqual(fetched, cleaned, 'the partition fetcher: the same records as the Java consumer');
  assert.equal(positions.at(-1), end, 'the partition fetcher reached the end');

  // The auditor's own fetch path reads changelogs too, and must get past the same batch.
  const reader = await LogReader.open(kafka);
  try {
    const log = await reader.readPartition(topic, 0);
    assert.deepEqual(
      log.view.visible.map((r) => `${r.offset}:${r.key?.toString() ?? ''}`),
      cleaned,
      "the auditor's reader: the same records as the Java consumer",
    );
  } finally {
    await reader.close();
  }
});
