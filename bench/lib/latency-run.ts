/**
 * Input-to-visible latency: a live load whose event time is the wall clock, 1 s windows without grace, and a
 * read_committed consumer on the output. A window [s, s + 1 s) can close once the clock (hence event time) passes
 * s + 1 s + grace; for each rollup, latency = the wall time it became visible to the consumer − (window_end +
 * grace). That is the whole delay a downstream reader sees: the wait for the next record to move stream time, the
 * processing, the wait for the commit, the commit, and one fetch. Only windows that start after the peer has
 * caught up with the live load and end before the load stops are counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Type } from 'avsc';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { decodeBody, wireSchemaId } from '../../src/serde/wire-format.js';
import { LiveLoad, loadLogFile } from './live-load.js';
import type { OffsetProbe } from './offsets.js';
import { readyWatch, waitUntilReady, type BenchContext, type PeerDefinition } from './peers.js';
import { quantile } from './stats.js';
import type { LatencyResult } from './types.js';

export interface LatencyRunOptions {
  ratePerSecond: number;
  seconds: number;
  hosts: number;
  appId: string;
  logFile: string;
}

const WINDOW_MS = 1000;
const GRACE_MS = 0;
/** How long the peer may take to start, and then to catch up with the live load. */
const READY_TIMEOUT_MS = 90_000;
const CATCH_UP_TIMEOUT_MS = 90_000;

interface Visible {
  windowStart: number;
  windowEnd: number;
  atMs: number;
}

/** Reads the rollup topic read_committed and notes when each rollup became visible. */
class RollupWatcher {
  readonly seen: Visible[] = [];
  private readonly types = new Map<number, Promise<Type | undefined>>();

  private constructor(private readonly consumer: ReturnType<Kafka['consumer']>) {}

