/**
 * In-memory stand-ins for everything a PartitionTask talks to, so its transaction lifecycle can be tested
 * without Kafka.
 *
 * `FakeBroker` is the "broker view": per topic-partition logs of committed records (what a read_committed
 * consumer sees), the group's committed offsets, and the records of aborted or abandoned transactions
 * (what only read_uncommitted would see). A transaction's records and offsets reach it on commit only.
 * It also keeps one ordered log of every call the task makes, through any port, so tests can assert order.
 *
 * Producers enforce the design §2 rule that a producer is never used after an error or after close: such a
 * call is recorded in `broker.violations` and throws, so a test can assert the list stays empty.
 */
import { strict as assert } from 'node:assert';
import { Buffer } from 'node:buffer';

import pino from 'pino';

import type { ServerMetric } from '../../src/domain/metric.js';
import type { DecodedInput } from '../../src/domain/process-record.js';
import type { MetricSource } from '../../src/rollup/rollup-processor.js';
import type {
  Acknowledged,
  AttemptEntry,
  AttemptJournalPort,
  AttemptStamp,
  JournaledAttempt,
  BatchControl,
  ChangelogRecord,
  InputBatch,
  InputHeaders,
  InputMessage,
  InputOffset,
  OutgoingRecord,
  PartitionControl,
  ProducerPort,
  TaskKafkaPort,
  TransactionPort,
} from '../../src/engine/ports.js';
import { FencedError, RetriableError } from '../../src/errors/errors.js';
import { LINEAGE_HEADERS } from '../../src/engine/lineage.js';
import type { HoldRelease } from '../../src/engine/faults.js';

export type Step =
  | 'init'
  | 'begin'
  | 'send'
  | 'sendOffsets'
  | 'commit'
  | 'abort'
  | 'close'
  | 'committedOffset'
  | 'partitionRange'
  | 'readChangelog'
  | 'seek'
  | 'pause'
  | 'resume'
  | 'prepare'
  | 'resolveOffset'
  | 'journalRead'
  | 'journalWrite'
  | 'journalRelease'
  | 'decode';

export interface LogEntry {
  step: Step;
  /** The producer a producer or transaction call belongs to (1, 2, ... in creation order). */
  producer?: number;
  /** The offset of a seek, sendOffsets or resolveOffset; the committed offset a committedOffset call returned. */
  offset?: bigint;
  /** Records of a send; the topic of a partitionRange; the mode of a journal entry written. */
  detail?: string | number;
}

/** The steps a test may make fail; `init` is createProducer. */
export type FailStep = 'init' | 'begin' | 'send' | 'sendOffsets' | 'commit' | 'abort';

interface FailureSpec {
  step: FailStep;
  nth: number;
  error: () => Error;
  /** For commit: the commit takes effect on the broker, then the error is thrown (an unknown outcome). */
  afterEffect: boolean;
}

export interface InjectedFailure {
  step: FailStep;
  producer: number | undefined;
  /** Index in `broker.log` of the call that failed. */
  logIndex: number;
}

export interface StoredRecord extends OutgoingRecord {
  offset: bigint;
}

/** Runs `work` now; its result or exception becomes the promise's (thrown errors reject). */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work());
  });
}

function tpKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export class FakeBroker implements TaskKafkaPort {
  readonly log: LogEntry[] = [];
  readonly violations: string[] = [];
  readonly injected: InjectedFailure[] = [];
  /** Records sent in transactions that never committed: visible to read_uncommitted only. */
  readonly aborted: OutgoingRecord[] = [];
  readonly producers: FakeProducer[] = [];
  /** The processing-attempts journal lives on the broker: it outlives every task and process. */
  readonly journal = new FakeJournal(this);
  private readonly logs = new Map<string, StoredRecord[]>();
  /** Added to every acknowledged offset: a broker (or a client) that reports offsets wrong. */
  acknowledgeSkew = 0n;
  private readonly offsets = new Map<string, bigint>();
  private readonly epochs = new Map<string, number>();
  private readonly openTransactions = new Set<FakeTransaction>();
  private readonly failures: FailureSpec[] = [];
  private readonly calls = new Map<FailStep, number>();

  /** Makes the nth call (counted from now over all producers) of `step` throw `error()`. */
  failAt(step: FailStep, nth: number, error: () => Error, options: { afterEffect?: boolean } = {}): void {
    const seen = this.calls.get(step) ?? 0;
    this.failures.push({ step, nth: seen + nth, error, afterEffect: options.afterEffect ?? false });
  }

  record(entry: LogEntry): number {
    this.log.push(entry);
    return this.log.length - 1;
  }

  /** Counts a call of `step` and returns the failure armed for it, if any. */
  takeFailure(step: FailStep, producer: number | undefined, logIndex: number): FailureSpec | undefined {
    const count = (this.calls.get(step) ?? 0) + 1;
    this.calls.set(step, count);
    const spec = this.failures.find((f) => f.step === step && f.nth === count);
    if (spec) this.injected.push({ step, producer, logIndex });
    return spec;
  }

  // ---- the broker view ----

  records(topic: string, partition?: number): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const [key, records] of this.logs) {
      const [t, p] = key.split('/');
      if (t === topic && (partition === undefined || Number(p) === partition)) out.push(...records);
    }
    return out;
  }

  committed(groupId: string, topic: string, partition: number): bigint | null {
    return this.offsets.get(`${groupId}/${tpKey(topic, partition)}`) ?? null;
  }

  /** Seeds committed state as a previous owner would have left it (no log entry, no producer). */
  seedCommit(groupId: string, offset: InputOffset, records: readonly OutgoingRecord[] = []): void {
    for (const record of records) this.append(record);
    this.offsets.set(`${groupId}/${tpKey(offset.topic, offset.partition)}`, offset.offset);
  }

  epochOf(transactionalId: string): number {
    return this.epochs.get(transactionalId) ?? 0;
  }

  /** A transaction's records and offsets become visible together, or not at all. */
  applyCommit(txn: FakeTransaction): void {
    for (const record of txn.pending) this.append(record);
    for (const { groupId, offset } of txn.pendingOffsets) {
      this.offsets.set(`${groupId}/${tpKey(offset.topic, offset.partition)}`, offset.offset);
    }
    this.openTransactions.delete(txn);
  }

  discard(txn: FakeTransaction): void {
    this.aborted.push(...txn.pending);
    this.openTransactions.delete(txn);
  }

  opened(txn: FakeTransaction): void {
    this.openTransactions.add(txn);
  }

  /**
   * The offsets a transaction's records will get if it commits next: this fake appends at commit, so a
   * transaction of another producer committing first makes the answer wrong, as a real broker never would.
   */
  acknowledge(txn: FakeTransaction, records: readonly OutgoingRecord[]): Acknowledged[] {
    const last = new Map<string, Acknowledged>();
    for (const record of records) {
      const key = tpKey(record.topic, record.partition);
      const before = txn.pending.filter((r) => tpKey(r.topic, r.partition) === key).length;
      const lastOffset = BigInt((this.logs.get(key)?.length ?? 0) + before - 1) + this.acknowledgeSkew;
      last.set(key, { topic: record.topic, partition: record.partition, lastOffset });
    }
    return [...last.values()];
  }

  private append(record: OutgoingRecord): void {
    const key = tpKey(record.topic, record.partition);
    const log = this.logs.get(key) ?? [];
    log.push({ ...record, offset: BigInt(log.length) });
    this.logs.set(key, log);
  }

  // ---- TaskKafkaPort ----

  createProducer(transactionalId: string): Promise<ProducerPort> {
    const id = this.producers.length + 1;
    const logIndex = this.record({ step: 'init', producer: id });
    const failure = this.takeFailure('init', id, logIndex);
    if (failure) return Promise.reject(failure.error());
    // InitProducerId: bump the epoch, abort whatever the previous epoch left open, fence it.
    const epoch = this.epochOf(transactionalId) + 1;
    this.epochs.set(transactionalId, epoch);
    for (const txn of [...this.openTransactions]) {
      if (txn.producer.transactionalId === transactionalId) this.discard(txn);
    }
    const producer = new FakeProducer(this, id, transactionalId, epoch);
    this.producers.push(producer);
    return Promise.resolve(producer);
  }

  committedOffset(groupId: string, topic: string, partition: number): Promise<bigint | null> {
    const offset = this.committed(groupId, topic, partition);
    this.record({ step: 'committedOffset', ...(offset === null ? {} : { offset }) });
    return Promise.resolve(offset);
  }

  partitionRange(topic: string, partition: number): Promise<{ start: bigint; end: bigint }> {
    this.record({ step: 'partitionRange', detail: topic });
    const log = this.logs.get(tpKey(topic, partition)) ?? [];
    return Promise.resolve({ start: 0n, end: BigInt(log.length) });
  }

  async readChangelog(
    topic: string,
    partition: number,
    endOffset: bigint,
    onRecords: (records: ChangelogRecord[]) => void,
    onProgress: (position: bigint) => Promise<void>,
    fromOffset = 0n,
  ): Promise<void> {
    this.record({ step: 'readChangelog', offset: endOffset });
    const log = (this.logs.get(tpKey(topic, partition)) ?? []).filter(
      (r) => r.offset < endOffset && r.offset >= fromOffset,
    );
    for (let i = 0; i < log.length; i += 2) {
      const slice = log.slice(i, i + 2);
      onRecords(
        slice.map((r) => {
          const attempt = r.headers[LINEAGE_HEADERS.attempt];
          return {
            key: r.key ?? Buffer.alloc(0),
            value: r.value,
            offset: r.offset,
            attempt: typeof attempt === 'string' ? attempt : null,
          };
        }),
      );
      await onProgress((slice[slice.length - 1]?.offset ?? 0n) + 1n);
    }
  }
}

