/**
 * A live producer for the latency and recovery runs: ServerMetric v2 records whose event time (and Kafka
 * timestamp) is the wall clock at the moment they are made, at a steady rate, hosts taken in turn. It runs in
 * the harness process, in small batches every 20 ms, and catches up on its schedule when a send was slow.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import type { ServerMetric } from '../../src/domain/metric.js';
import { AvroEncoder } from '../../src/serde/avro-encoder.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { seededRandom } from '../../src/tools/workload.js';
import { benchHostName, partitionerFor } from './workload.js';

const TICK_MS = 20;

export class LiveLoad {
  private stopped = false;
  private sent = 0;
  private failure: Error | undefined;
  private readonly done: Promise<void>;

  private constructor(
    private readonly producer: Producer,
    encoder: AvroEncoder<ServerMetric>,
    topic: string,
    ratePerSecond: number,
    hosts: number,
    partitions: number,
  ) {
    // Kept, not thrown at once: stop() reports it, so the run it belongs to fails with a reason.
    this.done = this.pump(encoder, topic, ratePerSecond, hosts, partitions).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new Error('live load failed', { cause: error });
    });
  }

  static async start(
    kafka: Kafka,
    registryUrl: string,
    topic: string,
    options: { ratePerSecond: number; hosts: number; partitions: number },
  ): Promise<LiveLoad> {
    const encoder = await AvroEncoder.register<ServerMetric>(
      new RegistryClient({ url: registryUrl }),
      topic,
      'serverMetricV2',
    );
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return new LiveLoad(producer, encoder, topic, options.ratePerSecond, options.hosts, options.partitions);
  }

  get recordsSent(): number {
    return this.sent;
  }

  private async pump(
    encoder: AvroEncoder<ServerMetric>,
    topic: string,
    ratePerSecond: number,
    hosts: number,
    partitions: number,
  ): Promise<void> {
    const random = seededRandom(7);
    const names = Array.from({ length: hosts }, (_, i) => benchHostName(i));
    const partitionOf = partitionerFor(partitions);
    const startedAt = Date.now();
    let next = 0;
    while (!this.stopped) {
      const tickAt = Date.now();
      const due = Math.floor(((tickAt - startedAt) * ratePerSecond) / 1000);
      const messages = [];
      for (; next < due; next++) {
        const host = names[next % hosts] ?? 'host';
        const metric: ServerMetric = {
          host,
          timestamp: tickAt,
          cpu_percent: Math.round(random() * 10000) / 100,
          mem_percent: Math.round(random() * 10000) / 100,
          disk_read_bytes: Math.floor(random() * 1_000_000),
          disk_write_bytes: Math.floor(random() * 1_000_000),
          net_rx_bytes: Math.floor(random() * 10_000_000),
          net_tx_bytes: Math.floor(random() * 10_000_000),
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
        await this.producer.send({ topic, messages, acks: -1 });
        this.sent += messages.length;
      }
      await sleep(Math.max(0, TICK_MS - (Date.now() - tickAt)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    await this.producer.disconnect();
    if (this.failure) throw this.failure;
  }
}