  static async start(
    kafka: Kafka,
    registry: RegistryClient,
    topic: string,
    groupId: string,
  ): Promise<RollupWatcher> {
    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
    const watcher = new RollupWatcher(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const atMs = Date.now();
        for (const message of batch.messages) {
          const value = message.value;
          if (!value) continue;
          const schemaId = wireSchemaId(value);
          if (schemaId === undefined) continue;
          const type = await watcher.typeFor(registry, schemaId);
          const rollup = (type && decodeBody(type, value)) as
            { window_start: number; window_end: number } | undefined;
          if (rollup)
            watcher.seen.push({ windowStart: rollup.window_start, windowEnd: rollup.window_end, atMs });
        }
      },
    });
    return watcher;
  }

  private typeFor(registry: RegistryClient, schemaId: number): Promise<Type | undefined> {
    let type = this.types.get(schemaId);
    if (!type) {
      type = registry
        .writerSchema(schemaId)
        .then((found) => (found.kind === 'found' ? found.type : undefined));
      this.types.set(schemaId, type);
    }
    return type;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** Latencies of the rollups of windows inside [fromMs, toMs]. Pure. */
export function windowLatencies(
  seen: readonly Visible[],
  fromMs: number,
  toMs: number,
  graceMs: number,
): number[] {
  return seen
    .filter((v) => v.windowStart >= fromMs && v.windowEnd <= toMs)
    .map((v) => v.atMs - (v.windowEnd + graceMs));
}

export async function runLatency(
  peer: PeerDefinition,
  context: BenchContext,
  kafka: Kafka,
  probe: OffsetProbe,
  options: LatencyRunOptions,
): Promise<LatencyResult> {
  const commitIntervalMs = peer.id.endsWith('100ms') ? 100 : 1000;
  const base = {
    peer: peer.id,
    ratePerSecond: options.ratePerSecond,
    seconds: options.seconds,
    windowMs: WINDOW_MS,
    graceMs: GRACE_MS,
    commitIntervalMs,
  };
  const inputTopic = `${options.appId}-input`;
  const outputTopic = `${options.appId}-out`;
  await probe.createTopic(inputTopic, context.partitions);
  await probe.createTopic(outputTopic, context.partitions, [{ name: 'cleanup.policy', value: 'delete' }]);
  const registry = new RegistryClient({ url: context.registryUrl });
  const watcher = await RollupWatcher.start(kafka, registry, outputTopic, `${options.appId}-watch`);
  const watch = readyWatch(peer);
  const launched = await peer
    .launch(
      { ...context, windowMs: WINDOW_MS, graceMs: GRACE_MS },
      { appId: options.appId, inputTopic, inputRecords: 0, logFile: options.logFile },
      { onLine: watch.onLine },
    )
    .catch(async (error: unknown) => {
      await watcher.stop().catch(() => undefined);
      throw error;
    });
  let load: LiveLoad | undefined;
  let error: string | null = null;
  let latencies: number[] = [];
  try {
    // The load starts once the peer runs, so it is not measured working off a backlog of its own start-up.
    await waitUntilReady(launched, watch.ready, READY_TIMEOUT_MS);
    load = await LiveLoad.start(context, {
      topic: inputTopic,
      ratePerSecond: options.ratePerSecond,
      hosts: options.hosts,
      partitions: context.partitions,
      logFile: loadLogFile(options.logFile),
    });
    // Caught up: committed within one second's worth of records of the end, twice in a row.
    const startedAt = Date.now();
    let closeInARow = 0;
    while (closeInARow < 2) {
      if (!launched.child.isRunning)
        throw new Error(`${peer.id} exited during the latency run; see ${options.logFile}`);
      if (Date.now() - startedAt > CATCH_UP_TIMEOUT_MS) {
        throw new Error(`${peer.id} did not catch up with ${options.ratePerSecond} records/s within 90 s`);
      }
      const committed = await probe.committed(launched.groupId, inputTopic);
      const end = await probe.endOffset(inputTopic);
      closeInARow = committed > 0 && end - committed <= options.ratePerSecond ? closeInARow + 1 : 0;
      await sleep(250);
    }
    const fromMs = Math.ceil((Date.now() + WINDOW_MS) / WINDOW_MS) * WINDOW_MS;
    await sleep(fromMs - Date.now() + options.seconds * 1000);
    const toMs = Math.floor((Date.now() - 500) / WINDOW_MS) * WINDOW_MS;
    // Keep the load on a little longer so the last counted windows close, then let their commit come through.
    await sleep(WINDOW_MS);
    const expectedWindows = (toMs - fromMs) / WINDOW_MS;
    // The last counted window's rollups come from every partition's next commit: wait until their count has
    // stood still for a commit interval and a half-second fetch, so none of the slowest is left out.
    const deadline = Date.now() + commitIntervalMs + 10_000;
    const lastWindowCount = (): number => watcher.seen.filter((v) => v.windowEnd === toMs).length;
    let count = lastWindowCount();
    let stillSince = Date.now();
    while (Date.now() < deadline && (count === 0 || Date.now() - stillSince < commitIntervalMs + 500)) {
      await sleep(100);
      const now = lastWindowCount();
      if (now !== count) {
        count = now;
        stillSince = Date.now();
      }
    }
    await load.stop();
    load = undefined;
    latencies = windowLatencies(watcher.seen, fromMs, toMs, GRACE_MS);
    if (expectedWindows <= 0 || latencies.length === 0)
      error = 'no rollup of a counted window became visible';
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    await load?.stop().catch(() => undefined);
    await launched.child.stop('SIGTERM');
    await watcher.stop().catch(() => undefined);
  }
  const toFixed = (v: number | null): number | null => (v === null ? null : Math.round(v));
  return {
    ...base,
    ok: error === null,
    error,
    rollups: latencies.length,
    p50Ms: toFixed(quantile(latencies, 0.5)),
    p99Ms: toFixed(quantile(latencies, 0.99)),
    maxMs: toFixed(quantile(latencies, 1)),
  };
}