export class FakeProducer implements ProducerPort {
  private closed = false;
  private failed = false;

  constructor(
    private readonly broker: FakeBroker,
    readonly id: number,
    readonly transactionalId: string,
    readonly epoch: number,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Logs a call, enforces the "never reused" rule, and throws an armed failure (or a fence). */
  call(step: FailStep, detail: Partial<LogEntry> = {}): FailureSpec | undefined {
    const logIndex = this.broker.record({ step, producer: this.id, ...detail });
    const allowedAfterFailure = step === 'abort';
    if (this.closed || (this.failed && !allowedAfterFailure)) {
      const why = this.closed ? 'closed' : 'failed';
      this.broker.violations.push(`producer ${this.id}: ${step} after it ${why}`);
      throw new Error(`test fake: producer ${this.id} used (${step}) after it ${why}`);
    }
    const failure = this.broker.takeFailure(step, this.id, logIndex);
    if (failure && !failure.afterEffect) {
      this.failed = true;
      throw failure.error();
    }
    if (step !== 'abort' && this.epoch < this.broker.epochOf(this.transactionalId)) {
      this.failed = true;
      throw new FencedError('PRODUCER_FENCED', `producer ${this.id} was fenced by a newer epoch`);
    }
    return failure;
  }

  markFailed(): void {
    this.failed = true;
  }

  begin(): Promise<TransactionPort> {
    return settle(() => {
      this.call('begin');
      const txn = new FakeTransaction(this.broker, this);
      this.broker.opened(txn);
      return txn;
    });
  }

  close(): Promise<void> {
    this.broker.record({ step: 'close', producer: this.id });
    if (this.closed) this.broker.violations.push(`producer ${this.id}: closed twice`);
    this.closed = true;
    return Promise.resolve();
  }
}

export class FakeTransaction implements TransactionPort {
  readonly pending: OutgoingRecord[] = [];
  readonly pendingOffsets: { groupId: string; offset: InputOffset }[] = [];
  private done = false;

  constructor(
    private readonly broker: FakeBroker,
    readonly producer: FakeProducer,
  ) {}

  send(records: readonly OutgoingRecord[]): Promise<readonly Acknowledged[]> {
    // A failed send may still have reached the log; the transaction is then aborted, never committed.
    this.pending.push(...records);
    return this.run('send', { detail: records.length }).then(() => this.acknowledged(records));
  }

