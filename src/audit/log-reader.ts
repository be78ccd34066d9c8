/**
 * The auditor's own fetch path. It sends Fetch requests with isolation READ_UNCOMMITTED straight to each
 * partition's leader and keeps every record, control records included, so that transaction-markers.ts can
 * decide visibility from the producers' own COMMIT/ABORT markers. No consumer group, no kafkajs consumer and
 * no abort filter is involved.
 *
 * kafkajs has no public API for a raw fetch, so this is the one place the auditor reaches into it, through
 * kafkajs-internals (transport only, shared with the stage): a kafkajs cluster with the same brokers, TLS and SASL
 * as the caller configured, then its metadata and each leader's `fetch` and `listOffsets` requests. If a kafkajs
 * upgrade removes that cluster factory, `LogReader.open` fails at once with a message saying so, rather than
 * reading something else.
 */
import type { Kafka } from 'kafkajs';
import { settleWithin, within } from '../errors/deadline.js';
import {
  createInternalCluster,
  type FetchedRecord,
  type InternalBroker,
  type InternalCluster,
} from '../kafkajs-internals/index.js';
import { committedView, controlType, type LogEntry, type PartitionView } from './transaction-markers.js';

const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;
const LATEST = -1;
const EARLIEST = -2;
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
const ATTEMPTS = 10;
/**
 * How long one attempt may take: kafkajs times its requests out after 30 s, but a connection it is still
 * setting up or a lock it waits for has no such bound, and an audit must fail with a reason, never hang.
 */
const ATTEMPT_MS = 45_000;
const CONNECT_MS = 60_000;
const DISCONNECT_MS = 10_000;

/** A record as the auditor's fetch returns it, control records included. */
export type RawRecord = FetchedRecord;

/** One partition's log as read_uncommitted fetched it, and what read_committed sees of it. */
export interface PartitionLog {
  partition: number;
  start: bigint;
  /** High watermark (read_uncommitted end) when the read started. */
  end: bigint;
  /** Data records (not control records) fetched, in offset order. */
  records: number;
  view: PartitionView<RawRecord>;
}

export interface PartitionEnds {
  partition: number;
  start: bigint;
  highWatermark: bigint;
  /** The broker's last stable offset (read_committed end). */
  lastStable: bigint;
}

export class LogReader {
  private constructor(private readonly cluster: InternalCluster) {}

  static async open(kafka: Kafka): Promise<LogReader> {
    const cluster = createInternalCluster(kafka, { isolation: 'read_uncommitted', metadataMaxAgeMs: 60_000 });
    await within(cluster.connect(), CONNECT_MS, 'audit: connecting to the brokers');
    return new LogReader(cluster);
  }

  async close(): Promise<void> {
    await settleWithin(this.cluster.disconnect(), DISCONNECT_MS);
  }

