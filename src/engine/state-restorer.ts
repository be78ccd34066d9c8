/**
 * The assignment steps that rebuild a task (design §2): a fresh producer whose InitProducerId fences the previous
 * owner and settles its open transaction; only then the group's committed offset, which also settles a commit
 * whose outcome was unknown; the store restored from the changelog, read_committed, up to a stable end (or the
 * state kept in memory since the task's last restore or commit brought up to it: retained-state.ts). The task
 * decides when to initialize and what to do with a failure; this only does the steps.
 */
import type { Logger } from 'pino';
import { RetriableError } from '../errors/errors.js';
import type { StageEvents } from '../observability/events.js';
import {
  fingerprintOf,
  MAX_CHECKPOINT_AGE_MS,
  outsideTheLog,
  positioned,
  type Fingerprint,
  type TakenCheckpoint,
  type TaskCheckpoint,
} from './state-checkpoint.js';
import type { StateStore } from './state-store.js';
import type { UnsettledCommits } from './commit-ledger.js';
import type { FaultInjector } from './faults.js';
import type { Acknowledged, ChangelogRecord, OutgoingRecord, ProducerPort, TaskKafkaPort } from './ports.js';
import { RetainedState } from './retained-state.js';
import { LatestPerKey } from './latest-per-key.js';
import { STATE_ROLLBACK, type StateRollbackPort } from './state-rollback.js';

/**
 * Distinct keys a restore collapses to their latest record before applying them (latest-per-key.ts): about a
 * partition's live windows and those closed meanwhile in the stage's usual runs, and a bound on what is held.
 */
const RESTORE_RUN_KEYS = 50_000;

const IN_MEMORY = 'state in memory';

/** RESTORE_STABLE_WAIT_MS's default; tasks built without the setting (engine tests) use it too. */
export const DEFAULT_RESTORE_STABLE_WAIT_MS = 60_000;

export interface RestorerDependencies {
  groupId: string;
  topics: { input: string; changelog: string };
  kafka: TaskKafkaPort;
  /** The transactional id of the partition's producer: stable per partition, so a new owner fences the old. */
  transactionalId: string;
  commitLedger: UnsettledCommits;
  stateRollback?: StateRollbackPort | undefined;
  events: StageEvents;
  faults: FaultInjector;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** How long a restore waits for the changelog's open transactions to end before this try fails. */
  restoreStableWaitMs?: number | undefined;
  /** How old a checkpoint, or the state kept in memory, may be (maxCheckpointAgeMs). */
  checkpointMaxAgeMs?: number | undefined;
}

export interface Initialized {
  committedOffset: bigint | null;
  /** Where processing resumes: the committed offset, or the partition's start when the group has none. */
  position: bigint;
  producerMs: number;
}

export class StateRestorer {
  constructor(
    private readonly partition: number,
    private readonly deps: RestorerDependencies,
    private readonly store: StateStore,
    private readonly log: Logger,
    /** True once the task is closing: a wait for a stable changelog stops. */
    private readonly isClosing: () => boolean,
    /** STATE_DIR's checkpoint of this task; undefined: every restore reads the whole changelog. */
    private readonly checkpoint?: TaskCheckpoint | undefined,
  ) {
    this.retained = new RetainedState(deps.now, deps.checkpointMaxAgeMs ?? MAX_CHECKPOINT_AGE_MS);
  }

  private readonly retained: RetainedState;

  /**
   * Steps 1 to 3 of the assignment; `adopt` receives the new producer as soon as it exists, and `alongside` (the
   * journal's read) runs during the restore. Neither may still run when a failed initialization is retried.
   */
  async initialize(
    adopt: (producer: ProducerPort) => void,
    alongside: () => Promise<void>,
  ): Promise<Initialized> {
    const started = this.deps.now();
    adopt(await this.deps.kafka.createProducer(this.deps.transactionalId));
    const producerMs = this.deps.now() - started;
    const { groupId, topics } = this.deps;
    const committedOffset = await this.deps.kafka.committedOffset(groupId, topics.input, this.partition);
    this.settle(committedOffset);
    await this.deps.faults.hit('after-offset-fetch', this.partition);
    const [restored, loaded] = await Promise.allSettled([this.restore(), alongside()]);
    if (restored.status === 'rejected') throw restored.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    const position =
      committedOffset ?? (await this.deps.kafka.partitionRange(topics.input, this.partition)).start;
    return { committedOffset, position, producerMs };
  }

