/**
 * Collapses a run of changelog records to the latest record of each key before they reach the store: a restore
 * then decodes each key once per run instead of once per record (a window's key is written at every commit it is
 * touched in, then once more as a tombstone). The store's restore contract is "latest wins; null deletes", and a
 * key is its bytes, as Kafka's compaction sees it, so applying only each key's last record of a run, in the order
 * of those last records, leaves the store as applying every record in order would. Runs are bounded by
 * `maxKeys` distinct keys: the records kept (and the fetched buffers they are slices of) stay bounded however long
 * the changelog is.
 */
export class LatestPerKey {
  private readonly latest = new Map<string, { key: Buffer; value: Buffer | null }>();

  constructor(
    private readonly maxKeys: number,
    private readonly apply: (key: Buffer, value: Buffer | null) => void,
  ) {}

  add(key: Buffer, value: Buffer | null): void {
    // latin1 maps each byte to one character: equal strings are exactly equal bytes.
    const id = key.toString('latin1');
    // Deleted first, so the map's order is the order of each key's last record.
    this.latest.delete(id);
    this.latest.set(id, { key, value });
    if (this.latest.size >= this.maxKeys) this.flush();
  }

  /** Applies the run so far to the store and starts a new one. */
  flush(): void {
    const run = [...this.latest.values()];
    this.latest.clear();
    for (const { key, value } of run) this.apply(key, value);
  }
}
