/**
 * The host inventory as a table (design §6): the compacted inventory topic is read in full at start (the stage
 * is not ready until it has caught up with the end offsets taken at start) and followed afterwards. Every
 * instance needs every partition, so it reads with a private consumer group that never commits.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Resolver, Type } from 'avsc';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { HostInfo } from '../../domain/metric.js';
import { settleWithin } from '../../errors/deadline.js';
import type { RegistryClient } from '../../serde/registry-client.js';
import { avroType } from '../../serde/schema-files.js';
import { decodeBody, wireSchemaId } from '../../serde/wire-format.js';
import { partitionRanges } from '../client/offsets.js';

const RESTART_INITIAL_BACKOFF_MS = 250;
const RESTART_MAX_BACKOFF_MS = 5000;

export class InventoryFollower {
  private readonly hosts = new Map<string, HostInfo>();
  private readonly reader: Type = avroType('hostInfo');
  private readonly resolvers = new Map<number, Resolver | null>();
  private consumer: Consumer | undefined;
  private caughtUp = false;
  private restarting = false;
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
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) this.restartAfterGivingUp(consumer, event.payload.error);
    });
    await this.run(consumer);
    check();
    await caughtUp;
  }

  /** Connects, subscribes and runs: at start, and again after kafkajs gave up on the consumer. */
  private async run(consumer: Consumer): Promise<void> {
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
  }

  /**
   * kafkajs restarts a crashed consumer only when the innermost error says it is retriable. With every broker
   * down, its rejoin ends in "Failed to find group coordinator", which is not, and the consumer stays stopped: the
   * table would silently stop following the topic. So the follower restarts it itself, backing off, until it
   * runs again or the follower is stopped. The table is kept meanwhile; the new run re-reads the topic from the
   * beginning (the group never commits), so until it has passed a host's latest record that host may look up an
   * older value, as it would have at that point of a first read.
   */
  private restartAfterGivingUp(consumer: Consumer, error: Error): void {
    if (this.restarting) return;
    this.restarting = true;
    this.logger.warn({ err: error }, 'inventory consumer stopped by kafkajs; restarting it');
    void (async () => {
      try {
        for (let attempt = 1; this.consumer === consumer; attempt++) {
          await sleep(Math.min(RESTART_MAX_BACKOFF_MS, RESTART_INITIAL_BACKOFF_MS * 2 ** attempt));
          if (this.consumer !== consumer) return;
          try {
            await this.run(consumer);
            this.logger.info({ attempt }, 'inventory consumer restarted');
            return;
          } catch (startError) {
            this.logger.warn({ err: startError, attempt }, 'inventory consumer restart failed; retrying');
          }
        }
      } finally {
        this.restarting = false;
      }
    })();
  }

  private async decode(value: Buffer): Promise<HostInfo | undefined> {
    const schemaId = wireSchemaId(value);
    if (schemaId === undefined) return undefined;
    if (!this.resolvers.has(schemaId)) {
      const lookup = await this.registry.writerSchema(schemaId);
      let resolver: Resolver | null = null;
      if (lookup.kind === 'found') {
        try {
          resolver = this.reader.createResolver(lookup.type);
        } catch {
          resolver = null;
        }
      }
      this.resolvers.set(schemaId, resolver);
    }
    const resolver = this.resolvers.get(schemaId);
    if (!resolver) return undefined;
    try {
      return { ...(decodeBody(this.reader, value, resolver) as HostInfo) };
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    // Bounded: a shutdown must not wait on a JoinGroup the broker is holding; the group expires on its own.
    await settleWithin(consumer.disconnect(), 5000);
    const admin = this.kafka.admin();
    try {
      await settleWithin(
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
