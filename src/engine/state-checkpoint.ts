/**
 * A task's local state checkpoint (STATE_DIR): the committed state as changelog records, with the changelog
 * offset it covers, so a restart restores the snapshot and reads only the changelog's tail. A checkpoint must
 * never lie: it is written from committed state only (after a commit, after a restore, at a clean close), taken
 * (read and deleted) at every initialization, and trusted only while the changelog is still the log it was taken
 * from, which its fingerprint proves at load (docs/design.md, "Local state checkpoints").
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../errors/message.js';
import { headerText, LINEAGE_HEADERS } from './lineage.js';
import type { Acknowledged, ChangelogRecord, OutgoingRecord, TaskKafkaPort } from './ports.js';
import type { ChangelogEntry, StateStore } from './state-store.js';

export const CHECKPOINT_FORMAT_VERSION = 2;

/** The longest a checkpoint is ever trusted, whatever the changelog's settings. */
export const MAX_CHECKPOINT_AGE_MS = 12 * 3_600_000;

/**
 * How old a checkpoint may be. Replaying a tail over a snapshot misses a delete whose tombstone the log cleaner
 * already dropped, which it may do `delete.retention.ms` after it first cleaned it, never sooner after it was
 * written; half of that leaves room for clocks. The stage creates its changelog with 15 minutes (7.5 minutes
 * here); unknown, the broker's default of a day is assumed to have been kept (12 hours).
 */
export function maxCheckpointAgeMs(deleteRetentionMs: number | undefined): number {
  if (deleteRetentionMs === undefined) return MAX_CHECKPOINT_AGE_MS;
  return Math.max(0, Math.min(MAX_CHECKPOINT_AGE_MS, Math.floor(deleteRetentionMs / 2)));
}

/** Which changelog a checkpoint belongs to. */
export interface CheckpointIdentity {
  appId: string;
  changelog: string;
  partition: number;
}

/** The last committed changelog data record before the checkpoint's offset, as found in the log. */
export interface Fingerprint {
  offset: bigint;
  /** sha256 of its key, value and transactional attempt: the attempt tells a recreated topic's twin apart. */
  hash: string;
}

export interface Checkpoint extends CheckpointIdentity {
  /** The changelog offset the snapshot covers: the tail read starts here. */
  offset: bigint;
  /** When it was written (ms since the epoch, the writer's clock). */
  writtenAtMs: number;
  fingerprint: Fingerprint;
  entries: ChangelogEntry[];
}

export type CheckpointRefusal =
  'missing' | 'other app' | 'unreadable' | 'too old' | 'offset outside the log' | 'fingerprint differs';

export type TakenCheckpoint =
  { kind: 'found'; checkpoint: Checkpoint } | { kind: 'refused'; reason: CheckpointRefusal; detail: string };

export function checkpointPath(stateDir: string, id: CheckpointIdentity): string {
  return join(stateDir, id.appId, `${id.changelog}-${id.partition}.checkpoint`);
}

/**
 * `record` with its offset known, copied field by field, or undefined without an offset. Not a spread: a fetched
 * record's attempt is a getter of its class (task-kafka.ts), which a spread would drop.
 */
export function positioned(
  record: ChangelogRecord | undefined,
): (ChangelogRecord & { offset: bigint }) | undefined {
  if (record?.offset === undefined) return undefined;
  return { key: record.key, value: record.value, offset: record.offset, attempt: record.attempt };
}

export function fingerprintOf(record: ChangelogRecord & { offset: bigint }): Fingerprint {
  const hash = createHash('sha256');
  // Length-prefixed parts: no two different (key, value, attempt) triples hash the same bytes.
  const part = (bytes: Buffer | null) => {
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes === null ? -1 : bytes.length);
    hash.update(length);
    if (bytes !== null) hash.update(bytes);
  };
  part(record.key);
  part(record.value);
  part(record.attempt == null ? null : Buffer.from(record.attempt, 'utf8'));
  return { offset: record.offset, hash: hash.digest('hex') };
}

export function encodeCheckpoint(c: Checkpoint): Buffer {
  return Buffer.from(
    JSON.stringify({
      version: CHECKPOINT_FORMAT_VERSION,
      appId: c.appId,
      changelog: c.changelog,
      partition: c.partition,
      offset: c.offset.toString(),
      writtenAtMs: c.writtenAtMs,
      fingerprint: { offset: c.fingerprint.offset.toString(), hash: c.fingerprint.hash },
      entries: c.entries.map((e) => [e.key.toString('base64'), e.value?.toString('base64') ?? null]),
    }),
    'utf8',
  );
}