  /**
   * Settles an unknown commit outcome by the re-read committed offset, and says which: `committed` when the
   * group's offset is at or past the transaction's end (this commit landed, or a successor owner's covered the
   * range), `aborted` when it is not.
   */
  private settle(committedOffset: bigint | null): void {
    const unsettled = this.deps.commitLedger.take(this.partition);
    if (!unsettled) return;
    const { attemptId, fromOffset, endOffset } = unsettled;
    // A transaction that moved no offset (an idle flush) cannot be told apart by offsets: the restore decides.
    const outcome =
      endOffset <= fromOffset
        ? 'offsets unchanged: state restored from the changelog'
        : committedOffset !== null && committedOffset >= endOffset
          ? 'committed'
          : 'aborted';
    this.log.warn(
      {
        attemptId,
        endOffset: endOffset.toString(),
        committedOffset: committedOffset?.toString() ?? null,
        outcome,
      },
      'commit outcome settled by re-reading the committed offset',
    );
  }

  /** A transaction's state was applied after its commit (see RetainedState). */
  committed(changelog: readonly OutgoingRecord[], acknowledged: Acknowledged | undefined): void {
    this.retained.committed(changelog, acknowledged);
  }

  private async restore(): Promise<void> {
    const started = this.deps.now();
    // Taken (and deleted) before anything else: a checkpoint is left again only from this task's committed state.
    const taken = await this.checkpoint?.take();
    const retained = this.retained.take();
    const rollback = this.deps.stateRollback ?? STATE_ROLLBACK;
    const range = await this.stableChangelogRange();
    const kept = this.keptInMemory(retained, range);
    if (!kept && !rollback.clearForRestore(this.store)) return;
    // Reported as the windows kept, unless the changelog refuses the state in memory below.
    let keptWindows = kept ? this.store.size : undefined;
    const tail = kept ?? (taken ? this.tailFrom(taken, range) : undefined);
    let fromCheckpoint = 0;
    let read: { records: number; last: ChangelogRecord | undefined };
    if (tail) {
      for (const entry of tail.entries) this.store.restore(entry.key, entry.value);
      fromCheckpoint = tail.entries.length;
      try {
        read = await this.read(range.end, tail.fingerprint);
      } catch (error) {
        const differs = fingerprintDiffers(error);
        if (!differs) throw error;
        this.refuse('fingerprint differs', differs.message, kept ? IN_MEMORY : undefined);
        this.store.clear();
        fromCheckpoint = 0;
        keptWindows = undefined;
        read = await this.read(range.end, undefined);
      }
    } else {
      read = await this.read(range.end, undefined);
    }
    this.retained.restored(read.last);
    this.checkpoint?.restored(read.last, this.store);
    const { records } = read;
    const durationMs = this.deps.now() - started;
    this.deps.events.emit('task.restored', {
      partition: this.partition,
      records,
      fromCheckpoint,
      ...(keptWindows === undefined ? {} : { keptInMemory: keptWindows }),
      windows: this.store.size,
      durationMs,
    });
    this.log.info(
      {
        records,
        fromCheckpoint,
        ...(keptWindows === undefined ? {} : { keptInMemory: keptWindows }),
        tailRecords: records,
        windows: this.store.size,
        durationMs,
        streamTimeMs: this.store.streamTimeMs,
      },
      'state restored',
    );
  }

  /**
   * The state this task holds in memory, kept to read only the changelog after it (RetainedState), or undefined
   * (logged why when there was one): the store is then emptied and restored.
   */
  private keptInMemory(
    retained: ReturnType<RetainedState['take']>,
    range: { start: bigint; end: bigint },
  ): { entries: readonly []; fingerprint: Fingerprint } | undefined {
    if (retained === undefined) return undefined;
    if ('refused' in retained) {
      this.refuse('too old', retained.refused, IN_MEMORY);
      return undefined;
    }
    const { fingerprint } = retained;
    const outside = outsideTheLog({ fingerprint, offset: fingerprint.offset + 1n }, range);
    if (outside !== null) {
      this.refuse('offset outside the log', outside, IN_MEMORY);
      return undefined;
    }
    return { entries: [], fingerprint };
  }

  /** The checkpoint to load and where its tail starts, or undefined (logged why) for a full restore. */
  private tailFrom(
    taken: TakenCheckpoint,
    range: { start: bigint; end: bigint },
  ): { entries: readonly { key: Buffer; value: Buffer | null }[]; fingerprint: Fingerprint } | undefined {
    if (taken.kind === 'refused') {
      this.refuse(taken.reason, taken.detail);
      return undefined;
    }
    const outside = outsideTheLog(taken.checkpoint, range);
    if (outside !== null) {
      this.refuse('offset outside the log', outside);
      return undefined;
    }
    return taken.checkpoint;
  }

