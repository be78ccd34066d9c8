#!/usr/bin/env node
/**
 * K1: the exactly-once pipe most teams would write with kafkajs, kept deliberately plain so it stands for "what
 * you would do instead". It loads the inventory topic into a Map, then consumes the input read_committed with
 * eachBatch; per batch it decodes every record with @kafkajs/confluent-schema-registry, enriches it from the Map,
 * writes one JSON record per input, and commits the output and the batch's offsets in one transaction
 * (send + sendOffsets + commit). No windows, no state, one transactional producer for every partition. The only
 * concession to reality: output goes out in sends of 1,000 records, because a whole fetched batch (1 MB of input,
 * about 2 MB of JSON, all for one output partition) is over the broker's default message.max.bytes of 1 MB, which
 * is the first error anyone writing this meets.
 *
 * K1_MODE=alo runs the same pipe at-least-once (idempotent send, then the consumer commits the batch's offsets):
 * the pair gives the price of exactly-once in kafkajs with everything else equal.
 *
 * K1_MODE=decode is R1, the decode ceiling: the same read_committed consumer decoding every record through the
 * registry and committing each batch's offsets, with no inventory, no enrichment and no output at all.
 *
 * Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, APP_ID (group id and transactional id), INPUT_TOPIC,
 * INVENTORY_TOPIC, OUTPUT_TOPIC, SESSION_TIMEOUT_MS, K1_MODE (eos | alo). SIGTERM stops it and prints one JSON
 * line of totals on stdout.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';

interface ServerMetric {
  host: string;
  timestamp: number;
  cpu_percent: number;
  mem_percent: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  load_avg_1m: number | null;
}

interface HostInfo {
  host: string;
  region: string;
  datacenter: string;
  role: string;
}

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

const brokers = env('KAFKA_BROKERS').split(',');
const appId = env('APP_ID');
const inputTopic = env('INPUT_TOPIC');
const inventoryTopic = env('INVENTORY_TOPIC');
const outputTopic = env('OUTPUT_TOPIC');
const sessionTimeout = Number(env('SESSION_TIMEOUT_MS', '30000'));
const mode = env('K1_MODE', 'eos');
if (!['eos', 'alo', 'decode'].includes(mode)) throw new Error(`K1_MODE=${mode}: expected eos, alo or decode`);
const exactlyOnce = mode === 'eos';
const decodeOnly = mode === 'decode';

const SEND_CHUNK = 1000;

const kafka = new Kafka({ clientId: `k1-${appId}`, brokers, logLevel: logLevel.WARN });
const registry = new SchemaRegistry({ host: env('SCHEMA_REGISTRY_URL') });

/** Reads the whole inventory topic once, with a throwaway group, until every partition's end. */
async function loadInventory(): Promise<Map<string, HostInfo>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(inventoryTopic);
  await admin.disconnect();
  const remaining = new Set(ends.filter((p) => Number(p.high) > 0).map((p) => p.partition));
  const inventory = new Map<string, HostInfo>();
  if (remaining.size === 0) return inventory;
  const consumer = kafka.consumer({ groupId: `${appId}-inventory-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topic: inventoryTopic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          const key = message.key?.toString() ?? '';
          if (message.value) inventory.set(key, (await registry.decode(message.value)) as HostInfo);
          else inventory.delete(key);
          const end = ends.find((p) => p.partition === partition);
          if (end && Number(message.offset) + 1 >= Number(end.high)) remaining.delete(partition);
          if (remaining.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return inventory;
}

async function main(): Promise<void> {
  const inventory = decodeOnly ? new Map<string, HostInfo>() : await loadInventory();
  const consumer = kafka.consumer({ groupId: appId, sessionTimeout, readUncommitted: false });
  const producer = exactlyOnce
    ? kafka.producer({ transactionalId: `${appId}-tx`, idempotent: true, maxInFlightRequests: 1 })
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  if (!decodeOnly) await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: inputTopic, fromBeginning: true });

  const totals = { batches: 0, records: 0, transactions: 0 };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await consumer.disconnect();
    if (!decodeOnly) await producer.disconnect();
    console.log(JSON.stringify({ k1: mode, ...totals }));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // kafkajs does not restart a consumer after a non-retriable error: without this the process would idle on.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    console.error(`k1: consumer crashed: ${payload.error.message}`);
    process.exit(1);
  });

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
      const messages = [];
      for (const message of batch.messages) {
        if (!message.value) continue;
        const metric = (await registry.decode(message.value)) as ServerMetric;
        if (decodeOnly) continue;
        const info = inventory.get(metric.host);
        messages.push({
          key: message.key,
          value: JSON.stringify({
            ...metric,
            region: info?.region ?? 'unknown',
            datacenter: info?.datacenter ?? 'unknown',
            role: info?.role ?? 'unknown',
          }),
        });
      }
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      if (decodeOnly) {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      } else if (exactlyOnce) {
        const transaction = await producer.transaction();
        try {
          for (let i = 0; i < messages.length; i += SEND_CHUNK) {
            await transaction.send({ topic: outputTopic, messages: messages.slice(i, i + SEND_CHUNK) });
          }
          await transaction.sendOffsets({
            consumerGroupId: appId,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
          });
          await transaction.commit();
        } catch (error) {
          await transaction.abort();
          throw error;
        }
        totals.transactions += 1;
      } else {
        for (let i = 0; i < messages.length; i += SEND_CHUNK) {
          await producer.send({ topic: outputTopic, messages: messages.slice(i, i + SEND_CHUNK) });
        }
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      }
      payload.resolveOffset(batch.lastOffset());
      await payload.heartbeat();
      totals.batches += 1;
      totals.records += batch.messages.length;
    },
  });
}

main().catch((error: unknown) => {
  console.error(`k1: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