  /** Offsets as the fake log will hold them after this transaction's pending records (no markers). */
  private acknowledged(records: readonly OutgoingRecord[]): Acknowledged[] {
    return this.broker.acknowledge(this, records);
  }

  sendOffsets(groupId: string, offset: InputOffset): Promise<void> {
    return this.run('sendOffsets', { offset: offset.offset }, () => {
      this.pendingOffsets.push({ groupId, offset });
    });
  }

  commit(): Promise<void> {
    return settle(() => {
      const failure = this.producer.call('commit');
      if (this.done) throw new Error('test fake: commit of a finished transaction');
      this.done = true;
      this.broker.applyCommit(this);
      if (failure) {
        this.producer.markFailed();
        throw failure.error();
      }
    });
  }

  abort(): Promise<void> {
    return this.run('abort', {}, () => {
      if (!this.done) this.broker.discard(this);
      this.done = true;
    });
  }

  private run(
    step: FailStep,
    detail: Partial<LogEntry>,
    effect: () => void = () => undefined,
  ): Promise<void> {
    return settle(() => {
      this.producer.call(step, detail);
      effect();
    });
  }
}

/** The consumer, as far as a task sees it: a fetch position per partition, and pause/resume. */
export class FakeConsumer implements PartitionControl {
  readonly positions = new Map<number, bigint>();
  readonly paused = new Set<number>();
  /** Bumped by every seek, so a batch can tell it was superseded (BatchControl.isActive). */
  seeks = 0;

  constructor(private readonly broker: FakeBroker) {}

  seek(partition: number, offset: bigint): void {
    this.broker.record({ step: 'seek', offset, detail: partition });
    this.positions.set(partition, offset);
    this.seeks += 1;
  }

  pause(partition: number): void {
    this.broker.record({ step: 'pause', detail: partition });
    this.paused.add(partition);
  }

  resume(partition: number): void {
    this.broker.record({ step: 'resume', detail: partition });
    this.paused.delete(partition);
  }
}

/** What a batch's BatchControl was told. */
export class FakeBatchControl implements BatchControl {
  readonly resolved: bigint[] = [];
  heartbeats = 0;

  constructor(
    private readonly broker: FakeBroker,
    private readonly active: () => boolean = () => true,
  ) {}

  heartbeat(): Promise<void> {
    this.heartbeats += 1;
    return Promise.resolve();
  }

  resolveOffset(offset: bigint): void {
    this.broker.record({ step: 'resolveOffset', offset });
    this.resolved.push(offset);
  }

  isActive(): boolean {
    return this.active();
  }
}

/**
 * Decodes JSON values to metrics; a null value or one starting with `bad` is a poison pill. `prepare` (the
 * registry lookup) can be told to throw for its next calls. `knowsEverySchema`: it says every value is prepared
 * (unless a prepare failure is queued), so the task processes records as they join its pending transaction, and
 * each decode is logged, so a test sees when records were processed.
 */
export class FakeDecoder implements MetricSource {
  private readonly prepareErrors: (() => Error)[] = [];
  knowsEverySchema = false;

  constructor(private readonly broker: FakeBroker) {}

  isPrepared(): boolean {
    return this.knowsEverySchema && this.prepareErrors.length === 0;
  }

  failPrepare(times: number, error: () => Error): void {
    for (let i = 0; i < times; i += 1) this.prepareErrors.push(error);
  }

  prepare(values: readonly (Buffer | null)[]): Promise<void> {
    this.broker.record({ step: 'prepare', detail: values.length });
    const error = this.prepareErrors.shift();
    return error ? Promise.reject(error()) : Promise.resolve();
  }