  private refuse(reason: string, detail: string, what = 'state checkpoint'): void {
    this.log.info({ reason, detail }, `${what} not used (${reason}): full restore`);
  }

  /**
   * Reads the changelog into the store up to `end`: all of it, or from a checkpoint's fingerprint record, which
   * must come first and match (it is already in the snapshot; re-applying it changes nothing).
   */
  private async read(
    end: bigint,
    fingerprint: Fingerprint | undefined,
  ): Promise<{ records: number; last: ChangelogRecord | undefined }> {
    const started = this.deps.now();
    let records = 0;
    let last: ChangelogRecord | undefined;
    let unverified = fingerprint;
    let lastLogged = started;
    const run = new LatestPerKey(RESTORE_RUN_KEYS, (key, value) => {
      this.store.restore(key, value);
    });
    await this.deps.kafka.readChangelog(
      this.deps.topics.changelog,
      this.partition,
      end,
      (batch) => {
        // A fetch may start at the head of the record batch holding the fingerprint record.
        let rest = fingerprint
          ? batch.filter((r) => (r.offset ?? fingerprint.offset) >= fingerprint.offset)
          : batch;
        if (unverified) {
          const [first] = rest;
          if (first === undefined) return;
          const read = positioned(first);
          const found = read === undefined ? undefined : fingerprintOf(read);
          if (found?.offset !== unverified.offset || found.hash !== unverified.hash) {
            throw new FingerprintDiffers(
              `changelog offset ${unverified.offset} holds ${found ? `offset ${found.offset} hash ${found.hash.slice(0, 12)}` : 'nothing'}, checkpoint says hash ${unverified.hash.slice(0, 12)}`,
            );
          }
          unverified = undefined;
          last = first;
          rest = rest.slice(1);
        }
        for (const record of rest) run.add(record.key, record.value);
        records += rest.length;
        last = rest[rest.length - 1] ?? last;
      },
      async (position) => {
        await this.deps.faults.hit('during-restore', this.partition);
        if (this.deps.now() - lastLogged >= 1000) {
          lastLogged = this.deps.now();
          this.log.info({ position: position.toString(), end: end.toString(), records }, 'restoring state');
        }
      },
      fingerprint?.offset,
    );
    if (unverified) throw new FingerprintDiffers(`changelog has no record at offset ${unverified.offset}`);
    run.flush();
    return { records, last };
  }

  /**
   * The changelog's read_committed end, once it is the whole changelog. This task's predecessors are fenced by
   * now, so an open transaction there is foreign or hanging; it holds the last stable offset below the high
   * watermark, and a restore up to it would load a prefix of the state and process on it. Waits, bounded, saying
   * so; after the bound this try fails (retriable: the task stays not ready, backs off and waits again).
   */
  private async stableChangelogRange(): Promise<{ start: bigint; end: bigint }> {
    const { changelog } = this.deps.topics;
    const boundMs = this.deps.restoreStableWaitMs ?? DEFAULT_RESTORE_STABLE_WAIT_MS;
    const started = this.deps.now();
    let range = await this.deps.kafka.partitionRange(changelog, this.partition);
    // The high watermark of the first look: whatever is written after it is not this restore's to wait for.
    const target = range.highWatermark ?? range.end;
    while (range.end < target) {
      const waitedMs = this.deps.now() - started;
      const facts = {
        partition: this.partition,
        stableOffset: range.end,
        highWatermark: target,
        waitedMs,
      };
      this.deps.events.emit('task.restore_waiting', facts);
      const detail = `${changelog}-${this.partition} has an open transaction: last stable offset ${range.end} < high watermark ${target}`;
      if (waitedMs >= boundMs) {
        throw new RetriableError(
          'CHANGELOG_UNSTABLE',
          `${detail} after waiting ${waitedMs} ms (RESTORE_STABLE_WAIT_MS=${boundMs}); a prefix of the state is never restored`,
        );
      }
      this.log.warn({ waitedMs, boundMs }, `${detail}; restore waits for it to end`);
      await this.deps.sleep(Math.min(1000, boundMs));
      if (this.isClosing()) throw new RetriableError('CHANGELOG_UNSTABLE', `${detail}; task closing`);
      range = await this.deps.kafka.partitionRange(changelog, this.partition);
    }
    return range;
  }
}

/** The changelog no longer holds the record a checkpoint was taken after: it is not the same log. */
class FingerprintDiffers extends Error {}

/** The Kafka port wraps what the read's callback threw; the refusal is found along the causes. */
function fingerprintDiffers(error: unknown): FingerprintDiffers | undefined {
  for (let e = error; e instanceof Error; e = e.cause) if (e instanceof FingerprintDiffers) return e;
  return undefined;
}