class UnreadableCheckpoint extends Error {}

function field<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new UnreadableCheckpoint(`bad ${what}`);
  return value;
}

const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

/** Throws UnreadableCheckpoint naming the first field that is not what this version writes. */
export function decodeCheckpoint(bytes: Buffer): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new UnreadableCheckpoint(`not JSON (${errorMessage(error)})`);
  }
  const o = field(typeof raw === 'object' && raw !== null, raw as Record<string, unknown>, 'file');
  field(o.version === CHECKPOINT_FORMAT_VERSION, o.version, `version ${String(o.version)}`);
  const fp = field(
    typeof o.fingerprint === 'object' && o.fingerprint !== null,
    o.fingerprint as Record<string, unknown>,
    'fingerprint',
  );
  const offsetOf = (v: unknown, what: string) =>
    BigInt(field(typeof v === 'string' && OFFSET.test(v), v as string, what));
  const base64 = /^[A-Za-z0-9+/]*={0,2}$/;
  const bytesOf = (v: unknown) =>
    Buffer.from(field(typeof v === 'string' && base64.test(v), v as string, 'entry'), 'base64');
  const entries = field(Array.isArray(o.entries), o.entries as unknown[], 'entries').map((e) => {
    const pair = field(Array.isArray(e) && e.length === 2 && e[1] !== null, e as unknown[], 'entry');
    return { key: bytesOf(pair[0]), value: bytesOf(pair[1]) };
  });
  return {
    appId: field(typeof o.appId === 'string', o.appId as string, 'appId'),
    changelog: field(typeof o.changelog === 'string', o.changelog as string, 'changelog'),
    partition: field(Number.isSafeInteger(o.partition), o.partition as number, 'partition'),
    offset: offsetOf(o.offset, 'offset'),
    writtenAtMs: field(Number.isSafeInteger(o.writtenAtMs), o.writtenAtMs as number, 'writtenAtMs'),
    fingerprint: {
      offset: offsetOf(fp.offset, 'fingerprint offset'),
      hash: field(typeof fp.hash === 'string' && /^[0-9a-f]{64}$/.test(fp.hash), fp.hash as string, 'hash'),
    },
    entries,
  };
}