  decode(value: Buffer | null): DecodedInput {
    if (this.knowsEverySchema)
      this.broker.record({ step: 'decode', detail: value?.toString('utf8') ?? 'null' });
    if (value === null) return { kind: 'poison', poison: { reason: 'null-value', message: 'value is null' } };
    const text = value.toString('utf8');
    if (text.startsWith('bad')) {
      return { kind: 'poison', poison: { reason: 'avro-decode', message: `cannot decode ${text}` } };
    }
    return { kind: 'value', value: JSON.parse(text) as ServerMetric };
  }
}

export const T0 = Date.UTC(2024, 0, 1);

export function metricValue(host: string, timestampMs: number, cpu = 50): Buffer {
  const metric: ServerMetric = {
    host,
    timestamp: timestampMs,
    cpu_percent: cpu,
    mem_percent: 25,
    disk_read_bytes: 1,
    disk_write_bytes: 2,
    net_rx_bytes: 3,
    net_tx_bytes: 4,
    load_avg_1m: null,
  };
  return Buffer.from(JSON.stringify(metric), 'utf8');
}

export function message(
  offset: number,
  value: Buffer | string | null,
  headers: InputHeaders = {},
  key: Buffer | null = null,
): InputMessage {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return {
    partition: 0,
    offset: BigInt(offset),
    key: key ?? Buffer.from(`key-${offset}`, 'utf8'),
    value: bytes,
    timestampMs: T0 + offset,
    headers,
  };
}

export function batchOf(
  topic: string,
  partition: number,
  messages: InputMessage[],
  lastOffset?: bigint,
): InputBatch {
  const last = messages[messages.length - 1];
  return {
    topic,
    partition,
    messages: messages.map((m) => ({ ...m, partition })),
    lastOffset: lastOffset ?? last?.offset ?? 0n,
  };
}

export const silentLogger = pino({ level: 'silent' });

/**
 * The processing-attempts journal: one entry per partition, every write kept in order for assertions; releases
 * apply only while the entry they name is current, as the real journal resolves them.
 */
export class FakeJournal implements AttemptJournalPort {
  readonly writes: { partition: number; entry: AttemptEntry | null }[] = [];
  readonly releases: {
    partition: number;
    own: AttemptStamp;
    applied: boolean;
    entry: AttemptEntry | null;
  }[] = [];
  private readonly entries = new Map<number, JournaledAttempt>();
  private failuresLeft = 0;

  constructor(private readonly broker: FakeBroker) {}

  entry(partition: number): AttemptEntry | undefined {
    return this.entries.get(partition)?.entry;
  }

  /** The next `times` writes fail with a retriable error, as a broker outage would make them. */
  failWrites(times: number): void {
    this.failuresLeft = times;
  }

  read(partition: number): Promise<JournaledAttempt | undefined> {
    this.broker.record({ step: 'journalRead', detail: partition });
    return Promise.resolve(this.entries.get(partition));
  }

  write(partition: number, attempt: JournaledAttempt | null): Promise<void> {
    const entry = attempt?.entry;
    this.broker.record({
      step: 'journalWrite',
      ...(entry ? { offset: entry.offset, detail: entry.isolated ? 'isolated' : 'normal' } : {}),
    });
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new RetriableError('KAFKA_RETRIABLE', 'journal write failed'));
    }
    this.writes.push({ partition, entry: entry ?? null });
    if (attempt) this.entries.set(partition, attempt);
    else this.entries.delete(partition);
    return Promise.resolve();
  }

  release(partition: number, own: AttemptStamp, restore: JournaledAttempt | undefined): Promise<void> {
    this.broker.record({ step: 'journalRelease', detail: partition });
    const current = this.entries.get(partition)?.stamp;
    const applied = current?.owner === own.owner && current.seq === own.seq;
    this.releases.push({ partition, own, applied, entry: restore?.entry ?? null });
    if (applied) {
      if (restore) this.entries.set(partition, restore);
      else this.entries.delete(partition);
    }
    return Promise.resolve();
  }
}

/** A hold released only when the test says so, counting who waits. */
export function manualRelease(): HoldRelease & { readonly waiting: number; release(): void } {
  let waiters: (() => void)[] = [];
  return {
    get waiting() {
      return waiters.length;
    },
    wait: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
      }),
    release() {
      const released = waiters;
      waiters = [];
      for (const resolve of released) resolve();
    },
  };
}

/** Waits, in real time (up to 2 s), until `condition` holds: for work a real timer or a queue runs later. */
export async function eventually(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting until ${what}`);
}
