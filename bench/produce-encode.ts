#!/usr/bin/env node
/**
 * `node dist/bench/produce-encode.js`: CPU per record of kafkajs's produce request encoding alone (records,
 * batches with their CRC32C, the request, its header and size, read as the bytes the connection writes to its
 * socket), in this process, without a broker: the part of the produce path the
 * kafkajs patch changes, measured apart from the broker's latency and the other engineers' load that blur
 * `bench:profile`. Each round encodes transactional Produce v3 requests of 6 partitions × 1,000 records shaped like
 * the stage's output (a 51-character host key, a 120-byte value, one header) for about a second; prints the median
 * of the rounds' CPU µs per record, and the request's bytes per record (the same before and after: same bytes).
 */
import { createRequire } from 'node:module';
import { median } from './lib/stats.js';

const ROUNDS = 7;
const PARTITIONS = 6;
const RECORDS_PER_PARTITION = 1000;
const ROUND_MS = 1000;

type ProduceRequest = (args: {
  acks: number;
  timeout: number;
  transactionalId: string | null;
  producerId: string;
  producerEpoch: number;
  topicData: {
    topic: string;
    partitions: {
      partition: number;
      firstSequence: number;
      messages: { key: string; value: Buffer; headers: Record<string, string>; timestamp: string }[];
    }[];
  }[];
}) => { apiKey: number; apiVersion: number; encode(): Promise<unknown> };

/** kafkajs's protocol/request.js: the request behind its header (api key and version, correlation, client id) and size. */
type CreateRequest = (args: {
  correlationId: number;
  clientId: string;
  request: ReturnType<ProduceRequest>;
}) => Promise<{ readonly buffer: Buffer }>;

const requireFromKafkajs = createRequire(__filename);
const produceRequest = requireFromKafkajs(
  'kafkajs/src/protocol/requests/produce/v3/request',
) as ProduceRequest;
const createRequest = requireFromKafkajs('kafkajs/src/protocol/request') as CreateRequest;

function topicData(): Parameters<ProduceRequest>[0]['topicData'] {
  const base = 1_764_806_400_000;
  return [
    {
      topic: 'rollups',
      partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({
        partition,
        firstSequence: 0,
        messages: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({
          key: `host-${String(i).padStart(5, '0')}.rack-${String(i % 40).padStart(2, '0')}.eu-west-1a.prod.compute.internal`,
          value: Buffer.alloc(120, i),
          headers: { 'eos-rollup-kind': 'rollup' },
          timestamp: String(base + i * 10),
        })),
      })),
    },
  ];
}

async function round(
  data: Parameters<ProduceRequest>[0]['topicData'],
): Promise<{ us: number; bytes: number }> {
  let records = 0;
  const started = process.cpuUsage();
  const startedAt = Date.now();
  let allocated = 0;
  while (Date.now() - startedAt < ROUND_MS) {
    const request = produceRequest({
      acks: -1,
      timeout: 30_000,
      transactionalId: 'bench-app-0',
      producerId: '4242',
      producerEpoch: 3,
      topicData: data,
    });
    const encoded = await createRequest({ correlationId: records, clientId: 'bench', request });
    allocated += encoded.buffer.length;
    records += PARTITIONS * RECORDS_PER_PARTITION;
  }
  const used = process.cpuUsage(started);
  return { us: (used.user + used.system) / records, bytes: allocated / records };
}

async function main(): Promise<void> {
  const data = topicData();
  await round(data); // warm-up: JIT, buffer pool
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(data));
  const us = median(rounds.map((r) => r.us)) ?? NaN;
  const bytes = median(rounds.map((r) => r.bytes)) ?? NaN;
  console.log(
    `produce encoding: ${us.toFixed(2)} CPU µs per record (median of ${ROUNDS} rounds; each ${rounds
      .map((r) => r.us.toFixed(2))
      .join(', ')}), ${bytes.toFixed(0)} request bytes per record`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
