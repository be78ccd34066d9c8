/**
 * The bench's workload: ServerMetric v2 records from src/tools/workload.ts, keyed by host, with FQDN-like host
 * names so that key + value come to about 150 bytes, and the HostInfo inventory of the same hosts. Event times
 * advance per host by `stepMs`, so windows close steadily all through the run, and the Kafka record timestamp is
 * the event time too, so a peer that windows on record timestamps (Kafka Streams' default) sees the same time.
 *
 * Preloading uses one idempotent producer (no transactions: most upstreams of a metrics pipeline are plain
 * producers, and read_committed readers read both alike), with each send carrying one batch per partition.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { HostInfo, ServerMetric } from '../../src/domain/metric.js';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { metrics } from '../../src/tools/workload.js';

export interface WorkloadSpec {
  records: number;
  partitions: number;
  hosts: number;
  /** Event-time distance between two records of one host. */
  stepMs: number;
  seed: number;
}

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1', 'sa-east-1'] as const;
const ROLES = ['web', 'api', 'db', 'cache', 'queue', 'batch'] as const;

/** `host-00042.rack-02.eu-west-1a.prod.compute.internal`: 51 characters, like a cloud VM's internal name. */
export function benchHostName(index: number): string {
  const region = REGIONS[index % REGIONS.length] ?? 'eu-west-1';
  const rack = String(index % 40).padStart(2, '0');
  const zone = 'abc'[index % 3] ?? 'a';
  return `host-${String(index).padStart(5, '0')}.rack-${rack}.${region}${zone}.prod.compute.internal`;
}

export function hostInfo(index: number): HostInfo {
  const region = REGIONS[index % REGIONS.length] ?? 'eu-west-1';
  return {
    host: benchHostName(index),
    region,
    datacenter: `${region}${'abc'[index % 3] ?? 'a'}`,
    role: ROLES[index % ROLES.length] ?? 'web',
  };
}

/** Where the Java client (and kafkajs' default partitioner) puts a key: murmur2, as Kafka Streams expects. */
export function partitionerFor(partitions: number): (key: string) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  const cache = new Map<string, number>();
  return (key) => {
    let partition = cache.get(key);
    if (partition === undefined) {
      partition = partitioner({ topic: 'bench', partitionMetadata, message: { key, value: null } });
      cache.set(key, partition);
    }
    return partition;
  };
}

/**
 * Event time of the first record: far enough in the past that the last record is not in the future (brokers
 * reject timestamps more than an hour ahead), aligned to the window so the first window is whole.
 */
export function workloadStartMs(spec: WorkloadSpec, windowMs: number, nowMs: number): number {
  const spanMs = Math.ceil(spec.records / spec.hosts) * spec.stepMs;
  const start = nowMs - spanMs - 10 * 60_000;
  return start - (start % windowMs);
}

/** The metric of `metrics()` with the bench's host name in place of the generator's. */
function* benchMetrics(spec: WorkloadSpec, startMs: number): Generator<ServerMetric> {
  const names = Array.from({ length: spec.hosts }, (_, i) => benchHostName(i));
  let n = 0;
  for (const metric of metrics({
    hosts: spec.hosts,
    startMs,
    stepMs: spec.stepMs,
    perHost: Math.ceil(spec.records / spec.hosts),
    seed: spec.seed,
  })) {
    if (n >= spec.records) return;
    // The generator's names are host-NNNNN; the index is the number.
    const index = Number(metric.host.slice(5));
    yield { ...metric, host: names[index] ?? metric.host };
    n += 1;
  }
}

export interface PreloadResult {
  records: number;
  /** Key + value bytes, the payload a consumer has to move. */
  payloadBytes: number;
  elapsedMs: number;
  firstEventMs: number;
  lastEventMs: number;
}

const RECORDS_PER_PARTITION_BATCH = 2000;

async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return producer;
}

/** Writes the whole workload to `topic` (which must exist) as fast as the broker takes it. */
export async function preloadInput(
  kafka: Kafka,
  registryUrl: string,
  topic: string,
  spec: WorkloadSpec,
  startMs: number,
  onProgress: (records: number) => void = () => undefined,
): Promise<PreloadResult> {
  const encoder = await AvroEncoder.register<ServerMetric>(
    new RegistryClient({ url: registryUrl }),
    topic,
    'serverMetricV2',
  );
  const partitionOf = partitionerFor(spec.partitions);
  const producer = await connectProducer(kafka);
  const started = Date.now();
  let records = 0;
  let payloadBytes = 0;
  let firstEventMs = Infinity;
  let lastEventMs = -Infinity;
  try {
    const pending = Array.from(
      { length: spec.partitions },
      () => [] as { key: string; value: Buffer; timestamp: string; partition: number }[],
    );
    const flush = async (force: boolean): Promise<void> => {
      const full = pending.some((batch) => batch.length >= RECORDS_PER_PARTITION_BATCH);
      if (!force && !full) return;
      const messages = pending.flatMap((batch) => batch.splice(0, batch.length));
      if (messages.length === 0) return;
      await producer.send({ topic, messages, acks: -1 });
      onProgress(records);
    };
    for (const metric of benchMetrics(spec, startMs)) {
      const value = encoder.encode(metric);
      const partition = partitionOf(metric.host);
      pending[partition]?.push({ key: metric.host, value, timestamp: String(metric.timestamp), partition });
      records += 1;
      payloadBytes += Buffer.byteLength(metric.host) + value.length;
      firstEventMs = Math.min(firstEventMs, metric.timestamp);
      lastEventMs = Math.max(lastEventMs, metric.timestamp);
      await flush(false);
    }
    await flush(true);
  } finally {
    await producer.disconnect();
  }
  return { records, payloadBytes, elapsedMs: Date.now() - started, firstEventMs, lastEventMs };
}

/** One HostInfo per host into the (compacted) inventory topic, which must exist. */
export async function loadInventory(
  kafka: Kafka,
  registryUrl: string,
  topic: string,
  hosts: number,
): Promise<void> {
  const encoder = await AvroEncoder.register<HostInfo>(
    new RegistryClient({ url: registryUrl }),
    topic,
    'hostInfo',
  );
  const producer = await connectProducer(kafka);
  try {
    for (let from = 0; from < hosts; from += RECORDS_PER_PARTITION_BATCH) {
      const messages = [];
      for (let i = from; i < Math.min(hosts, from + RECORDS_PER_PARTITION_BATCH); i++) {
        const info = hostInfo(i);
        messages.push({ key: info.host, value: encoder.encode(info) });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}
