#!/usr/bin/env node
/**
 * The live load of the latency, recovery and soak runs, as its own process (bench/lib/live-load.ts starts and
 * stops it): ServerMetric v2 records whose event time (and Kafka timestamp) is the wall clock at the moment they
 * are made, at a steady rate, hosts taken in turn, in small batches every 20 ms, catching up on its schedule when
 * a send was slow. Its own process because it costs a good part of a core: in the harness it delayed the latency
 * watcher's receive times, and any pause of the harness held back the records that close windows, both read as
 * the peer's latency.
 *
 * Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, LOAD_TOPIC, LOAD_RATE (records/s), LOAD_HOSTS,
 * LOAD_PARTITIONS. Prints `ready` once it can send, `sent <n>` every second and once more after SIGTERM, which
 * stops it; exits 1 with the reason on stderr when a send fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { ServerMetric } from '../src/domain/metric.js';
import { AvroEncoder } from '../src/serde/avro-encoder.js';
import { RegistryClient } from '../src/serde/registry-client.js';
import { randomReadings, seededRandom } from '../src/tools/workload.js';
import { benchHostName, partitionerFor } from './lib/workload.js';

const TICK_MS = 20;
/** At about 150 bytes a record, some 120 KB per partition of six: far below a record batch's 1 MB. */
const MAX_RECORDS_PER_SEND = 5_000;
const REPORT_EVERY_MS = 1000;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function positive(name: string): number {
  const value = Number(required(name));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

async function pump(
  producer: Producer,
  encoder: AvroEncoder<ServerMetric>,
  topic: string,
  settings: { ratePerSecond: number; hosts: number; partitions: number },
  stopped: () => boolean,
): Promise<number> {
  const random = seededRandom(7);
  const names = Array.from({ length: settings.hosts }, (_, i) => benchHostName(i));
  const partitionOf = partitionerFor(settings.partitions);
  const startedAt = Date.now();
  let next = 0;
  let sent = 0;
  let reportedAt = startedAt;
  while (!stopped()) {
    const tickAt = Date.now();
    const due = Math.floor(((tickAt - startedAt) * settings.ratePerSecond) / 1000);
    const messages = [];
    // A slow send leaves a backlog; sent in one request it could pass the broker's 1 MB record batch limit
    // (message.max.bytes) at high rates: the rest of it goes in the next ticks, without waiting between them.
    const until = Math.min(due, next + MAX_RECORDS_PER_SEND);
    for (; next < until; next++) {
      const host = names[next % settings.hosts] ?? 'host';
      const metric: ServerMetric = {
        host,
        timestamp: tickAt,
        ...randomReadings(random),
        load_avg_1m: Math.round(random() * 800) / 100,
      };
      messages.push({
        key: host,
        value: encoder.encode(metric),
        timestamp: String(tickAt),
        partition: partitionOf(host),
      });
    }
    if (messages.length > 0) {
      await producer.send({ topic, messages, acks: -1 });
      sent += messages.length;
    }
    if (tickAt - reportedAt >= REPORT_EVERY_MS) {
      console.log(`sent ${sent}`);
      reportedAt = tickAt;
    }
    if (next < due) continue;
    await sleep(Math.max(0, TICK_MS - (Date.now() - tickAt)));
  }
  return sent;
}

async function main(): Promise<void> {
  const topic = required('LOAD_TOPIC');
  const settings = {
    ratePerSecond: positive('LOAD_RATE'),
    hosts: positive('LOAD_HOSTS'),
    partitions: positive('LOAD_PARTITIONS'),
  };
  const kafka = new Kafka({
    clientId: `bench-load-${topic}`,
    brokers: required('KAFKA_BROKERS').split(','),
    logLevel: logLevel.WARN,
  });
  const encoder = await AvroEncoder.register<ServerMetric>(
    new RegistryClient({ url: required('SCHEMA_REGISTRY_URL') }),
    topic,
    'serverMetricV2',
  );
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  let stopping = false;
  process.once('SIGTERM', () => {
    stopping = true;
  });
  console.log('ready');
  const sent = await pump(producer, encoder, topic, settings, () => stopping);
  await producer.disconnect();
  console.log(`sent ${sent}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
