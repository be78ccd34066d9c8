/**
 * A generic keyed state store for processors whose state is a map: keys and values are the processor's types,
 * turned into changelog bytes by its serdes. The changelog key is a one-byte tag then the key's bytes, so the
 * stream time (tag 0) can never collide with an entry (tag 1).
 */
import type { Serde } from './serde.js';
import type { ChangelogEntry, StateStore, StoreWrites } from './state-store.js';

const STREAM_TIME_TAG = 0;
const ENTRY_TAG = 1;
const STREAM_TIME_KEY = Buffer.from([STREAM_TIME_TAG]);

interface Entry<K, V> {
  key: K;
  value: V;
}

export interface KeyValueSerdes<K, V> {
  key: Serde<K>;
  value: Serde<V>;
}

function decodeOrThrow<T>(serde: Serde<T>, bytes: Buffer, what: string): T {
  const decoded = serde.deserialize(bytes);
  // The changelog is written only by this store: bytes it cannot read are corruption, not poison.
  if (decoded.kind === 'poison') throw new Error(`changelog ${what} unreadable: ${decoded.poison.message}`);
  return decoded.value;
}

export class KeyValueStore<K, V> implements StateStore<KeyValueWrites<K, V>> {
  private readonly entries = new Map<string, Entry<K, V>>();
  private committedStreamTimeMs: number | null = null;
  private open = false;

  constructor(private readonly serdes: KeyValueSerdes<K, V>) {}

  get streamTimeMs(): number | null {
    return this.committedStreamTimeMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Committed value of a key, outside any transaction (for tests and status). */
  get(key: K): V | undefined {
    return this.entries.get(this.id(key))?.value;
  }

  begin(): KeyValueWrites<K, V> {
    if (this.open) throw new Error('cannot begin: a transaction is open on this store');
    this.open = true;
    return new KeyValueWrites(this, this.committedStreamTimeMs);
  }

  exportChangelog(): ChangelogEntry[] {
    const out = [...this.entries.values()].map((entry) => this.changelogEntry(entry));
    if (this.committedStreamTimeMs !== null)
      out.push({ key: STREAM_TIME_KEY, value: Buffer.from(String(this.committedStreamTimeMs), 'utf8') });
    return out;
  }

  restore(key: Buffer, value: Buffer | null): void {
    if (key[0] === STREAM_TIME_TAG) {
      this.committedStreamTimeMs = value === null ? null : Number(value.toString('utf8'));
      return;
    }
    const keyBytes = key.subarray(1);
    const id = keyBytes.toString('base64');
    if (value === null) this.entries.delete(id);
    else
      this.entries.set(id, {
        key: decodeOrThrow(this.serdes.key, keyBytes, 'key'),
        value: decodeOrThrow(this.serdes.value, value, 'value'),
      });
  }

  clear(): void {
    if (this.open) throw new Error('cannot clear: a transaction is open on this store');
    this.entries.clear();
    this.committedStreamTimeMs = null;
  }

  /** @internal the transaction's view of committed state. */
  committed(id: string): Entry<K, V> | undefined {
    return this.entries.get(id);
  }

  /** @internal */
  id(key: K): string {
    return this.serdes.key.serialize(key).toString('base64');
  }

  /** @internal */
  changelogEntry(entry: Entry<K, V> | { key: K; value: null }): ChangelogEntry {
    const keyBytes = this.serdes.key.serialize(entry.key);
    return {
      key: Buffer.concat([Buffer.from([ENTRY_TAG]), keyBytes]),
      value: entry.value === null ? null : this.serdes.value.serialize(entry.value),
    };
  }

  /** @internal */
  close(changes: Map<string, { key: K; value: V | null }> | null, streamTimeMs: number | null): void {
    this.open = false;
    if (changes === null) return;
    for (const [id, change] of changes) {
      if (change.value === null) this.entries.delete(id);
      else this.entries.set(id, { key: change.key, value: change.value });
    }
    this.committedStreamTimeMs = streamTimeMs;
  }
}

/** Copy-on-write: committed entries are only read; this transaction's puts and deletes live here. */
export class KeyValueWrites<K, V> implements StoreWrites {
  private readonly changes = new Map<string, { key: K; value: V | null }>();
  private current: number | null;
  private closed = false;

  constructor(
    private readonly store: KeyValueStore<K, V>,
    private readonly committedStreamTimeMs: number | null,
  ) {
    this.current = committedStreamTimeMs;
  }

  get(key: K): V | undefined {
    this.assertOpen();
    const id = this.store.id(key);
    const own = this.changes.get(id);
    if (own !== undefined) return own.value ?? undefined;
    return this.store.committed(id)?.value;
  }

  put(key: K, value: V): void {
    this.assertOpen();
    this.changes.set(this.store.id(key), { key, value });
  }

  delete(key: K): void {
    this.assertOpen();
    this.changes.set(this.store.id(key), { key, value: null });
  }

  streamTimeMs(): number | null {
    this.assertOpen();
    return this.current;
  }

  advanceStreamTime(eventTimeMs: number): void {
    this.assertOpen();
    if (this.current === null || eventTimeMs > this.current) this.current = eventTimeMs;
  }

  prepare(): ChangelogEntry[] {
    this.assertOpen();
    const out = [...this.changes.values()].map((change) =>
      change.value === null
        ? this.store.changelogEntry({ key: change.key, value: null })
        : this.store.changelogEntry({ key: change.key, value: change.value }),
    );
    if (this.current !== null && this.current !== this.committedStreamTimeMs)
      out.push({ key: STREAM_TIME_KEY, value: Buffer.from(String(this.current), 'utf8') });
    return out;
  }

  apply(): void {
    this.assertOpen();
    this.closed = true;
    this.store.close(this.changes, this.current);
  }

  discard(): void {
    this.assertOpen();
    this.closed = true;
    this.store.close(null, null);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store transaction is closed (applied or discarded); begin a new one');
  }
}
