/**
 * A connection made on first use and shared by every caller meanwhile. A failed attempt is forgotten, so the next
 * use tries again; after `close` a later use connects afresh.
 */
export class LazyConnection {
  private connected: Promise<void> | undefined;

  constructor(
    private readonly open: () => Promise<void>,
    private readonly shut: () => Promise<void>,
  ) {}

  ensure(): Promise<void> {
    this.connected ??= this.open().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }

  /** Disconnects, quietly: a client that is going away has nothing to gain from a disconnect error. */
  async close(): Promise<void> {
    const wasConnected = this.connected;
    this.connected = undefined;
    if (!wasConnected) return;
    await this.shut().catch(() => undefined);
  }
}