  private async retrying<T>(topic: string, what: string, attempt: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < ATTEMPTS; i += 1) {
      try {
        return await within(attempt(), ATTEMPT_MS, `audit: ${what} of ${topic}`);
      } catch (error) {
        last = error;
        // A leader move or stale metadata: refresh and try again, a little later each time.
        await new Promise((resolve) => setTimeout(resolve, 100 * (i + 1)));
        await settleWithin(this.cluster.refreshMetadata(), ATTEMPT_MS);
      }
    }
    const message = last instanceof Error ? last.message : String(last);
    throw new Error(`audit: ${what} of ${topic} failed ${ATTEMPTS} times: ${message}`, { cause: last });
  }

  private async leader(topic: string, partition: number): Promise<InternalBroker> {
    const meta = this.cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === partition);
    if (meta === undefined) throw new Error(`no metadata for ${topic} partition ${partition}`);
    return this.cluster.findBroker({ nodeId: meta.leader });
  }

  async partitions(topic: string): Promise<number[]> {
    return this.retrying(topic, 'metadata', async () => {
      await this.cluster.addTargetTopic(topic);
      const ids = this.cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
      if (ids.length === 0) throw new Error(`topic ${topic} has no partitions`);
      return ids.sort((a, b) => a - b);
    });
  }

  private async listOffset(topic: string, partition: number, isolationLevel: number, timestamp: number) {
    return this.retrying(topic, 'ListOffsets', async () => {
      const broker = await this.leader(topic, partition);
      const response = await broker.listOffsets({
        replicaId: -1,
        isolationLevel,
        topics: [{ topic, partitions: [{ partition, timestamp }] }],
      });
      const found = response.responses
        .find((r) => r.topic === topic)
        ?.partitions.find((p) => p.partition === partition);
      if (found === undefined) throw new Error(`no offset for ${topic} partition ${partition}`);
      return BigInt(found.offset);
    });
  }

  async ends(topic: string): Promise<PartitionEnds[]> {
    const out: PartitionEnds[] = [];
    for (const partition of await this.partitions(topic)) {
      out.push({
        partition,
        start: await this.listOffset(topic, partition, READ_UNCOMMITTED, EARLIEST),
        highWatermark: await this.listOffset(topic, partition, READ_UNCOMMITTED, LATEST),
        lastStable: await this.listOffset(topic, partition, READ_COMMITTED, LATEST),
      });
    }
    return out;
  }

  /** Fetches [start, end) of one partition, every record including control records, in offset order. */
  private async fetchRange(
    topic: string,
    partition: number,
    start: bigint,
    end: bigint,
    onRecords?: (count: number) => void,
  ): Promise<RawRecord[]> {
    const out: RawRecord[] = [];
    let next = start;
    while (next < end) {
      const from = next;
      const fetched = await this.retrying(topic, 'Fetch', async () => {
        const broker = await this.leader(topic, partition);
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: READ_UNCOMMITTED,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: FETCH_MAX_BYTES,
          topics: [
            { topic, partitions: [{ partition, fetchOffset: from.toString(), maxBytes: FETCH_MAX_BYTES }] },
          ],
        });
        const data = response.responses
          .find((r) => r.topicName === topic)
          ?.partitions.find((p) => p.partition === partition);
        if (data === undefined) throw new Error(`no fetch data for ${topic} partition ${partition}`);
        // A fetch returns whole batches: records before the requested offset belong to the previous read.
        const fresh = data.messages.filter((m) => BigInt(m.offset) >= from && BigInt(m.offset) < end);
        const last = fresh[fresh.length - 1];
        if (last !== undefined) return { records: fresh, next: BigInt(last.offset) + 1n };
        // Batches the log cleaner emptied (kept as their producer's last) hold no record, and a fetch at the end
        // of a cleaned segment returns them alone: the read goes on past them, as Kafka's own consumer does.
        const batchesEnd = data.messages.batchesEndOffset;
        if (batchesEnd !== undefined && BigInt(batchesEnd) > from)
          return { records: [], next: BigInt(batchesEnd) };
        throw new Error(`no record at or after offset ${from.toString()} below ${end.toString()}`);
      });
      for (const record of fetched.records) out.push(record);
      next = fetched.next;
      onRecords?.(out.length);
    }
    return out;
  }

  /**
   * Reads a partition from its start to its high watermark and returns what read_committed sees, decided by
   * the markers. `upTo` limits the visible records to offsets below it (the group's committed offset).
   */
  async readPartition(
    topic: string,
    partition: number,
    options: { upTo?: bigint; onRecords?: (count: number) => void } = {},
  ): Promise<PartitionLog> {
    const start = await this.listOffset(topic, partition, READ_UNCOMMITTED, EARLIEST);
    const end = await this.listOffset(topic, partition, READ_UNCOMMITTED, LATEST);
    const raw = await this.fetchRange(topic, partition, start, end, options.onRecords);
    const entries: LogEntry<RawRecord>[] = raw.map((r) => {
      const offset = BigInt(r.offset);
      const producerId = r.batchContext.producerId;
      if (r.isControlRecord) return { kind: 'control', offset, producerId, type: controlType(r.key) ?? -1 };
      return { kind: 'data', offset, producerId, transactional: r.batchContext.inTransaction, record: r };
    });
    const view = committedView(entries, end);
    const upTo = options.upTo;
    if (upTo !== undefined) view.visible = view.visible.filter((r) => BigInt(r.offset) < upTo);
    return { partition, start, end, records: entries.filter((e) => e.kind === 'data').length, view };
  }
}

/** Header values as UTF-8 strings; a repeated header keeps its first value. */
export function headerStrings(headers: RawRecord['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