/** The file operations of an atomic write; a test replaces them to fail halfway. */
export interface CheckpointFiles {
  /** Writes and fsyncs a new file (never an existing one). */
  writeSynced(path: string, bytes: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Makes a rename durable: fsync of the directory. */
  syncDirectory(path: string): Promise<void>;
}

export const NODE_FILES: CheckpointFiles = {
  async writeSynced(path, bytes) {
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => rename(from, to),
  async syncDirectory(path) {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Temp file, fsync, rename, fsync of the directory: a reader finds the whole file or none. */
export async function writeAtomically(
  path: string,
  bytes: Buffer,
  files: CheckpointFiles = NODE_FILES,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = `${path}.${randomUUID()}.tmp`;
  try {
    await files.writeSynced(temp, bytes);
    await files.rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await files.syncDirectory(dir);
}

/** A process killed while writing leaves its temp file (writeAtomically): gone at the next take, not piling up. */
export async function removeTempFiles(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp'))
      await rm(join(dirname(path), name), { force: true }).catch(() => undefined);
  }
}

/**
 * Reads the checkpoint and deletes it at once, whatever it holds: from here on, only the new task's own committed
 * state may leave one (after its restore, its commits or its clean close).
 */
export async function takeCheckpoint(
  path: string,
  id: CheckpointIdentity,
  nowMs: number,
  maxAgeMs: number = MAX_CHECKPOINT_AGE_MS,
): Promise<TakenCheckpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOENT') return { kind: 'refused', reason: 'missing', detail: `no ${path}` };
    await rm(path, { force: true }).catch(() => undefined);
    return { kind: 'refused', reason: 'unreadable', detail: `${path}: ${errorMessage(error)}` };
  }
  await rm(path, { force: true });
  let checkpoint: Checkpoint;
  try {
    checkpoint = decodeCheckpoint(bytes);
  } catch (error) {
    return { kind: 'refused', reason: 'unreadable', detail: `${path}: ${errorMessage(error)}` };
  }
  if (
    checkpoint.appId !== id.appId ||
    checkpoint.changelog !== id.changelog ||
    checkpoint.partition !== id.partition
  ) {
    const found = `${checkpoint.appId} ${checkpoint.changelog}-${checkpoint.partition}`;
    return { kind: 'refused', reason: 'other app', detail: `${path} belongs to ${found}` };
  }
  const ageMs = nowMs - checkpoint.writtenAtMs;
  if (ageMs > maxAgeMs) {
    const detail = `${path} was written ${Math.round(ageMs / 1000)} s ago; at most ${Math.round(maxAgeMs / 1000)} s are trusted (half the changelog's delete.retention.ms, at most 12 h)`;
    return { kind: 'refused', reason: 'too old', detail };
  }
  return { kind: 'found', checkpoint };
}

/**
 * The changelog must still hold the fingerprint record and reach the checkpoint's offset (for the state kept in
 * memory, the offset right after its fingerprint record).
 */
export function outsideTheLog(
  c: Pick<Checkpoint, 'fingerprint' | 'offset'>,
  range: { start: bigint; end: bigint },
): string | null {
  if (c.fingerprint.offset >= range.start && c.offset <= range.end && c.fingerprint.offset < c.offset)
    return null;
  return `fingerprint offset ${c.fingerprint.offset} and checkpoint offset ${c.offset} not within [${range.start}, ${range.end}]`;
}

/**
 * A committed transaction's last changelog record as a restore will read it back: its key, value and attempt
 * header, at the offset the broker acknowledged; undefined when it wrote none or the broker did not say where.
 */
export function lastCommittedRecord(
  changelog: readonly OutgoingRecord[],
  acknowledged: Acknowledged | undefined,
): (ChangelogRecord & { offset: bigint }) | undefined {
  const last = changelog[changelog.length - 1];
  if (last === undefined || acknowledged === undefined) return undefined;
  return {
    key: last.key ?? Buffer.alloc(0),
    value: last.value,
    attempt: headerText(last.headers[LINEAGE_HEADERS.attempt]),
    offset: acknowledged.lastOffset,
  };
}

/** The committed changelog record the task's state reflects last: the one a checkpoint's fingerprint must find. */
export type LastWrite = { attempt: string } | { offset: bigint } | null;

/**
 * When a running task writes a checkpoint: at most once per `intervalMs` (0: only at a clean close); and how old
 * one may be when it is taken (maxCheckpointAgeMs).
 */
export interface CheckpointSchedule {
  intervalMs: number;
  maxAgeMs?: number | undefined;
  now: () => number;
}

/**
 * One task's checkpoint: taken at initialization; written while the task runs (after its restore, and after a
 * commit once the schedule's interval has passed), and at a clean close. Knows which changelog record the
 * committed state reflects last (the restore's last record, or the last committed transaction's attempt), so a
 * close that finds another writer's record at the end of the changelog writes nothing.
 */
export class TaskCheckpoint {
  private lastWrite: LastWrite = null;
  private lastSavedAtMs = Number.NEGATIVE_INFINITY;
  /** The write in flight, if any: one at a time, and settled before a take or a close's own write. */
  private writing: Promise<void> | undefined;
  readonly path: string;

  constructor(
    stateDir: string,
    private readonly id: CheckpointIdentity,
    private readonly kafka: TaskKafkaPort,
    private readonly log: Logger,
    private readonly schedule: CheckpointSchedule = { intervalMs: 0, now: Date.now },
    private readonly files: CheckpointFiles = NODE_FILES,
  ) {
    this.path = checkpointPath(stateDir, id);
  }

  async take(): Promise<TakenCheckpoint> {
    await this.settled();
    this.lastWrite = null;
    await removeTempFiles(this.path);
    return takeCheckpoint(this.path, this.id, this.schedule.now(), this.schedule.maxAgeMs);
  }

  /** The store now holds the changelog up to `last` (read, so its offset and attempt are the log's own). */
  restored(last: ChangelogRecord | undefined, store: StateStore): void {
    const read = positioned(last);
    this.lastWrite = read === undefined ? null : { offset: read.offset };
    if (read !== undefined) this.saveIfDue(store, read);
  }

  /**
   * The store now holds the state as of a committed transaction whose changelog records were `changelog`, the
   * last of which the broker put at `acknowledged` (undefined when it did not say).
   */
  committed(
    attemptId: string,
    changelog: readonly OutgoingRecord[],
    acknowledged: Acknowledged | undefined,
    store: StateStore,
  ): void {
    if (changelog.length === 0) return;
    this.lastWrite = { attempt: attemptId };
    const record = lastCommittedRecord(changelog, acknowledged);
    if (record !== undefined) this.saveIfDue(store, record);
  }

  /** Resolves once no write is in flight. */
  async settled(): Promise<void> {
    await this.writing;
  }

  /**
   * Writes the store's committed state, which reflects the changelog up to `last`, in the background: the export
   * is taken now, so later commits cannot leak into it. Never throws; a write that fails costs a longer restore.
   */
  private saveIfDue(store: StateStore, last: ChangelogRecord & { offset: bigint }): void {
    const now = this.schedule.now();
    if (this.schedule.intervalMs <= 0 || this.writing !== undefined) return;
    if (now - this.lastSavedAtMs < this.schedule.intervalMs) return;
    this.lastSavedAtMs = now;
    let entries: ChangelogEntry[];
    let bytes: Buffer;
    try {
      // Called after a commit's state is applied: a throw here would leave the task between its commit and its
      // next offset, so an export or encoding that fails (a huge state, a serde) costs the checkpoint only.
      entries = store.exportChangelog();
      bytes = encodeCheckpoint({
        ...this.id,
        offset: last.offset + 1n,
        writtenAtMs: now,
        fingerprint: fingerprintOf(last),
        entries,
      });
    } catch (error) {
      this.log.warn({ path: this.path, err: errorMessage(error) }, 'no state checkpoint written');
      return;
    }
    const offset = last.offset + 1n;
    this.writing = writeAtomically(this.path, bytes, this.files)
      .then(
        () => {
          this.log.debug(
            { path: this.path, offset: offset.toString(), entries: entries.length },
            'state checkpoint written',
          );
        },
        (error: unknown) => {
          this.log.warn({ path: this.path, err: errorMessage(error) }, 'no state checkpoint written');
        },
      )
      .finally(() => {
        this.writing = undefined;
      });
  }

  /** At a clean close after the last commit. Never throws: a checkpoint not written costs a full restore. */
  async save(store: StateStore): Promise<void> {
    await this.settled();
    try {
      const skipped = await this.trySave(store);
      if (skipped !== null) this.log.info({ path: this.path }, `no state checkpoint written: ${skipped}`);
    } catch (error) {
      this.log.warn({ path: this.path, err: errorMessage(error) }, 'no state checkpoint written');
    }
  }

  private async trySave(store: StateStore): Promise<string | null> {
    const expected = this.lastWrite;
    if (expected === null) return 'the state reflects no changelog record';
    const { changelog, partition } = this.id;
    const range = await this.kafka.partitionRange(changelog, partition);
    if (range.highWatermark !== undefined && range.highWatermark > range.end)
      return 'the changelog has an open transaction (another writer)';
    const last = await lastRecordBefore(this.kafka, changelog, partition, range.start, range.end);
    if (last === null) return 'no committed changelog record found';
    const ours = 'attempt' in expected ? last.attempt === expected.attempt : last.offset === expected.offset;
    if (!ours) return `the changelog's last record (offset ${last.offset}) is not this task's state`;
    const entries = store.exportChangelog();
    const checkpoint = {
      ...this.id,
      offset: range.end,
      writtenAtMs: this.schedule.now(),
      fingerprint: fingerprintOf(last),
      entries,
    };
    await writeAtomically(this.path, encodeCheckpoint(checkpoint), this.files);
    this.log.info(
      { path: this.path, offset: range.end.toString(), entries: entries.length },
      'state checkpoint written',
    );
    return null;
  }
}

/**
 * The last committed record before `end`, reading backwards in growing spans: the last transaction's records sit
 * just below its commit marker, so the first span nearly always finds it.
 */
export async function lastRecordBefore(
  kafka: TaskKafkaPort,
  topic: string,
  partition: number,
  start: bigint,
  end: bigint,
): Promise<(ChangelogRecord & { offset: bigint }) | null> {
  let span = 16n;
  for (let upper = end; upper > start; span *= 8n) {
    const from = upper - span > start ? upper - span : start;
    // Only the span's last record is wanted: it alone is copied (its attempt read from its headers).
    let last: ChangelogRecord | undefined;
    await kafka.readChangelog(
      topic,
      partition,
      upper,
      (records) => {
        for (const r of records) if (r.offset !== undefined && r.offset >= from && r.offset < upper) last = r;
      },
      () => Promise.resolve(),
      from,
    );
    const read = positioned(last);
    if (read !== undefined) return read;
    upper = from;
  }
  return null;
}
