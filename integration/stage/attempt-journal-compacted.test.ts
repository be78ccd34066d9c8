/**
 * Contract: the processing-attempts journal reads its partition's newest entry even when the read starts at a
 * batch compaction emptied at the end of a cleaned segment. The journal's topic is compacted and holds one key
 * per partition, so every entry but the newest is superseded and emptied, and each writer's last batch is kept
 * empty: the layout a fetch returns alone. A read that stopped at a fetch handing over no record would miss the
 * newest entry and report none, and a record that crashed the stage would be retried as if it never had.
 *
 * The expectation is the entry the test wrote last; Kafka's console consumer shows the cleaner made the layout.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import type { JournaledAttempt } from '../../src/engine/ports.js';
import { attemptKey, KafkajsAttemptJournal } from '../../src/kafka/stage/attempt-journal.js';
import {
  awaitCleaned,
  CLEANED_WITHIN_SECONDS,
  produceAlone,
  SEGMENT_FILLER,
  segmentRoll,
} from '../support/compacted-segments.js';
import { testEnvironment } from '../support/environment.js';
import { createTopicsWithConfig, testKafka, uniqueName } from '../support/kafka.js';

const INPUT = 'server-metrics';

/** Each write by a journal of its own: its producer's only batch, so compaction keeps it, emptied, once superseded. */
async function writeAlone(kafka: Kafka, topic: string, attempt: JournaledAttempt): Promise<void> {
  const journal = new KafkajsAttemptJournal(kafka, topic, INPUT, 'attempt-journal-compacted-writer');
  try {
    await journal.write(0, attempt);
  } finally {
    await journal.close();
  }
}

test('the attempts journal reads its newest entry past a batch compaction emptied at the end of a segment', async () => {
  const env = await testEnvironment();
  const kafka = testKafka(env);
  const topic = uniqueName('attempts-compacted');
  await createTopicsWithConfig(kafka, [{ topic, partitions: 1, config: CLEANED_WITHIN_SECONDS }]);
  const key = attemptKey(INPUT, 0);
  const superseded: JournaledAttempt = {
    entry: { offset: 10n, attempts: 1, isolated: false, isolateUntil: 0n },
    stamp: { owner: 'writer-1', seq: 1 },
  };
  const newest: JournaledAttempt = {
    entry: { offset: 42n, attempts: 3, isolated: true, isolateUntil: 48n },
    stamp: { owner: 'writer-2', seq: 7 },
  };
  // Segment 1: a filler (600 KB, no entry) at 0, `superseded` at 1. Segment 2: a filler at 2. Segment 3
  // (active): `newest` at 3. The cleaner empties the batches at 0 and 1 (superseded by 2) and keeps them, each
  // its producer's last; the two large segments are too big to be cleaned into one, so segment 1 is left with
  // nothing but those empty batches, and the journal's read starts there (fewer than 64 records).
  await produceAlone(kafka, topic, key, SEGMENT_FILLER);
  await writeAlone(kafka, topic, superseded);
  await segmentRoll();
  await produceAlone(kafka, topic, key, SEGMENT_FILLER);
  await segmentRoll();
  await writeAlone(kafka, topic, newest);

  const cleaned = [`2:${key}`, `3:${key}`];
  const reference = await awaitCleaned(env, topic, cleaned);
  assert.deepEqual(reference, cleaned, 'the log cleaner removed the records at 0 and 1 (Java consumer view)');

  const journal = new KafkajsAttemptJournal(kafka, topic, INPUT, 'attempt-journal-compacted-reader');
  try {
    assert.deepEqual(await journal.read(0), newest, 'the entry written last');
  } finally {
    await journal.close();
  }
});
