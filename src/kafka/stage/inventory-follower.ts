/**
 * The host inventory as a table (design §6): the compacted inventory topic is read in full at start (the stage
 * is not ready until it has caught up with the end offsets taken at start) and followed afterwards. Every
 * instance needs every partition, so it reads with a private consumer group that never commits.
 */
import { randomUUID } from 'node:crypto';
import type { Resolver, Type } from 'avsc';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { HostInfo } from '../../domain/metric.js';
import type { RegistryClient } from '../../serde/registry-client.js';
import { avroType } from '../../serde/schema-files.js';
import { HEADER_LENGTH, readWireHeader } from '../../serde/wire-format.js';
import { partitionRanges } from '../client/offsets.js';

export class InventoryFollower {
  private readonly hosts = new Map<string, HostInfo>();
  private readonly reader: Type = avroType('hostInfo');
  private readonly resolvers = new Map<number, Resolver | null>();
  private consumer: Consumer | undefined;
  private caughtUp = false;
  private readonly groupId: string;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly registry: RegistryClient,
    groupPrefix: string,
    private readonly logger: Logger,
    private readonly session: { sessionTimeoutMs: number; heartbeatIntervalMs: number } = {
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
    },
  ) {
    this.groupId = `${groupPrefix}-inventory-${randomUUID()}`;
  }

  get isCaughtUp(): boolean {
    return this.caughtUp;
  }

  get size(): number {
    return this.hosts.size;
  }

  lookup = (host: string): HostInfo | undefined => this.hosts.get(host);

  /** Resolves once the table holds everything the topic held at start. */
  async start(): Promise<void> {
    const ends = await partitionRanges(this.kafka, this.topic, 'read_committed');
    const pending = new Set([...ends].filter(([, r]) => r.end > r.start).map(([p]) => p));
    let markCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => {
      markCaughtUp = resolve;
    });
    const check = () => {
      if (pending.size === 0 && !this.caughtUp) {
        this.caughtUp = true;
        markCaughtUp();
      }
    };
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      // A private group of one: after a broker outage kafkajs rejoins with a new member id, and the broker holds
      // that JoinGroup until the old member's session expires; a short session keeps that (and stop()) short.
      sessionTimeout: this.session.sessionTimeoutMs,
      heartbeatInterval: this.session.heartbeatIntervalMs,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const end = ends.get(event.payload.partition)?.end ?? 0n;
      if (BigInt(event.payload.lastOffset) + 1n >= end) pending.delete(event.payload.partition);
      check();
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const host = message.key?.toString('utf8');
          if (!host) continue;
          if (message.value === null) {
            this.hosts.delete(host);
            continue;
          }
          const info = await this.decode(message.value);
          if (info) this.hosts.set(host, info);
          else
            this.logger.warn(
              { host, offset: message.offset, partition: batch.partition },
              'unreadable inventory record skipped',
            );
        }
      },
    });
    check();
    await caughtUp;
  }

  private async decode(value: Buffer): Promise<HostInfo | undefined> {
    const header = readWireHeader(value);
    if (!header.ok) return undefined;
    if (!this.resolvers.has(header.schemaId)) {
      const lookup = await this.registry.writerSchema(header.schemaId);
      let resolver: Resolver | null = null;
      if (lookup.kind === 'found') {
        try {
          resolver = this.reader.createResolver(lookup.type);
        } catch {
          resolver = null;
        }
      }
      this.resolvers.set(header.schemaId, resolver);
    }
    const resolver = this.resolvers.get(header.schemaId);
    if (!resolver) return undefined;
    try {
      return { ...(this.reader.fromBuffer(value.subarray(HEADER_LENGTH), resolver) as HostInfo) };
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    // Bounded: a shutdown must not wait on a JoinGroup the broker is holding; the group expires on its own.
    await withTimeout(consumer.disconnect(), 5000);
    const admin = this.kafka.admin();
    try {
      await withTimeout(
        (async () => {
          await admin.connect();
          await admin.deleteGroups([this.groupId]);
        })(),
        3000,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/** Waits for `work` at most `ms`; a failure or a timeout is ignored (best-effort cleanup). */
async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]);
  clearTimeout(timer);
}
