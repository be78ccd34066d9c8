/**
 * Building a compacted partition whose cleaned segment ends with a batch compaction emptied, and Kafka's own view
 * of it. The log cleaner keeps a batch whose records were all superseded, emptied, when it is its producer's last
 * one; a fetch reads a single segment, so a fetch at such a batch at the end of a cleaned segment returns that
 * batch alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { TestEnvironment } from './environment.js';
import { javaReadCommitted } from './java-console-consumer.js';

/** Segments of at most 1 MB, rolled after 500 ms, cleaned as soon as the cleaner looks. */
export const CLEANED_WITHIN_SECONDS: Record<string, string> = {
  'cleanup.policy': 'compact',
  'segment.bytes': '1048576',
  'segment.ms': '500',
  'min.cleanable.dirty.ratio': '0.001',
  'min.compaction.lag.ms': '0',
  'delete.retention.ms': '0',
};

/**
 * A value that fills most of a segment: two segments of one each are too big to be cleaned into one, so the
 * first keeps the empty batch at its end.
 */
export const SEGMENT_FILLER = 'x'.repeat(600 * 1024);

/** Long enough for `segment.ms` to roll the active segment at the next write. */
export function segmentRoll(): Promise<void> {
  return sleep(1000);
}

/** One idempotent producer per record: each record is its own batch, the last of its producer. */
export async function produceAlone(kafka: Kafka, topic: string, key: string, value: string): Promise<void> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key, value }] });
  } finally {
    await producer.disconnect();
  }
}

/** `offset:key` of every record as Kafka's Java console consumer (read_committed) sees the topic. */
export async function javaView(env: TestEnvironment, topic: string): Promise<string[]> {
  const lines = await javaReadCommitted({
    brokers: env.brokers,
    topic,
    print: ['offset', 'key'],
    idleMs: 5000,
  });
  return lines.map((line) => line.replace(/^Offset:(\d+)\t/, '$1:'));
}

/** Kafka's view once the cleaner has made it `cleaned`, or the last view seen after about 20 s. */
export async function awaitCleaned(
  env: TestEnvironment,
  topic: string,
  cleaned: string[],
): Promise<string[]> {
  let view: string[] = [];
  for (let attempt = 0; attempt < 20 && view.join() !== cleaned.join(); attempt += 1) {
    await sleep(1000);
    view = await javaView(env, topic);
  }
  return view;
}
